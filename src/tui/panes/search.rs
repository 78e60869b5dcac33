//! The `/` search overlay: the query being typed, then the results, best first, each
//! with its run, step and field and a snippet whose matched characters are highlighted
//! (bold and coloured). Results follow every keystroke.

use std::sync::Arc;

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::Span;
use ratatui::widgets::Widget;

use super::{clear, draw_row, frame, ListCursor};
use crate::sanitize;
use crate::tui::layout::{inner, Mode};
use crate::tui::search::{HitRow, SearchDoc};
use crate::tui::text::{fit, width, Piece};
use crate::tui::theme::{Role, Theme};

/// The search prompt's state.
#[derive(Debug, Clone, Default)]
pub struct SearchState {
    pub query: String,
    /// The results of the latest query answered (it may lag the typed one).
    pub doc: Option<Arc<SearchDoc>>,
    /// Why the typed query cannot run (a parse error).
    pub error: Option<String>,
    pub cursor: ListCursor,
    /// The results came while the history was still loading: they cover part of it.
    pub partial: bool,
}

impl SearchState {
    pub fn len(&self) -> usize {
        self.doc.as_ref().map_or(0, |d| d.hits.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn selected(&self) -> Option<&HitRow> {
        self.doc.as_ref()?.hits.get(self.cursor.selected)
    }
}

/// Lines above the results: the prompt and a note.
const HEAD: u16 = 2;

/// The overlay's area on a screen of `size`.
pub fn area(size: Rect) -> Rect {
    let w = size.width.saturating_sub(4).max(size.width.min(20));
    let h = size.height.saturating_sub(4).max(size.height.min(6));
    Rect::new(
        size.x + (size.width - w) / 2,
        size.y + (size.height - h) / 2,
        w,
        h,
    )
}

/// Rows of results on a screen of `size`.
pub fn list_rows(size: Rect) -> usize {
    inner(area(size), Mode::Wide).height.saturating_sub(HEAD) as usize
}

/// A hit as a row: `run #step field  snippet`, the matched characters highlighted.
fn hit_pieces(hit: &HitRow, selected: bool, w: usize) -> Vec<Piece> {
    let mut p: Vec<Piece> = vec![
        (Role::Accent, if selected { "›" } else { " " }.to_string()),
        (Role::Text, format!("{} ", fit(&hit.run_id, 24))),
        (
            Role::Dim,
            format!(
                "{} {} ",
                hit.step.map_or("run".to_string(), |s| format!("#{s}")),
                hit.field
            ),
        ),
    ];
    let used: usize = p.iter().map(|(_, s)| width(s)).sum();
    let room = w.saturating_sub(used);
    let snippet = fit(&hit.snippet, room);
    let mut run = String::new();
    let mut hl = false;
    for (i, c) in snippet.chars().enumerate() {
        let on = hit.positions.binary_search(&i).is_ok();
        if on != hl && !run.is_empty() {
            p.push((
                if hl { Role::Key } else { Role::Text },
                std::mem::take(&mut run),
            ));
        }
        hl = on;
        run.push(c);
    }
    if !run.is_empty() {
        p.push((if hl { Role::Key } else { Role::Text }, run));
    }
    p
}

pub struct SearchView<'a> {
    pub state: &'a SearchState,
    pub theme: &'a Theme,
}

impl Widget for SearchView<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let s = self.state;
        let t = self.theme;
        clear(buf, area);
        let mut title = vec![Span::styled("Search", t.style(Role::Title))];
        if let Some(doc) = &s.doc {
            title.push(Span::styled(
                match s.partial {
                    true => format!(" · {} hits so far (loading)", doc.hits.len()),
                    false => format!(" · {} hits", doc.hits.len()),
                },
                t.style(Role::Dim),
            ));
        }
        frame(title, true, Mode::Wide, t).render(area, buf);
        let body = inner(area, Mode::Wide);
        if body.height == 0 || body.width == 0 {
            return;
        }
        let w = body.width as usize;
        let prompt = vec![
            (Role::Key, "/ ".to_string()),
            (Role::Text, sanitize::line(&s.query).into_owned()),
            (Role::Accent, "▏".to_string()),
        ];
        draw_row(buf, body, body.y, &prompt, false, t);
        let note: Piece = match (&s.error, &s.doc) {
            (Some(e), _) => (Role::Error, format!("✗ {}", sanitize::line(e))),
            (None, Some(d)) if d.query != s.query => (Role::Dim, "searching…".into()),
            (None, Some(d)) if d.hits.is_empty() => (Role::Dim, "no matches".into()),
            (None, None) if !s.query.is_empty() => (Role::Dim, "searching…".into()),
            _ => (
                Role::Dim,
                "words (fuzzy), \"phrases\", filters: outcome:failure status:error tool: agent: error: since:2h · ↑↓ Enter Esc".into(),
            ),
        };
        if body.height > 1 {
            draw_row(
                buf,
                body,
                body.y + 1,
                &[(note.0, fit(&note.1, w).into_owned())],
                false,
                t,
            );
        }
        let Some(doc) = &s.doc else { return };
        let rows = body.height.saturating_sub(HEAD) as usize;
        for (i, pos) in (s.cursor.offset..doc.hits.len()).take(rows).enumerate() {
            let selected = pos == s.cursor.selected;
            let y = body.y + HEAD + i as u16;
            draw_row(
                buf,
                body,
                y,
                &hit_pieces(&doc.hits[pos], selected, w),
                selected,
                t,
            );
        }
    }
}
