//! The similar past incidents of the shown failing run: one row per incident (score, id,
//! title, category, `↻` when it is a recurrence) and its reasons under it, while the
//! comparison runs and after.

use std::sync::Arc;

use super::{move_list, Effect};
use crate::tui::action::Action;
use crate::tui::incidents::SimilarDoc;
use crate::tui::panes::ListCursor;

#[derive(Debug, Clone, Default)]
pub struct Similar {
    pub run: usize,
    pub doc: Option<Arc<SimilarDoc>>,
    pub error: Option<String>,
    pub cursor: ListCursor,
}

impl Similar {
    /// Rows: a header per incident, then its reasons.
    pub fn rows(&self) -> usize {
        self.doc
            .as_ref()
            .map_or(0, |d| d.matches.iter().map(|m| 1 + m.reasons.len()).sum())
    }
}

pub fn update(s: &mut Similar, action: Action) -> Effect {
    let len = s.rows();
    if move_list(&mut s.cursor, action, len).is_some() {
        return Effect::None;
    }
    match action {
        Action::Back | Action::SimilarIncidents | Action::Open => Effect::Close,
        Action::Quit | Action::Help => Effect::Global(action),
        _ => Effect::None,
    }
}
