//! Parallel groups of one run: the tool calls one model call proposed, their results and
//! the steps of branches running under those calls (sub-agents, sidechains), which land in
//! the log in whatever order they finish. Found from the run's own links — `parent` ids,
//! which call each result answers, calls still in flight when another starts, how many
//! calls the model proposed — never from tool or sample names.
//!
//! A group is a contiguous stretch of the run. It is split into branches: one per call
//! (the call, its result, the steps hanging under it) and one per concurrent branch whose
//! steps root elsewhere; a branch keeps its own order, branches do not.

use rustc_hash::{FxHashMap, FxHashSet};

use super::align::{align, Sig};
use super::signature::Analysis;
use crate::model::StepKind;

/// How far up `parent` links are followed to find a step's branch.
const MAX_HOPS: usize = 64;

/// A stretch of one run that may be compared as a parallel group.
#[derive(Debug, Clone)]
pub(crate) struct Group {
    /// The model call that proposed the calls, when there is one.
    pub head: Option<usize>,
    /// First and one-past-last position of the stretch.
    pub start: usize,
    pub end: usize,
    /// Members split into branches, each in log order; branches ordered by first member.
    pub branches: Vec<Vec<usize>>,
    /// The run shows these steps happened at once (calls in flight together, several
    /// calls linked to one model call, or a model call proposing several), rather than one
    /// after another.
    pub parallel: bool,
}

/// What a step of a stretch hangs under.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
enum Branch {
    /// The call at this position (itself, its result, its descendants).
    Call(usize),
    /// A concurrent branch whose parent chain ends at this unknown id's position in the
    /// list of roots seen.
    Root(u64),
    /// A step of its own.
    Alone(usize),
}

