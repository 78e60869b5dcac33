//! Syntax highlighting with syntect's parser, mapped onto theme roles rather than
//! syntect's own colours, so highlighting follows the theme and the colour depth. Input
//! is text that is already sanitized: this only cuts it into styled pieces, and it runs
//! on worker threads (loading the syntax definitions takes a few tens of milliseconds).

use std::sync::OnceLock;

use syntect::parsing::{ParseState, Scope, ScopeStack, SyntaxReference, SyntaxSet};

use super::text::Piece;
use super::theme::Role;

/// Lines longer than this are shown unhighlighted: they are nearly always one long
/// value, and a regex engine on a megabyte line is slow.
const MAX_HIGHLIGHT_LINE: usize = 4096;

pub fn syntaxes() -> &'static SyntaxSet {
    static SET: OnceLock<SyntaxSet> = OnceLock::new();
    SET.get_or_init(SyntaxSet::load_defaults_nonewlines)
}

fn roles() -> &'static [(Scope, Role)] {
    static ROLES: OnceLock<Vec<(Scope, Role)>> = OnceLock::new();
    ROLES.get_or_init(|| {
        [
            ("meta.mapping.key", Role::SynKey),
            ("support.type.property-name", Role::SynKey),
            ("meta.structure.dictionary.key", Role::SynKey),
            ("comment", Role::SynComment),
            ("string", Role::SynString),
            ("constant.numeric", Role::SynNumber),
            ("constant", Role::SynLiteral),
            ("storage.type.function", Role::SynKeyword),
            ("storage.type.class", Role::SynKeyword),
            ("storage.type", Role::SynType),
            ("keyword", Role::SynKeyword),
            ("storage", Role::SynKeyword),
            ("entity.name.function", Role::SynFunction),
            ("support.function", Role::SynFunction),
            ("variable.function", Role::SynFunction),
            ("entity.name", Role::SynType),
            ("support.type", Role::SynType),
            ("support.class", Role::SynType),
            ("punctuation", Role::SynPunct),
        ]
        .into_iter()
        .filter_map(|(s, r)| Scope::new(s).ok().map(|s| (s, r)))
        .collect()
    })
}

/// The first entries of `roles()` mark object keys.
const KEY_ROLES: usize = 3;

fn quote_scope() -> Scope {
    static Q: OnceLock<Scope> = OnceLock::new();
    *Q.get_or_init(|| Scope::new("punctuation.definition.string").expect("valid scope"))
}

fn role_of(stack: &ScopeStack) -> Role {
    let scopes = stack.as_slice();
    let roles = roles();
    // A key is a key all the way down (its quotes too).
    for &(sel, role) in roles.iter().take(KEY_ROLES) {
        if scopes.iter().any(|s| sel.is_prefix_of(*s)) {
            return role;
        }
    }
    for scope in scopes.iter().rev() {
        if quote_scope().is_prefix_of(*scope) {
            continue;
        }
        if let Some(&(_, role)) = roles.iter().find(|(sel, _)| sel.is_prefix_of(*scope)) {
            return role;
        }
    }
    Role::Text
}

/// The syntax for a code block's language tag (`python`, `rs`, `json`, ...).
pub fn syntax_for(token: &str) -> Option<&'static SyntaxReference> {
    let token = token.trim();
    if token.is_empty() {
        return None;
    }
    syntaxes().find_syntax_by_token(token)
}

/// Highlights `lines` as one document of `syntax`.
pub fn highlight<'a>(
    lines: impl IntoIterator<Item = &'a str>,
    syntax: &SyntaxReference,
) -> Vec<Vec<Piece>> {
    let set = syntaxes();
    let mut state = ParseState::new(syntax);
    let mut stack = ScopeStack::new();
    let mut out = Vec::new();
    for line in lines {
        if line.len() > MAX_HIGHLIGHT_LINE {
            out.push(vec![(Role::Text, line.to_string())]);
            continue;
        }
        let Ok(ops) = state.parse_line(line, set) else {
            out.push(vec![(Role::Text, line.to_string())]);
            continue;
        };
        let mut pieces: Vec<Piece> = Vec::new();
        let mut at = 0;
        for (pos, op) in ops {
            let pos = pos.min(line.len());
            if pos > at {
                push(&mut pieces, role_of(&stack), &line[at..pos]);
                at = pos;
            }
            let _ = stack.apply(&op);
        }
        if at < line.len() {
            push(&mut pieces, role_of(&stack), &line[at..]);
        }
        out.push(pieces);
    }
    out
}

