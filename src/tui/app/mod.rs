//! The app's state and the only place it changes: [`App::update`] for user actions,
//! [`App::handle`] for everything else. It starts no threads and does no IO: work is
//! queued in its [`Jobs`] for the loop to hand to the workers (or for tests to run in
//! place), and results come back as messages. Pane states live in `panes/`, what covers
//! them in an [`Overlay`] stack (`overlays/`); this module only coordinates them (which
//! run and step are selected, who follows whom). Navigation is in `navigate.rs`, the
//! arrival of history, results and mouse events in `arrive.rs`.

mod arrive;
mod glance;
mod incidents;
mod meeting;
mod navigate;
mod notes;
mod receive;
mod replay;

pub use meeting::{FollowState, Meeting, MeetingOptions, ReplayOn, DEFAULT_FIXED};
pub use notes::NotesState;
pub use receive::ReceiverState;

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossterm::event::{Event, KeyEvent};
use ratatui::layout::Rect;

use super::action::Action;
use super::event::{Msg, TextIndexProgress};
use super::jobs::{JobRequest, Jobs};
use super::keymap::{self, Context, DEFAULT_KEYMAP};
use super::layout::{areas, inner, Areas, Pane};
use super::overlays::{self, Effect, Overlay};
use super::panes::detail::DetailState;
use super::panes::diff::DiffState;
use super::panes::help;
use super::panes::problems::ProblemsState;
use super::panes::run_list::RunListState;
use super::panes::search::SearchState;
use super::panes::timeline::TimelineState;
use super::panes::tree::TreeState;
use super::text::Piece;
use super::theme::{ColorDepth, Theme, ThemeName};
use super::workers;
use crate::index::watch::WatchEvent;
use crate::index::{Batch, History, LoadEvent, SharedHistory};

/// The longest the UI thread folds loaded batches in one go (then it draws and reads
/// keys, and comes back for the rest).
const FOLD_BUDGET: Duration = Duration::from_millis(4);

/// How the TUI is set up.
#[derive(Debug, Clone)]
pub struct Options {
    pub theme: ThemeName,
    pub depth: ColorDepth,
    pub mouse: bool,
    /// The paths as the user gave them (shown in the status line).
    pub sources: Vec<PathBuf>,
    /// Watch the paths by polling instead of file events (`--poll`).
    pub poll: bool,
    /// Replay, presenter mode, `--at`, sharing and following.
    pub meeting: MeetingOptions,
    /// The post-mortem's library folder (`--library`; else `RETRACE_LIBRARY` or the
    /// XDG default).
    pub library: Option<PathBuf>,
    /// The OTLP receiver's address, when the browser receives (`--listen`).
    pub receiving: Option<std::net::SocketAddr>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            theme: ThemeName::Dark,
            depth: ColorDepth::Ansi256,
            mouse: true,
            sources: Vec::new(),
            poll: false,
            meeting: MeetingOptions::default(),
            library: None,
            receiving: None,
        }
    }
}

/// Why the app stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Quit,
    Signal(i32),
}

/// The background load, as the status line shows it.
#[derive(Debug, Clone, Default)]
pub struct LoadState {
    pub read: u64,
    pub total: u64,
    pub done: bool,
    pub error: Option<String>,
    started: Option<Instant>,
    /// How long the load took (measured only for a live load).
    pub took: Option<Duration>,
}

impl LoadState {
    pub fn fraction(&self) -> Option<f64> {
        (!self.done).then(|| {
            if self.total == 0 {
                0.0
            } else {
                self.read as f64 / self.total as f64
            }
        })
    }
}

/// The file watcher, as the status line shows it.
#[derive(Debug, Clone, Default)]
pub struct WatchState {
    /// It polls (asked for, or no file events here).
    pub polling: bool,
    /// When the last event arrived (wall clock, ms since the epoch).
    pub last_event: Option<i64>,
    /// Why it stopped, if it did.
    pub failed: Option<String>,
}

/// A change waiting for the history's write lock, in arrival order.
enum Pending {
    Load(Box<Batch>),
    Watch(Box<WatchEvent>),
}

