//! The post-mortem's keys on the shown run: the root cause, bookmarks, a note on a step,
//! the category and action items, kept through the core's notes [`Library`] (it writes
//! atomically, outside the log folders); the report and the incident timeline run on a
//! worker (they run the classifier and the divergence engine). The notes fill the
//! meeting's marks, so the presenter's card and timeline show them.

use super::App;
use crate::postmortem::notes::{check_action_text, parse_action, Library, Notes};
use crate::present::{Mark, MarkKind};
use crate::tui::action::Action;
use crate::tui::event::JobOutput;
use crate::tui::layout::Pane;
use crate::tui::overlays::notes::{Chooser, Incident, Input, InputFor};
use crate::tui::overlays::Overlay;

/// The notes of the shown run, and where they are kept.
#[derive(Debug, Default)]
pub struct NotesState {
    /// The library, once located (or why it could not be).
    library: Option<Result<Library, String>>,
    /// The notes of the shown run.
    pub current: Option<Notes>,
}

impl App {
    /// The library folder: `--library`, else `RETRACE_LIBRARY`, else the XDG default.
    pub(super) fn library(&mut self) -> Result<Library, String> {
        let explicit = self.options.library.clone();
        self.notes
            .library
            .get_or_insert_with(|| Library::locate(explicit.as_deref()).map_err(|e| e.to_string()))
            .clone()
    }

    /// The shown run's history index and id.
    pub(super) fn shown_run_id(&self) -> Option<(usize, String)> {
        let run = self.timeline.run?;
        let h = self.shared.read();
        (run < h.run_count()).then(|| (run, h.run(run).id().to_string()))
    }

    /// Loads the notes of the shown run when another run is shown, and refreshes the marks.
    pub(super) fn sync_notes(&mut self) {
        let Some((_, id)) = self.shown_run_id() else {
            return;
        };
        if self.notes.current.as_ref().is_some_and(|n| n.run_id == id) {
            return;
        }
        let loaded = self
            .library()
            .and_then(|l| l.load_notes(&id).map_err(|e| e.to_string()));
        let notes = match loaded {
            Ok(n) => n,
            Err(e) => {
                self.message = Some(format!("notes: {e}"));
                Notes::new(&id)
            }
        };
        self.notes.current = Some(notes);
        self.fill_marks();
        self.similar_for_shown_run();
    }

    /// The meeting's marks from the notes of the shown run.
    fn fill_marks(&mut self) {
        let Some(n) = &self.notes.current else {
            return;
        };
        let mark = |step: u32, kind: MarkKind, text: &str| Mark {
            run: n.run_id.clone(),
            step: Some(step),
            kind,
            text: text.to_string(),
        };
        let mut marks = Vec::new();
        if let Some(step) = n.root_cause {
            // The kind's label says it all: no text of its own.
            marks.push(mark(step, MarkKind::RootCause, ""));
        }
        marks.extend(n.bookmarks.iter().map(|&s| mark(s, MarkKind::Bookmark, "")));
        marks.extend(
            n.step_notes
                .iter()
                .map(|sn| mark(sn.step, MarkKind::Note, &sn.text)),
        );
        self.meeting.marks = marks;
    }

    /// The glyphs of the notes on `step` of the shown run (root cause, bookmark, note).
    pub fn note_glyphs(&self, step: u32) -> String {
        self.notes
            .current
            .as_ref()
            .map(|n| crate::tui::panes::timeline::note_glyphs(n, step))
            .unwrap_or_default()
    }

    /// The notes of the shown run and its selected step, loaded if need be.
    fn notes_at(&mut self) -> Option<u32> {
        self.sync_notes();
        if self.timeline.run.is_none() || self.timeline.len == 0 {
            self.message = Some("select a run and a step first".into());
            return None;
        }
        Some(self.timeline.cursor.selected as u32)
    }

    /// Saves the notes of the shown run through the library (a small atomic write).
    fn save_notes(&mut self, said: String) {
        let library = self.library();
        let Some(notes) = self.notes.current.as_mut() else {
            return;
        };
        self.message = Some(
            match library.and_then(|l| l.save_notes(notes).map_err(|e| e.to_string())) {
                Ok(_) => said,
                Err(e) => format!("notes not saved: {e}"),
            },
        );
        self.fill_marks();
    }

