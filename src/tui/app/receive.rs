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
        let reason = match self.receiver.problems {
            n if n as usize <= LISTED_PROBLEMS => as_reason(&p),
            n if n as usize == LISTED_PROBLEMS + 1 => {
                "more receiver problems: only the first ones are listed".to_string()
            }
            _ => return,
        };
        let problem = Problem {
            file: PathBuf::from(format!("http://{addr}{}", p.path)),
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
        })))
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
        app.after_drain();
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
