//! The step detail pane: the document a worker built for the selected step, wrapped to
//! the pane's width (once per document and width, not per frame) and scrolled. Until the
//! document arrives it shows what the index knows of the step.

use std::sync::Arc;

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::Span;
use ratatui::widgets::Widget;

use super::{draw_row, frame};
use crate::index::StepInfo;
use crate::sanitize;
use crate::tui::document::DetailDoc;
use crate::tui::layout::{inner, Mode};
use crate::tui::text::{bytes, wrap, Piece};
use crate::tui::theme::{Role, Theme};

/// The detail pane's state.
#[derive(Debug, Clone, Default)]
pub struct DetailState {
    /// The step shown: (run, step).
    pub target: Option<(usize, u32)>,
    pub doc: Option<Arc<DetailDoc>>,
    /// Why the document could not be built.
    pub error: Option<String>,
    /// A request for more of the document is on its way.
    pub loading_more: bool,
    rows: Vec<Vec<Piece>>,
    width: usize,
    pub scroll: usize,
    /// The body's height as last laid out.
    pub view_rows: usize,
}

impl DetailState {
    /// Shows another step: the old document goes, the scroll returns to the top.
    pub fn show(&mut self, run: usize, step: u32) {
        if self.target == Some((run, step)) {
            return;
        }
        self.target = Some((run, step));
        self.doc = None;
        self.error = None;
        self.loading_more = false;
        self.rows.clear();
        self.scroll = 0;
    }

    pub fn clear(&mut self) {
        *self = DetailState {
            width: self.width,
            ..DetailState::default()
        };
    }

    /// Takes a built document if it is for the step shown; the scroll position stays
    /// when it is more of the same document.
    pub fn set_doc(&mut self, doc: Arc<DetailDoc>) -> bool {
        if self.target != Some((doc.run, doc.step)) {
            return false;
        }
        self.doc = Some(doc);
        self.error = None;
        self.loading_more = false;
        self.rewrap(self.width, true);
        true
    }

    /// Wraps the document to `width` columns (when it changed).
    pub fn rewrap(&mut self, width: usize, force: bool) {
        if width == self.width && !force {
            return;
        }
        self.width = width;
        self.rows.clear();
        if let Some(doc) = &self.doc {
            for line in &doc.lines {
                self.rows.extend(wrap(line, width.max(1)));
            }
        }
    }

    pub fn rows(&self) -> usize {
        self.rows.len()
    }

    /// Scrolls by `delta` rows within a view of `height`; true on change.
    pub fn scroll_by(&mut self, delta: isize, height: usize) -> bool {
        let max = self.rows.len().saturating_sub(height.max(1));
        let next = (self.scroll as isize + delta).clamp(0, max as isize) as usize;
        let changed = next != self.scroll;
        self.scroll = next;
        changed
    }

    pub fn scroll_to(&mut self, top: bool, height: usize) -> bool {
        let before = self.scroll;
        self.scroll = if top {
            0
        } else {
            self.rows.len().saturating_sub(height.max(1))
        };
        before != self.scroll
    }

    /// True when the view is at the end of a document that was cut.
    pub fn wants_more(&self, height: usize) -> bool {
        self.doc
            .as_ref()
            .is_some_and(|d| d.cut > 0 && d.limit < crate::tui::document::MAX_LIMIT)
            && !self.loading_more
            && self.scroll + height.max(1) >= self.rows.len()
    }
}

/// Draws the detail.
pub struct DetailView<'a> {
    pub state: &'a DetailState,
    /// What the index knows of the step, shown until the document arrives.
    pub summary: Option<StepInfo<'a>>,
    pub theme: &'a Theme,
    pub focused: bool,
    pub mode: Mode,
}

impl Widget for DetailView<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let st = self.state;
        let mut title = vec![Span::styled("Detail", self.theme.style(Role::Title))];
        if let Some(s) = &self.summary {
            title.push(Span::styled(
                format!(
                    " #{} {} {}",
                    s.step,
                    s.kind,
                    sanitize::line(s.name.unwrap_or(""))
                ),
                self.theme.style(Role::Dim),
            ));
        }
        if !st.rows.is_empty() {
            title.push(Span::styled(
                format!(" · line {}/{}", st.scroll + 1, st.rows.len()),
                self.theme.style(Role::Dim),
            ));
        }
        if let Some(doc) = &st.doc {
            if doc.cut > 0 {
                title.push(Span::styled(
                    format!(" · {} more", bytes(doc.cut)),
                    self.theme.style(Role::Warn),
                ));
            }
        }
        frame(title, self.focused, self.mode, self.theme).render(area, buf);
        let body = inner(area, self.mode);
        if body.height == 0 || body.width == 0 {
            return;
        }
        if st.doc.is_none() {
            let mut lines: Vec<Vec<Piece>> = Vec::new();
            if let Some(s) = &self.summary {
                lines.push(vec![
                    (Role::Title, format!("#{} {}", s.step, s.kind)),
                    (
                        Role::Text,
                        format!(" {}", sanitize::line(s.name.unwrap_or(""))),
                    ),
                ]);
                if let Some(e) = s.error {
                    lines.push(vec![(Role::Error, format!("✗ {}", sanitize::line(e)))]);
                }
            }
            lines.push(match &st.error {
                Some(e) => vec![(
                    Role::Error,
                    format!("cannot show this step: {}", sanitize::line(e)),
                )],
                None if st.target.is_some() => vec![(Role::Dim, "loading…".to_string())],
                None => vec![(Role::Dim, "no step selected".to_string())],
            });
            let rows = lines.iter().flat_map(|l| wrap(l, body.width as usize));
            for (i, row) in rows.take(body.height as usize).enumerate() {
                draw_row(buf, body, body.y + i as u16, &row, false, self.theme);
            }
            return;
        }
        for (i, row) in st
            .rows
            .iter()
            .skip(st.scroll)
            .take(body.height as usize)
            .enumerate()
        {
            draw_row(buf, body, body.y + i as u16, row, false, self.theme);
        }
    }
}

/// Rows of text for a pane of `area`, and their width.
pub fn body_size(area: Rect, mode: Mode) -> (usize, usize) {
    let b = inner(area, mode);
    (b.height as usize, b.width as usize)
}
