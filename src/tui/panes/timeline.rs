//! The selected run's timeline: the trigger on top, then one row per step (time since the
//! start, kind, name, status, duration, error code). The first failure is marked `✗` and
//! every step after it `┆` (the cascade); effects are tagged `EFFECT`. Rows come from the
//! index one by one (`RunRef::step`), so only the visible rows cost anything: a run of a
//! million steps draws like a run of ten. When wide enough, each step's tokens in→out
//! (read by a worker for the visible window); with `w`, a waterfall column: the step's
//! start and duration as a bar on the run's time axis (see [`super::waterfall`]).

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::Span;
use ratatui::widgets::Widget;

use super::waterfall as bars;
use super::{draw_message, draw_row, frame, kind_tag, ListCursor};
use crate::index::{RunRef, StepInfo};
use crate::model::{Status, StepKind};
use crate::sanitize;
use crate::time::format_duration;
use crate::tui::glance::{self, Glance};
use crate::tui::layout::{inner, Mode};
use crate::tui::text::{cell, cell_right, fit, width, Piece};
use crate::tui::theme::{Role, Theme};
use crate::waterfall::Bar;
use crate::waterfall::Waterfall;

/// The timeline's state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TimelineState {
    pub run: Option<usize>,
    /// Steps of the run (it can grow while the history loads).
    pub len: usize,
    pub cursor: ListCursor,
}

/// Rows above the steps: the trigger line and the column header.
pub const HEADER_ROWS: usize = 2;

/// Where a step stands relative to the run's first failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mark {
    Before,
    FirstFailure,
    Cascade,
}

pub fn mark(step: u32, first_failure: Option<u32>) -> Mark {
    match first_failure {
        Some(f) if step == f => Mark::FirstFailure,
        Some(f) if step > f => Mark::Cascade,
        _ => Mark::Before,
    }
}

/// Draws the timeline.
pub struct TimelineView<'a> {
    pub state: &'a TimelineState,
    pub run: Option<RunRef<'a>>,
    /// The trigger, once the run's structure is loaded (`Some(None)`: the run has none).
    pub trigger: Option<Option<&'a str>>,
    pub theme: &'a Theme,
    pub focused: bool,
    pub mode: Mode,
    /// The waterfall switch and the steps' tokens.
    pub glance: &'a Glance,
    /// The post-mortem's notes on the run: root cause ◆, bookmarks ★ and notes ✎ are
    /// shown before the error column.
    pub notes: Option<&'a crate::postmortem::notes::Notes>,
}

/// The post-mortem's glyphs of `step`: ◆ root cause, ★ bookmark, ✎ note.
pub fn note_glyphs(notes: &crate::postmortem::notes::Notes, step: u32) -> String {
    let mut g = String::new();
    if notes.root_cause == Some(step) {
        g.push('◆');
    }
    if notes.bookmarks.binary_search(&step).is_ok() {
        g.push('★');
    }
    if notes.step_note(step).is_some() {
        g.push('✎');
    }
    g
}

struct Cols {
    num: usize,
    name: usize,
    /// The tokens column (0: not shown).
    tokens: usize,
    /// The waterfall column (0: not shown).
    waterfall: u16,
    /// The run's start, and its first failing step.
    t0: Option<i64>,
    first: Option<u32>,
}

/// Width of the tokens column: `12.3k→4.1k`.
const TOKENS_W: usize = 11;

