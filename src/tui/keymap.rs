//! The one table of keys. [`DEFAULT_KEYMAP`] drives the dispatcher ([`lookup`]), the `?`
//! overlay, the footer hints and the README's key table ([`markdown_table`]). It holds
//! bindings as data only: what an action does is `App::update`'s business.

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use super::action::Action;

/// Where a binding applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Context {
    Global,
    Runs,
    Timeline,
    Tree,
    Detail,
    /// While the diff view is open.
    Diff,
    /// While the search prompt is open (typed characters go to the query).
    Search,
    /// While the help overlay is open (only these and Global bindings apply).
    Help,
    /// While a question waits for a yes or no.
    Confirm,
    /// While the problems view is open.
    Problems,
    /// While a text input is open (typed characters go to the text).
    Input,
    /// While a chooser or the incident timeline is open.
    Pick,
    /// While the incident library's search is open (typed characters go to the query).
    Library,
}

impl Context {
    pub fn label(self) -> &'static str {
        match self {
            Context::Global => "everywhere",
            Context::Runs => "runs",
            Context::Timeline => "timeline",
            Context::Tree => "tree",
            Context::Detail => "detail",
            Context::Diff => "diff",
            Context::Search => "search",
            Context::Help => "help",
            Context::Confirm => "question",
            Context::Problems => "problems",
            Context::Input => "text input",
            Context::Pick => "list",
            Context::Library => "incident library",
        }
    }
}

/// Sections of the help overlay.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Group {
    Move,
    Panes,
    Failures,
    Tree,
    Detail,
    Diff,
    Search,
    Meeting,
    PostMortem,
    General,
}

impl Group {
    pub const ALL: [Group; 10] = [
        Group::Move,
        Group::Panes,
        Group::Failures,
        Group::Tree,
        Group::Detail,
        Group::Diff,
        Group::Search,
        Group::Meeting,
        Group::PostMortem,
        Group::General,
    ];

    pub fn title(self) -> &'static str {
        match self {
            Group::Move => "Move",
            Group::Panes => "Panes",
            Group::Failures => "Failures",
            Group::Tree => "Decision tree",
            Group::Detail => "Step detail",
            Group::Diff => "Diff",
            Group::Search => "Search",
            Group::Meeting => "Replay and meetings",
            Group::PostMortem => "Post-mortem",
            Group::General => "General",
        }
    }
}

/// One row of the keymap.
#[derive(Debug, Clone, Copy)]
pub struct Binding {
    /// Key names: a character (`j`, `G`, `?`), a named key (`Down`, `PageDown`, `Enter`,
    /// `Esc`, `Tab`, `Space`, ...), or one with a modifier (`Ctrl-c`, `Shift-Tab`).
    pub keys: &'static [&'static str],
    pub context: Context,
    pub action: Action,
    pub description: &'static str,
    pub group: Group,
    /// A short label for the footer, for the bindings worth a hint.
    pub hint: Option<&'static str>,
}

const fn bind(
    keys: &'static [&'static str],
    context: Context,
    action: Action,
    description: &'static str,
    group: Group,
    hint: Option<&'static str>,
) -> Binding {
    Binding {
        keys,
        context,
        action,
        description,
        group,
        hint,
    }
}

use Context as C;
use Group as G;

