//! Draws the similar-incidents overlay: a centred list, each incident's score, id, title
//! and category, then its reasons (already sanitized by the job).

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;

use crate::incidents::similar::THRESHOLD;
use crate::tui::overlays::similar::Similar;
use crate::tui::text::Piece;
use crate::tui::theme::{Role, Theme};

pub fn draw(buf: &mut Buffer, screen: Rect, s: &Similar, theme: &Theme) {
    let rows: Vec<Vec<Piece>> = match (&s.doc, &s.error) {
        (_, Some(e)) => vec![vec![(Role::Error, crate::sanitize::line(e).into_owned())]],
        (None, None) => vec![vec![(
            Role::Dim,
            "comparing with the incident library…".to_string(),
        )]],
        (Some(d), None) if d.matches.is_empty() => vec![vec![(
            Role::Dim,
            format!(
                "no incident of the library ({}) scores {THRESHOLD:.2} or more",
                d.library
            ),
        )]],
        (Some(d), None) => d
            .matches
            .iter()
            .flat_map(|m| {
                let mut head = vec![
                    (Role::Title, format!("{:.2} ", m.score)),
                    (Role::Text, format!("{}: {}", m.incident, m.title)),
                    (Role::Dim, format!("  {}", m.category.label())),
                ];
                if m.recurrence {
                    head.insert(0, (Role::Error, "↻ ".to_string()));
                }
                std::iter::once(head).chain(
                    m.reasons
                        .iter()
                        .map(|r| vec![(Role::Dim, format!("   · {r}"))]),
                )
            })
            .collect(),
    };
    let title = match &s.doc {
        Some(d) => format!(
            "Similar past incidents · {}",
            crate::sanitize::line(&d.run_id)
        ),
        None => "Similar past incidents".to_string(),
    };
    let selected = s.doc.as_ref().map(|_| s.cursor.selected);
    let area = Rect::new(
        screen.x,
        screen.y + 1,
        screen.width,
        screen.height.saturating_sub(3),
    );
    super::notes::draw_list(buf, area, &title, &rows, selected, 150, theme);
}
