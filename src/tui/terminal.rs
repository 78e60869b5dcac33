//! The one owner of terminal state: raw mode, the alternate screen, the hidden cursor and
//! mouse capture are switched on by [`TerminalGuard::enter`] and restored when the guard
//! drops, when a panic unwinds (the panic hook restores before the message prints), and
//! on signals (see `event::spawn_signals`). [`restore`] is idempotent.

use std::io::{self, Stdout, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock};
use std::thread::ThreadId;

use crossterm::cursor::{Hide, Show};
use crossterm::event::{DisableMouseCapture, EnableMouseCapture};
use crossterm::execute;
use crossterm::terminal::{
    disable_raw_mode, enable_raw_mode, EndSynchronizedUpdate, EnterAlternateScreen,
    LeaveAlternateScreen,
};
use ratatui::backend::CrosstermBackend;
use ratatui::Terminal;

static ACTIVE: AtomicBool = AtomicBool::new(false);
static UI_THREAD: OnceLock<ThreadId> = OnceLock::new();
/// A panic on another thread while the screen is ours, printed after restoring.
static HELD_PANIC: Mutex<Option<String>> = Mutex::new(None);

/// The terminal, in full-screen mode while this lives.
pub struct TerminalGuard {
    pub terminal: Terminal<CrosstermBackend<Stdout>>,
    mouse: bool,
}

impl TerminalGuard {
    pub fn enter(mouse: bool) -> io::Result<TerminalGuard> {
        install_panic_hook();
        let _ = UI_THREAD.set(std::thread::current().id());
        enable_raw_mode()?;
        ACTIVE.store(true, Ordering::SeqCst);
        let mut out = io::stdout();
        let entered = execute!(out, EnterAlternateScreen, Hide).and_then(|_| {
            if mouse {
                execute!(out, EnableMouseCapture)
            } else {
                Ok(())
            }
        });
        if let Err(e) = entered {
            restore();
            return Err(e);
        }
        let terminal = match Terminal::new(CrosstermBackend::new(io::stdout())) {
            Ok(t) => t,
            Err(e) => {
                restore();
                return Err(e);
            }
        };
        Ok(TerminalGuard { terminal, mouse })
    }

    /// Puts `text` on the terminal's clipboard with OSC 52 (base64 of the text: no byte
    /// of it reaches the terminal raw). Terminals that do not allow it ignore it.
    pub fn copy_to_clipboard(&mut self, text: &str) -> io::Result<()> {
        let out = self.terminal.backend_mut();
        execute!(
            out,
            crossterm::clipboard::CopyToClipboard::to_clipboard_from(text.as_bytes())
        )
    }

    /// Turns mouse capture on or off (off lets the terminal select text).
    pub fn set_mouse(&mut self, on: bool) -> io::Result<()> {
        if on != self.mouse {
            self.mouse = on;
            let out = self.terminal.backend_mut();
            if on {
                execute!(out, EnableMouseCapture)?;
            } else {
                execute!(out, DisableMouseCapture)?;
            }
        }
        Ok(())
    }
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        restore();
    }
}

/// Puts the terminal back as it was. Safe to call any number of times, from any thread;
/// errors are ignored (after a hang-up there is no terminal to write to).
pub fn restore() {
    if !ACTIVE.swap(false, Ordering::SeqCst) {
        return;
    }
    let mut out = io::stdout();
    let _ = execute!(
        out,
        EndSynchronizedUpdate,
        DisableMouseCapture,
        LeaveAlternateScreen,
        Show
    );
    let _ = disable_raw_mode();
    let _ = out.flush();
    if let Some(msg) = HELD_PANIC.lock().ok().and_then(|mut m| m.take()) {
        eprintln!("{msg}");
    }
}

fn install_panic_hook() {
    static INSTALLED: OnceLock<()> = OnceLock::new();
    INSTALLED.get_or_init(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let on_ui = UI_THREAD.get() == Some(&std::thread::current().id());
            if ACTIVE.load(Ordering::SeqCst) && !on_ui {
                // A worker's panic is caught and reported in its pane; printing it now
                // would scribble over the screen.
                if let Ok(mut held) = HELD_PANIC.lock() {
                    *held = Some(format!("retrace: a background thread panicked: {info}"));
                }
                return;
            }
            restore();
            previous(info);
        }));
    });
}