/// Every key retrace understands. Earlier rows of a more specific context win.
#[rustfmt::skip]
pub const DEFAULT_KEYMAP: &[Binding] = &[
    bind(&["j", "Down"], C::Global, Action::MoveDown, "move down, scroll down", G::Move, Some("move")),
    bind(&["k", "Up"], C::Global, Action::MoveUp, "move up, scroll up", G::Move, None),
    bind(&["PageDown", "Ctrl-d", "Ctrl-f"], C::Global, Action::PageDown, "page down", G::Move, None),
    bind(&["PageUp", "Ctrl-u", "Ctrl-b"], C::Global, Action::PageUp, "page up", G::Move, None),
    bind(&["g", "Home"], C::Global, Action::Top, "go to the top", G::Move, None),
    bind(&["G", "End"], C::Global, Action::Bottom, "go to the bottom", G::Move, None),
    bind(&["Tab"], C::Global, Action::NextPane, "next pane", G::Panes, Some("pane")),
    bind(&["Shift-Tab"], C::Global, Action::PrevPane, "previous pane", G::Panes, None),
    bind(&["1"], C::Global, Action::FocusRuns, "run list", G::Panes, None),
    bind(&["2"], C::Global, Action::FocusTimeline, "timeline", G::Panes, None),
    bind(&["3"], C::Global, Action::FocusTree, "decision tree", G::Panes, None),
    bind(&["4"], C::Global, Action::FocusDetail, "step detail", G::Panes, None),
    bind(&["Enter"], C::Search, Action::Open, "jump to the selected result's run and step", G::Search, Some("jump")),
    bind(&["Esc"], C::Search, Action::Back, "close the search (the query stays: n and N walk its matches)", G::Search, Some("close")),
    bind(&["d"], C::Diff, Action::Diff, "jump to the divergence", G::Diff, Some("divergence")),
    bind(&["D"], C::Diff, Action::DiffWith, "compare A with another run: select it in the run list, then D", G::Diff, Some("other run")),
    bind(&["Enter"], C::Detail, Action::LoadMore, "load more of a long value", G::Detail, Some("more")),
    bind(&["Enter"], C::Global, Action::Open, "open: a run's timeline, a step's detail", G::Panes, Some("open")),
    bind(&["Esc"], C::Help, Action::Help, "close the help", G::General, Some("close")),
    bind(&["Esc", "Backspace"], C::Global, Action::Back, "back to the previous pane", G::Panes, Some("back")),
    bind(&["f"], C::Global, Action::FirstFailure, "jump to the run's first failure", G::Failures, Some("first failure")),
    bind(&["n"], C::Global, Action::NextFailure, "next failing run or step; after a search, the next match in the run", G::Failures, None),
    bind(&["N"], C::Global, Action::PrevFailure, "previous failing run or step; after a search, the previous match", G::Failures, None),
    bind(&["s"], C::Runs, Action::SortRuns, "sort the runs: by time, duration, steps, errors (most first), in turn", G::Search, None),
    bind(&["h", "Left"], C::Tree, Action::Collapse, "collapse the subtree", G::Tree, Some("fold")),
    bind(&["l", "Right"], C::Tree, Action::Expand, "expand the subtree", G::Tree, None),
    bind(&["Space"], C::Tree, Action::ToggleFold, "fold or unfold the subtree", G::Tree, None),
    bind(&["?"], C::Global, Action::Help, "show or hide this help", G::General, Some("help")),
    bind(&["t"], C::Global, Action::ToggleTheme, "switch between dark and light theme", G::General, None),
    bind(&["m"], C::Global, Action::ToggleMouse, "mouse on or off (off lets the terminal select text)", G::General, None),
    bind(&["q", "Ctrl-c"], C::Global, Action::Quit, "quit", G::General, Some("quit")),
    bind(&["F"], C::Global, Action::Follow, "follow the run: keep its newest step in view as steps arrive (moving stops it)", G::Move, Some("follow")),
    bind(&["/"], C::Global, Action::Search, "search runs and steps (an empty search, Enter, goes back to n/N for failures)", G::Search, Some("search")),
    bind(&["d"], C::Global, Action::Diff, "diff the run with its most similar successful run", G::Diff, Some("diff")),
    bind(&["D"], C::Global, Action::DiffWith, "diff with a run you choose: D, select the other run, D", G::Diff, None),
    bind(&["y", "Enter"], C::Confirm, Action::Confirm, "yes", G::Meeting, Some("yes")),
    bind(&["n", "Esc"], C::Confirm, Action::Back, "no", G::Meeting, Some("no")),
    bind(&["r"], C::Global, Action::Replay, "replay from the selected step (in the diff view: both runs, pausing at the divergence); again: stop", G::Meeting, None),
    bind(&["Space"], C::Global, Action::PlayPause, "replay: play or pause (in the tree pane Space folds: use r there)", G::Meeting, None),
    bind(&["."], C::Global, Action::StepForward, "replay: one step on", G::Meeting, None),
    bind(&[","], C::Global, Action::StepBack, "replay: one step back", G::Meeting, None),
    bind(&["+", "="], C::Global, Action::Faster, "replay: faster", G::Meeting, None),
    bind(&["-"], C::Global, Action::Slower, "replay: slower", G::Meeting, None),
    bind(&["p"], C::Global, Action::TogglePace, "replay: real-time pacing (long gaps shortened) or a fixed pace", G::Meeting, None),
    bind(&["P"], C::Global, Action::Present, "presenter mode: the step as a large card, secrets redacted", G::Meeting, None),
    bind(&["y"], C::Global, Action::ShowPosition, "show this position as a command line anyone can open, and copy it", G::Meeting, None),
    bind(&["R"], C::Global, Action::ToggleRedaction, "redaction of secrets on, or off (asks first)", G::Meeting, None),
    bind(&["A"], C::Global, Action::Attach, "following a presenter: detach to explore, or attach again", G::Meeting, None),
    bind(&["b"], C::Global, Action::OnlyBucket, "only the runs of the selected run's bucket in the failure strip (that hour, that day); again: all runs", G::Failures, None),
    bind(&["!"], C::Global, Action::Problems, "show or hide the problems met while loading: each bad line or damaged file, with its file, line and reason", G::General, None),
    bind(&["Esc"], C::Problems, Action::Back, "close the problems view", G::General, Some("close")),
    bind(&["w"], C::Global, Action::ToggleWaterfall, "show or hide the timeline's waterfall: each step's start and duration on the run's time axis", G::Failures, None),
    bind(&["Enter"], C::Input, Action::Open, "save the text", G::PostMortem, Some("save")),
    bind(&["Esc"], C::Input, Action::Back, "cancel the text", G::PostMortem, Some("cancel")),
    bind(&["Enter"], C::Library, Action::Open, "close the incident library search", G::PostMortem, Some("close")),
    bind(&["Esc"], C::Library, Action::Back, "close the incident library search", G::PostMortem, Some("close")),
    bind(&["Enter"], C::Pick, Action::Open, "choose the category; in the incident timeline, jump to the row's step", G::PostMortem, Some("choose")),
    bind(&["Esc"], C::Pick, Action::Back, "close the list", G::PostMortem, Some("close")),
    bind(&["x"], C::Global, Action::MarkRootCause, "post-mortem: mark the selected step as the root cause (again: unmark)", G::PostMortem, None),
    bind(&["B"], C::Global, Action::ToggleBookmark, "post-mortem: bookmark the selected step, or remove the bookmark", G::PostMortem, None),
    bind(&["e"], C::Global, Action::EditNote, "post-mortem: write or edit the note on the selected step", G::PostMortem, None),
    bind(&["C"], C::Global, Action::SetCategory, "post-mortem: set the run's category (or auto: the classifier's)", G::PostMortem, None),
    bind(&["a"], C::Global, Action::AddActionItem, "post-mortem: add an action item: text owner=NAME component=tool|prompt|agent|infra done_when=\"…\" (vague items are flagged as you type)", G::PostMortem, None),
    bind(&["W"], C::Global, Action::WriteReport, "post-mortem: write the report into the library (reports/RUN.md)", G::PostMortem, None),
    bind(&["E"], C::Global, Action::EditNarrative, "post-mortem: write or edit the run's blameless narrative (Enter saves)", G::PostMortem, None),
    bind(&["I"], C::Global, Action::SaveIncident, "incident library: save the run, with its notes, as a resolved incident (incidents/INC-RUN.json and .md)", G::PostMortem, None),
    bind(&["L"], C::Global, Action::SimilarIncidents, "incident library: the resolved incidents most like the shown failing run, with scores and reasons", G::PostMortem, None),
    bind(&["i"], C::Global, Action::IncidentLibrary, "incident library: search the resolved incidents with the search language (type a query; empty lists them all)", G::PostMortem, None),
    bind(&["T"], C::Global, Action::IncidentTimeline, "post-mortem: the incident timeline (trigger, decisions, divergence, failure, cascade, outside changes); Enter jumps to a row's step", G::PostMortem, None),
];

