//! The app's state and the only place it changes: [`App::update`] for user actions,
//! [`App::handle`] for everything else. It starts no threads and does no IO: work is
//! queued as [`JobRequest`]s for the loop to hand to the workers (or for tests to run in
//! place), and results come back as messages. Pane states live in `panes/`; this file
//! only coordinates them (which run and step are selected, who follows whom).

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossterm::event::{Event, KeyEvent, MouseButton, MouseEvent, MouseEventKind};
use ratatui::layout::Rect;

use super::action::Action;
use super::document::{FIRST_LIMIT, MAX_LIMIT};
use super::event::{JobOutput, Msg};
use super::jobs::{self, JobRequest, SharedHistory};
use super::keymap::{self, Context, DEFAULT_KEYMAP};
use super::layout::{areas, inner, Areas, Pane};
use super::panes::detail::{self, DetailState};
use super::panes::diff::{self as diff_pane, DiffState};
use super::panes::run_list::{self, RunListState};
use super::panes::search::{self as search_pane, SearchState};
use super::panes::timeline::{self, TimelineState};
use super::panes::tree::{self, TreeState};
use super::panes::{help, ListCursor};
use super::text::Piece;
use super::theme::{ColorDepth, Theme, ThemeName};
use crate::index::watch::WatchEvent;
use crate::index::{Batch, History, LoadEvent};

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
}