/// The whole state of the TUI.
pub struct App {
    pub shared: Arc<SharedHistory>,
    pub options: Options,
    pub theme: Theme,
    pub size: Rect,
    pub focus: Pane,
    /// The list pane Esc returns to from the detail.
    last_list: Pane,
    /// What covers the panes, bottom to top; the top one takes the keys.
    pub overlays: Vec<Overlay>,
    pub help_lines: Vec<Vec<Piece>>,
    pub runs: RunListState,
    pub timeline: TimelineState,
    pub tree: TreeState,
    pub detail: DetailState,
    pub load: LoadState,
    /// The watcher, once it runs (it starts when the load is done).
    pub watch: Option<WatchState>,
    /// The watcher was asked for (it starts on a worker; then `watch` is set).
    watch_requested: bool,
    /// The word index's background build, once it started.
    pub text_index: Option<TextIndexProgress>,
    /// Follow mode: the shown run's newest step stays selected as steps arrive.
    pub follow: bool,
    /// `D` was pressed once: the run to compare with the one selected next.
    pub diff_anchor: Option<usize>,
    /// The last query jumped from: `n`/`N` walk its matches in the shown run.
    pub last_search: Option<SearchState>,
    pub mouse: bool,
    /// A short note for the status line (news only: no state is kept in it).
    pub message: Option<String>,
    pub exit: Option<Exit>,
    /// What was asked of the workers, and which answers are current.
    pub jobs: Jobs,
    /// A key or mouse event changed something not yet drawn (answered without waiting
    /// for the next frame's turn).
    input_waiting: bool,
    /// Runs changed by folds the run list has not caught up with yet, and when it last
    /// did (see [`App::history_changed`]).
    touched_waiting: Vec<u32>,
    pub(in crate::tui) relisted: Option<Instant>,
    /// The waterfall switch and the timeline's step tokens.
    pub glance: super::glance::Glance,
    /// Batches and watch events waiting for the history's write lock (a worker was
    /// reading).
    pending: VecDeque<Pending>,
    dirty: bool,
    /// Replay, presenter mode, positions, sharing and following.
    pub meeting: Meeting,
    /// The post-mortem's notes on the shown run.
    pub notes: NotesState,
    /// What the OTLP receiver reported (with `--listen`).
    pub receiver: ReceiverState,
    /// The similar incidents of the shown run.
    pub incidents: incidents::IncidentsState,
}

impl App {
    /// An app over a history that is still loading (batches arrive as messages).
    pub fn new(shared: Arc<SharedHistory>, options: Options, size: Rect) -> App {
        let mut theme = Theme::new(options.theme, options.depth);
        theme.contrast = options.meeting.present;
        let mouse = options.mouse;
        let meeting = Meeting::new(&options.meeting);
        App {
            shared,
            options,
            theme,
            size,
            focus: Pane::Runs,
            last_list: Pane::Timeline,
            overlays: Vec::new(),
            help_lines: help::lines(DEFAULT_KEYMAP),
            runs: RunListState::default(),
            timeline: TimelineState::default(),
            tree: TreeState::default(),
            detail: DetailState::default(),
            load: LoadState {
                started: Some(Instant::now()),
                ..LoadState::default()
            },
            watch: None,
            watch_requested: false,
            text_index: None,
            follow: false,
            diff_anchor: None,
            last_search: None,
            mouse,
            message: None,
            exit: None,
            jobs: Jobs::default(),
            input_waiting: false,
            touched_waiting: Vec::new(),
            relisted: None,
            glance: Default::default(),
            pending: VecDeque::new(),
            dirty: true,
            meeting,
            notes: NotesState::default(),
            receiver: ReceiverState::default(),
            incidents: Default::default(),
        }
    }

    /// An app over a history loaded in full (tests, benchmarks).
    pub fn loaded(history: History, options: Options, size: Rect) -> App {
        let mut app = App::new(Arc::new(SharedHistory::new(history)), options, size);
        app.load = LoadState {
            done: true,
            ..LoadState::default()
        };
        let all: Vec<u32> = (0..app.shared.read().run_count() as u32).collect();
        app.history_changed(&all);
        app
    }

