//! The selected run's timeline: the trigger on top, then one row per step (time since the
//! start, kind, name, status, duration, error code). The first failure is marked `✗` and
//! every step after it `┆` (the cascade); effects are tagged `EFFECT`. Rows come from the
//! index one by one (`RunRef::step`), so only the visible rows cost anything: a run of a
//! million steps draws like a run of ten.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::Span;
use ratatui::widgets::Widget;

use super::{draw_message, draw_row, frame, kind_tag, ListCursor};
use crate::index::{RunRef, StepInfo};
use crate::model::{Status, StepKind};
use crate::sanitize;
use crate::time::format_duration;
use crate::tui::layout::{inner, Mode};
use crate::tui::text::{cell, cell_right, fit, width, Piece};
use crate::tui::theme::{Role, Theme};

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
}

struct Cols {
    num: usize,
    name: usize,
}

impl TimelineView<'_> {
    fn cols(&self, w: usize, len: usize) -> Cols {
        let num = len.saturating_sub(1).to_string().len().max(2);
        // cursor, mark, spaces, time, tag, status, duration: the rest is name + error.
        let fixed = 2 + num + 1 + 7 + 1 + 6 + 1 + 1 + 7 + 1 + 6 + 1;
        let flex = w.saturating_sub(fixed);
        Cols {
            num,
            name: (flex * 2 / 5).clamp(4, 24),
        }
    }

    fn header(&self, c: &Cols) -> Vec<Piece> {
        vec![(
            Role::Header,
            format!(
                "  {} {} {} {} {} {} ERROR",
                cell_right("#", c.num),
                cell_right("TIME", 7),
                cell("KIND", 6),
                cell("NAME", c.name),
                cell("STATUS", 7),
                cell_right("DUR", 6),
            ),
        )]
    }

    fn row(
        &self,
        s: &StepInfo,
        t0: Option<i64>,
        first: Option<u32>,
        sel: bool,
        c: &Cols,
        w: usize,
    ) -> Vec<Piece> {
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
        let c = self.cols(w, st.len);
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
            draw_row(buf, body, body.y + 1, &self.header(&c), false, self.theme);
        }
        let rows = (body.height as usize).saturating_sub(HEADER_ROWS);
        let t0 = run.started_at();
        let first = run.first_error().map(|f| f.step);
        let len = st.len.min(run.step_count());
        for (i, pos) in (st.cursor.offset..len).take(rows).enumerate() {
            let s = run.step(pos);
            let sel = pos == st.cursor.selected;
            let y = body.y + (HEADER_ROWS + i) as u16;
            draw_row(
                buf,
                body,
                y,
                &self.row(&s, t0, first, sel, &c, w),
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
