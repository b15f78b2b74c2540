//! Durations and byte sizes as configuration values: a number, or a string
//! such as `"5 seconds"`, `"100 ms"`, `"1 m"`, `"64 MiB"`.

use std::time::Duration;

use serde::{Deserialize, Deserializer};

/// What `"unlimited"` means: a century, long enough for any timer and
/// short enough to add to a clock reading without overflow.
pub const UNLIMITED: Duration = Duration::from_secs(100 * 365 * 86_400);

/// A duration, size or boolean that could not be read; the message quotes
/// the text and says what was expected.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum UnitError {
    /// Not a duration at all.
    #[error("`{0}` is not a duration (expected e.g. \"5 seconds\", \"100 ms\", \"15 hours 46 minutes\")")]
    NotADuration(String),
    /// A part of a compound duration without its unit.
    #[error("`{0}`: a number without a unit in a compound duration")]
    MissingUnit(String),
    /// A duration unit WASP does not know.
    #[error("`{text}`: unknown duration unit `{unit}` (use ns, us, ms, s, m, h or d)")]
    UnknownDurationUnit {
        /// The whole text.
        text: String,
        /// The unit.
        unit: String,
    },
    /// Longer than a `Duration` holds.
    #[error("`{0}` is too long a duration")]
    TooLong(String),
    /// Not a size at all.
    #[error("`{0}` is not a size (expected e.g. 1048576 or \"64 MiB\")")]
    NotASize(String),
    /// A size unit WASP does not know.
    #[error("`{text}`: unknown size unit `{unit}` (use B, KiB, MiB or GiB)")]
    UnknownSizeUnit {
        /// The whole text.
        text: String,
        /// The unit.
        unit: String,
    },
    /// Larger than this machine's sizes.
    #[error("`{0}` is too large")]
    TooLarge(String),
    /// Neither `true` nor `false`.
    #[error("`{0}` is not a boolean (expected true or false)")]
    NotABoolean(String),
}

/// Parses a duration as ForgeRock writes one: `"<number> <unit>"`, or
/// several such parts (`"15 hours 46 minutes"`, commas and `and` allowed
/// between them), with unit `ns`/`nanoseconds`, `us`/`microseconds`,
/// `ms`/`milliseconds`, `s`/`sec`/`seconds`, `m`/`min`/`minutes`,
/// `h`/`hours`, `d`/`days` (singular forms too, space optional); a bare
/// number is milliseconds. `"zero"` is 0 and `"unlimited"` (or
/// `"indefinite"`, `"infinity"`) is [`UNLIMITED`].
pub fn parse_duration(text: &str) -> Result<Duration, UnitError> {
    let text = text.trim();
    match text.to_ascii_lowercase().as_str() {
        "zero" => return Ok(Duration::ZERO),
        "unlimited" | "indefinite" | "infinity" | "infinite" => return Ok(UNLIMITED),
        _ => {}
    }
    let not_a_duration = || UnitError::NotADuration(text.to_owned());
    let mut rest = text;
    let mut total = Duration::ZERO;
    let mut parts = 0;
    while !rest.is_empty() {
        let split = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
        let value: f64 = rest[..split].parse().map_err(|_| not_a_duration())?;
        rest = rest[split..].trim_start();
        let unit_end = rest.find(|c: char| !c.is_ascii_alphabetic()).unwrap_or(rest.len());
        let unit = &rest[..unit_end];
        rest = rest[unit_end..].trim_start().trim_start_matches(',').trim_start();
        if let Some(after) = rest.strip_prefix("and ") {
            rest = after.trim_start();
        }
        let millis = match unit.to_ascii_lowercase().as_str() {
            "" if parts == 0 && rest.is_empty() => 1.0,
            "" => {
                return Err(UnitError::MissingUnit(text.to_owned()));
            }
            "ns" | "nano" | "nanos" | "nanosecond" | "nanoseconds" => 1e-6,
            "us" | "micro" | "micros" | "microsecond" | "microseconds" => 1e-3,
            "ms" | "milli" | "millis" | "millisecond" | "milliseconds" => 1.0,
            "s" | "sec" | "secs" | "second" | "seconds" => 1e3,
            "m" | "min" | "mins" | "minute" | "minutes" => 60e3,
            "h" | "hour" | "hours" => 3600e3,
            "d" | "day" | "days" => 86_400e3,
            other => {
                return Err(UnitError::UnknownDurationUnit { text: text.to_owned(), unit: other.to_owned() });
            }
        };
        let part = Duration::try_from_secs_f64(value * millis / 1e3).map_err(|_| UnitError::TooLong(text.to_owned()))?;
        total = total.checked_add(part).ok_or_else(|| UnitError::TooLong(text.to_owned()))?;
        parts += 1;
    }
    if parts == 0 {
        return Err(not_a_duration());
    }
    Ok(total)
}

/// Parses a byte size: a number of bytes, or `"<number> <unit>"` with unit
/// `B`, `KB`/`KiB`, `MB`/`MiB`, `GB`/`GiB` (all powers of 1024).
pub fn parse_bytes(text: &str) -> Result<usize, UnitError> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (number, unit) = (&text[..split], text[split..].trim());
    let value: usize = number.parse().map_err(|_| UnitError::NotASize(text.to_owned()))?;
    let scale: usize = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        other => {
            return Err(UnitError::UnknownSizeUnit { text: text.to_owned(), unit: other.to_owned() });
        }
    };
    value.checked_mul(scale).ok_or_else(|| UnitError::TooLarge(text.to_owned()))
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

