//! Follow along: a presenter publishes its position (run, step, view, diff partner,
//! replay state) on a local Unix socket; followers on the same host mirror it. No network
//! listener is ever opened. The presenter never waits for a follower: each follower has a
//! latest-wins slot drained by its own writer thread, and a follower that stops reading
//! is dropped after a write timeout. Owns the socket's place, permissions and protocol
//! (one JSON object per line); knows nothing about the terminal.

use std::io::{self, BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{channel, Receiver};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Where the presenter is: enough for a follower to show the same thing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Position {
    /// The run shown (its id).
    pub run: Option<String>,
    /// The selected step (its number in the run).
    pub step: Option<u32>,
    /// The view: `browse`, `diff`, `present`, … (the browser's names).
    pub view: String,
    /// The run compared with, in a diff.
    pub against: Option<String>,
    /// The diff's selected row (its aligned rows are the same on every screen).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub row: Option<usize>,
    /// Replay: playing or paused, and its speed.
    pub replay: Option<Replay>,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Replay {
    pub playing: bool,
    pub speed: f32,
}

/// A position given as `RUN` or `RUN#STEP` (as `--at` takes it and the browser shows it).
pub fn parse_at(s: &str) -> Result<(String, Option<u32>), String> {
    let (run, step) = match s.rsplit_once('#') {
        Some((run, step)) => {
            let n = step
                .parse::<u32>()
                .map_err(|_| format!("{s:?}: the step after # must be a number"))?;
            (run, Some(n))
        }
        None => (s, None),
    };
    if run.is_empty() {
        return Err(format!("{s:?}: a run id is needed before #"));
    }
    Ok((run.to_string(), step))
}

/// A share's name becomes a file name: letters, digits, `.`, `_`, `-` only.
fn check_name(name: &str) -> io::Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if ok {
        Ok(())
    } else {
        Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("share name {name:?}: use letters, digits, '.', '_' or '-' (at most 64)"),
        ))
    }
}

/// The owner-only folder: `$XDG_RUNTIME_DIR/retrace`, else `/tmp/retrace-UID`.
pub fn private_dir() -> PathBuf {
    match std::env::var_os("XDG_RUNTIME_DIR").filter(|d| !d.is_empty()) {
        Some(dir) => PathBuf::from(dir).join("retrace"),
        None => std::env::temp_dir().join(format!("retrace-{}", uid())),
    }
}

/// The folder of shares open to a group: sticky and world-traversable like /tmp, each
/// socket in it readable and writable by its owner and group only.
pub fn group_dir() -> PathBuf {
    std::env::temp_dir().join("retrace-shared")
}

fn uid() -> u32 {
    // SAFETY: getuid has no preconditions and cannot fail.
    unsafe { libc::getuid() }
}

/// The group id of `name`.
fn group_id(name: &str) -> io::Result<u32> {
    let c = std::ffi::CString::new(name)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "bad group name"))?;
    // SAFETY: a valid C string; the result is read at once, before any other getgr* call
    // on this thread.
    let entry = unsafe { libc::getgrnam(c.as_ptr()) };
    if entry.is_null() {
        return Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!("no group named {name:?}"),
        ));
    }
    // SAFETY: non-null, points at a struct group filled in by libc.
    Ok(unsafe { (*entry).gr_gid })
}

fn make_dir(dir: &Path, mode: u32) -> io::Result<()> {
    match std::fs::create_dir(dir) {
        Ok(()) => std::fs::set_permissions(dir, std::fs::Permissions::from_mode(mode)),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            let meta = std::fs::symlink_metadata(dir)?;
            if !meta.is_dir() {
                return Err(io::Error::other(format!(
                    "{} exists and is not a folder",
                    dir.display()
                )));
            }
            Ok(())
        }
        Err(e) => Err(e),
    }
}

/// The socket a follower of `name` connects to: the user's own share first, then a group
/// share of that name.
pub fn find(name: &str) -> io::Result<PathBuf> {
    check_name(name)?;
    let file = format!("{name}.sock");
    let candidates = [private_dir().join(&file), group_dir().join(&file)];
    candidates
        .iter()
        .find(|p| p.exists())
        .cloned()
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::NotFound,
                format!("no presentation named {name:?} is running on this host"),
            )
        })
}

/// One follower's latest-wins slot.
struct Slot {
    latest: Mutex<Option<Arc<String>>>,
    ready: Condvar,
}

struct Shared {
    followers: Mutex<Vec<Arc<Slot>>>,
    latest: Mutex<Option<Arc<String>>>,
    closed: AtomicBool,
}

