//! ISO-8601 → the time of an eZ Publish log record: `eZLog::write()`'s
//! `strftime( "%b %d %Y %H:%M:%S" )`, here always in UTC.

use wasp_guest::time;

/// `2007-05-23T14:47:58.123Z` → `May 23 2007 14:47:58`; an offset is
/// converted to UTC, fractional seconds are dropped. `None` when the text is
/// not an ISO-8601 date-time.
pub fn from_iso8601(ts: &str) -> Option<String> {
    let t = time::utc(time::parse_millis(ts)?);
    Some(format!("{} {:02} {} {:02}:{:02}:{:02}", time::MONTHS[t.month as usize - 1], t.day, t.year, t.hour, t.minute, t.second))
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