impl Default for Options {
    fn default() -> Self {
        Options {
            theme: ThemeName::Dark,
            depth: ColorDepth::Ansi256,
            mouse: true,
            sources: Vec::new(),
            poll: false,
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
    /// The help overlay's scroll, when it is open.
    pub help: Option<usize>,
    pub help_lines: Vec<Vec<Piece>>,
    pub runs: RunListState,
    pub timeline: TimelineState,
    pub tree: TreeState,
    pub detail: DetailState,
    pub load: LoadState,
    /// The watcher, once it runs (it starts when the load is done).
    pub watch: Option<WatchState>,
    /// Follow mode: the shown run's newest step stays selected as steps arrive.
    pub follow: bool,
    /// The diff view, while open (it covers the panes).
    pub diff: Option<DiffState>,
    /// `D` was pressed once: the run to compare with the one selected next.
    pub diff_anchor: Option<usize>,
    diff_gen: u64,
    /// The `/` prompt, while open.
    pub search: Option<SearchState>,
    /// The last query jumped from: `n`/`N` walk its matches in the shown run.
    pub last_search: Option<SearchState>,
    search_gen: u64,
    pub mouse: bool,
    /// A short note for the status line.
    pub message: Option<String>,
    pub exit: Option<Exit>,
    structure_gen: u64,
    detail_gen: u64,
    requests: Vec<JobRequest>,
    /// Batches and watch events waiting for the history's write lock (a worker was
    /// reading).
    pending: VecDeque<Pending>,
    dirty: bool,
}

impl App {
    /// An app over a history that is still loading (batches arrive as messages).
    pub fn new(shared: Arc<SharedHistory>, options: Options, size: Rect) -> App {
        let theme = Theme::new(options.theme, options.depth);
        let mouse = options.mouse;
        App {
            shared,
            options,
            theme,
            size,
            focus: Pane::Runs,
            last_list: Pane::Timeline,
            help: None,
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
            follow: false,
            diff: None,
            diff_anchor: None,
            diff_gen: 0,
            search: None,
            last_search: None,
            search_gen: 0,
            mouse,
            message: None,
            exit: None,
            structure_gen: 0,
            detail_gen: 0,
            requests: Vec::new(),
            pending: VecDeque::new(),
            dirty: true,
        }
    }

    /// An app over a history loaded in full (tests, benchmarks).
    pub fn loaded(history: History, options: Options, size: Rect) -> App {
        let mut app = App::new(Arc::new(SharedHistory::new(history)), options, size);
        app.load = LoadState {
            done: true,
            ..LoadState::default()
        };
        app.history_changed();
        app
    }

    /// Takes the work queued since the last call.
    pub fn take_requests(&mut self) -> Vec<JobRequest> {
        std::mem::take(&mut self.requests)
    }

    /// Runs queued work on this thread until none is left (tests, benchmarks).
    pub fn run_jobs_now(&mut self) {
        loop {
            let requests = self.take_requests();
            if requests.is_empty() {
                return;
            }
            for r in requests {
                let out = jobs::run_now(&self.shared, r);
                self.handle(Msg::Job(out));
            }
        }
    }

    /// True once since the last draw if anything visible changed.
    pub fn take_dirty(&mut self) -> bool {
        std::mem::replace(&mut self.dirty, false)
    }

    pub fn is_dirty(&self) -> bool {
        self.dirty
    }

    /// Batches are waiting for the write lock: look again soon.
    pub fn has_deferred_work(&self) -> bool {
        !self.pending.is_empty()
    }

    /// The load is done and folded in: time to start the file watcher (once).
    pub fn wants_watcher(&self) -> bool {
        self.watch.is_none() && self.load.done && self.pending.is_empty()
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

    /// Everything but user intents.
    pub fn handle(&mut self, msg: Msg) {
        match msg {
            Msg::Input(Event::Key(key)) => self.key(key),
            Msg::Input(Event::Mouse(m)) => self.mouse_event(m),
            Msg::Input(Event::Resize(w, h)) => self.resize(Rect::new(0, 0, w, h)),
            Msg::Input(_) => {}
            Msg::InputClosed => self.exit = Some(Exit::Quit),
            Msg::Load { event, progress } => {
                (self.load.read, self.load.total) = progress;
                match *event {
                    LoadEvent::Batch(b) => self.pending.push_back(Pending::Load(Box::new(b))),
                    LoadEvent::Done(result) => {
                        self.load.done = true;
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
                w.last_event = Some(now_ms());
                match *event {
                    WatchEvent::Failed(reason) => w.failed = Some(reason),
                    event => self.pending.push_back(Pending::Watch(Box::new(event))),
                }
                self.dirty = true;
            }
            Msg::Signal(sig) => self.exit = Some(Exit::Signal(sig)),
        }
    }

    /// After a burst of messages: folds waiting batches into the history (unless a
    /// worker holds it; then later), and brings the panes up to date.
    pub fn after_drain(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        let Some(mut h) = self.shared.try_write() else {
            return;
        };
        for p in self.pending.drain(..) {
            match p {
                Pending::Load(b) => h.apply(*b),
                Pending::Watch(ev) => h.apply_watch(*ev),
            }
        }
        h.settle();
        drop(h);
        self.history_changed();
    }

    pub fn resize(&mut self, size: Rect) {
        self.size = size;
        self.fit_views();
        self.dirty = true;
    }

    fn key(&mut self, key: KeyEvent) {
        if self.help.is_none() && self.search.is_some() && self.search_text(&key) {
            return;
        }
        let contexts: &[Context] = if self.help.is_some() {
            &[Context::Help, Context::Global]
        } else if self.search.is_some() {
            &[Context::Search, Context::Global]
        } else if self.diff.is_some() {
            &[Context::Diff, Context::Global]
        } else {
            match self.focus {
                Pane::Runs => &[Context::Runs, Context::Global],
                Pane::Timeline => &[Context::Timeline, Context::Global],
                Pane::Tree => &[Context::Tree, Context::Global],
                Pane::Detail => &[Context::Detail, Context::Global],
            }
        };
        if let Some(action) = keymap::lookup(DEFAULT_KEYMAP, &key, contexts) {
            self.update(action);
        }
    }

    /// The contexts whose hints the footer shows.
    pub fn hint_contexts(&self) -> Vec<Context> {
        if self.help.is_some() {
            return vec![Context::Help];
        }
        if self.search.is_some() {
            return vec![Context::Search];
        }
        if self.diff.is_some() {
            return vec![Context::Diff, Context::Global];
        }
        let pane = match self.focus {
            Pane::Runs => Context::Runs,
            Pane::Timeline => Context::Timeline,
            Pane::Tree => Context::Tree,
            Pane::Detail => Context::Detail,
        };
        vec![pane, Context::Global]
    }

    /// What a user asked for. The only place user intents change state.
    pub fn update(&mut self, action: Action) {
        self.dirty = true;
        self.message = None;
        if self.help.is_some() {
            match action {
                Action::MoveDown => self.scroll_help(1),
                Action::MoveUp => self.scroll_help(-1),
                Action::PageDown => self.scroll_help(10),
                Action::PageUp => self.scroll_help(-10),
                Action::Top => self.scroll_help(isize::MIN / 2),
                Action::Bottom => self.scroll_help(isize::MAX / 2),
                Action::Help | Action::Back => self.help = None,
                Action::Quit => self.exit = Some(Exit::Quit),
                // The overlay covers the panes: nothing else applies while it is open.
                Action::NextPane
                | Action::PrevPane
                | Action::FocusRuns
                | Action::FocusTimeline
                | Action::FocusTree
                | Action::FocusDetail
                | Action::Open
                | Action::FirstFailure
                | Action::NextFailure
                | Action::PrevFailure
                | Action::Collapse
                | Action::Expand
                | Action::ToggleFold
                | Action::LoadMore
                | Action::Follow
                | Action::Diff
                | Action::DiffWith
                | Action::Search
                | Action::SortRuns
                | Action::ToggleTheme
                | Action::ToggleMouse => {}
            }
            return;
        }
        if self.search.is_some() {
            self.update_search(action);
            self.fit_views();
            return;
        }
        if self.diff.is_some() {
            self.update_diff(action);
            self.fit_views();
            return;
        }
        match action {
            Action::Quit => self.exit = Some(Exit::Quit),
            Action::Help => self.help = Some(0),
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
                use crate::search::RunSort;
                self.runs.sort = match self.runs.sort {
                    None => Some((RunSort::Duration, true)),
                    Some((RunSort::Duration, _)) => Some((RunSort::Steps, true)),
                    Some((RunSort::Steps, _)) => Some((RunSort::Errors, true)),
                    Some((RunSort::Errors, _)) | Some((RunSort::Time, _)) => None,
                };
                let by = self.runs.sort.map_or("time", |(by, _)| by.as_str());
                self.message = Some(format!("runs by {by}"));
                self.runs.chosen = true;
                self.refilter();
            }
            Action::Search => {
                let query = self
                    .last_search
                    .as_ref()
                    .map(|s| s.query.clone())
                    .unwrap_or_default();
                self.search = Some(SearchState {
                    query,
                    ..SearchState::default()
                });
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
            Action::ToggleTheme => {
                self.theme.name = self.theme.name.toggled();
                self.message = Some(format!("{} theme", self.theme.name.as_str()));
            }
            Action::ToggleMouse => {
                self.mouse = !self.mouse;
                self.message = Some(if self.mouse { "mouse on" } else { "mouse off" }.into());
            }
        }
        self.fit_views();
    }

    fn scroll_help(&mut self, delta: isize) {
        let Some(scroll) = self.help else { return };
        let screen = Rect::new(0, 0, self.size.width, self.size.height);
        let rows = inner(
            help::area(screen, self.help_lines.len()),
            super::layout::Mode::Wide,
        )
        .height as usize;
        let max = self.help_lines.len().saturating_sub(rows);
        self.help = Some(
            (scroll as isize)
                .saturating_add(delta)
                .clamp(0, max as isize) as usize,
        );
    }

    fn focus_pane(&mut self, pane: Pane) {
        if matches!(pane, Pane::Timeline | Pane::Tree) {
            self.last_list = pane;
        }
        self.focus = pane;
    }

    /// Rows of `pane`'s list when it is shown (in the compact layout: when focused).
    fn rows(&self, pane: Pane) -> usize {
        let a = self.areas();
        let a = match a.of(pane) {
            Some(_) => a,
            None => areas(self.size, pane),
        };
        let Some(r) = a.of(pane) else { return 1 };
        match pane {
            Pane::Runs => run_list::body_rows(r, a.mode),
            Pane::Timeline => timeline::body_rows(r, a.mode),
            Pane::Tree => tree::body_rows(r, a.mode),
            Pane::Detail => detail::body_size(r, a.mode).0,
        }
        .max(1)
    }

    fn page(&self) -> isize {
        (self.rows(self.focus).saturating_sub(1)).max(1) as isize
    }

    /// What a user asked for while the diff view is open.
    fn update_diff(&mut self, action: Action) {
        let rows = diff_pane::list_rows(self.size).max(1) as isize;
        let Some(d) = self.diff.as_mut() else { return };
        let len = d.len();
        match action {
            Action::MoveDown => _ = d.cursor.move_by(1, len),
            Action::MoveUp => _ = d.cursor.move_by(-1, len),
            Action::PageDown => _ = d.cursor.move_by((rows - 1).max(1), len),
            Action::PageUp => _ = d.cursor.move_by(-(rows - 1).max(1), len),
            Action::Top => _ = d.cursor.move_by(isize::MIN / 2, len),
            Action::Bottom => _ = d.cursor.move_by(isize::MAX / 2, len),
            Action::Diff => match d.doc.as_ref().and_then(|doc| doc.divergence.as_ref()) {
                Some((row, _, _)) => _ = d.cursor.set(*row, len),
                None => self.message = Some("the runs do not diverge".into()),
            },
            Action::DiffWith => {
                let a = d.a;
                self.diff = None;
                self.choose_other(a);
            }
            Action::Back => self.diff = None,
            Action::Quit => self.exit = Some(Exit::Quit),
            Action::Help => self.help = Some(0),
            Action::ToggleTheme => {
                self.theme.name = self.theme.name.toggled();
                self.message = Some(format!("{} theme", self.theme.name.as_str()));
            }
            Action::ToggleMouse => {
                self.mouse = !self.mouse;
                self.message = Some(if self.mouse { "mouse on" } else { "mouse off" }.into());
            }
            // The view covers the panes: their actions wait until it is closed.
            Action::NextPane
            | Action::PrevPane
            | Action::FocusRuns
            | Action::FocusTimeline
            | Action::FocusTree
            | Action::FocusDetail
            | Action::Open
            | Action::FirstFailure
            | Action::NextFailure
            | Action::PrevFailure
            | Action::Collapse
            | Action::Expand
            | Action::ToggleFold
            | Action::LoadMore
            | Action::Search
            | Action::SortRuns
            | Action::Follow => {}
        }
    }

    /// Typing in the search prompt: characters and Backspace edit the query (and start a
    /// search); anything else is not text.
    fn search_text(&mut self, key: &KeyEvent) -> bool {
        use crossterm::event::{KeyCode, KeyEventKind, KeyModifiers};
        if key.kind == KeyEventKind::Release
            || key
                .modifiers
                .intersects(KeyModifiers::CONTROL | KeyModifiers::ALT)
        {
            return false;
        }
        let Some(s) = self.search.as_mut() else {
            return false;
        };
        match key.code {
            KeyCode::Char(c) if !c.is_control() => s.query.push(c),
            KeyCode::Backspace => {
                s.query.pop();
            }
            _ => return false,
        }
        self.dirty = true;
        self.request_search();
        true
    }

    /// The run list's filter or order changed: rebuild it, keeping the selection when it
    /// is still listed, else selecting the first run.
    fn refilter(&mut self) {
        {
            let h = self.shared.read();
            self.runs.refresh(&h);
        }
        let listed = self
            .runs
            .selected
            .is_some_and(|run| self.runs.order.contains(&(run as u32)));
        if !listed {
            if let Some(first) = self.runs.run_at(0) {
                self.select_run(first);
            }
        }
        self.runs.cursor.offset = 0;
        self.fit_views();
    }

    /// Searches for the prompt's query (latest wins).
    fn request_search(&mut self) {
        let Some(s) = self.search.as_mut() else {
            return;
        };
        s.error = None;
        if s.query.trim().is_empty() {
            s.doc = None;
            s.cursor = ListCursor::default();
            return;
        }
        self.search_gen += 1;
        self.requests.push(JobRequest::Search {
            generation: self.search_gen,
            query: s.query.clone(),
            only_run: None,
        });
    }

    /// What a user asked for while the search prompt is open.
    fn update_search(&mut self, action: Action) {
        let rows = search_pane::list_rows(self.size).max(1) as isize;
        let Some(s) = self.search.as_mut() else {
            return;
        };
        let len = s.len();
        match action {
            Action::MoveDown => _ = s.cursor.move_by(1, len),
            Action::MoveUp => _ = s.cursor.move_by(-1, len),
            Action::PageDown => _ = s.cursor.move_by((rows - 1).max(1), len),
            Action::PageUp => _ = s.cursor.move_by(-(rows - 1).max(1), len),
            Action::Top => _ = s.cursor.move_by(isize::MIN / 2, len),
            Action::Bottom => _ = s.cursor.move_by(isize::MAX / 2, len),
            Action::Open => {
                let Some(s) = self.search.take() else { return };
                if s.query.trim().is_empty() {
                    self.last_search = None;
                    self.runs.filter = None;
                    self.refilter();
                    self.message = Some("search cleared: n and N walk failures".into());
                    return;
                }
                let Some(hit) = s.selected().cloned() else {
                    self.search = Some(s);
                    self.message = Some("no result to jump to".into());
                    return;
                };
                // The run list keeps only the runs that pass the query's run filters.
                self.runs.filter = crate::search::Query::parse(&s.query)
                    .ok()
                    .map(|q| (q, crate::search::now_ms()));
                self.last_search = Some(s);
                self.stop_following();
                self.runs.chosen = true;
                self.refilter();
                if self.timeline.run != Some(hit.run) {
                    self.select_run(hit.run);
                }
                match hit.step {
                    Some(step) => {
                        self.focus_pane(Pane::Timeline);
                        self.select_step(step, Pane::Runs);
                    }
                    None => self.focus_pane(Pane::Runs),
                }
            }
            Action::Back => self.search = None,
            Action::Quit => self.exit = Some(Exit::Quit),
            Action::Help => self.help = Some(0),
            // Keys that are not text and not the prompt's do nothing while it is open.
            Action::NextPane
            | Action::PrevPane
            | Action::FocusRuns
            | Action::FocusTimeline
            | Action::FocusTree
            | Action::FocusDetail
            | Action::FirstFailure
            | Action::NextFailure
            | Action::PrevFailure
            | Action::Collapse
            | Action::Expand
            | Action::ToggleFold
            | Action::LoadMore
            | Action::Follow
            | Action::Diff
            | Action::DiffWith
            | Action::Search
            | Action::SortRuns
            | Action::ToggleTheme
            | Action::ToggleMouse => {}
        }
    }

    /// `n`/`N` after a search: the next (or previous) match in the shown run, from the
    /// last results. `false` when there is no search to walk.
    fn next_match(&mut self, forward: bool) -> bool {
        let Some(last) = &self.last_search else {
            return false;
        };
        let Some(run) = self.timeline.run else {
            return false;
        };
        let at = self.timeline.cursor.selected as u32;
        let mut steps: Vec<u32> = last
            .doc
            .iter()
            .flat_map(|d| d.hits.iter())
            .filter(|h| h.run == run)
            .filter_map(|h| h.step)
            .collect();
        steps.sort_unstable();
        steps.dedup();
        let found = if forward {
            steps.into_iter().find(|&s| s > at)
        } else {
            steps.into_iter().rev().find(|&s| s < at)
        };
        match found {
            Some(step) => {
                if self.focus == Pane::Runs {
                    self.focus_pane(Pane::Timeline);
                }
                self.select_step(step, Pane::Runs);
            }
            None => {
                let q = crate::sanitize::line(&last.query).into_owned();
                self.message = Some(format!(
                    "no more matches of {q} in this run (/ Enter on an empty query: back to failures)"
                ));
            }
        }
        true
    }

    /// Opens the diff view of run `a` with run `b` (or the picked one); aligning runs on
    /// a worker.
    pub fn open_diff(&mut self, a: usize, b: Option<usize>) {
        self.diff = Some(DiffState::new(a, b));
        self.diff_gen += 1;
        self.requests.push(JobRequest::Diff {
            generation: self.diff_gen,
            a,
            b,
        });
        self.dirty = true;
    }

    /// `D`: remember run `a` and let the user select the run to compare it with.
    fn choose_other(&mut self, a: usize) {
        self.diff_anchor = Some(a);
        self.focus_pane(Pane::Runs);
        let id = crate::sanitize::line(self.shared.read().run(a).id()).into_owned();
        self.message = Some(format!("diff {id} with: select a run, then D"));
    }

    /// Follow mode on (the newest step selected) or off.
    fn toggle_follow(&mut self) {
        if self.follow {
            self.follow = false;
            self.message = Some("follow off".into());
            return;
        }
        if self.timeline.run.is_none() {
            self.message = Some("no run to follow".into());
            return;
        }
        self.follow = true;
        if self.focus == Pane::Runs {
            self.focus_pane(Pane::Timeline);
        }
        self.follow_newest();
        self.message = Some(
            if self.watch.is_some() {
                "following (move to stop)"
            } else {
                "following (not watching)"
            }
            .into(),
        );
    }

    /// Follow mode: selects the shown run's newest step.
    fn follow_newest(&mut self) {
        if self.timeline.len > 0 {
            self.select_step(self.timeline.len as u32 - 1, Pane::Runs);
        }
    }

    /// The user moved: follow mode ends.
    fn stop_following(&mut self) {
        if self.follow {
            self.follow = false;
            self.message = Some("follow off".into());
        }
    }

    fn move_selection(&mut self, delta: isize) {
        if self.focus != Pane::Detail {
            self.stop_following();
        }
        match self.focus {
            Pane::Runs => {
                let len = self.runs.len();
                self.runs.chosen = true;
                if self.runs.cursor.move_by(delta, len) {
                    if let Some(run) = self.runs.run_at(self.runs.cursor.selected) {
                        self.select_run(run);
                    }
                }
            }
            Pane::Timeline => {
                if self.timeline.cursor.move_by(delta, self.timeline.len) {
                    self.select_step(self.timeline.cursor.selected as u32, Pane::Timeline);
                }
            }
            Pane::Tree => {
                if self.tree.cursor.move_by(delta, self.tree.len()) {
                    self.tree_moved();
                }
            }
            Pane::Detail => {
                let rows = self.rows(Pane::Detail);
                self.detail.scroll_by(delta, rows);
                if self.detail.wants_more(rows) {
                    self.load_more();
                }
            }
        }
    }

    fn tree_moved(&mut self) {
        if let Some(step) = self.tree.selected_step() {
            self.select_step(step, Pane::Tree);
        }
    }

    /// Shows run `run` (by history index) in the timeline, tree and detail.
    pub fn select_run(&mut self, run: usize) {
        self.runs.selected = Some(run);
        self.runs.new.remove(&run);
        if let Some(pos) = self.runs.order.iter().position(|&i| i as usize == run) {
            self.runs.cursor.selected = pos;
        }
        let len = self.shared.read().run(run).step_count();
        self.timeline = TimelineState {
            run: Some(run),
            len,
            cursor: ListCursor::default(),
        };
        self.tree.reset("reading the run…");
        self.structure_gen += 1;
        self.requests.push(JobRequest::Structure {
            generation: self.structure_gen,
            run,
        });
        self.detail.clear();
        if len > 0 {
            self.select_step(0, Pane::Runs);
        }
    }

    /// Selects step `step` of the shown run everywhere but in `from`, which moved itself.
    pub fn select_step(&mut self, step: u32, from: Pane) {
        let Some(run) = self.timeline.run else { return };
        if step as usize >= self.timeline.len {
            return;
        }
        self.timeline.cursor.set(step as usize, self.timeline.len);
        if from != Pane::Tree {
            self.tree.select_step(step);
        }
        if self.detail.target != Some((run, step)) {
            self.detail.show(run, step);
            self.request_detail(FIRST_LIMIT);
        }
        self.fit_views();
    }

    fn request_detail(&mut self, limit: usize) {
        let Some((run, step)) = self.detail.target else {
            return;
        };
        self.detail_gen += 1;
        self.requests.push(JobRequest::Detail {
            generation: self.detail_gen,
            run,
            step,
            limit,
        });
    }

    fn load_more(&mut self) {
        let Some(doc) = &self.detail.doc else { return };
        if doc.cut == 0 || self.detail.loading_more {
            return;
        }
        if doc.limit >= MAX_LIMIT {
            self.message = Some("this is as much as the detail shows".into());
            return;
        }
        let limit = doc.limit.saturating_mul(4).min(MAX_LIMIT);
        self.detail.loading_more = true;
        self.message = Some("loading more…".into());
        self.request_detail(limit);
    }

    fn first_failure(&mut self) {
        self.stop_following();
        let Some(run) = self.timeline.run else { return };
        let first = self.shared.read().run(run).first_error().map(|s| s.step);
        match first {
            Some(step) => {
                if self.focus == Pane::Runs {
                    self.focus_pane(Pane::Timeline);
                }
                self.select_step(step, Pane::Runs);
            }
            None => self.message = Some("this run has no failing step".into()),
        }
    }

    fn next_failure(&mut self, forward: bool) {
        self.stop_following();
        if self.focus != Pane::Runs && self.next_match(forward) {
            return;
        }
        if self.focus == Pane::Runs {
            let found = {
                let h = self.shared.read();
                let order = &self.runs.order;
                let at = self.runs.cursor.selected;
                let bad = |&p: &usize| h.run(order[p] as usize).outcome().is_bad();
                if forward {
                    (at + 1..order.len()).find(bad)
                } else {
                    (0..at).rev().find(bad)
                }
            };
            match found {
                Some(pos) => {
                    self.runs.chosen = true;
                    self.runs.cursor.selected = pos;
                    self.select_run(self.runs.order[pos] as usize);
                }
                None => self.message = Some("no more failing runs".into()),
            }
            return;
        }
        let Some(run) = self.timeline.run else { return };
        let found = {
            let h = self.shared.read();
            let r = h.run(run);
            let at = self.timeline.cursor.selected;
            let bad = |&i: &usize| r.step(i).is_error();
            if forward {
                (at + 1..self.timeline.len.min(r.step_count())).find(bad)
            } else {
                (0..at).rev().find(bad)
            }
        };
        match found {
            Some(step) => self.select_step(step as u32, Pane::Runs),
            None => self.message = Some("no more failing steps".into()),
        }
    }

    /// Scrolls every list so that its selection is in view, and wraps the detail to its
    /// width.
    fn fit_views(&mut self) {
        if let Some(s) = self.search.as_mut() {
            let len = s.len();
            s.cursor
                .scroll_into_view(search_pane::list_rows(self.size).max(1), len);
        }
        if let Some(d) = self.diff.as_mut() {
            let len = d.len();
            d.cursor
                .scroll_into_view(diff_pane::list_rows(self.size).max(1), len);
        }
        let rows = self.rows(Pane::Runs);
        self.runs.cursor.scroll_into_view(rows, self.runs.len());
        let rows = self.rows(Pane::Timeline);
        self.timeline
            .cursor
            .scroll_into_view(rows, self.timeline.len);
        let rows = self.rows(Pane::Tree);
        let len = self.tree.len();
        self.tree.cursor.scroll_into_view(rows, len);
        let a = self.areas();
        let a = if a.detail.is_some() {
            a
        } else {
            areas(self.size, Pane::Detail)
        };
        if let Some(r) = a.detail {
            self.detail.rewrap(detail::body_size(r, a.mode).1, false);
        }
    }

    /// The history grew: re-sort the runs, select the first run if none is, and refresh
    /// the shown run when it gained steps.
    fn history_changed(&mut self) {
        self.dirty = true;
        {
            let h = self.shared.read();
            if self.watch.is_some() {
                // Runs that appeared while watching are new until viewed.
                for run in self.runs.seen..h.run_count() {
                    if Some(run) != self.runs.selected {
                        self.runs.new.insert(run);
                    }
                }
                self.runs.seen = h.run_count();
            }
            self.runs.refresh(&h);
        }
        match (self.runs.selected, self.runs.run_at(0)) {
            (None, Some(first)) => self.select_run(first),
            // Until the user picks a run, the top row stays selected as older runs arrive
            // (while loading; once watching, the selection never moves by itself).
            (Some(run), Some(first))
                if !self.runs.chosen && self.watch.is_none() && run != first =>
            {
                self.select_run(first)
            }
            (Some(run), _) => {
                let len = self.shared.read().run(run).step_count();
                if len != self.timeline.len {
                    self.timeline.len = len;
                    if self.follow {
                        self.follow_newest();
                    }
                    self.structure_gen += 1;
                    self.requests.push(JobRequest::Structure {
                        generation: self.structure_gen,
                        run,
                    });
                }
            }
            (None, None) => {}
        }
        self.fit_views();
    }

    fn job_done(&mut self, out: JobOutput) {
        match out {
            JobOutput::Structure { generation, result } => {
                if generation != self.structure_gen {
                    return;
                }
                match result {
                    Ok(s) if Some(s.run) == self.timeline.run => {
                        let select = self.timeline.cursor.selected as u32;
                        self.tree.set_structure(s, select);
                    }
                    Ok(_) => return,
                    Err(e) => self.tree.note = Some(format!("cannot build the tree: {e}")),
                }
            }
            JobOutput::Diff { generation, result } => {
                let Some(d) = self.diff.as_mut() else { return };
                if generation != self.diff_gen {
                    return;
                }
                match result {
                    Ok(doc) => {
                        let len = doc.rows.len();
                        let at = doc.divergence.as_ref().map_or(0, |(row, _, _)| *row);
                        d.cursor = Default::default();
                        d.cursor.set(at, len);
                        d.doc = Some(doc);
                    }
                    Err(e) => d.error = Some(e),
                }
            }
            JobOutput::Search { generation, result } => {
                let Some(s) = self.search.as_mut() else {
                    return;
                };
                if generation != self.search_gen {
                    return;
                }
                match result {
                    Ok(doc) => {
                        s.cursor = ListCursor::default();
                        s.doc = Some(doc);
                    }
                    Err(e) => s.error = Some(e),
                }
            }
            JobOutput::Detail { generation, result } => {
                if generation != self.detail_gen {
                    return;
                }
                match result {
                    Ok(doc) => {
                        self.detail.set_doc(doc);
                        if self.message.as_deref() == Some("loading more…") {
                            self.message = None;
                        }
                    }
                    Err(e) => {
                        self.detail.loading_more = false;
                        self.detail.error = Some(e);
                    }
                }
            }
        }
        self.dirty = true;
        self.fit_views();
    }

    fn mouse_event(&mut self, m: MouseEvent) {
        if self.diff.is_some() || self.search.is_some() {
            return;
        }
        let a = self.areas();
        let Some(pane) = a.pane_at(m.column, m.row) else {
            return;
        };
        match m.kind {
            MouseEventKind::ScrollDown | MouseEventKind::ScrollUp => {
                let delta = if m.kind == MouseEventKind::ScrollDown {
                    3
                } else {
                    -3
                };
                let focus = self.focus;
                self.focus = pane;
                self.move_selection(delta);
                self.focus = focus;
            }
            MouseEventKind::Down(MouseButton::Left) => {
                self.focus_pane(pane);
                let Some(r) = a.of(pane) else { return };
                let body = inner(r, a.mode);
                let header = match pane {
                    Pane::Runs => 1,
                    Pane::Timeline => timeline::HEADER_ROWS,
                    Pane::Tree => usize::from(self.tree.note.is_some()),
                    Pane::Detail => 0,
                };
                let y = m.row as usize;
                let top = body.y as usize + header;
                if y >= top && pane != Pane::Detail {
                    let offset = match pane {
                        Pane::Runs => self.runs.cursor.offset,
                        Pane::Timeline => self.timeline.cursor.offset,
                        _ => self.tree.cursor.offset,
                    };
                    let target = (offset + y - top) as isize;
                    let current = match pane {
                        Pane::Runs => self.runs.cursor.selected,
                        Pane::Timeline => self.timeline.cursor.selected,
                        _ => self.tree.cursor.selected,
                    } as isize;
                    self.move_selection(target - current);
                }
            }
            _ => return,
        }
        self.dirty = true;
        self.fit_views();
    }
}

/// Now, in ms since the epoch (when a watch event arrived).
fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}
