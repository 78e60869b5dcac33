//! The timeline's waterfall column, drawn from [`crate::waterfall`]'s bars: `█` for a
//! step's duration, `│` for a step without one, `✗` (then `▒`) for a failed step, blank
//! columns for the gaps between steps; the header is the run's time axis, `0───2h05m`.
//! Shapes carry the meaning, so it reads without colour.

use crate::time::format_duration;
use crate::tui::text::{self, width, Piece};
use crate::tui::theme::Role;
use crate::waterfall::{Bar, Waterfall};

/// The axis over `w` columns: `0` at the run's start, its length at the right.
pub fn axis(axis: Option<&Waterfall>, w: usize) -> String {
    let Some(a) = axis else {
        return text::cell("no times", w);
    };
    let end = format_duration(a.span_ms as f64);
    if w < width(&end) + 3 {
        return text::cell("0", w);
    }
    format!("0{}{end}", "─".repeat(w - 1 - width(&end)))
}

/// One step's cell, `w` columns: blank before the bar, the bar, blank after.
pub fn cell(bar: Option<Bar>, w: usize) -> Vec<Piece> {
    let Some(b) = bar else {
        return vec![(Role::Dim, " ".repeat(w))];
    };
    let start = (b.start as usize).min(w.saturating_sub(1));
    let len = (b.len as usize).clamp(1, w - start);
    let (role, body) = match (b.error, b.instant) {
        (true, _) => (Role::Error, format!("✗{}", "▒".repeat(len - 1))),
        (false, true) => (Role::Dim, "│".to_string()),
        (false, false) => (Role::Accent, "█".repeat(len)),
    };
    vec![
        (Role::Dim, " ".repeat(start)),
        (role, body),
        (Role::Dim, " ".repeat(w - start - len)),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(p: &[Piece]) -> String {
        p.iter().map(|(_, s)| s.as_str()).collect()
    }

    #[test]
    fn bars_read_by_shape() {
        let bar = |start, len, error, instant| {
            Some(Bar {
                start,
                len,
                error,
                instant,
            })
        };
        assert_eq!(text(&cell(bar(2, 3, false, false), 8)), "  ███   ");
        assert_eq!(text(&cell(bar(2, 3, true, false), 8)), "  ✗▒▒   ");
        assert_eq!(text(&cell(bar(7, 1, false, true), 8)), "       │");
        assert_eq!(text(&cell(None, 4)), "    ");
        for p in [
            cell(bar(2, 3, false, false), 8),
            cell(bar(9, 9, true, false), 8),
        ] {
            assert_eq!(width(&text(&p)), 8);
        }
        let a = Waterfall::new(0, 7_200_000, 20).unwrap();
        assert_eq!(axis(Some(&a), 20), format!("0{}2h00m", "─".repeat(14)));
        assert_eq!(axis(Some(&a), 5), "0    ");
    }
}
