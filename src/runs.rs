//! The run list, for `retrace ls` and the browser alike: which runs pass a filter, in
//! which order, and how each is marked (outcome glyph, first-error text). Views only lay
//! these out; they never re-decide them.

use std::borrow::Cow;

use crate::index::{History, RunRef};
use crate::model::Outcome;
use crate::sanitize;
use crate::search::Query;

/// What a run list can be ordered by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, clap::ValueEnum)]
pub enum RunSort {
    /// By start time.
    Time,
    Duration,
    Steps,
    Errors,
}

impl RunSort {
    pub const ALL: [RunSort; 4] = [
        RunSort::Time,
        RunSort::Duration,
        RunSort::Steps,
        RunSort::Errors,
    ];

    pub fn parse(s: &str) -> Option<RunSort> {
        RunSort::ALL.into_iter().find(|k| k.as_str() == s)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            RunSort::Time => "time",
            RunSort::Duration => "duration",
            RunSort::Steps => "steps",
            RunSort::Errors => "errors",
        }
    }
}

/// An order of the run list: a figure and a direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Order {
    pub by: RunSort,
    pub descending: bool,
}

impl Order {
    /// Oldest first: the order `ls` and the browser open with.
    pub const OLDEST_FIRST: Order = Order {
        by: RunSort::Time,
        descending: false,
    };

    /// The order people expect of a figure: time oldest first, the rest most first.
    pub fn natural(by: RunSort) -> Order {
        Order {
            by,
            descending: by != RunSort::Time,
        }
    }

    /// The next order when the user cycles them: time, duration, steps, errors, time.
    pub fn next(self) -> Order {
        let i = RunSort::ALL.iter().position(|&b| b == self.by).unwrap_or(0);
        Order::natural(RunSort::ALL[(i + 1) % RunSort::ALL.len()])
    }
}

impl Default for Order {
    fn default() -> Self {
        Order::OLDEST_FIRST
    }
}

/// A run filter: the query's run filters (its text is not used), with relative times
/// (`since:2h`) resolved against `now` (epoch ms).
#[derive(Debug, Clone, Copy)]
pub struct Filter<'q> {
    pub query: &'q Query,
    pub now: i64,
}

/// The runs of `history` that pass `filter`, in `order`; ties (and runs without the
/// figure, which go last) keep load order.
pub fn list<'h>(history: &'h History, filter: Option<Filter>, order: Order) -> Vec<RunRef<'h>> {
    let mut runs: Vec<RunRef<'h>> = history
        .runs()
        .filter(|r| filter.map_or(true, |f| f.query.matches_run(r, f.now)))
        .collect();
    sort_runs(&mut runs, order);
    runs
}

/// Sorts runs by `order` (runs without the figure last, in either direction); ties keep
/// their order.
pub fn sort_runs(runs: &mut [RunRef<'_>], order: Order) {
    runs.sort_by(|a, b| compare(order, a, b));
}

/// How two runs compare in `order` by their figures alone (equal figures: `Equal`).
fn compare(order: Order, a: &RunRef, b: &RunRef) -> std::cmp::Ordering {
    let key = |r: &RunRef| -> Option<i64> {
        match order.by {
            RunSort::Time => r.started_at(),
            RunSort::Duration => r.duration_ms(),
            RunSort::Steps => Some(r.step_count() as i64),
            RunSort::Errors => Some(i64::from(r.error_count())),
        }
    };
    match (key(a), key(b)) {
        (Some(x), Some(y)) if order.descending => y.cmp(&x),
        (Some(x), Some(y)) => x.cmp(&y),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => std::cmp::Ordering::Equal,
    }
}

/// Brings `listed` (run indices, as [`list`] gave them) up to date after the runs in
/// `touched` changed or arrived, every other run being as it was: the same list [`list`]
/// would give now, in time proportional to the touched runs plus one merge pass, so that
/// a growing history does not re-sort every run on every batch.
pub fn relist(
    history: &History,
    listed: &mut Vec<u32>,
    touched: &[u32],
    filter: Option<Filter>,
    order: Order,
) {
    let mut touched = touched.to_vec();
    touched.sort_unstable();
    touched.dedup();
    listed.retain(|run| touched.binary_search(run).is_err());
    // Sorted stably from load order, as `list` sorts every run: ties stay in load order.
    let mut fresh: Vec<RunRef> = touched
        .iter()
        .map(|&run| history.run(run as usize))
        .filter(|r| filter.map_or(true, |f| f.query.matches_run(r, f.now)))
        .collect();
    sort_runs(&mut fresh, order);
    let mut merged = Vec::with_capacity(listed.len() + fresh.len());
    let mut fresh = fresh.into_iter().peekable();
    for &run in listed.iter() {
        let kept = history.run(run as usize);
        while let Some(next) = fresh.next_if(|f| {
            compare(order, f, &kept).then((f.index() as u32).cmp(&run)) == std::cmp::Ordering::Less
        }) {
            merged.push(next.index() as u32);
        }
        merged.push(run);
    }
    merged.extend(fresh.map(|r| r.index() as u32));
    *listed = merged;
}

/// The glyph of an outcome: colour is never the only signal, so every view shows it.
pub fn outcome_glyph(o: Outcome) -> &'static str {
    match o {
        Outcome::Success => "✓",
        Outcome::Failure | Outcome::Timeout | Outcome::Cancelled => "✗",
        Outcome::Running => "…",
        Outcome::Unknown => "?",
    }
}

