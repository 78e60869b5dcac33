//! At a glance: the failure strip's bucket filter (`b`), the waterfall switch (`w`), and
//! asking a worker for the tokens of the timeline's visible steps.

use super::App;
use crate::tui::layout::{areas, inner, Pane};
use crate::tui::panes::strip;

impl App {
    /// `b`: narrows the run list to the runs that started in the selected run's strip
    /// bucket ("only the runs of that hour"), or back to every run.
    pub(super) fn toggle_bucket(&mut self) {
        if self.runs.window.take().is_some() {
            self.message = Some("all runs again".into());
            self.refilter();
            return;
        }
        let Some(run) = self.runs.selected else {
            self.message = Some("no run selected".into());
            return;
        };
        let start = self.shared.read().run(run).started_at();
        let window = self.runs.strip.strip.as_ref().and_then(|s| {
            let column = s.column_of(start?)?;
            Some(s.range(column))
        });
        match window {
            Some(w) => {
                self.message = Some(format!(
                    "only the runs of {} (b: all runs)",
                    strip::window_text(&w)
                ));
                self.runs.window = Some(w);
                self.runs.chosen = true;
                self.refilter();
            }
            None => self.message = Some("this run has no start time".into()),
        }
    }

    /// `w`: the waterfall column on or off.
    pub(super) fn toggle_waterfall(&mut self) {
        self.glance.waterfall = !self.glance.waterfall;
        self.message = Some(
            if self.glance.waterfall {
                "waterfall on: each step on the run's time axis (w: off)"
            } else {
                "waterfall off"
            }
            .into(),
        );
    }

    /// Rebuilds the strip when the run list's width changed.
    pub(super) fn fit_strip(&mut self) {
        let a = self.areas();
        let a = if a.runs.is_some() {
            a
        } else {
            areas(self.size, Pane::Runs)
        };
        let Some(r) = a.runs else { return };
        let columns = strip::bar_columns(inner(r, a.mode).width);
        if columns != self.runs.strip.columns {
            self.runs.strip.columns = columns;
            let h = self.shared.read();
            self.runs.refresh(&h);
        }
    }

    /// Asks for the tokens of the timeline's visible steps, unless they are at hand or
    /// asked for already.
    pub(super) fn request_tokens(&mut self) {
        let Some(run) = self.timeline.run else { return };
        let rows = self.timeline.cursor.rows;
        let top = self.timeline.cursor.offset;
        if let Some(window) = self.glance.wanted(run, top..top + rows, self.timeline.len) {
            self.jobs.tokens(run, window);
        }
    }
}
