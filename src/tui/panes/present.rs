//! Presenter mode's screen, for a projector: a header (run, step, replay), the current
//! step as a large card (what the agent was trying to do, what it called, what came
//! back, whether it failed, the post-mortem's marks), and the timeline around it as
//! context. No key hints. Card text comes redacted and sanitized from
//! [`crate::present`]; the timeline rows are redacted here. Also the small boxes of the
//! meeting (a question, a position's command line).

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::Span;
use ratatui::widgets::{Block, BorderType, Borders, Widget};

use super::{clear, draw_message, draw_row};
use crate::index::RunRef;
use crate::present::{marks_at, Card, Mark};
use crate::redact::{self, Redaction};
use crate::sanitize;
use crate::tui::text::{fit, width, wrap, Piece};
use crate::tui::theme::{Role, Theme};

/// What the presenter's screen shows.
pub struct PresentView<'a> {
    pub run: Option<RunRef<'a>>,
    /// The selected step and the run's length.
    pub step: usize,
    pub len: usize,
    /// The card of the selected step, once built (`None`: reading it).
    pub card: Option<&'a Card>,
    pub card_error: Option<&'a str>,
    pub marks: &'a [Mark],
    pub redaction: Option<Redaction>,
    /// `▶ replay 3/21 ×1`, when replaying.
    pub replay: Option<String>,
    pub theme: &'a Theme,
}

/// Rows of the card on a body of `h` rows (the rest is the header and the timeline).
fn card_rows(h: u16) -> u16 {
    (h.saturating_sub(2) * 3 / 5)
        .max(6)
        .min(h.saturating_sub(2))
}

impl PresentView<'_> {
    fn hide<'s>(&self, s: &'s str) -> std::borrow::Cow<'s, str> {
        match self.redaction {
            Some(r) => redact::text(s, r),
            None => std::borrow::Cow::Borrowed(s),
        }
    }

    fn header(&self, w: usize) -> Vec<Piece> {
        let mut p: Vec<Piece> = vec![(Role::Title, " ◆ ".into())];
        match &self.run {
            Some(run) => {
                p.push((Role::Title, sanitize::line(run.id()).into_owned()));
                let outcome = run.outcome();
                p.push((
                    if outcome.is_bad() {
                        Role::Error
                    } else {
                        Role::Ok
                    },
                    format!("  {}", outcome.as_str()),
                ));
                p.push((
                    Role::Text,
                    format!("  ·  step #{} of {}", self.step, self.len),
                ));
            }
            None => p.push((Role::Dim, "no run".into())),
        }
        if let Some(r) = &self.replay {
            p.push((Role::Accent, format!("  ·  {r}")));
        }
        let text: String = p.iter().map(|(_, s)| s.as_str()).collect();
        if width(&text) > w {
            return vec![(Role::Title, fit(&text, w).into_owned())];
        }
        p
    }

    /// The card's lines for `rows` rows of `w` columns: whether it failed first, then
    /// each section (what it tried, called, got back) cut to its share of the rows, then
    /// the marks.
    fn card_lines(&self, card: &Card, run_id: &str, w: usize, rows: usize) -> Vec<Vec<Piece>> {
        let verdict = match &card.failed {
            Some(e) => wrap(&[(Role::Error, format!("✗ FAILED: {e}"))], w),
            None => vec![vec![(Role::Ok, "✓ did not fail".to_string())]],
        };
        let marks: Vec<Vec<Piece>> = marks_at(self.marks, run_id, card.step, self.redaction)
            .into_iter()
            .flat_map(|(kind, text)| {
                wrap(
                    &[(
                        Role::Warn,
                        if text.is_empty() {
                            format!("{} {}", kind.glyph(), kind.label())
                        } else {
                            format!("{} {}: {text}", kind.glyph(), kind.label())
                        },
                    )],
                    w,
                )
            })
            .collect();
        let label = |name: &str, from: u32| {
            if from == card.step {
                name.to_string()
            } else {
                format!("{name}  (step #{from})")
            }
        };
        let mut sections: Vec<(String, Role, &str)> = Vec::new();
        if let Some((from, intent)) = &card.intent {
            sections.push((label("TRYING TO", *from), Role::Decision, intent));
        }
        if let Some(call) = &card.call {
            sections.push(("CALLED".into(), Role::Text, call));
        }
        if let Some((from, result)) = &card.result {
            sections.push((label("GOT BACK", *from), Role::Text, result));
        }
        let mut out: Vec<Vec<Piece>> = verdict.into_iter().take(2).collect();
        let room = rows.saturating_sub(out.len() + marks.len().min(2) + sections.len());
        let share = (room / sections.len().max(1)).max(1);
        for (name, role, text) in sections {
            out.push(vec![(Role::Header, name)]);
            let mut lines = wrap(&[(role, format!("  {text}"))], w);
            if lines.len() > share {
                lines.truncate(share);
                if let Some(last) = lines.last_mut() {
                    let text: String = last.iter().map(|(_, s)| s.as_str()).collect();
                    let cut = fit(&text, w.saturating_sub(1)).into_owned();
                    *last = vec![(role, format!("{}…", cut.trim_end_matches('…')))];
                }
            }
            out.extend(lines);
        }
        out.extend(marks);
        out
    }

    fn timeline_row(&self, run: &RunRef<'_>, i: usize, w: usize) -> Vec<Piece> {
        let s = run.step(i);
        let selected = i == self.step;
        let name = sanitize::line(&self.hide(s.name.unwrap_or(""))).into_owned();
        let mut p: Vec<Piece> = vec![
            (Role::Accent, if selected { "› " } else { "  " }.into()),
            (Role::Dim, format!("#{i:<4} ")),
            (Role::Text, format!("{:<12} ", s.kind.as_str())),
            (
                if s.is_error() {
                    Role::Error
                } else {
                    Role::Text
                },
                name,
            ),
        ];
        if let Some(e) = s.error.filter(|_| s.is_error()) {
            p.push((
                Role::Error,
                format!("  ✗ {}", sanitize::line(&self.hide(e))),
            ));
        }
        for (kind, _) in marks_at(self.marks, run.id(), i as u32, None) {
            p.push((Role::Warn, format!(" {}", kind.glyph())));
        }
        let text: String = p.iter().map(|(_, s)| s.as_str()).collect();
        if width(&text) > w {
            // Keep the roles of what fits, cut the rest.
            let mut out = Vec::new();
            let mut used = 0;
            for (role, s) in p {
                let t = fit(&s, w.saturating_sub(used)).into_owned();
                used += width(&t);
                out.push((role, t));
            }
            return out;
        }
        p
    }
}

