//! The incident library in the browser: opening a failing run asks a worker for the
//! resolved incidents most like it (the status line names the best one; `L` lists them
//! with their reasons), and `I` saves the shown run, with its notes, as an incident. The
//! core compares and writes on the workers; nothing here reads a file.

use std::sync::Arc;

use super::App;
use crate::tui::action::Action;
use crate::tui::event::JobOutput;
use crate::tui::incidents::SimilarDoc;
use crate::tui::overlays::similar::Similar;
use crate::tui::overlays::Overlay;

/// The similar incidents of the shown run, once compared.
#[derive(Debug, Default)]
pub struct IncidentsState {
    pub similar: Option<Arc<SimilarDoc>>,
}

impl App {
    /// A failing run is shown: compare it with the library (on a worker).
    pub(super) fn similar_for_shown_run(&mut self) {
        let Some(run) = self.timeline.run else { return };
        let failed = {
            let h = self.shared.read();
            run < h.run_count() && h.run(run).outcome().is_bad()
        };
        if !failed {
            self.incidents.similar = None;
            return;
        }
        if let Ok(l) = self.library() {
            self.jobs.similar(run, l.root().to_path_buf());
        }
    }

    pub(super) fn incidents_update(&mut self, action: Action) {
        match action {
            Action::SaveIncident => {
                let Some((run, _)) = self.shown_run_id() else {
                    self.message = Some("select a run first".into());
                    return;
                };
                self.sync_notes();
                if self.notes.current.as_ref().map_or(true, |n| n.is_empty()) {
                    self.message = Some(
                        "no notes on this run yet: mark the root cause (x), write the narrative (E) or an action item (a), then I".into(),
                    );
                    return;
                }
                match self.library() {
                    Ok(l) => {
                        self.jobs.save_incident(run, l.root().to_path_buf());
                        self.message = Some("saving the incident…".into());
                    }
                    Err(e) => self.message = Some(format!("incident not saved: {e}")),
                }
            }
            Action::SimilarIncidents => {
                let Some(run) = self.timeline.run else {
                    self.message = Some("select a run first".into());
                    return;
                };
                let doc = self.incidents.similar.clone().filter(|d| d.run == run);
                if doc.is_none() {
                    match self.library() {
                        Ok(l) => self.jobs.similar(run, l.root().to_path_buf()),
                        Err(e) => {
                            self.message = Some(format!("no incident library: {e}"));
                            return;
                        }
                    }
                }
                self.overlays.push(Overlay::Similar(Similar {
                    run,
                    doc,
                    ..Similar::default()
                }));
            }
            Action::IncidentLibrary => {
                self.overlays.push(Overlay::Library(
                    crate::tui::overlays::library::Library::default(),
                ));
                self.request_incident_search();
            }
            _ => {}
        }
    }

    /// Searches the library for the query of the open library overlay (on a worker).
    pub(super) fn request_incident_search(&mut self) {
        let query = self.overlays.iter().rev().find_map(|o| match o {
            Overlay::Library(l) => Some(l.query.clone()),
            _ => None,
        });
        let Some(query) = query else { return };
        match self.library() {
            Ok(l) => self.jobs.incident_search(query, l.root().to_path_buf()),
            Err(e) => {
                for o in &mut self.overlays {
                    if let Overlay::Library(l) = o {
                        l.error = Some(format!("no incident library: {e}"));
                    }
                }
            }
        }
    }

    /// A worker compared the run with the library, or saved an incident.
    pub(super) fn incidents_done(&mut self, out: JobOutput) {
        match out {
            JobOutput::Similar { result, .. } => match result {
                Ok(doc) => {
                    for o in &mut self.overlays {
                        if let Overlay::Similar(s) = o {
                            if s.run == doc.run {
                                s.doc = Some(doc.clone());
                            }
                        }
                    }
                    if self.timeline.run == Some(doc.run) {
                        if let Some(best) = doc.matches.first() {
                            let again = if best.recurrence {
                                " (↻ again: the fix did not hold)"
                            } else {
                                ""
                            };
                            self.message = Some(format!(
                                "≈ looks like {}: {} ({:.2}){again} · L: similar incidents",
                                best.incident, best.title, best.score
                            ));
                        }
                        self.incidents.similar = Some(doc);
                    }
                }
                Err(e) => {
                    for o in &mut self.overlays {
                        if let Overlay::Similar(s) = o {
                            s.error = Some(e.clone());
                        }
                    }
                }
            },
            JobOutput::SaveIncident { result, .. } => {
                self.message = Some(match result {
                    Ok(saved) => format!(
                        "incident {} {}: {}",
                        if saved.created { "saved" } else { "updated" },
                        saved.id,
                        saved.record.display()
                    ),
                    Err(e) => format!("incident not saved: {e}"),
                });
            }
            JobOutput::IncidentSearch { result, .. } => {
                for o in &mut self.overlays {
                    if let Overlay::Library(l) = o {
                        match &result {
                            Ok(doc) => {
                                l.error = None;
                                l.doc = Some(doc.clone());
                                let len = doc.hits.len();
                                l.cursor
                                    .set(l.cursor.selected.min(len.saturating_sub(1)), len);
                            }
                            Err(e) => l.error = Some(e.clone()),
                        }
                    }
                }
            }
            _ => {}
        }
    }
}
