//! The browser in a post-mortem meeting: the meeting's keys (replay's own moves are in
//! `replay.rs`), presenter mode (the step as a card, redacted unless the presenter
//! confirms otherwise), positions as command lines (`--at`), and following a presenter
//! (positions arrive as messages and are applied like `--at`; the app's own position is
//! handed to the loop to publish).

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::App;
use crate::present::{self, Card, Mark};
use crate::redact::Redaction;
use crate::replay::{Pace, Replay};
use crate::share::{self, Heard, Position};
use crate::tui::action::Action;
use crate::tui::diff::DiffDoc;
use crate::tui::layout::Pane;
use crate::tui::overlays::confirm::Question;
use crate::tui::overlays::Overlay;
use crate::tui::panes::diff::DiffState;
use crate::tui::text::Piece;
use crate::tui::theme::Role;

/// The fixed pace when none was given (`--pace`).
pub const DEFAULT_FIXED: Duration = Duration::from_millis(1000);

/// What the command line asks of a meeting.
#[derive(Debug, Clone, Default)]
pub struct MeetingOptions {
    /// `--at RUN[#STEP]`.
    pub at: Option<(String, Option<u32>)>,
    /// `--against RUN`: open the diff of `at` with it.
    pub against: Option<String>,
    /// `--present`.
    pub present: bool,
    /// `--pace MS`: replay at a fixed pace (else in real time).
    pub pace: Option<Duration>,
    /// `--share NAME` (with `--share-group GROUP`): the loop publishes positions.
    pub share: Option<String>,
    pub share_group: Option<String>,
    /// `--follow NAME`.
    pub follow: Option<String>,
}

/// What is replayed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplayOn {
    /// The steps of this run, in the panes.
    Run(usize),
    /// The rows of the open diff view.
    Diff,
}

/// Following a presenter.
#[derive(Debug, Clone, Default)]
pub struct FollowState {
    pub name: String,
    /// Positions are applied as they arrive (else the user explores; `A` attaches).
    pub attached: bool,
    /// The presenter quit: the last position stays.
    pub ended: bool,
    /// The presenter's last position.
    pub last: Option<Position>,
}

/// A position to go to when its runs are loaded.
#[derive(Debug, Clone, PartialEq)]
struct Goto {
    run: String,
    step: Option<u32>,
    against: Option<String>,
    /// The diff row (a follower), else the row of `step`.
    row: Option<usize>,
    /// A follower mirrors the view: presenter mode on or off, the diff closed.
    view: Option<String>,
}

/// The meeting's state.
#[derive(Debug, Clone)]
pub struct Meeting {
    pub presenting: bool,
    /// Secrets hidden in presenter mode (on unless the presenter confirmed otherwise).
    pub redact: bool,
    pub replay: Option<(Replay, ReplayOn)>,
    pub pace: Pace,
    fixed: Duration,
    /// When the replay's next step is due (`None`: paused, or no replay).
    pub due: Option<Instant>,
    pub card: Option<Arc<Card>>,
    pub card_error: Option<String>,
    /// The open diff with secrets hidden, for presenter mode: (the diff, its redacted
    /// copy).
    redacted_diff: Option<(Arc<DiffDoc>, Arc<DiffDoc>)>,
    /// The card asked for: (run, step, redacted).
    card_for: Option<(usize, u32, bool)>,
    goto: Option<Goto>,
    /// Where to put the diff's cursor once its rows are in: a row, or the row of a step.
    diff_place: Option<(Option<usize>, Option<u32>)>,
    pub sharing: Option<String>,
    published: Option<Position>,
    pub follow: Option<FollowState>,
    clipboard: Option<String>,
    /// Bookmarks, notes and the root cause (from the post-mortem's notes store), shown
    /// on the card and the timeline while presenting.
    pub marks: Vec<Mark>,
}

impl Meeting {
    pub fn new(o: &MeetingOptions) -> Meeting {
        let fixed = o.pace.unwrap_or(DEFAULT_FIXED);
        Meeting {
            presenting: o.present,
            redact: true,
            replay: None,
            pace: match o.pace {
                Some(every) => Pace::Fixed(every),
                None => Pace::RealTime,
            },
            fixed,
            due: None,
            card: None,
            card_error: None,
            redacted_diff: None,
            card_for: None,
            goto: o.at.as_ref().map(|(run, step)| Goto {
                run: run.clone(),
                step: *step,
                against: o.against.clone(),
                row: None,
                view: None,
            }),
            diff_place: None,
            sharing: o.share.clone(),
            published: None,
            follow: o.follow.as_ref().map(|name| FollowState {
                name: name.clone(),
                attached: true,
                ..FollowState::default()
            }),
            clipboard: None,
            marks: Vec::new(),
        }
    }

