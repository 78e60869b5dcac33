//! Hostile folders through the binary: damaged compressed files, pipes, sockets,
//! devices, broken links, unreadable files, giant lines, huge fleets. Nothing hangs (every
//! run has a deadline), nothing good is lost, every bad file or line is named, the exit
//! status is 0, and memory stays bounded.

use std::fs;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

struct Finished {
    code: i32,
    stdout: String,
    stderr: String,
    /// Peak resident memory of the child, in bytes.
    max_rss: u64,
}

/// Runs `command` to its end with a deadline (killed and failed past it), measuring
/// its peak memory. Output goes through files so a large one cannot block the child.
// The child is reaped by `wait4` (for its peak memory), not by `Child::wait`.
#[allow(clippy::zombie_processes)]
fn finish(mut command: Command, stdin: Option<Vec<u8>>, deadline: Duration) -> Finished {
    let out_dir = tempfile::tempdir().unwrap();
    let (out_path, err_path) = (out_dir.path().join("out"), out_dir.path().join("err"));
    command
        .stdout(fs::File::create(&out_path).unwrap())
        .stderr(fs::File::create(&err_path).unwrap())
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        });
    let mut child = command.spawn().expect("start retrace");
    if let Some(bytes) = stdin {
        let mut pipe = child.stdin.take().unwrap();
        std::thread::spawn(move || {
            let _ = pipe.write_all(&bytes);
        });
    }
    let pid = child.id() as libc::pid_t;
    let started = Instant::now();
    let (status, usage) = loop {
        let mut status = 0;
        // SAFETY: a zeroed rusage is a valid value for wait4 to fill in.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: pid is our own child; both pointers are valid for the call.
        let reaped = unsafe { libc::wait4(pid, &mut status, libc::WNOHANG, &mut usage) };
        if reaped == pid {
            break (status, usage);
        }
        if started.elapsed() > deadline {
            let _ = child.kill();
            panic!("retrace did not finish within {deadline:?}: it hangs");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Finished {
        code: if libc::WIFEXITED(status) {
            libc::WEXITSTATUS(status)
        } else {
            -1
        },
        stdout: fs::read_to_string(&out_path).unwrap(),
        stderr: fs::read_to_string(&err_path).unwrap(),
        max_rss: usage.ru_maxrss as u64 * 1024,
    }
}

fn retrace(args: &[&str], paths: &[&Path]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_retrace"));
    command.env("XDG_CACHE_HOME", env!("CARGO_TARGET_TMPDIR"));
    command.args(args).args(paths);
    command
}

const DEADLINE: Duration = Duration::from_secs(120);

/// Runs retrace to its end, expecting exit status 0 and JSON on stdout.
fn json_of(command: Command) -> Value {
    let done = finish(command, None, DEADLINE);
    assert_eq!(done.code, 0, "exit status; stderr: {}", done.stderr);
    serde_json::from_str(&done.stdout).expect("JSON output")
}

/// `n` native steps of run `run`, each named `s<i>`, with id `<run>/<i>`.
fn native(run: &str, n: usize) -> String {
    (0..n)
        .map(|i| {
            format!(
                "{{\"run_id\":\"{run}\",\"step\":{i},\"id\":\"{run}/{i}\",\"kind\":\"tool_call\",\"name\":\"s{i}\",\"input\":{{\"i\":{i},\"pad\":\"{}\"}}}}\n",
                "abcdefghij".repeat(i % 7)
            )
        })
        .collect()
}

fn gzip(text: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(text).unwrap();
    enc.finish().unwrap()
}

fn zstd(text: &[u8]) -> Vec<u8> {
    ruzstd::encoding::compress_to_vec(text, ruzstd::encoding::CompressionLevel::Fastest)
}

fn steps_of(ls: &Value, run: &str) -> Option<u64> {
    ls["runs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["run_id"] == run)
        .map(|r| r["steps"].as_u64().unwrap())
}

fn problems_of<'a>(ls: &'a Value, file_suffix: &str) -> Vec<&'a Value> {
    ls["problems"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["file"].as_str().unwrap().ends_with(file_suffix))
        .collect()
}