/// The groups of a run, in run order.
pub(crate) fn groups(an: &Analysis) -> Vec<Group> {
    let steps = an.steps;
    let by_id: FxHashMap<&str, usize> = steps
        .iter()
        .enumerate()
        .map(|(p, s)| (s.id.as_str(), p))
        .collect();
    let parent_of = |p: usize| -> Option<usize> {
        steps[p]
            .parent
            .as_deref()
            .and_then(|id| by_id.get(id).copied())
            .filter(|&q| q != p)
    };
    // The unknown id each step's parent chain ends at (a sidechain's agent node), if any:
    // one pass, reusing the roots of parents logged earlier (chains can be as long as the
    // run); parents logged later are followed a bounded way.
    let mut roots_of: Vec<Option<&str>> = Vec::with_capacity(steps.len());
    for p in 0..steps.len() {
        let mut at = p;
        let mut root = None;
        for _ in 0..MAX_HOPS {
            let Some(id) = steps[at].parent.as_deref() else {
                break;
            };
            match by_id.get(id) {
                Some(&q) if q < p => {
                    root = roots_of[q];
                    break;
                }
                Some(&q) if q != at => at = q,
                Some(_) => break,
                None => {
                    root = Some(id);
                    break;
                }
            }
        }
        roots_of.push(root);
    }
    let foreign_root = |p: usize| roots_of[p];

    // Calls some result answers; the others (a span holding its own result) run for
    // their duration.
    let mut answered = vec![false; steps.len()];
    for c in an.call_of.iter().flatten() {
        answered[*c as usize] = true;
    }
    let end_of = |p: usize| {
        let s = &steps[p];
        s.ts.map(|t| t as f64 + s.duration_ms.unwrap_or(0.0))
    };
    let mut out = Vec::new();
    let mut head: Option<usize> = None;
    let mut pos = 0;
    while pos < steps.len() {
        let step = &steps[pos];
        match step.kind {
            StepKind::LlmCall => {
                head = Some(pos);
                pos += 1;
                continue;
            }
            StepKind::ToolCall => {}
            _ => {
                if !matches!(step.kind, StepKind::ToolResult | StepKind::Other) {
                    head = None;
                }
                pos += 1;
                continue;
            }
        }
        // A stretch starts at this call.
        let start = pos;
        let head_root = head.and_then(foreign_root).or_else(|| foreign_root(start));
        let mut branch_of: FxHashMap<usize, Branch> = FxHashMap::default();
        let mut roots: FxHashMap<&str, u64> = FxHashMap::default();
        // Calls of the stretch not answered yet: steps hang under a call only while it runs.
        let mut running: FxHashSet<usize> = FxHashSet::default();
        // The latest end time of the stretch's calls that no result answers.
        let mut spans_end: Option<f64> = None;
        let mut calls = 0usize;
        let mut overlap = false;
        let mut linked_to_head = 0usize;
        let mut at = pos;
        while at < steps.len() {
            let s = &steps[at];
            // The running call (or concurrent branch) this step hangs under, if any.
            let mut branch = None;
            let mut up = parent_of(at);
            for _ in 0..MAX_HOPS {
                let Some(q) = up else { break };
                match branch_of.get(&q) {
                    // Under a call of the stretch: while any call runs, or for steps that
                    // are not a new turn (a hook's progress logged just after a result).
                    Some(&Branch::Call(c)) if !running.is_empty() || s.kind == StepKind::Other => {
                        branch = Some(Branch::Call(c));
                        break;
                    }
                    Some(&b @ Branch::Root(_)) if !running.is_empty() => {
                        branch = Some(b);
                        break;
                    }
                    _ => up = parent_of(q),
                }
            }
            let parent_is_tool = parent_of(at).is_some_and(|q| {
                matches!(steps[q].kind, StepKind::ToolCall | StepKind::ToolResult)
            });
            let belongs = match s.kind {
                StepKind::ToolCall => {
                    // A call whose parent is another call or a result is that call's
                    // sibling (logs that chain each line to the one before), not under it.
                    if parent_is_tool {
                        branch = None;
                    }
                    if branch.is_none() && running.is_empty() && at != start && head.is_none() {
                        false
                    } else {
                        if head.is_some() && parent_of(at) == head {
                            linked_to_head += 1;
                        }
                        if branch.is_none() {
                            overlap |= !running.is_empty();
                            // Self-contained calls overlap when one starts before another
                            // ended.
                            overlap |= s.ts.zip(spans_end).is_some_and(|(t, e)| (t as f64) < e);
                            calls += 1;
                            branch = Some(Branch::Call(at));
                        }
                        if answered[at] {
                            running.insert(at);
                        } else if let Some(e) = end_of(at) {
                            spans_end = Some(spans_end.map_or(e, |x| x.max(e)));
                        }
                        true
                    }
                }
                StepKind::ToolResult => {
                    let call = an.call_of[at].map(|c| c as usize);
                    match call.filter(|c| running.contains(c)) {
                        Some(c) => {
                            running.remove(&c);
                            branch = branch_of.get(&c).copied();
                            true
                        }
                        None => branch.is_some() || !running.is_empty(),
                    }
                }
                _ => {
                    if branch.is_none() && !running.is_empty() {
                        // A concurrent branch rooted elsewhere (a sidechain).
                        if let Some(root) = foreign_root(at).filter(|r| Some(*r) != head_root) {
                            let n = roots.len() as u64;
                            branch = Some(Branch::Root(*roots.entry(root).or_insert(n)));
                        }
                    }
                    branch.is_some()
                }
            };
            if !belongs {
                break;
            }
            branch_of.insert(at, branch.unwrap_or(Branch::Alone(at)));
            at += 1;
        }
        let end = at.max(start + 1);
        let mut order: Vec<Branch> = Vec::new();
        let mut members: FxHashMap<Branch, Vec<usize>> = FxHashMap::default();
        for p in start..end {
            let b = branch_of.get(&p).copied().unwrap_or(Branch::Alone(p));
            let list = members.entry(b).or_default();
            if list.is_empty() {
                order.push(b);
            }
            list.push(p);
        }
        let branches: Vec<Vec<usize>> = order
            .iter()
            .filter_map(|b| {
                let mut list = members.remove(b)?;
                // A call's result ends its branch, however its hooks' and sub-steps' lines
                // raced it into the log.
                if let Branch::Call(c) = b {
                    if let Some(k) = list.iter().position(|&p| {
                        steps[p].kind == StepKind::ToolResult && an.call_of[p] == Some(*c as u32)
                    }) {
                        let result = list.remove(k);
                        list.push(result);
                    }
                }
                Some(list)
            })
            .collect();
        let proposed = head.map_or(0, |h| an.proposals[h].len());
        let parallel =
            (calls >= 2 && (overlap || linked_to_head >= 2 || proposed >= 2)) || roots.len() >= 2;
        out.push(Group {
            head,
            start,
            end,
            branches,
            parallel,
        });
        pos = end;
    }
    out
}

