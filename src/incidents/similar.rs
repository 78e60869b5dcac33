//! Similar past incidents: how much a failure looks like each resolved incident of the
//! library, as a score from 0 to 1 with the reasons, best first, only above
//! [`THRESHOLD`]. Each part of the score compares one kind of fact and adds its weight
//! times how well it agrees (1 for the same, less for alike):
//!
//! | part | weight | agrees when |
//! |---|---|---|
//! | error | 0.35 | the same error code (1); else the error texts' words (Dice) or, at half weight, their error-vocabulary phrases (`auth`, `quota`, `timeout`…) |
//! | tool | 0.10 | the failing step's tool is the same (1), or its name shares words (half the overlap) |
//! | arguments | 0.10 | (same or alike tool only) the call's normalised argument names and values overlap |
//! | divergence | 0.10 | the divergence from a comparable success is of the same kind |
//! | category | 0.15 | the same failure category |
//! | agent | 0.05 | the same agent |
//! | task | 0.05 | a task label (`task`, `task_id`, …) with the same value |
//! | change | 0.10 | the incident is an environmental change and this failure came 6 h before to 72 h after it |
//!
//! The threshold (0.5) is above what the context alone can add up to (category,
//! divergence, agent, task and time: 0.45), so an incident is shown only when the failure
//! itself (its error, or its tool with its arguments) resembles it. Nothing here knows
//! a tool, an agent or an error code by name: the vocabulary is the classifier's
//! (general words of access, outage, rejection, consistency and policy errors).

use serde::{Deserialize, Serialize};

use super::record::{Incident, Signature};
use crate::diverge::normalize::{content_words, normalize_str};
use crate::diverge::TASK_LABELS;
use crate::index::History;
use crate::postmortem::{classify, vocab, Category, Investigation};

pub const THRESHOLD: f64 = 0.5;
pub const W_ERROR: f64 = 0.35;
pub const W_TOOL: f64 = 0.10;
pub const W_ARGS: f64 = 0.10;
pub const W_DIVERGENCE: f64 = 0.10;
pub const W_CATEGORY: f64 = 0.15;
pub const W_AGENT: f64 = 0.05;
pub const W_TASK: f64 = 0.05;
pub const W_CHANGE: f64 = 0.10;
/// A failure this long after an environmental change may be caused by it…
pub const CHANGE_AFTER_MS: i64 = 72 * 3600 * 1000;
/// …and this long before it (the change was noticed after it was made).
pub const CHANGE_BEFORE_MS: i64 = 6 * 3600 * 1000;

/// A failure to compare with the library: the facts of a failing run, in the form
/// incidents keep them.
#[derive(Debug, Clone, Default)]
pub struct Failure {
    pub run_id: Option<String>,
    pub agent: Option<String>,
    /// Its task labels (`task`, `task_id`, …) as `(key, value)`.
    pub task: Vec<(String, String)>,
    pub category: Option<Category>,
    /// The divergence kind (`error_vs_success`, …).
    pub divergence: Option<String>,
    pub signature: Option<Signature>,
    /// Epoch ms of the failure.
    pub at: Option<i64>,
}

impl Failure {
    /// The failure of an investigated run; its category is `category` when the engineer
    /// set one, else the classifier's.
    pub fn of_run(
        history: &History,
        inv: &Investigation,
        category: Option<Category>,
    ) -> Result<Failure, crate::Error> {
        let category = match category {
            Some(c) => c,
            None => classify::classify(history, inv)?.category,
        };
        let run = &inv.run;
        let first = inv.first_failure();
        Ok(Failure {
            run_id: Some(run.id().to_string()),
            agent: run.agent().map(str::to_string),
            task: run
                .labels()
                .iter()
                .filter(|(k, _)| TASK_LABELS.contains(k))
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            category: Some(category),
            divergence: inv
                .diff
                .as_ref()
                .and_then(|d| d.comparison.divergence.as_ref())
                .map(|d| d.kind.as_str().to_string()),
            signature: first.map(|s| super::record::signature(&inv.steps, s)),
            at: first.and_then(|s| s.ts).or(run.started_at()),
        })
    }

