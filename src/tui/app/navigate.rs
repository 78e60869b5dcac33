//! Navigation: focus, selection of runs and steps (and what follows them: tree, detail),
//! paging, failures and search matches, follow mode, the run list's filter, the diff's
//! choice of runs, and keeping every list's selection in view.

use super::App;
use crate::tui::document::{FIRST_LIMIT, MAX_LIMIT};
use crate::tui::layout::{areas, Pane};
use crate::tui::overlays::{self, Overlay};
use crate::tui::panes::detail;
use crate::tui::panes::diff::{self as diff_pane, DiffState};
use crate::tui::panes::problems as problems_pane;
use crate::tui::panes::run_list;
use crate::tui::panes::search::{self as search_pane, SearchState};
use crate::tui::panes::timeline::{self, TimelineState};
use crate::tui::panes::tree;
use crate::tui::search::HitRow;

impl App {
    pub(super) fn focus_pane(&mut self, pane: Pane) {
        if matches!(pane, Pane::Timeline | Pane::Tree) {
            self.last_list = pane;
        }
        self.focus = pane;
    }

    /// Tells every pane and overlay its viewport on this screen (a pane hidden in the
    /// compact layout gets the size it has when focused), and wraps the detail to its
    /// width. The one place the app asks the layout about pane sizes.
    pub(super) fn layout(&mut self) {
        let size = self.size;
        let shown = self.areas();
        for pane in [Pane::Runs, Pane::Timeline, Pane::Tree, Pane::Detail] {
            let a = match shown.of(pane) {
                Some(_) => shown,
                None => areas(size, pane),
            };
            let Some(r) = a.of(pane) else { continue };
            match pane {
                Pane::Runs => self.runs.cursor.rows = run_list::body_rows(r, a.mode).max(1),
                Pane::Timeline => self.timeline.cursor.rows = timeline::body_rows(r, a.mode).max(1),
                Pane::Tree => self.tree.cursor.rows = tree::body_rows(r, a.mode).max(1),
                Pane::Detail => {
                    let (rows, width) = detail::body_size(r, a.mode);
                    self.detail.view_rows = rows.max(1);
                    self.detail.rewrap(width, false);
                }
            }
        }
        if let Some(s) = self.search_mut() {
            s.cursor.rows = search_pane::list_rows(size).max(1);
        }
        if let Some(d) = self.diff_mut() {
            d.cursor.rows = diff_pane::list_rows(size).max(1);
        }
    }

    /// One page of the focused pane.
    pub(super) fn page(&self) -> isize {
        match self.focus {
            Pane::Runs => self.runs.cursor.page(),
            Pane::Timeline => self.timeline.cursor.page(),
            Pane::Tree => self.tree.cursor.page(),
            Pane::Detail => (self.detail.view_rows.max(1) as isize - 1).max(1),
        }
    }

    /// The run list's filter or order changed: rebuild it, keeping the selection when it
    /// is still listed, else selecting the first run.
    pub(super) fn refilter(&mut self) {
        {
            let h = self.shared.read();
            self.runs.refresh(&h);
        }
        let listed = self
            .runs
            .selected
            .is_some_and(|run| self.runs.order.contains(&(run as u32)));
        if !listed {
            if let Some(first) = self.runs.run_at(0) {
                self.select_run(first);
            }
        }
        self.runs.cursor.offset = 0;
        self.fit_views();
    }

    /// Searches for the prompt's query (latest wins).
    pub(super) fn request_search(&mut self) {
        let Some(s) = self.search_mut() else {
            return;
        };
        if overlays::search::prepare(s) {
            let query = s.query.clone();
            self.jobs.search(query, None);
        }
    }

    /// Enter on a hit: the run list keeps the runs passing the query's run filters, the
    /// hit's run and step are selected, and the query is kept for `n`/`N`.
    pub(super) fn jump_to_hit(&mut self, s: SearchState, hit: HitRow) {
        self.runs.filter = crate::search::Query::parse(&s.query)
            .ok()
            .map(|q| (q, crate::search::now_ms()));
        self.last_search = Some(s);
        self.stop_following();
        self.runs.chosen = true;
        self.refilter();
        if self.timeline.run != Some(hit.run) {
            self.select_run(hit.run);
        }
        match hit.step {
            Some(step) => {
                self.focus_pane(Pane::Timeline);
                self.select_step(step, Pane::Runs);
            }
            None => self.focus_pane(Pane::Runs),
        }
    }

