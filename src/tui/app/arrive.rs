//! What arrives without a key: the history growing (new runs, new steps of the shown
//! run), workers' results (stale ones dropped by [`crate::tui::jobs::Jobs`]), and mouse
//! events.

use std::time::{Duration, Instant};

use crossterm::event::{MouseButton, MouseEvent, MouseEventKind};

use super::App;
use crate::tui::event::JobOutput;
use crate::tui::layout::{inner, Pane};
use crate::tui::panes::timeline;

/// How often the run list catches up with a big history while it loads.
const RELIST_EVERY: Duration = Duration::from_millis(100);
/// Lists of up to this many runs catch up after every fold.
const RELIST_ALWAYS_UP_TO: usize = 5_000;

impl App {
    /// The history grew (`touched`: the runs that are new or changed): re-place them in
    /// the run list, select the first run if none is, and refresh the shown run when it
    /// gained steps. While a big history loads this is done at most every
    /// [`RELIST_EVERY`]: the list's layout costs time in proportion to all its runs, and
    /// doing it after every few-millisecond fold took a core's worth from the parsers.
    pub(super) fn history_changed(&mut self, touched: &[u32]) {
        self.dirty = true;
        self.touched_waiting.extend_from_slice(touched);
        let recently = self.relisted.is_some_and(|t| t.elapsed() < RELIST_EVERY);
        if recently && self.runs.len() > RELIST_ALWAYS_UP_TO && !self.fully_loaded() {
            return;
        }
        self.catch_up_runs();
    }

    /// Brings the run list and the shown run up to date with the folds so far.
    pub(super) fn catch_up_runs(&mut self) {
        if self.touched_waiting.is_empty() && self.relisted.is_some() {
            return;
        }
        let touched = std::mem::take(&mut self.touched_waiting);
        self.relisted = Some(Instant::now());
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
            self.runs.update(&h, &touched);
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
                    self.jobs.structure(run);
                }
            }
            (None, None) => {}
        }
        self.fit_views();
    }

    pub(super) fn job_done(&mut self, out: JobOutput) {
        if !self.jobs.is_latest(&out) {
            return;
        }
        match out {
            out @ JobOutput::Postmortem { .. } => self.postmortem_done(out),
            out @ (JobOutput::Similar { .. }
            | JobOutput::SaveIncident { .. }
            | JobOutput::IncidentSearch { .. }) => self.incidents_done(out),
            JobOutput::Structure { result, .. } => match result {
                Ok(s) if Some(s.run) == self.timeline.run => {
                    let select = self.timeline.cursor.selected as u32;
                    self.tree.set_structure(s, select);
                }
                Ok(_) => return,
                Err(e) => self.tree.note = Some(format!("cannot build the tree: {e}")),
            },
            JobOutput::Diff { result, .. } => {
                let Some(d) = self.diff_mut() else { return };
                match result {
                    Ok(doc) => {
                        let len = doc.rows.len();
                        let at = doc.divergence.as_ref().map_or(0, |(row, _, _)| *row);
                        d.cursor.home();
                        d.cursor.set(at, len);
                        d.doc = Some(doc);
                    }
                    Err(e) => d.error = Some(e),
                }
            }
            JobOutput::Search { result, .. } => {
                // Stale results are dropped: a search answered once the history is
                // whole was asked for after the load was folded in.
                let loading = !self.fully_loaded();
                let Some(s) = self.search_mut() else {
                    return;
                };
                match result {
                    Ok(doc) => {
                        s.cursor.home();
                        s.doc = Some(doc);
                        s.partial = loading;
                    }
                    Err(e) => s.error = Some(e),
                }
            }
            JobOutput::Card { result, .. } => self.card_arrived(result),
            JobOutput::Tokens { result, .. } => match result {
                Ok(doc) => self.glance.set_tokens(doc),
                // The columns stay empty: tokens are a nicety, not worth a message.
                Err(_) => return,
            },
            JobOutput::Detail { result, .. } => match result {
                Ok(doc) => _ = self.detail.set_doc(doc),
                Err(e) => {
                    self.detail.loading_more = false;
                    self.detail.error = Some(e);
                }
            },
        }
        self.dirty = true;
        self.fit_views();
    }

    pub(super) fn mouse_event(&mut self, m: MouseEvent) {
        if !self.overlays.is_empty() {
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
                    Pane::Runs => 1 + crate::tui::panes::run_list::header_offset(r, a.mode),
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
pub(super) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}
