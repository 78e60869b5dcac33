//! Colours by role. Panes ask for a [`Role`] and never name a colour; the theme maps the
//! role to a style for the terminal's colour depth (none under `NO_COLOR`, the 16 named
//! ANSI colours, or the 256-colour palette) and the chosen light or dark background.
//! Colour is never the only signal: panes pair every role with a glyph or a word.

use ratatui::style::{Color, Modifier, Style};

/// Dark or light background.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThemeName {
    Dark,
    Light,
}

impl ThemeName {
    pub fn parse(s: &str) -> Option<ThemeName> {
        match s.trim().to_ascii_lowercase().as_str() {
            "dark" => Some(ThemeName::Dark),
            "light" => Some(ThemeName::Light),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ThemeName::Dark => "dark",
            ThemeName::Light => "light",
        }
    }

    pub fn toggled(self) -> ThemeName {
        match self {
            ThemeName::Dark => ThemeName::Light,
            ThemeName::Light => ThemeName::Dark,
        }
    }
}

/// How many colours the terminal shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColorDepth {
    /// `NO_COLOR` (or a dumb terminal): attributes only (bold, dim, reverse).
    None,
    /// The 16 named ANSI colours: the terminal's own theme decides what they look like.
    Ansi16,
    Ansi256,
}

impl ColorDepth {
    /// From the environment: `NO_COLOR` (any non-empty value) wins, then `TERM=dumb`,
    /// then `COLORTERM` or a `TERM` naming 256 colours; otherwise 16.
    pub fn detect() -> ColorDepth {
        let var = |k: &str| std::env::var(k).unwrap_or_default();
        ColorDepth::from_env(&var("NO_COLOR"), &var("TERM"), &var("COLORTERM"))
    }

    pub fn from_env(no_color: &str, term: &str, colorterm: &str) -> ColorDepth {
        if !no_color.is_empty() || term == "dumb" {
            ColorDepth::None
        } else if term.contains("256") || colorterm == "truecolor" || colorterm == "24bit" {
            ColorDepth::Ansi256
        } else {
            ColorDepth::Ansi16
        }
    }
}

/// What a piece of text is, as far as colour goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    Text,
    Dim,
    Title,
    Header,
    Border,
    BorderFocus,
    Selection,
    Ok,
    Error,
    Warn,
    /// A change to an outside system.
    Effect,
    /// Steps after the first failure.
    Cascade,
    Decision,
    Accent,
    TabActive,
    Status,
    Key,
    // Highlighted JSON and code.
    SynKey,
    SynString,
    SynNumber,
    SynLiteral,
    SynPunct,
    SynKeyword,
    SynComment,
    SynFunction,
    SynType,
}

/// The styles in use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Theme {
    pub name: ThemeName,
    pub depth: ColorDepth,
    /// High contrast, for a projector (presenter mode): brighter colours, bold text,
    /// nothing dimmed.
    pub contrast: bool,
}

impl Theme {
    pub fn new(name: ThemeName, depth: ColorDepth) -> Theme {
        Theme {
            name,
            depth,
            contrast: false,
        }
    }

    pub fn style(&self, role: Role) -> Style {
        if self.contrast {
            return high_contrast(role, self.name, self.depth);
        }
        let base = Style::default().add_modifier(modifiers(role));
        match self.depth {
            ColorDepth::None => match role {
                Role::Selection => base.add_modifier(Modifier::REVERSED),
                _ => base,
            },
            ColorDepth::Ansi16 => match role {
                Role::Selection => base.add_modifier(Modifier::REVERSED),
                _ => apply(base, role, self.name, ansi16(role, self.name)),
            },
            ColorDepth::Ansi256 => apply(base, role, self.name, ansi256(role, self.name)),
        }
    }
}

/// The projector's styles: full white (or black) text, bold, saturated colours, no dim.
fn high_contrast(role: Role, name: ThemeName, depth: ColorDepth) -> Style {
    let dark = name == ThemeName::Dark;
    let base = Style::default().add_modifier(match role {
        Role::Dim | Role::Border | Role::SynPunct | Role::SynComment => Modifier::empty(),
        Role::Selection => Modifier::REVERSED | Modifier::BOLD,
        Role::Status | Role::TabActive => Modifier::REVERSED | Modifier::BOLD,
        _ => Modifier::BOLD,
    });
    let (fg, named) = match role {
        Role::Selection | Role::Status | Role::TabActive => return base,
        Role::Error => (if dark { 196 } else { 124 }, Color::Red),
        Role::Ok => (if dark { 46 } else { 22 }, Color::Green),
        Role::Warn | Role::Cascade => (if dark { 226 } else { 94 }, Color::Yellow),
        Role::Accent | Role::Key | Role::BorderFocus | Role::Decision => {
            (if dark { 51 } else { 18 }, Color::Cyan)
        }
        Role::Effect => (if dark { 201 } else { 90 }, Color::Magenta),
        Role::Dim | Role::Border => (if dark { 250 } else { 238 }, Color::Gray),
        _ => (
            if dark { 231 } else { 16 },
            if dark { Color::White } else { Color::Black },
        ),
    };
    match depth {
        ColorDepth::None => base,
        ColorDepth::Ansi16 => base.fg(named),
        ColorDepth::Ansi256 => base.fg(Color::Indexed(fg)),
    }
}

/// Attributes a role has at every colour depth (so `NO_COLOR` still shows structure).
fn modifiers(role: Role) -> Modifier {
    match role {
        Role::Title | Role::Header | Role::Error | Role::TabActive | Role::Key => Modifier::BOLD,
        Role::BorderFocus => Modifier::BOLD,
        Role::Effect => Modifier::BOLD,
        Role::Dim | Role::SynComment => Modifier::DIM,
        Role::Decision => Modifier::ITALIC,
        _ => Modifier::empty(),
    }
}

