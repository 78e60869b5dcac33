//! Draws the incident library overlay: the query line, then one row per incident found
//! (id, when it failed, category, the matched field's snippet with its matches marked).

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;

use crate::tui::overlays::library::Library;
use crate::tui::text::Piece;
use crate::tui::theme::{Role, Theme};

pub fn draw(buf: &mut Buffer, screen: Rect, l: &Library, theme: &Theme) {
    let mut rows: Vec<Vec<Piece>> = vec![vec![
        (Role::Title, "query ".to_string()),
        (Role::Text, format!("{}▏", crate::sanitize::line(&l.query))),
    ]];
    match (&l.doc, &l.error) {
        (_, Some(e)) => rows.push(vec![(Role::Error, crate::sanitize::line(e).into_owned())]),
        (None, None) => rows.push(vec![(Role::Dim, "reading the library…".to_string())]),
        (Some(d), None) if d.hits.is_empty() => rows.push(vec![(
            Role::Dim,
            format!("no incident of the library ({}) matches", d.total),
        )]),
        (Some(d), None) => rows.extend(d.hits.iter().map(|h| {
            vec![
                (Role::Title, format!("{} ", h.incident)),
                (Role::Text, h.title.clone()),
                (Role::Dim, format!("  {}: {}", h.field, h.snippet)),
            ]
        })),
    }
    let title = match &l.doc {
        Some(d) => format!("Incident library · {} of {}", d.hits.len(), d.total),
        None => "Incident library".to_string(),
    };
    let selected = l
        .doc
        .as_ref()
        .filter(|d| !d.hits.is_empty())
        .map(|_| l.cursor.selected + 1);
    let area = Rect::new(
        screen.x,
        screen.y + 1,
        screen.width,
        screen.height.saturating_sub(3),
    );
    super::notes::draw_list(buf, area, &title, &rows, selected, 150, theme);
}