    /// An incident seen as a new failure (for tests and for comparing incidents).
    pub fn of_incident(i: &Incident) -> Failure {
        Failure {
            run_id: Some(i.run_id().to_string()),
            agent: i.agent.clone(),
            task: task_labels(i),
            category: Some(i.category),
            divergence: i.divergence.as_ref().map(|d| d.kind.clone()),
            signature: i.signature().cloned(),
            at: i.failed_at_ms(),
        }
    }
}

fn task_labels(i: &Incident) -> Vec<(String, String)> {
    i.labels
        .iter()
        .filter(|(k, _)| TASK_LABELS.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// A similar incident, with why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Match {
    pub incident: String,
    /// 0 to 1, two decimals.
    pub score: f64,
    /// Strongest first. Untrusted text (it quotes run files): sanitize before display.
    pub reasons: Vec<String>,
    pub category: Category,
    pub title: String,
    /// Every action item of the incident is done, yet it failed again.
    pub recurrence: bool,
    pub runs: Vec<String>,
}

/// The facts of one side, prepared for many comparisons: words and names as sorted
/// hashes (no strings to allocate or compare; the reasons are written from the records).
/// Serialisable: the command line keeps them in a derived cache ([`super::cache`]). Short
/// field names keep that cache small.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Facts {
    #[serde(rename = "c", default)]
    code: Option<u64>,
    #[serde(rename = "t", default)]
    tool: Option<u64>,
    #[serde(rename = "tw", default)]
    tool_words: Vec<u64>,
    #[serde(rename = "ew", default)]
    error_words: Vec<u64>,
    /// The error vocabulary's phrases, hashed.
    #[serde(rename = "p", default)]
    phrases: Vec<u64>,
    #[serde(rename = "ak", default)]
    arg_keys: Vec<u64>,
    #[serde(rename = "a", default)]
    args: Vec<u64>,
    #[serde(rename = "ag", default)]
    agent: Option<u64>,
    #[serde(rename = "tk", default)]
    task: Vec<u64>,
    #[serde(rename = "cat", default)]
    category: Option<Category>,
    #[serde(rename = "d", default)]
    divergence: Option<u64>,
    #[serde(rename = "at", default)]
    at: Option<i64>,
}

/// One incident prepared for ranking: what a comparison needs, without the record (the
/// few incidents shown are read again to write their reasons).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Prepared {
    pub id: String,
    pub run_id: String,
    pub category: Category,
    pub facts: Facts,
}

impl Prepared {
    pub fn of(i: &Incident) -> Prepared {
        Prepared {
            id: i.id.clone(),
            run_id: i.run_id().to_string(),
            category: i.category,
            facts: Facts::of_incident(i),
        }
    }

    /// The order incidents are ranked in when they score the same (after the most
    /// recent first): the library's order, by failure time, then id.
    pub fn order_key(&self) -> (Option<i64>, &str) {
        (self.facts.at, &self.id)
    }
}

/// An incident scoring at least [`THRESHOLD`], before its reasons are written.
#[derive(Debug, Clone, Copy)]
pub struct Hit {
    /// Its position in the prepared list.
    pub index: usize,
    score: f64,
    parts: Parts,
}

/// A failure ranked against prepared incidents: the hits, best first.
pub struct Ranking<'f> {
    failure: &'f Failure,
    query: Facts,
    pub hits: Vec<Hit>,
}

impl Ranking<'_> {
    /// The hit `hit` as a match with its reasons: `incident` is its record (with the
    /// action items of its notes), `prepared` what it was ranked by.
    pub fn explain(&self, hit: &Hit, incident: &Incident, prepared: &Prepared) -> Match {
        explain(
            self.failure,
            &self.query,
            incident,
            &prepared.facts,
            hit.score,
            hit.parts,
        )
    }
}

