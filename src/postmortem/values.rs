//! Input values unlike those seen before: a value of a failing call (or of a trigger)
//! compared with the values at the same place in runs that succeeded. Empty where they
//! never were, far longer, another script or emoji, negative, far larger, an impossible
//! date.

use std::collections::BTreeMap;

use serde_json::Value;

/// The leaves of a JSON value by path, array positions folded (`.items[].name`).
pub(crate) fn leaves(v: &Value) -> Vec<(String, &Value)> {
    fn walk<'v>(v: &'v Value, path: &mut String, out: &mut Vec<(String, &'v Value)>) {
        match v {
            Value::Object(o) if !o.is_empty() => {
                for (k, x) in o {
                    let len = path.len();
                    path.push('.');
                    path.push_str(k);
                    walk(x, path, out);
                    path.truncate(len);
                }
            }
            Value::Array(a) if !a.is_empty() => {
                for x in a {
                    let len = path.len();
                    path.push_str("[]");
                    walk(x, path, out);
                    path.truncate(len);
                }
            }
            _ => out.push((path.clone(), v)),
        }
    }
    let mut out = Vec::new();
    walk(v, &mut String::new(), &mut out);
    out
}

/// What the characters of a string are made of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Script {
    /// ASCII and the Latin letters with accents.
    Latin,
    /// Letters of another script (Greek, Cyrillic, Arabic, CJK ...).
    Other,
    /// Emoji and pictographs (4-byte UTF-8 symbols).
    Emoji,
    /// Control or invisible formatting characters.
    Control,
}

