//! Replay: playing a run (or a diff's aligned rows) step by step, for walking through an
//! incident together. Owns the position, play/pause, speed and pacing — real time from
//! the steps' timestamps with long gaps compressed, or a fixed pace — and the stops
//! (a diff pauses at its divergence). No clock of its own: the view asks how long to wait
//! before the next step and calls [`Replay::advance`] when that time has passed.

use std::time::Duration;

/// How steps follow each other.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pace {
    /// As they happened, with every gap over [`LONGEST_GAP`] shortened to it.
    RealTime,
    /// One step every so often.
    Fixed(Duration),
}

/// The longest wait between two steps in real-time pacing (at speed 1): a run that
/// idled for an hour replays without the hour.
pub const LONGEST_GAP: Duration = Duration::from_secs(2);
/// The shortest wait, so that each step is seen.
pub const SHORTEST_GAP: Duration = Duration::from_millis(60);
/// The speeds `+` and `-` step through.
pub const SPEEDS: [f32; 8] = [0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0];
const NORMAL: usize = 2;

/// A replay over `len` positions (steps of a run, or rows of a diff).
#[derive(Debug, Clone, PartialEq)]
pub struct Replay {
    pub at: usize,
    pub len: usize,
    pub playing: bool,
    pub pace: Pace,
    speed: usize,
    /// A position where playing pauses by itself (the divergence of a diff).
    pub stop: Option<usize>,
}

impl Replay {
    /// A paused replay at `at`.
    pub fn new(len: usize, at: usize, pace: Pace) -> Replay {
        Replay {
            at: at.min(len.saturating_sub(1)),
            len,
            playing: false,
            pace,
            speed: NORMAL,
            stop: None,
        }
    }

    /// Pauses by itself on reaching `stop`.
    pub fn with_stop(mut self, stop: Option<usize>) -> Replay {
        self.stop = stop;
        self
    }

    pub fn speed(&self) -> f32 {
        SPEEDS[self.speed]
    }

    pub fn faster(&mut self) {
        self.speed = (self.speed + 1).min(SPEEDS.len() - 1);
    }

    pub fn slower(&mut self) {
        self.speed = self.speed.saturating_sub(1);
    }

    pub fn at_end(&self) -> bool {
        self.at + 1 >= self.len
    }

    /// Play or pause; playing from the end starts over.
    pub fn toggle(&mut self) {
        if !self.playing && self.at_end() {
            self.at = 0;
        }
        self.playing = !self.playing && self.len > 0;
    }

    /// One step on (pauses: the user took over).
    pub fn step_forward(&mut self) {
        self.playing = false;
        if !self.at_end() {
            self.at += 1;
        }
    }

    /// One step back (pauses).
    pub fn step_back(&mut self) {
        self.playing = false;
        self.at = self.at.saturating_sub(1);
    }

    /// The wait before the next step while playing, from the times (epoch ms) of this
    /// step and the next; `None` when paused or at the end.
    pub fn delay(&self, now_ts: Option<i64>, next_ts: Option<i64>) -> Option<Duration> {
        if !self.playing || self.at_end() {
            return None;
        }
        let base = match self.pace {
            Pace::Fixed(every) => every,
            Pace::RealTime => match (now_ts, next_ts) {
                (Some(a), Some(b)) => {
                    Duration::from_millis(b.saturating_sub(a).max(0) as u64).min(LONGEST_GAP)
                }
                // Steps without times go at a walking pace.
                _ => Duration::from_millis(500),
            },
        };
        let micros = (base.as_micros() as f64 / f64::from(self.speed())).round() as u64;
        Some(Duration::from_micros(micros).max(SHORTEST_GAP))
    }

    /// The wait is over: the next step. Pauses at the stop and at the end.
    pub fn advance(&mut self) {
        if !self.playing || self.at_end() {
            self.playing = false;
            return;
        }
        self.at += 1;
        if self.at_end() || self.stop == Some(self.at) {
            self.playing = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn real_time_pacing_follows_the_gaps_and_compresses_long_ones() {
        let mut r = Replay::new(3, 0, Pace::RealTime);
        assert_eq!(r.delay(Some(0), Some(700)), None, "paused");
        r.toggle();
        assert_eq!(
            r.delay(Some(0), Some(700)),
            Some(Duration::from_millis(700))
        );
        assert_eq!(r.delay(Some(0), Some(3_600_000)), Some(LONGEST_GAP));
        assert_eq!(r.delay(Some(0), Some(1)), Some(SHORTEST_GAP));
        r.faster();
        assert_eq!(
            r.delay(Some(0), Some(700)),
            Some(Duration::from_millis(350))
        );
        for _ in 0..20 {
            r.slower();
        }
        assert_eq!(r.speed(), SPEEDS[0]);
    }

    #[test]
    fn playing_pauses_at_the_stop_and_at_the_end() {
        let mut r = Replay::new(5, 0, Pace::Fixed(Duration::from_millis(100))).with_stop(Some(2));
        r.toggle();
        r.advance();
        assert!(r.playing && r.at == 1);
        r.advance();
        assert!(!r.playing && r.at == 2, "paused at the divergence");
        r.toggle();
        r.advance();
        r.advance();
        assert!(!r.playing && r.at == 4, "paused at the end");
        assert_eq!(r.delay(Some(0), Some(1)), None);
        r.toggle();
        assert!(r.playing && r.at == 0, "play from the end starts over");
    }

    #[test]
    fn stepping_by_hand_pauses_and_stays_in_range() {
        let mut r = Replay::new(2, 0, Pace::RealTime);
        r.toggle();
        r.step_forward();
        assert!(!r.playing && r.at == 1);
        r.step_forward();
        assert_eq!(r.at, 1);
        r.step_back();
        r.step_back();
        assert_eq!(r.at, 0);
        let mut empty = Replay::new(0, 0, Pace::RealTime);
        empty.toggle();
        assert!(!empty.playing);
    }
}