    /// The card to show for `step`: only one of that step, and never an unredacted one
    /// while redaction is on.
    pub fn card_for_step(&self, step: u32) -> Option<&Card> {
        self.card
            .as_deref()
            .filter(|c| c.step == step && (c.redacted || !self.redact))
    }
}

impl App {
    /// Meeting actions (and the follower's read-only gate) before anything else;
    /// `true` when the action was taken here.
    pub(super) fn meeting_update(&mut self, action: Action) -> bool {
        let top_is_modal = matches!(
            self.overlay(),
            Some(
                Overlay::Help(_)
                    | Overlay::Search(_)
                    | Overlay::Confirm(_)
                    | Overlay::Note(_)
                    | Overlay::Problems(_)
            )
        );
        if top_is_modal {
            return false;
        }
        if let Some(f) = &self.meeting.follow {
            let free = matches!(
                action,
                Action::Quit
                    | Action::Help
                    | Action::ToggleTheme
                    | Action::ToggleMouse
                    | Action::Attach
                    | Action::ShowPosition
                    | Action::ToggleRedaction
            );
            if f.attached && !free {
                self.message = Some(format!(
                    "following {} (read-only): A detaches to explore",
                    crate::sanitize::line(&f.name)
                ));
                return true;
            }
        }
        if action == Action::Search && self.meeting.presenting && self.meeting.redact {
            self.message =
                Some("search shows steps unredacted: leave presenter mode (P) to search".into());
            return true;
        }
        match action {
            Action::Replay => {
                if self.meeting.replay.take().is_some() {
                    self.meeting.due = None;
                    self.message = Some("replay stopped".into());
                } else if self.start_replay() {
                    self.replay_mut(Replay::toggle);
                }
            }
            Action::PlayPause => {
                if self.meeting.replay.is_some() || self.start_replay() {
                    self.replay_mut(Replay::toggle);
                }
            }
            Action::StepForward | Action::StepBack => {
                if self.meeting.replay.is_some() || self.start_replay() {
                    self.sync_replay();
                    self.replay_mut(if action == Action::StepForward {
                        Replay::step_forward
                    } else {
                        Replay::step_back
                    });
                    self.show_replay_position();
                }
            }
            Action::Faster | Action::Slower => {
                if self.meeting.replay.is_some() || self.start_replay() {
                    self.replay_mut(if action == Action::Faster {
                        Replay::faster
                    } else {
                        Replay::slower
                    });
                }
            }
            Action::TogglePace => {
                self.meeting.pace = match self.meeting.pace {
                    Pace::RealTime => Pace::Fixed(self.meeting.fixed),
                    Pace::Fixed(_) => Pace::RealTime,
                };
                let pace = self.meeting.pace;
                if let Some((r, _)) = &mut self.meeting.replay {
                    r.pace = pace;
                }
                self.schedule(Instant::now());
                self.message = Some(format!("replay pace: {}", pace_label(pace)));
            }
            Action::Present => self.set_presenting(!self.meeting.presenting),
            Action::ShowPosition => self.show_position(),
            Action::ToggleRedaction => {
                if self.meeting.redact {
                    self.overlays.push(Overlay::Confirm(Question::ShowSecrets));
                } else {
                    self.set_redaction(true);
                }
            }
            Action::Attach => self.toggle_attached(),
            _ => return false,
        }
        true
    }

    /// A question was answered yes.
    pub(super) fn confirmed(&mut self, question: Question) {
        match question {
            Question::ShowSecrets => self.set_redaction(false),
        }
    }

    fn set_redaction(&mut self, on: bool) {
        self.meeting.redact = on;
        if on {
            // Never keep an unredacted card on screen.
            self.meeting.card = None;
        }
        self.message = Some(
            if on {
                "secrets hidden"
            } else {
                "redaction OFF: secrets are shown (R hides them)"
            }
            .into(),
        );
    }

    pub(super) fn set_presenting(&mut self, on: bool) {
        if self.meeting.presenting == on {
            return;
        }
        self.meeting.presenting = on;
        self.theme.contrast = on;
        if on && matches!(self.focus, Pane::Runs | Pane::Detail) {
            self.focus_pane(Pane::Timeline);
        }
        self.message = Some(
            if on {
                "presenter mode (P leaves)"
            } else {
                "presenter mode off"
            }
            .into(),
        );
    }

    /// What the command line and the followed presenter asked for, once its runs are
    /// loaded; the presenter's card; the diff's cursor once its rows are in.
    pub(super) fn sync_meeting(&mut self) {
        self.apply_goto();
        self.place_diff();
        if !self.meeting.presenting {
            return;
        }
        self.redact_diff();
        let (Some(run), true) = (self.timeline.run, self.timeline.len > 0) else {
            return;
        };
        let key = (
            run,
            self.timeline.cursor.selected as u32,
            self.meeting.redact,
        );
        if self.meeting.card_for != Some(key) {
            self.meeting.card_for = Some(key);
            self.meeting.card_error = None;
            self.jobs.card(key.0, key.1, key.2);
        }
    }

