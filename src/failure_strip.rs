//! The failure strip's model: runs and failures counted per time bucket, buckets of a round
//! size (a minute, an hour, a day…) chosen so that they fit a given number of columns,
//! glyph heights scaled to the busiest bucket, and which bucket a run falls in. The
//! browser draws it above the run list; this module only counts.

use std::ops::Range;

use crate::index::RunRef;

/// Runs that started in one bucket.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Bucket {
    pub runs: u32,
    /// Runs that ended badly (failure, timeout, cancelled).
    pub failures: u32,
}

/// Runs by start time in equal buckets, `buckets[i]` covering `range(i)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailureStrip {
    /// Start of the first bucket (epoch ms), a multiple of `bucket_ms` (except in a strip
    /// of one column too short for any round size).
    pub start_ms: i64,
    pub bucket_ms: i64,
    pub buckets: Vec<Bucket>,
}

const SECOND: i64 = 1000;
const MINUTE: i64 = 60 * SECOND;
const HOUR: i64 = 60 * MINUTE;
const DAY: i64 = 24 * HOUR;

/// Bucket sizes a reader can name ("the runs of that hour"); beyond a week, whole weeks.
const SIZES: [i64; 16] = [
    SECOND,
    5 * SECOND,
    15 * SECOND,
    30 * SECOND,
    MINUTE,
    5 * MINUTE,
    15 * MINUTE,
    30 * MINUTE,
    HOUR,
    3 * HOUR,
    6 * HOUR,
    12 * HOUR,
    DAY,
    2 * DAY,
    7 * DAY,
    30 * DAY,
];

impl FailureStrip {
    /// Counts runs given as `(start time, failed)` into at most `width` buckets of the
    /// smallest round size that fits. Runs without a start time are not counted. `None`
    /// when there is no timed run or no column.
    pub fn build(runs: impl IntoIterator<Item = (i64, bool)>, width: usize) -> Option<Self> {
        // Times past ±285,000 years are nobody's runs; leaving them out keeps the
        // arithmetic below far from overflow.
        let runs: Vec<(i64, bool)> = runs
            .into_iter()
            .filter(|r| r.0.unsigned_abs() < 1 << 53)
            .collect();
        let first = runs.iter().map(|r| r.0).min()?;
        let last = runs.iter().map(|r| r.0).max()?;
        if width == 0 {
            return None;
        }
        let columns = |size: i64| (last.div_euclid(size) - first.div_euclid(size) + 1) as usize;
        let (start_ms, bucket_ms) = match SIZES.iter().copied().find(|&s| columns(s) <= width) {
            Some(size) => (first.div_euclid(size) * size, size),
            // One column: one bucket from the first run on.
            None if width == 1 => (first, last - first + 1),
            // Whole weeks: with buckets of at least span / (width - 1), the span and the
            // alignment of its start fit the width.
            None => {
                let weeks = (last - first) / (7 * DAY) / (width as i64 - 1) + 1;
                let size = weeks * 7 * DAY;
                (first.div_euclid(size) * size, size)
            }
        };
        let mut buckets = vec![Bucket::default(); ((last - start_ms) / bucket_ms + 1) as usize];
        for (ts, failed) in runs {
            let b = &mut buckets[((ts - start_ms) / bucket_ms) as usize];
            b.runs += 1;
            b.failures += u32::from(failed);
        }
        Some(FailureStrip {
            start_ms,
            bucket_ms,
            buckets,
        })
    }

    /// The strip of `runs` (by their start time and outcome) in at most `width` columns.
    pub fn of_runs(runs: &[RunRef], width: usize) -> Option<Self> {
        let timed = runs
            .iter()
            .filter_map(|r| Some((r.started_at()?, r.outcome().is_bad())));
        FailureStrip::build(timed, width)
    }

    /// The bucket a time falls in, if inside the strip.
    pub fn column_of(&self, ts: i64) -> Option<usize> {
        if ts < self.start_ms {
            return None;
        }
        let column = ((ts - self.start_ms) / self.bucket_ms) as usize;
        (column < self.buckets.len()).then_some(column)
    }

