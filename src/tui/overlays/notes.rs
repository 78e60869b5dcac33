//! The post-mortem's overlays: a one-line text input (a note on a step, an action item
//! checked as it is typed), the category chooser and the incident timeline (only the
//! rows a post-mortem talks about, each a link into the full timeline).

use std::sync::Arc;

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use super::{move_list, Effect};
use crate::postmortem::{notes as actions, timeline::Timeline, Category};
use crate::tui::action::Action;
use crate::tui::panes::ListCursor;

/// What a text input writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputFor {
    /// The note on this step (empty removes it).
    StepNote(u32),
    /// A new action item (`text owner=… component=… done_when=…`).
    ActionItem,
    /// The run's narrative (empty removes it).
    Narrative,
}

/// A one-line text input.
#[derive(Debug, Clone, PartialEq)]
pub struct Input {
    pub target: InputFor,
    pub text: String,
    /// What keeps an action item from being specific, as typed.
    pub flags: Vec<String>,
}

impl Input {
    pub fn new(target: InputFor, text: String) -> Input {
        let mut input = Input {
            target,
            text,
            flags: Vec::new(),
        };
        input.check();
        input
    }

    fn check(&mut self) {
        self.flags = match self.target {
            InputFor::ActionItem if !self.text.trim().is_empty() => {
                actions::check_action_text(&self.text)
            }
            _ => Vec::new(),
        };
    }

    pub fn title(&self) -> String {
        match self.target {
            InputFor::StepNote(step) => format!("Note on step {step}"),
            InputFor::ActionItem => "New action item".to_string(),
            InputFor::Narrative => "Narrative: what happened, in order, blameless".to_string(),
        }
    }
}

/// Typing in an input: characters and Backspace edit it; `false` for other keys.
pub fn type_key(input: &mut Input, key: &KeyEvent) -> bool {
    if key.kind == KeyEventKind::Release
        || key
            .modifiers
            .intersects(KeyModifiers::CONTROL | KeyModifiers::ALT)
    {
        return false;
    }
    match key.code {
        KeyCode::Char(c) if !c.is_control() => input.text.push(c),
        KeyCode::Backspace => _ = input.text.pop(),
        _ => return false,
    }
    input.check();
    true
}

/// An action while an input is open: Enter saves, Esc cancels.
pub fn update_input(input: &Input, action: Action) -> Effect {
    match action {
        Action::Open => Effect::SaveInput(input.clone()),
        Action::Back => Effect::Close,
        Action::Quit => Effect::Global(Action::Quit),
        _ => Effect::None,
    }
}

/// The category chooser: "auto" (the classifier's), then the five categories.
#[derive(Debug, Clone, Default)]
pub struct Chooser {
    pub cursor: ListCursor,
}

impl Chooser {
    /// The choices: `None` is "auto".
    pub fn choices() -> Vec<Option<Category>> {
        std::iter::once(None)
            .chain(Category::ALL.iter().copied().map(Some))
            .collect()
    }

    pub fn at(current: Option<Category>) -> Chooser {
        let mut c = Chooser::default();
        let at = Self::choices()
            .iter()
            .position(|&x| x == current)
            .unwrap_or(0);
        c.cursor.set(at, Self::choices().len());
        c
    }
}

pub fn update_chooser(c: &mut Chooser, action: Action) -> Effect {
    let len = Chooser::choices().len();
    if move_list(&mut c.cursor, action, len).is_some() {
        return Effect::None;
    }
    match action {
        Action::Open => Effect::Category(Chooser::choices()[c.cursor.selected.min(len - 1)]),
        Action::Back => Effect::Close,
        Action::Quit | Action::Help => Effect::Global(action),
        _ => Effect::None,
    }
}

/// The incident timeline of the shown run, while it loads and after.
#[derive(Debug, Clone, Default)]
pub struct Incident {
    pub run: usize,
    pub timeline: Option<Arc<Timeline>>,
    pub error: Option<String>,
    pub cursor: ListCursor,
}

impl Incident {
    /// The number of rows (0 while it loads).
    pub fn rows(&self) -> usize {
        self.timeline.as_ref().map_or(0, |t| t.rows.len())
    }
}

pub fn update_incident(i: &mut Incident, action: Action) -> Effect {
    let len = i.rows();
    if move_list(&mut i.cursor, action, len).is_some() {
        return Effect::None;
    }
    match action {
        Action::Open => match i
            .timeline
            .as_ref()
            .and_then(|t| t.rows.get(i.cursor.selected))
        {
            Some(row) => Effect::JumpStep(i.run, row.step),
            None => Effect::Say("no row to jump to".into()),
        },
        Action::Back | Action::IncidentTimeline => Effect::Close,
        Action::Quit | Action::Help => Effect::Global(action),
        _ => Effect::None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_action_item_is_checked_as_it_is_typed() {
        let mut input = Input::new(InputFor::ActionItem, String::new());
        assert!(input.flags.is_empty());
        for c in "improve the agent".chars() {
            assert!(type_key(&mut input, &KeyEvent::from(KeyCode::Char(c))));
        }
        assert!(
            input.flags.iter().any(|f| f.contains("vague")),
            "{:?}",
            input.flags
        );
        assert_eq!(
            update_input(&input, Action::Open),
            Effect::SaveInput(input.clone())
        );
    }

    #[test]
    fn the_chooser_starts_at_auto_and_picks() {
        let mut c = Chooser::at(None);
        assert_eq!(update_chooser(&mut c, Action::Open), Effect::Category(None));
        update_chooser(&mut c, Action::MoveDown);
        assert_eq!(
            update_chooser(&mut c, Action::Open),
            Effect::Category(Some(Category::ALL[0]))
        );
    }
}
