//! Event time: ISO-8601 timestamps ↔ milliseconds since the Unix epoch, and
//! the durations of the handler's configuration. The window is measured on
//! the events' own timestamps, never the wall clock, so a replay or a test
//! gives the same alerts as the live run.

pub use wasp_guest::time::{format_millis, parse_millis};

/// A duration of the configuration: a number of milliseconds, or a string
/// `"<number> <unit>"` with unit `ms`, `s`/`seconds`, `m`/`minutes`,
/// `h`/`hours`, `d`/`days` (the same syntax as WASP's own durations).
pub fn parse_duration(value: &serde_json::Value) -> Result<i64, String> {
    let bad = || format!("`{value}` is not a duration: give milliseconds or e.g. \"5 minutes\"");
    if let Some(ms) = value.as_i64() {
        return Ok(ms);
    }
    let text = value.as_str().ok_or_else(bad)?.trim();
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: i64 = number.parse().map_err(|_| bad())?;
    let unit_ms = match unit.trim() {
        "" | "ms" | "millisecond" | "milliseconds" => 1,
        "s" | "sec" | "second" | "seconds" => 1000,
        "m" | "min" | "minute" | "minutes" => 60_000,
        "h" | "hour" | "hours" => 3_600_000,
        "d" | "day" | "days" => 86_400_000,
        _ => return Err(bad()),
    };
    number.checked_mul(unit_ms).ok_or_else(bad)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_round_trip_through_milliseconds() {
        assert_eq!(parse_millis("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_millis("1970-01-01T00:00:01.5Z"), Some(1500));
        assert_eq!(parse_millis("1970-01-01T01:00:00+01:00"), Some(0));
        assert_eq!(parse_millis("2026-11-22T06:00:00.123456Z"), parse_millis("2026-11-22T06:00:00.123Z"));
        let ms = parse_millis("2024-02-29T23:59:59.999Z").unwrap();
        assert_eq!(format_millis(ms), "2024-02-29T23:59:59.999Z");
        assert_eq!(parse_millis("2026-02-29T00:00:00Z"), None);
        assert_eq!(parse_millis("2026-01-01T00:00:00"), None);
        assert_eq!(parse_millis("yesterday"), None);
    }

    #[test]
    fn durations() {
        use serde_json::json;
        assert_eq!(parse_duration(&json!(1500)), Ok(1500));
        assert_eq!(parse_duration(&json!("5 minutes")), Ok(300_000));
        assert_eq!(parse_duration(&json!("30s")), Ok(30_000));
        assert_eq!(parse_duration(&json!("1 h")), Ok(3_600_000));
        assert!(parse_duration(&json!("soon")).is_err());
        assert!(parse_duration(&json!(true)).is_err());
    }
}
