//! Small boxes that wait for a key: a yes-or-no question (showing secrets on a shared
//! screen asks first) and a position's command line, shown until dismissed.

use super::Effect;
use crate::tui::action::Action;

/// What a question asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Question {
    /// Turn redaction off: secrets on the screen for the room to see.
    ShowSecrets,
}

impl Question {
    pub fn text(self) -> &'static str {
        match self {
            Question::ShowSecrets => {
                "Show secrets? API keys, tokens, passwords and contacts will be on the screen for everyone watching."
            }
        }
    }
}

/// An action while a question is open: yes answers it, anything else but quitting
/// closes it unanswered.
pub fn update(question: Question, action: Action) -> Effect {
    match action {
        Action::Confirm => Effect::Confirmed(question),
        Action::Quit => Effect::Global(Action::Quit),
        _ => Effect::Close,
    }
}

/// An action while a note (a position's command line) is shown: any key closes it.
pub fn update_note(action: Action) -> Effect {
    match action {
        Action::Quit => Effect::Global(Action::Quit),
        _ => Effect::Close,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_yes_answers() {
        assert_eq!(
            update(Question::ShowSecrets, Action::Confirm),
            Effect::Confirmed(Question::ShowSecrets)
        );
        for a in [Action::Back, Action::MoveDown, Action::ToggleRedaction] {
            assert_eq!(update(Question::ShowSecrets, a), Effect::Close);
        }
        assert_eq!(update_note(Action::Confirm), Effect::Close);
    }
}
