//! Event time: ISO-8601 timestamps ↔ milliseconds since the Unix epoch, and
//! the durations of the handler's configuration. The window is measured on
//! the events' own timestamps, never the wall clock, so a replay or a test
//! gives the same alerts as the live run.

/// `2026-11-22T06:00:00.250Z` (or with an offset, `+01:00`) → milliseconds
/// since 1970-01-01T00:00:00Z. `None` when the text is not an ISO-8601
/// date-time with `Z` or an offset.
pub fn parse_millis(ts: &str) -> Option<i64> {
    let b = ts.as_bytes();
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let s = ts.get(r)?;
        if s.bytes().all(|c| c.is_ascii_digit()) { s.parse().ok() } else { None }
    };
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let month_days = [31, if leap { 29 } else { 28 }, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    if !(1..=12).contains(&month) || day < 1 || day > month_days[(month - 1) as usize] || hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let mut i = 19;
    let mut millis = 0;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let mut digits = 0;
        while let Some(c) = b.get(i).filter(|c| c.is_ascii_digit()) {
            if digits < 3 {
                millis = millis * 10 + i64::from(c - b'0');
            }
            digits += 1;
            i += 1;
        }
        if digits == 0 {
            return None;
        }
        for _ in digits..3 {
            millis *= 10;
        }
    }
    let offset_minutes = match b.get(i) {
        Some(b'Z' | b'z') if i + 1 == b.len() => 0,
        Some(sign @ (b'+' | b'-')) if b.len() == i + 6 && b[i + 3] == b':' => {
            let m = num(i + 1..i + 3)? * 60 + num(i + 4..i + 6)?;
            if *sign == b'+' { m } else { -m }
        }
        _ => return None,
    };
    let seconds = days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second - offset_minutes * 60;
    Some(seconds * 1000 + millis)
}

/// Milliseconds since the epoch → `2026-11-22T06:00:00.250Z` (always UTC,
/// always milliseconds).
pub fn format_millis(ms: i64) -> String {
    let (seconds, millis) = (ms.div_euclid(1000), ms.rem_euclid(1000));
    let (days, secs) = (seconds.div_euclid(86_400), seconds.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{millis:03}Z", secs / 3600, secs % 3600 / 60, secs % 60)
}

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

/// Days since 1970-01-01 (H. Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
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
