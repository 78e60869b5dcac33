//! The waterfall's model: each step's start and duration as a bar on its run's time axis,
//! scaled to a number of columns, errors marked. The axis comes from the run's figures in
//! the index, so bars are computed for the visible rows only: a window of a million-step
//! run costs the window, not the run.

use std::ops::Range;

use crate::index::RunRef;

/// A run's time axis over `width` columns.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Waterfall {
    /// The run's start, epoch ms: column 0 begins here.
    pub start_ms: i64,
    /// The run's length in ms (at least 1).
    pub span_ms: i64,
    pub width: u16,
}

/// One step's bar: columns `start..start + len` of the axis.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bar {
    pub start: u16,
    /// At least 1: a step shorter than a column still shows.
    pub len: u16,
    /// The step failed.
    pub error: bool,
    /// The step has no duration: the bar is a mark at its start, not a length.
    pub instant: bool,
}

/// The timing of one step, as the index keeps it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Timing {
    pub ts: Option<i64>,
    pub duration_ms: Option<f64>,
    pub error: bool,
}

impl Waterfall {
    /// The axis from `start_ms` to `end_ms` over `width` columns; `None` without columns.
    pub fn new(start_ms: i64, end_ms: i64, width: u16) -> Option<Waterfall> {
        (width > 0).then_some(Waterfall {
            start_ms,
            span_ms: end_ms.saturating_sub(start_ms).max(1),
            width,
        })
    }

    /// The axis of a run (its first step's start to its last step's end); `None` when
    /// no step of the run has a time.
    pub fn of_run(run: &RunRef, width: u16) -> Option<Waterfall> {
        Waterfall::new(run.started_at()?, run.ended_at()?, width)
    }

    /// How long one column is, in ms (for the axis legend).
    pub fn ms_per_column(&self) -> f64 {
        self.span_ms as f64 / f64::from(self.width)
    }

    /// The column a time falls in, clamped to the axis.
    fn column(&self, ts: f64) -> u16 {
        let offset = (ts - self.start_ms as f64).max(0.0);
        let col = (offset * f64::from(self.width) / self.span_ms as f64).floor();
        col.min(f64::from(self.width - 1)) as u16
    }

    /// The bar of one step; `None` for a step without a time.
    pub fn bar(&self, timing: Timing) -> Option<Bar> {
        let ts = timing.ts? as f64;
        let start = self.column(ts);
        let (len, instant) = match timing.duration_ms {
            Some(d) if d.is_finite() && d > 0.0 => {
                let end =
                    (ts + d - self.start_ms as f64) * f64::from(self.width) / self.span_ms as f64;
                let end = end.ceil().clamp(0.0, f64::from(self.width)) as u16;
                (end.saturating_sub(start).max(1), false)
            }
            _ => (1, true),
        };
        Some(Bar {
            start,
            len,
            error: timing.error,
            instant,
        })
    }

    /// The bars of steps `rows` only, each read through `step` (position → timing).
    pub fn bars(
        &self,
        rows: Range<usize>,
        mut step: impl FnMut(usize) -> Timing,
    ) -> Vec<Option<Bar>> {
        rows.map(|i| self.bar(step(i))).collect()
    }

