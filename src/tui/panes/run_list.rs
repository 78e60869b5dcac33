//! The run list: one row per run, oldest first (as `retrace ls`), with its id, agent,
//! start, steps, duration, outcome and first error; failing runs are marked `✗` and drawn
//! in the error role. Owns the sorted order and the selection, which follows the selected
//! run (not its row) while a history is still loading.

use std::collections::BTreeSet;
use std::ops::Range;

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::Span;
use ratatui::widgets::Widget;

use super::strip::{self, StripState, StripView};
use super::{draw_message, draw_row, frame, ListCursor};
use crate::index::{History, RunRef};
use crate::model::Outcome;
use crate::runs::{self, Order};
use crate::sanitize;
use crate::search::Query;
use crate::time::{format_duration, format_short};
use crate::tui::layout::{inner, Mode};
use crate::tui::text::{cell, cell_right, fit, width, Piece};
use crate::tui::theme::{Role, Theme};

/// The run list's state.
#[derive(Debug, Clone, Default)]
pub struct RunListState {
    /// Run indices (into the history) in display order.
    pub order: Vec<u32>,
    /// The runs passing the filter, in order, before the window narrows them.
    listed: Vec<u32>,
    /// Which runs (by history index) were counted as failed.
    bad: Vec<bool>,
    pub cursor: ListCursor,
    /// The selected run, by history index.
    pub selected: Option<usize>,
    id_w: usize,
    agent_w: usize,
    /// Runs with a bad outcome.
    pub failed: usize,
    /// The user chose a run: from then on the selection stays on it while runs arrive
    /// (before that it stays on the top row).
    pub chosen: bool,
    /// Runs that appeared while watching and have not been shown yet (history indices).
    pub new: BTreeSet<usize>,
    /// Runs counted so far while watching (those past it are new).
    pub seen: usize,
    /// Only runs passing this query's run filters (from the last `/` search), and the
    /// time its relative times are resolved against.
    pub filter: Option<(Query, i64)>,
    /// The order (`s` cycles it); time, oldest first, by default.
    pub sort: Order,
    /// Only runs that started in this window (`b`: the selected run's strip bucket).
    pub window: Option<Range<i64>>,
    /// The failure strip of the listed runs (before the window narrows them).
    pub strip: StripState,
    /// Some run has token counts (the list then has a TOKENS column, when wide).
    has_tokens: bool,
}

impl RunListState {
    fn filter(&self) -> Option<runs::Filter<'_>> {
        self.filter
            .as_ref()
            .map(|(query, now)| runs::Filter { query, now: *now })
    }

    /// Rebuilds the list from every run (the filter, order or window changed), keeping
    /// the selected run selected.
    pub fn refresh(&mut self, h: &History) {
        let listed = runs::list(h, self.filter(), self.sort);
        self.listed = listed.iter().map(|r| r.index() as u32).collect();
        self.bad.clear();
        self.failed = 0;
        self.has_tokens = false;
        self.id_w = 3;
        self.agent_w = 5;
        let all: Vec<u32> = (0..h.run_count() as u32).collect();
        self.count(h, &all);
        self.relaid(h);
    }

    /// The history grew: only the `touched` runs (new or changed) changed, so they alone
    /// are re-placed and re-counted; the list is then as [`Self::refresh`] would make it.
    pub fn update(&mut self, h: &History, touched: &[u32]) {
        let mut listed = std::mem::take(&mut self.listed);
        runs::relist(h, &mut listed, touched, self.filter(), self.sort);
        self.listed = listed;
        self.count(h, touched);
        self.relaid(h);
    }

    /// Counts `runs` in the list's figures (failures, token columns, column widths).
    fn count(&mut self, h: &History, runs: &[u32]) {
        self.bad.resize(h.run_count(), false);
        for &i in runs {
            let run = h.run(i as usize);
            let bad = run.outcome().is_bad();
            let was = std::mem::replace(&mut self.bad[i as usize], bad);
            self.failed = self.failed + usize::from(bad) - usize::from(was);
            self.has_tokens |= run.tokens().is_some();
            self.id_w = self.id_w.max(width(&sanitize::line(run.id())).min(24));
            let agent = width(&sanitize::line(run.agent().unwrap_or("-")));
            self.agent_w = self.agent_w.max(agent.min(18));
        }
    }

    /// Lays the listed runs out: the strip, the window, the selection.
    fn relaid(&mut self, h: &History) {
        let before = self.cursor.selected;
        let listed: Vec<RunRef> = self.listed.iter().map(|&i| h.run(i as usize)).collect();
        self.strip.rebuild(&listed);
        self.order = match &self.window {
            None => self.listed.clone(),
            Some(w) => listed
                .iter()
                .filter(|r| r.started_at().is_some_and(|t| w.contains(&t)))
                .map(|r| r.index() as u32)
                .collect(),
        };
        if let Some(run) = self.selected {
            if let Some(pos) = self.order.iter().position(|&i| i as usize == run) {
                self.cursor.selected = pos;
                // A run inserted above the selection moves the view with it, so that the
                // selected row stays where it was on screen.
                if pos > before {
                    self.cursor.offset += pos - before;
                } else {
                    self.cursor.offset = self.cursor.offset.saturating_sub(before - pos);
                }
            }
        }
    }

    pub fn run_at(&self, pos: usize) -> Option<usize> {
        self.order.get(pos).map(|&i| i as usize)
    }

    pub fn len(&self) -> usize {
        self.order.len()
    }

    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }
}