    /// The bucket of a run (the selected run's mark), by its start time.
    pub fn column_of_run(&self, run: &RunRef) -> Option<usize> {
        self.column_of(run.started_at()?)
    }

    /// The times bucket `column` covers, `[start, end)` in epoch ms.
    pub fn range(&self, column: usize) -> Range<i64> {
        let start = self.start_ms + column as i64 * self.bucket_ms;
        start..start + self.bucket_ms
    }

    /// Whether `run` started in bucket `column` (the filter "only the runs of that hour").
    pub fn contains(&self, column: usize, run: &RunRef) -> bool {
        run.started_at()
            .is_some_and(|t| self.range(column).contains(&t))
    }

    /// Each bucket's height from 0 to `max_level`: 0 for no failure, at least 1 for any,
    /// `max_level` for the bucket with the most failures. Read by glyph height, so the
    /// strip needs no colour.
    pub fn levels(&self, max_level: u8) -> Vec<u8> {
        let most = self.buckets.iter().map(|b| b.failures).max().unwrap_or(0);
        self.buckets
            .iter()
            .map(|b| {
                if b.failures == 0 || most == 0 {
                    0
                } else {
                    // Rounded up, so that one failure among many never vanishes.
                    let level =
                        (u64::from(b.failures) * u64::from(max_level)).div_ceil(u64::from(most));
                    level.max(1) as u8
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: i64 = 1_795_000_000_000; // 2026-11-18T…Z

    #[test]
    fn picks_the_smallest_round_bucket_that_fits_the_width() {
        // Four days of runs in 80 columns: 96 hours do not fit, 3-hour buckets do.
        let runs = [(T0, false), (T0 + 4 * DAY - 1, true)];
        let strip = FailureStrip::build(runs, 80).unwrap();
        assert_eq!(strip.bucket_ms, 3 * HOUR);
        assert!(strip.buckets.len() <= 80);
        assert_eq!(strip.start_ms % (3 * HOUR), 0);
        // At 160 columns, hours fit.
        let strip = FailureStrip::build(runs, 160).unwrap();
        assert_eq!(strip.bucket_ms, HOUR);
        assert_eq!(strip.buckets.len(), 97);
        // A 2-second burst in 40 columns: one-second buckets.
        let strip = FailureStrip::build([(T0, true), (T0 + 1999, false)], 40).unwrap();
        assert_eq!(strip.bucket_ms, SECOND);
        // Ten years in 20 columns: whole weeks, and still within the width.
        let strip = FailureStrip::build([(T0, true), (T0 + 3650 * DAY, false)], 20).unwrap();
        assert_eq!(strip.bucket_ms % (7 * DAY), 0);
        assert!(strip.buckets.len() <= 20, "{}", strip.buckets.len());
        assert_eq!(FailureStrip::build([(T0, true)], 0), None);
        // Runs on both sides of 1970, and absurd times, in one column.
        let strip = FailureStrip::build(
            [(-400 * DAY, true), (900 * DAY, false), (i64::MAX, true)],
            1,
        )
        .unwrap();
        assert_eq!(
            strip.buckets,
            [Bucket {
                runs: 2,
                failures: 1
            }]
        );
        assert_eq!(FailureStrip::build([], 80), None);
    }

    #[test]
    fn counts_runs_and_failures_per_bucket_and_places_a_time() {
        let hour = |h: i64, m: i64| T0.div_euclid(DAY) * DAY + h * HOUR + m * MINUTE;
        let runs = [
            (hour(8, 5), false),
            (hour(9, 12), true),
            (hour(9, 41), true),
            (hour(11, 38), true),
            (hour(11, 50), false),
            (hour(20, 0), false),
        ];
        let strip = FailureStrip::build(runs, 24).unwrap();
        assert_eq!(strip.bucket_ms, HOUR);
        assert_eq!(strip.start_ms, hour(8, 0));
        let per_hour: Vec<(u32, u32)> =
            strip.buckets.iter().map(|b| (b.runs, b.failures)).collect();
        assert_eq!(
            per_hour,
            [
                (1, 0),
                (2, 2),
                (0, 0),
                (2, 1),
                (0, 0),
                (0, 0),
                (0, 0),
                (0, 0),
                (0, 0),
                (0, 0),
                (0, 0),
                (0, 0),
                (1, 0)
            ]
        );
        assert_eq!(strip.column_of(hour(9, 59)), Some(1));
        assert_eq!(strip.column_of(hour(7, 59)), None);
        assert_eq!(strip.column_of(hour(21, 0)), None);
        assert_eq!(strip.range(3), hour(11, 0)..hour(12, 0));
        // Heights: the busiest bucket is full, a lone failure still shows.
        assert_eq!(strip.levels(8)[..4], [0, 8, 0, 4]);
        let strip =
            FailureStrip::build((0..100).map(|i| (T0, i < 99)).chain([(T0 + HOUR, true)]), 2)
                .unwrap();
        assert_eq!(strip.levels(8), [8, 1]);
    }

    #[test]
    fn the_strip_of_a_history() {
        let dir = tempfile::tempdir().unwrap();
        let line = |run: &str, step: u32, kind: &str, ts: &str, extra: &str| {
            format!("{{\"run_id\":\"{run}\",\"step\":{step},\"kind\":\"{kind}\",\"ts\":\"{ts}\"{extra}}}\n")
        };
        let text = [
            line("a", 0, "run_start", "2026-11-25T09:12:00Z", ""),
            line(
                "a",
                1,
                "run_end",
                "2026-11-25T09:13:00Z",
                ",\"outcome\":\"failure\"",
            ),
            line("b", 0, "run_start", "2026-11-25T10:30:00Z", ""),
            line(
                "b",
                1,
                "run_end",
                "2026-11-25T10:31:00Z",
                ",\"outcome\":\"success\"",
            ),
            line("c", 0, "run_start", "2026-11-25T11:00:00Z", ""),
        ]
        .concat();
        std::fs::write(dir.path().join("r.jsonl"), text).unwrap();
        let history = crate::index::History::load(
            &[dir.path().to_path_buf()],
            &crate::index::LoadOptions::default(),
        )
        .unwrap();
        let runs: Vec<RunRef> = history.runs().collect();
        let strip = FailureStrip::of_runs(&runs, 3).unwrap();
        assert_eq!(strip.bucket_ms, HOUR);
        let b = history.find_run("b").unwrap();
        assert_eq!(strip.column_of_run(&b), Some(1));
        assert!(strip.contains(1, &b));
        assert!(!strip.contains(0, &b));
        assert_eq!(
            strip.buckets[0],
            Bucket {
                runs: 1,
                failures: 1
            }
        );
        assert_eq!(
            strip.buckets[2],
            Bucket {
                runs: 1,
                failures: 0
            }
        );
    }

    #[test]
    fn every_run_lands_in_a_bucket_within_the_width() {
        // Spans from a second to years, widths from 1 to 300, from a fixed-seed generator.
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for _ in 0..500 {
            let width = (next() % 300 + 1) as usize;
            let span = (1 + (next() % (500 * 365 * DAY as u64)) as i64) >> (next() % 40);
            let runs: Vec<(i64, bool)> = (0..(next() % 50 + 1))
                .map(|_| (T0 + (next() as i64).rem_euclid(span + 1), next() % 3 == 0))
                .collect();
            let strip = FailureStrip::build(runs.iter().copied(), width).unwrap();
            assert!(
                strip.buckets.len() <= width,
                "{} > {width}",
                strip.buckets.len()
            );
            let counted: u32 = strip.buckets.iter().map(|b| b.runs).sum();
            assert_eq!(counted as usize, runs.len());
            for (ts, _) in &runs {
                let column = strip.column_of(*ts).expect("inside the strip");
                assert!(strip.range(column).contains(ts));
            }
            assert!(strip.levels(8).iter().all(|&l| l <= 8));
        }
    }
}
