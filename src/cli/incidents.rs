//! `retrace incidents`: the incident library on the command line. `incidents add RUN`
//! saves a resolved incident from the run's post-mortem and notes; `incidents` lists
//! them; `incidents --open-actions` lists the action items not done yet across the
//! library. Renders [`crate::incidents`] only.

use std::io::Write;
use std::path::PathBuf;

use super::{cell, CliError, Common, Paths};
use crate::incidents::record::{AddOptions, Incident};
use crate::incidents::store::{IncidentStore, Loaded};
use crate::postmortem::notes::Library;
use crate::postmortem::Category;
use crate::sanitize;

#[derive(clap::Args, Debug)]
#[command(args_conflicts_with_subcommands = true)]
pub struct Args {
    #[command(subcommand)]
    pub command: Option<Command>,
    /// The library folder (default: $RETRACE_LIBRARY, else $XDG_DATA_HOME/retrace, else
    /// ~/.local/share/retrace).
    #[arg(long, value_name = "DIR")]
    pub library: Option<PathBuf>,
    /// Only the action items not done yet, across the library.
    #[arg(long)]
    pub open_actions: bool,
    /// One JSON object: {"incidents": [...], "problems": [...]} (with --open-actions:
    /// {"open_actions": [{incident, title, item, text, owner, component, done_when}], …}).
    #[arg(long)]
    pub json: bool,
}

#[derive(clap::Subcommand, Debug)]
pub enum Command {
    /// Save the incident of a failing run in the library: its post-mortem (category,
    /// divergence, failing step's signature) with the notes saved for it (narrative,
    /// action items). Saving the same run again updates it.
    Add(AddArgs),
}

#[derive(clap::Args, Debug)]
pub struct AddArgs {
    /// The failing run: a run id, or a unique prefix of one.
    pub run: String,
    #[command(flatten)]
    pub paths: Paths,
    /// The run to compare with (default: the most similar successful run).
    #[arg(long, value_name = "RUN_B")]
    pub against: Option<String>,
    /// The category (default: the one set in the notes, else the classifier's).
    #[arg(long, value_name = "CATEGORY")]
    pub category: Option<String>,
    /// The title (default: the post-mortem's).
    #[arg(long, value_name = "TEXT")]
    pub title: Option<String>,
    /// The library folder (default: $RETRACE_LIBRARY, else $XDG_DATA_HOME/retrace, else
    /// ~/.local/share/retrace).
    #[arg(long, value_name = "DIR")]
    pub library: Option<PathBuf>,
    /// Print the saved record as JSON.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub common: Common,
}

pub fn run(args: Args) -> Result<(), CliError> {
    match args.command {
        Some(Command::Add(a)) => add(a),
        None => list(&args),
    }
}

fn add(args: AddArgs) -> Result<(), CliError> {
    let library = Library::locate(args.library.as_deref())?;
    library.ensure_outside(&args.paths.resolved())?;
    let category = args
        .category
        .as_deref()
        .map(|c| {
            Category::parse(c).ok_or_else(|| {
                CliError::Usage(format!(
                    "--category: unknown category {:?}; known: tool_failure, prompt_drift, state_corruption, environmental_change, edge_case_input",
                    sanitize::line(c)
                ))
            })
        })
        .transpose()?;
    let history = super::load(&args.paths, &args.common)?;
    if !args.json {
        super::report_problems(&history, 5);
    }
    let run = history.find_run(&args.run)?;
    let against = args
        .against
        .as_deref()
        .map(|r| history.find_run(r))
        .transpose()?;
    let store = IncidentStore::new(library);
    let options = AddOptions {
        title: args.title.clone(),
        category,
    };
    let (incident, saved) = crate::incidents::add(&history, run, against, &store, &options)
        .map_err(|e| CliError::Failed(e.into()))?;
    let mut out = super::stdout();
    if args.json {
        serde_json::to_writer_pretty(&mut out, &incident)?;
        writeln!(out)?;
    } else {
        writeln!(
            out,
            "{} {}: {}",
            if saved.created { "saved" } else { "updated" },
            incident.id,
            sanitize::line(&incident.title)
        )?;
        writeln!(out, "  record  {}", saved.record.display())?;
        writeln!(out, "  report  {}", saved.report.display())?;
    }
    out.flush()?;
    super::finish(&history, &args.common)
}

