//! The config file's core settings: where the file is, and the price table that turns
//! token counts into cost. The file holds `key = value` lines and `#` comments; it is read
//! from `$RETRACE_CONFIG`, else `$XDG_CONFIG_HOME/retrace/config`, else
//! `~/.config/retrace/config`. A price line is `price.MODEL = INPUT OUTPUT`: the price of
//! 1,000 input and of 1,000 output tokens of that model (any currency, the same for all).
//! Bad lines are skipped: a config file never stops retrace.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::model::Tokens;

/// Where the config file is looked for.
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

/// The price of 1,000 tokens of one model.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Price {
    pub input_per_1k: f64,
    pub output_per_1k: f64,
}

impl Price {
    pub fn cost(&self, tokens: Tokens) -> f64 {
        tokens.input as f64 / 1000.0 * self.input_per_1k
            + tokens.output as f64 / 1000.0 * self.output_per_1k
    }
}

/// Prices by exact model name. Empty when the config sets none: cost is then not shown,
/// never guessed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PriceTable {
    prices: BTreeMap<String, Price>,
}

impl PriceTable {
    /// Reads the `price.MODEL = INPUT OUTPUT` lines of a config file's text.
    pub fn parse(text: &str) -> PriceTable {
        let mut prices = BTreeMap::new();
        for line in text.lines() {
            let line = line.split('#').next().unwrap_or("").trim();
            let Some((key, value)) = line.split_once('=') else {
                continue;
            };
            let Some(model) = key.trim().strip_prefix("price.") else {
                continue;
            };
            let figures: Vec<f64> = value
                .trim()
                .trim_matches('"')
                .split_whitespace()
                .map_while(|f| f.parse().ok())
                .filter(|f: &f64| f.is_finite() && *f >= 0.0)
                .collect();
            if let ([input, output], false) = (figures.as_slice(), model.is_empty()) {
                prices.insert(
                    model.to_string(),
                    Price {
                        input_per_1k: *input,
                        output_per_1k: *output,
                    },
                );
            }
        }
        PriceTable { prices }
    }

    /// The price table of the config file; empty when there is none.
    pub fn load() -> PriceTable {
        path()
            .and_then(|p| std::fs::read_to_string(p).ok())
            .map(|t| PriceTable::parse(&t))
            .unwrap_or_default()
    }

    pub fn is_empty(&self) -> bool {
        self.prices.is_empty()
    }

    pub fn price(&self, model: &str) -> Option<Price> {
        self.prices.get(model).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn price_lines_and_what_is_skipped() {
        let table = PriceTable::parse(
            "theme = dark\n\
             price.gpt-4.1-2025-04-14 = 0.002 0.008  # per 1k\n\
             price.claude-sonnet-4-5 = \"0.003 0.015\"\n\
             price.half = 0.5\n\
             price.negative = -1 2\n\
             price. = 1 1\n\
             price.words = cheap dear\n",
        );
        assert_eq!(
            table.price("gpt-4.1-2025-04-14"),
            Some(Price {
                input_per_1k: 0.002,
                output_per_1k: 0.008
            })
        );
        assert!(table.price("claude-sonnet-4-5").is_some());
        for skipped in ["half", "negative", "", "words", "theme"] {
            assert_eq!(table.price(skipped), None, "{skipped}");
        }
        let price = table.price("claude-sonnet-4-5").unwrap();
        let cost = price.cost(Tokens {
            input: 2000,
            output: 1000,
        });
        assert!((cost - (0.006 + 0.015)).abs() < 1e-12);
        assert!(PriceTable::parse("# nothing\n").is_empty());
    }
}
