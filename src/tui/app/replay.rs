//! Replay in the browser: a replay of the shown run (timeline, tree and detail move
//! together) or of the open diff's aligned rows (both runs at once, pausing at the
//! divergence), paced by [`crate::replay::Replay`]. The app keeps only when the next step
//! is due ([`App::next_tick`]); the loop sends a tick then, and nothing runs while paused.

use std::time::Instant;

use super::meeting::ReplayOn;
use super::App;
use crate::replay::Replay;
use crate::tui::layout::Pane;

impl App {
    /// A paused replay of what is shown: the open diff's rows, else the shown run.
    pub(super) fn start_replay(&mut self) -> bool {
        let on = match self.diff() {
            Some(d) if d.doc.is_some() => ReplayOn::Diff,
            Some(_) => {
                self.message = Some("the runs are still being aligned".into());
                return false;
            }
            None => match self.timeline.run {
                Some(run) if self.timeline.len > 0 => ReplayOn::Run(run),
                _ => {
                    self.message = Some("no run to replay".into());
                    return false;
                }
            },
        };
        let Some((at, len, stop)) = self.replay_extent(on) else {
            return false;
        };
        let stop = stop.filter(|&s| s > at);
        self.meeting.replay = Some((Replay::new(len, at, self.meeting.pace).with_stop(stop), on));
        if on == ReplayOn::Run(self.timeline.run.unwrap_or(usize::MAX)) && self.focus == Pane::Runs
        {
            self.focus_pane(Pane::Timeline);
        }
        true
    }

    /// Where the replayed view is: its position, length and stop (the divergence).
    fn replay_extent(&self, on: ReplayOn) -> Option<(usize, usize, Option<usize>)> {
        match on {
            ReplayOn::Run(run) => (self.timeline.run == Some(run)).then_some((
                self.timeline.cursor.selected,
                self.timeline.len,
                None,
            )),
            ReplayOn::Diff => {
                let d = self.diff()?;
                let doc = d.doc.as_ref()?;
                let stop = doc.divergence.as_ref().map(|(row, _, _)| *row);
                Some((d.cursor.selected, doc.rows.len(), stop))
            }
        }
    }

    /// The replay starts from where the view is (the user may have moved it).
    pub(super) fn sync_replay(&mut self) {
        let Some((_, on)) = self.meeting.replay else {
            return;
        };
        match self.replay_extent(on) {
            Some((at, len, _)) => {
                if let Some((r, _)) = &mut self.meeting.replay {
                    r.at = at.min(len.saturating_sub(1));
                    r.len = len;
                }
            }
            None => {
                // The run or the diff it played is no longer shown.
                self.meeting.replay = None;
                self.meeting.due = None;
            }
        }
    }

    pub(super) fn replay_mut(&mut self, f: fn(&mut Replay)) {
        if let Some((r, _)) = &mut self.meeting.replay {
            f(r);
        }
        self.schedule(Instant::now());
    }

    /// Moves the view to the replay's position: the timeline, tree and detail of the
    /// run, or the diff's row (both runs at once).
    pub(super) fn show_replay_position(&mut self) {
        let Some((r, on)) = self.meeting.replay.clone() else {
            return;
        };
        match on {
            ReplayOn::Run(_) => self.select_step(r.at as u32, Pane::Runs),
            ReplayOn::Diff => {
                if let Some(d) = self.diff_mut() {
                    let len = d.len();
                    d.cursor.set(r.at, len);
                }
            }
        }
        self.fit_views();
    }

    /// When the next step is due, from `now`; none while paused.
    pub(super) fn schedule(&mut self, now: Instant) {
        self.meeting.due = None;
        let Some((r, on)) = &self.meeting.replay else {
            return;
        };
        let (now_ts, next_ts) = self.replay_times(r.at, *on);
        self.meeting.due = r.delay(now_ts, next_ts).map(|d| now + d);
    }

    /// The times of row `at` and the next one.
    fn replay_times(&self, at: usize, on: ReplayOn) -> (Option<i64>, Option<i64>) {
        let h = self.shared.read();
        let ts = |run: usize, step: usize| {
            (run < h.run_count() && step < h.run(run).step_count())
                .then(|| h.run(run).step(step).ts)
                .flatten()
        };
        match on {
            ReplayOn::Run(run) => (ts(run, at), ts(run, at + 1)),
            ReplayOn::Diff => {
                let Some(doc) = self.diff().and_then(|d| d.doc.clone()) else {
                    return (None, None);
                };
                let row_ts = |i: usize| {
                    let row = doc.rows.get(i)?;
                    row.a
                        .as_ref()
                        .and_then(|s| ts(doc.a_run, s.step as usize))
                        .or_else(|| row.b.as_ref().and_then(|s| ts(doc.b_run, s.step as usize)))
                };
                (row_ts(at), row_ts(at + 1))
            }
        }
    }

    /// When the loop should send the next [`crate::tui::event::Msg::Tick`].
    pub fn next_tick(&self) -> Option<Instant> {
        self.meeting.due
    }

    /// The wait is over (if it is, at `now`): the replay takes its next step.
    pub(super) fn tick(&mut self, now: Instant) {
        match self.meeting.due {
            Some(due) if due <= now => {}
            _ => return,
        }
        self.meeting.due = None;
        self.sync_replay();
        let Some((r, _)) = &mut self.meeting.replay else {
            return;
        };
        r.advance();
        let paused_at_stop = !r.playing && r.stop == Some(r.at);
        self.show_replay_position();
        if paused_at_stop {
            self.message = Some("replay paused at the divergence (Space plays on)".into());
        }
        // From the clock, not from `now`: a late tick does not make the next one early.
        self.schedule(Instant::now());
        self.dirty = true;
    }
}
