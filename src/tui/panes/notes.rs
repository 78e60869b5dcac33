//! The post-mortem's boxes: the text input (with an action item's flags under it), the
//! category chooser and the incident timeline.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::Span;
use ratatui::widgets::{Block, BorderType, Borders, Widget};

use super::{clear, draw_row};
use crate::postmortem::timeline::Row;
use crate::sanitize;
use crate::tui::overlays::notes::{Chooser, Incident, Input, InputFor};
use crate::tui::text::{wrap, Piece};
use crate::tui::theme::{Role, Theme};

/// A centred box of `rows` (the `selected` one highlighted and kept in view).
pub(super) fn draw_list(
    buf: &mut Buffer,
    screen: Rect,
    title: &str,
    rows: &[Vec<Piece>],
    selected: Option<usize>,
    width: u16,
    theme: &Theme,
) {
    let w = screen.width.min(width).max(10.min(screen.width));
    let h = (rows.len() as u16 + 2)
        .min(screen.height)
        .max(3.min(screen.height));
    let area = Rect::new(
        screen.x + (screen.width - w) / 2,
        screen.y + screen.height.saturating_sub(h) / 2,
        w,
        h,
    );
    clear(buf, area);
    let block = Block::default()
        .borders(Borders::ALL)
        .border_type(BorderType::Thick)
        .border_style(theme.style(Role::BorderFocus))
        .title(Span::styled(format!(" {title} "), theme.style(Role::Title)));
    let inner = block.inner(area);
    block.render(area, buf);
    let body = Rect::new(
        inner.x + 1,
        inner.y,
        inner.width.saturating_sub(2),
        inner.height,
    );
    let visible = body.height as usize;
    let offset = selected.map_or(0, |s| (s + 1).saturating_sub(visible));
    for (i, line) in rows.iter().skip(offset).take(visible).enumerate() {
        draw_row(
            buf,
            body,
            body.y + i as u16,
            line,
            selected == Some(i + offset),
            theme,
        );
    }
}

/// The text input: the text with a cursor, and an action item's flags under it.
pub fn draw_input(buf: &mut Buffer, screen: Rect, input: &Input, theme: &Theme) {
    let w = screen.width.min(90);
    let inner_w = w.saturating_sub(4).max(1) as usize;
    let mut rows = wrap(
        &[
            (Role::Key, "> ".to_string()),
            (Role::Text, sanitize::line(&input.text).into_owned()),
            (Role::Accent, "▏".to_string()),
        ],
        inner_w,
    );
    if input.target == InputFor::ActionItem {
        if input.flags.is_empty() && !input.text.trim().is_empty() {
            rows.push(vec![(Role::Dim, "✓ specific".to_string())]);
        }
        for f in &input.flags {
            rows.extend(wrap(&[(Role::Error, format!("⚠ {f}"))], inner_w));
        }
        rows.push(vec![(
            Role::Dim,
            "text owner=NAME component=tool|prompt|agent|infra done_when=\"…\"".to_string(),
        )]);
    }
    rows.push(vec![(Role::Dim, "Enter: save · Esc: cancel".to_string())]);
    draw_list(buf, screen, &input.title(), &rows, None, w, theme);
}

/// The category chooser.
pub fn draw_chooser(buf: &mut Buffer, screen: Rect, c: &Chooser, theme: &Theme) {
    let rows: Vec<Vec<Piece>> = Chooser::choices()
        .into_iter()
        .map(|choice| match choice {
            None => vec![(Role::Text, "auto (the classifier's)".to_string())],
            Some(cat) => vec![
                (Role::Text, format!("{:<22}", cat.label())),
                (Role::Dim, cat.as_str().to_string()),
            ],
        })
        .collect();
    draw_list(
        buf,
        screen,
        "Category",
        &rows,
        Some(c.cursor.selected),
        50,
        theme,
    );
}

/// One row of the incident timeline.
fn incident_row(r: &Row) -> Vec<Piece> {
    let roles: Vec<&str> = r.roles.iter().map(|role| role.label()).collect();
    let role = if r.error.is_some() {
        Role::Error
    } else {
        Role::Accent
    };
    let mut out = vec![
        (Role::Dim, format!("#{:<4}", r.step)),
        (role, format!("{:<26} ", roles.join(", "))),
    ];
    let line = |s: &str| sanitize::line(s).into_owned();
    match (&r.choice, &r.reason) {
        (Some(choice), reason) => {
            out.push((Role::Decision, format!("→ {}", line(choice))));
            if let Some(reason) = reason {
                out.push((Role::Dim, format!(" — {}", line(reason))));
            }
        }
        (None, _) => out.push((Role::Text, line(&r.summary))),
    }
    out
}

/// The incident timeline of the shown run.
pub fn draw_incident(buf: &mut Buffer, screen: Rect, i: &Incident, theme: &Theme) {
    let rows: Vec<Vec<Piece>> = match (&i.timeline, &i.error) {
        (_, Some(e)) => vec![vec![(Role::Error, sanitize::line(e).into_owned())]],
        (None, None) => vec![vec![(Role::Dim, "investigating the run…".to_string())]],
        (Some(t), None) if t.rows.is_empty() => {
            vec![vec![(Role::Dim, "nothing to show".to_string())]]
        }
        (Some(t), None) => t.rows.iter().map(incident_row).collect(),
    };
    let selected = i.timeline.as_ref().map(|_| i.cursor.selected);
    let title = match &i.timeline {
        Some(t) => format!("Incident timeline · {}", sanitize::line(&t.run_id)),
        None => "Incident timeline".to_string(),
    };
    let area = Rect::new(
        screen.x,
        screen.y + 1,
        screen.width,
        screen.height.saturating_sub(3),
    );
    draw_list(buf, area, &title, &rows, selected, 150, theme);
}