/// Every prepared incident scoring [`THRESHOLD`] or more against `failure`, best first
/// (ties: the most recent first, then in `prepared`'s order). The failing run's own
/// incident is left out.
pub fn rank<'f>(prepared: &[Prepared], failure: &'f Failure) -> Ranking<'f> {
    let query = Facts::of_failure(failure);
    let mut hits: Vec<Hit> = prepared
        .iter()
        .enumerate()
        .filter(|(_, p)| failure.run_id.as_deref().map_or(true, |r| p.run_id != r))
        .filter_map(|(index, p)| {
            let parts = compare(&query, &p.facts, p.category);
            let score = parts.score();
            (score >= THRESHOLD - 1e-9).then_some(Hit {
                index,
                score,
                parts,
            })
        })
        .collect();
    hits.sort_by(|a, b| {
        b.score.total_cmp(&a.score).then_with(|| {
            // Ties: the most recent incident first.
            prepared[b.index].facts.at.cmp(&prepared[a.index].facts.at)
        })
    });
    Ranking {
        failure,
        query,
        hits,
    }
}

fn hash(s: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = rustc_hash::FxHasher::default();
    s.hash(&mut h);
    h.finish()
}

fn hashes<'s>(items: impl Iterator<Item = &'s str>) -> Vec<u64> {
    let mut out: Vec<u64> = items.map(hash).collect();
    out.sort_unstable();
    out.dedup();
    out
}

/// The error's code, type and message, ids and numbers normalised.
fn error_text(sig: Option<&Signature>) -> String {
    sig.map(|s| {
        [&s.error_code, &s.error_type, &s.error_message]
            .into_iter()
            .flatten()
            .map(|t| normalize_str(t, true).into_owned())
            .collect::<Vec<_>>()
            .join(" ")
    })
    .unwrap_or_default()
}

/// The error vocabulary's phrases in an error text, sorted.
fn phrases_of(text: &str) -> Vec<&'static str> {
    let mut phrases: Vec<&'static str> = vocab::classes(text)
        .into_iter()
        .flat_map(|(_, _, p)| p)
        .collect();
    phrases.sort_unstable();
    phrases.dedup();
    phrases
}

fn arg_key(arg: &str) -> &str {
    arg.split_once('=').map_or(arg, |(k, _)| k)
}

impl Facts {
    fn of(
        sig: Option<&Signature>,
        agent: Option<&str>,
        task: &[(String, String)],
        category: Option<Category>,
        divergence: Option<&str>,
        at: Option<i64>,
    ) -> Facts {
        let text = error_text(sig);
        let phrases = hashes(phrases_of(&text).into_iter());
        let tool = sig.and_then(|s| s.tool.as_deref());
        let args = sig.map_or(&[][..], |s| &s.args[..]);
        Facts {
            code: sig
                .and_then(|s| s.error_code.as_deref())
                .map(crate::search::matcher::normalize)
                .filter(|c| !c.is_empty())
                .map(|c| hash(&c)),
            tool: tool.map(|t| hash(&t.to_lowercase())),
            tool_words: hashes(
                tool.map(vocab::words)
                    .unwrap_or_default()
                    .iter()
                    .map(String::as_str),
            ),
            error_words: hashes(content_words(&text).iter().map(String::as_str)),
            phrases,
            arg_keys: hashes(args.iter().map(|a| arg_key(a))),
            args: hashes(args.iter().map(String::as_str)),
            agent: agent.map(|a| hash(&a.to_lowercase())),
            task: hashes(
                task.iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .iter()
                    .map(String::as_str),
            ),
            category,
            divergence: divergence.map(hash),
            at,
        }
    }

    fn of_failure(f: &Failure) -> Facts {
        Facts::of(
            f.signature.as_ref(),
            f.agent.as_deref(),
            &f.task,
            f.category,
            f.divergence.as_deref(),
            f.at,
        )
    }

    fn of_incident(i: &Incident) -> Facts {
        Facts::of(
            i.signature(),
            i.agent.as_deref(),
            &task_labels(i),
            Some(i.category),
            i.divergence.as_ref().map(|d| d.kind.as_str()),
            i.failed_at_ms(),
        )
    }
}

/// The library's incidents prepared for `similar`: build once, ask many times.
#[derive(Debug, Clone, Default)]
pub struct SimilarIndex {
    incidents: Vec<Incident>,
    prepared: Vec<Prepared>,
}

/// How much of each part agreed.
#[derive(Debug, Default, Clone, Copy)]
struct Parts {
    error: f64,
    same_code: bool,
    tool: f64,
    args: f64,
    divergence: bool,
    category: bool,
    agent: bool,
    task: bool,
    change: bool,
}

