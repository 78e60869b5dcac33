//! The search engine behind [`super::search`]: candidate steps from the text index and
//! the metadata (names, error labels, matched once per distinct string), run hits from
//! run fields, then the best candidates read back to confirm them and cut snippets,
//! and everything ranked.

use std::cmp::Reverse;

use rustc_hash::FxHashMap;

use super::matcher::{self, normalize, snippet, FieldMatch, Matcher, Unit};
use super::{text_index, tokens, Cancelled, Hit, Query, SearchOptions, SearchResult, TextSource};
use crate::index::{History, RunRef, StrId};
use crate::model::{Status, Step, StepKind};
use crate::work::Cancel;

/// Confirmed hits wanted beyond `limit` before ranking the rest out.
const VERIFY_SLACK: usize = 16;
/// Most records read back to confirm candidates (phrases can reject many), unless
/// more hits are asked for.
const MAX_VERIFY: usize = 4000;

/// The run and position of each of `slots`, found in one pass over the runs.
fn locate(history: &History, slots: &[u32]) -> FxHashMap<u32, (usize, u32)> {
    let mut sorted = slots.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let mut found = FxHashMap::default();
    if sorted.is_empty() {
        return found;
    }
    // Newest runs first: hits are most often there.
    for run in (0..history.run_count()).rev().map(|i| history.run(i)) {
        let mut position = 0;
        for r in run.slot_ranges() {
            let from = sorted.partition_point(|&s| s < r.start);
            for &slot in sorted[from..].iter().take_while(|&&s| s < r.end) {
                found.insert(slot, (run.index(), position + slot - r.start));
            }
            position += r.end - r.start;
        }
        if found.len() == sorted.len() {
            break;
        }
    }
    found
}

/// How one interned string (as a step name or error label) matches the query.
#[derive(Default, Clone)]
struct StringFacts {
    tool_ok: bool,
    error_ok: bool,
    /// Per unit, its best score in the string; and the string's bonus.
    units: Vec<u32>,
    bonus: u32,
}

pub(super) struct Search<'a> {
    history: &'a History,
    query: &'a Query,
    options: &'a SearchOptions,
    matcher: Matcher,
    units: Vec<Unit>,
    query_norm: String,
    /// Runs passing the run filters (None: all).
    runs_ok: Option<Vec<bool>>,
    strings: Vec<StringFacts>,
}

/// Per unit, its best score in a field; and the field's bonus.
type UnitScores = (Vec<u32>, u32);

/// A run field a run hit is shown with.
#[derive(Debug, Clone, Copy)]
enum RunField {
    /// No text: the run's id, agent and outcome.
    Summary,
    RunId,
    Agent,
    Model,
    /// The run's label at this index.
    Label(usize),
    EndError,
}

enum Found {
    Step(Hit),
    Run(RunField),
}

/// A hit being ranked.
struct Ranked {
    score: u32,
    /// Newer first among equals.
    recency: i64,
    run: usize,
    step: Option<u32>,
    found: Found,
}

impl Ranked {
    fn run(run: &RunRef, score: u32, field: RunField) -> Ranked {
        Ranked {
            score,
            recency: run.started_at().unwrap_or(i64::MIN),
            run: run.index(),
            step: None,
            found: Found::Run(field),
        }
    }

    fn key(&self) -> (Reverse<u32>, Reverse<i64>, usize, Option<u32>) {
        (
            Reverse(self.score),
            Reverse(self.recency),
            self.run,
            self.step,
        )
    }
}

/// A step that matched the words and filters, not yet confirmed.
#[derive(Clone, Copy)]
struct Candidate {
    slot: u32,
    score: u32,
}

