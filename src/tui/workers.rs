//! The browser's workers: one latest-wins [`Slot`] per kind of job (tree, detail, diff,
//! search), each running the core's computation off the UI thread and reporting back
//! as a [`Msg::Job`]. Also [`run_now`], the same work on the calling thread (tests,
//! benchmarks). This module knows nothing about panes or app state.

use std::path::PathBuf;
use std::sync::mpsc::Sender;
use std::sync::Arc;

use super::diff;
use super::document::DetailLoader;
use super::event::{JobOutput, Msg};
use super::glance;
use super::incidents;
use super::jobs::JobRequest;
use super::postmortem::{postmortem, ReportTo};
use super::search::Searcher;
use crate::index::SharedHistory;
use crate::present;
use crate::tree as structure;
use crate::work::{catch, Cancel, Slot};

/// The workers: one slot per kind of job.
pub struct Workers {
    structure: Slot<usize>,
    detail: Slot<(usize, u32, usize)>,
    diff: Slot<(usize, Option<usize>)>,
    search: Slot<(String, Option<usize>)>,
    card: Slot<(usize, u32, bool)>,
    tokens: Slot<(usize, std::ops::Range<usize>)>,
    postmortem: Slot<(usize, Option<ReportTo>)>,
    similar: Slot<(usize, PathBuf)>,
    save_incident: Slot<(usize, PathBuf)>,
    incident_search: Slot<(String, PathBuf)>,
    /// The search session (its word index is built by [`super::event::spawn_indexer`]).
    searcher: Searcher,
}

impl Workers {
    pub fn spawn(shared: Arc<SharedHistory>, tx: Sender<Msg>) -> std::io::Result<Workers> {
        Workers::spawn_searching(shared, tx, Arc::default())
    }

    /// [`Workers::spawn`] with the search session `text`, whose load hook the history's
    /// load was opened with ([`crate::search::BackgroundText::load_hook`]).
    pub fn spawn_searching(
        shared: Arc<SharedHistory>,
        tx: Sender<Msg>,
        text: Arc<crate::search::BackgroundText>,
    ) -> std::io::Result<Workers> {
        let (h, t) = (Arc::clone(&shared), tx.clone());
        let structure = Slot::spawn("retrace-tree", move |generation, run, cancel: &Cancel| {
            let send = |result| {
                let _ = t.send(Msg::Job(JobOutput::Structure { generation, result }));
            };
            let result =
                catch(|| structure::load(&h, run, cancel, |partial| send(Ok(Arc::new(partial)))));
            if !cancel.is_cancelled() {
                send(result.map(Arc::new));
            }
        })?;
        let (h, t) = (Arc::clone(&shared), tx.clone());
        let diff = Slot::spawn(
            "retrace-diff",
            move |generation, (a, b), cancel: &Cancel| {
                let result = catch(|| diff::build(&h, a, b, cancel));
                if !cancel.is_cancelled() {
                    let result = result.map(Arc::new);
                    let _ = t.send(Msg::Job(JobOutput::Diff { generation, result }));
                }
            },
        )?;
        let (h, t) = (Arc::clone(&shared), tx.clone());
        let searcher = Searcher::new(text);
        let session = searcher.clone();
        let search = Slot::spawn(
            "retrace-search",
            move |generation, (query, only_run): (String, Option<usize>), cancel: &Cancel| {
                let result = catch(|| session.run(&h, &query, only_run, cancel));
                if !cancel.is_cancelled() {
                    let result = result.map(Arc::new);
                    let _ = t.send(Msg::Job(JobOutput::Search { generation, result }));
                }
            },
        )?;
        let (h, t) = (Arc::clone(&shared), tx.clone());
        let card = Slot::spawn(
            "retrace-card",
            move |generation, (run, step, redact), cancel: &Cancel| {
                let result = catch(|| present::load(&h, run, step, redaction(redact)));
                if !cancel.is_cancelled() {
                    let result = result.map(Arc::new);
                    let _ = t.send(Msg::Job(JobOutput::Card { generation, result }));
                }
            },
        )?;
        let (h, t) = (Arc::clone(&shared), tx.clone());
        let tokens = Slot::spawn(
            "retrace-tokens",
            move |generation, (run, rows), cancel: &Cancel| {
                let result = catch(|| glance::read_tokens(&h, run, rows, cancel));
                if !cancel.is_cancelled() {
                    let result = result.map(Arc::new);
                    let _ = t.send(Msg::Job(JobOutput::Tokens { generation, result }));
                }
            },
        )?;
        let (h, t) = (Arc::clone(&shared), tx.clone());
        let postmortem = Slot::spawn(
            "retrace-postmortem",
            move |generation, (run, report): (usize, Option<ReportTo>), cancel: &Cancel| {
                // A report asked for is saved even when a newer job supersedes it.
                let never = Cancel::never();
                let stop = if report.is_some() { &never } else { cancel };
                let result = catch(|| postmortem(&h, run, report, stop));
                if !cancel.is_cancelled() {
                    let result = result.map(Arc::new);
                    let _ = t.send(Msg::Job(JobOutput::Postmortem { generation, result }));
                }
            },
        )?;
        let (h, t) = (Arc::clone(&shared), tx.clone());
        // The prepared library stays on this worker between runs.
        let mut live = None;
        let similar = Slot::spawn(
            "retrace-similar",
            move |generation, (run, library), cancel: &Cancel| {
                let result = catch(|| incidents::similar(&h, run, library, &mut live));
                if !cancel.is_cancelled() {
                    let result = result.map(Arc::new);
                    let _ = t.send(Msg::Job(JobOutput::Similar { generation, result }));
                }
            },
        )?;
        let (h, t) = (Arc::clone(&shared), tx.clone());
        let save_incident = Slot::spawn(
            "retrace-save-incident",
            move |generation, (run, library), _cancel: &Cancel| {
                // A save is never dropped half-way: it runs to its end once started.
                let result = catch(|| incidents::save(&h, run, library)).map(Arc::new);
                let _ = t.send(Msg::Job(JobOutput::SaveIncident { generation, result }));
            },
        )?;
        let t = tx.clone();
        let mut library = None;
        let incident_search = Slot::spawn(
            "retrace-incident-search",
            move |generation, (query, root): (String, PathBuf), cancel: &Cancel| {
                let result = catch(|| incidents::search(&query, root, &mut library));
                if !cancel.is_cancelled() {
                    let result = result.map(Arc::new);
                    let _ = t.send(Msg::Job(JobOutput::IncidentSearch { generation, result }));
                }
            },
        )?;
        let mut loader = DetailLoader::default();
        let detail = Slot::spawn(
            "retrace-detail",
            move |generation, (run, step, limit), cancel: &Cancel| {
                let result = catch(|| loader.load(&shared, run, step, limit));
                if !cancel.is_cancelled() {
                    let result = result.map(Arc::new);
                    let _ = tx.send(Msg::Job(JobOutput::Detail { generation, result }));
                }
            },
        )?;
        Ok(Workers {
            structure,
            detail,
            diff,
            search,
            card,
            tokens,
            postmortem,
            similar,
            save_incident,
            incident_search,
            searcher,
        })
    }