/// The presenter's side: publishes positions; ends the share (and removes its socket)
/// when dropped.
pub struct Publisher {
    path: PathBuf,
    shared: Arc<Shared>,
}

/// How long a follower may take to read one position before it is dropped.
const WRITE_TIMEOUT: Duration = Duration::from_secs(2);

impl Publisher {
    /// Opens the share `name`: owner-only, or open to `group`'s members.
    pub fn start(name: &str, group: Option<&str>) -> io::Result<Publisher> {
        check_name(name)?;
        let (dir, gid) = match group {
            None => (private_dir(), None),
            Some(g) => (group_dir(), Some(group_id(g)?)),
        };
        make_dir(&dir, if gid.is_some() { 0o1777 } else { 0o700 })?;
        let path = dir.join(format!("{name}.sock"));
        if path.exists() {
            if UnixStream::connect(&path).is_ok() {
                return Err(io::Error::new(
                    io::ErrorKind::AddrInUse,
                    format!("a presentation named {name:?} is already running"),
                ));
            }
            // Left by a presenter that died: ours now.
            std::fs::remove_file(&path)?;
        }
        let listener = UnixListener::bind(&path)?;
        let mode = if gid.is_some() { 0o660 } else { 0o600 };
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode))?;
        if let Some(gid) = gid {
            std::os::unix::fs::chown(&path, None, Some(gid))?;
        }
        let shared = Arc::new(Shared {
            followers: Mutex::new(Vec::new()),
            latest: Mutex::new(None),
            closed: AtomicBool::new(false),
        });
        let accepting = Arc::clone(&shared);
        std::thread::Builder::new()
            .name("share-accept".into())
            .spawn(move || accept(listener, accepting))?;
        Ok(Publisher { path, shared })
    }

    /// The socket's path (shown to the presenter).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// How many followers are connected.
    pub fn followers(&self) -> usize {
        lock(&self.shared.followers).len()
    }

    /// Publishes `position` to every follower, now and to those who join later. Never
    /// blocks on a follower.
    pub fn publish(&self, position: &Position) {
        let Ok(mut line) = serde_json::to_string(position) else {
            return;
        };
        line.push('\n');
        let line = Arc::new(line);
        *lock(&self.shared.latest) = Some(Arc::clone(&line));
        for slot in lock(&self.shared.followers).iter() {
            *lock(&slot.latest) = Some(Arc::clone(&line));
            slot.ready.notify_one();
        }
    }
}

