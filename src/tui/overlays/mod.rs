//! What can cover the panes: the help, the `/` search prompt, the diff view, the problems view (and the
//! views to come). The app keeps a stack of them (the top one takes the keys), so their
//! precedence is the order they were opened, coded nowhere else. Each overlay has one
//! update that turns an action into a change of its own state and, where the app must
//! act (close it, jump somewhere, quit), an [`Effect`].

pub mod confirm;
pub mod diff;
pub mod help;
pub mod library;
pub mod notes;
pub mod problems;
pub mod search;
pub mod similar;

use super::action::Action;
use super::keymap::Context;
use super::panes::diff::DiffState;
use super::panes::problems::ProblemsState;
use super::panes::search::SearchState;
use super::search::HitRow;

/// An open overlay and its state.
#[derive(Debug, Clone)]
pub enum Overlay {
    /// The key list, scrolled this far.
    Help(usize),
    Search(SearchState),
    Diff(DiffState),
    /// A yes-or-no question.
    Confirm(confirm::Question),
    /// A note shown until a key is pressed (a position's command line).
    Note(String),
    /// The problems met while loading (bad lines, damaged files), as a list.
    Problems(ProblemsState),
    /// A one-line text input (a step's note, an action item).
    Input(notes::Input),
    /// The category chooser.
    Chooser(notes::Chooser),
    /// The incident timeline.
    Incident(notes::Incident),
    /// The similar past incidents of the shown run.
    Similar(similar::Similar),
    /// The incident library, searched.
    Library(library::Library),
}

impl Overlay {
    /// The keymap context of its keys.
    pub fn context(&self) -> Context {
        match self {
            Overlay::Help(_) => Context::Help,
            Overlay::Search(_) => Context::Search,
            Overlay::Diff(_) => Context::Diff,
            Overlay::Confirm(_) | Overlay::Note(_) => Context::Confirm,
            Overlay::Problems(_) => Context::Problems,
            Overlay::Input(_) => Context::Input,
            Overlay::Library(_) => Context::Library,
            Overlay::Chooser(_) | Overlay::Incident(_) | Overlay::Similar(_) => Context::Pick,
        }
    }

    /// The contexts whose hints the footer shows while it is on top.
    pub fn hint_contexts(&self) -> Vec<Context> {
        match self {
            Overlay::Help(_)
            | Overlay::Search(_)
            | Overlay::Confirm(_)
            | Overlay::Note(_)
            | Overlay::Input(_)
            | Overlay::Library(_) => vec![self.context()],
            Overlay::Chooser(_)
            | Overlay::Incident(_)
            | Overlay::Similar(_)
            | Overlay::Problems(_) => {
                vec![self.context(), Context::Global]
            }
            Overlay::Diff(_) => vec![Context::Diff, Context::Global],
        }
    }
}

/// What an overlay's update asks of the app.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Nothing beyond the overlay's own state.
    None,
    /// Close this overlay.
    Close,
    /// Handle the action as the app does everywhere (quit, help, theme, mouse).
    Global(Action),
    /// A note for the status line.
    Say(String),
    /// Search: the query changed; run it.
    Query,
    /// Search: Enter on an empty query: forget the last search.
    ClearSearch,
    /// Search: jump to this hit (the overlay closes; its state becomes the last search).
    Jump(HitRow),
    /// Diff: close and let the user choose the run to compare run `a` with.
    ChooseOther(usize),
    /// A question was answered yes.
    Confirmed(confirm::Question),
    /// An input was submitted.
    SaveInput(notes::Input),
    /// The category chosen (`None`: the classifier's).
    Category(Option<crate::postmortem::Category>),
    /// Close and select this step of this run in the full timeline.
    JumpStep(usize, u32),
}

/// Moves a list cursor for the list-moving actions; `None` for any other action.
pub fn move_list(cursor: &mut super::panes::ListCursor, action: Action, len: usize) -> Option<()> {
    let page = cursor.page();
    let delta = match action {
        Action::MoveDown => 1,
        Action::MoveUp => -1,
        Action::PageDown => page,
        Action::PageUp => -page,
        Action::Top => isize::MIN / 2,
        Action::Bottom => isize::MAX / 2,
        _ => return None,
    };
    cursor.move_by(delta, len);
    Some(())
}
