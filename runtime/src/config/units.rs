//! Durations and byte sizes as configuration values: a number, or a string
//! such as `"5 seconds"`, `"100 ms"`, `"1 m"`, `"64 MiB"`.

use std::time::Duration;

use serde::{Deserialize, Deserializer};

/// Parses a duration: `"<number> <unit>"` with unit `ms`/`milliseconds`,
/// `s`/`sec`/`seconds`, `m`/`min`/`minutes`, `h`/`hours`, `d`/`days`
/// (singular forms too, space optional); a bare number is milliseconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(text.len());
    let (number, unit) = (&text[..split], text[split..].trim());
    let value: f64 = number.parse().map_err(|_| format!("`{text}` is not a duration (expected e.g. \"5 seconds\", \"100 ms\")"))?;
    let millis = match unit.to_ascii_lowercase().as_str() {
        "" | "ms" | "milli" | "millis" | "millisecond" | "milliseconds" => 1.0,
        "s" | "sec" | "secs" | "second" | "seconds" => 1e3,
        "m" | "min" | "mins" | "minute" | "minutes" => 60e3,
        "h" | "hour" | "hours" => 3600e3,
        "d" | "day" | "days" => 86_400e3,
        other => return Err(format!("`{text}`: unknown duration unit `{other}` (use ms, s, m, h or d)")),
    };
    Ok(Duration::from_secs_f64(value * millis / 1e3))
}

/// Parses a byte size: a number of bytes, or `"<number> <unit>"` with unit
/// `B`, `KB`/`KiB`, `MB`/`MiB`, `GB`/`GiB` (all powers of 1024).
pub fn parse_bytes(text: &str) -> Result<usize, String> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (number, unit) = (&text[..split], text[split..].trim());
    let value: usize = number.parse().map_err(|_| format!("`{text}` is not a size (expected e.g. 1048576 or \"64 MiB\")"))?;
    let scale: usize = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        other => return Err(format!("`{text}`: unknown size unit `{other}` (use B, KiB, MiB or GiB)")),
    };
    value.checked_mul(scale).ok_or_else(|| format!("`{text}` is too large"))
}

#[derive(Deserialize)]
#[serde(untagged)]
enum NumberOrText {
    Number(u64),
    Text(String),
}

/// `serde` adapter: a duration field.
pub fn duration<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    match Option::<NumberOrText>::deserialize(d)? {
        None => Ok(None),
        Some(NumberOrText::Number(ms)) => Ok(Some(Duration::from_millis(ms))),
        Some(NumberOrText::Text(t)) => parse_duration(&t).map(Some).map_err(serde::de::Error::custom),
    }
}

/// `serde` adapter: a byte-size field.
pub fn bytes<'de, D: Deserializer<'de>>(d: D) -> Result<Option<usize>, D::Error> {
    match Option::<NumberOrText>::deserialize(d)? {
        None => Ok(None),
        Some(NumberOrText::Number(n)) => usize::try_from(n).map(Some).map_err(serde::de::Error::custom),
        Some(NumberOrText::Text(t)) => parse_bytes(&t).map(Some).map_err(serde::de::Error::custom),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_in_forgerock_style() {
        assert_eq!(parse_duration("5 seconds").unwrap(), Duration::from_secs(5));
        assert_eq!(parse_duration("100 ms").unwrap(), Duration::from_millis(100));
        assert_eq!(parse_duration("1 m").unwrap(), Duration::from_secs(60));
        assert_eq!(parse_duration("6 hours").unwrap(), Duration::from_secs(6 * 3600));
        assert_eq!(parse_duration("250").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_duration("1.5s").unwrap(), Duration::from_millis(1500));
        assert!(parse_duration("soon").unwrap_err().contains("not a duration"));
        assert!(parse_duration("5 fortnights").unwrap_err().contains("unknown duration unit `fortnights`"));
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_bytes("64 MiB").unwrap(), 64 << 20);
        assert_eq!(parse_bytes("1024").unwrap(), 1024);
        assert_eq!(parse_bytes("2kb").unwrap(), 2048);
        assert!(parse_bytes("lots").is_err());
        assert!(parse_bytes("3 parsecs").unwrap_err().contains("unknown size unit"));
    }
}
