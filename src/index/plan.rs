//! Reading a run's steps back from the files: a [`StepPlan`] says where they live (taken
//! under a short hold of the history) and reads them outside it, applying the links the
//! index resolved (aliases, places, the trigger).

use std::collections::BTreeMap;
use std::path::PathBuf;

use rustc_hash::FxHashMap;

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

/// Where some steps of a run live (see [`RunRef::plan`]): owns what reading them needs.
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
    /// statuses and errors only, as [`RunRef::load_links`]).
    pub fn read(&self, with_records: bool) -> Result<Vec<Step>, Error> {
        // Several steps can share a record (spans of one OTLP line, blocks of one
        // message): each distinct record is read and parsed once.
        let mut records: BTreeMap<(usize, u64), Option<u32>> = BTreeMap::new();
        for &(file, offset, len, ..) in &self.steps {
            records.insert((file, offset), len);
        }
        let mut by_file: BTreeMap<usize, Vec<(u64, Option<u32>)>> = BTreeMap::new();
        for (&(file, offset), &len) in &records {
            by_file.entry(file).or_default().push((offset, len));
        }
        let mut decoded: BTreeMap<(usize, u64), Vec<Step>> = BTreeMap::new();
        for (file, ranges) in by_file {
            let (path, format) = &self.files[&file];
            let stem = crate::source::stem(path);
            let ctx = Context { file_stem: &stem };
            let contents = crate::source::read_ranges(path, &ranges)?;
            for ((offset, _), bytes) in ranges.into_iter().zip(contents) {
                let steps =
                    decode_record(*format, &bytes, &ctx, with_records).map_err(|reason| {
                        Error::Unreadable {
                            path: path.clone(),
                            offset,
                            reason,
                        }
                    })?;
                decoded.insert((file, offset), steps);
            }
        }
        // A step asked for once (always, for native lines) is moved out, not copied.
        let mut uses: FxHashMap<(usize, u64, usize), u32> = FxHashMap::default();
        for &(file, offset, _, sub, _) in &self.steps {
            *uses.entry((file, offset, sub)).or_default() += 1;
        }
        let mut decoded: BTreeMap<(usize, u64), Vec<Option<Step>>> = decoded
            .into_iter()
            .map(|(k, steps)| (k, steps.into_iter().map(Some).collect()))
            .collect();
        self.steps
            .iter()
            .enumerate()
            .map(|(i, &(file, offset, _, sub, trigger))| {
                let left = uses.get_mut(&(file, offset, sub)).map(|n| {
                    *n -= 1;
                    *n
                });
                let slot = decoded
                    .get_mut(&(file, offset))
                    .and_then(|steps| steps.get_mut(sub));
                let step = match (slot, left) {
                    (Some(slot), Some(0)) => slot.take(),
                    (Some(slot), _) => slot.clone(),
                    (None, _) => None,
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
    let text = std::str::from_utf8(bytes).map_err(|e| format!("invalid UTF-8: {e}"))?;
    let mut events = Vec::new();
    let mut problems = Vec::new();
    parse_record(format, text, ctx, with_records, &mut events, &mut problems)?;
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