impl<'a> Search<'a> {
    pub(super) fn new(
        history: &'a History,
        query: &'a Query,
        options: &'a SearchOptions,
    ) -> Search<'a> {
        let mut matcher = Matcher::default();
        let units = matcher.units(query);
        let query_norm = normalize(
            &query
                .terms
                .iter()
                .map(|t| t.text.as_str())
                .collect::<Vec<_>>()
                .join(" "),
        );
        let runs_ok = (query.run.is_active() || options.only_run.is_some()).then(|| {
            history
                .runs()
                .map(|r| {
                    options.only_run.map_or(true, |only| only == r.index())
                        && query.matches_run(&r, options.now)
                })
                .collect()
        });
        let steps = &query.step;
        let masks: Vec<u64> = units.iter().map(matcher::unit_mask).collect();
        let strings = history
            .interned()
            .map(|(_, s)| {
                let m = if units.is_empty() {
                    None
                } else if !masks.iter().any(|u| u & !matcher::char_mask(s) == 0) {
                    Some(FieldMatch::none(units.len()))
                } else {
                    Some(matcher.match_field(&units, &query_norm, s, true))
                };
                StringFacts {
                    tool_ok: steps.tools.is_empty() || steps.tools.iter().any(|p| p.matches(s)),
                    error_ok: steps.errors.is_empty() || steps.errors.iter().any(|p| p.matches(s)),
                    units: m.as_ref().map(|m| m.units.clone()).unwrap_or_default(),
                    bonus: m.map_or(0, |m| m.bonus),
                }
            })
            .collect();
        Search {
            history,
            query,
            options,
            matcher,
            units,
            query_norm,
            runs_ok,
            strings,
        }
    }

    pub(super) fn run(
        mut self,
        text: Option<&dyn TextSource>,
        cancel: &Cancel,
    ) -> Result<SearchResult, Cancelled> {
        let history = self.history;
        let allowed = self.allowed_slots();
        let mut result = SearchResult::default();
        let mut candidates: Vec<Candidate> = Vec::new();
        let step_count = history.step_count() as u32;
        let covered = if self.units.is_empty() {
            0
        } else {
            text.map_or(0, |t| t.covered().min(step_count))
        };
        result.text_covered = covered as usize;

        if let (Some(index), true) = (text, covered > 0) {
            let mut budget = text_index::FUZZY_BUDGET;
            index
                .candidates(
                    &self.units,
                    &self.matcher,
                    &mut budget,
                    cancel,
                    &mut |slot, score| {
                        if slot >= covered {
                            return;
                        }
                        if let Some(bonus) = self.step_passes(slot, allowed.as_deref()) {
                            candidates.push(Candidate {
                                slot,
                                score: score + bonus,
                            });
                        }
                    },
                )
                .ok_or(Cancelled)?;
            result.fuzzy_truncated = budget == 0;
        }
        // Steps outside the text index: by name and error label, or by the filters
        // alone when there is no text.
        if self.units.is_empty() && !self.query.step.is_active() {
            // Runs only.
        } else if self.units.is_empty() && !self.query.step.errors.is_empty() {
            for (slot, _) in history.error_slots() {
                if self.step_passes(slot, allowed.as_deref()).is_some() {
                    candidates.push(Candidate { slot, score: 0 });
                }
            }
        } else {
            for slot in covered..step_count {
                if slot % 65_536 == 0 && cancel.is_cancelled() {
                    return Err(Cancelled);
                }
                if let Some(bonus) = self.step_passes(slot, allowed.as_deref()) {
                    if let Some(score) = self.meta_score(slot) {
                        candidates.push(Candidate {
                            slot,
                            score: score + bonus,
                        });
                    }
                }
            }
        }
        result.candidates = candidates.len();

        let mut ranked = self.run_hits(cancel)?;
        result.candidates += ranked.len();
        let step_hits = self.confirm(candidates, cancel)?;
        ranked.extend(step_hits.into_iter().map(|(hit, recency)| Ranked {
            score: hit.score,
            recency,
            run: hit.run,
            step: hit.step,
            found: Found::Step(hit),
        }));
        let limit = self.options.limit;
        if ranked.len() > limit {
            if limit > 0 {
                ranked.select_nth_unstable_by_key(limit - 1, Ranked::key);
            }
            ranked.truncate(limit);
        }
        ranked.sort_by_key(Ranked::key);
        result.hits = ranked
            .into_iter()
            .map(|r| match r.found {
                Found::Step(hit) => hit,
                Found::Run(field) => self.run_hit(r.run, r.score, field),
            })
            .collect();
        Ok(result)
    }

    /// The slots of the runs passing the run filters (None: all).
    fn allowed_slots(&self) -> Option<Vec<u64>> {
        let runs_ok = self.runs_ok.as_ref()?;
        let mut bits = vec![0u64; self.history.step_count().div_ceil(64)];
        for run in self.history.runs().filter(|r| runs_ok[r.index()]) {
            for r in run.slot_ranges() {
                for slot in r {
                    bits[(slot / 64) as usize] |= 1 << (slot % 64);
                }
            }
        }
        Some(bits)
    }

    /// Whether the step in `slot` passes the filters; if so, the bonus its name or
    /// error label earns.
    fn step_passes(&self, slot: u32, allowed: Option<&[u64]>) -> Option<u32> {
        if let Some(bits) = allowed {
            if bits[(slot / 64) as usize] & (1 << (slot % 64)) == 0 {
                return None;
            }
        }
        let info = self.history.slot_info(slot);
        let filter = &self.query.step;
        if !filter.matches_kind_status(info.kind, info.status) {
            return None;
        }
        let name = info.name.map(|n| &self.strings[n.0 as usize]);
        let is_tool = matches!(info.kind, StepKind::ToolCall | StepKind::ToolResult);
        if !(filter.tools.is_empty() || is_tool && name.is_some_and(|n| n.tool_ok)) {
            return None;
        }
        let error = self.error_of(slot, info.kind, info.status);
        if !filter.errors.is_empty() && !error.is_some_and(|e| e.error_ok) {
            return None;
        }
        Some(
            name.map_or(0, |n| n.bonus)
                .max(error.map_or(0, |e| e.bonus)),
        )
    }

    fn error_of(&self, slot: u32, kind: StepKind, status: Status) -> Option<&StringFacts> {
        if !crate::model::is_error(kind, status) {
            return None;
        }
        self.history
            .slot_error(slot)
            .map(|e: StrId| &self.strings[e.0 as usize])
    }

    /// The score of a step by its name and error label alone, if every unit matches.
    fn meta_score(&self, slot: u32) -> Option<u32> {
        if self.units.is_empty() {
            return Some(0);
        }
        let info = self.history.slot_info(slot);
        let name = info.name.map(|n| &self.strings[n.0 as usize]);
        let error = self.error_of(slot, info.kind, info.status);
        let mut total = 0;
        for u in 0..self.units.len() {
            let best = name
                .map_or(0, |n| n.units[u])
                .max(error.map_or(0, |e| e.units[u]));
            if best == 0 {
                return None;
            }
            total += best;
        }
        Some(total)
    }

    /// Runs whose own fields match the text (none when there are step filters, or
    /// when only one run is searched); with no text, the runs that pass the filters.
    /// Their snippets are cut later, for the runs shown.
    fn run_hits(&mut self, cancel: &Cancel) -> Result<Vec<Ranked>, Cancelled> {
        let history = self.history;
        let mut out = Vec::new();
        if self.query.step.is_active() || self.options.only_run.is_some() {
            return Ok(out);
        }
        let passes = |run: &RunRef| self.runs_ok.as_ref().map_or(true, |ok| ok[run.index()]);
        if self.units.is_empty() {
            for run in history.runs().filter(passes) {
                out.push(Ranked::run(&run, 0, RunField::Summary));
            }
            return Ok(out);
        }
        // Agents, models and labels repeat: each distinct value (an interned string,
        // known by its address) is matched once.
        let mut shared: FxHashMap<(usize, usize), Option<UnitScores>> = FxHashMap::default();
        let units = &self.units;
        let query_norm = &self.query_norm;
        let matcher = &mut self.matcher;
        let score_of = |text: &str, matcher: &mut Matcher| {
            let m = matcher.match_field(units, query_norm, text, true);
            m.matched_any().then_some((m.units, m.bonus))
        };
        for run in history.runs() {
            if run.index() % 4096 == 0 && cancel.is_cancelled() {
                return Err(Cancelled);
            }
            if !passes(&run) {
                continue;
            }
            let mut best = vec![0u32; units.len()];
            let mut bonus = 0;
            let mut top: Option<(u32, RunField)> = None;
            let mut consider = |found: Option<&UnitScores>, field: RunField| {
                if let Some((scores, b)) = found {
                    for (x, &y) in best.iter_mut().zip(scores) {
                        *x = (*x).max(y);
                    }
                    bonus = bonus.max(*b);
                    let own = scores.iter().sum::<u32>() + b;
                    if top.as_ref().map_or(true, |t| t.0 < own) {
                        top = Some((own, field));
                    }
                }
            };
            let id = score_of(run.id(), matcher);
            consider(id.as_ref(), RunField::RunId);
            for (field, value) in [
                (RunField::Agent, run.agent()),
                (RunField::Model, run.model()),
            ] {
                if let Some(v) = value {
                    let found = shared
                        .entry((v.as_ptr() as usize, 0))
                        .or_insert_with(|| score_of(v, matcher));
                    consider(found.as_ref(), field);
                }
            }
            for (i, (k, v)) in run.labels().iter().enumerate() {
                let found = shared
                    .entry((k.as_ptr() as usize, v.as_ptr() as usize))
                    .or_insert_with(|| score_of(&format!("{k}={v}"), matcher));
                consider(found.as_ref(), RunField::Label(i));
            }
            if let Some(e) = run.end_error() {
                let found = score_of(e, matcher);
                consider(found.as_ref(), RunField::EndError);
            }
            if let (false, Some((_, field))) = (best.contains(&0), top) {
                out.push(Ranked::run(&run, best.iter().sum::<u32>() + bonus, field));
            }
        }
        Ok(out)
    }

    /// The hit of a run, with its snippet.
    fn run_hit(&mut self, run: usize, score: u32, field: RunField) -> Hit {
        let run = self.history.run(run);
        let (name, text): (&str, String) = match field {
            RunField::Summary => (
                "run_id",
                format!(
                    "{} {} {}",
                    run.id(),
                    run.agent().unwrap_or("-"),
                    run.outcome()
                ),
            ),
            RunField::RunId => ("run_id", run.id().into()),
            RunField::Agent => ("agent", run.agent().unwrap_or_default().into()),
            RunField::Model => ("model", run.model().unwrap_or_default().into()),
            RunField::Label(i) => (
                "label",
                run.labels()
                    .iter()
                    .nth(i)
                    .map(|(k, v)| format!("{k}={v}"))
                    .unwrap_or_default(),
            ),
            RunField::EndError => ("end_error", run.end_error().unwrap_or_default().into()),
        };
        let m = self
            .matcher
            .match_field(&self.units, &self.query_norm, &text, true);
        let (snippet, positions) = snippet(&text, m.anchor.unwrap_or(0), &m.highlights);
        Hit {
            run: run.index(),
            step: None,
            field: name.into(),
            score,
            snippet,
            positions,
        }
    }

    /// Reads the best candidates back, confirms them and cuts their snippets.
    fn confirm(
        &mut self,
        mut candidates: Vec<Candidate>,
        cancel: &Cancel,
    ) -> Result<Vec<(Hit, i64)>, Cancelled> {
        let wanted = self.options.limit.saturating_add(VERIFY_SLACK);
        let max_verify = MAX_VERIFY.max(wanted.saturating_mul(2));
        let mut confirmed: Vec<(u32, String, u32, String, Vec<usize>)> = Vec::new();
        let mut read = 0;
        let rank = |c: &Candidate| (Reverse(c.score), Reverse(c.slot));
        while confirmed.len() < wanted && !candidates.is_empty() && read < max_verify {
            if cancel.is_cancelled() {
                return Err(Cancelled);
            }
            // Read more each round: when many candidates fail (phrases), few rounds.
            let want = wanted.max(read).min(max_verify - read);
            let batch: Vec<Candidate> = if candidates.len() > want {
                candidates.select_nth_unstable_by_key(want - 1, rank);
                let rest = candidates.split_off(want);
                std::mem::replace(&mut candidates, rest)
            } else {
                std::mem::take(&mut candidates)
            };
            read += batch.len();
            let records = self.history.record_batch(batch.iter().map(|c| c.slot));
            let mut decoded: Vec<Step> = Vec::new();
            let mut unread: Vec<u32> = Vec::new();
            let mut seen: rustc_hash::FxHashSet<u32> = Default::default();
            let read_ok = records.read(cancel, |record| {
                seen.insert(record.slot);
                if !record.same_record {
                    decoded = record.steps().unwrap_or_default();
                }
                let hit = match decoded.get(record.sub as usize) {
                    Some(step) => self.confirm_step(step),
                    None => {
                        unread.push(record.slot);
                        None
                    }
                };
                if let Some((field, score, snippet, positions)) = hit {
                    confirmed.push((record.slot, field, score, snippet, positions));
                }
            });
            match read_ok {
                Ok(true) => {}
                Ok(false) => return Err(Cancelled),
                // Files gone or changed: what the index knows of the rest.
                Err(_) => unread.extend(batch.iter().map(|c| c.slot).filter(|s| !seen.contains(s))),
            }
            for slot in unread {
                if let Some((field, score, snippet, positions)) = self.meta_hit(slot) {
                    confirmed.push((slot, field, score, snippet, positions));
                }
            }
        }
        let places = locate(
            self.history,
            &confirmed.iter().map(|c| c.0).collect::<Vec<_>>(),
        );
        Ok(confirmed
            .into_iter()
            .filter_map(|(slot, field, score, snippet, positions)| {
                let &(run, position) = places.get(&slot)?;
                let recency = self.history.slot_info(slot).ts.unwrap_or(i64::MIN);
                Some((
                    Hit {
                        run,
                        step: Some(position),
                        field,
                        score,
                        snippet,
                        positions,
                    },
                    recency,
                ))
            })
            .collect())
    }

    /// Scores a step read back from its file: which field matched best, and a snippet.
    fn confirm_step(&mut self, step: &Step) -> Option<(String, u32, String, Vec<usize>)> {
        let fields = step_fields(step);
        if self.units.is_empty() {
            let (field, text) = fields
                .iter()
                .find(|(f, _)| *f == "error")
                .or_else(|| fields.iter().find(|(f, _)| *f == "name"))
                .cloned()
                .unwrap_or_else(|| ("kind".into(), step.kind_name.clone()));
            let (snip, positions) = snippet(&text, 0, &[]);
            return Some((field, 0, snip, positions));
        }
        let mut matched = Vec::new();
        for (field, text) in fields {
            let meta = field == "name" || field == "error";
            let mut m = self
                .matcher
                .match_field(&self.units, &self.query_norm, &text, meta);
            if field == "error" {
                // The error is shown as "CODE: message"; its code and its message are
                // each a whole field for the bonus.
                if let Some(e) = &step.error {
                    for part in [&e.code, &e.message, &e.error_type].into_iter().flatten() {
                        let bonus = matcher::field_bonus(
                            &self.query_norm,
                            &normalize(part),
                            true,
                            self.units.len(),
                        );
                        m.bonus = m.bonus.max(bonus);
                    }
                }
            }
            if m.matched_any() {
                matched.push((field, text, m));
            }
        }
        let (field, text, fm, score) = combine(&self.units, matched)?;
        let (snip, positions) = snippet(&text, fm.anchor.unwrap_or(0), &fm.highlights);
        Some((field, score, snip, positions))
    }

    /// A hit from the index alone (the record could not be read back).
    fn meta_hit(&self, slot: u32) -> Option<(String, u32, String, Vec<usize>)> {
        let score = self.meta_score(slot)?;
        let info = self.history.slot_info(slot);
        let (field, text) = match self.history.slot_error(slot) {
            Some(e) => ("error", self.history.interned_str(e)),
            None => (
                "name",
                info.name.map_or("", |n| self.history.interned_str(n)),
            ),
        };
        let (snip, positions) = snippet(text, 0, &[]);
        Some((field.into(), score, snip, positions))
    }
}

