//! `retrace classify`: the failure category of a run, with its confidence, evidence steps
//! and runner-ups. Renders [`crate::postmortem::classify`]'s result only.

use std::io::{self, Write};

use super::{CliError, Common, Paths};
use crate::postmortem::{classify, Investigation};
use crate::sanitize;

/// The arguments of `retrace classify`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The failing run: a run id, or a unique prefix of one.
    pub run: String,
    #[command(flatten)]
    pub paths: Paths,
    /// The run to compare with (default: the most similar successful run).
    #[arg(long, value_name = "RUN_B")]
    pub against: Option<String>,
    /// Print one JSON object {"run_id", "category", "confidence", "evidence",
    /// "alternatives", "against", "related"}.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub common: Common,
}

pub fn run(args: Args) -> Result<(), CliError> {
    let common = &args.common;
    let history = super::load(&args.paths, common)?;
    if !args.json {
        super::report_problems(&history, 5);
    }
    let run = history.find_run(&args.run)?;
    let against = args
        .against
        .as_deref()
        .map(|r| history.find_run(r))
        .transpose()?;
    let inv = Investigation::open(&history, run, against)?;
    let verdict = classify::classify(&history, &inv)?;
    let mut out = super::stdout();
    print(&verdict, args.json, &mut out)?;
    out.flush()?;
    super::finish(&history, common)
}

pub fn print(c: &classify::Classification, as_json: bool, out: &mut impl Write) -> io::Result<()> {
    if as_json {
        serde_json::to_writer(&mut *out, c)?;
        return writeln!(out);
    }
    writeln!(
        out,
        "{}  {} ({:.2})",
        sanitize::line(&c.run_id),
        c.category.label(),
        c.confidence
    )?;
    match &c.against {
        Some(b) => writeln!(out, "compared with {}", sanitize::line(b))?,
        None => writeln!(out, "no comparable successful run")?,
    }
    writeln!(out, "evidence:")?;
    for e in &c.evidence {
        writeln!(
            out,
            "  {}#{}  {}",
            sanitize::line(&e.run_id),
            e.step,
            sanitize::line(&e.why)
        )?;
    }
    if !c.alternatives.is_empty() {
        let alts: Vec<String> = c
            .alternatives
            .iter()
            .map(|a| format!("{} ({:.2})", a.category.label(), a.confidence))
            .collect();
        writeln!(out, "alternatives: {}", alts.join(", "))?;
    }
    if !c.related.is_empty() {
        let rel: Vec<String> = c
            .related
            .iter()
            .map(|r| sanitize::line(&r.to_string()).into_owned())
            .collect();
        writeln!(out, "failing the same way: {}", rel.join(", "))?;
    }
    Ok(())
}