/// The role and mark (glyph and word) of an outcome.
pub fn outcome_label(o: Outcome) -> (Role, String) {
    let role = match o {
        Outcome::Success => Role::Ok,
        Outcome::Failure | Outcome::Timeout | Outcome::Cancelled => Role::Error,
        Outcome::Running => Role::Warn,
        Outcome::Unknown => Role::Dim,
    };
    (role, runs::outcome_mark(o))
}

/// Draws the run list.
pub struct RunListView<'a> {
    pub state: &'a RunListState,
    pub history: &'a History,
    pub theme: &'a Theme,
    pub focused: bool,
    pub mode: Mode,
    /// Loading progress (0..1) while the history is still being read.
    pub loading: Option<f64>,
}

impl RunListView<'_> {
    /// Whether the list shows run token totals (in→out): when some run has them and
    /// there is room.
    fn tokens_column(&self, w: usize) -> bool {
        self.state.has_tokens && w >= 130
    }

    /// Id and agent widths, and whether there is room for full start times and
    /// durations (below 100 columns: `11-25 09:12` and no duration).
    fn columns(&self, w: usize) -> (usize, usize, bool) {
        let full = w >= 100;
        let agent_w = if full {
            self.state.agent_w
        } else {
            self.state.agent_w.min(13)
        };
        (self.state.id_w, agent_w, full)
    }

    fn header(&self, w: usize) -> Vec<Piece> {
        let (id_w, agent_w, full) = self.columns(w);
        let line = format!(
            "  {} {} {} {} {}{}{} FIRST ERROR",
            cell("RUN", id_w),
            cell("AGENT", agent_w),
            cell(
                if full { "STARTED (UTC)" } else { "STARTED" },
                if full { 19 } else { 11 }
            ),
            cell_right("STEPS", 5),
            if full {
                format!("{} ", cell_right("DURATION", 8))
            } else {
                String::new()
            },
            if self.tokens_column(w) {
                format!("{} ", cell_right("TOKENS", 11))
            } else {
                String::new()
            },
            cell("OUTCOME", 11),
        );
        vec![(Role::Header, line)]
    }

    fn row(&self, run: &RunRef, selected: bool, w: usize) -> Vec<Piece> {
        let (id_w, agent_w, full) = self.columns(w);
        let outcome = run.outcome();
        let bad = outcome.is_bad();
        let (o_role, o_text) = outcome_label(outcome);
        let started = run
            .started_at()
            .map(|t| {
                let s = format_short(t);
                if full {
                    s
                } else {
                    s.get(5..16).unwrap_or(&s).to_string()
                }
            })
            .unwrap_or_default();
        let new = self.state.new.contains(&run.index());
        let (mark_role, mark) = match (new, bad) {
            (true, _) => (Role::Accent, "●"),
            (false, true) => (Role::Error, "✗"),
            (false, false) => (Role::Text, " "),
        };
        let mut pieces = vec![
            (Role::Accent, if selected { "›" } else { " " }.to_string()),
            (mark_role, mark.to_string()),
            (
                if bad { Role::Error } else { Role::Text },
                format!("{} ", cell(&sanitize::line(run.id()), id_w)),
            ),
            (
                Role::Text,
                format!(
                    "{} ",
                    cell(&sanitize::line(run.agent().unwrap_or("-")), agent_w)
                ),
            ),
            (
                Role::Dim,
                format!("{} ", cell(&started, if full { 19 } else { 11 })),
            ),
            (
                Role::Text,
                format!("{} ", cell_right(&run.step_count().to_string(), 5)),
            ),
            (
                Role::Text,
                if full {
                    format!(
                        "{} ",
                        cell_right(
                            &run.duration_ms()
                                .map_or("-".into(), |d| format_duration(d as f64)),
                            8
                        )
                    )
                } else {
                    String::new()
                },
            ),
            (
                Role::Dim,
                if self.tokens_column(w) {
                    let t = run.tokens().map(crate::tui::glance::in_out);
                    format!("{} ", cell_right(&t.unwrap_or_default(), 11))
                } else {
                    String::new()
                },
            ),
            (o_role, format!("{} ", cell(&o_text, 11))),
        ];
        let used: usize = pieces.iter().map(|(_, s)| width(s)).sum();
        let err = runs::first_error_text(run).unwrap_or_default();
        pieces.push((
            if bad { Role::Error } else { Role::Dim },
            fit(&err, w.saturating_sub(used)).into_owned(),
        ));
        pieces
    }
}