    /// Takes the work queued since the last call.
    pub fn take_requests(&mut self) -> Vec<JobRequest> {
        self.jobs.take()
    }

    /// Runs queued work on this thread until none is left (tests, benchmarks).
    pub fn run_jobs_now(&mut self) {
        loop {
            let requests = self.take_requests();
            if requests.is_empty() {
                return;
            }
            for r in requests {
                let out = workers::run_now(&self.shared, r);
                self.handle(Msg::Job(out));
            }
        }
    }

    /// True once since the last draw if anything visible changed.
    pub fn take_dirty(&mut self) -> bool {
        self.input_waiting = false;
        std::mem::replace(&mut self.dirty, false)
    }

    /// A key or the mouse changed what is shown: draw now.
    pub fn input_waiting(&self) -> bool {
        self.input_waiting && self.dirty
    }

    pub fn is_dirty(&self) -> bool {
        self.dirty
    }

    /// Batches are waiting for the write lock: look again soon.
    pub fn has_deferred_work(&self) -> bool {
        !self.pending.is_empty()
    }

    /// The load is done and folded in: time to start the file watcher and the word
    /// index's build (true once: the loop starts them on workers, which report
    /// [`App::watching`] and [`Msg::TextIndex`]).
    pub fn wants_watcher(&mut self) -> bool {
        let due = !self.watch_requested && self.load.done && self.pending.is_empty();
        self.watch_requested |= due;
        due
    }

    /// The watcher runs (`polling`: by polling). Runs that appear from now on are new.
    pub fn watching(&mut self, polling: bool) {
        self.watch = Some(WatchState {
            polling,
            ..WatchState::default()
        });
        self.runs.seen = self.shared.read().run_count();
        self.dirty = true;
    }

    pub fn areas(&self) -> Areas {
        areas(self.size, self.focus)
    }

    /// The overlay on top, if any.
    pub fn overlay(&self) -> Option<&Overlay> {
        self.overlays.last()
    }

    /// The help's scroll, while it is open.
    pub fn help(&self) -> Option<usize> {
        self.overlays.iter().find_map(|o| match o {
            Overlay::Help(scroll) => Some(*scroll),
            _ => None,
        })
    }

    /// The `/` prompt, while open.
    pub fn search(&self) -> Option<&SearchState> {
        self.overlays.iter().find_map(|o| match o {
            Overlay::Search(s) => Some(s),
            _ => None,
        })
    }

    fn search_mut(&mut self) -> Option<&mut SearchState> {
        self.overlays.iter_mut().find_map(|o| match o {
            Overlay::Search(s) => Some(s),
            _ => None,
        })
    }

    /// The diff view, while open.
    pub fn diff(&self) -> Option<&DiffState> {
        self.overlays.iter().find_map(|o| match o {
            Overlay::Diff(d) => Some(d),
            _ => None,
        })
    }

    fn diff_mut(&mut self) -> Option<&mut DiffState> {
        self.overlays.iter_mut().find_map(|o| match o {
            Overlay::Diff(d) => Some(d),
            _ => None,
        })
    }

    fn close_overlay(&mut self, which: fn(&Overlay) -> bool) {
        self.overlays.retain(|o| !which(o));
    }