/// Steps of a class no step kind uses: group symbols pair only with group symbols.
const GROUP_CLASS: u8 = 0xF0;

/// Where a group sits in a comparison: the rows its members occupy and which steps of
/// each side it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupRows {
    /// Rows of [`super::Comparison::rows`] holding the group's members (contiguous).
    pub rows: std::ops::Range<usize>,
    /// The model call that proposed the calls, on each side (index into the step slices
    /// given to [`super::compare`]); `None` when that side has no such group or no model
    /// call before it.
    pub a_head: Option<usize>,
    pub b_head: Option<usize>,
    /// The group's members on each side, in log order (indices into the step slices).
    pub a_members: Vec<usize>,
    pub b_members: Vec<usize>,
    /// Either side shows its steps happened at once (not one call after another).
    pub parallel: bool,
}

/// One aligned row, with the group it belongs to (an index into the groups list).
pub(crate) type GroupedPair = (Option<usize>, Option<usize>, Option<usize>);

enum Sym {
    Step(usize),
    Group(usize),
}

fn order_free_hash(mut keys: Vec<u64>) -> u64 {
    use std::hash::{Hash, Hasher};
    keys.sort_unstable();
    let mut h = rustc_hash::FxHasher::default();
    keys.hash(&mut h);
    h.finish()
}

/// The run as the aligner sees it when groups are compared as groups: one symbol per
/// group (its members' signatures taken in any order), one per other step.
fn symbols(an: &Analysis, groups: &[Group]) -> (Vec<Sym>, Vec<Sig>) {
    let mut syms = Vec::with_capacity(an.sigs.len());
    let mut sigs = Vec::with_capacity(an.sigs.len());
    let mut next = groups.iter().enumerate().peekable();
    let mut pos = 0;
    while pos < an.sigs.len() {
        if let Some(&(g, group)) = next.peek() {
            if group.start == pos {
                next.next();
                let members = group.branches.iter().flatten().map(|&p| an.sigs[p]);
                let (coarse, fine): (Vec<u64>, Vec<u64>) =
                    members.clone().map(|s| (s.coarse, s.fine)).unzip();
                sigs.push(Sig {
                    class: GROUP_CLASS,
                    coarse: order_free_hash(coarse),
                    fine: order_free_hash(fine),
                    weak: members.clone().any(|s| s.weak),
                });
                syms.push(Sym::Group(g));
                pos = group.end;
                continue;
            }
        }
        sigs.push(an.sigs[pos]);
        syms.push(Sym::Step(pos));
        pos += 1;
    }
    (syms, sigs)
}

