//! The failure strip above the run list: one column per time bucket of the listed runs'
//! start times ([`crate::failure_strip`]), failures as bars by glyph height (`▁`…`█`; `·`
//! a bucket with runs but no failure), so it reads without colour; below, `▲` under the
//! selected run's bucket and `━` under the bucket the list is narrowed to. Two rows, shown
//! only when the run list has room for them.

use std::ops::Range;

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;

use super::draw_row;
use crate::failure_strip::FailureStrip;
use crate::index::RunRef;
use crate::time::format_short;
use crate::tui::text::{cell, Piece};
use crate::tui::theme::{Role, Theme};

/// Rows the strip takes when shown.
pub const ROWS: u16 = 2;

/// Bar glyphs by level (0: no failure).
const LEVELS: [char; 9] = [' ', '▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

/// The label column left of the bars (`✗ per hour`, the selected bucket's figures).
const LABEL: usize = 18;

/// Rows of the strip in a run list body: none when the list would be left too short or
/// there is no room for bars beside the label.
pub fn rows(body: Rect) -> u16 {
    if body.height >= 8 && bar_columns(body.width) >= 8 {
        ROWS
    } else {
        0
    }
}

/// Columns of bars in a run list body `width` wide.
pub fn bar_columns(width: u16) -> usize {
    (width as usize).saturating_sub(LABEL + 1)
}

/// The strip's model, rebuilt when the listed runs or the width change.
#[derive(Debug, Clone, Default)]
pub struct StripState {
    pub strip: Option<FailureStrip>,
    /// Columns of bars it was built for.
    pub columns: usize,
}

impl StripState {
    pub fn rebuild(&mut self, runs: &[RunRef]) {
        self.strip = FailureStrip::of_runs(runs, self.columns);
    }
}

/// A bucket size in words: `hour`, `5 min`, `2 days`.
pub fn bucket_name(ms: i64) -> String {
    const S: i64 = 1000;
    const M: i64 = 60 * S;
    const H: i64 = 60 * M;
    const D: i64 = 24 * H;
    match ms {
        S => "second".into(),
        M => "minute".into(),
        H => "hour".into(),
        D => "day".into(),
        _ if ms % (7 * D) == 0 && ms > 7 * D => format!("{} weeks", ms / (7 * D)),
        _ if ms == 7 * D => "week".into(),
        _ if ms % D == 0 => format!("{} days", ms / D),
        _ if ms % H == 0 => format!("{} h", ms / H),
        _ if ms % M == 0 => format!("{} min", ms / M),
        _ if ms % S == 0 => format!("{} s", ms / S),
        _ => crate::time::format_duration(ms as f64),
    }
}

/// A bucket's start as short as its size allows: `11-25` for days, `11-25 09:00` for
/// hours and minutes, `09:00:05` for seconds.
pub fn bucket_start(start_ms: i64, bucket_ms: i64) -> String {
    let s = format_short(start_ms);
    let part = if bucket_ms % (24 * 3_600_000) == 0 {
        s.get(5..10)
    } else if bucket_ms % 60_000 == 0 {
        s.get(5..16)
    } else {
        s.get(11..19)
    };
    part.unwrap_or(&s).to_string()
}

/// A time window as the run list's title names it: `11-25 09:00–10:00`.
pub fn window_text(window: &Range<i64>) -> String {
    let a = format_short(window.start);
    let b = format_short(window.end);
    let same_day = a.get(..10) == b.get(..10);
    let a = a.get(5..16).unwrap_or(&a).to_string();
    let b = if same_day {
        b.get(11..16).unwrap_or(&b).to_string()
    } else {
        b.get(5..16).unwrap_or(&b).to_string()
    };
    format!("{a}–{b}")
}

/// Draws the strip in the first [`ROWS`] rows of `area`.
pub struct StripView<'a> {
    pub state: &'a StripState,
    /// The selected run's start time.
    pub selected: Option<i64>,
    /// The window the list is narrowed to.
    pub window: Option<&'a Range<i64>>,
    pub theme: &'a Theme,
}