    /// Everything but user intents.
    pub fn handle(&mut self, msg: Msg) {
        match msg {
            Msg::Input(Event::Key(key)) => {
                // A key acts on the run list as the history is now.
                self.catch_up_runs();
                self.key(key);
                self.input_waiting = true;
            }
            Msg::Input(Event::Mouse(m)) => {
                self.mouse_event(m);
                self.input_waiting = true;
            }
            Msg::Input(Event::Resize(w, h)) => self.resize(Rect::new(0, 0, w, h)),
            Msg::Input(_) => {}
            Msg::InputClosed => self.exit = Some(Exit::Quit),
            Msg::Load { event, progress } => {
                (self.load.read, self.load.total) = progress;
                match *event {
                    LoadEvent::Batch(b) => self.pending.push_back(Pending::Load(Box::new(b))),
                    LoadEvent::Done(result) => {
                        self.load.done = true;
                        if self.pending.is_empty() {
                            self.load_folded();
                        }
                        self.load.took = self.load.started.map(|s| s.elapsed());
                        if let Err(e) = result {
                            self.load.error = Some(e.to_string());
                        }
                    }
                }
                self.dirty = true;
            }
            Msg::Job(out) => self.job_done(out),
            Msg::Watch(event) => {
                let w = self.watch.get_or_insert_with(WatchState::default);
                w.last_event = Some(arrive::now_ms());
                match *event {
                    WatchEvent::Failed(reason) => w.failed = Some(reason),
                    event => self.pending.push_back(Pending::Watch(Box::new(event))),
                }
                self.dirty = true;
            }
            Msg::Watching(polling) => self.watching(polling),
            Msg::Signal(sig) => self.exit = Some(Exit::Signal(sig)),
            Msg::Tick(now) => self.tick(now),
            Msg::Heard(heard) => self.heard(heard),
            Msg::Serve(event) => self.receiver_event(*event),
            Msg::TextIndex(progress) => {
                self.text_index = Some(progress);
                self.dirty = true;
            }
        }
    }

    /// After a burst of messages: folds waiting batches into the history (unless a
    /// worker holds it, or a key waits to be drawn; then later), and brings the panes and
    /// the meeting (the position followers see) up to date.
    pub fn after_drain(&mut self) {
        if !self.input_waiting() {
            self.fold_pending();
        }
        self.sync_notes();
        self.sync_meeting();
    }

    /// Folds waiting batches for at most `FOLD_BUDGET`; false when none could be
    /// (none wait, or a worker holds the history).
    pub fn fold_pending(&mut self) -> bool {
        if self.pending.is_empty() {
            return false;
        }
        let Some(mut h) = self.shared.try_write() else {
            return false;
        };
        // A burst of batches is folded a few milliseconds at a time, so that a key
        // arriving meanwhile waits for one short fold, not for the whole burst; the loop
        // comes back for the rest (`has_deferred_work`).
        let budget = Instant::now() + FOLD_BUDGET;
        let mut loaded = false;
        while let Some(p) = self.pending.pop_front() {
            match p {
                Pending::Load(b) => {
                    h.apply(*b);
                    loaded = true;
                }
                Pending::Watch(ev) => h.apply_watch(*ev),
            }
            if Instant::now() >= budget {
                break;
            }
        }
        let touched = h.settle();
        drop(h);
        self.history_changed(&touched);
        if loaded && self.load.done && self.pending.is_empty() {
            self.load_folded();
        }
        true
    }

    /// The load is over and all it read is folded into the history.
    pub(super) fn fully_loaded(&self) -> bool {
        self.load.done && !self.pending.iter().any(|p| matches!(p, Pending::Load(_)))
    }

    /// The whole load is in the history: a search typed meanwhile (over the runs loaded
    /// so far) runs again over all of them.
    fn load_folded(&mut self) {
        self.catch_up_runs();
        if self.search().is_some() {
            self.request_search();
        }
    }

    pub fn resize(&mut self, size: Rect) {
        self.size = size;
        self.fit_views();
        self.dirty = true;
    }

    fn key(&mut self, key: KeyEvent) {
        if let Some(Overlay::Input(input)) = self.overlays.last_mut() {
            if overlays::notes::type_key(input, &key) {
                self.dirty = true;
                return;
            }
        }
        if let Some(Overlay::Library(l)) = self.overlays.last_mut() {
            if overlays::library::type_key(l, &key) {
                self.dirty = true;
                self.request_incident_search();
                return;
            }
        }
        if let Some(Overlay::Search(s)) = self.overlays.last_mut() {
            if overlays::search::type_key(s, &key) {
                self.dirty = true;
                self.request_search();
                return;
            }
        }
        let context = match self.overlay() {
            Some(o) => o.context(),
            None => pane_context(self.focus),
        };
        if let Some(action) = keymap::lookup(DEFAULT_KEYMAP, &key, &[context, Context::Global]) {
            self.update(action);
        }
    }

    /// The contexts whose hints the footer shows.
    pub fn hint_contexts(&self) -> Vec<Context> {
        match self.overlay() {
            Some(o) => o.hint_contexts(),
            None => vec![pane_context(self.focus), Context::Global],
        }
    }

