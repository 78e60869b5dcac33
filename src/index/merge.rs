//! Folds parsed batches into the history, in file order, and keeps each touched run's
//! order and figures up to date. Used by a full load and by a background or live one.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::SystemTime;

use super::parse::{LocalRun, Parsed};
use super::pipeline::{Batch, LoadEvent, Loader};
use super::{FileInfo, History, LoadOptions, RunEntry, StepSummary, MAX_FILES, NO_STRING, NO_TS};
use crate::ingest::detect::{detect, SNIFF_BYTES};
use crate::model::{Format, Problem, StepKind};
use crate::source::{self, Source};
use crate::Error;

impl History {
    /// Loads every run file under `paths` (see [`crate::source::discover`]) and waits
    /// for the whole load.
    pub fn load(paths: &[PathBuf], options: &LoadOptions) -> Result<History, Error> {
        let (mut history, loader) = History::open(paths, options)?;
        for event in loader.events() {
            match event {
                LoadEvent::Batch(batch) => history.apply(batch),
                LoadEvent::Done(result) => {
                    result?;
                    break;
                }
            }
        }
        history.settle();
        Ok(history)
    }

    /// Finds the files under `paths` and starts reading them in the background. The
    /// history starts empty; [`History::apply`] each batch as it arrives, then
    /// [`History::settle`] before reading runs.
    pub fn open(paths: &[PathBuf], options: &LoadOptions) -> Result<(History, Loader), Error> {
        let found = source::discover(paths)?;
        let mut history = History {
            skipped_files: found.skipped,
            running_window_ms: options.running_window.as_millis() as i64,
            problems: found.problems,
            cache: (options.cache.clone()).map(|dir| (dir, options.cache_min_bytes)),
            ..History::default()
        };
        let mut bytes_total = 0;
        let mut sources = Vec::new();
        for found in &found.files {
            let path = &found.path;
            if history.files.len() >= MAX_FILES {
                history.problems.push(whole_file_problem(
                    path,
                    format!("not read: a history holds at most {MAX_FILES} files"),
                ));
                continue;
            }
            // Gone or unreadable since the folder was listed: a problem, not the end.
            let read = std::fs::metadata(path).and_then(|meta| {
                let head = match options.format {
                    Some(_) if !found.needs_known_format => Vec::new(),
                    _ => source::head(path, SNIFF_BYTES).map_err(|e| match e {
                        Error::Io { cause, .. } => cause,
                        other => std::io::Error::other(other.to_string()),
                    })?,
                };
                Ok((meta, head))
            });
            let (meta, head) = match read {
                Ok(read) => read,
                Err(e) => {
                    history
                        .problems
                        .push(whole_file_problem(path, format!("cannot open: {e}")));
                    continue;
                }
            };
            let detected = match options.format {
                Some(f) if !found.needs_known_format => Some(f),
                _ => detect(&head),
            };
            let format = match (detected, found.needs_known_format) {
                (Some(f), _) => f,
                // A `.json` file found in a folder that is no known format is passed over.
                (None, true) => {
                    history.skipped_files += 1;
                    continue;
                }
                // Anything else is read as native, so that its bad lines are reported.
                (None, false) => Format::Native,
            };
            bytes_total += meta.len();
            sources.push(Source {
                path: path.clone(),
                format,
                stem: source::stem(path).into(),
                size: meta.len(),
            });
            history.files.push(FileInfo {
                path: path.clone(),
                format,
                // A stream was written once, before the load: nothing of it is running.
                modified: meta.modified().ok().filter(|_| !source::is_stream(path)),
                lines: 0,
                consumed: 0,
                cached: 0,
                notes: Default::default(),
            });
        }
        let threads = options
            .threads
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()))
            .max(1);
        let loader = Loader::start(
            sources,
            bytes_total,
            threads,
            options.chunk_size.max(64),
            options.behind_ui,
            options
                .cache
                .clone()
                .map(|dir| (dir, options.cache_min_bytes)),
            options.line_scan.as_ref().map(|hook| Arc::clone(&hook.0)),
        );
        Ok((history, loader))
    }

    /// Adds one batch of parsed steps. Batches must be applied in the order the loader
    /// delivers them.
    pub fn apply(&mut self, batch: Batch) {
        let p: Parsed = *batch.0;
        let strings: Vec<u32> = p
            .strings
            .strings()
            .iter()
            .map(|s| self.strings.intern(s))
            .collect();
        let remap = |id: u32| {
            if id == NO_STRING {
                id
            } else {
                strings[id as usize]
            }
        };
        let triggers: Vec<Option<(u32, StepKind)>> = p.runs.iter().map(|r| r.trigger).collect();
        let runs: Vec<u32> = p
            .runs
            .into_iter()
            .map(|local| self.merge_run(local, p.file, &strings))
            .collect();
        for alias in p.aliases {
            let entry = &mut self.runs[runs[alias.run as usize] as usize];
            let table =
                std::sync::Arc::make_mut(entry.aliases.get_or_insert_with(Default::default));
            match table.get(&alias.name) {
                Some((_, false)) => {}
                Some((_, true)) if alias.weak => {}
                _ => {
                    table.insert(alias.name, (alias.id, alias.weak));
                }
            }
        }
        let mut start = self.steps.len() as u32;
        let batch_start = start;
        for (i, error) in p.step_errors.into_iter().enumerate() {
            if error != NO_STRING {
                self.step_errors.insert(start + i as u32, remap(error));
            }
        }
        self.steps.extend(p.steps.into_iter().map(|mut s| {
            s.name = remap(s.name);
            s
        }));
        for (local_run, &count) in p.run_steps.iter().enumerate() {
            let run = runs[local_run];
            let entry = &mut self.runs[run as usize];
            if !entry.dirty {
                entry.dirty = true;
                self.dirty.push(run);
            }
            entry.push_steps(start, count);
            // Only the run's first step that may be its trigger becomes its `run_start`.
            if let Some((at, kind)) = triggers[local_run] {
                if entry.has_trigger {
                    self.steps[(start + at) as usize].set_kind(kind);
                }
                entry.has_trigger = true;
            }
            start += count;
        }
        if !p.extras.places.is_empty() {
            // The run of each step of the batch: steps are grouped by run, in run order.
            let mut ends = Vec::with_capacity(runs.len());
            let mut end = 0;
            for &count in &p.run_steps {
                end += count;
                ends.push(end);
            }
            let run_of = |step: u32| runs[ends.partition_point(|&e| e <= step)];
            self.place(p.file, batch_start, &p.extras.places, run_of, remap);
        }
        if !p.extras.record_ids.is_empty() || !p.extras.summaries.is_empty() {
            let extras = &p.extras;
            self.read_leaves(
                batch_start,
                &extras.record_ids,
                &extras.summaries,
                &runs,
                remap,
            );
        }
        let info = &mut self.files[p.file as usize];
        for (line, reason) in p.extras.notes {
            if info.notes.insert(reason.clone()) {
                self.problems.push(Problem {
                    file: info.path.clone(),
                    line: info.lines + line,
                    reason,
                });
            }
        }
        for (line, reason) in p.problems {
            self.problems.push(Problem {
                file: info.path.clone(),
                line: info.lines + line,
                reason,
            });
        }
        info.lines += p.lines;
        info.consumed = info.consumed.max(p.end);
        if p.from_cache {
            info.cached = info.cached.max(p.end);
        }
    }

    /// Adds a file found after the history was opened (by watching); returns its index,
    /// the `file` its batches carry.
    pub fn add_file(&mut self, path: PathBuf, format: Format) -> u32 {
        self.files.push(FileInfo {
            modified: std::fs::metadata(&path).and_then(|m| m.modified()).ok(),
            path,
            format,
            lines: 0,
            consumed: 0,
            cached: 0,
            notes: Default::default(),
        });
        (self.files.len() - 1) as u32
    }

    /// Records that a file's bytes now live under another name (it was rotated), so that
    /// its steps are still read from the right place.
    pub fn rename_file(&mut self, file: u32, path: PathBuf) {
        if let Some(info) = self.files.get_mut(file as usize) {
            info.path = path;
        }
    }

    /// Notes that a file grew just now: its runs without `run_end` are running.
    pub fn touch_file(&mut self, file: u32) {
        if let Some(info) = self.files.get_mut(file as usize) {
            info.modified = Some(SystemTime::now());
        }
    }

    /// Merges a batch's piece of a run; `strings` numbers the batch's strings in the
    /// history's.
    fn merge_run(&mut self, local: LocalRun, file: u32, strings: &[u32]) -> u32 {
        // One hash of the id, whether the run is new or not.
        let index = match self.run_by_id.entry(local.id) {
            std::collections::hash_map::Entry::Occupied(known) => *known.get(),
            std::collections::hash_map::Entry::Vacant(new) => {
                let i = self.runs.len() as u32;
                self.runs.push(RunEntry {
                    id: new.key().clone(),
                    agent: NO_STRING,
                    agent_version: NO_STRING,
                    model: NO_STRING,
                    ..RunEntry::default()
                });
                new.insert(i);
                i
            }
        };
        let entry = &mut self.runs[index as usize];
        if !entry.files.contains(&file) {
            entry.files.push(file);
        }
        // Checked against the batch's strings when decoded or parsed.
        let string = |id: u32| strings.get(id as usize).copied().unwrap_or(NO_STRING);
        for (slot, value) in [
            (&mut entry.agent, local.agent),
            (&mut entry.agent_version, local.agent_version),
            (&mut entry.model, local.model),
        ] {
            if let Some(v) = value {
                *slot = string(v);
            }
        }
        entry.tokens.merge(local.tokens);
        if local.declared.is_some() {
            entry.declared = local.declared;
            entry.end_error = local.end_error;
        }
        if let Some(labels) = local.labels {
            let pairs: Vec<(u32, u32)> = labels
                .iter()
                .map(|&(k, v)| (string(k), string(v)))
                .collect();
            match self.runs[index as usize].labels.is_empty() {
                // Nearly every run's labels come once (its `run_start`), in the order of
                // their keys' text already (the order `merge_labels` sorts by).
                true => self.runs[index as usize].labels = pairs.into(),
                false => self.merge_labels(index, &pairs),
            }
        }
        index
    }

    /// Sets labels (interned key, value) of a run, replacing those of the same key.
    pub(super) fn merge_labels(&mut self, run: u32, labels: &[(u32, u32)]) {
        let entry = &mut self.runs[run as usize];
        let mut merged: Vec<(u32, u32)> = entry.labels.to_vec();
        for &(k, v) in labels {
            match merged.iter_mut().find(|(key, _)| *key == k) {
                Some(slot) => slot.1 = v,
                None => merged.push((k, v)),
            }
        }
        merged.sort_by(|a, b| self.strings.get(a.0).cmp(self.strings.get(b.0)));
        entry.labels = merged.into();
    }

    /// Brings every run touched since the last call into order and updates its figures;
    /// returns those runs (new ones among them), for views that follow the history.
    pub fn settle(&mut self) -> Vec<u32> {
        let touched = std::mem::take(&mut self.dirty);
        for (&run, in_order) in touched.iter().zip(self.check_runs(&touched)) {
            let run = run as usize;
            let figures = match in_order {
                Some(figures) => figures,
                None => self.reorder_run(run),
            };
            let entry = &mut self.runs[run];
            entry.dirty = false;
            (entry.started_at, entry.ended_at) = (figures.started_at, figures.ended_at);
            (entry.errors, entry.first_error) = (figures.errors, figures.first_error);
            entry.counted = entry.step_count() as u32;
            entry.segments.shrink_to_fit();
        }
        touched
    }

    /// [`History::check_run`] of each of `runs`; on every core when there are many (a
    /// whole load: each run's steps are read once, scattered over the history).
    fn check_runs(&self, runs: &[u32]) -> Vec<Option<Figures>> {
        const PER_THREAD: usize = 4096;
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        let check = |runs: &[u32]| -> Vec<Option<Figures>> {
            runs.iter().map(|&r| self.check_run(r as usize)).collect()
        };
        if threads < 2 || runs.len() < 2 * PER_THREAD {
            return check(runs);
        }
        let chunk = runs.len().div_ceil(threads);
        std::thread::scope(|scope| {
            let parts: Vec<_> = runs
                .chunks(chunk)
                .map(|part| scope.spawn(move || check(part)))
                .collect();
            parts
                .into_iter()
                .flat_map(|part| part.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
                .collect()
        })
    }

    /// The figures of a run whose steps are in order (counting the steps not counted
    /// yet); `None` when they are not. One pass, without collecting the run's steps:
    /// nearly every run is in order.
    fn check_run(&self, run: usize) -> Option<Figures> {
        let entry = &self.runs[run];
        let steps = &self.steps;
        // Order by `step` where given; steps without one keep their order of appearance
        // (the sort is stable) after the numbered ones. Only the steps not yet counted
        // can be out of place, but an early `step` arriving late moves everything after it.
        let from = (entry.counted as usize).saturating_sub(1);
        let by_step = self.orders_by_step(entry);
        let mut figures = Figures::of(entry);
        let counted = entry.counted as usize;
        let mut keys = OrderKeys::new(steps, by_step);
        let mut last = i64::MIN;
        let in_order = entry.global_indices().enumerate().all(|(pos, i)| {
            let key = keys.next(i);
            let ok = pos <= from || last <= key;
            last = key;
            if pos >= counted {
                figures.count(pos, &steps[i as usize]);
            }
            ok
        });
        in_order.then_some(figures)
    }

    /// Native runs are ordered by their `step` numbers; runs of other formats, whose
    /// records arrive in export order (spans) or from several files (sub-agents), by time.
    fn orders_by_step(&self, entry: &RunEntry) -> bool {
        let format = entry.files.first().map(|&f| self.files[f as usize].format);
        format.unwrap_or(Format::Native) == Format::Native
    }

    /// Puts a run's steps in order (moving their error labels with them) and counts its
    /// figures again.
    fn reorder_run(&mut self, run: usize) -> Figures {
        let by_step = self.orders_by_step(&self.runs[run]);
        let entry = &mut self.runs[run];
        let steps = &mut self.steps;
        let slots: Vec<u32> = entry.global_indices().collect();
        let mut keys = OrderKeys::new(steps, by_step);
        let mut ordered: Vec<(i64, StepSummary, u32)> = slots
            .iter()
            .map(|&i| {
                let error = self.step_errors.remove(&i).unwrap_or(NO_STRING);
                (keys.next(i), steps[i as usize], error)
            })
            .collect();
        ordered.sort_by_key(|(key, ..)| *key);
        for (&slot, (_, s, error)) in slots.iter().zip(ordered) {
            steps[slot as usize] = s;
            if error != NO_STRING {
                self.step_errors.insert(slot, error);
            }
        }
        entry.reset_figures();
        let mut figures = Figures::of(entry);
        for (pos, &i) in slots.iter().enumerate() {
            figures.count(pos, &steps[i as usize]);
        }
        figures
    }
}