impl StripView<'_> {
    /// The bars row and the marker row, as pieces.
    pub fn lines(&self) -> [Vec<Piece>; 2] {
        let Some(strip) = &self.state.strip else {
            return [
                vec![(Role::Dim, "✗ over time: no run has a start time".into())],
                Vec::new(),
            ];
        };
        let levels = strip.levels(8);
        let mut bars: Vec<Piece> = vec![(
            Role::Dim,
            cell(
                &format!("✗ per {}", bucket_name(strip.bucket_ms)),
                LABEL + 1,
            ),
        )];
        for (b, &level) in strip.buckets.iter().zip(&levels) {
            let (role, glyph) = match (b.runs, level) {
                (0, _) => (Role::Dim, ' '),
                (_, 0) => (Role::Ok, '·'),
                (_, l) => (Role::Error, LEVELS[l as usize]),
            };
            match bars.last_mut() {
                Some((r, s)) if *r == role => s.push(glyph),
                _ => bars.push((role, glyph.to_string())),
            }
        }
        let column = self.selected.and_then(|t| strip.column_of(t));
        let label = match column {
            Some(c) => {
                let b = strip.buckets[c];
                format!(
                    "▲ {} {}✗/{}",
                    bucket_start(strip.range(c).start, strip.bucket_ms),
                    b.failures,
                    b.runs
                )
            }
            None => String::new(),
        };
        let window = self.window.map(|w| {
            let first = strip.column_of(w.start).unwrap_or(0);
            let last = strip
                .column_of(w.end - 1)
                .unwrap_or(strip.buckets.len().saturating_sub(1));
            first..last + 1
        });
        let marks: String = (0..strip.buckets.len())
            .map(|i| {
                if Some(i) == column {
                    '▲'
                } else if window.as_ref().is_some_and(|w| w.contains(&i)) {
                    '━'
                } else {
                    ' '
                }
            })
            .collect();
        let marker = vec![
            (Role::Accent, cell(&label, LABEL + 1)),
            (Role::Accent, marks.trim_end().to_string()),
        ];
        [bars, marker]
    }

    pub fn render(&self, area: Rect, buf: &mut Buffer) {
        for (i, line) in self.lines().iter().enumerate().take(area.height as usize) {
            draw_row(buf, area, area.y + i as u16, line, false, self.theme);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_sizes_and_starts_read_naturally() {
        assert_eq!(bucket_name(3_600_000), "hour");
        assert_eq!(bucket_name(3 * 3_600_000), "3 h");
        assert_eq!(bucket_name(5 * 60_000), "5 min");
        assert_eq!(bucket_name(15_000), "15 s");
        assert_eq!(bucket_name(2 * 86_400_000), "2 days");
        assert_eq!(bucket_name(14 * 86_400_000), "2 weeks");
        let t = crate::time::parse_rfc3339_ms("2026-11-25T09:00:00Z").unwrap();
        assert_eq!(bucket_start(t, 3_600_000), "11-25 09:00");
        assert_eq!(bucket_start(t, 86_400_000), "11-25");
        assert_eq!(bucket_start(t + 5000, 5000), "09:00:05");
        assert_eq!(window_text(&(t..t + 3_600_000)), "11-25 09:00–10:00");
        assert_eq!(rows(Rect::new(0, 0, 80, 7)), 0);
        assert_eq!(rows(Rect::new(0, 0, 80, 20)), ROWS);
        assert_eq!(rows(Rect::new(0, 0, 20, 20)), 0, "no room for bars");
    }

    #[test]
    fn failures_read_by_glyph_height_and_the_selected_bucket_is_marked() {
        let hour = 3_600_000;
        let t = 1_795_000_000_000 / hour * hour;
        let runs = [
            (t, false),
            (t + 2 * hour, true),
            (t + 2 * hour, true),
            (t + 3 * hour, true),
        ];
        let state = StripState {
            strip: FailureStrip::build(runs, 4),
            columns: 4,
        };
        let theme = Theme::new(
            crate::tui::theme::ThemeName::Dark,
            crate::tui::theme::ColorDepth::Ansi256,
        );
        let view = StripView {
            state: &state,
            selected: Some(t + 2 * hour + 5),
            window: None,
            theme: &theme,
        };
        let [bars, marks] = view.lines();
        let bars: String = bars.iter().map(|(_, s)| s.as_str()).collect();
        let tail: String = bars.chars().skip(bars.chars().count() - 4).collect();
        assert_eq!(tail, "· █▄");
        let marks: String = marks.iter().map(|(_, s)| s.as_str()).collect();
        assert!(marks.starts_with("▲ "), "{marks}");
        assert!(marks.contains("2✗/2"), "{marks}");
        assert!(marks.ends_with("  ▲"), "{marks}");
    }
}