    /// `n`/`N` after a search: the next (or previous) match in the shown run, from the
    /// last results. `false` when there is no search to walk.
    pub(super) fn next_match(&mut self, forward: bool) -> bool {
        let Some(last) = &self.last_search else {
            return false;
        };
        let Some(run) = self.timeline.run else {
            return false;
        };
        let at = self.timeline.cursor.selected as u32;
        let mut steps: Vec<u32> = last
            .doc
            .iter()
            .flat_map(|d| d.hits.iter())
            .filter(|h| h.run == run)
            .filter_map(|h| h.step)
            .collect();
        steps.sort_unstable();
        steps.dedup();
        let found = if forward {
            steps.into_iter().find(|&s| s > at)
        } else {
            steps.into_iter().rev().find(|&s| s < at)
        };
        match found {
            Some(step) => {
                if self.focus == Pane::Runs {
                    self.focus_pane(Pane::Timeline);
                }
                self.select_step(step, Pane::Runs);
            }
            None => {
                let q = crate::sanitize::line(&last.query).into_owned();
                self.message = Some(format!(
                    "no more matches of {q} in this run (/ Enter on an empty query: back to failures)"
                ));
            }
        }
        true
    }

    /// Opens the diff view of run `a` with run `b` (or the picked one); aligning runs on
    /// a worker.
    pub fn open_diff(&mut self, a: usize, b: Option<usize>) {
        self.close_overlay(|o| matches!(o, Overlay::Diff(_)));
        self.overlays.push(Overlay::Diff(DiffState::new(a, b)));
        self.jobs.diff(a, b);
        self.dirty = true;
        self.fit_views();
    }

    /// `D`: remember run `a` and let the user select the run to compare it with.
    pub(super) fn choose_other(&mut self, a: usize) {
        self.diff_anchor = Some(a);
        self.focus_pane(Pane::Runs);
        let id = crate::sanitize::line(self.shared.read().run(a).id()).into_owned();
        self.message = Some(format!("diff {id} with: select a run, then D"));
    }

    /// Follow mode on (the newest step selected) or off.
    pub(super) fn toggle_follow(&mut self) {
        if self.follow {
            self.follow = false;
            self.message = Some("follow off".into());
            return;
        }
        if self.timeline.run.is_none() {
            self.message = Some("no run to follow".into());
            return;
        }
        self.follow = true;
        if self.focus == Pane::Runs {
            self.focus_pane(Pane::Timeline);
        }
        self.follow_newest();
        self.message = Some(
            if self.watch.is_some() {
                "following (move to stop)"
            } else {
                "following (not watching)"
            }
            .into(),
        );
    }

    /// Follow mode: selects the shown run's newest step.
    pub(super) fn follow_newest(&mut self) {
        if self.timeline.len > 0 {
            self.select_step(self.timeline.len as u32 - 1, Pane::Runs);
        }
    }

    /// The user moved: follow mode ends.
    pub(super) fn stop_following(&mut self) {
        if self.follow {
            self.follow = false;
            self.message = Some("follow off".into());
        }
    }

    pub(super) fn move_selection(&mut self, delta: isize) {
        if self.focus != Pane::Detail {
            self.stop_following();
        }
        match self.focus {
            Pane::Runs => {
                let len = self.runs.len();
                self.runs.chosen = true;
                if self.runs.cursor.move_by(delta, len) {
                    if let Some(run) = self.runs.run_at(self.runs.cursor.selected) {
                        self.select_run(run);
                    }
                }
            }
            Pane::Timeline => {
                if self.timeline.cursor.move_by(delta, self.timeline.len) {
                    self.select_step(self.timeline.cursor.selected as u32, Pane::Timeline);
                }
            }
            Pane::Tree => {
                if self.tree.cursor.move_by(delta, self.tree.len()) {
                    self.tree_moved();
                }
            }
            Pane::Detail => {
                let rows = self.detail.view_rows.max(1);
                self.detail.scroll_by(delta, rows);
                if self.detail.wants_more(rows) {
                    self.load_more();
                }
            }
        }
    }

    pub(super) fn tree_moved(&mut self) {
        if let Some(step) = self.tree.selected_step() {
            self.select_step(step, Pane::Tree);
        }
    }

