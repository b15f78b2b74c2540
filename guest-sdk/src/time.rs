//! Event time for handlers: the RFC 3339 / ISO-8601 timestamps of audit
//! events (`2026-11-22T06:00:00.250Z`, or with an offset `+01:00`) to and
//! from milliseconds since the Unix epoch, and the UTC calendar fields that
//! log formats print (RFC 822, `strftime`, …). No clock is read: a handler
//! works on the events' own times, so a replay gives the same records.
//!
//! ```
//! use wasp_guest::time;
//!
//! let ms = time::parse_millis("2026-11-22T06:00:00.250+01:00").unwrap();
//! assert_eq!(time::format_millis(ms), "2026-11-22T05:00:00.250Z");
//! let t = time::utc(ms);
//! assert_eq!((t.year, t.month, t.day, t.hour, time::WEEKDAYS[t.weekday]), (2026, 11, 22, 5, "Sun"));
//! ```

/// English month abbreviations, January first.
pub const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/// English weekday abbreviations, Monday first (index of [`Utc::weekday`]).
pub const WEEKDAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

/// A moment's calendar fields in UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Utc {
    /// The year (e.g. 2026).
    pub year: i64,
    /// 1 to 12.
    pub month: u32,
    /// 1 to 31.
    pub day: u32,
    /// 0 to 23.
    pub hour: u32,
    /// 0 to 59.
    pub minute: u32,
    /// 0 to 59.
    pub second: u32,
    /// 0 to 999.
    pub millis: u32,
    /// 0 (Monday) to 6 (Sunday).
    pub weekday: usize,
}

/// `2026-11-22T06:00:00.250Z` or `…+01:00` (a space for the `T`, any number
/// of fractional digits — none after the `.` too — of which milliseconds
/// are kept) → milliseconds
/// since 1970-01-01T00:00:00Z. `None` when the text is not such a date-time
/// (a date that does not exist, no `Z` or offset, trailing text).
pub fn parse_millis(ts: &str) -> Option<i64> {
    let b = ts.as_bytes();
    // Digits only (no sign), folded by hand: `str::parse` costs several
    // times as much inside WebAssembly.
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        b.get(r)?.iter().try_fold(0_i64, |n, &c| c.is_ascii_digit().then(|| n * 10 + i64::from(c - b'0')))
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
        // `.` with no digits is taken as `.0` (as the Python and JavaScript
        // samples' parsers do, so the three write the same bytes).
        for _ in digits.min(3)..3 {
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

/// Milliseconds since the epoch → its calendar fields in UTC.
pub fn utc(ms: i64) -> Utc {
    let (seconds, millis) = (ms.div_euclid(1000), ms.rem_euclid(1000));
    let (days, secs) = (seconds.div_euclid(86_400), seconds.rem_euclid(86_400));
    let (year, month, day) = civil_from_days(days);
    Utc {
        year,
        month: month as u32,
        day: day as u32,
        hour: (secs / 3600) as u32,
        minute: (secs % 3600 / 60) as u32,
        second: (secs % 60) as u32,
        millis: millis as u32,
        // 1970-01-01 was a Thursday (index 3).
        weekday: (days + 3).rem_euclid(7) as usize,
    }
}

/// Milliseconds since the epoch → `2026-11-22T06:00:00.250Z` (always UTC,
/// always milliseconds).
pub fn format_millis(ms: i64) -> String {
    let t = utc(ms);
    format!("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", t.year, t.month, t.day, t.hour, t.minute, t.second, t.millis)
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

/// The civil date of a day count since 1970-01-01.
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_round_trip_and_offsets_convert_to_utc() {
        for ts in ["1970-01-01T00:00:00.000Z", "2026-11-22T06:00:00.250Z", "2000-02-29T23:59:59.999Z", "1969-12-31T23:59:59.500Z"] {
            assert_eq!(format_millis(parse_millis(ts).unwrap()), ts);
        }
        assert_eq!(parse_millis("2007-05-23T16:47:58+02:00"), parse_millis("2007-05-23T14:47:58Z"));
        assert_eq!(parse_millis("2026-11-22 06:00:00.1234Z"), parse_millis("2026-11-22T06:00:00.123Z"));
        assert_eq!(parse_millis("2026-11-22T04:44:00.Z"), parse_millis("2026-11-22T04:44:00Z"));
        let t = utc(parse_millis("2007-05-23T14:47:58Z").unwrap());
        assert_eq!((t.year, t.month, t.day, WEEKDAYS[t.weekday], MONTHS[t.month as usize - 1]), (2007, 5, 23, "Wed", "May"));
    }

    #[test]
    fn what_is_not_a_timestamp_is_none() {
        for ts in ["", "2026-11-22", "2026-11-22T06:00:00", "2026-02-30T00:00:00Z", "2026-11-22T06:00:00Z junk", "2026-13-01T00:00:00Z"] {
            assert_eq!(parse_millis(ts), None, "{ts:?}");
        }
    }
}
