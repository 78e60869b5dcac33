//! `retrace stats`: runs grouped by time, agent, model, version, task, error or tool,
//! with their failures, durations, tokens, error codes and cost, as a table or JSON.

use std::io::{self, Write};

use super::{cell, CliError, Common, Paths};
use crate::config::PriceTable;
use crate::runs::{self, Order};
use crate::sanitize;
use crate::stats::{compute, GroupBy, Stats};
use crate::time::{format_duration, format_short};

/// The arguments of `retrace stats`.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    pub paths: Paths,
    /// Group the runs by this.
    #[arg(long, value_enum, default_value = "day")]
    pub by: GroupBy,
    /// Only runs passing these filters of the search language, e.g.
    /// 'agent:support-bot since:2d'.
    #[arg(long, value_name = "QUERY")]
    pub filter: Option<String>,
    /// Print one JSON object {"by", "groups": [{"key", "runs", "failures", ...}]}.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub common: Common,
}

pub fn run(args: Args) -> Result<(), CliError> {
    let common = &args.common;
    let query = args
        .filter
        .as_deref()
        .map(|f| super::parse_query("filter", f))
        .transpose()?;
    let history = super::load(&args.paths, common)?;
    if !args.json {
        super::report_problems(&history, 20);
    }
    let filter = query.as_ref().map(|query| runs::Filter {
        query,
        now: crate::search::now_ms(),
    });
    let listed = runs::list(&history, filter, Order::OLDEST_FIRST);
    let stats = compute(&listed, args.by, &PriceTable::load());
    let mut out = super::stdout();
    print(&stats, args.json, &mut out)?;
    out.flush()?;
    super::finish(&history, common)
}

/// Prints the groups as a table (one row each, then the error codes of the groups that
/// have failures), or as one JSON object.
pub fn print(stats: &Stats, as_json: bool, out: &mut impl Write) -> io::Result<()> {
    if as_json {
        serde_json::to_writer(&mut *out, stats)?;
        return out.write_all(b"\n");
    }
    let key_width = stats
        .groups
        .iter()
        .map(|g| key_text(g.key.as_deref()).chars().count())
        .max()
        .unwrap_or(0)
        .clamp(5, 40);
    let with_cost = stats.groups.iter().any(|g| g.cost.is_some());
    let header = format!(
        "{} {:>6} {:>6} {:>5} {:>8} {:>8} {:>7} {:>9} {:>8}{}  TOP ERROR",
        cell(&format!("{:?}", stats.by).to_uppercase(), key_width),
        "RUNS",
        "FAILED",
        "RATE",
        "P50",
        "P95",
        "STEPS",
        "TOKENS IN",
        "OUT",
        if with_cost {
            format!(" {:>10}", "COST")
        } else {
            String::new()
        },
    );
    writeln!(out, "{}", header.trim_end())?;
    for g in &stats.groups {
        let duration = |d: Option<i64>| d.map_or("-".into(), |d| format_duration(d as f64));
        let top_error = g
            .errors
            .iter()
            .max_by(|a, b| a.1.cmp(b.1).then_with(|| b.0.cmp(a.0)))
            .map(|(code, n)| format!("{} ×{n}", sanitize::line(code)))
            .unwrap_or_default();
        let cost = match g.cost {
            Some(c) if c.unpriced_runs > 0 => format!(" {:>9.2}+", c.total),
            Some(c) => format!(" {:>10.2}", c.total),
            None => String::new(),
        };
        let row = format!(
            "{} {:>6} {:>6} {:>4.0}% {:>8} {:>8} {:>7} {:>9} {:>8}{cost}  {}",
            cell(&key_text(g.key.as_deref()), key_width),
            g.runs,
            g.failures,
            g.failure_rate * 100.0,
            duration(g.duration_ms_p50),
            duration(g.duration_ms_p95),
            g.steps,
            g.tokens.input,
            g.tokens.output,
            crate::describe::truncate(&top_error, 40),
        );
        writeln!(out, "{}", row.trim_end())?;
    }
    let failing: Vec<_> = stats.groups.iter().filter(|g| g.failures > 0).collect();
    if !failing.is_empty() {
        writeln!(out)?;
        for g in failing {
            let when = match (g.first_failure, g.last_failure) {
                (Some(f), Some(l)) => format!(" {} – {}", format_short(f), format_short(l)),
                _ => String::new(),
            };
            let mut errors: Vec<_> = g.errors.iter().collect();
            errors.sort_by(|a, b| b.1.cmp(a.1).then_with(|| a.0.cmp(b.0)));
            let errors: Vec<String> = errors
                .iter()
                .map(|(code, n)| format!("{} ×{n}", sanitize::line(code)))
                .collect();
            writeln!(
                out,
                "{}: {} failed{when}{}{}",
                key_text(g.key.as_deref()),
                g.failures,
                if errors.is_empty() { "" } else { "; " },
                errors.join(", ")
            )?;
        }
    }
    if with_cost {
        writeln!(
            out,
            "cost from the configured prices; + marks groups with runs of unpriced models"
        )?;
    }
    Ok(())
}

fn key_text(key: Option<&str>) -> String {
    key.map_or("-".to_string(), |k| sanitize::line(k).into_owned())
}
