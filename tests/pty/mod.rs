//! The real binary in a pseudo-terminal, its output parsed by a terminal emulator
//! (vt100), keys sent as bytes: shared by the end-to-end tests. Every wait polls the
//! screen with a timeout; nothing sleeps to assert.
// Each test binary uses some of these helpers, never all.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use portable_pty::{native_pty_system, Child, CommandBuilder, MasterPty, PtySize};

pub const TIMEOUT: Duration = Duration::from_secs(20);

/// Records what the program asked the terminal to do besides drawing.
#[derive(Default)]
pub struct Recorder {
    pub titles: Vec<Vec<u8>>,
    pub icon_names: Vec<Vec<u8>>,
    pub clipboard: Vec<Vec<u8>>,
    pub other_osc: usize,
    pub bells: usize,
}

impl vt100::Callbacks for Recorder {
    fn audible_bell(&mut self, _: &mut vt100::Screen) {
        self.bells += 1;
    }
    fn set_window_icon_name(&mut self, _: &mut vt100::Screen, name: &[u8]) {
        self.icon_names.push(name.to_vec());
    }
    fn set_window_title(&mut self, _: &mut vt100::Screen, title: &[u8]) {
        self.titles.push(title.to_vec());
    }
    fn copy_to_clipboard(&mut self, _: &mut vt100::Screen, _ty: &[u8], data: &[u8]) {
        self.clipboard.push(data.to_vec());
    }
    fn paste_from_clipboard(&mut self, _: &mut vt100::Screen, _ty: &[u8]) {
        self.other_osc += 1;
    }
    fn unhandled_osc(&mut self, _: &mut vt100::Screen, _params: &[&[u8]]) {
        self.other_osc += 1;
    }
}

pub struct Tui {
    pub parser: Arc<Mutex<vt100::Parser<Recorder>>>,
    writer: Box<dyn Write + Send>,
    pub child: Box<dyn Child + Send + Sync>,
    _master: Box<dyn MasterPty + Send>,
}

impl Tui {
    /// `retrace PATHS` in a terminal of `cols` x `rows`.
    pub fn spawn(paths: &[&Path], cols: u16, rows: u16) -> Tui {
        Tui::spawn_with(paths, cols, rows, &[])
    }

    /// `retrace PATHS` with more environment.
    pub fn spawn_with(paths: &[&Path], cols: u16, rows: u16, env: &[(&str, &str)]) -> Tui {
        let args: Vec<&str> = paths
            .iter()
            .map(|p| p.to_str().expect("a UTF-8 path"))
            .collect();
        Tui::spawn_args(&args, cols, rows, env)
    }

    /// `retrace ARGS` (paths and flags) with more environment.
    pub fn spawn_args(args: &[&str], cols: u16, rows: u16, env: &[(&str, &str)]) -> Tui {
        let pty = native_pty_system()
            .openpty(PtySize {
                rows,
                cols,
                pixel_width: 0,
                pixel_height: 0,
            })
            .expect("a pty");
        let mut cmd = CommandBuilder::new(env!("CARGO_BIN_EXE_retrace"));
        cmd.args(args);
        cmd.cwd(env!("CARGO_MANIFEST_DIR"));
        cmd.env("TERM", "xterm-256color");
        cmd.env("RETRACE_CONFIG", "/nonexistent/retrace-config");
        cmd.env_remove("NO_COLOR");
        // No notes from the user's own library (a test gives its own).
        cmd.env("RETRACE_LIBRARY", "/nonexistent/retrace-tests/library");
        // Caches go under target/, not the user's ~/.cache.
        cmd.env("XDG_CACHE_HOME", env!("CARGO_TARGET_TMPDIR"));
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = pty.slave.spawn_command(cmd).expect("spawn retrace");
        drop(pty.slave);
        let parser = Arc::new(Mutex::new(vt100::Parser::new_with_callbacks(
            rows,
            cols,
            0,
            Recorder::default(),
        )));
        let mut reader = pty.master.try_clone_reader().unwrap();
        let p = Arc::clone(&parser);
        std::thread::spawn(move || {
            let mut buf = [0u8; 8192];
            loop {
                match reader.read(&mut buf) {
                    Ok(0) | Err(_) => return,
                    Ok(n) => p.lock().unwrap().process(&buf[..n]),
                }
            }
        });
        let writer = pty.master.take_writer().unwrap();
        Tui {
            parser,
            writer,
            child,
            _master: pty.master,
        }
    }

    pub fn contents(&self) -> String {
        self.parser.lock().unwrap().screen().contents()
    }

    /// Waits until `check` holds for the screen; panics with the screen after a timeout.
    pub fn wait(&self, what: &str, check: impl Fn(&vt100::Screen) -> bool) -> String {
        let start = Instant::now();
        loop {
            {
                let parser = self.parser.lock().unwrap();
                if check(parser.screen()) {
                    return parser.screen().contents();
                }
            }
            if start.elapsed() > TIMEOUT {
                panic!(
                    "timed out waiting for {what}; the screen:\n{}",
                    self.contents()
                );
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Waits until `check` holds for the screen's text.
    pub fn wait_for(&self, what: &str, check: impl Fn(&str) -> bool) -> String {
        self.wait(what, |s| check(&s.contents()))
    }

    /// What the program copied to the clipboard (OSC 52), oldest first.
    pub fn clipboard(&self) -> Vec<Vec<u8>> {
        self.parser.lock().unwrap().callbacks().clipboard.clone()
    }

    pub fn wait_text(&self, text: &str) -> String {
        self.wait(&format!("{text:?}"), |s| s.contents().contains(text))
    }

    /// The screen row that holds `text`.
    pub fn row_with(&self, text: &str) -> Option<String> {
        self.contents()
            .lines()
            .find(|l| l.contains(text))
            .map(str::to_owned)
    }

    pub fn keys(&mut self, bytes: &str) {
        self.writer.write_all(bytes.as_bytes()).unwrap();
        self.writer.flush().unwrap();
    }

    pub fn wait_exit(&mut self) -> portable_pty::ExitStatus {
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            if start.elapsed() > TIMEOUT {
                let _ = self.child.kill();
                panic!("retrace did not exit; the screen:\n{}", self.contents());
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Waits for the terminal to be back as it was: main screen, cursor shown, no mouse
    /// capture.
    pub fn assert_restored(&self) {
        self.wait("the terminal to be restored", |screen| {
            !screen.alternate_screen()
                && !screen.hide_cursor()
                && screen.mouse_protocol_mode() == vt100::MouseProtocolMode::None
        });
    }
}

impl Drop for Tui {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
        }
    }
}
