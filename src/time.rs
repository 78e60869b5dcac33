//! Time parsing and formatting: RFC 3339 and epoch milliseconds, the two forms of `ts`.

use chrono::{DateTime, SecondsFormat, Utc};

/// Parses an RFC 3339 time (any offset) to epoch milliseconds.
pub fn parse_rfc3339_ms(s: &str) -> Option<i64> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.timestamp_millis())
}

/// Formats epoch milliseconds as RFC 3339 in UTC, with milliseconds only when non-zero.
pub fn format_rfc3339(ms: i64) -> String {
    match DateTime::<Utc>::from_timestamp_millis(ms) {
        Some(t) if ms % 1000 == 0 => t.to_rfc3339_opts(SecondsFormat::Secs, true),
        Some(t) => t.to_rfc3339_opts(SecondsFormat::Millis, true),
        None => ms.to_string(),
    }
}

/// A compact human form for tables: `2026-11-20 10:00:01`.
pub fn format_short(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_else(|| ms.to_string())
}

/// A human duration: `850ms`, `4.2s`, `3m07s`, `2h05m`.
pub fn format_duration(ms: f64) -> String {
    if !ms.is_finite() || ms < 0.0 {
        return "-".into();
    }
    if ms < 1000.0 {
        return format!("{}ms", ms.round() as i64);
    }
    let secs = ms / 1000.0;
    if secs < 60.0 {
        return format!("{secs:.1}s");
    }
    let total = secs.round() as i64;
    if total < 3600 {
        return format!("{}m{:02}s", total / 60, total % 60);
    }
    format!("{}h{:02}m", total / 3600, (total % 3600) / 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_round_trips_through_epoch_ms() {
        let ms = parse_rfc3339_ms("2026-11-20T10:00:00+01:00").unwrap();
        assert_eq!(format_rfc3339(ms), "2026-11-20T09:00:00Z");
        assert_eq!(format_rfc3339(ms + 250), "2026-11-20T09:00:00.250Z");
        assert_eq!(parse_rfc3339_ms("2026-11-20"), None);
    }

    #[test]
    fn durations_read_naturally() {
        assert_eq!(format_duration(310.0), "310ms");
        assert_eq!(format_duration(4_210.0), "4.2s");
        assert_eq!(format_duration(187_000.0), "3m07s");
        assert_eq!(format_duration(7_500_000.0), "2h05m");
    }
}
