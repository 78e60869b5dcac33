//! The decision tree pane: the run's parent links as a collapsible tree, each decision
//! with the option chosen and the reason. A step that is its parent's only child stays
//! at its parent's depth (a chain reads as a list); branches indent with `├─`/`└─`.
//! Unknown parents and broken cycles are marked. Owns the fold state and the flattened
//! visible rows (rebuilt on fold, never per frame); the selection follows the timeline's.

use std::sync::Arc;

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::Span;
use ratatui::widgets::Widget;
use rustc_hash::FxHashSet;

use super::{draw_message, draw_row, frame, kind_glyph, ListCursor};
use crate::index::RunRef;
use crate::model::StepKind;
use crate::sanitize;
use crate::tree::{flatten, prefix, Row, RunStructure, NONE};
use crate::tui::layout::{inner, Mode};
use crate::tui::text::{fit, width, Piece};
use crate::tui::theme::{Role, Theme};

/// Indentation levels drawn; deeper rows show their depth instead.
const MAX_LEVELS: u16 = 24;

/// The tree's state.
#[derive(Debug, Clone, Default)]
pub struct TreeState {
    pub structure: Option<Arc<RunStructure>>,
    pub collapsed: FxHashSet<u32>,
    rows: Vec<Row>,
    /// Row of each step, or `NONE` while hidden.
    row_of: Vec<u32>,
    pub cursor: ListCursor,
    /// A message instead of the tree (loading, or why it failed).
    pub note: Option<String>,
}

impl TreeState {
    /// Forgets the tree (another run was selected).
    pub fn reset(&mut self, note: &str) {
        let rows = self.cursor.rows;
        *self = TreeState {
            note: Some(note.to_string()),
            ..TreeState::default()
        };
        self.cursor.rows = rows;
    }

    /// Shows a (new or more complete) tree, keeping folds of the same run.
    pub fn set_structure(&mut self, s: Arc<RunStructure>, select: u32) {
        if self.structure.as_ref().map_or(true, |old| old.run != s.run) {
            self.collapsed.clear();
        }
        self.note = if s.complete {
            None
        } else {
            Some(format!("reading… {} steps so far", s.len()))
        };
        self.structure = Some(s);
        self.flatten();
        self.select_step(select);
    }

    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    pub fn selected_step(&self) -> Option<u32> {
        self.rows.get(self.cursor.selected).map(|r| r.step)
    }

    /// Selects `step`, unfolding its ancestors when it is hidden.
    pub fn select_step(&mut self, step: u32) {
        let Some(s) = self.structure.clone() else {
            return;
        };
        if step as usize >= s.len() {
            return;
        }
        if self.row_of[step as usize] == NONE {
            let mut at = s.parent(step);
            while let Some(p) = at {
                self.collapsed.remove(&p);
                at = s.parent(p);
            }
            self.flatten();
        }
        let row = self.row_of[step as usize];
        if row != NONE {
            self.cursor.set(row as usize, self.rows.len());
        }
    }

    /// Folds the selected step's subtree, or else selects its parent; true on change.
    pub fn collapse(&mut self) -> bool {
        let Some(row) = self.rows.get(self.cursor.selected).copied() else {
            return false;
        };
        if row.children > 0 && self.collapsed.insert(row.step) {
            self.flatten();
            self.select_step(row.step);
            return true;
        }
        let parent = self.structure.as_ref().and_then(|s| s.parent(row.step));
        match parent {
            Some(p) => {
                self.select_step(p);
                true
            }
            None => false,
        }
    }

    pub fn expand(&mut self) -> bool {
        let Some(row) = self.rows.get(self.cursor.selected).copied() else {
            return false;
        };
        if self.collapsed.remove(&row.step) {
            self.flatten();
            self.select_step(row.step);
            return true;
        }
        false
    }

    pub fn toggle(&mut self) -> bool {
        let Some(row) = self.rows.get(self.cursor.selected).copied() else {
            return false;
        };
        if self.collapsed.contains(&row.step) {
            self.expand()
        } else {
            row.children > 0 && self.collapse()
        }
    }

    /// Rebuilds the visible rows.
    fn flatten(&mut self) {
        let Some(s) = self.structure.clone() else {
            self.rows.clear();
            self.row_of.clear();
            return;
        };
        (self.rows, self.row_of) = flatten(&s, |step| self.collapsed.contains(&step));
    }
}

/// Draws the tree.
pub struct TreeView<'a> {
    pub state: &'a TreeState,
    pub run: Option<RunRef<'a>>,
    pub theme: &'a Theme,
    pub focused: bool,
    pub mode: Mode,
}

