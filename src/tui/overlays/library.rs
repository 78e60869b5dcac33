//! The incident library searched with the search language: a query line (typed as it
//! is searched; empty lists every incident) over the matching incidents, best first.

use std::sync::Arc;

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use super::{move_list, Effect};
use crate::tui::action::Action;
use crate::tui::incidents::LibraryDoc;
use crate::tui::panes::ListCursor;

#[derive(Debug, Clone, Default)]
pub struct Library {
    pub query: String,
    /// The hits of the latest query answered.
    pub doc: Option<Arc<LibraryDoc>>,
    pub error: Option<String>,
    pub cursor: ListCursor,
}

/// Typing edits the query; `true` when the key was taken (the query changed).
pub fn type_key(l: &mut Library, key: &KeyEvent) -> bool {
    if key.kind == KeyEventKind::Release
        || key
            .modifiers
            .intersects(KeyModifiers::CONTROL | KeyModifiers::ALT)
    {
        return false;
    }
    match key.code {
        KeyCode::Char(c) if !c.is_control() => l.query.push(c),
        KeyCode::Backspace if !l.query.is_empty() => _ = l.query.pop(),
        _ => return false,
    }
    true
}

pub fn update(l: &mut Library, action: Action) -> Effect {
    let len = l.doc.as_ref().map_or(0, |d| d.hits.len());
    if move_list(&mut l.cursor, action, len).is_some() {
        return Effect::None;
    }
    match action {
        Action::Back | Action::Open => Effect::Close,
        Action::Quit => Effect::Global(action),
        _ => Effect::None,
    }
}
