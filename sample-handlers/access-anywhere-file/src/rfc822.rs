//! ISO-8601 → RFC 822 (PHP's `DATE_RFC822`: `D, d M y H:i:s O`), in UTC.

use wasp_guest::time;

/// `2026-11-22T04:44:00.123Z` → `Sun, 22 Nov 26 04:44:00 +0000`; `None` when
/// the text is not an ISO-8601 date-time. (Written byte by byte: `format!`
/// costs several times as much inside WebAssembly.)
pub fn from_iso8601(ts: &str) -> Option<String> {
    let t = time::utc(time::parse_millis(ts)?);
    let mut out = String::with_capacity(31);
    let two = |out: &mut String, n: u32| {
        out.push(char::from(b'0' + (n / 10 % 10) as u8));
        out.push(char::from(b'0' + (n % 10) as u8));
    };
    out.push_str(time::WEEKDAYS[t.weekday]);
    out.push_str(", ");
    two(&mut out, t.day);
    out.push(' ');
    out.push_str(time::MONTHS[t.month as usize - 1]);
    out.push(' ');
    two(&mut out, t.year.rem_euclid(100) as u32);
    out.push(' ');
    two(&mut out, t.hour);
    out.push(':');
    two(&mut out, t.minute);
    out.push(':');
    two(&mut out, t.second);
    out.push_str(" +0000");
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::from_iso8601;

    #[test]
    fn formats_like_php_date_rfc822() {
        assert_eq!(from_iso8601("2026-11-22T04:44:00.123Z").unwrap(), "Sun, 22 Nov 26 04:44:00 +0000");
        assert_eq!(from_iso8601("2000-02-29T23:30:00+01:00").unwrap(), "Tue, 29 Feb 00 22:30:00 +0000");
        assert_eq!(from_iso8601("1970-01-01T00:00:00-00:30").unwrap(), "Thu, 01 Jan 70 00:30:00 +0000");
        assert_eq!(from_iso8601("yesterday"), None);
        assert_eq!(from_iso8601("2026-13-01T00:00:00Z"), None);
        assert_eq!(from_iso8601("2026-02-29T00:00:00Z"), None, "2026 is not a leap year");
        assert_eq!(from_iso8601("2026-04-31T00:00:00Z"), None);
    }
}
