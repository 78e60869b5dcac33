//! Figures of runs grouped by time, agent, model, version, task, error or tool: runs,
//! failures, durations, steps, tokens, error codes, when failures started and ended, and
//! cost when a price table is configured. Used by `retrace stats` and the browser.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::config::PriceTable;
use crate::index::RunRef;
use crate::model::{StepKind, Tokens};
use crate::time::format_rfc3339;

/// What runs are grouped by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum GroupBy {
    /// The UTC hour the run started in.
    Hour,
    /// The UTC day the run started on.
    Day,
    Agent,
    Model,
    /// The agent and its version, `agent@version`.
    Version,
    /// The `task` label (else `task_id`).
    Task,
    /// Each error code (else message) of a failing step: a run is in one group per
    /// distinct error it has.
    Error,
    /// Each tool the run called: a run is in one group per distinct tool.
    Tool,
}

const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 24 * HOUR_MS;

/// The figures of one group of runs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Group {
    /// `None` for runs without the grouped value (no start time, no agent, no error…).
    pub key: Option<String>,
    pub runs: usize,
    /// Runs that ended badly: failure, timeout or cancelled.
    pub failures: usize,
    pub failure_rate: f64,
    pub duration_ms_p50: Option<i64>,
    pub duration_ms_p95: Option<i64>,
    pub steps: usize,
    /// Summed over the runs that report a usage.
    pub tokens: Tokens,
    /// Failing steps by error code (else message).
    pub errors: BTreeMap<String, u64>,
    /// When the group's first and last failures happened (see [`failure_time`]).
    #[serde(serialize_with = "time_json")]
    pub first_failure: Option<i64>,
    #[serde(serialize_with = "time_json")]
    pub last_failure: Option<i64>,
    /// Only when a price table is configured.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cost: Option<Cost>,
}

/// The cost of a group's tokens, from the configured prices.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Cost {
    /// Of the runs whose model has a price.
    pub total: f64,
    /// Runs with tokens whose model has no price: not in `total`, never guessed.
    pub unpriced_runs: usize,
}

/// The groups, in order: by time for `hour` and `day`, else most failures first (then
/// most runs, then key).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Stats {
    pub by: GroupBy,
    pub groups: Vec<Group>,
}

fn time_json<S: serde::Serializer>(t: &Option<i64>, s: S) -> Result<S::Ok, S::Error> {
    match t {
        Some(ms) => s.serialize_str(&format_rfc3339(*ms)),
        None => s.serialize_none(),
    }
}

/// When a run failed: its first failing step, else its end, else its start.
pub fn failure_time(run: &RunRef) -> Option<i64> {
    run.first_error()
        .and_then(|s| s.ts)
        .or(run.ended_at())
        .or(run.started_at())
}

/// The groups `run` belongs to (several for `error` and `tool`; `None` is the group of
/// runs without the value).
pub fn keys(run: &RunRef, by: GroupBy) -> Vec<Option<String>> {
    let one = |v: Option<String>| vec![v];
    match by {
        GroupBy::Hour => one(run
            .started_at()
            .map(|t| format_rfc3339(floor_to(t, HOUR_MS)))),
        GroupBy::Day => one(run.started_at().map(|t| {
            let day = format_rfc3339(floor_to(t, DAY_MS));
            day.get(..10).unwrap_or(&day).to_string()
        })),
        GroupBy::Agent => one(run.agent().map(str::to_owned)),
        GroupBy::Model => one(run.model().map(str::to_owned)),
        GroupBy::Version => one(run.agent_version().map(|v| match run.agent() {
            Some(agent) => format!("{agent}@{v}"),
            None => v.to_string(),
        })),
        GroupBy::Task => one(run
            .label("task")
            .or_else(|| run.label("task_id"))
            .map(str::to_owned)),
        GroupBy::Error => {
            let codes: BTreeSet<String> = error_steps(run).map(str::to_owned).collect();
            if codes.is_empty() {
                vec![None]
            } else {
                codes.into_iter().map(Some).collect()
            }
        }
        GroupBy::Tool => {
            let tools: BTreeSet<&str> = run
                .steps()
                .filter(|s| s.kind == StepKind::ToolCall)
                .filter_map(|s| s.name)
                .collect();
            if tools.is_empty() {
                vec![None]
            } else {
                tools.into_iter().map(|t| Some(t.to_string())).collect()
            }
        }
    }
}

/// `t` rounded down to a multiple of `unit` (kept as is where that is out of range).
fn floor_to(t: i64, unit: i64) -> i64 {
    t.checked_sub(t.rem_euclid(unit)).unwrap_or(t)
}

/// The error labels of a run's failing steps, in step order (only runs with errors are
/// walked).
fn error_steps<'a, 'h>(run: &'a RunRef<'h>) -> impl Iterator<Item = &'h str> + 'a {
    let walk = if run.error_count() > 0 {
        run.first_error().map_or(0, |s| s.step as usize)..run.step_count()
    } else {
        0..0
    };
    walk.filter_map(|i| run.step(i).error)
}

