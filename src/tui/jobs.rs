//! The browser's job bookkeeping: what it asked the workers for, one generation
//! counter per kind (a new request supersedes the last of its kind, and a result whose
//! generation is not the latest is dropped), and the requests waiting for the loop to
//! hand them to the [`super::workers`] (or for tests to run in place). Uses
//! [`crate::work`]; starts no thread.

use super::event::JobOutput;

/// Work the app asks for. Generations grow per kind; the app keeps the latest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobRequest {
    /// Read a run's steps and build its decision tree.
    Structure { generation: u64, run: usize },
    /// Read one step and build its detail with a byte budget for values.
    Detail {
        generation: u64,
        run: usize,
        step: u32,
        limit: usize,
    },
    /// Align two runs (B `None`: the one the divergence engine picks).
    Diff {
        generation: u64,
        a: usize,
        b: Option<usize>,
    },
    /// Build the presenter's card of one step (secrets hidden when `redact`).
    Card {
        generation: u64,
        run: usize,
        step: u32,
        redact: bool,
    },
    /// Run a `/` query (over one run's steps, or everything).
    Search {
        generation: u64,
        query: String,
        only_run: Option<usize>,
    },
    /// Read the tokens of steps `rows` of a run (the timeline's window).
    Tokens {
        generation: u64,
        run: usize,
        rows: std::ops::Range<usize>,
    },
    /// Investigate a run for its post-mortem: the incident timeline and, with a library,
    /// the report built from the run's notes there and saved there.
    Postmortem {
        generation: u64,
        run: usize,
        report: Option<std::path::PathBuf>,
    },
    /// The incidents of the library most like a failing run.
    Similar {
        generation: u64,
        run: usize,
        library: std::path::PathBuf,
    },
    /// Search the incident library.
    IncidentSearch {
        generation: u64,
        query: String,
        library: std::path::PathBuf,
    },
    /// Save a run as an incident of the library.
    SaveIncident {
        generation: u64,
        run: usize,
        library: std::path::PathBuf,
    },
}

/// The kinds of job, one slot each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Structure,
    Detail,
    Diff,
    Search,
    Card,
    Tokens,
    Postmortem,
    Similar,
    SaveIncident,
    IncidentSearch,
}

const KINDS: usize = Kind::IncidentSearch as usize + 1;

/// The latest generation of each kind, and the requests not yet handed out.
#[derive(Debug, Default)]
pub struct Jobs {
    latest: [u64; KINDS],
    queued: Vec<JobRequest>,
}

impl Jobs {
    fn next(&mut self, kind: Kind) -> u64 {
        self.latest[kind as usize] += 1;
        self.latest[kind as usize]
    }

    /// The tree of `run`.
    pub fn structure(&mut self, run: usize) {
        let generation = self.next(Kind::Structure);
        self.queued.push(JobRequest::Structure { generation, run });
    }

    /// The detail of `step` of `run`, values cut at `limit` bytes.
    pub fn detail(&mut self, run: usize, step: u32, limit: usize) {
        let generation = self.next(Kind::Detail);
        self.queued.push(JobRequest::Detail {
            generation,
            run,
            step,
            limit,
        });
    }

    /// Run `a` aligned with `b` (or the picked run).
    pub fn diff(&mut self, a: usize, b: Option<usize>) {
        let generation = self.next(Kind::Diff);
        self.queued.push(JobRequest::Diff { generation, a, b });
    }

    /// A `/` query.
    pub fn search(&mut self, query: String, only_run: Option<usize>) {
        let generation = self.next(Kind::Search);
        self.queued.push(JobRequest::Search {
            generation,
            query,
            only_run,
        });
    }

    /// The presenter's card of `step` of `run`.
    pub fn card(&mut self, run: usize, step: u32, redact: bool) {
        let generation = self.next(Kind::Card);
        self.queued.push(JobRequest::Card {
            generation,
            run,
            step,
            redact,
        });
    }

    /// The tokens of steps `rows` of `run`.
    pub fn tokens(&mut self, run: usize, rows: std::ops::Range<usize>) {
        let generation = self.next(Kind::Tokens);
        self.queued.push(JobRequest::Tokens {
            generation,
            run,
            rows,
        });
    }

    /// The incident timeline of `run` (and its report saved in a library).
    pub fn postmortem(&mut self, run: usize, report: Option<std::path::PathBuf>) {
        let generation = self.next(Kind::Postmortem);
        self.queued.push(JobRequest::Postmortem {
            generation,
            run,
            report,
        });
    }

    /// The incidents of the library at `library` most like run `run`.
    pub fn similar(&mut self, run: usize, library: std::path::PathBuf) {
        let generation = self.next(Kind::Similar);
        self.queued.push(JobRequest::Similar {
            generation,
            run,
            library,
        });
    }

    /// Save run `run` as an incident of the library at `library`.
    pub fn save_incident(&mut self, run: usize, library: std::path::PathBuf) {
        let generation = self.next(Kind::SaveIncident);
        self.queued.push(JobRequest::SaveIncident {
            generation,
            run,
            library,
        });
    }

    /// The incidents of the library at `library` matching `query`.
    pub fn incident_search(&mut self, query: String, library: std::path::PathBuf) {
        let generation = self.next(Kind::IncidentSearch);
        self.queued.push(JobRequest::IncidentSearch {
            generation,
            query,
            library,
        });
    }

    /// Takes the requests queued since the last call.
    pub fn take(&mut self) -> Vec<JobRequest> {
        std::mem::take(&mut self.queued)
    }

    /// Whether `out` answers the latest request of its kind (else it is stale).
    pub fn is_latest(&self, out: &JobOutput) -> bool {
        let (kind, generation) = match out {
            JobOutput::Structure { generation, .. } => (Kind::Structure, generation),
            JobOutput::Detail { generation, .. } => (Kind::Detail, generation),
            JobOutput::Diff { generation, .. } => (Kind::Diff, generation),
            JobOutput::Search { generation, .. } => (Kind::Search, generation),
            JobOutput::Card { generation, .. } => (Kind::Card, generation),
            JobOutput::Tokens { generation, .. } => (Kind::Tokens, generation),
            JobOutput::Postmortem { generation, .. } => (Kind::Postmortem, generation),
            JobOutput::Similar { generation, .. } => (Kind::Similar, generation),
            JobOutput::SaveIncident { generation, .. } => (Kind::SaveIncident, generation),
            JobOutput::IncidentSearch { generation, .. } => (Kind::IncidentSearch, generation),
        };
        self.latest[kind as usize] == *generation
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_latest_request_of_a_kind_is_current() {
        let mut jobs = Jobs::default();
        jobs.structure(1);
        jobs.structure(2);
        jobs.detail(2, 0, 10);
        let queued = jobs.take();
        assert_eq!(queued.len(), 3);
        assert!(jobs.take().is_empty());
        let tree = |generation| JobOutput::Structure {
            generation,
            result: Err(String::new()),
        };
        assert!(!jobs.is_latest(&tree(1)));
        assert!(jobs.is_latest(&tree(2)));
        let detail = JobOutput::Detail {
            generation: 1,
            result: Err(String::new()),
        };
        assert!(jobs.is_latest(&detail), "kinds count apart");
    }
}