/// `serde` adapter: an integer, also given as a string (`"1000"`), as
/// ForgeRock configurations often do.
pub fn number<'de, D: Deserializer<'de>, T: TryFrom<u64>>(d: D) -> Result<Option<T>, D::Error>
where
    T::Error: std::fmt::Display,
{
    let n = match Option::<NumberOrText>::deserialize(d)? {
        None => return Ok(None),
        Some(NumberOrText::Number(n)) => n,
        Some(NumberOrText::Text(t)) => {
            t.trim().parse::<u64>().map_err(|_| serde::de::Error::custom(format!("`{t}` is not a whole number")))?
        }
    };
    T::try_from(n).map(Some).map_err(serde::de::Error::custom)
}

#[derive(Deserialize)]
#[serde(untagged)]
enum BoolOrText {
    Bool(bool),
    Text(String),
}

/// Parses a boolean given as `true`/`false` or as the strings `"true"`,
/// `"false"` (any case).
pub fn parse_bool(text: &str) -> Result<bool, UnitError> {
    match text.trim().to_ascii_lowercase().as_str() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(UnitError::NotABoolean(text.to_owned())),
    }
}

/// `serde` adapter: a boolean, also given as a string (`"true"`).
pub fn boolean<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    match Option::<BoolOrText>::deserialize(d)? {
        None => Ok(None),
        Some(BoolOrText::Bool(b)) => Ok(Some(b)),
        Some(BoolOrText::Text(t)) => parse_bool(&t).map(Some).map_err(serde::de::Error::custom),
    }
}

/// Parses a ForgeRock duration expression, where `"disabled"` (or `"off"`,
/// `"never"`, `"zero"`) turns the feature off: `Ok(None)`.
pub fn parse_duration_or_disabled(text: &str) -> Result<Option<Duration>, UnitError> {
    match text.trim().to_ascii_lowercase().as_str() {
        "disabled" | "off" | "never" | "zero" => Ok(None),
        _ => parse_duration(text).map(Some),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_booleans_and_disabled_as_strings() {
        #[derive(serde::Deserialize)]
        struct T {
            #[serde(default, deserialize_with = "number")]
            n: Option<u64>,
            #[serde(default, deserialize_with = "boolean")]
            b: Option<bool>,
        }
        let t: T = serde_json::from_str(r#"{"n": "1000", "b": "TRUE"}"#).unwrap();
        assert_eq!((t.n, t.b), (Some(1000), Some(true)));
        let t: T = serde_json::from_str(r#"{"n": 7, "b": false}"#).unwrap();
        assert_eq!((t.n, t.b), (Some(7), Some(false)));
        let err = serde_json::from_str::<T>(r#"{"n": "lots"}"#).err().unwrap().to_string();
        assert!(err.contains("`lots` is not a whole number"), "{err}");
        assert_eq!(parse_duration_or_disabled("disabled"), Ok(None));
        assert_eq!(
            parse_duration("99999999999999999999999 d").map_err(|e| e.to_string()),
            Err("`99999999999999999999999 d` is too long a duration".into())
        );
        assert_eq!(parse_duration_or_disabled("6 hours"), Ok(Some(Duration::from_secs(6 * 3600))));
    }

    #[test]
    fn durations_in_forgerock_style() {
        assert_eq!(parse_duration("5 seconds").unwrap(), Duration::from_secs(5));
        assert_eq!(parse_duration("100 ms").unwrap(), Duration::from_millis(100));
        assert_eq!(parse_duration("1 m").unwrap(), Duration::from_secs(60));
        assert_eq!(parse_duration("6 hours").unwrap(), Duration::from_secs(6 * 3600));
        assert_eq!(parse_duration("250").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_duration("1.5s").unwrap(), Duration::from_millis(1500));
        assert!(parse_duration("soon").unwrap_err().to_string().contains("not a duration"));
        assert!(parse_duration("5 fortnights").unwrap_err().to_string().contains("unknown duration unit `fortnights`"));
        // ForgeRock's compound form and special words.
        assert_eq!(parse_duration("15 hours 46 minutes").unwrap(), Duration::from_secs(15 * 3600 + 46 * 60));
        assert_eq!(parse_duration("1 day, 2 hours and 3 seconds").unwrap(), Duration::from_secs(86_400 + 7200 + 3));
        assert_eq!(parse_duration("3 days 500 ms").unwrap(), Duration::from_millis(3 * 86_400_000 + 500));
        assert_eq!(parse_duration("250 us").unwrap(), Duration::from_micros(250));
        assert_eq!(parse_duration("zero").unwrap(), Duration::ZERO);
        assert_eq!(parse_duration("unlimited").unwrap(), UNLIMITED);
        assert!(parse_duration("1 hour 30").unwrap_err().to_string().contains("without a unit"));
        assert!(parse_duration("").unwrap_err().to_string().contains("not a duration"));
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_bytes("64 MiB").unwrap(), 64 << 20);
        assert_eq!(parse_bytes("1024").unwrap(), 1024);
        assert_eq!(parse_bytes("2kb").unwrap(), 2048);
        assert!(parse_bytes("lots").is_err());
        assert!(parse_bytes("3 parsecs").unwrap_err().to_string().contains("unknown size unit"));
    }
}