fn push(pieces: &mut Vec<Piece>, role: Role, s: &str) {
    match pieces.last_mut() {
        Some((r, text)) if *r == role => text.push_str(s),
        _ => pieces.push((role, s.to_string())),
    }
}

/// Highlights pretty-printed JSON.
pub fn json(text: &str) -> Vec<Vec<Piece>> {
    match syntaxes().find_syntax_by_extension("json") {
        Some(syntax) => highlight(text.lines(), syntax),
        None => plain(text, Role::Text),
    }
}

/// Every line in one role.
pub fn plain(text: &str, role: Role) -> Vec<Vec<Piece>> {
    text.lines().map(|l| vec![(role, l.to_string())]).collect()
}

/// Model text: prose as it is, fenced code blocks (```` ```lang ````) highlighted when
/// the language is known.
pub fn model_text(text: &str) -> Vec<Vec<Piece>> {
    let mut out = Vec::new();
    let lines: Vec<&str> = text.lines().collect();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        let Some(tag) = line.trim_start().strip_prefix("```") else {
            out.push(vec![(Role::Text, line.to_string())]);
            i += 1;
            continue;
        };
        out.push(vec![(Role::Dim, line.to_string())]);
        let end = lines[i + 1..]
            .iter()
            .position(|l| l.trim_start().starts_with("```"))
            .map_or(lines.len(), |p| i + 1 + p);
        let body = &lines[i + 1..end];
        match syntax_for(tag) {
            Some(syntax) => out.extend(highlight(body.iter().copied(), syntax)),
            None => out.extend(body.iter().map(|l| vec![(Role::Text, l.to_string())])),
        }
        if end < lines.len() {
            out.push(vec![(Role::Dim, lines[end].to_string())]);
        }
        i = end + 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn role_of_text(lines: &[Vec<Piece>], needle: &str) -> Option<Role> {
        lines
            .iter()
            .flatten()
            .find(|(_, s)| s.contains(needle))
            .map(|(r, _)| *r)
    }

    #[test]
    fn json_keys_strings_and_numbers_get_their_roles() {
        let lines = json("{\n  \"order_id\": \"A-10301\",\n  \"amount\": 42,\n  \"ok\": true\n}");
        assert_eq!(lines.len(), 5);
        assert_eq!(role_of_text(&lines, "order_id"), Some(Role::SynKey));
        assert_eq!(role_of_text(&lines, "A-10301"), Some(Role::SynString));
        assert_eq!(role_of_text(&lines, "42"), Some(Role::SynNumber));
        assert_eq!(role_of_text(&lines, "true"), Some(Role::SynLiteral));
    }

    #[test]
    fn code_blocks_in_model_text_are_highlighted_when_the_language_is_known() {
        let text = "Here is the fix:\n```python\ndef total(xs):\n    return sum(xs)\n```\ndone\n```nosuchlang\nx y\n```";
        let lines = model_text(text);
        assert_eq!(lines.len(), 9);
        assert_eq!(role_of_text(&lines, "Here is"), Some(Role::Text));
        assert_eq!(role_of_text(&lines, "def"), Some(Role::SynKeyword));
        assert_eq!(role_of_text(&lines, "x y"), Some(Role::Text));
        let text: String = lines.iter().flatten().map(|(_, s)| s.as_str()).collect();
        assert!(text.contains("return sum(xs)"));
    }

    #[test]
    fn very_long_lines_are_kept_whole_without_highlighting() {
        let long = format!("{{\"k\": \"{}\"}}", "x".repeat(MAX_HIGHLIGHT_LINE * 2));
        let lines = json(&long);
        assert_eq!(lines.len(), 1);
        assert_eq!(lines[0][0].1, long);
    }
}