impl TreeView<'_> {
    fn row(&self, run: &RunRef, s: &RunStructure, row: &Row, sel: bool, w: usize) -> Vec<Piece> {
        let info = run.step(row.step as usize);
        let folded = self.state.collapsed.contains(&row.step);
        let fold = if folded {
            "▸"
        } else if row.children > 1 {
            "▾"
        } else {
            " "
        };
        let failed = info.is_error();
        let kind_role = match info.kind {
            StepKind::Effect => Role::Effect,
            StepKind::Decision => Role::Decision,
            StepKind::Error => Role::Error,
            _ => Role::Accent,
        };
        let mut p = vec![
            (Role::Accent, if sel { "›" } else { " " }.to_string()),
            (
                Role::Border,
                prefix(row, (w / 6).clamp(2, MAX_LEVELS as usize) as u16),
            ),
            (Role::Accent, format!("{fold} ")),
            (kind_role, format!("{} ", kind_glyph(info.kind))),
            (Role::Dim, format!("#{} ", row.step)),
            (
                if failed { Role::Error } else { Role::Text },
                sanitize::line(info.name.unwrap_or(info.kind.as_str())).into_owned(),
            ),
        ];
        if failed {
            let code = info.error.map(|e| sanitize::line(e).into_owned());
            p.push((Role::Error, format!(" ✗ {}", code.unwrap_or_default())));
        }
        if let Some(d) = s.decision(row.step) {
            p.push((Role::Decision, format!(" {}", sanitize::line(d))));
        }
        if let Some(note) = s.link_note(row.step) {
            p.push((Role::Warn, format!(" {note}")));
        }
        if folded {
            p.push((Role::Dim, " …".into()));
        }
        // Cut the row to the width, keeping pieces whole where they fit.
        let mut used = 0;
        let mut out = Vec::with_capacity(p.len());
        for (role, text) in p {
            let room = w.saturating_sub(used);
            if room == 0 {
                break;
            }
            let t = fit(&text, room).into_owned();
            used += width(&t);
            out.push((role, t));
        }
        out
    }
}

impl Widget for TreeView<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let st = self.state;
        let mut title = vec![Span::styled("Decision tree", self.theme.style(Role::Title))];
        if let Some(s) = &st.structure {
            let extra = s.roots().len().saturating_sub(1);
            if extra > 0 {
                title.push(Span::styled(
                    format!(" · {} roots", extra + 1),
                    self.theme.style(Role::Dim),
                ));
            }
        }
        frame(title, self.focused, self.mode, self.theme).render(area, buf);
        let body = inner(area, self.mode);
        if body.height == 0 || body.width == 0 {
            return;
        }
        let (Some(run), Some(s)) = (self.run, &st.structure) else {
            let msg = st.note.as_deref().unwrap_or("no run selected");
            draw_message(buf, body, &sanitize::line(msg), self.theme);
            return;
        };
        let mut top = body.y;
        if let Some(note) = &st.note {
            draw_row(
                buf,
                body,
                top,
                &[(Role::Warn, sanitize::line(note).into_owned())],
                false,
                self.theme,
            );
            top += 1;
        }
        let rows = (body.bottom() - top) as usize;
        let w = body.width as usize;
        for (i, r) in st.rows.iter().skip(st.cursor.offset).take(rows).enumerate() {
            if r.step as usize >= run.step_count() {
                break;
            }
            let sel = st.cursor.offset + i == st.cursor.selected;
            let y = top + i as u16;
            draw_row(buf, body, y, &self.row(&run, s, r, sel, w), sel, self.theme);
        }
    }
}

/// Rows of the tree for a pane of `area`.
pub fn body_rows(area: Rect, mode: Mode) -> usize {
    (inner(area, mode).height as usize).saturating_sub(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tree::{Id, StepLink};

    fn tree(parents: &[Option<u32>]) -> TreeState {
        let links: Vec<StepLink> = parents
            .iter()
            .enumerate()
            .map(|(i, p)| StepLink {
                id: Id::Num(i as u32),
                parent: p.map(Id::Num),
                decision: None,
            })
            .collect();
        let mut t = TreeState::default();
        t.set_structure(Arc::new(RunStructure::build(0, &links, None)), 0);
        t
    }

    fn prefixes(t: &TreeState) -> Vec<String> {
        t.rows
            .iter()
            .map(|r| format!("{}{}", prefix(r, MAX_LEVELS), r.step))
            .collect()
    }

    #[test]
    fn folding_hides_the_subtree_and_selecting_a_hidden_step_unfolds() {
        let mut t = tree(&[None, Some(0), Some(1), Some(2), Some(1)]);
        t.select_step(1);
        assert!(t.collapse());
        assert_eq!(prefixes(&t), ["0", "1"]);
        t.select_step(3);
        assert_eq!(t.selected_step(), Some(3));
        assert_eq!(t.len(), 5);
        // Collapsing a leaf selects its parent.
        assert!(t.collapse());
        assert_eq!(t.selected_step(), Some(2));
        assert!(t.toggle());
        assert_eq!(prefixes(&t), ["0", "1", "├─2", "└─4"]);
    }

    #[test]
    fn deep_rows_show_their_depth_and_the_innermost_levels() {
        // Every other step branches off: the tree is 50 levels deep.
        let parents: Vec<Option<u32>> = (0..101u32)
            .map(|i| match i {
                0 => None,
                i if i % 2 == 0 => Some(i - 2),
                i => Some(i - 1),
            })
            .collect();
        let t = tree(&parents);
        let deepest = t.rows.iter().max_by_key(|r| r.depth).unwrap();
        assert_eq!(deepest.depth, 50);
        let p = prefix(deepest, 4);
        assert!(p.starts_with("50⋯"), "{p}");
        assert_eq!(crate::tui::text::width(&p), 3 + 8);
    }

    #[test]
    fn a_million_step_chain_flattens() {
        let parents: Vec<Option<u32>> = (0..1_000_000u32).map(|i| i.checked_sub(1)).collect();
        let mut t = tree(&parents);
        assert_eq!(t.len(), 1_000_000);
        t.select_step(999_999);
        assert_eq!(t.cursor.selected, 999_999);
    }
}
