//! Every intent a user can bind to a key. The keymap maps keys to these; `App::update`
//! handles each one in an exhaustive `match` (no `_ =>`), so a new action does not compile
//! until it is handled. Internal happenings (input, loads, job results) are `Msg`s instead.

/// A user intent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    Quit,
    /// Open or close the key help.
    Help,
    MoveUp,
    MoveDown,
    PageUp,
    PageDown,
    Top,
    Bottom,
    NextPane,
    PrevPane,
    FocusRuns,
    FocusTimeline,
    FocusTree,
    FocusDetail,
    /// Runs → the run's timeline; a step → its detail.
    Open,
    /// Close the help, or go back one pane.
    Back,
    /// Select the run's first failing step.
    FirstFailure,
    /// The next failing run (in the run list) or failing step.
    NextFailure,
    PrevFailure,
    /// Tree: hide the selected step's subtree.
    Collapse,
    /// Tree: show the selected step's subtree.
    Expand,
    ToggleFold,
    /// Detail: show more of a value that was cut.
    LoadMore,
    /// Follow mode (like `tail -f`): keep the shown run's newest step selected as steps
    /// arrive, until the user moves.
    Follow,
    /// Diff the shown run with its most similar successful run; in the diff view, jump
    /// to the divergence.
    Diff,
    /// Diff with a run the user chooses: the first press remembers the shown run, the
    /// second compares it with the run then selected.
    DiffWith,
    /// Run list: the next order (time, duration, steps, errors).
    SortRuns,
    /// Open the `/` search prompt.
    Search,
    ToggleTheme,
    ToggleMouse,
    /// Replay from the selected step (or the diff's row), or stop replaying.
    Replay,
    /// Replay: play or pause (starts a replay when none runs).
    PlayPause,
    /// Replay: one step on, one step back (pauses).
    StepForward,
    StepBack,
    /// Replay: faster, slower.
    Faster,
    Slower,
    /// Replay: real-time pacing or a fixed pace.
    TogglePace,
    /// Presenter mode on or off.
    Present,
    /// Show the position as a command line and copy it.
    ShowPosition,
    /// Redaction on, or off after a confirmation.
    ToggleRedaction,
    /// Confirm what the open question asks.
    Confirm,
    /// Following a presenter: detach to explore, or attach again.
    Attach,
    /// Run list: only the runs of the selected run's failure-strip bucket, or all again.
    OnlyBucket,
    /// Timeline: show or hide the waterfall column.
    ToggleWaterfall,
    /// Open or close the problems view (bad lines, damaged files).
    Problems,
    /// Post-mortem: mark the selected step as the root cause (again: unmark).
    MarkRootCause,
    /// Post-mortem: bookmark the selected step, or remove the bookmark.
    ToggleBookmark,
    /// Post-mortem: write or edit the note on the selected step.
    EditNote,
    /// Post-mortem: set or override the run's category.
    SetCategory,
    /// Post-mortem: add an action item (checked as it is typed).
    AddActionItem,
    /// Post-mortem: write the report into the library.
    WriteReport,
    /// Post-mortem: the incident timeline of the shown run.
    IncidentTimeline,
    /// Post-mortem: write or edit the run's blameless narrative.
    EditNarrative,
    /// Incident library: save the shown run (with its notes) as a resolved incident.
    SaveIncident,
    /// Incident library: the resolved incidents most like the shown failing run.
    SimilarIncidents,
    /// Incident library: search the resolved incidents with the search language.
    IncidentLibrary,
}
