//! Text measured by display width, for every table and pane: wide characters (CJK,
//! most emoji) take two columns, combining marks none. Text reaching here is already
//! sanitized; this module never decides what is safe to show.

use std::borrow::Cow;

use unicode_width::UnicodeWidthChar;

/// The display width of `s`.
pub fn width(s: &str) -> usize {
    s.chars().map(char_width).sum()
}

fn char_width(c: char) -> usize {
    c.width().unwrap_or(0)
}

/// Cuts `s` to at most `max` columns, marking a cut with `…`.
pub fn fit(s: &str, max: usize) -> Cow<'_, str> {
    if width(s) <= max {
        return Cow::Borrowed(s);
    }
    if max == 0 {
        return Cow::Borrowed("");
    }
    let mut out = String::new();
    let mut used = 0;
    for c in s.chars() {
        let w = char_width(c);
        if used + w > max - 1 {
            break;
        }
        out.push(c);
        used += w;
    }
    out.push('…');
    Cow::Owned(out)
}

/// `s` cut or padded with spaces to exactly `cols` columns.
pub fn cell(s: &str, cols: usize) -> String {
    let cut = fit(s, cols);
    let pad = cols.saturating_sub(width(&cut));
    let mut out = cut.into_owned();
    out.push_str(&" ".repeat(pad));
    out
}

/// `s` right-aligned in `cols` columns (cut when longer).
pub fn cell_right(s: &str, cols: usize) -> String {
    let cut = fit(s, cols);
    let pad = cols.saturating_sub(width(&cut));
    let mut out = " ".repeat(pad);
    out.push_str(&cut);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wide_characters_take_two_columns() {
        assert_eq!(width("abc"), 3);
        assert_eq!(width("日本語"), 6);
        assert_eq!(width("🚀x"), 3);
    }

    #[test]
    fn cells_are_exactly_their_width_whatever_the_script() {
        for s in [
            "plain",
            "日本語のエージェント",
            "🚀🚀🚀🚀🚀🚀",
            "mixé日x",
            "",
        ] {
            for cols in [0, 1, 2, 5, 7, 12] {
                assert_eq!(width(&cell(s, cols)), cols, "{s:?} in {cols}");
                assert_eq!(width(&cell_right(s, cols)), cols, "{s:?} in {cols}");
            }
        }
    }

    #[test]
    fn a_cut_never_splits_a_wide_character_past_the_limit() {
        // 5 columns: two wide characters (4) and the cut mark would be 5.
        assert_eq!(fit("日本語", 5), "日本…");
        assert_eq!(fit("日本語", 4), "日…");
    }
}