/// An outcome as lists show it: glyph and word, e.g. `✗ failure`.
pub fn outcome_mark(o: Outcome) -> String {
    format!("{} {}", outcome_glyph(o), o.as_str())
}

/// The run's first error as lists show it, safe for one line: `#15 SMTP_AUTH_INVALID`,
/// else the run's end error, else nothing.
pub fn first_error_text(run: &RunRef) -> Option<String> {
    let raw: Cow<str> = match run.first_error().and_then(|s| s.error.map(|e| (s.step, e))) {
        Some((step, e)) => Cow::Owned(format!("#{step} {e}")),
        None => Cow::Borrowed(run.end_error()?),
    };
    Some(sanitize::line(&raw).into_owned())
}

/// How many of `runs` ended badly.
pub fn failed_count<'a>(runs: impl IntoIterator<Item = &'a RunRef<'a>>) -> usize {
    runs.into_iter().filter(|r| r.outcome().is_bad()).count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cycling_orders_visits_every_figure_and_comes_back() {
        let mut o = Order::OLDEST_FIRST;
        let mut seen = vec![o.by];
        for _ in 0..3 {
            o = o.next();
            assert!(o.descending, "{:?} is most-first", o.by);
            seen.push(o.by);
        }
        assert_eq!(seen, RunSort::ALL);
        assert_eq!(o.next(), Order::OLDEST_FIRST);
    }

    /// `relist` after some runs changed gives what `list` gives, whichever runs changed,
    /// in every order and under a filter.
    #[test]
    fn relisting_touched_runs_gives_the_full_list() {
        let demo = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("assets/demo");
        let history = History::load(&[demo], &Default::default()).expect("the demo loads");
        let all = history.run_count() as u32;
        assert!(all >= 8, "the demo has enough runs to shuffle");
        let query = Query::parse("agent:support-bot").expect("a run filter");
        let filters = [
            None,
            Some(Filter {
                query: &query,
                now: 0,
            }),
        ];
        let mut orders: Vec<Order> = RunSort::ALL.into_iter().map(Order::natural).collect();
        orders.push(Order {
            by: RunSort::Steps,
            descending: false,
        });
        for order in orders {
            for filter in filters {
                let ids = |runs: Vec<RunRef>| -> Vec<u32> {
                    runs.iter().map(|r| r.index() as u32).collect()
                };
                let expected = ids(list(&history, filter, order));
                // Touched: every third run from several starting points, the first and
                // last runs, all of them, none.
                let mut cases: Vec<Vec<u32>> =
                    (0..3).map(|k| (k..all).step_by(3).collect()).collect();
                cases.extend([vec![0, all - 1], (0..all).collect(), vec![]]);
                for touched in cases {
                    let mut listed: Vec<u32> = expected
                        .iter()
                        .copied()
                        .filter(|r| !touched.contains(r))
                        .collect();
                    relist(&history, &mut listed, &touched, filter, order);
                    assert_eq!(
                        listed,
                        expected,
                        "{order:?}, filtered: {}, touched {touched:?}",
                        filter.is_some()
                    );
                }
            }
        }
    }

    #[test]
    fn every_outcome_has_its_own_glyph_or_shares_the_bad_one() {
        assert_eq!(outcome_mark(Outcome::Unknown), "? unknown");
        assert_eq!(outcome_mark(Outcome::Running), "… running");
        assert_eq!(outcome_glyph(Outcome::Timeout), "✗");
    }
}
