//! The history shared between the one thread that changes it (a front end's loop) and
//! workers that read it: the writer never waits ([`SharedHistory::try_write`]), readers
//! hold the lock briefly and step aside while the writer wants it. Take what is needed
//! under a short read (a [`super::StepPlan`], a few figures) and do IO and long work
//! outside it.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Duration;

use super::watch::{watch_files, WatchOptions, Watcher};
use super::History;
use crate::model::Step;

/// The history, shared between the UI thread (its only writer) and the workers.
#[derive(Debug, Default)]
pub struct SharedHistory {
    lock: RwLock<History>,
    writer_waiting: AtomicBool,
}

impl SharedHistory {
    pub fn new(history: History) -> SharedHistory {
        SharedHistory {
            lock: RwLock::new(history),
            writer_waiting: AtomicBool::new(false),
        }
    }

    /// For the UI thread: never blocks, since it is the only writer.
    pub fn read(&self) -> RwLockReadGuard<'_, History> {
        self.lock.read().unwrap_or_else(PoisonError::into_inner)
    }

    /// For workers: waits while the UI thread wants to write, then reads. Hold the guard
    /// briefly (one chunk of records).
    pub fn read_politely(&self) -> RwLockReadGuard<'_, History> {
        let mut spins = 0;
        while self.writer_waiting.load(Ordering::Acquire) && spins < 200 {
            std::thread::sleep(Duration::from_micros(500));
            spins += 1;
        }
        self.read()
    }

    /// Starts watching `roots` from where the history's files were read: the file list
    /// (and the whole-file problems already reported) is copied under a short hold; files are opened and watches registered outside it.
    pub fn watch(&self, roots: Vec<PathBuf>, options: WatchOptions) -> Watcher {
        let (files, problems) = {
            let history = self.read_politely();
            // Only problems about whole files matter to the watcher (not repeated).
            let problems: Vec<_> = history
                .problems()
                .iter()
                .filter(|p| p.line == 0)
                .cloned()
                .collect();
            (history.files().to_vec(), problems)
        };
        watch_files(roots, &files, &problems, options)
    }

    /// Reads step `step` of run `run` in full (located under a short hold, read outside
    /// it), with the run's start time.
    pub fn load_step(&self, run: usize, step: usize) -> Result<(Step, Option<i64>), String> {
        let (plan, started) = {
            let h = self.read_politely();
            if run >= h.run_count() {
                return Err("the run is gone".into());
            }
            let r = h.run(run);
            if step >= r.step_count() {
                return Err("the step is gone".into());
            }
            (r.plan(step..step + 1), r.started_at())
        };
        let step = plan
            .read(true)
            .map_err(|e| e.to_string())?
            .pop()
            .ok_or("the step could not be read")?;
        Ok((step, started))
    }

    /// For the UI thread: the history to change, or `None` (and a note to the workers to
    /// step aside) while a worker is reading.
    pub fn try_write(&self) -> Option<RwLockWriteGuard<'_, History>> {
        match self.lock.try_write() {
            Ok(guard) => {
                self.writer_waiting.store(false, Ordering::Release);
                Some(guard)
            }
            Err(std::sync::TryLockError::Poisoned(p)) => {
                self.writer_waiting.store(false, Ordering::Release);
                Some(p.into_inner())
            }
            Err(std::sync::TryLockError::WouldBlock) => {
                self.writer_waiting.store(true, Ordering::Release);
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn the_writer_never_waits_and_readers_step_aside() {
        let shared = Arc::new(SharedHistory::new(History::default()));
        let reader = shared.read();
        assert!(shared.try_write().is_none());
        assert!(shared.writer_waiting.load(Ordering::Acquire));
        drop(reader);
        assert!(shared.try_write().is_some());
        assert!(!shared.writer_waiting.load(Ordering::Acquire));
    }
}
