//! `retrace notes`: the headless twin of the browser's notes. Shows the notes on a run,
//! or changes them (root cause, bookmarks, step notes, category, narrative, action
//! items) and saves them atomically in the library, never in the log folders.

use std::io::{self, Write};
use std::path::PathBuf;

use super::{CliError, Common};
use crate::postmortem::notes::{check_action, parse_action, Library, Notes};
use crate::postmortem::Category;
use crate::sanitize;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The run: its exact id (a prefix is resolved when PATHs are given).
    pub run: String,
    /// Files or folders of runs, to resolve a prefix and check steps exist (optional).
    pub paths: Vec<PathBuf>,
    /// The library folder (default: $RETRACE_LIBRARY, else $XDG_DATA_HOME/retrace, else
    /// ~/.local/share/retrace).
    #[arg(long, value_name = "DIR")]
    pub library: Option<PathBuf>,
    /// Mark this step as the root cause.
    #[arg(long, value_name = "STEP")]
    pub root_cause: Option<u32>,
    /// Clear the root-cause mark.
    #[arg(long)]
    pub clear_root_cause: bool,
    /// Bookmark a step (again to remove the bookmark). Repeatable.
    #[arg(long, value_name = "STEP")]
    pub bookmark: Vec<u32>,
    /// Attach a note to a step (an empty TEXT removes it). Repeatable.
    #[arg(long, num_args = 2, value_names = ["STEP", "TEXT"])]
    pub note: Vec<String>,
    /// Set the category, overriding the classifier: tool_failure, prompt_drift,
    /// state_corruption, environmental_change, edge_case_input; or "auto" to clear it.
    #[arg(long, value_name = "CATEGORY")]
    pub category: Option<String>,
    /// The blameless narrative ("-" reads it from standard input).
    #[arg(long, value_name = "TEXT")]
    pub narrative: Option<String>,
    /// Add an action item: 'TEXT owner=NAME component=tool|prompt|agent|infra
    /// done_when="HOW WE KNOW"'. Vague items are saved and flagged. Repeatable.
    #[arg(long, value_name = "SPEC")]
    pub action: Vec<String>,
    /// Mark action item N (from 1) done.
    #[arg(long, value_name = "N")]
    pub done: Vec<usize>,
    /// Remove action item N (from 1).
    #[arg(long, value_name = "N")]
    pub remove_action: Vec<usize>,
    /// Print the notes as JSON, with the file and each action item's issues.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub common: Common,
}

impl Args {
    fn changes_something(&self) -> bool {
        self.root_cause.is_some()
            || self.clear_root_cause
            || !self.bookmark.is_empty()
            || !self.note.is_empty()
            || self.category.is_some()
            || self.narrative.is_some()
            || !self.action.is_empty()
            || !self.done.is_empty()
            || !self.remove_action.is_empty()
    }
}

pub fn run(args: Args) -> Result<(), CliError> {
    let library = Library::locate(args.library.as_deref())?;
    let mut run_id = args.run.clone();
    let mut step_count = None;
    if !args.paths.is_empty() {
        library.ensure_outside(&args.paths)?;
        let paths = super::Paths {
            paths: args.paths.clone(),
        };
        let history = super::load(&paths, &args.common)?;
        let run = history.find_run(&args.run)?;
        run_id = run.id().to_string();
        step_count = Some(run.step_count());
    }
    let mut notes = library.load_notes(&run_id)?;
    let mut path = library.notes_path(&run_id);
    if args.changes_something() {
        apply(&args, &mut notes, step_count)?;
        path = library.save_notes(&mut notes)?;
    }
    let mut out = io::BufWriter::new(io::stdout().lock());
    print(&notes, &path, args.json, &mut out)?;
    out.flush()?;
    Ok(())
}

fn check_step(step: u32, count: Option<usize>) -> anyhow::Result<u32> {
    match count {
        Some(n) if step as usize >= n => anyhow::bail!(
            "step {step} does not exist: the run has steps 0 to {}",
            n.saturating_sub(1)
        ),
        _ => Ok(step),
    }
}