/// The action bound to `key` in the first of `contexts` that binds it.
pub fn lookup(keymap: &[Binding], key: &KeyEvent, contexts: &[Context]) -> Option<Action> {
    if key.kind == KeyEventKind::Release {
        return None;
    }
    contexts.iter().find_map(|&context| {
        keymap
            .iter()
            .filter(|b| b.context == context)
            .find(|b| b.keys.iter().any(|spec| matches(spec, key)))
            .map(|b| b.action)
    })
}

/// Parses a key name of the keymap into its code and modifiers.
pub fn parse_key(spec: &str) -> Option<(KeyCode, KeyModifiers)> {
    let (mods, name) = if let Some(rest) = spec.strip_prefix("Ctrl-") {
        (KeyModifiers::CONTROL, rest)
    } else if let Some(rest) = spec.strip_prefix("Shift-") {
        (KeyModifiers::SHIFT, rest)
    } else {
        (KeyModifiers::NONE, spec)
    };
    let code = match name {
        "Up" => KeyCode::Up,
        "Down" => KeyCode::Down,
        "Left" => KeyCode::Left,
        "Right" => KeyCode::Right,
        "PageUp" => KeyCode::PageUp,
        "PageDown" => KeyCode::PageDown,
        "Home" => KeyCode::Home,
        "End" => KeyCode::End,
        "Enter" => KeyCode::Enter,
        "Esc" => KeyCode::Esc,
        "Backspace" => KeyCode::Backspace,
        "Space" => KeyCode::Char(' '),
        "Tab" if mods == KeyModifiers::SHIFT => return Some((KeyCode::BackTab, mods)),
        "Tab" => KeyCode::Tab,
        _ => {
            let mut chars = name.chars();
            match (chars.next(), chars.next()) {
                (Some(c), None) => KeyCode::Char(c),
                _ => return None,
            }
        }
    };
    Some((code, mods))
}