/// The one problem of a damaged compressed file: it says where decoding stopped, and
/// its cause once.
fn assert_one_decoding_problem(ls: &Value, file: &str) -> u64 {
    let problems = problems_of(ls, file);
    assert_eq!(problems.len(), 1, "{file}: one problem: {problems:?}");
    let reason = problems[0]["reason"].as_str().unwrap();
    assert!(
        reason.contains("decoding stopped at byte"),
        "{file}: {reason}"
    );
    // "incomplete deflate stream: incomplete deflate stream" said the cause twice.
    let cause = reason.split(": ").nth(1).unwrap();
    assert_eq!(
        reason.matches(cause).count(),
        1,
        "{file}: cause once: {reason}"
    );
    problems[0]["line"].as_u64().unwrap()
}

fn write_damaged_gzip_files(dir: &Path, n: usize) {
    let whole = |run: &str| gzip(native(run, n).as_bytes());
    let z = whole("truncated");
    fs::write(dir.join("truncated.jsonl.gz"), &z[..z.len() / 2]).unwrap();
    let mut z = whole("badcrc");
    let at = z.len() - 8;
    z[at] ^= 0xff;
    fs::write(dir.join("badcrc.jsonl.gz"), z).unwrap();
    let mut z = whole("badheader");
    z[0] = b'X';
    fs::write(dir.join("badheader.jsonl.gz"), z).unwrap();
    let mut z = whole("trailing");
    z.extend_from_slice(b"trailing garbage, not a gzip member");
    fs::write(dir.join("trailing.jsonl.gz"), z).unwrap();
    // Three members; the middle one cut short, so its decoder runs into the third.
    let mut z = gzip(native("member-a", n).as_bytes());
    let b = gzip(native("member-b", n).as_bytes());
    z.extend_from_slice(&b[..b.len() - 40]);
    z.extend_from_slice(&gzip(native("member-c", n).as_bytes()));
    fs::write(dir.join("members.jsonl.gz"), z).unwrap();
}

fn write_damaged_zstd_files(dir: &Path, n: usize) {
    let mut two = zstd(native("frames-a", n).as_bytes());
    two.extend_from_slice(&zstd(native("frames-b", n).as_bytes()));
    fs::write(dir.join("frames.jsonl.zst"), &two).unwrap();
    let z = zstd(native("zcut", n).as_bytes());
    fs::write(dir.join("zcut.jsonl.zst"), &z[..z.len() / 2]).unwrap();
    let mut z = zstd(native("zsecond-a", n).as_bytes());
    let second = zstd(native("zsecond-b", n).as_bytes());
    z.extend_from_slice(&second[..second.len() / 2]);
    fs::write(dir.join("zsecond.jsonl.zst"), z).unwrap();
    let mut z = zstd(native("zgarbage", n).as_bytes());
    z.extend_from_slice(b"not a zstd frame at all");
    fs::write(dir.join("zgarbage.jsonl.zst"), z).unwrap();
}

#[test]
fn damaged_gzip_files_keep_their_good_lines_and_report_one_problem_each() {
    let dir = tempfile::tempdir().unwrap();
    const N: usize = 3000;
    fs::write(dir.path().join("good.jsonl"), native("good", 20)).unwrap();
    write_damaged_gzip_files(dir.path(), N);
    let ls = json_of(retrace(&["ls", "--json"], &[dir.path()]));
    assert_eq!(steps_of(&ls, "good"), Some(20));

    let line = assert_one_decoding_problem(&ls, "truncated.jsonl.gz");
    let kept = steps_of(&ls, "truncated").expect("lines before the damage are kept");
    assert!(kept > 100 && kept < N as u64, "{kept}");
    assert_eq!(
        line,
        kept + 1,
        "the problem is at the line where decoding stopped"
    );
    // The kept steps read back their own bytes from the damaged file.
    let shown = json_of(retrace(&["show", "truncated", "--json"], &[dir.path()]));
    let steps = shown["steps"].as_array().unwrap();
    assert_eq!(steps.len() as u64, kept);
    for (i, step) in steps.iter().enumerate() {
        assert_eq!(step["name"], format!("s{i}"));
        assert_eq!(step["id"], format!("truncated/{i}"));
    }

    // A bad checksum or trailing garbage is found at the end: every line was decoded.
    for name in ["badcrc", "trailing"] {
        assert_one_decoding_problem(&ls, &format!("{name}.jsonl.gz"));
        assert_eq!(steps_of(&ls, name), Some(N as u64), "{name}");
    }
    assert_eq!(assert_one_decoding_problem(&ls, "badheader.jsonl.gz"), 1);
    assert_eq!(steps_of(&ls, "badheader"), None);

    // Multi-member: the first member whole, the damaged member's garbage not listed
    // as bad lines of its own.
    assert_one_decoding_problem(&ls, "members.jsonl.gz");
    assert_eq!(steps_of(&ls, "member-a"), Some(N as u64));
    assert!(steps_of(&ls, "member-b").unwrap_or(0) < N as u64);

    // The text output says the cause once, and the exit status is 0.
    let done = finish(retrace(&["ls"], &[dir.path()]), None, DEADLINE);
    assert_eq!(done.code, 0, "{}", done.stderr);
    assert!(done.stdout.contains("good"));
    let all = format!("{}{}", done.stdout, done.stderr);
    assert!(all.contains("truncated.jsonl.gz"), "{all}");
    assert!(!all.contains("stream: incomplete deflate stream"), "{all}");
}

