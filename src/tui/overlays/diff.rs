//! The diff view's update: moving through the aligned rows, back to the divergence,
//! choosing another run to compare with.

use super::{move_list, Effect};
use crate::tui::action::Action;
use crate::tui::panes::diff::DiffState;

/// An action while the diff view is open.
pub fn update(d: &mut DiffState, action: Action) -> Effect {
    let len = d.len();
    if move_list(&mut d.cursor, action, len).is_some() {
        return Effect::None;
    }
    match action {
        Action::Diff => match d.doc.as_ref().and_then(|doc| doc.divergence.as_ref()) {
            Some((row, _, _)) => {
                d.cursor.set(*row, len);
                Effect::None
            }
            None => Effect::Say("the runs do not diverge".into()),
        },
        Action::DiffWith => Effect::ChooseOther(d.a),
        Action::Back => Effect::Close,
        Action::Quit | Action::Help | Action::ToggleTheme | Action::ToggleMouse => {
            Effect::Global(action)
        }
        // The view covers the panes: their actions wait until it is closed.
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
        | Action::Open
        | Action::FirstFailure
        | Action::NextFailure
        | Action::PrevFailure
        | Action::Collapse
        | Action::Expand
        | Action::ToggleFold
        | Action::LoadMore
        | Action::Search
        | Action::SortRuns
        | Action::Follow
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
