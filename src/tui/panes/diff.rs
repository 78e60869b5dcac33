//! The diff view: two runs' timelines side by side, aligned row by row (a gap where one
//! run has no counterpart), the divergence row marked `▶` and the rows after it `┆` (its
//! cascade), rows that differ `≠`; below, the selected row's two steps with a word diff of
//! their inputs and outputs (`[-only in A-]`, `{+only in B+}`: colour is never the only
//! signal). Rows of a parallel group (calls one model call set off at once, matched by
//! what they are, not their order) carry a `┏`/`┃` gutter, and the detail names the group
//! and the call that proposed it. Covers the panes while open.

use std::sync::Arc;

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::Span;
use ratatui::widgets::Widget;

use super::{draw_message, draw_row, frame, ListCursor};
use crate::diverge::words::{word_diff, Change};
use crate::tui::diff::{DiffDoc, DiffRow, RunTotals, Side};
use crate::tui::layout::{inner, Mode};
use crate::tui::text::{cell, fit, width, wrap, Piece};
use crate::tui::theme::{Role, Theme};

/// The diff view's state.
#[derive(Debug, Clone)]
pub struct DiffState {
    /// The run under investigation (A) and the one it is compared with (B; `None`: the
    /// one the divergence engine picks).
    pub a: usize,
    pub b: Option<usize>,
    pub doc: Option<Arc<DiffDoc>>,
    pub error: Option<String>,
    pub cursor: ListCursor,
}

impl DiffState {
    pub fn new(a: usize, b: Option<usize>) -> DiffState {
        DiffState {
            a,
            b,
            doc: None,
            error: None,
            cursor: ListCursor::default(),
        }
    }

