//! A run's decision tree, the model every view draws (`retrace show --tree`, the
//! browser's tree pane): a forest built from the steps' `parent` links where every step
//! appears exactly once. A link to an unknown id makes a root (marked `? parent X not
//! found`), and a parent cycle is broken at one step (marked `↻ cycle`), so nothing
//! loops. Also carries what the views show from the full records: each decision's
//! choice and reason, and the trigger. Flattening into visible rows (with folds) and the
//! plain-text rendering live here too. No terminal code.

use std::io::{self, Write};

use rustc_hash::FxHashMap;

use crate::describe::{step_summary, trigger_line};
use crate::index::{RunRef, SharedHistory};
use crate::model::{Step, StepKind};
use crate::sanitize;
use crate::work::Cancel;

pub const NONE: u32 = u32::MAX;

/// Steps read per hold of the history lock.
const CHUNK: usize = 512;

/// A step id: numbers are kept as numbers (most ids are step numbers).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Id {
    Num(u32),
    Str(Box<str>),
}

impl Id {
    pub fn parse(s: &str) -> Id {
        let canonical = !s.is_empty() && (s == "0" || !s.starts_with('0'));
        match s.parse::<u32>() {
            Ok(n) if canonical && s.bytes().all(|b| b.is_ascii_digit()) => Id::Num(n),
            _ => Id::Str(s.into()),
        }
    }

    pub fn text(&self) -> String {
        match self {
            Id::Num(n) => n.to_string(),
            Id::Str(s) => s.to_string(),
        }
    }
}

/// What the tree keeps of one step.
#[derive(Debug, Clone)]
pub struct StepLink {
    pub id: Id,
    pub parent: Option<Id>,
    /// For decisions: `→ chosen: reason`.
    pub decision: Option<String>,
}

impl StepLink {
    pub fn of(step: &Step) -> StepLink {
        StepLink {
            id: Id::parse(&step.id),
            parent: step.parent.as_deref().map(Id::parse),
            decision: (step.kind == StepKind::Decision).then(|| step_summary(step, 400)),
        }
    }
}

/// How a step hangs in the tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Link {
    /// No parent given.
    Root,
    Child,
    /// Its parent id names no step of the run: shown as a root.
    UnknownParent,
    /// Its parent link closes a cycle: the link is dropped and the step shown as a root.
    CycleBroken,
}

/// The decision tree of one run.
#[derive(Debug, Clone, Default)]
pub struct RunStructure {
    pub run: usize,
    /// Steps covered (the run's step count when the job started).
    pub steps: usize,
    /// True once every step was read (partial results arrive while a big run loads).
    pub complete: bool,
    parent: Vec<u32>,
    link: Vec<Link>,
    child_start: Vec<u32>,
    child_list: Vec<u32>,
    roots: Vec<u32>,
    /// The id a step names as parent, when it is unknown.
    missing: FxHashMap<u32, String>,
    /// The parent a step names, when that link was dropped to break a cycle.
    cycle_parent: FxHashMap<u32, u32>,
    decisions: FxHashMap<u32, String>,
    /// The run's trigger: the `input` of its `run_start`, on one line.
    pub trigger: Option<String>,
}