/// Combines the fields of one step or run: every unit must match in some field. The
/// score is each unit's best plus the best field bonus; the field shown is the one that
/// matched most.
fn combine<F: Into<String>, T>(
    units: &[Unit],
    matched: Vec<(F, T, FieldMatch)>,
) -> Option<(String, T, FieldMatch, u32)> {
    let mut best_units = vec![0u32; units.len()];
    let mut bonus = 0;
    for (_, _, m) in &matched {
        for (b, &s) in best_units.iter_mut().zip(&m.units) {
            *b = (*b).max(s);
        }
        bonus = bonus.max(m.bonus);
    }
    if best_units.contains(&0) {
        return None;
    }
    let score = best_units.iter().sum::<u32>() + bonus;
    // The first of the best fields: names and errors come first.
    let mut top: Option<(F, T, FieldMatch)> = None;
    for entry in matched {
        if top.as_ref().map_or(true, |t| t.2.score() < entry.2.score()) {
            top = Some(entry);
        }
    }
    let (field, text, m) = top?;
    Some((field.into(), text, m, score))
}

/// The searchable fields of a step: its name, its error, then its record's fields
/// (those not skipped as structure), each as text.
fn step_fields(step: &Step) -> Vec<(String, String)> {
    let mut fields = Vec::new();
    if let Some(name) = &step.name {
        fields.push(("name".to_owned(), name.clone()));
    }
    if let Some(error) = &step.error {
        let mut text = error.to_string();
        if let Some(t) = error
            .error_type
            .as_ref()
            .filter(|t| Some(*t) != error.code.as_ref())
        {
            text = format!("{text} ({t})");
        }
        fields.push(("error".to_owned(), text));
    }
    if let serde_json::Value::Object(map) = &step.record {
        for (key, value) in map {
            if key == "name" || key == "error" || tokens::is_skipped_field(key.as_bytes()) {
                continue;
            }
            let text = match value {
                serde_json::Value::String(s) => s.clone(),
                other => {
                    let mut parts = Vec::new();
                    tokens::value_text(other, false, &mut |t| parts.push(t.to_owned()));
                    parts.join(" · ")
                }
            };
            if !text.is_empty() {
                fields.push((key.clone(), text));
            }
        }
    }
    fields
}