    pub fn len(&self) -> usize {
        self.doc.as_ref().map_or(0, |d| d.rows.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Lines above the rows: why B, the divergence, the column header.
const HEAD: u16 = 3;

/// The rows part and the detail part of the view's body.
fn split(body: Rect) -> (Rect, Rect) {
    let detail_h = if body.height < 12 {
        body.height.saturating_sub(HEAD + 3).min(body.height / 3)
    } else {
        body.height * 2 / 5
    };
    let rows_h = body.height.saturating_sub(detail_h);
    (
        Rect::new(body.x, body.y, body.width, rows_h),
        Rect::new(body.x, body.y + rows_h, body.width, detail_h),
    )
}

/// The diff view's area on a screen of `size` (everything above the two bars).
pub fn area(size: Rect) -> Rect {
    Rect::new(size.x, size.y, size.width, size.height.saturating_sub(2))
}

/// Rows of the aligned list on a screen of `size`.
pub fn list_rows(size: Rect) -> usize {
    let (rows, _) = split(inner(area(size), Mode::Wide));
    rows.height.saturating_sub(HEAD) as usize
}

pub struct DiffView<'a> {
    pub state: &'a DiffState,
    pub theme: &'a Theme,
}

fn side_text(s: Option<&Side>) -> (Role, String) {
    match s {
        None => (Role::Dim, "┄┄ gap ┄┄".to_string()),
        Some(s) => {
            let mut t = format!("#{} {}", s.step, s.label);
            // The label names the error of a failed result already.
            if s.error && !t.contains('✗') {
                t.push_str(" ✗");
                if let Some(e) = &s.error_text {
                    t.push_str(&format!(" {e}"));
                }
            }
            (if s.error { Role::Error } else { Role::Text }, t)
        }
    }
}

fn row_pieces(doc: &DiffDoc, i: usize, row: &DiffRow, selected: bool, w: usize) -> Vec<Piece> {
    let col = w.saturating_sub(5) / 2;
    let (mark_role, mark) = if doc.divergence.as_ref().is_some_and(|(d, _, _)| *d == i) {
        (Role::Error, "▶")
    } else if doc.is_cascade(i) {
        (Role::Cascade, "┆")
    } else if row.kind.is_some() {
        (Role::Warn, "≠")
    } else {
        (Role::Dim, " ")
    };
    // The group gutter: `┏` on a group's first row, `┃` on the rest.
    let gutter = match doc.group_of(i) {
        Some(g) if g.rows.start == i => "┏",
        Some(_) => "┃",
        None => " ",
    };
    let (ar, at) = side_text(row.a.as_ref());
    let (br, bt) = side_text(row.b.as_ref());
    let dim_input = |r: Role| {
        if row.input && r == Role::Text {
            Role::Dim
        } else {
            r
        }
    };
    let mut out = vec![
        (Role::Accent, if selected { "›" } else { " " }.to_string()),
        (mark_role, mark.to_string()),
        (Role::Accent, gutter.to_string()),
        (dim_input(ar), cell(&at, col)),
        (Role::Border, " │ ".to_string()),
    ];
    // The group is named on its first row where B's side leaves room (always in the
    // detail below).
    let label = doc
        .group_of(i)
        .filter(|g| g.rows.start == i)
        .map(|g| format!("  ┏ {}", g.label()));
    match label {
        Some(l) if width(&bt) + width(&l) <= col => {
            out.push((dim_input(br), bt.clone()));
            out.push((Role::Accent, cell(&l, col - width(&bt))));
        }
        _ => out.push((dim_input(br), cell(&bt, col))),
    }
    out
}

/// A run's totals for the column header: ` · 15.1s · 1012→70 tok`.
pub fn totals_text(t: RunTotals) -> String {
    let mut s = String::new();
    if let Some(d) = t.duration_ms {
        s.push_str(&format!(" · {}", crate::time::format_duration(d as f64)));
    }
    if let Some(tokens) = t.tokens {
        s.push_str(&format!(" · {} tok", crate::tui::glance::in_out(tokens)));
    }
    s
}

/// The word diff of one field, wrapped to `w`.
fn field_lines(name: &str, a: &str, b: &str, w: usize, out: &mut Vec<Vec<Piece>>) {
    if a.is_empty() && b.is_empty() {
        return;
    }
    let mut line: Vec<Piece> = vec![(Role::Header, format!("{name}: "))];
    if a == b {
        line.push((Role::Text, a.to_string()));
    } else {
        for (change, word) in word_diff(a, b) {
            match change {
                Change::Same => line.push((Role::Text, format!("{word} "))),
                Change::OnlyA => line.push((Role::Error, format!("[-{word}-] "))),
                Change::OnlyB => line.push((Role::Ok, format!("{{+{word}+}} "))),
            }
        }
    }
    out.extend(wrap(&line, w));
}

/// The selected row's two steps and the word diff of their inputs and outputs.
pub fn detail_lines(doc: &DiffDoc, row: usize, w: usize) -> Vec<Vec<Piece>> {
    let mut out: Vec<Vec<Piece>> = Vec::new();
    let Some(r) = doc.rows.get(row) else {
        return out;
    };
    for (tag, s) in [("A", r.a.as_ref()), ("B", r.b.as_ref())] {
        let (role, t) = side_text(s);
        out.push(vec![
            (Role::Header, format!("{tag} ")),
            (role, fit(&t, w.saturating_sub(2)).into_owned()),
        ]);
    }
    match &r.kind {
        Some(k) if r.input => out.push(vec![(
            Role::Dim,
            format!("differs ({k}), but it is input to the agent"),
        )]),
        Some(k) => out.push(vec![(Role::Warn, format!("differs: {k}"))]),
        None => out.push(vec![(Role::Dim, "same behaviour".to_string())]),
    }
    if let Some(g) = doc.group_of(row) {
        let text = format!(
            "┃ {} (rows {}–{}): matched by what they are, not their order",
            g.label(),
            g.rows.start + 1,
            g.rows.end
        );
        out.push(vec![(Role::Accent, fit(&text, w).into_owned())]);
    }
    let empty = String::new();
    let (ai, ao) =
        r.a.as_ref()
            .map_or((&empty, &empty), |s| (&s.input, &s.output));
    let (bi, bo) =
        r.b.as_ref()
            .map_or((&empty, &empty), |s| (&s.input, &s.output));
    field_lines("input", ai, bi, w, &mut out);
    field_lines("output", ao, bo, w, &mut out);
    out
}

impl Widget for DiffView<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let s = self.state;
        let t = self.theme;
        let mut title = vec![Span::styled("Diff", t.style(Role::Title))];
        if let Some(doc) = &s.doc {
            title.push(Span::styled(
                format!(
                    " A {} ({}) ⟷ B {} ({}) · row {}/{}",
                    doc.a_id,
                    doc.a_outcome,
                    doc.b_id,
                    doc.b_outcome,
                    s.cursor.selected + 1,
                    doc.rows.len()
                ),
                t.style(Role::Dim),
            ));
        }
        frame(title, true, Mode::Wide, t).render(area, buf);
        let body = inner(area, Mode::Wide);
        if body.height == 0 || body.width == 0 {
            return;
        }
        let Some(doc) = &s.doc else {
            let msg = match &s.error {
                Some(e) => format!("cannot diff: {e}"),
                None => "aligning the runs…".to_string(),
            };
            draw_message(buf, body, &msg, t);
            return;
        };
        let w = body.width as usize;
        let (list, detail) = split(body);
        let why = match &doc.picked {
            Some(reason) => format!("B picked automatically: {reason}"),
            None => "B chosen by you".to_string(),
        };
        draw_row(
            buf,
            list,
            list.y,
            &[(Role::Dim, fit(&why, w).into_owned())],
            false,
            t,
        );
        let div: Vec<Piece> = match &doc.divergence {
            Some((row, kind, summary)) => {
                let r = &doc.rows[*row];
                let step = |x: &Option<Side>| {
                    x.as_ref()
                        .map_or("-".to_string(), |s| format!("#{}", s.step))
                };
                vec![(
                    Role::Error,
                    fit(
                        &format!(
                            "▶ diverges at A {} / B {}: {kind} — {summary}",
                            step(&r.a),
                            step(&r.b)
                        ),
                        w,
                    )
                    .into_owned(),
                )]
            }
            None => vec![(
                Role::Ok,
                "✓ no divergence: the runs behave the same".to_string(),
            )],
        };
        draw_row(buf, list, list.y + 1, &div, false, t);
        let col = w.saturating_sub(5) / 2;
        let [ta, tb] = doc.totals;
        let header = vec![(
            Role::Header,
            format!(
                "   {} │ {}",
                cell(&format!("A {}{}", doc.a_id, totals_text(ta)), col),
                cell(&format!("B {}{}", doc.b_id, totals_text(tb)), col)
            ),
        )];
        draw_row(buf, list, list.y + 2, &header, false, t);
        let rows = list.height.saturating_sub(HEAD) as usize;
        for (i, pos) in (s.cursor.offset..doc.rows.len()).take(rows).enumerate() {
            let selected = pos == s.cursor.selected;
            let y = list.y + HEAD + i as u16;
            draw_row(
                buf,
                list,
                y,
                &row_pieces(doc, pos, &doc.rows[pos], selected, w),
                selected,
                t,
            );
        }
        if detail.height == 0 {
            return;
        }
        draw_row(
            buf,
            detail,
            detail.y,
            &[(Role::Border, "─".repeat(w))],
            false,
            t,
        );
        for (i, line) in detail_lines(doc, s.cursor.selected, w)
            .iter()
            .take(detail.height.saturating_sub(1) as usize)
            .enumerate()
        {
            draw_row(buf, detail, detail.y + 1 + i as u16, line, false, t);
        }
    }
}
