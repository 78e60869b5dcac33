//! Reading a run's steps back from the files: a [`StepPlan`] says where they live (taken
//! under a short hold of the history) and reads them outside it, applying the links the
//! index resolved (aliases, places, the trigger).

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::AliasTable;
use crate::ingest::{parse_record, Context};
use crate::model::{Format, Step, StepKind};
use crate::Error;

/// Hops followed from an alias to the id it stands for (an alias may name another).
const ALIAS_HOPS: usize = 4;

/// The id `name` stands for in `table`, when it is an alias.
fn resolve_alias(table: &AliasTable, name: &str) -> Option<String> {
    let mut current = name;
    let mut resolved = None;
    for _ in 0..ALIAS_HOPS {
        match table.get(&crate::ingest::text_key(current)) {
            Some((id, _)) if **id != *current => {
                resolved = Some(&**id);
                current = id;
            }
            _ => break,
        }
    }
    resolved.map(str::to_owned)
}

/// Where some steps of a run live (see [`super::RunRef::plan`]): owns what reading them needs.
#[derive(Debug, Clone)]
pub struct StepPlan {
    /// The run position of the first step.
    pub(super) start: usize,
    pub(super) files: BTreeMap<usize, (PathBuf, Format)>,
    /// Per step: file, record offset, record length, place among the record's steps,
    /// whether the index made it the run's trigger.
    pub(super) steps: Vec<(usize, u64, Option<u32>, usize, bool)>,
    pub(super) aliases: Option<std::sync::Arc<AliasTable>>,
    /// Per step (empty when none has one): its resolved id, parent and whether it is its
    /// run's start (see [`crate::ingest::Place`]).
    pub(super) links: Vec<Option<ResolvedLink>>,
}

type ResolvedLink = (Option<String>, Option<String>, bool);

impl StepPlan {
    pub fn len(&self) -> usize {
        self.steps.len()
    }

    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    /// Reads and parses the steps (`with_records: false`: ids, parents, kinds, names,
    /// statuses and errors only, as [`super::RunRef::load_links`]).
    pub fn read(&self, with_records: bool) -> Result<Vec<Step>, Error> {
        self.read_as(if with_records {
            Detail::Full
        } else {
            Detail::Links
        })
    }

    /// Reads and parses the steps with only the record fields a step's summary (and
    /// its tokens, when `tokens`) are made of ([`crate::describe::summary_fields`]):
    /// what a table row or a step's JSON line shows, at a fraction of the cost for
    /// native lines. Fields a summary only shows as compact text hold that text.
    pub fn read_summaries(&self, tokens: bool) -> Result<Vec<Step>, Error> {
        self.read_as(Detail::Summary { tokens })
    }

    fn read_as(&self, detail: Detail) -> Result<Vec<Step>, Error> {
        // Several steps can share a record (spans of one OTLP line, blocks of one
        // message): each distinct record is read and parsed once.
        let mut records: Vec<(usize, u64, Option<u32>)> = (self.steps.iter())
            .map(|&(file, offset, len, ..)| (file, offset, len))
            .collect();
        records.sort_unstable_by_key(|&(file, offset, _)| (file, offset));
        records.dedup_by_key(|&mut (file, offset, _)| (file, offset));
        // The steps of every record, flat (one allocation, read in order), and where each
        // record's steps start.
        let mut decoded: Vec<Option<Step>> = Vec::with_capacity(records.len());
        let mut record_starts: Vec<usize> = Vec::with_capacity(records.len() + 1);
        for group in records.chunk_by(|a, b| a.0 == b.0) {
            let file = group[0].0;
            let (path, format) = &self.files[&file];
            let stem = crate::source::stem(path);
            let ctx = Context { file_stem: &stem };
            let ranges: Vec<(u64, Option<u32>)> = group
                .iter()
                .map(|&(_, offset, len)| (offset, len))
                .collect();
            let contents = crate::source::read_ranges(path, &ranges)?;
            for ((offset, _), bytes) in ranges.into_iter().zip(contents) {
                let steps = decode_as(*format, &bytes, &ctx, detail).map_err(|reason| {
                    Error::Unreadable {
                        path: path.clone(),
                        offset,
                        reason,
                    }
                })?;
                record_starts.push(decoded.len());
                decoded.extend(steps.into_iter().map(Some));
            }
        }
        record_starts.push(decoded.len());
        let record_of = |file: usize, offset: u64| {
            records
                .binary_search_by_key(&(file, offset), |&(f, o, _)| (f, o))
                .ok()
        };
        // A step asked for once (always, for native lines: one step, one record) is
        // moved out, not copied; one asked for again later is copied.
        let asked_again: Vec<bool> = if records.len() == self.steps.len() {
            vec![false; self.steps.len()]
        } else {
            let mut later = rustc_hash::FxHashSet::default();
            let mut again: Vec<bool> = (self.steps.iter().rev())
                .map(|&(file, offset, _, sub, _)| !later.insert((file, offset, sub)))
                .collect();
            again.reverse();
            again
        };
        self.steps
            .iter()
            .enumerate()
            .map(|(i, &(file, offset, _, sub, trigger))| {
                let slot = record_of(file, offset)
                    .filter(|&r| record_starts[r] + sub < record_starts[r + 1])
                    .and_then(|r| decoded.get_mut(record_starts[r] + sub));
                let step = match slot {
                    Some(slot) if asked_again[i] => slot.clone(),
                    Some(slot) => slot.take(),
                    None => None,
                };
                let mut step = step.ok_or_else(|| Error::Unreadable {
                    path: self.files[&file].0.clone(),
                    offset,
                    reason: format!("step {sub} of the record is gone"),
                })?;
                let position = (self.start + i) as u32;
                if let Some(Some((id, parent, start))) = self.links.get(i) {
                    resolve(&mut step, id, parent, *start);
                }
                if trigger && step.kind != StepKind::RunStart {
                    step.kind = StepKind::RunStart;
                    step.kind_name = StepKind::RunStart.as_str().to_string();
                }
                if let (Some(table), Some(parent)) = (&self.aliases, &step.parent) {
                    if let Some(id) = resolve_alias(table, parent) {
                        step.parent = Some(id);
                    }
                }
                if step.id.is_empty() {
                    step.id = position.to_string();
                }
                step.step = position;
                Ok(step)
            })
            .collect()
    }
}

