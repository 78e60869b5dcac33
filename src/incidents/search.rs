//! The search language over incident records (`retrace search QUERY --incidents`): the
//! same parser ([`Query`]) and word matcher ([`Matcher`]) as the run search, applied to
//! each incident's fields. Filters read the incident's facts: `agent:`, `model:`,
//! `label:` (its run's labels), `since:`/`until:` (when it failed), `outcome:` (its runs
//! failed: `failure`), `tool:`, `error:` (any of its error codes), `kind:` and `status:`
//! (its failing step). Every word must match somewhere in the incident; the best field
//! gives the snippet.

use serde::Serialize;

use super::record::Incident;
use crate::model::{Outcome, Status, StepKind};
use crate::search::matcher::{self, FieldMatch, Matcher};
use crate::search::query::Pattern;
use crate::search::Query;

/// One incident found.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IncidentHit {
    pub incident: String,
    pub title: String,
    /// The field of the best match: `id`, `title`, `category`, `agent`, `tool`, `error`,
    /// `summary`, `narrative`, `action`, `run`.
    pub field: String,
    pub score: u32,
    /// Display-safe (sanitized) line around the match.
    pub snippet: String,
    /// Character positions of the matched characters in `snippet`.
    pub positions: Vec<usize>,
}

/// The incidents matching `query`, best first (ties: the most recent), at most `limit`.
pub fn search(incidents: &[Incident], query: &Query, now: i64, limit: usize) -> Vec<IncidentHit> {
    let mut m = Matcher::default();
    let units = m.units(query);
    let query_norm = matcher::query_norm(query);
    let mut hits: Vec<(IncidentHit, Option<i64>)> = Vec::new();
    for inc in incidents.iter().filter(|i| passes_filters(i, query, now)) {
        if units.is_empty() {
            hits.push((hit(inc, "title", &inc.title, 0, None), inc.failed_at_ms()));
            continue;
        }
        let mut best_units = vec![0u32; units.len()];
        let mut best: Option<(u32, &'static str, &str, FieldMatch)> = None;
        for (field, text, meta) in fields(inc) {
            let fm = m.match_field(&units, &query_norm, text, meta);
            if !fm.matched_any() {
                continue;
            }
            for (b, u) in best_units.iter_mut().zip(&fm.units) {
                *b = (*b).max(*u);
            }
            let s = fm.score();
            if best.as_ref().map_or(true, |(bs, ..)| s > *bs) {
                best = Some((s, field, text, fm));
            }
        }
        let Some((_, field, text, fm)) = best else {
            continue;
        };
        if best_units.contains(&0) {
            continue; // Every word must match somewhere.
        }
        let score = best_units.iter().sum::<u32>() + fm.bonus;
        let mut h = hit(inc, field, text, score, fm.anchor);
        let (snippet, positions) = matcher::snippet(text, fm.anchor.unwrap_or(0), &fm.highlights);
        h.snippet = snippet;
        h.positions = positions;
        hits.push((h, inc.failed_at_ms()));
    }
    hits.sort_by(|a, b| b.0.score.cmp(&a.0.score).then(b.1.cmp(&a.1)));
    hits.truncate(limit);
    hits.into_iter().map(|(h, _)| h).collect()
}

fn hit(inc: &Incident, field: &str, text: &str, score: u32, anchor: Option<usize>) -> IncidentHit {
    let (snippet, positions) = matcher::snippet(text, anchor.unwrap_or(0), &[]);
    IncidentHit {
        incident: inc.id.clone(),
        title: crate::sanitize::line(&inc.title).into_owned(),
        field: field.to_string(),
        score,
        snippet,
        positions,
    }
}

/// The searchable fields of an incident: (name, text, short field named by the record).
fn fields(inc: &Incident) -> Vec<(&'static str, &str, bool)> {
    let mut out: Vec<(&'static str, &str, bool)> = vec![
        ("id", inc.id.as_str(), true),
        ("title", inc.title.as_str(), false),
        ("category", inc.category.label(), true),
        ("summary", inc.summary.as_str(), false),
    ];
    out.extend(inc.runs.iter().map(|r| ("run", r.as_str(), true)));
    out.extend(inc.agent.as_deref().map(|a| ("agent", a, true)));
    for sig in [&inc.failure, &inc.root_cause].into_iter().flatten() {
        out.extend(sig.tool.as_deref().map(|t| ("tool", t, true)));
        out.extend(sig.error_message.as_deref().map(|t| ("error", t, false)));
        out.extend(sig.error_type.as_deref().map(|t| ("error", t, true)));
    }
    out.extend(inc.error_codes.iter().map(|c| ("error", c.as_str(), true)));
    out.extend(inc.narrative.as_deref().map(|n| ("narrative", n, false)));
    out.extend(
        inc.action_items
            .iter()
            .map(|a| ("action", a.text.as_str(), false)),
    );
    out.extend(inc.labels.values().map(|v| ("label", v.as_str(), true)));
    out
}

/// Whether the incident passes the query's filters.
fn passes_filters(inc: &Incident, q: &Query, now: i64) -> bool {
    let any = |patterns: &[Pattern], value: Option<&str>| {
        patterns.is_empty() || value.is_some_and(|v| patterns.iter().any(|p| p.matches(v)))
    };
    let r = &q.run;
    // Its runs failed: an incident answers `outcome:failure` (and the other bad ends).
    if !r.outcomes.is_empty()
        && !r
            .outcomes
            .iter()
            .any(|o| o.is_bad() && *o != Outcome::Running)
    {
        return false;
    }
    if !any(&r.agents, inc.agent.as_deref()) || !any(&r.models, inc.model.as_deref()) {
        return false;
    }
    for label in &r.labels {
        let found = inc.labels.iter().any(|(k, v)| {
            label.key.matches(k) && label.value.as_ref().map_or(true, |p| p.matches(v))
        });
        if !found {
            return false;
        }
    }
    let at = inc.failed_at_ms();
    if let Some(since) = r.since {
        if at.map_or(true, |t| t < since.resolve(now)) {
            return false;
        }
    }
    if let Some(until) = r.until {
        if at.map_or(true, |t| t > until.resolve(now)) {
            return false;
        }
    }
    let s = &q.step;
    if !s.is_active() {
        return true;
    }
    let sigs: Vec<_> = [&inc.failure, &inc.root_cause]
        .into_iter()
        .flatten()
        .collect();
    if !s.errors.is_empty()
        && !inc
            .error_codes
            .iter()
            .any(|c| s.errors.iter().any(|p| p.matches(c)))
    {
        return false;
    }
    if !s.tools.is_empty()
        && !sigs.iter().any(|g| {
            g.tool
                .as_deref()
                .is_some_and(|t| s.tools.iter().any(|p| p.matches(t)))
        })
    {
        return false;
    }
    if !s.kinds.is_empty() || !s.statuses.is_empty() {
        return sigs.iter().any(|g| {
            let kind = StepKind::parse(&g.kind);
            let status = if g.error_code.is_some() || g.error_message.is_some() {
                Status::Error
            } else {
                Status::Unset
            };
            s.matches_kind_status(kind, status)
        });
    }
    true
}