impl RunStructure {
    /// Builds the forest from the links of steps `0..links.len()`.
    pub fn build(run: usize, links: &[StepLink], trigger: Option<String>) -> RunStructure {
        let n = links.len();
        // Ids that are not simply the step's own position.
        let mut by_id: FxHashMap<&Id, u32> = FxHashMap::default();
        for (i, l) in links.iter().enumerate() {
            if l.id != Id::Num(i as u32) {
                by_id.entry(&l.id).or_insert(i as u32);
            }
        }
        let resolve = |id: &Id| -> Option<u32> {
            if let Some(&p) = by_id.get(id) {
                return Some(p);
            }
            match id {
                Id::Num(p) if (*p as usize) < n && links[*p as usize].id == Id::Num(*p) => Some(*p),
                _ => None,
            }
        };
        let mut parent = vec![NONE; n];
        let mut link = vec![Link::Root; n];
        let mut missing = FxHashMap::default();
        let mut decisions = FxHashMap::default();
        for (i, l) in links.iter().enumerate() {
            if let Some(d) = &l.decision {
                decisions.insert(i as u32, d.clone());
            }
            let Some(pid) = &l.parent else { continue };
            match resolve(pid) {
                Some(p) => {
                    parent[i] = p;
                    link[i] = Link::Child;
                }
                None => {
                    link[i] = Link::UnknownParent;
                    missing.insert(i as u32, pid.text());
                }
            }
        }
        // Break cycles: a step not reachable from a root sits on or below a cycle. Walk
        // up from it to the first step seen twice (on the cycle) and cut that step's link.
        let mut state = vec![0u8; n]; // 0 unknown, 1 reaches a root, 2 on the current walk
        let mut cycle_parent = FxHashMap::default();
        let mut path = Vec::new();
        for start in 0..n {
            path.clear();
            let mut at = start as u32;
            loop {
                let s = state[at as usize];
                if s == 1 {
                    break;
                }
                if s == 2 {
                    // `at` is on a cycle: cut its link.
                    cycle_parent.insert(at, parent[at as usize]);
                    parent[at as usize] = NONE;
                    link[at as usize] = Link::CycleBroken;
                    break;
                }
                state[at as usize] = 2;
                path.push(at);
                let p = parent[at as usize];
                if p == NONE {
                    break;
                }
                at = p;
            }
            for &p in &path {
                state[p as usize] = 1;
            }
        }
        // Children lists (in step order), compressed.
        let mut counts = vec![0u32; n + 1];
        for &p in &parent {
            if p != NONE {
                counts[p as usize + 1] += 1;
            }
        }
        for i in 0..n {
            counts[i + 1] += counts[i];
        }
        let child_start = counts.clone();
        let mut fill = counts;
        let mut child_list = vec![0u32; child_start[n] as usize];
        for (i, &p) in parent.iter().enumerate() {
            if p != NONE {
                child_list[fill[p as usize] as usize] = i as u32;
                fill[p as usize] += 1;
            }
        }
        let roots = (0..n as u32)
            .filter(|&i| parent[i as usize] == NONE)
            .collect();
        RunStructure {
            run,
            steps: n,
            complete: true,
            parent,
            link,
            child_start,
            child_list,
            roots,
            missing,
            cycle_parent,
            decisions,
            trigger,
        }
    }

    pub fn len(&self) -> usize {
        self.parent.len()
    }

    pub fn is_empty(&self) -> bool {
        self.parent.is_empty()
    }

    pub fn roots(&self) -> &[u32] {
        &self.roots
    }

    pub fn children(&self, step: u32) -> &[u32] {
        let i = step as usize;
        if i >= self.parent.len() {
            return &[];
        }
        &self.child_list[self.child_start[i] as usize..self.child_start[i + 1] as usize]
    }

    /// The step's parent in the tree (after unknown links and cycles were cut).
    pub fn parent(&self, step: u32) -> Option<u32> {
        self.parent
            .get(step as usize)
            .copied()
            .filter(|&p| p != NONE)
    }

    pub fn link(&self, step: u32) -> Link {
        self.link.get(step as usize).copied().unwrap_or(Link::Root)
    }

    /// The unknown parent id a step names.
    pub fn missing_parent(&self, step: u32) -> Option<&str> {
        self.missing.get(&step).map(String::as_str)
    }

    /// The parent whose link was cut to break a cycle.
    pub fn cycle_parent(&self, step: u32) -> Option<u32> {
        self.cycle_parent.get(&step).copied()
    }

    pub fn decision(&self, step: u32) -> Option<&str> {
        self.decisions.get(&step).map(String::as_str)
    }
}