    /// The search session whose word index is to be built.
    pub fn text(&self) -> Arc<crate::search::BackgroundText> {
        self.searcher.text()
    }

    pub fn submit(&self, request: JobRequest) {
        match request {
            JobRequest::Structure { generation, run } => self.structure.submit(generation, run),
            JobRequest::Detail {
                generation,
                run,
                step,
                limit,
            } => self.detail.submit(generation, (run, step, limit)),
            JobRequest::Diff { generation, a, b } => self.diff.submit(generation, (a, b)),
            JobRequest::Search {
                generation,
                query,
                only_run,
            } => self.search.submit(generation, (query, only_run)),
            JobRequest::Card {
                generation,
                run,
                step,
                redact,
            } => self.card.submit(generation, (run, step, redact)),
            JobRequest::Tokens {
                generation,
                run,
                rows,
            } => self.tokens.submit(generation, (run, rows)),
            JobRequest::Postmortem {
                generation,
                run,
                report,
            } => self.postmortem.submit(generation, (run, report)),
            JobRequest::Similar {
                generation,
                run,
                library,
            } => self.similar.submit(generation, (run, library)),
            JobRequest::SaveIncident {
                generation,
                run,
                library,
            } => self.save_incident.submit(generation, (run, library)),
            JobRequest::IncidentSearch {
                generation,
                query,
                library,
            } => self.incident_search.submit(generation, (query, library)),
        }
    }
}

/// Runs a request on this thread (tests and benchmarks: same work, no threads).
pub fn run_now(shared: &SharedHistory, request: JobRequest) -> JobOutput {
    match request {
        JobRequest::Structure { generation, run } => JobOutput::Structure {
            generation,
            result: structure::load(shared, run, &Cancel::never(), |_| {}).map(Arc::new),
        },
        JobRequest::Detail {
            generation,
            run,
            step,
            limit,
        } => JobOutput::Detail {
            generation,
            result: DetailLoader::default()
                .load(shared, run, step, limit)
                .map(Arc::new),
        },
        JobRequest::Diff { generation, a, b } => JobOutput::Diff {
            generation,
            result: diff::build(shared, a, b, &Cancel::never()).map(Arc::new),
        },
        JobRequest::Search {
            generation,
            query,
            only_run,
        } => JobOutput::Search {
            generation,
            result: Searcher::default()
                .run(shared, &query, only_run, &Cancel::never())
                .map(Arc::new),
        },
        JobRequest::Card {
            generation,
            run,
            step,
            redact,
        } => JobOutput::Card {
            generation,
            result: present::load(shared, run, step, redaction(redact)).map(Arc::new),
        },
        JobRequest::Tokens {
            generation,
            run,
            rows,
        } => JobOutput::Tokens {
            generation,
            result: glance::read_tokens(shared, run, rows, &Cancel::never()).map(Arc::new),
        },
        JobRequest::Postmortem {
            generation,
            run,
            report,
        } => JobOutput::Postmortem {
            generation,
            result: postmortem(shared, run, report, &Cancel::never()).map(Arc::new),
        },
        JobRequest::Similar {
            generation,
            run,
            library,
        } => JobOutput::Similar {
            generation,
            result: incidents::similar(shared, run, library, &mut None).map(Arc::new),
        },
        JobRequest::SaveIncident {
            generation,
            run,
            library,
        } => JobOutput::SaveIncident {
            generation,
            result: incidents::save(shared, run, library).map(Arc::new),
        },
        JobRequest::IncidentSearch {
            generation,
            query,
            library,
        } => JobOutput::IncidentSearch {
            generation,
            result: incidents::search(&query, library, &mut None).map(Arc::new),
        },
    }
}

/// The presenter's redaction, when on.
fn redaction(on: bool) -> Option<crate::redact::Redaction> {
    on.then(crate::redact::Redaction::default)
}