    /// What a user asked for. The only place user intents change state.
    pub fn update(&mut self, action: Action) {
        self.dirty = true;
        self.message = None;
        if self.meeting_update(action) {
            self.fit_views();
        } else {
            self.update_views(action);
        }
        self.sync_notes();
        self.sync_meeting();
    }

    /// An action for the overlay on top, else for the panes.
    fn update_views(&mut self, action: Action) {
        if !self.overlays.is_empty() {
            self.update_overlay(action);
            self.fit_views();
            return;
        }
        match action {
            Action::Quit => self.exit = Some(Exit::Quit),
            Action::Help => self.overlays.push(Overlay::Help(0)),
            Action::MoveDown => self.move_selection(1),
            Action::MoveUp => self.move_selection(-1),
            Action::PageDown => self.move_selection(self.page()),
            Action::PageUp => self.move_selection(-self.page()),
            Action::Top => self.move_selection(isize::MIN / 2),
            Action::Bottom => self.move_selection(isize::MAX / 2),
            Action::NextPane => self.focus_pane(self.focus.next()),
            Action::PrevPane => self.focus_pane(self.focus.prev()),
            Action::FocusRuns => self.focus_pane(Pane::Runs),
            Action::FocusTimeline => self.focus_pane(Pane::Timeline),
            Action::FocusTree => self.focus_pane(Pane::Tree),
            Action::FocusDetail => self.focus_pane(Pane::Detail),
            Action::Open => match self.focus {
                Pane::Runs => self.focus_pane(Pane::Timeline),
                Pane::Timeline | Pane::Tree => self.focus_pane(Pane::Detail),
                Pane::Detail => self.load_more(),
            },
            Action::Back => match self.focus {
                Pane::Detail => self.focus_pane(self.last_list),
                Pane::Timeline | Pane::Tree => self.focus_pane(Pane::Runs),
                Pane::Runs => {}
            },
            Action::FirstFailure => self.first_failure(),
            Action::NextFailure => self.next_failure(true),
            Action::PrevFailure => self.next_failure(false),
            Action::Collapse => {
                if self.tree.collapse() {
                    self.tree_moved();
                }
            }
            Action::Expand => {
                if self.tree.expand() {
                    self.tree_moved();
                }
            }
            Action::ToggleFold => {
                if self.tree.toggle() {
                    self.tree_moved();
                }
            }
            Action::LoadMore => self.load_more(),
            Action::Follow => self.toggle_follow(),
            Action::SortRuns => {
                self.runs.sort = self.runs.sort.next();
                self.message = Some(format!("runs by {}", self.runs.sort.by.as_str()));
                self.runs.chosen = true;
                self.refilter();
            }
            Action::Search => {
                let query = self
                    .last_search
                    .as_ref()
                    .map(|s| s.query.clone())
                    .unwrap_or_default();
                self.overlays.push(Overlay::Search(SearchState {
                    query,
                    ..SearchState::default()
                }));
                self.request_search();
            }
            Action::Diff => match self.timeline.run {
                Some(run) => self.open_diff(run, None),
                None => self.message = Some("no run to diff".into()),
            },
            Action::DiffWith => match (self.diff_anchor, self.timeline.run) {
                (Some(a), Some(b)) if a != b => {
                    self.diff_anchor = None;
                    self.open_diff(a, Some(b));
                }
                (Some(_), _) => {
                    self.message = Some("select another run to compare with, then D".into())
                }
                (None, Some(a)) => self.choose_other(a),
                (None, None) => self.message = Some("no run to diff".into()),
            },
            Action::ToggleTheme | Action::ToggleMouse => self.global(action),
            // Taken by `meeting_update` (or nothing to do with no question open).
            Action::Replay
            | Action::PlayPause
            | Action::StepForward
            | Action::StepBack
            | Action::Faster
            | Action::Slower
            | Action::TogglePace
            | Action::Present
            | Action::ShowPosition
            | Action::ToggleRedaction
            | Action::Confirm
            | Action::Attach => {}
            Action::OnlyBucket => self.toggle_bucket(),
            Action::ToggleWaterfall => self.toggle_waterfall(),
            Action::Problems => self
                .overlays
                .push(Overlay::Problems(ProblemsState::default())),
            Action::MarkRootCause
            | Action::ToggleBookmark
            | Action::EditNote
            | Action::SetCategory
            | Action::AddActionItem
            | Action::WriteReport
            | Action::IncidentTimeline
            | Action::EditNarrative => self.notes_update(action),
            Action::SaveIncident | Action::SimilarIncidents | Action::IncidentLibrary => {
                self.incidents_update(action)
            }
        }
        self.fit_views();
    }