/// Aligns two runs group by group: each group of one run is paired with a group of the
/// other (or with gaps) as a whole, then its members are matched by what they are, not
/// by where they were logged. Only stretches with a model call before them or with
/// parallel steps are treated as groups; other steps align one by one as usual.
pub(crate) fn align_grouped(
    a: &Analysis,
    b: &Analysis,
    ga: Vec<Group>,
    gb: Vec<Group>,
) -> (Vec<GroupedPair>, Vec<GroupRows>) {
    let keep = |g: &Group| g.head.is_some() || g.parallel;
    let ga: Vec<Group> = ga.into_iter().filter(keep).collect();
    let gb: Vec<Group> = gb.into_iter().filter(keep).collect();
    let (sa, siga) = symbols(a, &ga);
    let (sb, sigb) = symbols(b, &gb);
    let mut rows: Vec<GroupedPair> = Vec::with_capacity(a.sigs.len().max(b.sigs.len()) + 8);
    let mut spans = Vec::new();
    for (x, y) in align(&siga, &sigb) {
        let gx = x.and_then(|x| match sa[x] {
            Sym::Group(g) => Some(&ga[g]),
            Sym::Step(_) => None,
        });
        let gy = y.and_then(|y| match sb[y] {
            Sym::Group(g) => Some(&gb[g]),
            Sym::Step(_) => None,
        });
        if gx.is_none() && gy.is_none() {
            let step = |s: Option<usize>, syms: &[Sym]| {
                s.and_then(|s| match syms[s] {
                    Sym::Step(p) => Some(p),
                    Sym::Group(_) => None,
                })
            };
            rows.push((step(x, &sa), step(y, &sb), None));
            continue;
        }
        let id = spans.len();
        let first = rows.len();
        match (gx, gy) {
            (Some(g), Some(h)) => match_members(a, b, g, h, id, &mut rows),
            (Some(g), None) => rows.extend(
                g.branches
                    .iter()
                    .flatten()
                    .map(|&p| (Some(p), None, Some(id))),
            ),
            (None, Some(h)) => rows.extend(
                h.branches
                    .iter()
                    .flatten()
                    .map(|&p| (None, Some(p), Some(id))),
            ),
            (None, None) => {}
        }
        let members = |g: Option<&Group>| g.map_or_else(Vec::new, |g| (g.start..g.end).collect());
        spans.push(GroupRows {
            rows: first..rows.len(),
            a_head: gx.and_then(|g| g.head),
            b_head: gy.and_then(|g| g.head),
            a_members: members(gx),
            b_members: members(gy),
            parallel: gx.is_some_and(|g| g.parallel) || gy.is_some_and(|g| g.parallel),
        });
    }
    (rows, spans)
}