    /// The bars of a run's steps `rows` (the visible window), from the index.
    pub fn run_bars(&self, run: &RunRef, rows: Range<usize>) -> Vec<Option<Bar>> {
        let rows = rows.start.min(run.step_count())..rows.end.min(run.step_count());
        self.bars(rows, |i| {
            let s = run.step(i);
            Timing {
                ts: s.ts,
                // A run_end's duration is the whole run's: it is the instant the run ended.
                duration_ms: s
                    .duration_ms
                    .filter(|_| s.kind != crate::model::StepKind::RunEnd),
                error: s.status == crate::model::Status::Error
                    || s.kind == crate::model::StepKind::Error,
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn timing(ts: i64, duration_ms: Option<f64>) -> Timing {
        Timing {
            ts: Some(ts),
            duration_ms,
            error: false,
        }
    }

    #[test]
    fn one_very_long_step_fills_the_axis_and_short_ones_still_show() {
        // A 2-hour run: one tool call of 1h59m, then two quick steps.
        let t0 = 1_000_000;
        let w = Waterfall::new(t0, t0 + 7_200_000, 80).unwrap();
        assert_eq!(w.ms_per_column(), 90_000.0);
        let long = w.bar(timing(t0, Some(7_140_000.0))).unwrap();
        assert_eq!((long.start, long.len, long.instant), (0, 80, false));
        let quick = w.bar(timing(t0 + 7_150_000, Some(310.0))).unwrap();
        assert_eq!((quick.start, quick.len), (79, 1));
        // The run's last instant is in the last column, never past it.
        let last = w.bar(timing(t0 + 7_200_000, None)).unwrap();
        assert_eq!((last.start, last.len, last.instant), (79, 1, true));
    }

    #[test]
    fn a_two_second_run_spreads_over_the_width() {
        let t0 = 5_000;
        let w = Waterfall::new(t0, t0 + 2_000, 40).unwrap();
        // 50 ms a column: a 500 ms call from 1 s on is columns 20..30.
        let bar = w.bar(timing(t0 + 1_000, Some(500.0))).unwrap();
        assert_eq!((bar.start, bar.len), (20, 10));
        let failed = w
            .bar(Timing {
                ts: Some(t0 + 1_975),
                duration_ms: Some(25.0),
                error: true,
            })
            .unwrap();
        assert_eq!((failed.start, failed.len, failed.error), (39, 1, true));
        // A gap shows as empty columns between bars.
        let before = w.bar(timing(t0, Some(100.0))).unwrap();
        assert_eq!(before.start + before.len, 2);
        assert_eq!(
            w.bar(Timing {
                ts: None,
                duration_ms: Some(3.0),
                error: false
            }),
            None
        );
        // A run of one instant still has an axis.
        let point = Waterfall::new(t0, t0, 10).unwrap();
        assert_eq!(point.bar(timing(t0, None)).map(|b| b.start), Some(0));
        assert_eq!(Waterfall::new(t0, t0 + 1, 0), None);
    }

    #[test]
    fn a_million_steps_are_computed_for_the_window_only() {
        // A run of a million one-second steps, one after another.
        let steps = 1_000_000usize;
        let w = Waterfall::new(0, steps as i64 * 1000, 160).unwrap();
        let mut reads = Vec::new();
        let window = 500_000..500_048;
        let bars = w.bars(window.clone(), |i| {
            reads.push(i);
            timing(i as i64 * 1000, Some(1000.0))
        });
        assert_eq!(reads, window.collect::<Vec<_>>());
        assert_eq!(bars.len(), 48);
        // Halfway through the run is halfway across the axis.
        assert!(bars
            .iter()
            .all(|b| b.unwrap().start == 80 && b.unwrap().len == 1));
    }

    #[test]
    fn bars_of_a_loaded_run_from_the_index() {
        let dir = tempfile::tempdir().unwrap();
        let text = concat!(
            "{\"run_id\":\"r\",\"step\":0,\"kind\":\"run_start\",\"ts\":\"2026-11-25T09:00:00Z\"}\n",
            "{\"run_id\":\"r\",\"step\":1,\"kind\":\"tool_call\",\"name\":\"x\",\"ts\":\"2026-11-25T09:00:00Z\",\"duration_ms\":1000}\n",
            "{\"run_id\":\"r\",\"step\":2,\"kind\":\"tool_result\",\"name\":\"x\",\"status\":\"error\",\"ts\":\"2026-11-25T09:00:01Z\",\"duration_ms\":1000}\n",
            "{\"run_id\":\"r\",\"step\":3,\"kind\":\"message\"}\n",
            "{\"run_id\":\"r\",\"step\":4,\"kind\":\"run_end\",\"outcome\":\"failure\",\"ts\":\"2026-11-25T09:00:02Z\",\"duration_ms\":2000}\n",
        );
        std::fs::write(dir.path().join("r.jsonl"), text).unwrap();
        let history = crate::index::History::load(
            &[dir.path().to_path_buf()],
            &crate::index::LoadOptions::default(),
        )
        .unwrap();
        let run = history.run(0);
        // The axis as the index measures the run (a run_end's duration is added to its
        // time there).
        let w = Waterfall::new(
            run.started_at().unwrap(),
            run.started_at().unwrap() + 2000,
            20,
        )
        .unwrap();
        let of_run = Waterfall::of_run(&run, 20).unwrap();
        assert_eq!(of_run.start_ms, w.start_ms);
        assert_eq!(Some(of_run.span_ms), run.duration_ms());
        let bars = w.run_bars(&run, 1..10);
        assert_eq!(bars.len(), 4);
        assert_eq!(
            bars[3].map(|b| (b.start, b.len, b.instant)),
            Some((19, 1, true))
        );
        assert_eq!(
            bars[0].map(|b| (b.start, b.len, b.error)),
            Some((0, 10, false))
        );
        assert_eq!(
            bars[1].map(|b| (b.start, b.len, b.error)),
            Some((10, 10, true))
        );
        assert_eq!(bars[2], None);
    }

    #[test]
    fn bars_stay_on_the_axis() {
        let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for _ in 0..2000 {
            let width = (next() % 200 + 1) as u16;
            let span = (next() % 10_000_000) as i64;
            let w = Waterfall::new(1000, 1000 + span, width).unwrap();
            // Steps inside the run, and a few that stray outside it.
            let ts = 1000 + (next() % (span as u64 + 2000)) as i64 - 1000;
            let duration = (next() % 3 > 0).then(|| (next() % 20_000_000) as f64);
            let bar = w.bar(timing(ts, duration)).unwrap();
            assert!(bar.len >= 1);
            assert!(bar.start + bar.len <= width, "{bar:?} width {width}");
        }
    }
}