    /// The post-mortem's keys on the panes.
    pub(super) fn notes_update(&mut self, action: Action) {
        match action {
            Action::MarkRootCause => {
                let Some(step) = self.notes_at() else { return };
                let n = self.notes.current.as_mut().expect("loaded");
                let said = if n.root_cause == Some(step) {
                    n.root_cause = None;
                    format!("step {step} is no longer the root cause")
                } else {
                    n.root_cause = Some(step);
                    format!("◆ step {step} marked as the root cause")
                };
                self.save_notes(said);
            }
            Action::ToggleBookmark => {
                let Some(step) = self.notes_at() else { return };
                let n = self.notes.current.as_mut().expect("loaded");
                let said = if n.toggle_bookmark(step) {
                    format!("★ step {step} bookmarked")
                } else {
                    format!("bookmark on step {step} removed")
                };
                self.save_notes(said);
            }
            Action::EditNote => {
                let Some(step) = self.notes_at() else { return };
                let text = self
                    .notes
                    .current
                    .as_ref()
                    .and_then(|n| n.step_note(step))
                    .unwrap_or_default()
                    .to_string();
                self.overlays
                    .push(Overlay::Input(Input::new(InputFor::StepNote(step), text)));
            }
            Action::EditNarrative => {
                if self.notes_at().is_none() {
                    return;
                }
                let text = self
                    .notes
                    .current
                    .as_ref()
                    .and_then(|n| n.narrative.clone())
                    .unwrap_or_default();
                self.overlays
                    .push(Overlay::Input(Input::new(InputFor::Narrative, text)));
            }
            Action::AddActionItem => {
                if self.notes_at().is_none() {
                    return;
                }
                self.overlays.push(Overlay::Input(Input::new(
                    InputFor::ActionItem,
                    String::new(),
                )));
            }
            Action::SetCategory => {
                if self.notes_at().is_none() {
                    return;
                }
                let current = self.notes.current.as_ref().and_then(|n| n.category);
                self.overlays.push(Overlay::Chooser(Chooser::at(current)));
            }
            Action::WriteReport => {
                let Some((run, _)) = self.shown_run_id() else {
                    self.message = Some("select a run first".into());
                    return;
                };
                match self.library() {
                    Ok(l) => {
                        self.jobs.postmortem(run, Some(l.root().to_path_buf()));
                        self.message = Some("writing the report…".into());
                    }
                    Err(e) => self.message = Some(format!("no report: {e}")),
                }
            }
            Action::IncidentTimeline => {
                let Some((run, _)) = self.shown_run_id() else {
                    self.message = Some("select a run first".into());
                    return;
                };
                self.overlays.push(Overlay::Incident(Incident {
                    run,
                    ..Incident::default()
                }));
                self.jobs.postmortem(run, None);
            }
            _ => {}
        }
    }

    /// An input was submitted: the step's note, or a new action item.
    pub(super) fn input_saved(&mut self, input: Input) {
        self.overlays.pop();
        self.sync_notes();
        let Some(n) = self.notes.current.as_mut() else {
            return;
        };
        match input.target {
            InputFor::StepNote(step) => {
                n.set_step_note(step, &input.text);
                let said = if input.text.trim().is_empty() {
                    format!("note on step {step} removed")
                } else {
                    format!("✎ note on step {step} saved")
                };
                self.save_notes(said);
            }
            InputFor::Narrative => {
                let text = input.text.trim();
                n.narrative = (!text.is_empty()).then(|| text.to_string());
                let said = if text.is_empty() {
                    "narrative removed".to_string()
                } else {
                    "narrative saved".to_string()
                };
                self.save_notes(said);
            }
            InputFor::ActionItem => match parse_action(&input.text) {
                Ok(item) if !item.text.trim().is_empty() => {
                    n.action_items.push(item);
                    let flags = check_action_text(&input.text);
                    let said = if flags.is_empty() {
                        format!("action item {} saved", n.action_items.len())
                    } else {
                        // The flags' short names: the status line is one line.
                        let short: Vec<&str> = flags
                            .iter()
                            .map(|f| f.split(':').next().unwrap_or(f))
                            .collect();
                        format!(
                            "action item {} saved, flagged: {}",
                            n.action_items.len(),
                            short.join(", ")
                        )
                    };
                    self.save_notes(said);
                }
                Ok(_) => self.message = Some("an action item needs a text".into()),
                Err(e) => self.message = Some(format!("action item not saved: {e}")),
            },
        }
    }

    /// The category was chosen (`None`: the classifier's).
    pub(super) fn category_chosen(&mut self, category: Option<crate::postmortem::Category>) {
        self.overlays.pop();
        self.sync_notes();
        let Some(n) = self.notes.current.as_mut() else {
            return;
        };
        n.category = category;
        let said = match category {
            Some(c) => format!("category: {}", c.label()),
            None => "category: auto (the classifier's)".to_string(),
        };
        self.save_notes(said);
    }

    /// The incident timeline's row was chosen: its step in the full timeline.
    pub(super) fn jump_to_step(&mut self, run: usize, step: u32) {
        self.close_overlay(|o| matches!(o, Overlay::Incident(_)));
        if self.timeline.run != Some(run) {
            self.select_run(run);
        }
        self.focus_pane(Pane::Timeline);
        self.select_step(step, Pane::Runs);
    }

    /// A post-mortem job finished: the incident timeline, or the report saved.
    pub(super) fn postmortem_done(&mut self, out: JobOutput) {
        let JobOutput::Postmortem { result, .. } = out else {
            return;
        };
        let doc = match result {
            Ok(doc) => doc,
            Err(e) => {
                for o in &mut self.overlays {
                    if let Overlay::Incident(i) = o {
                        i.error = Some(e.clone());
                    }
                }
                self.message = Some(format!("post-mortem: {e}"));
                return;
            }
        };
        for o in &mut self.overlays {
            if let Overlay::Incident(i) = o {
                if i.run == doc.run {
                    i.timeline = Some(doc.timeline.clone());
                }
            }
        }
        if let Some(path) = &doc.saved {
            self.message = Some(format!("report saved: {}", path.display()));
        }
    }
}
