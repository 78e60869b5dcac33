//! The post-mortem document of a run: title, summary, impact, the incident timeline, the
//! divergence with both sides' values, the category with its evidence, the narrative,
//! action items and `run_id#step` references. [`build`] gathers it as a view model (also
//! its JSON form); [`markdown`] writes it for a wiki, an issue or a chat, every string
//! from a run file sanitized and Markdown-escaped.

use serde::Serialize;

use super::classify::{self, Classification};
use super::notes::{check_action, ActionItem, Notes};
use super::timeline::{self, Role, Timeline};
use super::{Category, Investigation, StepRef};
use crate::index::History;
use crate::model::StepKind;
use crate::time::format_rfc3339;

/// The run the report is about.
#[derive(Debug, Clone, Serialize)]
pub struct RunFacts {
    pub run_id: String,
    pub agent: Option<String>,
    pub agent_version: Option<String>,
    pub model: Option<String>,
    pub outcome: String,
    pub started_at: Option<String>,
    pub ended_at: Option<String>,
    pub end_error: Option<String>,
    pub steps: usize,
}

/// A change made in an outside system.
#[derive(Debug, Clone, Serialize)]
pub struct EffectFact {
    pub run_id: String,
    pub step: u32,
    pub name: Option<String>,
    pub action: Option<String>,
    pub target: Option<String>,
    pub failed: bool,
}

/// What the incident touched.
#[derive(Debug, Clone, Serialize)]
pub struct Impact {
    /// The failing run and the runs that failed the same way.
    pub runs: Vec<String>,
    pub effects: Vec<EffectFact>,
}