/// Reads run `run`'s steps (in chunks: what to read is taken under a short hold of the
/// history's lock, the reading done outside it) and builds its tree. `partial` receives
/// intermediate trees of big runs (about four a second).
pub fn load(
    shared: &SharedHistory,
    run: usize,
    cancel: &Cancel,
    mut partial: impl FnMut(RunStructure),
) -> Result<RunStructure, String> {
    let total = {
        let h = shared.read_politely();
        if run >= h.run_count() {
            return Err("the run is gone".into());
        }
        h.run(run).step_count()
    };
    let mut links = Vec::with_capacity(total);
    let mut trigger = None;
    let mut last = std::time::Instant::now();
    let mut at = 0;
    while at < total {
        if cancel.is_cancelled() {
            return Err("cancelled".into());
        }
        let end = (at + CHUNK).min(total);
        let plan = shared.read_politely().run(run).plan(at..end);
        // Ids and parents only; the few steps whose record the tree shows (the trigger,
        // decisions) are read whole.
        let mut steps = plan.read(false).map_err(|e| e.to_string())?;
        let full: Vec<usize> = steps
            .iter()
            .filter(|s| shows_record(s.kind))
            .map(|s| s.step as usize)
            .collect();
        for i in full {
            let plan = shared.read_politely().run(run).plan(i..i + 1);
            if let Some(step) = plan.read(true).map_err(|e| e.to_string())?.pop() {
                steps[i - at] = step;
            }
        }
        if trigger.is_none() {
            trigger = trigger_line(&steps, 400);
        }
        links.extend(steps.iter().map(StepLink::of));
        at = end;
        if at < total && last.elapsed().as_millis() > 250 {
            last = std::time::Instant::now();
            let mut tree = RunStructure::build(run, &links, trigger.clone());
            tree.complete = false;
            partial(tree);
        }
    }
    Ok(RunStructure::build(run, &links, trigger))
}

/// Steps whose full record the tree shows.
fn shows_record(kind: StepKind) -> bool {
    matches!(kind, StepKind::RunStart | StepKind::Decision)
}

impl RunStructure {
    /// The tree of a run whose steps are already read in full (in run order).
    pub fn of_steps(run: usize, steps: &[Step]) -> RunStructure {
        let links: Vec<StepLink> = steps.iter().map(StepLink::of).collect();
        RunStructure::build(run, &links, trigger_line(steps, 400))
    }

    /// What a step's place in the tree needs said: an unknown parent or a cut cycle
    /// (display-safe).
    pub fn link_note(&self, step: u32) -> Option<String> {
        match self.link(step) {
            Link::UnknownParent => Some(format!(
                "? parent {} not found",
                sanitize::line(self.missing_parent(step).unwrap_or(""))
            )),
            Link::CycleBroken => Some(format!(
                "↻ cycle: parent #{} cut",
                self.cycle_parent(step).unwrap_or(NONE)
            )),
            Link::Root | Link::Child => None,
        }
    }
}

/// One visible row of the tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Row {
    pub step: u32,
    pub depth: u16,
    /// Bit `l`: draw a `│` at level `l` (a branch above is still open).
    pub guides: u64,
    /// This row opens a branch: `├─` (false) or `└─` (true, the last one).
    pub branch: Option<bool>,
    pub children: u32,
}

