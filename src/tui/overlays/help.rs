//! The help overlay's update: scrolling the key list, closing it.

use super::Effect;
use crate::tui::action::Action;

/// `scroll` moves within `0..=max` (the lines that do not fit).
pub fn update(scroll: &mut usize, action: Action, max: usize) -> Effect {
    let delta: isize = match action {
        Action::MoveDown => 1,
        Action::MoveUp => -1,
        Action::PageDown => 10,
        Action::PageUp => -10,
        Action::Top => isize::MIN / 2,
        Action::Bottom => isize::MAX / 2,
        Action::Help | Action::Back => return Effect::Close,
        Action::Quit => return Effect::Global(Action::Quit),
        // The overlay covers the panes: nothing else applies while it is open.
        Action::NextPane
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
        | Action::Attach => return Effect::None,
    };
    *scroll = (*scroll as isize)
        .saturating_add(delta)
        .clamp(0, max as isize) as usize;
    Effect::None
}