impl Parts {
    fn score(&self) -> f64 {
        W_ERROR * self.error
            + W_TOOL * self.tool
            + W_ARGS * self.args
            + W_DIVERGENCE * f64::from(u8::from(self.divergence))
            + W_CATEGORY * f64::from(u8::from(self.category))
            + W_AGENT * f64::from(u8::from(self.agent))
            + W_TASK * f64::from(u8::from(self.task))
            + W_CHANGE * f64::from(u8::from(self.change))
    }
}

impl SimilarIndex {
    pub fn new(incidents: Vec<Incident>) -> SimilarIndex {
        let prepared = super::parallel_map(&incidents, Prepared::of);
        SimilarIndex {
            incidents,
            prepared,
        }
    }

    pub fn incidents(&self) -> &[Incident] {
        &self.incidents
    }

    pub fn len(&self) -> usize {
        self.incidents.len()
    }

    pub fn is_empty(&self) -> bool {
        self.incidents.is_empty()
    }

    /// The incidents most like `failure`, best first, at most `limit`, only those
    /// scoring [`THRESHOLD`] or more. The failing run's own incident is left out.
    pub fn similar(&self, failure: &Failure, limit: usize) -> Vec<Match> {
        let ranking = rank(&self.prepared, failure);
        ranking
            .hits
            .iter()
            .take(limit)
            .map(|h| ranking.explain(h, &self.incidents[h.index], &self.prepared[h.index]))
            .collect()
    }
}

/// A match with its reasons, strongest first.
fn explain(failure: &Failure, q: &Facts, inc: &Incident, f: &Facts, score: f64, p: Parts) -> Match {
    let mut reasons: Vec<(f64, String)> = Vec::new();
    let tool_shown = inc
        .signature()
        .and_then(|s| s.tool.clone())
        .unwrap_or_default();
    let sig = inc.signature();
    let query_sig = failure.signature.as_ref();
    if p.same_code {
        let code = sig.and_then(|s| s.error_code.clone()).unwrap_or_default();
        let text = if p.tool >= 1.0 {
            format!("same error code {code} at the same tool {tool_shown}")
        } else {
            format!("same error code {code}")
        };
        reasons.push((W_ERROR + if p.tool >= 1.0 { W_TOOL } else { 0.0 }, text));
    } else if p.error > 0.0 {
        let (ours, theirs) = (error_text(query_sig), error_text(sig));
        let shared = shared_words(&ours, &theirs, &phrases_of(&ours), &phrases_of(&theirs));
        let theirs = sig
            .and_then(|s| s.error_code.clone().or_else(|| s.error_message.clone()))
            .unwrap_or_default();
        reasons.push((
            W_ERROR * p.error,
            format!("similar error: {theirs} (shared: {shared})"),
        ));
    }
    if p.tool > 0.0 && !(p.same_code && p.tool >= 1.0) {
        let text = if p.tool >= 1.0 {
            format!("same tool {tool_shown}")
        } else {
            format!("a tool of a similar name: {tool_shown}")
        };
        reasons.push((W_TOOL * p.tool, text));
    }
    if p.args > 0.0 {
        let mut keys: Vec<&str> = query_sig
            .map_or(&[][..], |s| &s.args[..])
            .iter()
            .map(|a| arg_key(a))
            .filter(|k| f.arg_keys.binary_search(&hash(k)).is_ok())
            .collect();
        keys.dedup();
        keys.truncate(4);
        let how = if p.args >= 0.75 {
            "the same"
        } else {
            "similar"
        };
        reasons.push((
            W_ARGS * p.args,
            format!("called with {how} arguments ({})", keys.join(", ")),
        ));
    }
    if p.category {
        reasons.push((
            W_CATEGORY,
            format!("same category: {}", inc.category.label()),
        ));
    }
    if p.divergence {
        let kind = inc.divergence.as_ref().map_or("", |d| d.kind.as_str());
        reasons.push((
            W_DIVERGENCE,
            format!(
                "same divergence from a successful run: {}",
                kind.replace('_', " ")
            ),
        ));
    }
    if p.change {
        let at = f.at.map(crate::time::format_short).unwrap_or_default();
        let gap = match (q.at, f.at) {
            (Some(a), Some(b)) if a >= b => {
                format!("{} after", crate::time::format_duration((a - b) as f64))
            }
            (Some(a), Some(b)) => {
                format!("{} before", crate::time::format_duration((b - a) as f64))
            }
            _ => "close to".to_string(),
        };
        reasons.push((
            W_CHANGE,
            format!("{gap} a known environmental change ({at})"),
        ));
    }
    if p.agent {
        reasons.push((
            W_AGENT,
            format!("same agent {}", inc.agent.as_deref().unwrap_or("")),
        ));
    }
    if p.task {
        let (k, v) = failure
            .task
            .iter()
            .find(|(k, v)| f.task.binary_search(&hash(&format!("{k}={v}"))).is_ok())
            .cloned()
            .unwrap_or_default();
        reasons.push((W_TASK, format!("same task {k}={v}")));
    }
    reasons.sort_by(|a, b| b.0.total_cmp(&a.0));
    let mut reasons: Vec<String> = reasons.into_iter().map(|(_, r)| r).collect();
    let recurrence = inc.all_actions_done();
    if recurrence {
        reasons.insert(
            0,
            format!(
                "recurrence: all {} action item(s) of {} are done, and it failed again: the fix did not hold",
                inc.action_items.len(),
                inc.id
            ),
        );
    }
    if let Some(run) = failure.run_id.as_deref() {
        if inc.runs.iter().any(|r| r == run) {
            reasons.push(format!("this run is one of {}'s runs", inc.id));
        }
    }
    Match {
        incident: inc.id.clone(),
        score: (score * 100.0).round() / 100.0,
        reasons,
        category: inc.category,
        title: inc.title.clone(),
        recurrence,
        runs: inc.runs.clone(),
    }
}