impl Widget for PresentView<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let t = self.theme;
        if area.height < 4 || area.width < 10 {
            return;
        }
        let w = area.width as usize;
        draw_row(buf, area, area.y, &self.header(w), false, t);
        let card_h = card_rows(area.height);
        let card_area = Rect::new(area.x, area.y + 2, area.width, card_h);
        let title = match (&self.run, self.card) {
            (Some(run), _) if self.step < run.step_count() => {
                let s = run.step(self.step);
                let name = sanitize::line(&self.hide(s.name.unwrap_or(""))).into_owned();
                format!(" Step #{} · {} {} ", self.step, s.kind.as_str(), name)
            }
            _ => " Step ".to_string(),
        };
        let block = Block::default()
            .borders(Borders::ALL)
            .border_type(BorderType::Thick)
            .border_style(t.style(Role::BorderFocus))
            .title(Span::styled(
                fit(&title, w.saturating_sub(4)).into_owned(),
                t.style(Role::Title),
            ));
        let inner = block.inner(card_area);
        block.render(card_area, buf);
        let body = Rect::new(
            inner.x + 1,
            inner.y,
            inner.width.saturating_sub(2),
            inner.height,
        );
        match (self.card, &self.run) {
            (Some(card), Some(run)) => {
                let rows = body.height as usize;
                let lines = self.card_lines(card, run.id(), body.width as usize, rows);
                for (i, line) in lines.iter().take(rows).enumerate() {
                    draw_row(buf, body, body.y + i as u16, line, false, t);
                }
            }
            _ => {
                let msg = match self.card_error {
                    Some(e) => format!("cannot read the step: {}", sanitize::line(e)),
                    None => format!("reading step #{}…", self.step),
                };
                draw_message(buf, body, &msg, t);
            }
        }
        // The timeline around the step.
        let top = card_area.y + card_area.height;
        let bottom = area.y + area.height;
        if top + 2 > bottom {
            return;
        }
        let list = Rect::new(
            area.x + 1,
            top + 1,
            area.width.saturating_sub(2),
            bottom - top - 1,
        );
        draw_row(
            buf,
            list,
            top,
            &[(Role::Header, " Timeline".into())],
            false,
            t,
        );
        let Some(run) = &self.run else { return };
        let rows = list.height as usize;
        let len = self.len.min(run.step_count());
        let first = self
            .step
            .saturating_sub(rows / 2)
            .min(len.saturating_sub(rows));
        for (row, i) in (first..len).take(rows).enumerate() {
            let line = self.timeline_row(run, i, list.width as usize);
            draw_row(buf, list, list.y + row as u16, &line, i == self.step, t);
        }
    }
}

/// A small box in the middle of the screen: `title`, wrapped `text`, and a hint line.
pub fn draw_box(
    buf: &mut Buffer,
    screen: Rect,
    title: &str,
    text: &str,
    hint: &str,
    theme: &Theme,
) {
    // As wide as the text needs, within the screen.
    let w = screen.width.min(76);
    let inner_w = w.saturating_sub(4) as usize;
    let lines = wrap(&[(Role::Text, text.to_string())], inner_w.max(1));
    let h = (lines.len() as u16 + 4).min(screen.height);
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
    for (i, line) in lines
        .iter()
        .take(body.height.saturating_sub(1) as usize)
        .enumerate()
    {
        draw_row(buf, body, body.y + i as u16, line, false, theme);
    }
    if body.height > 0 {
        draw_row(
            buf,
            body,
            body.y + body.height - 1,
            &[(Role::Dim, fit(hint, body.width as usize).into_owned())],
            false,
            theme,
        );
    }
}