fn matches(spec: &str, key: &KeyEvent) -> bool {
    let Some((code, mods)) = parse_key(spec) else {
        return false;
    };
    match (code, key.code) {
        // Terminals report Shift-Tab as BackTab, with or without SHIFT.
        (KeyCode::BackTab, KeyCode::BackTab) => true,
        // A typed character carries its own case: `G` arrives as SHIFT + 'G'.
        (KeyCode::Char(a), KeyCode::Char(b)) => {
            a == b
                && key.modifiers.contains(KeyModifiers::CONTROL)
                    == mods.contains(KeyModifiers::CONTROL)
                && !key.modifiers.contains(KeyModifiers::ALT)
        }
        (a, b) => {
            a == b
                && key.modifiers & (KeyModifiers::CONTROL | KeyModifiers::ALT)
                    == mods & (KeyModifiers::CONTROL | KeyModifiers::ALT)
        }
    }
}

/// A key name as the help and the README show it.
pub fn display_key(spec: &str) -> String {
    match spec {
        "Up" => "↑".into(),
        "Down" => "↓".into(),
        "Left" => "←".into(),
        "Right" => "→".into(),
        other => other.to_string(),
    }
}

/// The footer hints for the contexts in force: `key label` pairs, most specific first.
pub fn hints(keymap: &[Binding], contexts: &[Context]) -> Vec<(String, &'static str)> {
    let mut out: Vec<(String, &'static str)> = Vec::new();
    for &context in contexts {
        for b in keymap.iter().filter(|b| b.context == context) {
            let Some(hint) = b.hint else { continue };
            // A key already hinted by a more specific context is taken.
            if out.iter().any(|(k, _)| *k == b.keys[0]) {
                continue;
            }
            out.push((b.keys[0].to_string(), hint));
        }
    }
    out
}

/// The README's key table, generated from the keymap.
pub fn markdown_table(keymap: &[Binding]) -> String {
    let mut out = String::from("| keys | where | what it does |\n|---|---|---|\n");
    for b in keymap {
        let keys: Vec<String> = b.keys.iter().map(|k| format!("`{k}`")).collect();
        out.push_str(&format!(
            "| {} | {} | {} |\n",
            keys.join(" "),
            b.context.label(),
            b.description
        ));
    }
    out
}

/// Checks the key table between `<!-- keys:start -->` and `<!-- keys:end -->` in `readme`.
/// `Ok(false)` when the README has no such table.
pub fn check_readme(readme: &str, keymap: &[Binding]) -> Result<bool, String> {
    const START: &str = "<!-- keys:start -->";
    const END: &str = "<!-- keys:end -->";
    let Some(start) = readme.find(START) else {
        return Ok(false);
    };
    let body = &readme[start + START.len()..];
    let end = body
        .find(END)
        .ok_or_else(|| format!("{START} without {END}"))?;
    let found = body[..end].trim();
    let want = markdown_table(keymap);
    if found == want.trim() {
        Ok(true)
    } else {
        Err(format!(
            "the README's key table is stale; replace it with:\n{want}"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(code: KeyCode, mods: KeyModifiers) -> KeyEvent {
        KeyEvent::new(code, mods)
    }

    #[test]
    fn every_key_name_parses() {
        for b in DEFAULT_KEYMAP {
            for k in b.keys {
                assert!(parse_key(k).is_some(), "{k:?} in {:?}", b.action);
            }
        }
    }

    #[test]
    fn no_key_is_bound_twice_in_one_context() {
        let mut seen = std::collections::HashSet::new();
        for b in DEFAULT_KEYMAP {
            for k in b.keys {
                assert!(seen.insert((b.context, *k)), "{k} twice in {:?}", b.context);
            }
        }
    }

    #[test]
    fn keys_dispatch_by_context() {
        let ctx = [Context::Runs, Context::Global];
        let l = |code, mods| lookup(DEFAULT_KEYMAP, &key(code, mods), &ctx);
        assert_eq!(
            l(KeyCode::Char('j'), KeyModifiers::NONE),
            Some(Action::MoveDown)
        );
        assert_eq!(l(KeyCode::Down, KeyModifiers::NONE), Some(Action::MoveDown));
        assert_eq!(
            l(KeyCode::Char('G'), KeyModifiers::SHIFT),
            Some(Action::Bottom)
        );
        assert_eq!(l(KeyCode::Char('g'), KeyModifiers::NONE), Some(Action::Top));
        assert_eq!(
            l(KeyCode::Char('c'), KeyModifiers::CONTROL),
            Some(Action::Quit)
        );
        assert_eq!(l(KeyCode::Char('c'), KeyModifiers::NONE), None);
        assert_eq!(
            l(KeyCode::BackTab, KeyModifiers::SHIFT),
            Some(Action::PrevPane)
        );
        assert_eq!(l(KeyCode::Enter, KeyModifiers::NONE), Some(Action::Open));
        // Tree keys do nothing in the run list.
        assert_eq!(l(KeyCode::Char('h'), KeyModifiers::NONE), None);
        let detail = [Context::Detail, Context::Global];
        let enter = key(KeyCode::Enter, KeyModifiers::NONE);
        assert_eq!(
            lookup(DEFAULT_KEYMAP, &enter, &detail),
            Some(Action::LoadMore)
        );
        let help = [Context::Help, Context::Global];
        let esc = key(KeyCode::Esc, KeyModifiers::NONE);
        assert_eq!(lookup(DEFAULT_KEYMAP, &esc, &help), Some(Action::Help));
    }

    #[test]
    fn hints_prefer_the_specific_context() {
        let h = hints(DEFAULT_KEYMAP, &[Context::Detail, Context::Global]);
        assert!(h.contains(&("Enter".to_string(), "more")));
        assert!(!h.contains(&("Enter".to_string(), "open")));
        assert!(h.contains(&("q".to_string(), "quit")));
    }

    #[test]
    fn readme_check_fails_on_a_stale_table() {
        let good = format!(
            "# x\n<!-- keys:start -->\n{}<!-- keys:end -->\n",
            markdown_table(DEFAULT_KEYMAP)
        );
        assert_eq!(check_readme(&good, DEFAULT_KEYMAP), Ok(true));
        let stale = good.replace("| quit |", "| leave |");
        assert!(check_readme(&stale, DEFAULT_KEYMAP).is_err());
        assert_eq!(check_readme("# no table", DEFAULT_KEYMAP), Ok(false));
    }

    /// The README's key table must be the keymap's. Until the table is pasted into the
    /// README (between the markers) this only says so.
    #[test]
    fn readme_key_table_matches_the_keymap() {
        let path = std::env::var("RETRACE_README")
            .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/README.md").into());
        let readme = std::fs::read_to_string(path).unwrap_or_default();
        match check_readme(&readme, DEFAULT_KEYMAP) {
            Ok(true) => {}
            Ok(false) => eprintln!(
                "README.md has no key table between <!-- keys:start --> and <!-- keys:end -->"
            ),
            Err(e) => panic!("{e}"),
        }
    }
}