#[test]
fn damaged_zstd_frames_keep_the_frames_before_the_damage() {
    let dir = tempfile::tempdir().unwrap();
    const N: usize = 2000;
    write_damaged_zstd_files(dir.path(), N);
    let ls = json_of(retrace(&["ls", "--json"], &[dir.path()]));
    // Several frames in one file: all read.
    assert!(problems_of(&ls, "frames.jsonl.zst").is_empty());
    assert_eq!(steps_of(&ls, "frames-a"), Some(N as u64));
    assert_eq!(steps_of(&ls, "frames-b"), Some(N as u64));

    assert_one_decoding_problem(&ls, "zcut.jsonl.zst");
    assert!(steps_of(&ls, "zcut").unwrap_or(0) < N as u64);
    let line = assert_one_decoding_problem(&ls, "zsecond.jsonl.zst");
    assert_eq!(steps_of(&ls, "zsecond-a"), Some(N as u64));
    assert!(line > N as u64);
    assert_one_decoding_problem(&ls, "zgarbage.jsonl.zst");
    assert_eq!(steps_of(&ls, "zgarbage"), Some(N as u64));

    let shown = json_of(retrace(&["show", "zsecond-a", "--json"], &[dir.path()]));
    assert_eq!(shown["steps"][N - 1]["name"], format!("s{}", N - 1));
}

#[cfg(unix)]
fn write_special_files(dir: &Path) -> std::os::unix::net::UnixListener {
    let fifo = dir.join("pipe.jsonl");
    let status = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(status.success());
    let socket = std::os::unix::net::UnixListener::bind(dir.join("agent.sock")).unwrap();
    std::os::unix::fs::symlink("/dev/null", dir.join("device.jsonl")).unwrap();
    std::os::unix::fs::symlink(dir.join("nowhere"), dir.join("broken.jsonl")).unwrap();
    socket
}

#[cfg(unix)]
#[test]
fn pipes_sockets_devices_and_broken_links_in_a_folder_are_skipped_and_named() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("good.jsonl"), native("good", 5)).unwrap();
    let _socket = write_special_files(dir.path());
    let ls = json_of(retrace(&["ls", "--json"], &[dir.path()]));
    assert_eq!(steps_of(&ls, "good"), Some(5));
    for (file, says) in [
        ("pipe.jsonl", "named pipe"),
        ("agent.sock", "socket"),
        ("device.jsonl", "character device"),
        ("broken.jsonl", "broken link"),
    ] {
        let problems = problems_of(&ls, file);
        assert_eq!(problems.len(), 1, "{file}: {ls}");
        assert!(
            problems[0]["reason"].as_str().unwrap().contains(says),
            "{file}: {}",
            problems[0]
        );
    }
}

#[cfg(unix)]
#[test]
fn a_pipe_or_stdin_named_on_the_command_line_is_read_as_a_stream() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("stream");
    assert!(Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    // As `retrace ls <(zcat old.jsonl.gz)` would: a pipe, here carrying gzip bytes.
    let for_writer = fifo.clone();
    let writer = std::thread::spawn(move || {
        fs::write(&for_writer, gzip(native("piped", 50).as_bytes())).unwrap();
    });
    let ls = json_of(retrace(&["ls", "--json"], &[&fifo]));
    writer.join().unwrap();
    assert_eq!(steps_of(&ls, "piped"), Some(50));
    assert_eq!(ls["problems"], serde_json::json!([]));
    assert_eq!(
        ls["runs"][0]["outcome"], "unknown",
        "a stream is not running"
    );

    // /dev/stdin: steps are read back from the stream's private copy.
    let mut show = retrace(&["show", "piped", "--json"], &[Path::new("/dev/stdin")]);
    show.stdin(Stdio::piped());
    let done = finish(show, Some(native("piped", 50).into_bytes()), DEADLINE);
    assert_eq!(done.code, 0, "{}", done.stderr);
    let shown: Value = serde_json::from_str(&done.stdout).unwrap();
    assert_eq!(shown["steps"][49]["id"], "piped/49");
}

