//! Choosing the run to compare with when none is given: the most similar successful run
//! of the history. Runs of the same agent and the same task labels come first; among
//! them, the one whose trigger and step structure are most like the failing run's (ties
//! go to the run closest in time). Reads only the candidates' first steps from disk.

use rustc_hash::FxHashMap;
use serde_json::Value;

use super::align::{align, Sig};
use super::normalize::{is_volatile_key, normalize_str, text_similarity, H};
use crate::index::{History, RunRef};
use crate::model::{Outcome, StepKind};
use crate::Error;

/// Labels that name the task a run was doing.
pub const TASK_LABELS: &[&str] = &["task", "task_id", "task_name", "scenario", "workflow"];

/// At most this many candidates (the closest in time) have their trigger read.
const MAX_CANDIDATES: usize = 2000;

/// Weight of the trigger's similarity against the step structure's.
const TRIGGER_WEIGHT: f64 = 0.6;

/// The best candidates by a cheap score whose structure is then measured by alignment.
const REFINE: usize = 40;

/// The run picked for comparison, and why.
#[derive(Clone)]
pub struct Pick<'h> {
    pub run: RunRef<'h>,
    /// One sentence: what the picked run shares with the failing one, and how it ranked.
    pub reason: String,
    /// Similarity of the triggers, 0 to 1.
    pub trigger_similarity: f64,
    /// Similarity of the step structure (kinds and names, in order), 0 to 1.
    pub structure_similarity: f64,
    /// Successful runs it was chosen from.
    pub candidates: usize,
    /// The next most similar runs with their scores (0 to 1), best first: other runs
    /// worth comparing with.
    pub alternatives: Vec<(RunRef<'h>, f64)>,
}

impl std::fmt::Debug for Pick<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pick")
            .field("run", &self.run.id())
            .field("reason", &self.reason)
            .finish()
    }
}

/// The task labels of a run, as `key=value` pairs.
fn task_labels<'h>(run: &RunRef<'h>) -> Vec<(&'h str, &'h str)> {
    run.labels()
        .iter()
        .filter(|(k, _)| TASK_LABELS.contains(k))
        .collect()
}