/// How much of each record a read builds.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Detail {
    /// No record (`null`).
    Links,
    /// Only the record fields summaries (and tokens) are made of (native lines; other
    /// formats build their whole records).
    Summary { tokens: bool },
    /// The whole record.
    Full,
}

/// Gives a step the place the index resolved for it.
fn resolve(step: &mut Step, id: &Option<String>, parent: &Option<String>, start: bool) {
    if let Some(id) = id {
        step.id = id.clone();
    }
    if parent.is_some() {
        step.parent = parent.clone();
    }
    if start {
        step.kind = StepKind::RunStart;
        step.kind_name = StepKind::RunStart.as_str().to_string();
        if let Some(record) = step.record.as_object_mut() {
            record.insert("kind".into(), StepKind::RunStart.as_str().into());
        }
    }
}

/// Parses one stored record into its full steps (one for a native line).
pub(super) fn decode_record(
    format: Format,
    bytes: &[u8],
    ctx: &Context,
    with_records: bool,
) -> Result<Vec<Step>, String> {
    let detail = if with_records {
        Detail::Full
    } else {
        Detail::Links
    };
    decode_as(format, bytes, ctx, detail)
}

fn decode_as(
    format: Format,
    bytes: &[u8],
    ctx: &Context,
    detail: Detail,
) -> Result<Vec<Step>, String> {
    let text = std::str::from_utf8(bytes).map_err(|e| format!("invalid UTF-8: {e}"))?;
    let mut events = Vec::new();
    let mut problems = Vec::new();
    let summary_only = match detail {
        Detail::Summary { tokens } if format == Format::Native => Some(tokens),
        _ => None,
    };
    let with_records = detail != Detail::Links && summary_only.is_none();
    parse_record(format, text, ctx, with_records, &mut events, &mut problems)?;
    if let Some(tokens) = summary_only {
        for ev in &mut events {
            let kind = ev.step_kind();
            ev.record = Some(super::summary_fields::of_native_line(text, kind, tokens));
        }
    }
    Ok(events
        .into_iter()
        .filter(|ev| !ev.run_info_only)
        .map(|ev| Step {
            step: 0,
            id: ev
                .id
                .as_deref()
                .map(str::to_owned)
                .or_else(|| ev.step.map(|s| s.to_string()))
                .unwrap_or_default(),
            parent: ev.parent.as_deref().map(str::to_owned),
            kind: ev.step_kind(),
            kind_name: ev.kind.to_string(),
            name: ev.name.as_deref().map(str::to_owned),
            status: ev.effective_status(),
            error: ev.error.clone(),
            ts: ev.ts,
            duration_ms: ev.duration_ms,
            record: ev.record.unwrap_or(serde_json::Value::Null),
        })
        .collect())
}