/// How the new failure `q` agrees with incident `f`, part by part.
fn compare(q: &Facts, f: &Facts, category: Category) -> Parts {
    let mut p = Parts::default();
    if q.code.is_some() && q.code == f.code {
        p.same_code = true;
        p.error = 1.0;
    } else {
        let words = dice(&q.error_words, &f.error_words);
        let phrases = 0.5 * jaccard(&q.phrases, &f.phrases);
        let e = words.max(phrases);
        // A word or two in common ("failed", "error") is not a similar error.
        p.error = if e >= 0.34 { e } else { 0.0 };
    }
    if q.tool.is_some() && q.tool == f.tool {
        p.tool = 1.0;
    } else {
        let overlap = dice(&q.tool_words, &f.tool_words);
        p.tool = if overlap >= 0.5 { overlap / 2.0 } else { 0.0 };
    }
    if p.tool > 0.0 && !(q.args.is_empty() && f.args.is_empty()) {
        let a = 0.5 * jaccard(&q.arg_keys, &f.arg_keys) + 0.5 * jaccard(&q.args, &f.args);
        p.args = if a >= 0.25 { a } else { 0.0 };
    }
    p.divergence = q.divergence.is_some() && q.divergence == f.divergence;
    p.category = q.category == Some(category);
    p.agent = q.agent.is_some() && q.agent == f.agent;
    p.task = common(&q.task, &f.task) > 0;
    p.change = category == Category::EnvironmentalChange
        && match (q.at, f.at) {
            (Some(now), Some(change)) => {
                now - change <= CHANGE_AFTER_MS && change - now <= CHANGE_BEFORE_MS
            }
            _ => false,
        };
    p
}

/// Dice overlap of two sorted, deduplicated lists.
fn dice<T: Ord>(a: &[T], b: &[T]) -> f64 {
    if a.is_empty() || b.is_empty() {
        return 0.0;
    }
    2.0 * common(a, b) as f64 / (a.len() + b.len()) as f64
}

/// Jaccard overlap of two sorted, deduplicated lists.
fn jaccard<T: Ord>(a: &[T], b: &[T]) -> f64 {
    if a.is_empty() || b.is_empty() {
        return 0.0;
    }
    let c = common(a, b);
    c as f64 / (a.len() + b.len() - c) as f64
}

