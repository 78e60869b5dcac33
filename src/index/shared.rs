//! The history shared between the one thread that changes it (a front end's loop) and
//! workers that read it: the writer never waits ([`SharedHistory::try_write`]), readers
//! hold the lock briefly and step aside while the writer wants it. Take what is needed
//! under a short read (a [`super::StepPlan`], a few figures) and do IO and long work
//! outside it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Duration;

use super::History;

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
