//! What the browser shows at a glance beside the timeline: whether the waterfall column
//! is on, and the token counts of the steps around the visible rows. Per-step tokens
//! are in the full records, which the index does not keep, so a worker reads them for a
//! window of rows ([`read_tokens`]) and the timeline shows them once they arrive: a
//! million-step run costs the window, never the run, and nothing is read on the UI
//! thread.

use std::ops::Range;

use crate::index::SharedHistory;
use crate::model::Tokens;
use crate::work::Cancel;

/// Steps read per hold of the history's lock.
const CHUNK: usize = 64;

/// The tokens of steps `start..start + tokens.len()` of one run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TokensDoc {
    pub run: usize,
    pub start: usize,
    pub tokens: Vec<Option<Tokens>>,
}

/// The at-a-glance state of the timeline.
#[derive(Debug, Clone, Default)]
pub struct Glance {
    /// The waterfall column is shown (`w`).
    pub waterfall: bool,
    /// The tokens read so far for the shown run's window.
    pub tokens: Option<std::sync::Arc<TokensDoc>>,
    /// The window last asked of the worker.
    requested: Option<(usize, Range<usize>)>,
}

impl Glance {
    /// The tokens of `step` of `run`: `None` while not read, `Some(None)` for a step
    /// without any.
    pub fn step_tokens(&self, run: usize, step: usize) -> Option<Option<Tokens>> {
        let doc = self.tokens.as_ref().filter(|d| d.run == run)?;
        doc.tokens.get(step.checked_sub(doc.start)?).copied()
    }

    /// The window to read for `visible` rows of `run` (of `len` steps), when neither the
    /// tokens at hand nor the last request cover them: the visible rows and a page
    /// either side, so that scrolling asks again only now and then.
    pub fn wanted(
        &mut self,
        run: usize,
        visible: Range<usize>,
        len: usize,
    ) -> Option<Range<usize>> {
        let visible = visible.start.min(len)..visible.end.min(len);
        if visible.is_empty() {
            return None;
        }
        let covers = |r: &Range<usize>| r.start <= visible.start && visible.end <= r.end;
        let have = self
            .tokens
            .as_ref()
            .filter(|d| d.run == run)
            .is_some_and(|d| covers(&(d.start..d.start + d.tokens.len())));
        let asked = self
            .requested
            .as_ref()
            .is_some_and(|(r, rows)| *r == run && covers(rows));
        if have || asked {
            return None;
        }
        let page = visible.len();
        let window = visible.start.saturating_sub(page)..(visible.end + page).min(len);
        self.requested = Some((run, window.clone()));
        Some(window)
    }

    /// Takes tokens a worker read (the latest request's).
    pub fn set_tokens(&mut self, doc: std::sync::Arc<TokensDoc>) {
        self.tokens = Some(doc);
    }
}

/// Reads the tokens of steps `rows` of `run` from their records (in chunks: what to read
/// is taken under a short hold of the history's lock, the reading done outside it).
pub fn read_tokens(
    shared: &SharedHistory,
    run: usize,
    rows: Range<usize>,
    cancel: &Cancel,
) -> Result<TokensDoc, String> {
    let rows = {
        let h = shared.read_politely();
        if run >= h.run_count() {
            return Err("the run is gone".into());
        }
        let len = h.run(run).step_count();
        rows.start.min(len)..rows.end.min(len)
    };
    let mut tokens = Vec::with_capacity(rows.len());
    let mut at = rows.start;
    while at < rows.end {
        if cancel.is_cancelled() {
            return Err("cancelled".into());
        }
        let end = (at + CHUNK).min(rows.end);
        let plan = shared.read_politely().run(run).plan(at..end);
        let steps = plan.read(true).map_err(|e| e.to_string())?;
        tokens.extend(steps.iter().map(|s| s.tokens()));
        at = end;
    }
    Ok(TokensDoc {
        run,
        start: rows.start,
        tokens,
    })
}

/// A token count in at most five columns: `812`, `12.3k`, `4.1M`.
pub fn count(n: u64) -> String {
    match n {
        0..=9_999 => n.to_string(),
        10_000..=999_999 => format!("{:.1}k", n as f64 / 1000.0).replace(".0k", "k"),
        _ => format!("{:.1}M", n as f64 / 1_000_000.0).replace(".0M", "M"),
    }
}

/// Tokens in and out as the lists show them: `812→41`.
pub fn in_out(t: Tokens) -> String {
    format!("{}→{}", count(t.input), count(t.output))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_stay_short() {
        assert_eq!(count(812), "812");
        assert_eq!(count(9_999), "9999");
        assert_eq!(count(12_345), "12.3k");
        assert_eq!(count(40_000), "40k");
        assert_eq!(count(4_120_000), "4.1M");
        assert_eq!(
            in_out(Tokens {
                input: 812,
                output: 41
            }),
            "812→41"
        );
    }

    #[test]
    fn a_window_is_asked_for_once_and_again_only_past_it() {
        let mut g = Glance::default();
        assert_eq!(g.wanted(3, 100..120, 1_000_000), Some(80..140));
        assert_eq!(g.wanted(3, 110..130, 1_000_000), None, "asked already");
        g.set_tokens(std::sync::Arc::new(TokensDoc {
            run: 3,
            start: 80,
            tokens: vec![None; 60],
        }));
        assert_eq!(g.step_tokens(3, 85), Some(None));
        assert_eq!(g.step_tokens(3, 79), None);
        assert_eq!(g.step_tokens(4, 85), None, "another run's");
        assert_eq!(g.wanted(3, 130..150, 1_000_000), Some(110..170));
        assert_eq!(g.wanted(4, 0..20, 5), Some(0..5), "another run");
        assert_eq!(g.wanted(4, 7..9, 5), None, "past the end");
    }
}