/// Runs `command` as an unprivileged user when running as root (root reads any file
/// whatever its mode), if `setpriv` is there; `None` when permission cannot be revoked.
#[cfg(unix)]
fn unprivileged(command: Command) -> Option<Command> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Some(command);
    }
    let setpriv = ["/usr/bin/setpriv", "/bin/setpriv"]
        .into_iter()
        .find(|p| Path::new(p).exists())?;
    let mut wrapped = Command::new(setpriv);
    wrapped
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(command.get_program())
        .args(command.get_args());
    Some(wrapped)
}

#[cfg(unix)]
#[test]
fn an_unreadable_file_is_a_problem_and_the_rest_loads() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
    let good = dir.path().join("good.jsonl");
    fs::write(&good, native("good", 5)).unwrap();
    let locked = dir.path().join("locked.jsonl");
    fs::write(&locked, native("locked", 5)).unwrap();
    fs::set_permissions(&good, fs::Permissions::from_mode(0o644)).unwrap();
    fs::set_permissions(&locked, fs::Permissions::from_mode(0o000)).unwrap();
    let Some(command) = unprivileged(retrace(&["ls", "--json"], &[dir.path()])) else {
        eprintln!("SKIPPED: running as root without setpriv: permission cannot be revoked");
        return;
    };
    let ls = json_of(command);
    assert_eq!(steps_of(&ls, "good"), Some(5));
    assert_eq!(steps_of(&ls, "locked"), None);
    let problems = problems_of(&ls, "locked.jsonl");
    assert_eq!(problems.len(), 1, "{ls}");
    assert!(problems[0]["reason"]
        .as_str()
        .unwrap()
        .contains("ermission denied"));
}