    /// Shows run `run` (by history index) in the timeline, tree and detail.
    pub fn select_run(&mut self, run: usize) {
        self.runs.selected = Some(run);
        self.runs.new.remove(&run);
        if let Some(pos) = self.runs.order.iter().position(|&i| i as usize == run) {
            self.runs.cursor.selected = pos;
        }
        let len = self.shared.read().run(run).step_count();
        self.timeline = TimelineState {
            run: Some(run),
            len,
            cursor: self.timeline.cursor,
        };
        self.timeline.cursor.home();
        self.tree.reset("reading the run…");
        self.jobs.structure(run);
        self.detail.clear();
        if len > 0 {
            self.select_step(0, Pane::Runs);
        }
    }

    /// Selects step `step` of the shown run everywhere but in `from`, which moved itself.
    pub fn select_step(&mut self, step: u32, from: Pane) {
        let Some(run) = self.timeline.run else { return };
        if step as usize >= self.timeline.len {
            return;
        }
        self.timeline.cursor.set(step as usize, self.timeline.len);
        if from != Pane::Tree {
            self.tree.select_step(step);
        }
        if self.detail.target != Some((run, step)) {
            self.detail.show(run, step);
            self.request_detail(FIRST_LIMIT);
        }
        self.fit_views();
    }

    pub(super) fn request_detail(&mut self, limit: usize) {
        let Some((run, step)) = self.detail.target else {
            return;
        };
        self.jobs.detail(run, step, limit);
    }

    pub(super) fn load_more(&mut self) {
        let Some(doc) = &self.detail.doc else { return };
        if doc.cut == 0 || self.detail.loading_more {
            return;
        }
        if doc.limit >= MAX_LIMIT {
            self.message = Some("this is as much as the detail shows".into());
            return;
        }
        let limit = doc.limit.saturating_mul(4).min(MAX_LIMIT);
        // The status line says so while `loading_more` holds.
        self.detail.loading_more = true;
        self.request_detail(limit);
    }

    pub(super) fn first_failure(&mut self) {
        self.stop_following();
        let Some(run) = self.timeline.run else { return };
        let first = self.shared.read().run(run).first_error().map(|s| s.step);
        match first {
            Some(step) => {
                if self.focus == Pane::Runs {
                    self.focus_pane(Pane::Timeline);
                }
                self.select_step(step, Pane::Runs);
            }
            None => self.message = Some("this run has no failing step".into()),
        }
    }

    pub(super) fn next_failure(&mut self, forward: bool) {
        self.stop_following();
        if self.focus != Pane::Runs && self.next_match(forward) {
            return;
        }
        if self.focus == Pane::Runs {
            let found = {
                let h = self.shared.read();
                let order = &self.runs.order;
                let at = self.runs.cursor.selected;
                let bad = |&p: &usize| h.run(order[p] as usize).outcome().is_bad();
                if forward {
                    (at + 1..order.len()).find(bad)
                } else {
                    (0..at).rev().find(bad)
                }
            };
            match found {
                Some(pos) => {
                    self.runs.chosen = true;
                    self.runs.cursor.selected = pos;
                    self.select_run(self.runs.order[pos] as usize);
                }
                None => self.message = Some("no more failing runs".into()),
            }
            return;
        }
        let Some(run) = self.timeline.run else { return };
        let found = {
            let h = self.shared.read();
            let r = h.run(run);
            let at = self.timeline.cursor.selected;
            let bad = |&i: &usize| r.step(i).is_error();
            if forward {
                (at + 1..self.timeline.len.min(r.step_count())).find(bad)
            } else {
                (0..at).rev().find(bad)
            }
        };
        match found {
            Some(step) => self.select_step(step as u32, Pane::Runs),
            None => self.message = Some("no more failing steps".into()),
        }
    }

    /// Scrolls every list so that its selection is in view, and wraps the detail to its
    /// width.
    pub(super) fn fit_views(&mut self) {
        self.fit_strip();
        self.layout();
        if let Some(s) = self.search_mut() {
            let len = s.len();
            s.cursor.keep_in_view(len);
        }
        if let Some(d) = self.diff_mut() {
            let len = d.len();
            d.cursor.keep_in_view(len);
        }
        let problem_count = self.shared.read().problems().len();
        let rows = problems_pane::list_rows(self.size).max(1);
        for o in &mut self.overlays {
            if let Overlay::Problems(p) = o {
                p.cursor.rows = rows;
                p.cursor.keep_in_view(problem_count);
            }
        }
        let len = self.runs.len();
        self.runs.cursor.keep_in_view(len);
        self.timeline.cursor.keep_in_view(self.timeline.len);
        let len = self.tree.len();
        self.tree.cursor.keep_in_view(len);
        self.request_tokens();
    }
}