#[derive(Default)]
struct Acc {
    runs: usize,
    failures: usize,
    durations: Vec<i64>,
    steps: usize,
    tokens: Tokens,
    errors: BTreeMap<String, u64>,
    first_failure: Option<i64>,
    last_failure: Option<i64>,
    cost: f64,
    unpriced_runs: usize,
}

/// Groups `runs` by `by` and computes each group's figures. Cost is computed when
/// `prices` is not empty, from each run's model.
pub fn compute(runs: &[RunRef], by: GroupBy, prices: &PriceTable) -> Stats {
    let mut groups: BTreeMap<Option<String>, Acc> = BTreeMap::new();
    for run in runs {
        let keys = keys(run, by);
        let failed = run.outcome().is_bad();
        let failed_at = if failed { failure_time(run) } else { None };
        let mut errors: BTreeMap<&str, u64> = BTreeMap::new();
        for label in error_steps(run) {
            *errors.entry(label).or_default() += 1;
        }
        let tokens = run.tokens();
        let price = tokens.map(|t| (t, run.model().and_then(|m| prices.price(m))));
        for key in keys {
            let acc = groups.entry(key).or_default();
            acc.runs += 1;
            acc.steps += run.step_count();
            acc.durations.extend(run.duration_ms());
            for (label, n) in &errors {
                *acc.errors.entry(label.to_string()).or_default() += n;
            }
            if let Some(t) = tokens {
                acc.tokens += t;
            }
            match price {
                Some((t, Some(p))) => acc.cost += p.cost(t),
                Some((_, None)) => acc.unpriced_runs += 1,
                None => {}
            }
            if failed {
                acc.failures += 1;
                if let Some(t) = failed_at {
                    acc.first_failure = Some(acc.first_failure.map_or(t, |f| f.min(t)));
                    acc.last_failure = Some(acc.last_failure.map_or(t, |l| l.max(t)));
                }
            }
        }
    }
    let mut groups: Vec<Group> = groups
        .into_iter()
        .map(|(key, mut acc)| {
            acc.durations.sort_unstable();
            Group {
                key,
                runs: acc.runs,
                failures: acc.failures,
                failure_rate: acc.failures as f64 / acc.runs as f64,
                duration_ms_p50: percentile(&acc.durations, 0.50),
                duration_ms_p95: percentile(&acc.durations, 0.95),
                steps: acc.steps,
                tokens: acc.tokens,
                errors: acc.errors,
                first_failure: acc.first_failure,
                last_failure: acc.last_failure,
                cost: (!prices.is_empty()).then_some(Cost {
                    total: acc.cost,
                    unpriced_runs: acc.unpriced_runs,
                }),
            }
        })
        .collect();
    if !matches!(by, GroupBy::Hour | GroupBy::Day) {
        groups.sort_by(|a, b| {
            (b.failures, b.runs)
                .cmp(&(a.failures, a.runs))
                .then_with(|| a.key.cmp(&b.key))
        });
    }
    // Runs without the value come last.
    groups.sort_by_key(|g| g.key.is_none());
    Stats { by, groups }
}

