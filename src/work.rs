//! Background work for every front end: one cancellation token ([`Cancel`]) that long
//! work checks (search, the text index, the divergence engine, the decision tree), and
//! one latest-wins job slot ([`Slot`]): a worker thread that runs the newest request of
//! one kind, where a new request replaces a pending one and cancels a running one, and
//! every result carries the generation of its request so that stale ones are dropped.
//! Threads and channels, no async runtime: this is local IO and CPU work. No terminal
//! code here.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};

/// Lowers the calling thread's scheduling priority (threads it starts inherit it), so
/// that a front end's background work gives way to its UI thread on a busy machine: a
/// key is drawn before the next batch is parsed. Best effort (Linux, where the nice value
/// is per thread); elsewhere nothing changes.
pub fn give_way_to_the_ui() {
    // Enough for the UI thread to win a core from its own workers at once (a third of
    // their weight), not so much that a busy machine's other work starves the loading.
    #[cfg(target_os = "linux")]
    const BACKGROUND_NICE: libc::c_int = 5;
    #[cfg(target_os = "linux")]
    // SAFETY: setpriority only reads its arguments; `0` names the calling thread.
    unsafe {
        libc::setpriority(libc::PRIO_PROCESS as _, 0, BACKGROUND_NICE);
    }
}

/// Tells long work to stop. Clones share the flag; a [`Cancel::child`] also stops when
/// its parent does (so a part can stop its siblings without cancelling the caller).
#[derive(Debug, Clone, Default)]
pub struct Cancel {
    flag: Arc<AtomicBool>,
    parent: Option<Arc<AtomicBool>>,
}

impl Cancel {
    pub fn new() -> Cancel {
        Cancel::default()
    }

    /// A token nobody cancels (for work run to the end: the CLI, tests).
    pub fn never() -> Cancel {
        Cancel::default()
    }

    /// Asks every holder of this token (and of its children) to stop.
    pub fn cancel(&self) {
        self.flag.store(true, Ordering::Release);
    }

    pub fn is_cancelled(&self) -> bool {
        self.flag.load(Ordering::Relaxed)
            || self
                .parent
                .as_ref()
                .is_some_and(|p| p.load(Ordering::Relaxed))
    }

    /// A token that stops when this one does, and can also be stopped on its own.
    pub fn child(&self) -> Cancel {
        Cancel {
            flag: Arc::new(AtomicBool::new(self.is_cancelled())),
            parent: Some(Arc::clone(&self.flag)),
        }
    }
}

struct SlotState<R> {
    pending: Option<(u64, R, Cancel)>,
    /// The token of the job running now.
    running: Option<Cancel>,
    closed: bool,
}

/// One worker thread that runs the latest request of one kind.
pub struct Slot<R> {
    shared: Arc<(Mutex<SlotState<R>>, Condvar)>,
    latest: Arc<AtomicU64>,
}

impl<R: Send + 'static> Slot<R> {
    /// Starts the worker; `work` runs each request (with its generation and its cancel
    /// token) and reports its result itself.
    pub fn spawn(
        name: &str,
        mut work: impl FnMut(u64, R, &Cancel) + Send + 'static,
    ) -> std::io::Result<Slot<R>> {
        let shared = Arc::new((
            Mutex::new(SlotState {
                pending: None,
                running: None,
                closed: false,
            }),
            Condvar::new(),
        ));
        let s = Arc::clone(&shared);
        std::thread::Builder::new()
            .name(name.to_string())
            .spawn(move || loop {
                // Slots are a front end's background work (the browser's workers).
                give_way_to_the_ui();
                let (generation, request, cancel) = {
                    let (lock, cv) = &*s;
                    let mut state = lock.lock().unwrap_or_else(PoisonError::into_inner);
                    state.running = None;
                    loop {
                        if state.closed {
                            return;
                        }
                        if let Some(next) = state.pending.take() {
                            state.running = Some(next.2.clone());
                            break next;
                        }
                        state = cv.wait(state).unwrap_or_else(PoisonError::into_inner);
                    }
                };
                if !cancel.is_cancelled() {
                    work(generation, request, &cancel);
                }
            })?;
        Ok(Slot {
            shared,
            latest: Arc::new(AtomicU64::new(0)),
        })
    }

    /// Replaces any pending request with this one and tells a running job to stop.
    /// `generation` is the caller's number for it (results carry it back).
    pub fn submit(&self, generation: u64, request: R) {
        self.latest.store(generation, Ordering::Release);
        let (lock, cv) = &*self.shared;
        let mut state = lock.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(running) = state.running.take() {
            running.cancel();
        }
        state.pending = Some((generation, request, Cancel::new()));
        cv.notify_one();
    }

    /// Stops the running job and drops a pending one (nothing of this kind is wanted).
    pub fn cancel(&self) {
        let (lock, _) = &*self.shared;
        let mut state = lock.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(running) = state.running.take() {
            running.cancel();
        }
        state.pending = None;
    }

    /// The generation of the newest request submitted.
    pub fn latest(&self) -> u64 {
        self.latest.load(Ordering::Acquire)
    }
}