impl Widget for RunListView<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let s = self.state;
        let mut title = vec![Span::styled("Runs", self.theme.style(Role::Title))];
        if !s.is_empty() {
            title.push(Span::styled(
                {
                    let mut t = format!(
                        " {}/{} · {} failed",
                        s.cursor.selected + 1,
                        s.len(),
                        s.failed
                    );
                    if !s.new.is_empty() {
                        t.push_str(&format!(" · ● {} new", s.new.len()));
                    }
                    if s.sort != Order::OLDEST_FIRST {
                        t.push_str(&format!(
                            " · by {}{}",
                            s.sort.by.as_str(),
                            if s.sort.descending { " ↓" } else { " ↑" }
                        ));
                    }
                    if s.filter.is_some() {
                        t.push_str(" · filtered by the search");
                    }
                    if let Some(w) = &s.window {
                        t.push_str(&format!(" · only {}", strip::window_text(w)));
                    }
                    t
                },
                self.theme.style(Role::Dim),
            ));
        }
        let block = frame(title, self.focused, self.mode, self.theme);
        block.render(area, buf);
        let body = inner(area, self.mode);
        if body.height == 0 || body.width == 0 {
            return;
        }
        let w = body.width as usize;
        if s.is_empty() {
            let msg = match self.loading {
                Some(p) => format!("loading… {:.0}%", p * 100.0),
                None => "no runs".to_string(),
            };
            draw_message(buf, body, &msg, self.theme);
            return;
        }
        let strip_h = strip::rows(body);
        if strip_h > 0 {
            StripView {
                state: &s.strip,
                selected: s
                    .selected
                    .filter(|&r| r < self.history.run_count())
                    .and_then(|r| self.history.run(r).started_at()),
                window: s.window.as_ref(),
                theme: self.theme,
            }
            .render(Rect::new(body.x, body.y, body.width, strip_h), buf);
        }
        let top = body.y + strip_h;
        draw_row(buf, body, top, &self.header(w), false, self.theme);
        let rows = (body.height - strip_h) as usize - 1;
        for (i, pos) in (s.cursor.offset..s.len()).take(rows).enumerate() {
            let Some(run) = s.run_at(pos) else { break };
            let run = self.history.run(run);
            let selected = pos == s.cursor.selected;
            let y = top + 1 + i as u16;
            draw_row(
                buf,
                body,
                y,
                &self.row(&run, selected, w),
                selected,
                self.theme,
            );
        }
    }
}

/// Rows of the list's body (below the strip and the header) for a pane of `area`.
pub fn body_rows(area: Rect, mode: Mode) -> usize {
    (inner(area, mode).height as usize).saturating_sub(1 + header_offset(area, mode))
}

/// Rows above the list's header: the failure strip, when shown.
pub fn header_offset(area: Rect, mode: Mode) -> usize {
    strip::rows(inner(area, mode)) as usize
}