impl TimelineView<'_> {
    fn cols(&self, w: usize, len: usize, run: &RunRef) -> Cols {
        let num = len.saturating_sub(1).to_string().len().max(2);
        // cursor, mark, spaces, time, tag, status, duration: the rest is name + error.
        let fixed = 2 + num + 1 + 7 + 1 + 6 + 1 + 1 + 7 + 1 + 6 + 1;
        let mut flex = w.saturating_sub(fixed);
        let waterfall = if self.glance.waterfall && flex >= 20 {
            (flex / 2).min(64)
        } else {
            0
        };
        flex -= waterfall;
        let tokens = if flex >= 50 && run.tokens().is_some() {
            TOKENS_W
        } else {
            0
        };
        flex -= tokens;
        Cols {
            num,
            name: (flex * 2 / 5).clamp(4, 24),
            tokens,
            waterfall: waterfall.saturating_sub(1) as u16,
            t0: run.started_at(),
            first: run.first_error().map(|f| f.step),
        }
    }

    fn header(&self, c: &Cols, axis: Option<&Waterfall>) -> Vec<Piece> {
        let mut p = vec![(
            Role::Header,
            format!(
                "  {} {} {} {} {} {} ",
                cell_right("#", c.num),
                cell_right("TIME", 7),
                cell("KIND", 6),
                cell("NAME", c.name),
                cell("STATUS", 7),
                cell_right("DUR", 6),
            ),
        )];
        if c.tokens > 0 {
            p.push((
                Role::Header,
                format!("{} ", cell_right("TOKENS", c.tokens - 1)),
            ));
        }
        if c.waterfall > 0 {
            p.push((
                Role::Header,
                format!("{} ", bars::axis(axis, c.waterfall as usize)),
            ));
        }
        p.push((Role::Header, "ERROR".to_string()));
        p
    }

    fn row(
        &self,
        s: &StepInfo,
        sel: bool,
        c: &Cols,
        w: usize,
        extra: (Option<Option<crate::model::Tokens>>, Option<Bar>),
    ) -> Vec<Piece> {
        let (t0, first) = (c.t0, c.first);
        let m = mark(s.step, first);
        let (mark_role, mark_glyph) = match m {
            Mark::FirstFailure => (Role::Error, "✗"),
            Mark::Cascade => (Role::Cascade, "┆"),
            Mark::Before => (Role::Dim, " "),
        };
        let rel = match (s.ts, t0) {
            (Some(t), Some(t0)) => format!("+{}", format_duration((t - t0) as f64)),
            _ => "-".into(),
        };
        let (status_role, status) = match s.status {
            Status::Ok => (Role::Ok, "✓ ok"),
            Status::Error => (Role::Error, "✗ error"),
            Status::Unset if s.kind == StepKind::Error => (Role::Error, "✗ error"),
            Status::Unset => (Role::Dim, ""),
        };
        let tag_role = match s.kind {
            StepKind::Effect => Role::Effect,
            StepKind::Decision => Role::Decision,
            StepKind::Error => Role::Error,
            _ => Role::Dim,
        };
        let name_role = if m == Mark::FirstFailure {
            Role::Error
        } else if s.kind == StepKind::Effect {
            Role::Effect
        } else {
            Role::Text
        };
        let mut p = vec![
            (Role::Accent, if sel { "›" } else { " " }.to_string()),
            (mark_role, mark_glyph.to_string()),
            (
                Role::Dim,
                format!("{} ", cell_right(&s.step.to_string(), c.num)),
            ),
            (Role::Dim, format!("{} ", cell_right(&rel, 7))),
            (tag_role, format!("{} ", cell(kind_tag(s.kind), 6))),
            (
                name_role,
                format!("{} ", cell(&sanitize::line(s.name.unwrap_or("")), c.name)),
            ),
            (status_role, format!("{} ", cell(status, 7))),
            (
                Role::Dim,
                format!(
                    "{} ",
                    cell_right(&s.duration_ms.map(format_duration).unwrap_or_default(), 6)
                ),
            ),
        ];
        let (tokens, bar) = extra;
        if c.tokens > 0 {
            let text = match tokens {
                Some(Some(t)) => glance::in_out(t),
                Some(None) => String::new(),
                None => "…".to_string(),
            };
            p.push((Role::Dim, format!("{} ", cell_right(&text, c.tokens - 1))));
        }
        if c.waterfall > 0 {
            p.extend(bars::cell(bar, c.waterfall as usize));
            p.push((Role::Dim, " ".to_string()));
        }
        if let Some(n) = self.notes {
            let g = note_glyphs(n, s.step);
            if !g.is_empty() {
                p.push((Role::Accent, format!("{g} ")));
            }
        }
        let used: usize = p.iter().map(|(_, s)| width(s)).sum();
        let rest = w.saturating_sub(used);
        let mut err = s
            .error
            .filter(|_| s.is_error())
            .map(|e| sanitize::line(e).into_owned())
            .unwrap_or_default();
        if m == Mark::FirstFailure {
            if !err.is_empty() {
                err.push(' ');
            }
            err.push_str("◀ first failure");
        }
        p.push((Role::Error, fit(&err, rest).into_owned()));
        p
    }
}

impl Widget for TimelineView<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let st = self.state;
        let mut title = vec![Span::styled("Timeline", self.theme.style(Role::Title))];
        if let Some(run) = &self.run {
            title.push(Span::styled(
                format!(
                    " {} · step #{} of {}",
                    sanitize::line(run.id()),
                    st.cursor.selected,
                    st.len
                ),
                self.theme.style(Role::Dim),
            ));
            if let Some(f) = run.first_error() {
                title.push(Span::styled(
                    format!(" · ✗ first failure #{} · ┆ cascade", f.step),
                    self.theme.style(Role::Error),
                ));
            }
        }
        frame(title, self.focused, self.mode, self.theme).render(area, buf);
        let body = inner(area, self.mode);
        if body.height == 0 || body.width == 0 {
            return;
        }
        let Some(run) = self.run else {
            draw_message(buf, body, "no run selected", self.theme);
            return;
        };
        let w = body.width as usize;
        let c = self.cols(w, st.len, &run);
        let axis = (c.waterfall > 0)
            .then(|| Waterfall::of_run(&run, c.waterfall))
            .flatten();
        let trigger = match self.trigger {
            Some(Some(t)) => vec![
                (Role::Dim, "  trigger ".to_string()),
                (
                    Role::Text,
                    fit(&sanitize::line(t), w.saturating_sub(10)).into_owned(),
                ),
            ],
            Some(None) => vec![(Role::Dim, "  trigger -".to_string())],
            None => vec![(Role::Dim, "  trigger …".to_string())],
        };
        draw_row(buf, body, body.y, &trigger, false, self.theme);
        if body.height > 1 {
            draw_row(
                buf,
                body,
                body.y + 1,
                &self.header(&c, axis.as_ref()),
                false,
                self.theme,
            );
        }
        let rows = (body.height as usize).saturating_sub(HEADER_ROWS);
        let len = st.len.min(run.step_count());
        let window = st.cursor.offset..(st.cursor.offset + rows).min(len);
        // Bars for the visible rows only.
        let bars = axis.map_or_else(Vec::new, |a| a.run_bars(&run, window.clone()));
        let run_index = run.index();
        for (i, pos) in window.enumerate() {
            let s = run.step(pos);
            let sel = pos == st.cursor.selected;
            let y = body.y + (HEADER_ROWS + i) as u16;
            let extra = (
                self.glance.step_tokens(run_index, pos),
                bars.get(i).copied().flatten(),
            );
            draw_row(
                buf,
                body,
                y,
                &self.row(&s, sel, &c, w, extra),
                sel,
                self.theme,
            );
        }
    }
}

/// Rows of steps for a pane of `area`.
pub fn body_rows(area: Rect, mode: Mode) -> usize {
    (inner(area, mode).height as usize).saturating_sub(HEADER_ROWS)
}