/// Matches the branches of two paired groups — the same branch first, then the same call
/// with another outcome, then the same tool with other arguments, then any branch of the
/// same kind (another tool) — and aligns each matched pair's steps in their own order.
/// Rows follow A's branches in A's order; B's unmatched branches come last.
fn match_members(
    a: &Analysis,
    b: &Analysis,
    g: &Group,
    h: &Group,
    id: usize,
    out: &mut Vec<GroupedPair>,
) {
    let whole = |an: &Analysis, br: &[usize]| {
        use std::hash::{Hash, Hasher};
        let mut hasher = rustc_hash::FxHasher::default();
        for &p in br {
            an.sigs[p].fine.hash(&mut hasher);
        }
        hasher.finish()
    };
    type Key = fn(&Analysis, &[usize]) -> u64;
    let keys: [Key; 4] = [
        |_, _| 0, // replaced by `whole` below
        |an, br| an.sigs[br[0]].fine,
        |an, br| an.sigs[br[0]].coarse,
        |an, br| u64::from(an.sigs[br[0]].class),
    ];
    let mut partner: Vec<Option<usize>> = vec![None; g.branches.len()];
    let mut taken = vec![false; h.branches.len()];
    for (stage, key) in keys.iter().enumerate() {
        let key_of = |an: &Analysis, br: &[usize]| {
            if stage == 0 {
                whole(an, br)
            } else {
                key(an, br)
            }
        };
        let mut free: FxHashMap<u64, std::collections::VecDeque<usize>> = FxHashMap::default();
        for (k, br) in h.branches.iter().enumerate().filter(|(k, _)| !taken[*k]) {
            free.entry(key_of(b, br)).or_default().push_back(k);
        }
        for (k, br) in g.branches.iter().enumerate() {
            if partner[k].is_some() {
                continue;
            }
            if let Some(m) = free.get_mut(&key_of(a, br)).and_then(|q| q.pop_front()) {
                partner[k] = Some(m);
                taken[m] = true;
            }
        }
    }
    for (k, br) in g.branches.iter().enumerate() {
        match partner[k] {
            Some(m) => {
                let other = &h.branches[m];
                let sx: Vec<Sig> = br.iter().map(|&p| a.sigs[p]).collect();
                let sy: Vec<Sig> = other.iter().map(|&p| b.sigs[p]).collect();
                out.extend(
                    align(&sx, &sy)
                        .into_iter()
                        .map(|(x, y)| (x.map(|x| br[x]), y.map(|y| other[y]), Some(id))),
                );
            }
            None => out.extend(br.iter().map(|&p| (Some(p), None, Some(id)))),
        }
    }
    for (m, br) in h.branches.iter().enumerate() {
        if !taken[m] {
            out.extend(br.iter().map(|&p| (None, Some(p), Some(id))));
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use crate::diverge::{compare, Kind};
    use crate::model::{Status, Step, StepKind};

    /// Steps from `(id, parent, kind, name, status)`, in that order.
    fn run(spec: &[(&str, &str, &str, &str, &str)]) -> Vec<Step> {
        spec.iter()
            .enumerate()
            .map(|(pos, &(id, parent, kind, name, status))| Step {
                step: pos as u32,
                id: id.to_string(),
                parent: (!parent.is_empty()).then(|| parent.to_string()),
                kind: StepKind::parse(kind),
                kind_name: kind.to_string(),
                name: Some(name.to_string()),
                status: if status == "error" {
                    Status::Error
                } else {
                    Status::Ok
                },
                error: None,
                ts: None,
                duration_ms: None,
                record: record(kind, name, id),
            })
            .collect()
    }

    fn record(kind: &str, name: &str, id: &str) -> Value {
        // Each step's data names the branch it belongs to (the id's first letter), so
        // steps of different branches are different behaviour.
        let branch = &id[..1];
        match kind {
            "tool_call" => json!({"input": {"q": format!("{name} {branch}")}}),
            "tool_result" => json!({"output": {"rows": [branch]}}),
            "llm_call" => json!({"output": {"text": format!("working on {branch}")}}),
            _ => json!({}),
        }
    }

    /// Two sub-agents started by one model call, each calling a tool; `order` gives the
    /// log order of their steps (by id); `failing` is a result that fails.
    fn subagents(order: &[&str], failing: &str) -> Vec<Step> {
        let all = [
            ("p1", "h", "tool_call", "task", ""),
            ("q1", "h", "tool_call", "task", ""),
            ("p2", "p1", "llm_call", "sub", ""),
            ("q2", "q1", "llm_call", "sub", ""),
            ("p3", "p2", "tool_call", "search", ""),
            ("q3", "q2", "tool_call", "search", ""),
            ("p4", "p3", "tool_result", "search", ""),
            ("q4", "q3", "tool_result", "search", ""),
            ("p5", "p1", "tool_result", "task", ""),
            ("q5", "q1", "tool_result", "task", ""),
        ];
        let mut spec = vec![
            ("s", "", "run_start", "run", ""),
            ("h", "s", "llm_call", "planner", ""),
        ];
        for id in order {
            let mut x = *all.iter().find(|x| x.0 == *id).unwrap();
            if x.0 == failing {
                x.4 = "error";
            }
            spec.push(x);
        }
        spec.push(("z", "h", "run_end", "end", ""));
        run(&spec)
    }

    const IN_TURN: [&str; 10] = ["p1", "q1", "p2", "p3", "p4", "p5", "q2", "q3", "q4", "q5"];
    const INTERLEAVED: [&str; 10] = ["q1", "p1", "q2", "p2", "q3", "p3", "p4", "q4", "q5", "p5"];

    #[test]
    fn interleaved_subagents_are_the_same_behaviour_as_subagents_in_turn() {
        let a = subagents(&IN_TURN, "");
        let b = subagents(&INTERLEAVED, "");
        let cmp = compare(&a, &b);
        assert!(cmp.divergence.is_none(), "{:?}", cmp.divergence);
        assert_eq!(cmp.groups.len(), 1);
        // Each sub-agent's steps are matched with the same sub-agent's on the other side.
        for r in &cmp.rows {
            if let (Some(i), Some(j)) = (r.a, r.b) {
                assert_eq!(a[i].id, b[j].id);
            }
        }
    }

    #[test]
    fn a_failing_step_inside_one_subagent_is_the_divergence() {
        let a = subagents(&IN_TURN, "q4");
        let b = subagents(&INTERLEAVED, "");
        let d = compare(&a, &b).divergence.expect("a divergence");
        assert_eq!(d.kind, Kind::ErrorVsSuccess, "{}", d.summary);
        let at = |steps: &[Step], id: &str| steps.iter().find(|s| s.id == id).map(|s| s.step);
        assert_eq!((d.a_step, d.b_step), (at(&a, "q4"), at(&b, "q4")));
    }

    #[test]
    fn sidechains_rooted_elsewhere_interleave_freely() {
        // Claude Code sidechains hang under an agent node that is not a step.
        let side = |order: &[usize]| {
            let steps = [
                ("a1", "agent-1", "llm_call", "sub", ""),
                ("b1", "agent-2", "llm_call", "sub", ""),
                ("a2", "a1", "tool_call", "grep", ""),
                ("b2", "b1", "tool_call", "grep", ""),
                ("a3", "a2", "tool_result", "grep", ""),
                ("b3", "b2", "tool_result", "grep", ""),
            ];
            let mut spec = vec![
                ("s", "", "run_start", "run", ""),
                ("h", "s", "llm_call", "planner", ""),
                ("t", "h", "tool_call", "task", ""),
            ];
            spec.extend(order.iter().map(|&k| steps[k]));
            spec.push(("r", "t", "tool_result", "task", ""));
            run(&spec)
        };
        let a = side(&[0, 2, 4, 1, 3, 5]);
        let b = side(&[1, 0, 3, 2, 5, 4]);
        let cmp = compare(&a, &b);
        assert!(cmp.divergence.is_none(), "{:?}", cmp.divergence);
        assert_eq!(cmp.groups.len(), 1);
    }

    #[test]
    fn calls_without_result_steps_are_parallel_when_their_spans_overlap() {
        // OpenTelemetry tool spans hold their own result: timing tells what ran at once.
        // Start times of `lookup` and `get_price`; steps in start-time order.
        let spans = |starts: [i64; 2]| {
            let mut steps = run(&[
                ("s", "", "run_start", "run", ""),
                ("h", "s", "llm_call", "chat", ""),
                ("a1", "s", "tool_call", "lookup", ""),
                ("b1", "s", "tool_call", "get_price", ""),
            ]);
            for (k, &t) in starts.iter().enumerate() {
                steps[2 + k].ts = Some(t);
                steps[2 + k].duration_ms = Some(100.0);
            }
            steps[2..].sort_by_key(|s| s.ts);
            for (pos, s) in steps.iter_mut().enumerate() {
                s.step = pos as u32;
            }
            steps
        };
        let (a, b) = (spans([1000, 1050]), spans([1050, 1000]));
        let cmp = compare(&a, &b);
        assert_eq!(cmp.groups.len(), 1);
        assert!(cmp.divergence.is_none(), "{:?}", cmp.divergence);
        // One after the other: compared step by step, so the order is behaviour.
        let (a, b) = (spans([1000, 1200]), spans([1200, 1000]));
        let cmp = compare(&a, &b);
        assert!(cmp.groups.is_empty());
        assert!(cmp.divergence.is_some());
    }

    #[test]
    fn sequential_runs_are_not_grouped() {
        let a = run(&[
            ("s", "", "run_start", "run", ""),
            ("h", "s", "llm_call", "planner", ""),
            ("c", "h", "tool_call", "search", ""),
            ("r", "c", "tool_result", "search", ""),
            ("h2", "r", "llm_call", "planner", ""),
            ("c2", "h2", "tool_call", "fetch", ""),
            ("r2", "c2", "tool_result", "fetch", ""),
        ]);
        assert!(compare(&a, &a).groups.is_empty());
    }
}