/// Picks the most similar successful run to compare `run` with, or `None` when no
/// successful run shares its agent or its task.
pub fn pick<'h>(history: &'h History, run: &RunRef<'h>) -> Result<Option<Pick<'h>>, Error> {
    let agent = run.agent();
    let tasks = task_labels(run);
    let same_task =
        |r: &RunRef| !tasks.is_empty() && tasks.iter().all(|(k, v)| r.label(k) == Some(*v));
    let same_agent = |r: &RunRef| agent.is_some() && r.agent() == agent;
    // Tier 0: same agent and task; 1: same task; 2: same agent.
    let tier = |r: &RunRef| -> Option<u8> {
        match (same_agent(r), same_task(r), tasks.is_empty()) {
            (true, true, _) | (true, false, true) => Some(0),
            (false, true, _) => Some(1),
            (true, false, false) => Some(2),
            _ => None,
        }
    };
    let mut candidates: Vec<(u8, RunRef<'h>)> = history
        .runs()
        .filter(|r| r.index() != run.index() && r.outcome() == Outcome::Success)
        .filter_map(|r| tier(&r).map(|t| (t, r)))
        .collect();
    let Some(best_tier) = candidates.iter().map(|(t, _)| *t).min() else {
        return Ok(None);
    };
    candidates.retain(|(t, _)| *t == best_tier);
    let when = run.started_at();
    let distance = |r: &RunRef| match (when, r.started_at()) {
        (Some(a), Some(b)) => (a - b).unsigned_abs(),
        _ => u64::MAX,
    };
    candidates.sort_by_key(|(_, r)| distance(r));
    candidates.truncate(MAX_CANDIDATES);
    let count = candidates.len();

    let trigger_a = trigger_of(run)?;
    let leaves_a = trigger_a.as_ref().map(leaves).unwrap_or_default();
    let keys_a = structure(run);
    let bag_a = bag(&keys_a);
    // First a cheap ranking by trigger and a bag of step pairs, then the best few are
    // ranked again with the structure measured by aligning their steps.
    let mut scored: Vec<(f64, f64, RunRef<'h>, Vec<u64>)> = Vec::with_capacity(count);
    for (_, r) in candidates {
        let t = match trigger_of(&r)? {
            Some(v) => leaf_similarity(&leaves_a, &leaves(&v)),
            None if trigger_a.is_none() => 1.0,
            None => 0.0,
        };
        let keys = structure(&r);
        let s = bag_similarity(&bag_a, &bag(&keys));
        scored.push((TRIGGER_WEIGHT * t + (1.0 - TRIGGER_WEIGHT) * s, t, r, keys));
    }
    // Stable: among equal scores the run closest in time stays first.
    scored.sort_by_key(|x| std::cmp::Reverse((x.0 * 1e6).round() as i64));
    scored.truncate(REFINE);
    let mut ranked: Vec<(f64, f64, f64, RunRef<'h>)> = scored
        .into_iter()
        .map(|(_, t, r, keys)| {
            let s = aligned_similarity(&keys_a, &keys);
            (TRIGGER_WEIGHT * t + (1.0 - TRIGGER_WEIGHT) * s, t, s, r)
        })
        .collect();
    // Stable, and scores equal to six places tie: the run closer in time stays first.
    ranked.sort_by_key(|x| std::cmp::Reverse((x.0 * 1e6).round() as i64));
    let mut ranked = ranked.into_iter();
    let Some((_, t, s, picked)) = ranked.next() else {
        return Ok(None);
    };
    let alternatives = ranked.take(3).map(|(score, _, _, r)| (r, score)).collect();
    let shared = match best_tier {
        0 if tasks.is_empty() => format!("same agent ({})", agent.unwrap_or("?")),
        0 => format!(
            "same agent ({}) and task ({})",
            agent.unwrap_or("?"),
            label_text(&tasks)
        ),
        1 => format!("same task ({}), another agent", label_text(&tasks)),
        _ => format!("same agent ({}), another task", agent.unwrap_or("?")),
    };
    let reason = format!(
        "{shared}; the most similar of {count} successful run{} by trigger ({t:.2}) and step structure ({s:.2})",
        if count == 1 { "" } else { "s" }
    );
    Ok(Some(Pick {
        run: picked,
        reason,
        trigger_similarity: t,
        structure_similarity: s,
        candidates: count,
        alternatives,
    }))
}

fn label_text(labels: &[(&str, &str)]) -> String {
    labels
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The trigger (`run_start` input) of a run, read from its file.
fn trigger_of(run: &RunRef) -> Result<Option<Value>, Error> {
    let Some(pos) = run
        .steps()
        .take(8)
        .position(|s| s.kind == StepKind::RunStart)
    else {
        return Ok(None);
    };
    let steps = run.load_range(pos..pos + 1)?;
    Ok(crate::describe::trigger(&steps).cloned())
}

/// A trigger as `path → leaf text`, volatile keys dropped and values normalised.
fn leaves(v: &Value) -> FxHashMap<String, String> {
    fn walk(v: &Value, path: &mut String, out: &mut FxHashMap<String, String>) {
        match v {
            Value::Object(map) => {
                for (k, x) in map.iter().filter(|(k, _)| !is_volatile_key(k)) {
                    let len = path.len();
                    path.push('.');
                    path.push_str(k);
                    walk(x, path, out);
                    path.truncate(len);
                }
            }
            Value::Array(items) => {
                for (i, x) in items.iter().enumerate() {
                    let len = path.len();
                    path.push_str(&format!("[{i}]"));
                    walk(x, path, out);
                    path.truncate(len);
                }
            }
            Value::String(s) => {
                out.insert(path.clone(), normalize_str(s, true).into_owned());
            }
            other => {
                out.insert(path.clone(), other.to_string());
            }
        }
    }
    let mut out = FxHashMap::default();
    walk(v, &mut String::new(), &mut out);
    out
}

/// Mean similarity over the union of leaf paths: equal leaves count 1, texts by word
/// overlap, a leaf only one side has 0.
fn leaf_similarity(a: &FxHashMap<String, String>, b: &FxHashMap<String, String>) -> f64 {
    if a.is_empty() && b.is_empty() {
        return 1.0;
    }
    let mut total = 0.0;
    let mut union = 0usize;
    for (k, x) in a {
        union += 1;
        if let Some(y) = b.get(k) {
            total += if x == y { 1.0 } else { text_similarity(x, y) };
        }
    }
    union += b.keys().filter(|k| !a.contains_key(*k)).count();
    total / union as f64
}

/// The step structure: one key per step, its kind and name.
fn structure(run: &RunRef) -> Vec<u64> {
    run.steps()
        .map(|s| H::new(s.kind as u8).opt_str(s.name).finish())
        .collect()
}

/// The structure as a bag of consecutive step pairs.
fn bag(keys: &[u64]) -> FxHashMap<u64, u32> {
    let mut bag: FxHashMap<u64, u32> = FxHashMap::default();
    let mut prev = 0u64;
    for &key in keys {
        *bag.entry(H::default().u64(prev).u64(key).finish())
            .or_default() += 1;
        prev = key;
    }
    bag
}

/// Dice similarity of two bags.
fn bag_similarity(a: &FxHashMap<u64, u32>, b: &FxHashMap<u64, u32>) -> f64 {
    let (na, nb): (u32, u32) = (a.values().sum(), b.values().sum());
    if na + nb == 0 {
        return 1.0;
    }
    let shared: u32 = a
        .iter()
        .map(|(k, &x)| b.get(k).map_or(0, |&y| x.min(y)))
        .sum();
    2.0 * f64::from(shared) / f64::from(na + nb)
}

/// Share of steps the alignment pairs with a step of the same kind and name:
/// `2 · paired / (n + m)`.
fn aligned_similarity(a: &[u64], b: &[u64]) -> f64 {
    if a.is_empty() && b.is_empty() {
        return 1.0;
    }
    let sig = |&k: &u64| Sig {
        class: 0,
        coarse: k,
        fine: k,
        weak: false,
    };
    let (sa, sb): (Vec<Sig>, Vec<Sig>) = (a.iter().map(sig).collect(), b.iter().map(sig).collect());
    let paired = align(&sa, &sb)
        .into_iter()
        .filter(|&(i, j)| matches!((i, j), (Some(i), Some(j)) if a[i] == b[j]))
        .count();
    2.0 * paired as f64 / (a.len() + b.len()) as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn trigger_similarity_rewards_shared_fields_and_words() {
        let a = leaves(&json!({"repo": "acme/pay", "job": "unit-tests", "commit": "c04e9b2"}));
        let b = leaves(&json!({"repo": "acme/pay", "job": "unit-tests", "commit": "9f2c1e4"}));
        let c = leaves(&json!({"repo": "acme/web", "job": "lint", "commit": "31d7a0c"}));
        assert!(leaf_similarity(&a, &b) > leaf_similarity(&a, &c));
        assert_eq!(leaf_similarity(&a, &a), 1.0);
    }
}
