//! The optional config file: `key = value` lines, `#` comments. Read from
//! `$RETRACE_CONFIG`, else `$XDG_CONFIG_HOME/retrace/config`, else
//! `~/.config/retrace/config`. Keys: `theme = dark|light`, `mouse = on|off`. Unknown
//! keys and bad values are ignored: a config file never stops retrace from starting.

use std::path::PathBuf;

use super::theme::ThemeName;

/// What the config file sets.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Config {
    pub theme: Option<ThemeName>,
    pub mouse: Option<bool>,
}

pub fn parse(text: &str) -> Config {
    let mut c = Config::default();
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or("").trim();
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let value = value.trim().trim_matches('"');
        match key.trim() {
            "theme" => c.theme = ThemeName::parse(value).or(c.theme),
            "mouse" => {
                c.mouse = match value {
                    "on" | "true" | "yes" => Some(true),
                    "off" | "false" | "no" => Some(false),
                    _ => c.mouse,
                }
            }
            _ => {}
        }
    }
    c
}

pub fn path() -> Option<PathBuf> {
    let var = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty());
    if let Some(p) = var("RETRACE_CONFIG") {
        return Some(PathBuf::from(p));
    }
    if let Some(x) = var("XDG_CONFIG_HOME") {
        return Some(PathBuf::from(x).join("retrace/config"));
    }
    var("HOME").map(|h| PathBuf::from(h).join(".config/retrace/config"))
}

pub fn load() -> Config {
    path()
        .and_then(|p| std::fs::read_to_string(p).ok())
        .map(|t| parse(&t))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_values_and_comments() {
        let c = parse("# retrace\ntheme = \"light\"  # for the projector\nmouse=off\nbogus = 1\n");
        assert_eq!(
            c,
            Config {
                theme: Some(ThemeName::Light),
                mouse: Some(false)
            }
        );
        assert_eq!(parse("theme = purple"), Config::default());
    }
}