    /// Keeps a redacted copy of the open diff while presenting with redaction on.
    fn redact_diff(&mut self) {
        let doc = self.diff().and_then(|d| d.doc.clone());
        let Some(doc) = doc.filter(|_| self.meeting.redact) else {
            self.meeting.redacted_diff = None;
            return;
        };
        let current = self
            .meeting
            .redacted_diff
            .as_ref()
            .is_some_and(|(of, _)| Arc::ptr_eq(of, &doc));
        if !current {
            let hidden = Arc::new(doc.redacted(Redaction::default()));
            self.meeting.redacted_diff = Some((doc, hidden));
        }
    }

    /// The diff view's state as it may be shown: in presenter mode with redaction on,
    /// its redacted copy (or none yet).
    pub fn shown_diff(&self, d: &DiffState) -> DiffState {
        let mut shown = d.clone();
        if self.meeting.presenting && self.meeting.redact {
            shown.doc = match (&d.doc, &self.meeting.redacted_diff) {
                (Some(doc), Some((of, hidden))) if Arc::ptr_eq(doc, of) => Some(Arc::clone(hidden)),
                _ => None,
            };
        }
        shown
    }

    pub(super) fn card_arrived(&mut self, result: Result<Arc<Card>, String>) {
        match result {
            Ok(card) => self.meeting.card = Some(card),
            Err(e) => self.meeting.card_error = Some(e),
        }
    }

    fn apply_goto(&mut self) {
        let Some(g) = self.meeting.goto.clone() else {
            return;
        };
        let found = {
            let h = self.shared.read();
            let find = |id: &str| h.find_run(id).map(|r| r.index()).map_err(|e| e.to_string());
            (find(&g.run), g.against.as_deref().map(find))
        };
        let (a, b) = match found {
            (Ok(a), None) => (a, None),
            (Ok(a), Some(Ok(b))) => (a, Some(b)),
            (Err(e), _) | (_, Some(Err(e))) => {
                // While loading, the run may still come.
                if self.load.done && self.pending.is_empty() {
                    self.meeting.goto = None;
                    self.message = Some(crate::sanitize::line(&e).into_owned());
                }
                return;
            }
        };
        self.meeting.goto = None;
        self.runs.chosen = true;
        if self.timeline.run != Some(a) {
            self.select_run(a);
        }
        if self.focus == Pane::Runs {
            self.focus_pane(Pane::Timeline);
        }
        if let Some(step) = g.step {
            if (step as usize) < self.timeline.len {
                self.select_step(step, Pane::Runs);
            } else {
                self.message = Some(format!(
                    "the run has {} steps: no step #{step}",
                    self.timeline.len
                ));
            }
        }
        match b {
            Some(b) => {
                let open = self.diff().is_some_and(|d| {
                    d.a == a && (d.b == Some(b) || d.doc.as_ref().is_some_and(|doc| doc.b_run == b))
                });
                if !open {
                    self.open_diff(a, Some(b));
                }
                self.meeting.diff_place = Some((g.row, g.step));
            }
            None if g.view.is_some() => {
                self.close_overlay(|o| matches!(o, Overlay::Diff(_)));
            }
            None => {}
        }
        if let Some(view) = &g.view {
            self.set_presenting(view == "present");
            self.message = None;
        }
        self.fit_views();
    }

    fn place_diff(&mut self) {
        let Some((row, step)) = self.meeting.diff_place else {
            return;
        };
        let Some(d) = self.diff_mut() else {
            self.meeting.diff_place = None;
            return;
        };
        if d.error.is_some() {
            self.meeting.diff_place = None;
            return;
        }
        let Some(doc) = d.doc.clone() else { return };
        let target = row.or_else(|| {
            let step = step?;
            doc.rows
                .iter()
                .position(|r| r.a.as_ref().is_some_and(|s| s.step >= step))
        });
        if let Some(t) = target {
            d.cursor.set(t, doc.rows.len());
        }
        self.meeting.diff_place = None;
        self.fit_views();
    }

