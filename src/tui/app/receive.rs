//! What the OTLP receiver (`retrace --listen`) reports. Received spans need nothing here:
//! they are saved into a folder the watcher follows, so runs appear as from any file.
//! This keeps the figures the status line shows and turns the receiver's problems into
//! problems of the history (the `!` view).

use std::path::PathBuf;

use super::{App, Pending};
use crate::index::watch::WatchEvent;
use crate::model::Problem;
use crate::serve::{ServeEvent, ServeProblem};

/// Receiver problems listed in the problems view; past this they are only counted (a
/// client sending garbage in a loop must not grow the history without bound).
const LISTED_PROBLEMS: usize = 1000;

/// The OTLP receiver, as the status line shows it.
#[derive(Debug, Clone, Default)]
pub struct ReceiverState {
    /// Requests answered 200.
    pub requests: u64,
    /// Spans saved.
    pub spans: u64,
    /// Problems reported (listed or not).
    pub problems: u64,
}

impl App {
    pub(super) fn receiver_event(&mut self, event: ServeEvent) {
        let Some(addr) = self.options.receiving else {
            return;
        };
        match event {
            // Spans left out of a partial success come as a problem of their own.
            ServeEvent::Received(r) => {
                self.receiver.requests += 1;
                self.receiver.spans += r.spans as u64;
            }
            ServeEvent::Problem(p) => self.receiver_problem(addr, p),
        }
        self.dirty = true;
    }

    fn receiver_problem(&mut self, addr: std::net::SocketAddr, p: ServeProblem) {
        self.receiver.problems += 1;
        let at_request = || PathBuf::from(format!("http://{addr}{}", p.path));
        let (file, reason) = match (self.receiver.problems as usize, &p.file) {
            (n, _) if n > LISTED_PROBLEMS + 1 => return,
            (n, _) if n > LISTED_PROBLEMS => (
                at_request(),
                "more receiver problems: only the first ones are listed".to_string(),
            ),
            // A problem of a saved file (a line torn by an earlier crash) is that file's.
            (_, Some(file)) => (file.clone(), p.reason.clone()),
            (_, None) => (at_request(), as_reason(&p)),
        };
        let problem = Problem {
            file,
            line: 0,
            reason,
        };
        self.pending
            .push_back(Pending::Watch(Box::new(WatchEvent::Problem(problem))));
    }
}

/// `400 POST from 127.0.0.1:5000: not valid JSON …`
fn as_reason(p: &ServeProblem) -> String {
    let peer = p.peer.map(|a| format!(" from {a}")).unwrap_or_default();
    format!("{} {}{peer}: {}", p.status, p.method, p.reason)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::History;
    use crate::serve::{Encoding, Received, Signal};
    use crate::tui::app::Options;
    use crate::tui::event::Msg;
    use ratatui::layout::Rect;

    fn receiving_app() -> App {
        let options = Options {
            receiving: Some("127.0.0.1:4318".parse().unwrap()),
            ..Options::default()
        };
        App::loaded(History::default(), options, Rect::new(0, 0, 120, 30))
    }

    fn bad_request(n: usize) -> Msg {
        Msg::Serve(Box::new(ServeEvent::Problem(ServeProblem {
            peer: Some("127.0.0.1:5000".parse().unwrap()),
            method: "POST".into(),
            path: "/v1/traces".into(),
            status: 400,
            reason: format!("not valid JSON ({n})"),
            file: None,
        })))
    }

    #[test]
    fn a_receiver_started_on_a_folder_with_a_torn_line_shows_it_as_that_files_problem() {
        let dir = tempfile::tempdir().unwrap();
        let torn = dir.path().join("received-1.jsonl");
        std::fs::write(&torn, "{\"resourceSpans\":[]}\n{\"resourceSp").unwrap();
        // The receiver the browser starts for --listen, as `retrace serve` starts it.
        let listen = crate::serve::parse_listen("127.0.0.1:0").unwrap();
        let mut handle =
            crate::serve::start(crate::serve::Config::new(listen, dir.path().into())).unwrap();
        let events = handle.take_events();
        let mut app = receiving_app();
        app.handle(Msg::Serve(Box::new(events.recv().unwrap())));
        app.after_drain();
        let h = app.shared.read();
        let problems = h.problems();
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(problems[0].file, torn);
        assert!(
            problems[0].reason.contains("partial line of 12 bytes"),
            "{}",
            problems[0].reason
        );
        drop(h);
        handle.shutdown();
    }

    #[test]
    fn receiver_problems_join_the_history_and_stop_being_listed_past_the_limit() {
        let mut app = receiving_app();
        app.handle(Msg::Serve(Box::new(ServeEvent::Received(Received {
            peer: None,
            signal: Signal::Traces,
            encoding: Encoding::Json,
            bytes: 10,
            spans: 3,
            traces: 1,
            rejected_spans: 0,
            genai_events: 0,
            file: None,
        }))));
        assert_eq!((app.receiver.requests, app.receiver.spans), (1, 3));
        for n in 0..LISTED_PROBLEMS + 50 {
            app.handle(bad_request(n));
        }
        // Folding takes a few milliseconds at a time: all of it, however slow the machine.
        while app.fold_pending() {}
        let h = app.shared.read();
        let problems = h.problems();
        assert_eq!(
            problems.len(),
            LISTED_PROBLEMS + 1,
            "the rest are counted only"
        );
        assert_eq!(
            problems[0].file.to_str(),
            Some("http://127.0.0.1:4318/v1/traces")
        );
        assert_eq!(
            problems[0].reason,
            "400 POST from 127.0.0.1:5000: not valid JSON (0)"
        );
        assert!(problems[LISTED_PROBLEMS].reason.contains("only the first"));
        assert_eq!(app.receiver.problems, (LISTED_PROBLEMS + 50) as u64);
    }
}