    /// What every view does alike: quit, help, theme, mouse.
    fn global(&mut self, action: Action) {
        match action {
            Action::Quit => self.exit = Some(Exit::Quit),
            Action::Help => self.overlays.push(Overlay::Help(0)),
            Action::ToggleTheme => {
                self.theme.name = self.theme.name.toggled();
                self.message = Some(format!("{} theme", self.theme.name.as_str()));
            }
            Action::ToggleMouse => {
                self.mouse = !self.mouse;
                self.message = Some(if self.mouse { "mouse on" } else { "mouse off" }.into());
            }
            _ => {}
        }
    }

    /// An action while an overlay is open: its own update, then what it asks of the app.
    fn update_overlay(&mut self, action: Action) {
        let help_max = self.help_max();
        let problem_count = self.shared.read().problems().len();
        let Some(top) = self.overlays.last_mut() else {
            return;
        };
        let effect = match top {
            Overlay::Help(scroll) => overlays::help::update(scroll, action, help_max),
            Overlay::Search(s) => overlays::search::update(s, action),
            Overlay::Diff(d) => overlays::diff::update(d, action),
            Overlay::Confirm(q) => overlays::confirm::update(*q, action),
            Overlay::Note(_) => overlays::confirm::update_note(action),
            Overlay::Problems(p) => overlays::problems::update(p, action, problem_count),
            Overlay::Input(i) => overlays::notes::update_input(i, action),
            Overlay::Chooser(c) => overlays::notes::update_chooser(c, action),
            Overlay::Incident(i) => overlays::notes::update_incident(i, action),
            Overlay::Similar(s) => overlays::similar::update(s, action),
            Overlay::Library(l) => overlays::library::update(l, action),
        };
        match effect {
            Effect::None => {}
            Effect::Close => _ = self.overlays.pop(),
            Effect::Global(action) => self.global(action),
            Effect::Say(text) => self.message = Some(text),
            Effect::Query => self.request_search(),
            Effect::ClearSearch => {
                self.close_overlay(|o| matches!(o, Overlay::Search(_)));
                self.last_search = None;
                self.runs.filter = None;
                self.refilter();
                self.message = Some("search cleared: n and N walk failures".into());
            }
            Effect::Jump(hit) => {
                let Some(Overlay::Search(s)) = self.overlays.pop() else {
                    return;
                };
                self.jump_to_hit(s, hit);
            }
            Effect::Confirmed(question) => {
                self.overlays.pop();
                self.confirmed(question);
            }
            Effect::SaveInput(input) => self.input_saved(input),
            Effect::Category(c) => self.category_chosen(c),
            Effect::JumpStep(run, step) => self.jump_to_step(run, step),
            Effect::ChooseOther(a) => {
                self.close_overlay(|o| matches!(o, Overlay::Diff(_)));
                self.choose_other(a);
            }
        }
    }

    /// The help's last scroll position on this screen.
    fn help_max(&self) -> usize {
        let screen = Rect::new(0, 0, self.size.width, self.size.height);
        let rows = inner(
            help::area(screen, self.help_lines.len()),
            super::layout::Mode::Wide,
        )
        .height as usize;
        self.help_lines.len().saturating_sub(rows)
    }
}

/// The keymap context of a pane.
fn pane_context(pane: Pane) -> Context {
    match pane {
        Pane::Runs => Context::Runs,
        Pane::Timeline => Context::Timeline,
        Pane::Tree => Context::Tree,
        Pane::Detail => Context::Detail,
    }
}