fn list(args: &Args) -> Result<(), CliError> {
    let store = IncidentStore::new(Library::locate(args.library.as_deref())?);
    let loaded = store.load_all()?;
    if !args.json {
        for p in &loaded.problems {
            eprintln!("retrace: {}", sanitize::line(&p.to_string()));
        }
    }
    let mut out = super::stdout();
    if args.open_actions {
        print_open_actions(&loaded, args.json, &mut out)?;
    } else {
        print_incidents(&loaded, args.json, &mut out)?;
    }
    out.flush()?;
    Ok(())
}

fn print_incidents(loaded: &Loaded, json: bool, out: &mut impl Write) -> Result<(), CliError> {
    if json {
        serde_json::to_writer(
            &mut *out,
            &serde_json::json!({"incidents": loaded.incidents, "problems": loaded.problems}),
        )?;
        writeln!(out)?;
        return Ok(());
    }
    if loaded.incidents.is_empty() {
        writeln!(out, "no incidents yet (retrace incidents add RUN PATH...)")?;
        return Ok(());
    }
    let id_w = column(loaded.incidents.iter().map(|i| i.id.as_str()), "INCIDENT");
    let agent_w = column(
        loaded
            .incidents
            .iter()
            .map(|i| i.agent.as_deref().unwrap_or("-")),
        "AGENT",
    );
    writeln!(
        out,
        "{} {} {} {} {:<9} TITLE",
        cell("INCIDENT", id_w),
        cell("FAILED (UTC)", 19),
        cell("CATEGORY", 20),
        cell("AGENT", agent_w),
        "ACTIONS"
    )?;
    for i in &loaded.incidents {
        writeln!(
            out,
            "{} {} {} {} {:<9} {}",
            cell(&sanitize::line(&i.id), id_w),
            cell(
                &i.failed_at_ms()
                    .map(crate::time::format_short)
                    .unwrap_or_default(),
                19
            ),
            cell(i.category.label(), 20),
            cell(&sanitize::line(i.agent.as_deref().unwrap_or("-")), agent_w),
            actions_cell(i),
            sanitize::line(&i.title)
        )?;
    }
    writeln!(out, "{} incident(s)", loaded.incidents.len())?;
    Ok(())
}

/// `2 open/3`, `done 3` or `-`.
fn actions_cell(i: &Incident) -> String {
    let open = i.open_actions().count();
    match (i.action_items.len(), open) {
        (0, _) => "-".into(),
        (n, 0) => format!("done {n}"),
        (n, o) => format!("{o} open/{n}"),
    }
}

fn column<'a>(values: impl Iterator<Item = &'a str>, head: &str) -> usize {
    values
        .map(|v| super::width(&sanitize::line(v)))
        .chain([head.len()])
        .max()
        .unwrap_or(8)
        .min(40)
}

fn print_open_actions(loaded: &Loaded, json: bool, out: &mut impl Write) -> Result<(), CliError> {
    let open: Vec<(&Incident, usize, &crate::postmortem::notes::ActionItem)> = loaded
        .incidents
        .iter()
        .flat_map(|i| i.open_actions().map(move |(n, a)| (i, n + 1, a)))
        .collect();
    if json {
        let rows: Vec<serde_json::Value> = open
            .iter()
            .map(|(i, n, a)| {
                serde_json::json!({
                    "incident": i.id, "title": i.title, "run_id": i.run_id(), "item": n,
                    "text": a.text, "owner": a.owner, "component": a.component,
                    "done_when": a.done_when,
                })
            })
            .collect();
        serde_json::to_writer(
            &mut *out,
            &serde_json::json!({"open_actions": rows, "problems": loaded.problems}),
        )?;
        writeln!(out)?;
        return Ok(());
    }
    if open.is_empty() {
        writeln!(out, "no open action items")?;
        return Ok(());
    }
    for (i, n, a) in &open {
        writeln!(
            out,
            "{} #{n}  {}  owner={} done_when={}",
            sanitize::line(&i.id),
            sanitize::line(&a.text),
            sanitize::line(a.owner.as_deref().unwrap_or("-")),
            sanitize::line(a.done_when.as_deref().unwrap_or("-")),
        )?;
    }
    writeln!(
        out,
        "{} open action item(s); tick one off with: retrace notes RUN --done N",
        open.len()
    )?;
    Ok(())
}