/// The nearest-rank percentile of sorted values.
fn percentile(sorted: &[i64], p: f64) -> Option<i64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (p * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::{History, LoadOptions};

    #[test]
    fn nearest_rank_percentiles() {
        assert_eq!(percentile(&[], 0.5), None);
        assert_eq!(percentile(&[7], 0.95), Some(7));
        let v: Vec<i64> = (1..=20).collect();
        assert_eq!(percentile(&v, 0.5), Some(10));
        assert_eq!(percentile(&v, 0.95), Some(19));
        assert_eq!(percentile(&[1, 2, 3], 0.5), Some(2));
    }

    fn history(text: &str) -> (tempfile::TempDir, History) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("runs.jsonl"), text).unwrap();
        let h = History::load(&[dir.path().to_path_buf()], &LoadOptions::default()).unwrap();
        (dir, h)
    }

    const RUNS: &str = concat!(
        r#"{"run_id":"a","step":0,"kind":"run_start","agent":"bot","agent_version":"1","model":"m1","ts":"2026-01-01T10:05:00Z"}"#,
        "\n",
        r#"{"run_id":"a","step":1,"kind":"llm_call","tokens":{"input":1000,"output":10},"ts":"2026-01-01T10:05:01Z","duration_ms":1000}"#,
        "\n",
        r#"{"run_id":"a","step":2,"kind":"tool_call","name":"mail","ts":"2026-01-01T10:05:02Z"}"#,
        "\n",
        r#"{"run_id":"a","step":3,"kind":"tool_result","name":"mail","status":"error","error":{"code":"E1"},"ts":"2026-01-01T10:05:03Z"}"#,
        "\n",
        r#"{"run_id":"a","step":4,"kind":"run_end","outcome":"failure","ts":"2026-01-01T10:05:04Z"}"#,
        "\n",
        r#"{"run_id":"b","step":0,"kind":"run_start","agent":"bot","agent_version":"2","model":"m2","ts":"2026-01-01T10:50:00Z"}"#,
        "\n",
        r#"{"run_id":"b","step":1,"kind":"llm_call","tokens":{"input":500,"output":50},"ts":"2026-01-01T10:50:10Z"}"#,
        "\n",
        r#"{"run_id":"b","step":2,"kind":"run_end","outcome":"success","ts":"2026-01-01T10:50:20Z"}"#,
        "\n",
        r#"{"run_id":"c","step":0,"kind":"run_start","agent":"other","ts":"2026-01-01T11:00:00Z"}"#,
        "\n",
        r#"{"run_id":"c","step":1,"kind":"tool_call","name":"mail","ts":"2026-01-01T11:00:01Z"}"#,
        "\n",
        r#"{"run_id":"c","step":2,"kind":"tool_result","name":"mail","status":"error","error":{"code":"E1"},"ts":"2026-01-01T11:00:02Z"}"#,
        "\n",
        r#"{"run_id":"c","step":3,"kind":"error","error":{"code":"E2"},"ts":"2026-01-01T11:00:03Z"}"#,
        "\n",
        r#"{"run_id":"c","step":4,"kind":"run_end","outcome":"timeout","ts":"2026-01-01T11:00:09Z"}"#,
        "\n",
    );

    #[test]
    fn groups_by_hour_with_their_figures() {
        let (_dir, h) = history(RUNS);
        let runs: Vec<RunRef> = h.runs().collect();
        let stats = compute(&runs, GroupBy::Hour, &PriceTable::default());
        assert_eq!(stats.groups.len(), 2);
        let ten = &stats.groups[0];
        assert_eq!(ten.key.as_deref(), Some("2026-01-01T10:00:00Z"));
        assert_eq!((ten.runs, ten.failures, ten.steps), (2, 1, 8));
        assert_eq!(ten.failure_rate, 0.5);
        assert_eq!(ten.duration_ms_p50, Some(4000));
        assert_eq!(ten.duration_ms_p95, Some(20000));
        assert_eq!(
            ten.tokens,
            Tokens {
                input: 1500,
                output: 60
            }
        );
        assert_eq!(ten.errors, BTreeMap::from([("E1".to_string(), 1)]));
        // Run a failed at its failing step.
        assert_eq!(ten.first_failure, Some(1_767_261_903_000));
        assert_eq!(ten.cost, None);
        let eleven = &stats.groups[1];
        assert_eq!((eleven.runs, eleven.failures), (1, 1));
        assert_eq!(eleven.tokens, Tokens::default());
        assert_eq!(eleven.errors.len(), 2);

        let json = serde_json::to_value(&stats).unwrap();
        assert_eq!(json["by"], "hour");
        assert_eq!(json["groups"][0]["first_failure"], "2026-01-01T10:05:03Z");
        assert_eq!(json["groups"][0]["tokens"]["input"], 1500);
        assert!(json["groups"][0].get("cost").is_none());
    }

    #[test]
    fn error_and_tool_groups_rank_by_failures_and_runs_can_be_in_several() {
        let (_dir, h) = history(RUNS);
        let runs: Vec<RunRef> = h.runs().collect();
        let stats = compute(&runs, GroupBy::Error, &PriceTable::default());
        let keys: Vec<Option<&str>> = stats.groups.iter().map(|g| g.key.as_deref()).collect();
        assert_eq!(keys, [Some("E1"), Some("E2"), None]);
        assert_eq!(stats.groups[0].failures, 2);
        assert_eq!(stats.groups[2].runs, 1);
        let tools = compute(&runs, GroupBy::Tool, &PriceTable::default());
        assert_eq!(tools.groups[0].key.as_deref(), Some("mail"));
        assert_eq!(tools.groups[0].runs, 2);
        let versions = compute(&runs, GroupBy::Version, &PriceTable::default());
        let keys: Vec<Option<&str>> = versions.groups.iter().map(|g| g.key.as_deref()).collect();
        assert_eq!(keys, [Some("bot@1"), Some("bot@2"), None]);
    }

    #[test]
    fn cost_only_from_configured_prices() {
        let (_dir, h) = history(RUNS);
        let runs: Vec<RunRef> = h.runs().collect();
        let prices = PriceTable::parse("price.m1 = 1.0 2.0\n");
        let stats = compute(&runs, GroupBy::Agent, &prices);
        let bot = stats
            .groups
            .iter()
            .find(|g| g.key.as_deref() == Some("bot"))
            .unwrap();
        // Run a: 1000 in, 10 out at m1's price; run b's model has none.
        let cost = bot.cost.unwrap();
        assert!((cost.total - (1.0 + 0.02)).abs() < 1e-9, "{cost:?}");
        assert_eq!(cost.unpriced_runs, 1);
        // Run c reports no tokens: nothing to price.
        let other = stats
            .groups
            .iter()
            .find(|g| g.key.as_deref() == Some("other"))
            .unwrap();
        assert_eq!(
            other.cost,
            Some(Cost {
                total: 0.0,
                unpriced_runs: 0
            })
        );
    }
}