/// A run's figures that its steps add up to.
struct Figures {
    started_at: Option<i64>,
    ended_at: Option<i64>,
    errors: u32,
    first_error: Option<u32>,
}

impl Figures {
    /// The figures of the steps `entry` counted so far.
    fn of(entry: &RunEntry) -> Figures {
        Figures {
            started_at: entry.started_at,
            ended_at: entry.ended_at,
            errors: entry.errors,
            first_error: entry.first_error,
        }
    }

    /// Counts the run's step at `pos`.
    fn count(&mut self, pos: usize, s: &StepSummary) {
        if s.ts != NO_TS {
            self.started_at = Some(self.started_at.map_or(s.ts, |t| t.min(s.ts)));
            // A run_end's duration is the whole run's: it ended at its own time.
            let dur = if s.duration_ms.is_nan() || s.kind() == StepKind::RunEnd {
                0
            } else {
                s.duration_ms as i64
            };
            let end = s.ts + dur;
            self.ended_at = Some(self.ended_at.map_or(end, |t| t.max(end)));
        }
        if s.is_error() {
            self.errors += 1;
            self.first_error.get_or_insert(pos as u32);
        }
    }
}

/// The keys a run's steps are ordered by, in run order: `step` numbers, or times, a step
/// without a time keeping its place after the step logged before it.
struct OrderKeys<'a> {
    steps: &'a [StepSummary],
    by_step: bool,
    /// The time of the last step before that had one.
    carried: i64,
}

impl<'a> OrderKeys<'a> {
    fn new(steps: &'a [StepSummary], by_step: bool) -> OrderKeys<'a> {
        OrderKeys {
            steps,
            by_step,
            carried: NO_TS,
        }
    }

    /// The key of the run's next step, stored at `index`.
    fn next(&mut self, index: u32) -> i64 {
        let s = &self.steps[index as usize];
        if self.by_step {
            return i64::from(s.seq);
        }
        if s.ts != NO_TS {
            self.carried = s.ts;
        }
        self.carried
    }
}

fn whole_file_problem(path: &std::path::Path, reason: String) -> Problem {
    Problem {
        file: path.to_path_buf(),
        line: 0,
        reason,
    }
}
