//! The bars around the panes: the tab bar of the compact layout, the status line (files,
//! position, counts, loading progress, messages) and the key hints generated from the
//! keymap. They draw what they are given; composing it is the renderer's job.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::widgets::Widget;

use super::draw_row;
use crate::tui::keymap::display_key;
use crate::tui::layout::Pane;
use crate::tui::text::{fit, width, Piece};
use crate::tui::theme::{Role, Theme};

/// `1 Runs │ 2 Timeline │ 3 Tree │ 4 Detail`, the shown pane marked.
pub struct TabBar<'a> {
    pub focus: Pane,
    pub theme: &'a Theme,
}

impl Widget for TabBar<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let mut pieces: Vec<Piece> = Vec::new();
        for (i, pane) in Pane::ALL.iter().enumerate() {
            if i > 0 {
                pieces.push((Role::Border, "│".to_string()));
            }
            let on = *pane == self.focus;
            pieces.push((
                if on { Role::TabActive } else { Role::Dim },
                format!(
                    "{}{} {}{}",
                    if on { "[" } else { " " },
                    i + 1,
                    pane.title(),
                    if on { "]" } else { " " }
                ),
            ));
        }
        draw_row(buf, area, area.y, &pieces, false, self.theme);
    }
}

/// One line: `left` from the left edge, `right` against the right edge (cut first).
pub struct StatusLine<'a> {
    /// The role of the whole line (the status line stands out, the hints do not).
    pub base: Role,
    pub left: Vec<Piece>,
    pub right: Vec<Piece>,
    pub theme: &'a Theme,
}

impl Widget for StatusLine<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        if area.height == 0 {
            return;
        }
        buf.set_style(area, self.theme.style(self.base));
        let w = area.width as usize;
        let right_w: usize = self.right.iter().map(|(_, s)| width(s)).sum();
        let left_room = w.saturating_sub(right_w + 1);
        let mut left = Vec::new();
        let mut used = 0;
        for (role, s) in self.left {
            let t = fit(&s, left_room.saturating_sub(used)).into_owned();
            used += width(&t);
            left.push((role, t));
        }
        draw_row(buf, area, area.y, &left, false, self.theme);
        if right_w < w {
            let x = area.x + (w - right_w) as u16;
            let r = Rect::new(x, area.y, right_w as u16, 1);
            draw_row(buf, r, area.y, &self.right, false, self.theme);
        }
    }
}

/// The hints line: `key label` pairs, as many as fit.
pub fn hint_pieces(hints: &[(String, &str)], cols: usize) -> Vec<Piece> {
    let mut out = Vec::new();
    let mut used = 0;
    for (key, label) in hints {
        let k = display_key(key);
        let w = width(&k) + 1 + width(label) + 2;
        if used + w > cols {
            break;
        }
        out.push((Role::Key, k));
        out.push((Role::Dim, format!(" {label}  ")));
        used += w;
    }
    out
}
