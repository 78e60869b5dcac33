//! The problems view's update: moving through the list, closing it.

use super::{move_list, Effect};
use crate::tui::action::Action;
use crate::tui::panes::problems::ProblemsState;

/// An action while the view is open; `len` is the number of problems.
pub fn update(s: &mut ProblemsState, action: Action, len: usize) -> Effect {
    if move_list(&mut s.cursor, action, len).is_some() {
        return Effect::None;
    }
    match action {
        Action::Problems | Action::Back => Effect::Close,
        Action::Quit | Action::Help | Action::ToggleTheme | Action::ToggleMouse => {
            Effect::Global(action)
        }
        // The view covers the panes: nothing else applies while it is open.
        _ => Effect::None,
    }
}