fn scripts(s: &str) -> Vec<Script> {
    let mut out: Vec<Script> = s
        .chars()
        .map(|c| match c as u32 {
            0..=0x1f | 0x7f..=0x9f | 0x200b..=0x200f | 0x202a..=0x202e | 0x2066..=0x2069 => {
                if c == '\n' || c == '\t' {
                    Script::Latin
                } else {
                    Script::Control
                }
            }
            0x20..=0x24f | 0x1e00..=0x1eff | 0x2000..=0x206f | 0x20a0..=0x20cf => Script::Latin,
            0x2190..=0x2bff | 0xfe0f | 0x1f000..=0x1faff => Script::Emoji,
            _ if !c.is_alphanumeric() => Script::Latin,
            _ => Script::Other,
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

/// A calendar date or date-time written `YYYY-MM-DD…` whose parts cannot exist, or a
/// year far outside any plausible range.
fn impossible_date(s: &str) -> Option<&'static str> {
    let b = s.as_bytes();
    if b.len() < 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| s.get(r)?.parse::<u32>().ok();
    let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    if b.len() > 10 && !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    if !(1..=12).contains(&m) {
        return Some("a month that does not exist");
    }
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days = match m {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    };
    if d == 0 || d > days {
        return Some("a day that does not exist in its month");
    }
    if !(1900..=2200).contains(&y) {
        return Some("a year far outside any plausible range");
    }
    None
}

/// Fewer earlier values than this at a path say too little about what is usual.
const MIN_SAMPLES: usize = 2;

/// What the successful runs held at each path.
#[derive(Default)]
pub(crate) struct Usual {
    paths: BTreeMap<String, Seen>,
}

#[derive(Default)]
struct Seen {
    count: usize,
    empty: usize,
    negative: usize,
    max_len: usize,
    max_abs: f64,
    scripts: Vec<Script>,
}

impl Usual {
    pub(crate) fn add(&mut self, v: &Value) {
        for (path, leaf) in leaves(v) {
            let seen = self.paths.entry(path).or_default();
            seen.count += 1;
            match leaf {
                Value::Null => seen.empty += 1,
                Value::String(s) => {
                    if s.trim().is_empty() {
                        seen.empty += 1;
                    }
                    seen.max_len = seen.max_len.max(s.chars().count());
                    for sc in scripts(s) {
                        if !seen.scripts.contains(&sc) {
                            seen.scripts.push(sc);
                        }
                    }
                }
                Value::Array(a) if a.is_empty() => seen.empty += 1,
                Value::Object(o) if o.is_empty() => seen.empty += 1,
                Value::Number(n) => {
                    let x = n.as_f64().unwrap_or(0.0);
                    if x < 0.0 {
                        seen.negative += 1;
                    }
                    seen.max_abs = seen.max_abs.max(x.abs());
                }
                _ => {}
            }
        }
    }

    pub(crate) fn samples(&self) -> usize {
        self.paths.values().map(|s| s.count).max().unwrap_or(0)
    }

    /// The values of `v` unlike the usual ones, as (path, value, what is unusual).
    pub(crate) fn unusual<'v>(&self, v: &'v Value) -> Vec<(String, &'v Value, String)> {
        let mut out = Vec::new();
        for (path, leaf) in leaves(v) {
            if let Value::String(s) = leaf {
                if let Some(why) = impossible_date(s) {
                    out.push((path, leaf, why.to_string()));
                    continue;
                }
            }
            // An empty list is a leaf where other values had items (`.tags[]`).
            let seen = self.paths.get(&path).or_else(|| match leaf {
                Value::Array(a) if a.is_empty() => self.paths.get(&format!("{path}[]")),
                _ => None,
            });
            let Some(seen) = seen else {
                continue;
            };
            if seen.count < MIN_SAMPLES {
                continue;
            }
            let why = match leaf {
                Value::Null if seen.empty == 0 => Some("empty (null), never so before".into()),
                Value::Array(a) if a.is_empty() && seen.empty == 0 => {
                    Some("an empty list, never so before".into())
                }
                Value::String(s) if s.trim().is_empty() && seen.empty == 0 => {
                    Some("an empty string, never so before".into())
                }
                Value::String(s) => {
                    let len = s.chars().count();
                    let new: Vec<Script> = scripts(s)
                        .into_iter()
                        .filter(|sc| !seen.scripts.contains(sc))
                        .collect();
                    if let Some(sc) = new.iter().max() {
                        Some(match sc {
                            Script::Emoji => "holds emoji or pictographs (4-byte characters), never seen here before".to_string(),
                            Script::Control => "holds control or invisible characters, never seen here before".to_string(),
                            _ => "is written in another script than every earlier value".to_string(),
                        })
                    } else if len > 40 && len > seen.max_len.saturating_mul(4) {
                        Some(format!(
                            "{len} characters long, the longest before was {}",
                            seen.max_len
                        ))
                    } else {
                        None
                    }
                }
                Value::Number(n) => {
                    let x = n.as_f64().unwrap_or(0.0);
                    if x < 0.0 && seen.negative == 0 {
                        Some("negative, never so before".into())
                    } else if seen.max_abs > 0.0 && x.abs() > seen.max_abs * 100.0 {
                        Some(format!(
                            "over 100 times the largest earlier value ({})",
                            seen.max_abs
                        ))
                    } else {
                        None
                    }
                }
                _ => None,
            };
            if let Some(why) = why {
                out.push((path, leaf, why));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn usual(values: &[Value]) -> Usual {
        let mut u = Usual::default();
        for v in values {
            u.add(v);
        }
        u
    }

    #[test]
    fn unusual_values_are_found_by_path() {
        let u = usual(&[
            json!({"name": "Ana Lopez", "qty": 3, "tags": ["a"], "note": "short"}),
            json!({"name": "Zoë Brandt", "qty": 1, "tags": ["b"], "note": "tiny"}),
        ]);
        let odd = |v: Value| {
            u.unusual(&v)
                .into_iter()
                .map(|(p, _, why)| format!("{p}: {why}"))
                .collect::<Vec<_>>()
        };
        assert!(
            odd(json!({"name": "José Núñez", "qty": 2})).is_empty(),
            "accents are Latin"
        );
        assert!(odd(json!({"name": "Rocket 🚀"}))[0].contains("emoji"));
        assert!(odd(json!({"name": "Дмитрий"}))[0].contains("another script"));
        assert!(odd(json!({"qty": -4}))[0].contains("negative"));
        assert!(odd(json!({"name": ""}))[0].contains("empty"));
        assert!(odd(json!({"tags": []}))[0].contains("empty list"));
        assert!(odd(json!({"note": "x".repeat(500)}))[0].contains("500 characters"));
        assert!(odd(json!({"due": "2026-02-30"}))[0].contains("day that does not exist"));
        assert!(odd(json!({"due": "2026-13-01T00:00:00Z"}))[0].contains("month"));
        assert!(
            odd(json!({"due": "2024-02-29"})).is_empty(),
            "a leap day exists"
        );
    }
}
