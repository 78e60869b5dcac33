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
    let key = |r: &RunRef| -> Option<i64> {
        match order.by {
            RunSort::Time => r.started_at(),
            RunSort::Duration => r.duration_ms(),
            RunSort::Steps => Some(r.step_count() as i64),
            RunSort::Errors => Some(i64::from(r.error_count())),
        }
    };
    runs.sort_by(|a, b| match (key(a), key(b)) {
        (Some(x), Some(y)) if order.descending => y.cmp(&x),
        (Some(x), Some(y)) => x.cmp(&y),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => std::cmp::Ordering::Equal,
    });
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

    #[test]
    fn every_outcome_has_its_own_glyph_or_shares_the_bad_one() {
        assert_eq!(outcome_mark(Outcome::Unknown), "? unknown");
        assert_eq!(outcome_mark(Outcome::Running), "… running");
        assert_eq!(outcome_glyph(Outcome::Timeout), "✗");
    }
}