/// Applies the flags of `args` to `notes`.
fn apply(args: &Args, notes: &mut Notes, count: Option<usize>) -> anyhow::Result<()> {
    if args.clear_root_cause {
        notes.root_cause = None;
    }
    if let Some(s) = args.root_cause {
        notes.root_cause = Some(check_step(s, count)?);
    }
    for &s in &args.bookmark {
        notes.toggle_bookmark(check_step(s, count)?);
    }
    for pair in args.note.chunks(2) {
        let step: u32 = pair[0]
            .parse()
            .map_err(|_| anyhow::anyhow!("--note {:?}: the step must be a number", pair[0]))?;
        notes.set_step_note(
            check_step(step, count)?,
            pair.get(1).map_or("", |s| s.as_str()),
        );
    }
    if let Some(c) = &args.category {
        notes.category = if c == "auto" {
            None
        } else {
            Some(Category::parse(c).ok_or_else(|| {
                anyhow::anyhow!("unknown category {c:?}: tool_failure, prompt_drift, state_corruption, environmental_change, edge_case_input, or auto")
            })?)
        };
    }
    if let Some(n) = &args.narrative {
        let text = if n == "-" {
            let mut s = String::new();
            io::Read::read_to_string(&mut io::stdin(), &mut s)?;
            s
        } else {
            n.clone()
        };
        notes.narrative = Some(text).filter(|t| !t.trim().is_empty());
    }
    for spec in &args.action {
        let item = parse_action(spec).map_err(|e| anyhow::anyhow!("--action: {e}"))?;
        notes.action_items.push(item);
    }
    let n_items = notes.action_items.len();
    let item_index = |n: usize| -> anyhow::Result<usize> {
        if n == 0 || n > n_items {
            anyhow::bail!("there is no action item {n} (there are {n_items})");
        }
        Ok(n - 1)
    };
    for &n in &args.done {
        let i = item_index(n)?;
        notes.action_items[i].done = true;
    }
    let mut remove: Vec<usize> = args
        .remove_action
        .iter()
        .map(|&n| item_index(n))
        .collect::<Result<_, _>>()?;
    remove.sort_unstable();
    remove.dedup();
    for i in remove.into_iter().rev() {
        notes.action_items.remove(i);
    }
    Ok(())
}

pub fn print(
    notes: &Notes,
    path: &std::path::Path,
    as_json: bool,
    out: &mut impl Write,
) -> io::Result<()> {
    if as_json {
        let issues: Vec<Vec<String>> = notes
            .action_items
            .iter()
            .map(|a| check_action(a).iter().map(|i| i.message()).collect())
            .collect();
        let doc = serde_json::json!({
            "file": path.display().to_string(),
            "notes": notes,
            "action_issues": issues,
        });
        serde_json::to_writer(&mut *out, &doc)?;
        return writeln!(out);
    }
    writeln!(
        out,
        "notes on {}  ({})",
        sanitize::line(&notes.run_id),
        path.display()
    )?;
    if notes.is_empty() {
        return writeln!(out, "  none yet");
    }
    if let Some(c) = notes.category {
        writeln!(out, "category: {} (set by hand)", c.label())?;
    }
    if let Some(s) = notes.root_cause {
        writeln!(out, "root cause: step {s}")?;
    }
    if !notes.bookmarks.is_empty() {
        let b: Vec<String> = notes.bookmarks.iter().map(|s| s.to_string()).collect();
        writeln!(out, "bookmarks: {}", b.join(", "))?;
    }
    for n in &notes.step_notes {
        writeln!(out, "step {}: {}", n.step, sanitize::line(&n.text))?;
    }
    if let Some(n) = &notes.narrative {
        writeln!(out, "narrative:")?;
        for line in sanitize::text(n).lines() {
            writeln!(out, "  {line}")?;
        }
    }
    for (i, a) in notes.action_items.iter().enumerate() {
        writeln!(
            out,
            "action {} [{}] {}  owner={} component={} done_when={}",
            i + 1,
            if a.done { "x" } else { " " },
            sanitize::line(&a.text),
            sanitize::line(a.owner.as_deref().unwrap_or("-")),
            a.component.map_or("-", |c| c.as_str()),
            sanitize::line(a.done_when.as_deref().unwrap_or("-"))
        )?;
        for issue in check_action(a) {
            writeln!(out, "  ⚠ {}", issue.message())?;
        }
    }
    Ok(())
}
