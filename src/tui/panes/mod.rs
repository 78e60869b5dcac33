//! The panes of the main screen. Each owns its state (selection, scroll, caches) and
//! draws itself as a widget from a borrowed view of the app; colours come from theme
//! roles, text is cut and wrapped by [`super::text`]. Panes never start work or touch
//! the terminal.

pub mod detail;
pub mod diff;
pub mod help;
pub mod library;
pub mod notes;
pub mod present;
pub mod problems;
pub mod run_list;
pub mod search;
pub mod similar;
pub mod status;
pub mod strip;
pub mod timeline;
pub mod tree;
pub mod waterfall;

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Borders, Widget};

use super::layout::Mode;
use super::text::Piece;
use super::theme::{Role, Theme};
use crate::model::StepKind;

/// A selection in a virtual list and its viewport: only `offset..offset + rows` rows
/// are ever drawn. `rows` is the pane's height as last laid out (the pane remembers it,
/// so moving by a page needs no layout).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ListCursor {
    pub selected: usize,
    pub offset: usize,
    pub rows: usize,
}

impl ListCursor {
    /// Back to the first row (a new list in the same viewport).
    pub fn home(&mut self) {
        *self = ListCursor {
            rows: self.rows,
            ..ListCursor::default()
        };
    }

    /// The rows one page moves by.
    pub fn page(&self) -> isize {
        (self.rows.max(1) as isize - 1).max(1)
    }

    /// Scrolls the selection into the viewport.
    pub fn keep_in_view(&mut self, len: usize) {
        self.scroll_into_view(self.rows.max(1), len);
    }

    /// Moves by `delta` rows within `len`; true when the selection changed.
    pub fn move_by(&mut self, delta: isize, len: usize) -> bool {
        if len == 0 {
            return false;
        }
        let target = (self.selected as isize + delta).clamp(0, len as isize - 1) as usize;
        self.set(target, len)
    }

    pub fn set(&mut self, index: usize, len: usize) -> bool {
        let index = index.min(len.saturating_sub(1));
        let changed = index != self.selected;
        self.selected = index;
        changed
    }

    /// Scrolls so that the selection is in view, keeping a little context around it.
    pub fn scroll_into_view(&mut self, height: usize, len: usize) {
        if height == 0 {
            self.offset = self.selected;
            return;
        }
        let margin = if height > 6 { 2 } else { 0 };
        if self.selected < self.offset + margin {
            self.offset = self.selected.saturating_sub(margin);
        } else if self.selected + margin >= self.offset + height {
            self.offset = (self.selected + margin + 1).saturating_sub(height);
        }
        let max_offset = len.saturating_sub(height);
        self.offset = self.offset.min(max_offset);
    }
}

/// The frame of a pane: boxed in the wide layout, a title line in the compact one; the
/// focused pane has a heavy border and a `▶` before its title (not colour alone).
pub fn frame<'a>(title: Vec<Span<'a>>, focused: bool, mode: Mode, theme: &Theme) -> Block<'a> {
    let mut spans = vec![Span::styled(
        if focused { "▶ " } else { "  " },
        theme.style(Role::BorderFocus),
    )];
    spans.extend(title);
    spans.push(Span::raw(" "));
    let border = if focused {
        theme.style(Role::BorderFocus)
    } else {
        theme.style(Role::Border)
    };
    let borders = match mode {
        Mode::Wide => Borders::ALL,
        Mode::Compact => Borders::TOP,
    };
    Block::default()
        .borders(borders)
        .border_type(if focused {
            BorderType::Thick
        } else {
            BorderType::Plain
        })
        .border_style(border)
        .title(Line::from(spans))
}

/// Draws a row of pieces at `(area.x, y)`, `selected` rows highlighted across the width.
pub fn draw_row(
    buf: &mut Buffer,
    area: Rect,
    y: u16,
    pieces: &[Piece],
    selected: bool,
    theme: &Theme,
) {
    let row = Rect::new(area.x, y, area.width, 1);
    if selected {
        buf.set_style(row, theme.style(Role::Selection));
    }
    let spans: Vec<Span> = pieces
        .iter()
        .map(|(role, s)| Span::styled(s.as_str(), theme.style(*role)))
        .collect();
    buf.set_line(area.x, y, &Line::from(spans), area.width);
}

/// A centred message in an otherwise empty pane.
pub fn draw_message(buf: &mut Buffer, area: Rect, text: &str, theme: &Theme) {
    if area.height == 0 {
        return;
    }
    let y = area.y + area.height / 2;
    let w = super::text::width(text).min(area.width as usize) as u16;
    let x = area.x + (area.width - w) / 2;
    buf.set_stringn(x, y, text, area.width as usize, theme.style(Role::Dim));
}

/// Clears a pane's area (an overlay or a shrunk pane must not show what was under it).
pub fn clear(buf: &mut Buffer, area: Rect) {
    ratatui::widgets::Clear.render(area, buf);
    buf.set_style(area, Style::default());
}

/// A one-column glyph for each kind (the tree), beside the word the timeline uses.
pub fn kind_glyph(kind: StepKind) -> &'static str {
    kind.glyph()
}

/// A short word for each kind; effects are shouted, since they changed the world.
pub fn kind_tag(kind: StepKind) -> &'static str {
    match kind {
        StepKind::RunStart => "start",
        StepKind::LlmCall => "llm",
        StepKind::ToolCall => "call",
        StepKind::ToolResult => "result",
        StepKind::Decision => "decide",
        StepKind::Message => "msg",
        StepKind::Effect => "EFFECT",
        StepKind::Error => "error",
        StepKind::RunEnd => "end",
        StepKind::Other => "other",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cursor_stays_in_range_and_in_view() {
        let mut c = ListCursor::default();
        assert!(!c.move_by(-1, 10));
        assert!(c.move_by(25, 10));
        assert_eq!(c.selected, 9);
        c.scroll_into_view(4, 10);
        assert_eq!(c.offset, 6);
        c.move_by(-9, 10);
        c.scroll_into_view(4, 10);
        assert_eq!(c.offset, 0);
        // A huge list: scrolling only moves the window.
        let mut c = ListCursor::default();
        c.set(999_999, 1_000_000);
        c.scroll_into_view(20, 1_000_000);
        assert_eq!(c.offset, 1_000_000 - 20);
    }
}