    /// Where this screen is, as a follower (or a command line) needs it.
    pub fn position(&self) -> Option<Position> {
        let h = self.shared.read();
        let id = |run: usize| (run < h.run_count()).then(|| h.run(run).id().to_string());
        let replay = self.meeting.replay.as_ref().map(|(r, _)| share::Replay {
            playing: r.playing,
            speed: r.speed(),
        });
        let view = if self.meeting.presenting {
            "present"
        } else {
            "browse"
        }
        .to_string();
        if let Some(d) = self.diff() {
            if let Some(doc) = &d.doc {
                let row = d.cursor.selected;
                let step = doc.rows[..=row.min(doc.rows.len().saturating_sub(1))]
                    .iter()
                    .rev()
                    .find_map(|r| r.a.as_ref().map(|s| s.step));
                return Some(Position {
                    run: id(doc.a_run),
                    step,
                    view,
                    against: id(doc.b_run),
                    row: Some(row),
                    replay,
                });
            }
        }
        let run = self.timeline.run?;
        Some(Position {
            run: id(run),
            step: (self.timeline.len > 0).then_some(self.timeline.cursor.selected as u32),
            view,
            against: None,
            row: None,
            replay,
        })
    }

    /// The position to publish, when sharing and it changed since the last one.
    pub fn take_position(&mut self) -> Option<Position> {
        self.meeting.sharing.as_ref()?;
        let p = self.position()?;
        if self.meeting.published.as_ref() == Some(&p) {
            return None;
        }
        self.meeting.published = Some(p.clone());
        Some(p)
    }

    /// Text to put on the terminal's clipboard (OSC 52), once.
    pub fn take_clipboard(&mut self) -> Option<String> {
        self.meeting.clipboard.take()
    }

    fn show_position(&mut self) {
        let Some(p) = self.position() else {
            self.message = Some("no run to point at".into());
            return;
        };
        let Some(run) = p.run else { return };
        let paths: Vec<String> = self
            .options
            .sources
            .iter()
            .map(|s| s.display().to_string())
            .collect();
        let line = present::command_line(&paths, &run, p.step, p.against.as_deref());
        self.meeting.clipboard = Some(line.clone());
        self.overlays.push(Overlay::Note(line));
    }

    /// What the followed presenter said.
    pub(super) fn heard(&mut self, heard: Heard) {
        let Some(f) = &mut self.meeting.follow else {
            return;
        };
        match heard {
            Heard::Position(p) => {
                f.ended = false;
                f.last = Some(p.clone());
                if f.attached && p.run.is_some() {
                    self.meeting.goto = Some(goto_of(&p));
                }
            }
            // The last position stays; the follower is free to explore it.
            Heard::Ended => {
                f.ended = true;
                f.attached = false;
            }
        }
        self.dirty = true;
    }

    fn toggle_attached(&mut self) {
        let Some(f) = &mut self.meeting.follow else {
            self.message = Some("not following anyone (--follow NAME)".into());
            return;
        };
        f.attached = !f.attached;
        let name = crate::sanitize::line(&f.name).into_owned();
        if f.attached {
            if let Some(p) = &f.last {
                self.meeting.goto = Some(goto_of(p));
            }
            self.message = Some(format!("following {name} again"));
        } else {
            self.message = Some(format!(
                "detached from {name}: explore freely, A follows again"
            ));
        }
    }

    /// The meeting's part of the status line: replay, presenter and redaction, sharing
    /// and following.
    pub fn meeting_status(&self) -> Vec<Piece> {
        let m = &self.meeting;
        let mut p: Vec<Piece> = Vec::new();
        if let Some((r, _)) = &m.replay {
            let state = if r.playing { "▶" } else { "⏸" };
            p.push((
                Role::Accent,
                format!(
                    " {state} replay {}/{} ×{} {} ",
                    r.at + 1,
                    r.len,
                    r.speed(),
                    pace_label(r.pace)
                ),
            ));
        }
        if m.presenting && !m.redact {
            p.push((Role::Error, " ⚠ redaction OFF ".into()));
        }
        if let Some(name) = &m.sharing {
            p.push((
                Role::Ok,
                format!(" ◉ sharing {} ", crate::sanitize::line(name)),
            ));
        }
        if let Some(f) = &m.follow {
            let name = crate::sanitize::line(&f.name);
            let (role, text) = if f.ended {
                (
                    Role::Warn,
                    format!(" ■ {name} ended: staying at the last position "),
                )
            } else if !f.attached {
                (Role::Warn, format!(" ⇢ detached from {name} (A follows) "))
            } else {
                let playing = f
                    .last
                    .as_ref()
                    .and_then(|l| l.replay)
                    .map_or(String::new(), |r| {
                        format!(" {} ×{}", if r.playing { "▶" } else { "⏸" }, r.speed)
                    });
                (Role::Ok, format!(" ⇉ following {name}{playing} "))
            };
            p.push((role, text));
        }
        p
    }
}

fn goto_of(p: &Position) -> Goto {
    Goto {
        run: p.run.clone().unwrap_or_default(),
        step: p.step,
        against: p.against.clone(),
        row: p.row,
        view: Some(p.view.clone()),
    }
}

fn pace_label(pace: Pace) -> String {
    match pace {
        Pace::RealTime => "real time".into(),
        Pace::Fixed(every) => format!("every {:.1}s", every.as_secs_f64()),
    }
}