/// Items in both sorted lists (a merge walk: no allocation).
fn common<T: Ord>(a: &[T], b: &[T]) -> usize {
    let (mut i, mut j, mut n) = (0, 0, 0);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                n += 1;
                i += 1;
                j += 1;
            }
        }
    }
    n
}

/// The phrases and content words two error texts share (a few, for a reason).
fn shared_words(a: &str, b: &str, pa: &[&str], pb: &[&str]) -> String {
    let b = content_words(b);
    let mut out: Vec<String> = pa
        .iter()
        .filter(|p| pb.contains(p))
        .map(|p| p.to_string())
        .collect();
    for w in content_words(a) {
        if b.binary_search(&w).is_ok()
            && !out.contains(&w)
            && !w.chars().all(|c| c.is_ascii_digit())
        {
            out.push(w);
        }
    }
    out.truncate(5);
    out.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::incidents::record::DivergenceSummary;

    fn incident(tool: &str, code: &str, message: &str, category: Category) -> Incident {
        let sig = Signature {
            step: 3,
            kind: "tool_result".into(),
            tool: Some(tool.into()),
            error_code: Some(code.into()),
            error_type: None,
            error_message: Some(message.into()),
            args: vec!["to=<text>".into()],
        };
        Incident {
            id: format!("INC-{code}"),
            title: code.into(),
            runs: vec![format!("run-{code}")],
            against: None,
            agent: Some("agent-a".into()),
            agent_version: None,
            model: None,
            labels: [("task".to_string(), "t".to_string())]
                .into_iter()
                .collect(),
            category,
            category_source: "classifier".into(),
            failure: Some(sig),
            root_cause: None,
            divergence: Some(DivergenceSummary {
                kind: "error_vs_success".into(),
                step: Some(3),
                summary: String::new(),
            }),
            error_codes: vec![code.into()],
            summary: String::new(),
            narrative: None,
            action_items: Vec::new(),
            started_at: None,
            failed_at: Some("2026-01-01T10:00:00Z".into()),
            created_at: None,
            updated_at: None,
        }
    }

    #[test]
    fn the_context_alone_stays_below_the_threshold() {
        let context = W_CATEGORY + W_DIVERGENCE + W_AGENT + W_TASK + W_CHANGE;
        assert!(context < THRESHOLD, "{context}");
        let weights = W_ERROR + W_TOOL + W_ARGS + context;
        assert!((weights - 1.0).abs() < 1e-9, "{weights}");
        // Same agent, task, category, divergence and time; another tool and error.
        let old = incident(
            "charge_card",
            "CARD_DECLINED",
            "card declined by issuer",
            Category::EnvironmentalChange,
        );
        let new = incident(
            "upload_file",
            "DISK_FULL",
            "no space left on device",
            Category::EnvironmentalChange,
        );
        let index = SimilarIndex::new(vec![old]);
        let mut f = Failure::of_incident(&new);
        f.run_id = Some("another".into());
        assert_eq!(index.similar(&f, 5), vec![]);
    }

    #[test]
    fn a_similar_error_at_an_alike_tool_matches_with_its_words() {
        let old = incident(
            "send_email",
            "SMTP_AUTH_INVALID",
            "535 5.7.8 authentication failed",
            Category::EnvironmentalChange,
        );
        let new = incident(
            "email_send",
            "EAUTH",
            "535 authentication failed: invalid login",
            Category::EnvironmentalChange,
        );
        let index = SimilarIndex::new(vec![old]);
        let mut f = Failure::of_incident(&new);
        f.run_id = Some("another".into());
        let found = index.similar(&f, 5);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found[0].reasons[0].starts_with("similar error"),
            "{found:?}"
        );
        assert!(found[0].reasons[0].contains("authentication"), "{found:?}");
        assert!(!found[0].recurrence);
    }

    #[test]
    fn the_incident_of_the_run_itself_is_left_out() {
        let old = incident(
            "send_email",
            "SMTP_AUTH_INVALID",
            "535",
            Category::ToolFailure,
        );
        let index = SimilarIndex::new(vec![old.clone()]);
        assert_eq!(index.similar(&Failure::of_incident(&old), 5), vec![]);
    }
}