/// One side of the divergence.
#[derive(Debug, Clone, Serialize)]
pub struct Side {
    pub run_id: String,
    pub step: Option<u32>,
    /// What that side did there (one line), or `None` for a gap.
    pub value: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct DivergenceFacts {
    pub kind: String,
    pub summary: String,
    pub context: Option<String>,
    /// Why the comparison run was chosen, when it was picked.
    pub picked_because: Option<String>,
    pub failing: Side,
    pub comparison: Side,
}

/// An action item with what keeps it from being specific.
#[derive(Debug, Clone, Serialize)]
pub struct ActionFact {
    #[serde(flatten)]
    pub item: ActionItem,
    pub issues: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct StepNoteFact {
    pub step: StepRef,
    pub text: String,
}

/// The category as the report states it.
#[derive(Debug, Clone, Serialize)]
pub struct CategoryFacts {
    pub category: Category,
    /// `engineer` when the notes set it, else `classifier`.
    pub source: &'static str,
    pub classification: Classification,
}

/// The post-mortem, as data.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub title: String,
    pub summary: String,
    pub run: RunFacts,
    pub impact: Impact,
    pub timeline: Timeline,
    pub divergence: Option<DivergenceFacts>,
    pub category: CategoryFacts,
    pub root_cause: Option<StepRef>,
    pub bookmarks: Vec<StepRef>,
    pub step_notes: Vec<StepNoteFact>,
    pub narrative: Option<String>,
    pub action_items: Vec<ActionFact>,
    /// Every step the report cites, `run_id#step`, sorted.
    pub references: Vec<String>,
}

/// Gathers the post-mortem of `inv` with the engineer's `notes`.
pub fn build(
    history: &History,
    inv: &Investigation,
    notes: &Notes,
) -> Result<Report, crate::Error> {
    let classification = classify::classify(history, inv)?;
    let run = &inv.run;
    let id = run.id().to_string();
    let r = |step: u32| StepRef {
        run_id: id.clone(),
        step,
    };
    let timeline = timeline::of(inv);
    let category = notes.category.unwrap_or(classification.category);
    let source = if notes.category.is_some() {
        "engineer"
    } else {
        "classifier"
    };

    let mut runs = vec![id.clone()];
    for rel in &classification.related {
        if !runs.contains(&rel.run_id) {
            runs.push(rel.run_id.clone());
        }
    }
    let effects: Vec<EffectFact> = inv
        .steps
        .iter()
        .filter(|s| timeline::is_external_change(s))
        .map(|s| EffectFact {
            run_id: id.clone(),
            step: s.step,
            name: s.name.clone(),
            action: s.str_field("action").map(str::to_string),
            target: s.str_field("target").map(str::to_string),
            failed: s.is_error(),
        })
        .collect();

    let divergence = inv.diff.as_ref().and_then(|diff| {
        let d = diff.comparison.divergence.as_ref()?;
        let side = |run_id: &str, step: Option<u32>, steps: &[crate::model::Step]| Side {
            run_id: run_id.to_string(),
            step,
            value: step
                .and_then(|n| steps.iter().find(|s| s.step == n))
                .map(|s| crate::describe::truncate(&crate::diverge::step_label(s), 200)),
        };
        Some(DivergenceFacts {
            kind: d.kind.label().to_string(),
            summary: d.summary.clone(),
            context: d.context.clone(),
            picked_because: diff.pick.as_ref().map(|p| p.reason.clone()),
            failing: side(diff.a.id(), d.a_step, &diff.a_steps),
            comparison: side(diff.b.id(), d.b_step, &diff.b_steps),
        })
    });

    let first = inv.first_failure();
    let agent = run.agent().unwrap_or("agent");
    let failure_text = first
        .map(|s| match (&s.error, s.name.as_deref()) {
            (Some(e), Some(n)) if s.kind != StepKind::RunEnd => {
                format!("{n} failed with {}", e.label())
            }
            (Some(e), _) => e.label().to_string(),
            _ => "the run failed".to_string(),
        })
        .or_else(|| run.end_error().map(str::to_string))
        .unwrap_or_else(|| format!("the run ended {}", run.outcome()));
    let title = format!(
        "{} of {agent} run {id}: {}",
        capitalise(category.label()),
        crate::describe::truncate(&failure_text, 80)
    );
    let mut summary = format!(
        "Run {id} of {agent}{} ended {}",
        run.agent_version()
            .map(|v| format!(" {v}"))
            .unwrap_or_default(),
        run.outcome()
    );
    if let Some(s) = run.started_at() {
        summary.push_str(&format!(" (started {})", format_rfc3339(s)));
    }
    summary.push('.');
    if let Some(f) = first {
        summary.push_str(&format!(
            " The first failure is at step {}: {}.",
            f.step,
            crate::describe::truncate(&failure_text, 120)
        ));
    }
    if let Some(d) = &divergence {
        summary.push_str(&format!(
            " Compared with {}, it first diverges at step {} ({}).",
            d.comparison.run_id,
            d.failing.step.map_or("-".to_string(), |s| s.to_string()),
            d.kind
        ));
    }
    summary.push_str(&format!(
        " Category: {} ({}, confidence {:.2}).",
        category.label(),
        source,
        classification.confidence
    ));
    if runs.len() > 1 {
        summary.push_str(&format!(
            " {} other run(s) failed the same way.",
            runs.len() - 1
        ));
    }
    let written = effects.iter().filter(|e| !e.failed).count();
    if written > 0 {
        summary.push_str(&format!(" It made {written} change(s) in outside systems."));
    }

    let mut refs: Vec<StepRef> = Vec::new();
    refs.extend(timeline.rows.iter().map(|row| r(row.step)));
    refs.extend(classification.evidence.iter().map(|e| StepRef {
        run_id: e.run_id.clone(),
        step: e.step,
    }));
    refs.extend(classification.related.iter().cloned());
    if let Some(d) = &divergence {
        refs.extend(d.comparison.step.map(|s| StepRef {
            run_id: d.comparison.run_id.clone(),
            step: s,
        }));
    }
    refs.extend(notes.root_cause.map(r));
    refs.extend(notes.bookmarks.iter().map(|&s| r(s)));
    refs.extend(notes.step_notes.iter().map(|n| r(n.step)));
    refs.sort();
    refs.dedup();

    Ok(Report {
        title,
        summary,
        run: RunFacts {
            run_id: id.clone(),
            agent: run.agent().map(str::to_string),
            agent_version: run.agent_version().map(str::to_string),
            model: run.model().map(str::to_string),
            outcome: run.outcome().to_string(),
            started_at: run.started_at().map(format_rfc3339),
            ended_at: run.ended_at().map(format_rfc3339),
            end_error: run.end_error().map(str::to_string),
            steps: inv.steps.len(),
        },
        impact: Impact { runs, effects },
        timeline,
        divergence,
        category: CategoryFacts {
            category,
            source,
            classification,
        },
        root_cause: notes.root_cause.map(r),
        bookmarks: notes.bookmarks.iter().map(|&s| r(s)).collect(),
        step_notes: notes
            .step_notes
            .iter()
            .map(|n| StepNoteFact {
                step: r(n.step),
                text: n.text.clone(),
            })
            .collect(),
        narrative: notes.narrative.clone().filter(|n| !n.trim().is_empty()),
        action_items: notes
            .action_items
            .iter()
            .map(|a| ActionFact {
                item: a.clone(),
                issues: check_action(a).iter().map(|i| i.message()).collect(),
            })
            .collect(),
        references: refs.iter().map(|r| r.to_string()).collect(),
    })
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// Text from a run file for one line of Markdown: control characters made visible,
/// Markdown's special characters escaped.
pub fn md(s: &str) -> String {
    let safe = crate::sanitize::line(s);
    let mut out = String::with_capacity(safe.len() + 8);
    for c in safe.chars() {
        if matches!(
            c,
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '#' | '|' | '~' | '!' | '{' | '}'
        ) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// A value as inline code: sanitized, on one line, fenced with enough backticks.
pub fn code(s: &str) -> String {
    let safe = crate::describe::truncate(&crate::sanitize::line(s), 200);
    let longest = safe.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat(longest + 1);
    let pad = if safe.starts_with('`') || safe.ends_with('`') {
        " "
    } else {
        ""
    };
    format!("{fence}{pad}{safe}{pad}{fence}")
}

/// The engineer's multi-line text: control characters made visible, line breaks kept,
/// raw HTML neutralised (the team writes Markdown here on purpose).
fn prose(s: &str) -> String {
    crate::sanitize::text(s).replace('<', "&lt;")
}

/// The post-mortem as Markdown.
pub fn markdown(r: &Report) -> String {
    use std::fmt::Write;
    let mut o = String::new();
    let id = &r.run.run_id;
    let link = |run: &str, step: u32| code(&format!("{run}#{step}"));
    let _ = writeln!(o, "# Post-mortem: {}\n", md(&r.title));
    let _ = writeln!(o, "{}\n", md(&r.summary));
    let _ = writeln!(o, "| | |\n|---|---|");
    let _ = writeln!(o, "| Run | {} |", code(id));
    let agent = format!(
        "{} {}",
        r.run.agent.as_deref().unwrap_or("unknown"),
        r.run.agent_version.as_deref().unwrap_or("")
    );
    let _ = writeln!(o, "| Agent | {} |", md(agent.trim()));
    if let Some(m) = &r.run.model {
        let _ = writeln!(o, "| Model | {} |", md(m));
    }
    let _ = writeln!(o, "| Outcome | {} |", md(&r.run.outcome));
    if let Some(s) = &r.run.started_at {
        let _ = writeln!(o, "| Started | {} |", md(s));
    }
    if let Some(e) = &r.run.ended_at {
        let _ = writeln!(o, "| Ended | {} |", md(e));
    }
    let _ = writeln!(
        o,
        "| Category | {} ({}, confidence {:.2}) |",
        r.category.category.label(),
        r.category.source,
        r.category.classification.confidence
    );
    if let Some(rc) = &r.root_cause {
        let _ = writeln!(o, "| Root cause | {} |", link(&rc.run_id, rc.step));
    }
    if let Some(e) = &r.run.end_error {
        let _ = writeln!(o, "\n> {}", md(&crate::describe::truncate(e, 400)));
    }

    let _ = writeln!(o, "\n## Impact\n");
    let _ = writeln!(
        o,
        "- Runs: {}",
        r.impact
            .runs
            .iter()
            .map(|x| code(x))
            .collect::<Vec<_>>()
            .join(", ")
    );
    if r.impact.effects.is_empty() {
        let _ = writeln!(o, "- Changes in outside systems: none recorded");
    } else {
        let _ = writeln!(o, "- Changes in outside systems:");
        for e in &r.impact.effects {
            let what = match (&e.action, &e.target) {
                (Some(a), Some(t)) => format!("{} {}", md(a), code(t)),
                _ => format!("call {}", code(e.name.as_deref().unwrap_or("?"))),
            };
            let failed = if e.failed { " (failed)" } else { "" };
            let _ = writeln!(o, "  - {} {what}{failed}", link(&e.run_id, e.step));
        }
    }

    let _ = writeln!(o, "\n## Incident timeline\n");
    let _ = writeln!(o, "| Step | Role | What happened |\n|---|---|---|");
    for row in &r.timeline.rows {
        let roles: Vec<&str> = row.roles.iter().map(|x| x.label()).collect();
        let what = if row.roles.contains(&Role::Decision) {
            format!(
                "decision {} chose {}{}",
                md(row.name.as_deref().unwrap_or("")),
                code(row.choice.as_deref().unwrap_or("?")),
                row.reason
                    .as_deref()
                    .map(|x| format!(": {}", md(x)))
                    .unwrap_or_default()
            )
        } else {
            match row.name.as_deref() {
                Some(n) => format!("{} {}: {}", row.kind, md(n), md(&row.summary)),
                None => format!("{}: {}", row.kind, md(&row.summary)),
            }
        };
        let _ = writeln!(
            o,
            "| {} | {} | {} |",
            link(&row.run_id, row.step),
            roles.join(", "),
            what
        );
    }

    let _ = writeln!(o, "\n## Divergence\n");
    match &r.divergence {
        None => {
            let _ = writeln!(o, "No comparable successful run, or no divergence from it.");
        }
        Some(d) => {
            let _ = writeln!(
                o,
                "Compared with {}: **{}**. {}\n",
                code(&d.comparison.run_id),
                md(&d.kind),
                md(&d.summary)
            );
            if let Some(p) = &d.picked_because {
                let _ = writeln!(o, "The comparison run was picked: {}\n", md(p));
            }
            if let Some(c) = &d.context {
                let _ = writeln!(o, "Earlier input that differed: {}\n", md(c));
            }
            let _ = writeln!(o, "| | Step | Value |\n|---|---|---|");
            for (tag, side) in [("This run", &d.failing), ("Comparison", &d.comparison)] {
                let step = side
                    .step
                    .map_or("(none)".to_string(), |s| link(&side.run_id, s));
                let value = side
                    .value
                    .as_deref()
                    .map_or("(no such step)".to_string(), code);
                let _ = writeln!(o, "| {tag} | {step} | {value} |");
            }
        }
    }

    let c = &r.category.classification;
    let _ = writeln!(o, "\n## Category: {}\n", r.category.category.label());
    if r.category.source == "engineer" && c.category != r.category.category {
        let _ = writeln!(
            o,
            "Set by the engineer; the classifier said {} (confidence {:.2}).\n",
            c.category.label(),
            c.confidence
        );
    } else {
        let _ = writeln!(o, "Classifier confidence {:.2}.\n", c.confidence);
    }
    let _ = writeln!(o, "Evidence for {}:\n", c.category.label());
    for e in &c.evidence {
        let _ = writeln!(o, "- {} {}", link(&e.run_id, e.step), md(&e.why));
    }
    if !c.alternatives.is_empty() {
        let alts: Vec<String> = c
            .alternatives
            .iter()
            .map(|a| format!("{} ({:.2})", a.category.label(), a.confidence))
            .collect();
        let _ = writeln!(o, "\nAlternatives: {}.", alts.join(", "));
    }

    let _ = writeln!(o, "\n## Narrative\n");
    match &r.narrative {
        Some(n) => {
            let _ = writeln!(o, "{}", prose(n.trim_end()));
        }
        None => {
            let _ = writeln!(
                o,
                "_Not written yet (`retrace notes {} --narrative TEXT`)._",
                md(id)
            );
        }
    }
    if !r.step_notes.is_empty() || !r.bookmarks.is_empty() {
        let _ = writeln!(o, "\n## Notes on steps\n");
        for n in &r.step_notes {
            let _ = writeln!(o, "- {} {}", link(&n.step.run_id, n.step.step), md(&n.text));
        }
        for b in r
            .bookmarks
            .iter()
            .filter(|b| !r.step_notes.iter().any(|n| n.step == **b))
        {
            let _ = writeln!(o, "- {} (bookmarked)", link(&b.run_id, b.step));
        }
    }

    let _ = writeln!(o, "\n## Action items\n");
    if r.action_items.is_empty() {
        let _ = writeln!(o, "_None yet (`retrace notes {} --action 'TEXT owner=NAME component=tool|prompt|agent|infra done_when=\"…\"'`)._", md(id));
    } else {
        let _ = writeln!(
            o,
            "| | Action | Owner | Component | Done when |\n|---|---|---|---|---|"
        );
        for a in &r.action_items {
            let check = if a.item.done { "[x]" } else { "[ ]" };
            let mut text = md(&a.item.text);
            if !a.issues.is_empty() {
                text.push_str(&format!(" ⚠ {}", md(&a.issues.join("; "))));
            }
            let _ = writeln!(
                o,
                "| {check} | {text} | {} | {} | {} |",
                md(a.item.owner.as_deref().unwrap_or("—")),
                a.item.component.map_or("—", |c| c.as_str()),
                md(a.item.done_when.as_deref().unwrap_or("—"))
            );
        }
    }

    let _ = writeln!(o, "\n## References\n");
    let _ = writeln!(
        o,
        "{}",
        r.references
            .iter()
            .map(|x| code(x))
            .collect::<Vec<_>>()
            .join(" · ")
    );
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_text_is_escaped_for_markdown_and_made_harmless() {
        assert_eq!(
            md("a_b *c* [x](y) <b> | #1"),
            "a\\_b \\*c\\* \\[x\\](y) \\<b\\> \\| \\#1"
        );
        assert_eq!(md("bell\x07 esc\x1b[2J"), "bell\\\\x07 esc\\\\x1b\\[2J");
        assert_eq!(code("plain"), "`plain`");
        assert_eq!(code("a`b"), "``a`b``");
        assert_eq!(code("`x`"), "`` `x` ``");
        assert!(!code("line\nbreak").contains('\n'));
        assert_eq!(prose("**bold**\n<script>"), "**bold**\n&lt;script>");
    }
}
