//! Where the panes go for a terminal size: a pure function of the size and the focused
//! pane, used by `App::update` (to know list heights and click targets) and by the
//! renderer alike. Wide terminals show every pane; small ones (80x24) show one pane at a
//! time under a tab bar, a list with a detail preview below it.

use ratatui::layout::Rect;

/// A pane of the main screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Pane {
    Runs,
    Timeline,
    Tree,
    Detail,
}

impl Pane {
    pub const ALL: [Pane; 4] = [Pane::Runs, Pane::Timeline, Pane::Tree, Pane::Detail];

    pub fn title(self) -> &'static str {
        match self {
            Pane::Runs => "Runs",
            Pane::Timeline => "Timeline",
            Pane::Tree => "Tree",
            Pane::Detail => "Detail",
        }
    }

    pub fn next(self) -> Pane {
        let i = Pane::ALL.iter().position(|&p| p == self).unwrap_or(0);
        Pane::ALL[(i + 1) % Pane::ALL.len()]
    }

    pub fn prev(self) -> Pane {
        let i = Pane::ALL.iter().position(|&p| p == self).unwrap_or(0);
        Pane::ALL[(i + Pane::ALL.len() - 1) % Pane::ALL.len()]
    }
}

/// Every pane at once, or one at a time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Wide,
    Compact,
}

/// The rectangles of one screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Areas {
    pub mode: Mode,
    pub tabs: Option<Rect>,
    pub runs: Option<Rect>,
    pub timeline: Option<Rect>,
    pub tree: Option<Rect>,
    pub detail: Option<Rect>,
    pub status: Rect,
    pub hints: Rect,
}

impl Areas {
    pub fn of(&self, pane: Pane) -> Option<Rect> {
        match pane {
            Pane::Runs => self.runs,
            Pane::Timeline => self.timeline,
            Pane::Tree => self.tree,
            Pane::Detail => self.detail,
        }
    }

    /// The pane under a screen position.
    pub fn pane_at(&self, x: u16, y: u16) -> Option<Pane> {
        Pane::ALL.into_iter().find(|&p| {
            self.of(p)
                .is_some_and(|r| x >= r.x && x < r.right() && y >= r.y && y < r.bottom())
        })
    }
}

/// Wide layout from this size up.
pub const WIDE_MIN: (u16, u16) = (120, 30);

pub fn areas(size: Rect, focus: Pane) -> Areas {
    let h = size.height;
    let status = Rect::new(size.x, size.y + h.saturating_sub(2), size.width, 1.min(h));
    let hints = Rect::new(
        size.x,
        size.y + h.saturating_sub(1),
        size.width,
        1.min(h.saturating_sub(1)),
    );
    let main_h = h.saturating_sub(2);
    if size.width >= WIDE_MIN.0 && h >= WIDE_MIN.1 {
        let runs_h = (main_h * 3 / 10).max(6);
        let rest = main_h - runs_h;
        let mid_h = rest * 11 / 20;
        let detail_h = rest - mid_h;
        let tl_w = size.width * 29 / 50;
        let y = size.y;
        return Areas {
            mode: Mode::Wide,
            tabs: None,
            runs: Some(Rect::new(size.x, y, size.width, runs_h)),
            timeline: Some(Rect::new(size.x, y + runs_h, tl_w, mid_h)),
            tree: Some(Rect::new(
                size.x + tl_w,
                y + runs_h,
                size.width - tl_w,
                mid_h,
            )),
            detail: Some(Rect::new(size.x, y + runs_h + mid_h, size.width, detail_h)),
            status,
            hints,
        };
    }
    let tabs = Rect::new(size.x, size.y, size.width, 1.min(main_h));
    let body = Rect::new(
        size.x,
        size.y + tabs.height,
        size.width,
        main_h.saturating_sub(tabs.height),
    );
    let mut a = Areas {
        mode: Mode::Compact,
        tabs: Some(tabs),
        runs: None,
        timeline: None,
        tree: None,
        detail: None,
        status,
        hints,
    };
    match focus {
        Pane::Runs => a.runs = Some(body),
        Pane::Detail => a.detail = Some(body),
        Pane::Timeline | Pane::Tree => {
            // The list on top, a preview of the selected step's detail below.
            let (list, detail) = if body.height >= 14 {
                let list_h = body.height * 3 / 5;
                (
                    Rect::new(body.x, body.y, body.width, list_h),
                    Some(Rect::new(
                        body.x,
                        body.y + list_h,
                        body.width,
                        body.height - list_h,
                    )),
                )
            } else {
                (body, None)
            };
            a.detail = detail;
            if focus == Pane::Timeline {
                a.timeline = Some(list);
            } else {
                a.tree = Some(list);
            }
        }
    }
    a
}

/// The part of a pane inside its frame: wide panes are boxed, compact ones have a title
/// line only.
pub fn inner(area: Rect, mode: Mode) -> Rect {
    match mode {
        Mode::Wide => Rect::new(
            area.x + 1.min(area.width),
            area.y + 1.min(area.height),
            area.width.saturating_sub(2),
            area.height.saturating_sub(2),
        ),
        Mode::Compact => Rect::new(
            area.x,
            area.y + 1.min(area.height),
            area.width,
            area.height.saturating_sub(1),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_terminals_show_one_pane_with_tabs() {
        let a = areas(Rect::new(0, 0, 80, 24), Pane::Runs);
        assert_eq!(a.mode, Mode::Compact);
        assert_eq!(a.runs, Some(Rect::new(0, 1, 80, 21)));
        assert!(a.timeline.is_none() && a.tree.is_none() && a.detail.is_none());
        let a = areas(Rect::new(0, 0, 80, 24), Pane::Timeline);
        assert!(a.timeline.is_some() && a.detail.is_some());
        assert_eq!(a.status.y, 22);
        assert_eq!(a.hints.y, 23);
    }

    #[test]
    fn wide_terminals_show_every_pane_without_overlap() {
        let a = areas(Rect::new(0, 0, 160, 48), Pane::Runs);
        assert_eq!(a.mode, Mode::Wide);
        let rects: Vec<Rect> = Pane::ALL.iter().filter_map(|&p| a.of(p)).collect();
        assert_eq!(rects.len(), 4);
        for (i, r) in rects.iter().enumerate() {
            for s in &rects[i + 1..] {
                assert!(!r.intersects(*s), "{r:?} {s:?}");
            }
            assert!(r.bottom() <= a.status.y);
        }
        assert_eq!(a.pane_at(150, 20), Some(Pane::Tree));
    }

    #[test]
    fn tiny_terminals_do_not_panic() {
        for (w, h) in [(0, 0), (1, 1), (10, 3), (20, 5), (120, 30)] {
            let a = areas(Rect::new(0, 0, w, h), Pane::Timeline);
            if let Some(t) = a.timeline {
                let _ = inner(t, a.mode);
            }
        }
    }
}