#[cfg(unix)]
#[test]
fn a_hostile_folder_loads_every_good_run_names_every_bad_thing_and_stays_small() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let nested = root.join("a/b/c");
    fs::create_dir_all(&nested).unwrap();
    const N: usize = 1500;
    write_damaged_gzip_files(root, N);
    write_damaged_zstd_files(&nested, N);
    let _socket = write_special_files(root);
    let mut good_runs = Vec::new();
    for i in 0..40 {
        let run = format!("good-{i}");
        fs::write(nested.join(format!("{run}.jsonl")), native(&run, 30)).unwrap();
        good_runs.push(run);
    }
    // Bad lines among good ones: not JSON, invalid UTF-8, nested far too deep, binary.
    let mut mixed = native("mixed", 10).into_bytes();
    mixed.extend_from_slice(b"this is not json\n");
    mixed.extend_from_slice(b"{\"run_id\":\"mixed\",\"step\":99,\"kind\":\"x\xff\xfe\"}\n");
    mixed.extend_from_slice(format!("{}\n", "[".repeat(100_000)).as_bytes());
    mixed.extend_from_slice(b"\x00\x01\x02\x1b[2J\x1b]0;owned\x07\n");
    mixed.extend_from_slice(native("mixed-after", 10).as_bytes());
    fs::write(root.join("mixed.jsonl"), mixed).unwrap();
    // A compressed line far longer than any kept (a decompression bomb, in effect).
    let mut bomb = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    bomb.write_all(native("bomb", 1).as_bytes()).unwrap();
    let block = vec![b'A'; 1 << 20];
    for _ in 0..140 {
        bomb.write_all(&block).unwrap();
    }
    bomb.write_all(b"\n").unwrap();
    bomb.write_all(native("bomb-after", 3).as_bytes()).unwrap();
    fs::write(root.join("bomb.jsonl.gz"), bomb.finish().unwrap()).unwrap();
    // Empty files and a file that is not a run file at all.
    fs::write(root.join("empty.jsonl"), "").unwrap();
    fs::write(root.join("empty.jsonl.gz"), "").unwrap();
    fs::write(root.join("notes.txt"), "hello").unwrap();

    let done = finish(retrace(&["ls", "--json"], &[root]), None, DEADLINE);
    assert_eq!(done.code, 0, "{}", done.stderr);
    assert!(
        done.max_rss < 1 << 30,
        "peak memory {} MB",
        done.max_rss >> 20
    );
    let ls: Value = serde_json::from_str(&done.stdout).unwrap();
    for run in &good_runs {
        assert_eq!(steps_of(&ls, run), Some(30), "{run}");
    }
    assert_eq!(steps_of(&ls, "mixed"), Some(10));
    assert_eq!(steps_of(&ls, "mixed-after"), Some(10));
    assert_eq!(steps_of(&ls, "bomb"), Some(1));
    assert_eq!(steps_of(&ls, "bomb-after"), Some(3));
    assert_eq!(steps_of(&ls, "member-a"), Some(N as u64));
    assert_eq!(steps_of(&ls, "frames-b"), Some(N as u64));
    let lines: Vec<u64> = problems_of(&ls, "mixed.jsonl")
        .iter()
        .map(|p| p["line"].as_u64().unwrap())
        .collect();
    assert_eq!(lines, [11, 12, 13, 14]);
    let bomb = problems_of(&ls, "bomb.jsonl.gz");
    assert_eq!(bomb.len(), 1);
    assert_eq!(bomb[0]["line"], 2);
    for file in [
        "truncated.jsonl.gz",
        "badcrc.jsonl.gz",
        "badheader.jsonl.gz",
        "trailing.jsonl.gz",
        "members.jsonl.gz",
        "zcut.jsonl.zst",
        "zsecond.jsonl.zst",
        "zgarbage.jsonl.zst",
    ] {
        assert_one_decoding_problem(&ls, file);
    }
    for file in ["pipe.jsonl", "agent.sock", "device.jsonl", "broken.jsonl"] {
        assert_eq!(problems_of(&ls, file).len(), 1, "{file}");
    }
    assert!(problems_of(&ls, "empty.jsonl").is_empty());
    assert!(problems_of(&ls, "notes.txt").is_empty());

    // The text listing too: exit 0, control characters from the files never raw.
    let done = finish(retrace(&["ls"], &[root]), None, DEADLINE);
    assert_eq!(done.code, 0, "{}", done.stderr);
    assert!(!done.stdout.contains('\x1b') && !done.stderr.contains('\x1b'));
}

/// Writes `count` one-step runs, one file each, in folders of 1,000.
fn write_fleet(root: &Path, count: usize) {
    for i in 0..count {
        let folder = root.join(format!("{:03}", i / 1000));
        if i % 1000 == 0 {
            fs::create_dir_all(&folder).unwrap();
        }
        let path = folder.join(format!("session-{i:05}.jsonl"));
        fs::write(
            &path,
            format!(
                "{{\"run_id\":\"f{i}\",\"step\":0,\"id\":\"file-{i}\",\"kind\":\"tool_call\",\"name\":\"n{i}\"}}\n"
            ),
        )
        .unwrap();
    }
}

#[test]
fn seventy_thousand_files_load_whole_and_every_step_reads_back_its_own_bytes() {
    const FILES: usize = 70_000;
    let dir = fleet_dir();
    write_fleet(dir.path(), FILES);
    let ls = json_of(retrace(&["ls", "--json"], &[dir.path()]));
    let runs = ls["runs"].as_array().unwrap();
    assert_eq!(runs.len(), FILES);
    assert_eq!(ls["problems"], serde_json::json!([]));
    // Past 65,536 files a 16-bit file number wrapped: these read another file's bytes.
    // (Each `show` loads the whole history again: two are enough.)
    for i in [65_536, FILES - 1] {
        let shown = json_of(retrace(
            &["show", &format!("f{i}"), "--json"],
            &[dir.path()],
        ));
        assert_eq!(shown["steps"][0]["id"], format!("file-{i}"), "f{i}");
        assert_eq!(shown["steps"][0]["name"], format!("n{i}"));
    }
}

/// A temporary folder for tens of thousands of small files: in memory (`/dev/shm`) when
/// there is one, so that creating them takes seconds even on a busy disk.
fn fleet_dir() -> tempfile::TempDir {
    tempfile::tempdir_in("/dev/shm")
        .or_else(|_| tempfile::tempdir())
        .unwrap()
}
