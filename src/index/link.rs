//! Resolves where steps hang whose records cannot say (see [`Place`]): per file, in file
//! order, as batches are applied, so a chunk boundary or a file growing under watch
//! changes nothing. Turns get ids `t1`, `t2`, …, model calls `t1.m1`, …; the first turn of
//! a file becomes its run's start (the run's trigger). What is resolved is kept by the
//! step's location and applied when steps are read back ([`super::StepPlan::read`]).
//! An aborted turn (`Place::Abort`) leaves its run cancelled until a later turn, model
//! output or request (`Place::Resume`, for formats that link their own steps) of the file
//! shows the run went on.

use super::parse::Placed;
use super::{History, NO_STRING};
use crate::ingest::Place;
use crate::model::{Outcome, StepKind};

/// A resolved place: strings are the history's, `NO_STRING` when not set.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Link {
    pub(crate) id: u32,
    pub(crate) parent: u32,
    /// The step is its run's start (its first turn).
    pub(crate) start: bool,
}

/// Where one file's resolution stands.
#[derive(Debug, Default)]
pub(crate) struct FileLinks {
    root: Option<u32>,
    turns: u32,
    turn: Option<u32>,
    model_calls: u32,
    model: Option<u32>,
    /// Nothing but model output and calls since the model call opened.
    model_open: bool,
    /// The run an aborted turn left cancelled, until it goes on.
    aborted: Option<u32>,
}

impl History {
    /// Resolves a batch's places. `start` is the history index of the batch's first step,
    /// `run_of` gives the run of a step of the batch, `local` maps the batch's strings.
    pub(super) fn place(
        &mut self,
        file: u32,
        start: u32,
        places: &[Placed],
        run_of: impl Fn(u32) -> u32,
        local: impl Fn(u32) -> u32,
    ) {
        for placed in places {
            let index = (start + placed.step) as usize;
            let state = self.file_links.entry(file).or_default();
            let (own_parent, own_id) = (local(placed.parent), local(placed.id));
            let mut link = Link {
                id: NO_STRING,
                parent: NO_STRING,
                start: false,
            };
            let mut resumed = false;
            match placed.place {
                Place::Given => continue,
                Place::Resume => resumed = true,
                Place::Root => {
                    if state.root.is_none() && own_id != NO_STRING {
                        state.root = Some(own_id);
                    }
                    continue;
                }
                Place::Turn => {
                    state.turns += 1;
                    state.model_calls = 0;
                    state.model = None;
                    state.model_open = false;
                    let id = self.strings.intern(&format!("t{}", state.turns));
                    state.turn = Some(id);
                    link.id = id;
                    link.parent = state.root.unwrap_or(NO_STRING);
                    link.start = state.turns == 1;
                    resumed = true;
                }
                Place::Model => {
                    match state.model.filter(|_| state.model_open) {
                        Some(model) => link.parent = model,
                        None => {
                            state.model_calls += 1;
                            let id = self
                                .strings
                                .intern(&format!("t{}.m{}", state.turns, state.model_calls));
                            link.id = id;
                            link.parent = state.turn.or(state.root).unwrap_or(NO_STRING);
                            state.model = Some(id);
                            state.model_open = true;
                        }
                    }
                    resumed = true;
                }
                Place::Call => {
                    let model = state.model.filter(|_| state.model_open);
                    link.parent = model.or(state.turn).or(state.root).unwrap_or(NO_STRING);
                }
                Place::Aside => {
                    if own_parent == NO_STRING {
                        link.parent = state.turn.or(state.root).unwrap_or(NO_STRING);
                    }
                }
                Place::Input | Place::Abort => {
                    state.model_open = false;
                    if own_parent == NO_STRING {
                        link.parent = state.turn.or(state.root).unwrap_or(NO_STRING);
                    }
                }
            }
            let run = run_of(placed.step);
            if resumed {
                if let Some(aborted) = state.aborted.take() {
                    let entry = &mut self.runs[aborted as usize];
                    if entry.declared == Some(Outcome::Cancelled) {
                        entry.declared = None;
                        entry.end_error = None;
                    }
                }
            }
            if placed.place == Place::Abort && self.runs[run as usize].declared.is_none() {
                state.aborted = Some(run);
                let entry = &mut self.runs[run as usize];
                entry.declared = Some(Outcome::Cancelled);
                entry.end_error = Some("the last turn was aborted".into());
            }
            if link.start {
                self.steps[index].set_kind(StepKind::RunStart);
            }
            if link.id != NO_STRING || link.parent != NO_STRING || link.start {
                let s = &self.steps[index];
                self.links.insert((s.loc, s.seq), link);
            }
        }
    }
}