/// The visible rows of `s` (a step that is its parent's only child stays at its
/// parent's depth, so a chain reads as a list; branches indent), skipping what is below
/// a `folded` step; and the row of each step (`NONE` while hidden). Iterative: chains
/// can be a million steps deep.
pub fn flatten(s: &RunStructure, folded: impl Fn(u32) -> bool) -> (Vec<Row>, Vec<u32>) {
    let mut rows = Vec::with_capacity(s.len());
    let mut row_of = vec![NONE; s.len()];
    let mut stack: Vec<Row> = s
        .roots()
        .iter()
        .rev()
        .map(|&r| Row {
            step: r,
            depth: 0,
            guides: 0,
            branch: None,
            children: 0,
        })
        .collect();
    while let Some(mut row) = stack.pop() {
        let kids = s.children(row.step);
        row.children = kids.len() as u32;
        row_of[row.step as usize] = rows.len() as u32;
        rows.push(row);
        if kids.is_empty() || folded(row.step) {
            continue;
        }
        if kids.len() == 1 {
            stack.push(Row {
                step: kids[0],
                branch: None,
                ..row
            });
            continue;
        }
        let d = row.depth;
        for (k, &kid) in kids.iter().enumerate().rev() {
            let last = k == kids.len() - 1;
            let open = if !last && d < 64 { 1u64 << d } else { 0 };
            stack.push(Row {
                step: kid,
                depth: d.saturating_add(1),
                guides: row.guides | open,
                branch: Some(last),
                children: 0,
            });
        }
    }
    (rows, row_of)
}

/// The indentation of a row, at most `levels` levels deep (deeper rows say their depth
/// and show the innermost levels).
pub fn prefix(row: &Row, levels: u16) -> String {
    let mut out = String::new();
    let from = row.depth.saturating_sub(levels);
    if from > 0 {
        out.push_str(&format!("{}⋯", row.depth));
    }
    for level in from..row.depth {
        let is_last_level = level + 1 == row.depth;
        match row.branch {
            Some(last) if is_last_level => out.push_str(if last { "└─" } else { "├─" }),
            _ if level < 64 && row.guides & (1 << level) != 0 => out.push_str("│ "),
            _ => out.push_str("  "),
        }
    }
    out
}

/// Indentation levels drawn in plain text; deeper rows show their depth instead.
pub const TEXT_LEVELS: u16 = 24;

