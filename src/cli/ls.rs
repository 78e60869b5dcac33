//! `retrace ls`: the runs of a history, one per row, as [`crate::runs`] lists them.

use std::io::{self, Write};

use super::{cell, problems_json, CliError, Common, Paths, RunJson};
use crate::index::{History, RunRef};
use crate::runs::{self, Order, RunSort};
use crate::sanitize;
use crate::time::{format_duration, format_short};

/// The arguments of `retrace ls`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub paths: Paths,
    /// Print one JSON object {"runs": [...], "problems": [...]}.
    #[arg(long)]
    pub json: bool,
    /// Only runs passing these filters of the search language, e.g.
    /// 'outcome:failure agent:support-bot since:2d'.
    #[arg(long, value_name = "QUERY")]
    pub filter: Option<String>,
    /// Order: time (oldest first), or duration, steps, errors (most first).
    #[arg(long, value_enum, default_value = "time")]
    pub sort: RunSort,
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
    let listed = runs::list(&history, filter, Order::natural(args.sort));
    let mut out = super::stdout();
    print(&history, &listed, args.json, &mut out)?;
    out.flush()?;
    super::finish(&history, common)
}

/// Runs serialized by one thread at a time, before they are written.
const RUNS_PER_BLOCK: usize = 2048;

/// Writes `listed` as the elements of a JSON array, comma-separated. The runs are
/// serialized a block per thread, the blocks written in order: on a large history the
/// serializing costs as much as the rest of a warm load.
fn write_runs_json(listed: &[RunRef], out: &mut impl Write) -> io::Result<()> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let serialize = |block: usize| -> io::Result<Vec<u8>> {
        let first = block * RUNS_PER_BLOCK;
        let runs = &listed[first..listed.len().min(first + RUNS_PER_BLOCK)];
        let mut bytes = Vec::with_capacity(runs.len() * 512);
        for (i, run) in runs.iter().enumerate() {
            if first + i > 0 {
                bytes.push(b',');
            }
            serde_json::to_writer(&mut bytes, &RunJson::new(run))?;
        }
        Ok(bytes)
    };
    let blocks = listed.len().div_ceil(RUNS_PER_BLOCK);
    let mut next = 0;
    while next < blocks {
        let round = next..blocks.min(next + threads);
        let serialized: Vec<io::Result<Vec<u8>>> =
            std::thread::scope(|scope| {
                let others: Vec<_> = (round.start + 1..round.end)
                    .map(|block| scope.spawn(move || serialize(block)))
                    .collect();
                let mut serialized = vec![serialize(round.start)];
                for other in others {
                    serialized.push(other.join().unwrap_or_else(|_| {
                        Err(io::Error::other("a serializing thread panicked"))
                    }));
                }
                serialized
            });
        for bytes in serialized {
            out.write_all(&bytes?)?;
        }
        next = round.end;
    }
    Ok(())
}

/// Prints `listed` (all of the history's runs, or those a filter kept), in their order.
pub fn print(
    history: &History,
    listed: &[RunRef],
    as_json: bool,
    out: &mut impl Write,
) -> io::Result<()> {
    if as_json {
        // Streamed run by run: building one document would cost more than the load.
        out.write_all(b"{\"runs\":[")?;
        write_runs_json(listed, out)?;
        out.write_all(b"],\"problems\":")?;
        serde_json::to_writer(&mut *out, &problems_json(history.problems()))?;
        return out.write_all(b"}\n");
    }
    // Ids are shown whole up to a point (trace ids and session ids are long).
    let id_width = listed
        .iter()
        .map(|r| super::width(&sanitize::line(r.id())))
        .max()
        .unwrap_or(0)
        .clamp(6, 40);
    writeln!(
        out,
        "{} {} {} {:>6} {:>8}  {} FIRST ERROR",
        cell("RUN", id_width),
        cell("AGENT", 18),
        cell("STARTED (UTC)", 19),
        "STEPS",
        "DURATION",
        cell("OUTCOME", 11),
    )?;
    for run in listed {
        let first_error = runs::first_error_text(run).unwrap_or_default();
        let row = format!(
            "{} {} {} {:>6} {:>8}  {} {}",
            cell(&sanitize::line(run.id()), id_width),
            cell(&sanitize::line(run.agent().unwrap_or("-")), 18),
            cell(&run.started_at().map(format_short).unwrap_or_default(), 19),
            run.step_count(),
            run.duration_ms()
                .map_or("-".into(), |d| format_duration(d as f64)),
            cell(&runs::outcome_mark(run.outcome()), 11),
            crate::width::fit(&first_error, 60),
        );
        writeln!(out, "{}", row.trim_end())?;
    }
    let failed = runs::failed_count(listed);
    let shown = if listed.len() == history.run_count() {
        listed.len().to_string()
    } else {
        format!("{} of {}", listed.len(), history.run_count())
    };
    writeln!(
        out,
        "{shown} runs ({} failed), {} steps, {} files{}",
        failed,
        history.step_count(),
        history.files().len(),
        match history.problems().len() {
            0 => String::new(),
            n => format!(", {n} bad lines"),
        }
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::LoadOptions;

    #[test]
    fn runs_serialized_in_blocks_are_written_as_one_array_in_order() {
        let dir = tempfile::tempdir().unwrap();
        // Two whole blocks and part of a third.
        let runs = 2 * RUNS_PER_BLOCK + 7;
        let text: String = (0..runs)
            .map(|i| {
                format!(
                    "{{\"run_id\":\"r{i:05}\",\"step\":0,\"kind\":\"run_start\",\"ts\":{},\"agent\":\"a\\\"{}\"}}\n",
                    1000 + i,
                    i % 3
                )
            })
            .collect();
        std::fs::write(dir.path().join("runs.jsonl"), text).unwrap();
        let history = History::load(&[dir.path().to_path_buf()], &LoadOptions::default()).unwrap();
        let listed = runs::list(&history, None, Order::OLDEST_FIRST);
        assert_eq!(listed.len(), runs);

        let mut blocks = Vec::new();
        write_runs_json(&listed, &mut blocks).unwrap();
        let mut one_by_one = Vec::new();
        for (i, run) in listed.iter().enumerate() {
            if i > 0 {
                one_by_one.push(b',');
            }
            serde_json::to_writer(&mut one_by_one, &RunJson::new(run)).unwrap();
        }
        assert_eq!(
            String::from_utf8(blocks.clone()).unwrap(),
            String::from_utf8(one_by_one).unwrap()
        );
        let array: Vec<serde_json::Value> =
            serde_json::from_slice(&[b"[", &blocks[..], b"]"].concat()).unwrap();
        let ids: Vec<&str> = array
            .iter()
            .map(|r| r["run_id"].as_str().unwrap())
            .collect();
        let expected: Vec<String> = (0..runs).map(|i| format!("r{i:05}")).collect();
        assert_eq!(ids, expected);
    }

    #[test]
    fn no_runs_are_an_empty_array() {
        let mut out = Vec::new();
        write_runs_json(&[], &mut out).unwrap();
        assert!(out.is_empty());
    }
}
