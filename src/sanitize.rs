//! The one place untrusted text (anything from a run file) is made safe to display:
//! control characters, escape sequences and bidi overrides become visible text such as
//! `\x1b` or `\u{202e}`, so nothing from a file can drive the terminal.

use std::borrow::Cow;
use std::fmt::Write;

/// Makes `s` safe for one line of display: every control character, line breaks
/// included, is shown escaped.
pub fn line(s: &str) -> Cow<'_, str> {
    escape(s, false)
}

/// Like [`line()`], but keeps `\n` as a line break and turns tabs into spaces, for
/// multi-line display such as a step's output.
pub fn text(s: &str) -> Cow<'_, str> {
    escape(s, true)
}

fn needs_escape(c: char) -> bool {
    c.is_control() || is_bidi_control(c)
}

/// Characters that reorder text (Trojan Source, CVE-2021-42574) or hide it.
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

fn escape(s: &str, multiline: bool) -> Cow<'_, str> {
    // Printable ASCII (most text) needs no look at each character.
    if s.bytes().all(|b| (0x20..0x7f).contains(&b)) || !s.chars().any(needs_escape) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        match c {
            '\n' if multiline => out.push('\n'),
            '\t' if multiline => out.push_str("    "),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x80 && c.is_control() => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if needs_escape(c) => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_is_borrowed_unchanged() {
        assert!(matches!(line("refund ✓ ok"), Cow::Borrowed("refund ✓ ok")));
    }

    #[test]
    fn escape_sequences_become_visible() {
        assert_eq!(line("\x1b]0;pwned\x07title"), "\\x1b]0;pwned\\x07title");
        assert_eq!(line("\x1b]52;c;aGk=\x1b\\"), "\\x1b]52;c;aGk=\\x1b\\");
        assert_eq!(line("a\x1b[2Jb"), "a\\x1b[2Jb");
        assert_eq!(line("fake\rreal"), "fake\\rreal");
        assert_eq!(line("\u{9b}31m"), "\\u{9b}31m");
        assert_eq!(line("abc\u{202e}fed"), "abc\\u{202e}fed");
        assert_eq!(line("x\u{7f}"), "x\\x7f");
    }

    #[test]
    fn multiline_keeps_line_breaks_only() {
        assert_eq!(text("a\n\tb\x1b[0m"), "a\n    b\\x1b[0m");
        assert_eq!(line("a\nb"), "a\\nb");
    }
}