impl Drop for Publisher {
    fn drop(&mut self) {
        self.shared.closed.store(true, Ordering::SeqCst);
        for slot in lock(&self.shared.followers).iter() {
            slot.ready.notify_one();
        }
        // Wake the accept loop so that it sees `closed`, then take the socket away.
        let _ = UnixStream::connect(&self.path);
        let _ = std::fs::remove_file(&self.path);
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn accept(listener: UnixListener, shared: Arc<Shared>) {
    for stream in listener.incoming() {
        if shared.closed.load(Ordering::SeqCst) {
            return;
        }
        let Ok(stream) = stream else { continue };
        // The newest position is read under the followers' lock: a position published
        // meanwhile either is read here or finds the new slot (not neither).
        let mut followers = lock(&shared.followers);
        let slot = Arc::new(Slot {
            latest: Mutex::new(lock(&shared.latest).clone()),
            ready: Condvar::new(),
        });
        followers.push(Arc::clone(&slot));
        drop(followers);
        let writing = Arc::clone(&shared);
        let spawned = std::thread::Builder::new()
            .name("share-follower".into())
            .spawn(move || {
                write_to(stream, &slot, &writing);
                lock(&writing.followers).retain(|s| !Arc::ptr_eq(s, &slot));
            });
        if spawned.is_err() {
            // No thread for it: it is dropped, the presenter goes on.
            lock(&shared.followers).pop();
        }
    }
}

/// Sends one follower the newest position each time there is one, until it goes away,
/// stops reading, or the share ends.
fn write_to(mut stream: UnixStream, slot: &Slot, shared: &Shared) {
    if stream.set_write_timeout(Some(WRITE_TIMEOUT)).is_err() {
        return;
    }
    loop {
        let line = {
            let mut latest = lock(&slot.latest);
            while latest.is_none() && !shared.closed.load(Ordering::SeqCst) {
                latest = slot
                    .ready
                    .wait(latest)
                    .unwrap_or_else(|poisoned| poisoned.into_inner());
            }
            if shared.closed.load(Ordering::SeqCst) {
                return;
            }
            latest.take()
        };
        if let Some(line) = line {
            if stream.write_all(line.as_bytes()).is_err() {
                return;
            }
        }
    }
}

/// What a follower hears.
#[derive(Debug, Clone, PartialEq)]
pub enum Heard {
    Position(Position),
    /// The presenter quit (or the share broke): keep the last position.
    Ended,
}

/// The follower's side: positions arrive on `events`.
pub struct Follower {
    pub events: Receiver<Heard>,
}

/// Joins the share `name` (read-only: nothing is ever sent back).
pub fn follow(name: &str) -> io::Result<Follower> {
    let path = find(name)?;
    let stream = UnixStream::connect(&path)
        .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
    let (tx, rx) = channel();
    std::thread::Builder::new()
        .name("share-follow".into())
        .spawn(move || {
            for line in BufReader::new(stream).lines() {
                let Ok(line) = line else { break };
                // A line that is not a position is skipped: a newer presenter may say more.
                if let Ok(position) = serde_json::from_str::<Position>(&line) {
                    if tx.send(Heard::Position(position)).is_err() {
                        return;
                    }
                }
            }
            let _ = tx.send(Heard::Ended);
        })?;
    Ok(Follower { events: rx })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    /// Each test gets its own runtime folder, so shares of parallel tests never meet.
    fn runtime() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::env::set_var("XDG_RUNTIME_DIR", dir.path());
        dir
    }

    fn at(step: u32) -> Position {
        Position {
            run: Some("r-1".into()),
            step: Some(step),
            view: "browse".into(),
            ..Position::default()
        }
    }

    fn next(f: &Follower) -> Heard {
        f.events.recv_timeout(Duration::from_secs(5)).unwrap()
    }

    #[test]
    fn positions_parse_as_run_and_optional_step() {
        assert_eq!(parse_at("r-1#15"), Ok(("r-1".into(), Some(15))));
        assert_eq!(parse_at("r-1"), Ok(("r-1".into(), None)));
        assert!(parse_at("#3").is_err());
        assert!(parse_at("r-1#x").is_err());
        // A run id may itself hold '#': the last one splits.
        assert_eq!(parse_at("a#b#2"), Ok(("a#b".into(), Some(2))));
    }

    #[test]
    fn names_cannot_leave_the_folder() {
        for bad in ["../x", "a/b", "", ".hidden", "x y"] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
        assert!(check_name("postmortem-42.v2").is_ok());
    }

    // One test for the socket's life, as XDG_RUNTIME_DIR is process-wide.
    #[test]
    fn followers_mirror_the_presenter_and_survive_each_other_and_its_end() {
        let _dir = runtime();
        let publisher = Publisher::start("room", None).unwrap();
        let mode = std::fs::metadata(publisher.path())
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "owner-only socket");
        assert!(
            Publisher::start("room", None).is_err(),
            "one presenter per name"
        );

        publisher.publish(&at(1));
        let first = follow("room").unwrap();
        assert_eq!(
            next(&first),
            Heard::Position(at(1)),
            "a joiner gets the latest"
        );

        // A follower that never reads does not hold the presenter up.
        let stuck = UnixStream::connect(publisher.path()).unwrap();
        let started = Instant::now();
        for step in 2..2000 {
            publisher.publish(&at(step));
        }
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "publishing never waits"
        );
        // The reading follower ends on the newest position (older ones may be skipped).
        let mut last = None;
        while last != Some(Heard::Position(at(1999))) {
            last = Some(next(&first));
        }
        drop(stuck);

        // A follower killed mid-way harms nobody; another joins.
        let second = follow("room").unwrap();
        assert_eq!(next(&second), Heard::Position(at(1999)));
        drop(second);
        publisher.publish(&at(7));
        assert_eq!(next(&first), Heard::Position(at(7)));
        let third = follow("room").unwrap();
        assert_eq!(next(&third), Heard::Position(at(7)));

        // The presenter quits: followers hear it and keep what they had.
        let path = publisher.path().to_path_buf();
        drop(publisher);
        assert_eq!(next(&first), Heard::Ended);
        assert_eq!(next(&third), Heard::Ended);
        assert!(!path.exists(), "the socket is removed");
        assert!(follow("room").is_err());

        // A socket left by a presenter that died is taken over.
        let listener = UnixListener::bind(&path).unwrap();
        drop(listener);
        let again = Publisher::start("room", None).unwrap();
        drop(again);
    }
}
