//! The one place text is measured, cut and wrapped for the screen, by display width
//! (wide characters take two columns). Text reaching here is already sanitized; this
//! module never decides what is safe to show.

use unicode_width::UnicodeWidthChar;

use super::theme::Role;

/// A run of text in one role.
pub type Piece = (Role, String);

pub use crate::width::{cell, cell_right, fit, width};

/// Wraps one line of pieces to `cols` columns. Breaks after a space when there is one
/// in the second half of the row, else inside a word; never loses a character. Works on
/// byte offsets, so a line of megabytes costs its length, not sixteen times it.
pub fn wrap(line: &[Piece], cols: usize) -> Vec<Vec<Piece>> {
    let cols = cols.max(1);
    if line.iter().map(|(_, s)| width(s)).sum::<usize>() <= cols {
        return vec![line.to_vec()];
    }
    let mut text = String::new();
    // Where each piece ends in `text`, and its role.
    let mut bounds: Vec<(usize, Role)> = Vec::with_capacity(line.len());
    for (role, s) in line {
        text.push_str(s);
        bounds.push((text.len(), *role));
    }
    let mut rows = Vec::new();
    let mut cursor = 0;
    let mut row_start = 0;
    let mut used = 0;
    // The byte after the last space of the row, and the row's width up to it.
    let mut space: Option<(usize, usize)> = None;
    for (i, c) in text.char_indices() {
        let w = c.width().unwrap_or(0);
        if used + w > cols && i > row_start {
            match space {
                Some((at, upto)) if upto * 2 >= cols => {
                    rows.push(slice(&text, &bounds, &mut cursor, row_start, at));
                    row_start = at;
                    used -= upto;
                }
                _ => {
                    rows.push(slice(&text, &bounds, &mut cursor, row_start, i));
                    row_start = i;
                    used = 0;
                }
            }
            space = None;
        }
        used += w;
        if c == ' ' {
            space = Some((i + 1, used));
        }
    }
    if row_start < text.len() || rows.is_empty() {
        rows.push(slice(&text, &bounds, &mut cursor, row_start, text.len()));
    }
    rows
}

/// The pieces of `text[from..to]`; `cursor` walks `bounds` forward across calls.
fn slice(
    text: &str,
    bounds: &[(usize, Role)],
    cursor: &mut usize,
    from: usize,
    to: usize,
) -> Vec<Piece> {
    let mut out = Vec::new();
    let mut at = from;
    while at < to {
        while *cursor < bounds.len() && bounds[*cursor].0 <= at {
            *cursor += 1;
        }
        let Some(&(end, role)) = bounds.get(*cursor) else {
            break;
        };
        let end = end.min(to);
        out.push((role, text[at..end].to_string()));
        at = end;
    }
    out
}

/// Human bytes: `512 B`, `48.2 KB`, `1.1 GB`.
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 4] = ["KB", "MB", "GB", "TB"];
    if n < 1000 {
        return format!("{n} B");
    }
    let mut v = n as f64;
    let mut unit = "B";
    for u in UNITS {
        if v < 1000.0 {
            break;
        }
        v /= 1000.0;
        unit = u;
    }
    format!("{v:.1} {unit}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(rows: &[Vec<Piece>]) -> Vec<String> {
        rows.iter()
            .map(|r| r.iter().map(|(_, s)| s.as_str()).collect())
            .collect()
    }

    #[test]
    fn fit_cuts_by_display_width() {
        assert_eq!(fit("refund", 10), "refund");
        assert_eq!(fit("refund_charge", 8), "refund_…");
        assert_eq!(fit("日本語テキスト", 5), "日本…");
        assert_eq!(cell("ab", 4), "ab  ");
        assert_eq!(cell_right("ab", 4), "  ab");
        assert_eq!(width("日本"), 4);
    }

    #[test]
    fn wrap_breaks_at_spaces_and_keeps_every_character() {
        let line = vec![(Role::Text, "the quick brown fox jumps".to_string())];
        let rows = wrap(&line, 10);
        assert_eq!(text(&rows), ["the quick ", "brown fox ", "jumps"]);
        let long = vec![(Role::SynString, "x".repeat(25))];
        let rows = wrap(&long, 10);
        assert_eq!(rows.len(), 3);
        assert_eq!(text(&rows).concat(), "x".repeat(25));
        let wide = vec![(Role::Text, "日本語のテキスト".to_string())];
        let rows = wrap(&wide, 5);
        assert_eq!(text(&rows), ["日本", "語の", "テキ", "スト"]);
        assert!(rows.iter().all(|r| width(&r[0].1) <= 5));
    }

    #[test]
    fn wrap_keeps_roles_across_rows() {
        let line = vec![
            (Role::SynKey, "\"key\"".to_string()),
            (Role::SynPunct, ": ".to_string()),
            (Role::SynString, "\"value\"".to_string()),
        ];
        let rows = wrap(&line, 6);
        let flat: Vec<Piece> = rows.into_iter().flatten().collect();
        assert_eq!(flat[0], (Role::SynKey, "\"key\"".to_string()));
        assert!(flat.iter().any(|(r, _)| *r == Role::SynString));
    }

    #[test]
    fn a_megabyte_line_wraps_in_linear_time() {
        let line = vec![(Role::Text, "word ".repeat(400_000))];
        let start = std::time::Instant::now();
        let rows = wrap(&line, 80);
        assert_eq!(rows.len(), 25_000);
        assert!(start.elapsed().as_secs() < 5);
    }

    #[test]
    fn bytes_read_naturally() {
        assert_eq!(bytes(512), "512 B");
        assert_eq!(bytes(48_200), "48.2 KB");
        assert_eq!(bytes(1_074_570_117), "1.1 GB");
    }
}
