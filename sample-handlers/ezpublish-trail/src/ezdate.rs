//! ISO-8601 → the time of an eZ Publish log record: `eZLog::write()`'s
//! `strftime( "%b %d %Y %H:%M:%S" )`, here always in UTC.

const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/// `2007-05-23T14:47:58.123Z` → `May 23 2007 14:47:58`; an offset is
/// converted to UTC, fractional seconds are dropped. `None` when the text is
/// not an ISO-8601 date-time.
pub fn from_iso8601(ts: &str) -> Option<String> {
    let b = ts.as_bytes();
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let s = ts.get(r)?;
        if s.bytes().all(|c| c.is_ascii_digit()) { s.parse().ok() } else { None }
    };
    if b.len() < 19 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') || b[13] != b':' || b[16] != b':' {
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
    if b.get(i) == Some(&b'.') {
        i += 1;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
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
    let (days, secs) = (seconds.div_euclid(86_400), seconds.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    Some(format!(
        "{} {:02} {} {:02}:{:02}:{:02}",
        MONTHS[(m - 1) as usize],
        d,
        y,
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    ))
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
    use super::from_iso8601;

    #[test]
    fn formats_like_ezlog_strftime() {
        assert_eq!(from_iso8601("2007-05-23T14:47:58Z").unwrap(), "May 23 2007 14:47:58");
        assert_eq!(from_iso8601("2007-05-03T04:07:08.999Z").unwrap(), "May 03 2007 04:07:08", "zero-padded, fraction dropped");
        assert_eq!(from_iso8601("2007-05-23T16:47:58+02:00").unwrap(), "May 23 2007 14:47:58", "converted to UTC");
        assert_eq!(from_iso8601("2000-01-01T00:30:00+01:00").unwrap(), "Dec 31 1999 23:30:00");
        assert_eq!(from_iso8601("2024-02-29T23:59:59-00:01").unwrap(), "Mar 01 2024 00:00:59");
        assert_eq!(from_iso8601("yesterday"), None);
        assert_eq!(from_iso8601("2026-02-29T00:00:00Z"), None, "2026 is not a leap year");
        assert_eq!(from_iso8601("2026-01-01T00:00:00"), None, "no offset");
    }
}
