//! The `/` prompt's update: typing edits the query (each edit runs it), the list of
//! results moves, Enter jumps to the selected hit.

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use super::{move_list, Effect};
use crate::tui::action::Action;
use crate::tui::panes::search::SearchState;

/// Typing in the prompt: characters and Backspace edit the query; `false` for keys that
/// are not text (they go through the keymap).
pub fn type_key(s: &mut SearchState, key: &KeyEvent) -> bool {
    if key.kind == KeyEventKind::Release
        || key
            .modifiers
            .intersects(KeyModifiers::CONTROL | KeyModifiers::ALT)
    {
        return false;
    }
    match key.code {
        KeyCode::Char(c) if !c.is_control() => s.query.push(c),
        KeyCode::Backspace => _ = s.query.pop(),
        _ => return false,
    }
    true
}

/// Clears what the last query found when the new one is empty; `true` when there is a
/// query to run.
pub fn prepare(s: &mut SearchState) -> bool {
    s.error = None;
    if s.query.trim().is_empty() {
        s.doc = None;
        s.cursor.home();
        return false;
    }
    true
}

/// An action while the prompt is open.
pub fn update(s: &mut SearchState, action: Action) -> Effect {
    let len = s.len();
    if move_list(&mut s.cursor, action, len).is_some() {
        return Effect::None;
    }
    match action {
        Action::Open if s.query.trim().is_empty() => Effect::ClearSearch,
        Action::Open => match s.selected() {
            Some(hit) => Effect::Jump(hit.clone()),
            None => Effect::Say("no result to jump to".into()),
        },
        Action::Back => Effect::Close,
        Action::Quit | Action::Help => Effect::Global(action),
        // Keys that are not text and not the prompt's do nothing while it is open.
        Action::MoveDown
        | Action::MoveUp
        | Action::PageDown
        | Action::PageUp
        | Action::Top
        | Action::Bottom
        | Action::NextPane
        | Action::PrevPane
        | Action::FocusRuns
        | Action::FocusTimeline
        | Action::FocusTree
        | Action::FocusDetail
        | Action::FirstFailure
        | Action::NextFailure
        | Action::PrevFailure
        | Action::Collapse
        | Action::Expand
        | Action::ToggleFold
        | Action::LoadMore
        | Action::Follow
        | Action::Diff
        | Action::DiffWith
        | Action::Search
        | Action::SortRuns
        | Action::ToggleTheme
        | Action::ToggleMouse
        | Action::Replay
        | Action::PlayPause
        | Action::StepForward
        | Action::StepBack
        | Action::Faster
        | Action::Slower
        | Action::TogglePace
        | Action::Present
        | Action::ShowPosition
        | Action::ToggleRedaction
        | Action::Confirm
        | Action::OnlyBucket
        | Action::ToggleWaterfall
        | Action::Problems
        | Action::MarkRootCause
        | Action::ToggleBookmark
        | Action::EditNote
        | Action::SetCategory
        | Action::AddActionItem
        | Action::WriteReport
        | Action::IncidentTimeline
        | Action::SaveIncident
        | Action::SimilarIncidents
        | Action::IncidentLibrary
        | Action::EditNarrative
        | Action::Attach => Effect::None,
    }
}