/// Writes the whole tree (nothing folded) as plain text, one step a line: indentation,
/// kind glyph, `#step`, name, `✗ error`, the decision's choice, and the marks for unknown
/// parents and cut cycles, as the browser's tree pane shows them. Every string from the
/// run is sanitized.
pub fn write_text(run: &RunRef, s: &RunStructure, out: &mut impl Write) -> io::Result<()> {
    let (rows, _) = flatten(s, |_| false);
    for row in &rows {
        if row.step as usize >= run.step_count() {
            break;
        }
        let info = run.step(row.step as usize);
        let mut line = format!(
            "{}{} #{} {}",
            prefix(row, TEXT_LEVELS),
            info.kind.glyph(),
            row.step,
            sanitize::line(info.name.unwrap_or(info.kind.as_str()))
        );
        if info.is_error() {
            line.push_str(" ✗");
            if let Some(code) = info.error {
                line.push(' ');
                line.push_str(&sanitize::line(code));
            }
        }
        if let Some(d) = s.decision(row.step) {
            line.push(' ');
            line.push_str(&sanitize::line(d));
        }
        if let Some(note) = s.link_note(row.step) {
            line.push(' ');
            line.push_str(&note);
        }
        writeln!(out, "{line}")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn links(spec: &[(&str, Option<&str>)]) -> Vec<StepLink> {
        spec.iter()
            .map(|(id, parent)| StepLink {
                id: Id::parse(id),
                parent: parent.map(Id::parse),
                decision: None,
            })
            .collect()
    }

    /// Every step is reached exactly once from the roots.
    fn assert_forest(t: &RunStructure) {
        let mut seen = vec![false; t.len()];
        let mut stack: Vec<u32> = t.roots().to_vec();
        while let Some(s) = stack.pop() {
            assert!(!seen[s as usize], "step {s} reached twice");
            seen[s as usize] = true;
            stack.extend_from_slice(t.children(s));
        }
        assert!(seen.iter().all(|&s| s), "unreached steps: {seen:?}");
    }

    #[test]
    fn a_chain_and_a_branch() {
        let t = RunStructure::build(
            0,
            &links(&[
                ("0", None),
                ("1", Some("0")),
                ("2", Some("1")),
                ("3", Some("1")),
            ]),
            None,
        );
        assert_eq!(t.roots(), &[0]);
        assert_eq!(t.children(1), &[2, 3]);
        assert_eq!(t.parent(3), Some(1));
        assert_forest(&t);
    }

    #[test]
    fn string_ids_and_unknown_parents() {
        let t = RunStructure::build(
            0,
            &links(&[
                ("a", None),
                ("b", Some("a")),
                ("c", Some("zz")),
                ("007", Some("b")),
            ]),
            None,
        );
        assert_eq!(t.roots(), &[0, 2]);
        assert_eq!(t.link(2), Link::UnknownParent);
        assert_eq!(t.missing_parent(2), Some("zz"));
        assert_eq!(t.parent(3), Some(1));
        assert_forest(&t);
    }

    #[test]
    fn parent_cycles_are_cut_and_shown_as_roots() {
        // 1 → 2 → 3 → 1, and 4 hangs below the cycle; 5 is its own parent.
        let t = RunStructure::build(
            0,
            &links(&[
                ("0", None),
                ("1", Some("3")),
                ("2", Some("1")),
                ("3", Some("2")),
                ("4", Some("2")),
                ("5", Some("5")),
            ]),
            None,
        );
        assert_forest(&t);
        let cut: Vec<u32> = (0..6).filter(|&s| t.link(s) == Link::CycleBroken).collect();
        assert_eq!(cut.len(), 2, "one cut per cycle");
        assert!(cut.contains(&5));
        assert_eq!(t.cycle_parent(5), Some(5));
        assert_eq!(t.roots().len(), 3);
    }

    #[test]
    fn a_long_chain_builds_without_recursion() {
        let n = 200_000;
        let l: Vec<StepLink> = (0..n)
            .map(|i| StepLink {
                id: Id::Num(i),
                parent: i.checked_sub(1).map(Id::Num),
                decision: None,
            })
            .collect();
        let t = RunStructure::build(0, &l, None);
        assert_eq!(t.roots(), &[0]);
        assert_eq!(t.children(n - 2), &[n - 1]);
    }

    #[test]
    fn duplicate_ids_resolve_to_the_first() {
        let t = RunStructure::build(
            0,
            &links(&[("x", None), ("x", None), ("y", Some("x"))]),
            None,
        );
        assert_eq!(t.parent(2), Some(0));
        assert_forest(&t);
    }

    #[test]
    fn ids_parse_as_numbers_only_when_canonical() {
        assert_eq!(Id::parse("12"), Id::Num(12));
        assert_eq!(Id::parse("0"), Id::Num(0));
        assert_eq!(Id::parse("012"), Id::Str("012".into()));
        assert_eq!(Id::parse("+1"), Id::Str("+1".into()));
        assert_eq!(Id::parse(""), Id::Str("".into()));
    }

    fn flat(parents: &[Option<u32>]) -> Vec<String> {
        let l: Vec<StepLink> = parents
            .iter()
            .enumerate()
            .map(|(i, p)| StepLink {
                id: Id::Num(i as u32),
                parent: p.map(Id::Num),
                decision: None,
            })
            .collect();
        let t = RunStructure::build(0, &l, None);
        let (rows, _) = flatten(&t, |_| false);
        rows.iter()
            .map(|r| format!("{}{}", prefix(r, TEXT_LEVELS), r.step))
            .collect()
    }

    #[test]
    fn chains_stay_flat_and_branches_indent() {
        // 0 → 1 → {2 → 3, 4}
        assert_eq!(
            flat(&[None, Some(0), Some(1), Some(2), Some(1)]),
            ["0", "1", "├─2", "│ 3", "└─4"]
        );
    }
}