fn apply(base: Style, role: Role, name: ThemeName, fg: Option<Color>) -> Style {
    let style = match fg {
        Some(c) => base.fg(c),
        None => base,
    };
    match (role, name) {
        (Role::Selection, ThemeName::Dark) => style.bg(Color::Indexed(238)),
        (Role::Selection, ThemeName::Light) => style.bg(Color::Indexed(253)),
        (Role::TabActive, _) | (Role::Status, _) => style.add_modifier(Modifier::REVERSED),
        _ => style,
    }
}

fn ansi16(role: Role, name: ThemeName) -> Option<Color> {
    let dark = name == ThemeName::Dark;
    Some(match role {
        Role::Text | Role::Status | Role::TabActive => return None,
        Role::Selection => return None,
        Role::Dim | Role::Border | Role::SynPunct => {
            if dark {
                Color::DarkGray
            } else {
                Color::Gray
            }
        }
        Role::Title | Role::Header => return None,
        Role::BorderFocus | Role::Accent | Role::Key => {
            if dark {
                Color::Cyan
            } else {
                Color::Blue
            }
        }
        Role::Ok => Color::Green,
        Role::Error => Color::Red,
        Role::Warn | Role::Cascade => {
            if dark {
                Color::Yellow
            } else {
                Color::Magenta
            }
        }
        Role::Effect => Color::Magenta,
        Role::Decision => {
            if dark {
                Color::Cyan
            } else {
                Color::Blue
            }
        }
        Role::SynKey => Color::Blue,
        Role::SynString => Color::Green,
        Role::SynNumber | Role::SynLiteral => {
            if dark {
                Color::Yellow
            } else {
                Color::Magenta
            }
        }
        Role::SynKeyword => Color::Magenta,
        Role::SynComment => return None,
        Role::SynFunction => {
            if dark {
                Color::Cyan
            } else {
                Color::Blue
            }
        }
        Role::SynType => Color::Yellow,
    })
}

fn ansi256(role: Role, name: ThemeName) -> Option<Color> {
    let dark = name == ThemeName::Dark;
    let pick = |d: u8, l: u8| Color::Indexed(if dark { d } else { l });
    Some(match role {
        Role::Text | Role::Status | Role::TabActive | Role::Selection => return None,
        Role::Title | Role::Header => pick(252, 235),
        Role::Dim | Role::SynPunct => pick(245, 243),
        Role::Border => pick(240, 248),
        Role::BorderFocus | Role::Accent | Role::Key => pick(81, 25),
        Role::Ok => pick(114, 28),
        Role::Error => pick(203, 160),
        Role::Warn => pick(221, 130),
        Role::Cascade => pick(179, 94),
        Role::Effect => pick(213, 127),
        Role::Decision => pick(117, 31),
        Role::SynKey => pick(111, 26),
        Role::SynString => pick(150, 64),
        Role::SynNumber | Role::SynLiteral => pick(215, 166),
        Role::SynKeyword => pick(176, 90),
        Role::SynComment => pick(244, 245),
        Role::SynFunction => pick(80, 30),
        Role::SynType => pick(222, 136),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_color_wins_over_a_256_colour_terminal() {
        assert_eq!(
            ColorDepth::from_env("1", "xterm-256color", "truecolor"),
            ColorDepth::None
        );
        assert_eq!(
            ColorDepth::from_env("", "xterm-256color", ""),
            ColorDepth::Ansi256
        );
        assert_eq!(ColorDepth::from_env("", "xterm", ""), ColorDepth::Ansi16);
        assert_eq!(ColorDepth::from_env("", "dumb", ""), ColorDepth::None);
    }

    #[test]
    fn no_color_uses_no_colour_at_all() {
        let theme = Theme::new(ThemeName::Dark, ColorDepth::None);
        for role in [
            Role::Error,
            Role::Ok,
            Role::Effect,
            Role::Selection,
            Role::SynKey,
        ] {
            let s = theme.style(role);
            assert_eq!((s.fg, s.bg), (None, None), "{role:?}");
        }
        // Structure survives as attributes.
        assert!(theme
            .style(Role::Selection)
            .add_modifier
            .contains(Modifier::REVERSED));
        assert!(theme
            .style(Role::Error)
            .add_modifier
            .contains(Modifier::BOLD));
    }

    #[test]
    fn sixteen_colours_use_named_colours_only() {
        for name in [ThemeName::Dark, ThemeName::Light] {
            let theme = Theme::new(name, ColorDepth::Ansi16);
            for role in [
                Role::Error,
                Role::Ok,
                Role::Effect,
                Role::Dim,
                Role::SynString,
            ] {
                let fg = theme.style(role).fg;
                assert!(
                    !matches!(fg, Some(Color::Indexed(_)) | Some(Color::Rgb(..))),
                    "{role:?} {fg:?}"
                );
            }
        }
    }

    #[test]
    fn high_contrast_dims_nothing_and_keeps_no_color() {
        let mut t = Theme::new(ThemeName::Dark, ColorDepth::Ansi256);
        t.contrast = true;
        assert!(!t.style(Role::Dim).add_modifier.contains(Modifier::DIM));
        assert_eq!(t.style(Role::Text).fg, Some(Color::Indexed(231)));
        t.depth = ColorDepth::None;
        assert_eq!(t.style(Role::Error).fg, None);
    }

    #[test]
    fn light_and_dark_differ() {
        let d = Theme::new(ThemeName::Dark, ColorDepth::Ansi256);
        let l = Theme::new(ThemeName::Light, ColorDepth::Ansi256);
        assert_ne!(d.style(Role::Dim), l.style(Role::Dim));
        assert_ne!(d.style(Role::Selection), l.style(Role::Selection));
    }
}
