//! The post-mortem's worker job for the browser: a run's incident timeline and, when asked,
//! its report written into the notes library. The core computes and writes; this module
//! only shapes the result the app shows. Kept apart from the workers so that messages
//! (`event.rs`) can name its result without importing the workers.

use std::sync::Arc;

use crate::index::SharedHistory;
use crate::postmortem::notes::Library;
use crate::postmortem::timeline::{self as postmortem_timeline, Timeline};
use crate::postmortem::{report, InvestigationPlan};
use crate::work::Cancel;

/// The library folder a post-mortem's report is built from (its notes) and saved in.
pub type ReportTo = std::path::PathBuf;

/// A run investigated for its post-mortem.
#[derive(Debug)]
pub struct PostmortemDoc {
    pub run: usize,
    pub timeline: Arc<Timeline>,
    /// Where the report was saved, when one was asked for.
    pub saved: Option<std::path::PathBuf>,
}

/// The incident timeline of `run` and, given a library and notes, its report saved there
/// (the classifier and the divergence engine run here: a worker's job).
pub fn postmortem(
    shared: &SharedHistory,
    run: usize,
    report: Option<ReportTo>,
    cancel: &Cancel,
) -> Result<PostmortemDoc, String> {
    // The runs are chosen under a short hold, read and aligned outside it, and bound
    // again under another: the loop's writer never waits for the reading.
    let plan = {
        let h = shared.read_politely();
        if run >= h.run_count() {
            return Err("no such run".into());
        }
        InvestigationPlan::new(&h, h.run(run), None).map_err(|e| e.to_string())?
    };
    let read = plan.read(cancel).map_err(|e| e.to_string())?;
    let h = shared.read_politely();
    let inv = read.bind(&h);
    let mut timeline = postmortem_timeline::of(&inv);
    for row in &mut timeline.rows {
        row.summary = crate::sanitize::line(&row.summary).into_owned();
    }
    let saved = match report {
        Some(root) => {
            let library = Library::at(root);
            let notes = library
                .load_notes(inv.run.id())
                .map_err(|e| e.to_string())?;
            let doc = report::build(&h, &inv, &notes).map_err(|e| e.to_string())?;
            let path = library
                .save_report(inv.run.id(), &report::markdown(&doc))
                .map_err(|e| e.to_string())?;
            Some(path)
        }
        None => None,
    };
    Ok(PostmortemDoc {
        run,
        timeline: Arc::new(timeline),
        saved,
    })
}