impl<R> Drop for Slot<R> {
    fn drop(&mut self) {
        let (lock, cv) = &*self.shared;
        let mut state = lock.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(running) = state.running.take() {
            running.cancel();
        }
        state.closed = true;
        cv.notify_one();
    }
}

/// Runs `f`, turning a panic into an error message (a worker must not take its front
/// end down).
pub fn catch<T>(f: impl FnOnce() -> Result<T, String>) -> Result<T, String> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(p) => Err(p
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| p.downcast_ref::<String>().cloned())
            .map_or_else(
                || "internal error".into(),
                |m| format!("internal error: {m}"),
            )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc::channel;
    use std::time::Duration;

    /// Background threads run at a lower priority than the UI thread, and only they do.
    #[cfg(target_os = "linux")]
    #[test]
    fn background_work_gives_way_and_the_caller_keeps_its_priority() {
        // SAFETY: getpriority only reads; `0` names the calling thread.
        let nice = || unsafe { libc::getpriority(libc::PRIO_PROCESS as _, 0) };
        let before = nice();
        let (tx, rx) = channel();
        let slot = Slot::spawn("test-nice", move |_, (), _: &Cancel| {
            let inherited = std::thread::spawn(nice).join().unwrap_or(i32::MIN);
            let _ = tx.send((nice(), inherited));
        })
        .unwrap();
        slot.submit(1, ());
        let (worker, its_thread) = rx.recv_timeout(Duration::from_secs(10)).unwrap();
        // Nice values stop at 19: a process already past 14 ends there.
        assert_eq!(
            worker,
            (before + 5).min(19),
            "the worker runs behind the UI"
        );
        assert_eq!(its_thread, worker, "threads a worker starts inherit it");
        assert_eq!(nice(), before, "the calling thread is untouched");
    }

    #[test]
    fn a_new_request_replaces_a_pending_one_and_cancels_a_running_one() {
        let (tx, rx) = channel();
        let (started_tx, started_rx) = channel();
        let (go_tx, go_rx) = channel::<()>();
        let slot = Slot::spawn("test", move |generation, req: u32, cancel: &Cancel| {
            if req == 1 {
                started_tx.send(()).unwrap();
                go_rx.recv().unwrap();
            }
            let state = if cancel.is_cancelled() {
                "cancelled"
            } else {
                "done"
            };
            tx.send((generation, req, state)).unwrap();
        })
        .unwrap();
        slot.submit(1, 1);
        started_rx.recv().unwrap();
        // While job 1 runs, 2 is queued and then replaced by 3.
        slot.submit(2, 2);
        slot.submit(3, 3);
        assert_eq!(slot.latest(), 3);
        go_tx.send(()).unwrap();
        let first = rx.recv_timeout(Duration::from_secs(5)).unwrap();
        assert_eq!(first, (1, 1, "cancelled"));
        let second = rx.recv_timeout(Duration::from_secs(5)).unwrap();
        assert_eq!(second, (3, 3, "done"));
        assert!(rx.recv_timeout(Duration::from_millis(100)).is_err());
    }

    #[test]
    fn a_child_stops_with_its_parent_but_not_the_other_way() {
        let parent = Cancel::new();
        let child = parent.child();
        child.cancel();
        assert!(child.is_cancelled());
        assert!(!parent.is_cancelled());
        let other = parent.child();
        parent.cancel();
        assert!(other.is_cancelled());
        assert!(parent.clone().is_cancelled(), "clones share the flag");
    }

    #[test]
    fn a_panicking_job_becomes_an_error() {
        let r: Result<(), String> = catch(|| panic!("boom"));
        assert_eq!(r, Err("internal error: boom".into()));
    }
}
