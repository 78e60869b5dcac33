//! The `?` overlay: every binding of the keymap, by group, generated from
//! [`DEFAULT_KEYMAP`](crate::tui::keymap::DEFAULT_KEYMAP) (so it cannot go stale), then
//! what the marks and glyphs mean. Scrolls when the terminal is short.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::Span;
use ratatui::widgets::Widget;

use super::{clear, draw_row, frame, kind_glyph, kind_tag};
use crate::model::StepKind;
use crate::tui::keymap::{display_key, Binding, Context, Group};
use crate::tui::layout::{inner, Mode};
use crate::tui::text::{cell, Piece};
use crate::tui::theme::{Role, Theme};

/// The overlay's lines.
pub fn lines(keymap: &[Binding]) -> Vec<Vec<Piece>> {
    let mut out: Vec<Vec<Piece>> = Vec::new();
    for group in Group::ALL {
        let rows: Vec<&Binding> = keymap.iter().filter(|b| b.group == group).collect();
        if rows.is_empty() {
            continue;
        }
        if !out.is_empty() {
            out.push(Vec::new());
        }
        out.push(vec![(Role::Title, group.title().to_string())]);
        for b in rows {
            let keys: Vec<String> = b.keys.iter().map(|k| display_key(k)).collect();
            let mut line = vec![
                (Role::Key, format!("  {} ", cell(&keys.join(" "), 22))),
                (Role::Text, b.description.to_string()),
            ];
            if b.context != Context::Global {
                line.push((Role::Dim, format!(" ({})", b.context.label())));
            }
            out.push(line);
        }
    }
    out.push(Vec::new());
    out.push(vec![(Role::Title, "Mouse".to_string())]);
    out.push(vec![(
        Role::Text,
        "  wheel scrolls the pane under it, a click selects; never required".to_string(),
    )]);
    out.push(Vec::new());
    out.push(vec![(Role::Title, "Marks".to_string())]);
    out.push(vec![
        (Role::Error, "  ✗ ".to_string()),
        (Role::Text, "failing run, first failing step   ".to_string()),
        (Role::Cascade, "┆ ".to_string()),
        (Role::Text, "after the first failure (cascade)".to_string()),
    ]);
    out.push(vec![
        (Role::Effect, "  EFFECT ⇄ ".to_string()),
        (Role::Text, "a change to an outside system   ".to_string()),
        (Role::Accent, "› ".to_string()),
        (Role::Text, "selected row".to_string()),
    ]);
    for kinds in StepKind::ALL.chunks(5) {
        let mut line = vec![(Role::Text, "  ".to_string())];
        line.extend(kinds.iter().flat_map(|&k| {
            [
                (Role::Accent, format!("{} ", kind_glyph(k))),
                (Role::Text, format!("{:<8}", kind_tag(k))),
            ]
        }));
        out.push(line);
    }
    out.push(vec![(
        Role::Text,
        "  Tree: ▾ open branch  ▸ folded  ? unknown parent  ↻ cycle cut".to_string(),
    )]);
    out.push(vec![(
        Role::Text,
        "  Diff: ▶ divergence  ≠ differs  ┏┃ parallel group, matched by what the steps are"
            .to_string(),
    )]);
    out
}

/// Draws the overlay over whatever is below.
pub struct HelpView<'a> {
    pub lines: &'a [Vec<Piece>],
    pub scroll: usize,
    pub theme: &'a Theme,
}

/// The overlay's box inside the screen.
pub fn area(screen: Rect, lines: usize) -> Rect {
    let w = screen.width.min(84);
    let h = screen.height.min(lines as u16 + 2);
    Rect::new(
        screen.x + (screen.width - w) / 2,
        screen.y + (screen.height - h) / 2,
        w,
        h,
    )
}

impl Widget for HelpView<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        clear(buf, area);
        let rows = inner(area, Mode::Wide).height as usize;
        let more = self.lines.len() > rows;
        let mut title = vec![Span::styled("Keys", self.theme.style(Role::Title))];
        title.push(Span::styled(
            if more {
                " · j/k scroll · Esc or ? closes"
            } else {
                " · Esc or ? closes"
            },
            self.theme.style(Role::Dim),
        ));
        frame(title, true, Mode::Wide, self.theme).render(area, buf);
        let body = inner(area, Mode::Wide);
        for (i, line) in self.lines.iter().skip(self.scroll).take(rows).enumerate() {
            draw_row(buf, body, body.y + i as u16, line, false, self.theme);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tui::keymap::DEFAULT_KEYMAP;

    #[test]
    fn every_binding_is_listed() {
        let text: Vec<String> = lines(DEFAULT_KEYMAP)
            .iter()
            .map(|l| l.iter().map(|(_, s)| s.as_str()).collect())
            .collect();
        for b in DEFAULT_KEYMAP {
            assert!(
                text.iter().any(|l| l.contains(b.description)
                    && b.keys.iter().all(|k| l.contains(&display_key(k)))),
                "{:?} missing",
                b.action
            );
        }
    }
}
