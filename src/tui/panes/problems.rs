//! The `!` overlay: every problem met while loading and watching (bad lines, damaged or
//! unreadable files, skipped special files, watcher faults), one row each: where
//! (`file:line`, or the whole file) and why. Only the rows in view are drawn.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::Span;
use ratatui::widgets::Widget;

use super::{clear, draw_row, frame, ListCursor};
use crate::model::Problem;
use crate::sanitize;
use crate::tui::layout::{inner, Mode};
use crate::tui::text::{fit, width, Piece};
use crate::tui::theme::{Role, Theme};

/// The problems view's state: the selected row and the scroll.
#[derive(Debug, Clone, Default)]
pub struct ProblemsState {
    pub cursor: ListCursor,
}

/// The overlay's area on a screen of `size` (as the search's).
pub fn area(size: Rect) -> Rect {
    super::search::area(size)
}

/// Rows of problems on a screen of `size`.
pub fn list_rows(size: Rect) -> usize {
    inner(area(size), Mode::Wide).height as usize
}

/// Where a problem is: `file:line`, or `file (whole file)` for line 0; the OTLP
/// receiver's problems are at its URL (`http://…`), shown as it is.
pub fn location(p: &Problem) -> String {
    let file = sanitize::line(&p.file.display().to_string()).into_owned();
    match p.line {
        0 if file.starts_with("http://") => file,
        0 => format!("{file} (whole file)"),
        line => format!("{file}:{line}"),
    }
}

/// A problem as a row: `› file:line  reason`, the location cut first to leave the
/// reason room.
fn row_pieces(p: &Problem, selected: bool, w: usize) -> Vec<Piece> {
    let loc = location(p);
    let room = w.saturating_sub(3);
    let loc_room = room.saturating_sub(20).max(room / 2);
    let loc = fit(&loc, loc_room).into_owned();
    let reason_room = room.saturating_sub(width(&loc) + 2);
    vec![
        (Role::Accent, if selected { "› " } else { "  " }.to_string()),
        (Role::Text, loc),
        (Role::Text, "  ".to_string()),
        (
            Role::Warn,
            fit(&sanitize::line(&p.reason), reason_room).into_owned(),
        ),
    ]
}

pub struct ProblemsView<'a> {
    pub problems: &'a [Problem],
    pub state: &'a ProblemsState,
    pub theme: &'a Theme,
}

impl Widget for ProblemsView<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let t = self.theme;
        clear(buf, area);
        let title = vec![
            Span::styled("Problems", t.style(Role::Title)),
            Span::styled(
                format!(" · {} · j/k scroll · Esc closes", self.problems.len()),
                t.style(Role::Dim),
            ),
        ];
        frame(title, true, Mode::Wide, t).render(area, buf);
        let body = inner(area, Mode::Wide);
        if body.height == 0 || body.width == 0 {
            return;
        }
        let w = body.width as usize;
        if self.problems.is_empty() {
            draw_row(
                buf,
                body,
                body.y,
                &[(Role::Dim, "no problems: every line loaded".to_string())],
                false,
                t,
            );
            return;
        }
        let c = &self.state.cursor;
        let rows = body.height as usize;
        for (i, pos) in (c.offset..self.problems.len()).take(rows).enumerate() {
            let selected = pos == c.selected;
            draw_row(
                buf,
                body,
                body.y + i as u16,
                &row_pieces(&self.problems[pos], selected, w),
                selected,
                t,
            );
        }
    }
}
