//! Reading [`RotationPolicy`] and [`RetentionPolicy`] from a ForgeRock file
//! handler's `config` object, as written: numbers and booleans may be JSON
//! numbers and booleans or strings (`"1048576"`, `"true"`), durations are
//! strings such as `"6 hours"` (a bare number is milliseconds).
//!
//! Invariants: every error names the setting by its JSON path
//! (`fileRotation.rotationTimes[1]`); a key that `fileRotation` or
//! `fileRetention` does not know is an error, so a typo is never silently
//! ignored; `0` or less turns a number policy off, as in ForgeRock.

use std::time::Duration;

use serde_json::{Map, Value};

use super::naming::validate_suffix;
use super::{DEFAULT_CHECK_INTERVAL, DEFAULT_SUFFIX, RetentionPolicy, RotationPolicy, SettingsError};
use crate::units::{parse_bool, parse_bytes, parse_duration, parse_duration_or_disabled};

const ROTATION: &str = "fileRotation";
const RETENTION: &str = "fileRetention";
const CHECK_INTERVAL: &str = "rotationRetentionCheckInterval";

const ROTATION_KEYS: &[&str] =
    &["rotationEnabled", "maxFileSize", "rotationFilePrefix", "rotationFileSuffix", "rotationInterval", "rotationTimes"];
const RETENTION_KEYS: &[&str] = &["maxNumberOfHistoryFiles", "maxDiskSpaceToUse", "minFreeSpaceRequired", CHECK_INTERVAL];

/// The object under `key`, if set (`null` counts as not set), after checking
/// that it holds only `known` keys.
pub(crate) fn section<'a>(
    settings: &'a Map<String, Value>,
    key: &str,
    known: &[&str],
) -> Result<Option<&'a Map<String, Value>>, SettingsError> {
    let object = match settings.get(key) {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Object(object)) => object,
        Some(other) => {
            return Err(SettingsError::new(key, format!("expected an object, found {}", crate::event::json_type(other))));
        }
    };
    if let Some(unknown) = object.keys().find(|k| !known.contains(&k.as_str())) {
        return Err(SettingsError::new(format!("{key}.{unknown}"), format!("unknown setting (known: {})", known.join(", "))));
    }
    Ok(Some(object))
}

/// `section[key]`, unless absent or `null`.
pub(crate) fn field<'a>(section: Option<&'a Map<String, Value>>, key: &str) -> Option<&'a Value> {
    section.and_then(|s| s.get(key)).filter(|v| !v.is_null())
}

pub(crate) fn boolean(value: &Value, path: &str) -> Result<bool, SettingsError> {
    match value {
        Value::Bool(b) => Ok(*b),
        Value::String(text) => parse_bool(text).map_err(|e| SettingsError::new(path, e.to_string())),
        other => Err(SettingsError::new(path, format!("expected true or false, found {}", crate::event::json_type(other)))),
    }
}

/// A whole number that may be negative; with `sizes`, a string may also be
/// a byte size such as `"64 MiB"`.
pub(crate) fn integer(value: &Value, path: &str, sizes: bool) -> Result<i128, SettingsError> {
    match value {
        Value::Number(n) => n
            .as_i64()
            .map(i128::from)
            .or_else(|| n.as_u64().map(i128::from))
            .ok_or_else(|| SettingsError::new(path, format!("`{n}` is not a whole number"))),
        Value::String(text) => match text.trim().parse::<i128>() {
            Ok(n) => Ok(n),
            Err(_) if sizes => parse_bytes(text).map(|n| n as i128).map_err(|e| SettingsError::new(path, e.to_string())),
            Err(_) => Err(SettingsError::new(path, format!("`{text}` is not a whole number"))),
        },
        other => Err(SettingsError::new(path, format!("expected a number, found {}", crate::event::json_type(other)))),
    }
}

/// A number where `0` or less means "no limit".
fn limit(value: Option<&Value>, path: &str, sizes: bool) -> Result<Option<u64>, SettingsError> {
    let Some(value) = value else { return Ok(None) };
    let n = integer(value, path, sizes)?;
    if n <= 0 {
        return Ok(None);
    }
    u64::try_from(n).map(Some).map_err(|_| SettingsError::new(path, format!("`{n}` is too large")))
}

/// A duration: a string such as `"6 hours"`, or a number of milliseconds.
/// With `disabled`, `"disabled"` (or `"off"`, `"never"`) gives `None`.
pub(crate) fn duration(value: &Value, path: &str, disabled: bool) -> Result<Option<Duration>, SettingsError> {
    match value {
        Value::Number(n) => match n.as_u64() {
            Some(ms) => Ok(Some(Duration::from_millis(ms))),
            None => Err(SettingsError::new(path, format!("`{n}` is not a duration (expected e.g. \"5 seconds\")"))),
        },
        // `units` reads "zero" as "disabled"; here it is the zero duration.
        Value::String(text) if text.trim().eq_ignore_ascii_case("zero") => Ok(Some(Duration::ZERO)),
        Value::String(text) if disabled => parse_duration_or_disabled(text).map_err(|e| SettingsError::new(path, e.to_string())),
        Value::String(text) => parse_duration(text).map(Some).map_err(|e| SettingsError::new(path, e.to_string())),
        other => Err(SettingsError::new(path, format!("expected a duration, found {}", crate::event::json_type(other)))),
    }
}

pub(crate) fn string(value: Option<&Value>, path: &str) -> Result<Option<String>, SettingsError> {
    match value {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(SettingsError::new(path, format!("expected a string, found {}", crate::event::json_type(other)))),
    }
}

/// `rotationRetentionCheckInterval`, at the top level or in `fileRetention`
/// (both must agree if both are set).
fn check_interval(settings: &Map<String, Value>, retention: Option<&Map<String, Value>>) -> Result<Duration, SettingsError> {
    let mut found: Option<(String, Duration)> = None;
    let top = settings.get(CHECK_INTERVAL).filter(|v| !v.is_null());
    for (path, value) in [(CHECK_INTERVAL.to_owned(), top), (format!("{RETENTION}.{CHECK_INTERVAL}"), field(retention, CHECK_INTERVAL))] {
        let Some(value) = value else { continue };
        let d = duration(value, &path, false)?.unwrap_or_default();
        if d.is_zero() {
            return Err(SettingsError::new(path, "must not be zero"));
        }
        if let Some((first, earlier)) = &found
            && *earlier != d
        {
            return Err(SettingsError::new(path, format!("differs from `{first}`; set it once")));
        }
        found = Some((path, d));
    }
    Ok(found.map_or(DEFAULT_CHECK_INTERVAL, |(_, d)| d))
}

impl RotationPolicy {
    /// Reads the policy from a handler's settings object as written (the
    /// whole handler `config` object): `fileRotation`, and
    /// `rotationRetentionCheckInterval` at the top level or inside
    /// `fileRetention`. Absent settings take ForgeRock's defaults; unknown
    /// keys inside `fileRotation` are an error.
    pub fn from_settings(settings: &Map<String, Value>) -> Result<RotationPolicy, SettingsError> {
        let rotation = section(settings, ROTATION, ROTATION_KEYS)?;
        let retention = settings.get(RETENTION).and_then(Value::as_object);
        let path = |key: &str| format!("{ROTATION}.{key}");
        let mut policy = RotationPolicy { check_interval: check_interval(settings, retention)?, ..RotationPolicy::default() };

        if let Some(v) = field(rotation, "rotationEnabled") {
            policy.enabled = boolean(v, &path("rotationEnabled"))?;
        }
        policy.max_file_size = limit(field(rotation, "maxFileSize"), &path("maxFileSize"), true)?;

        let prefix_path = path("rotationFilePrefix");
        policy.prefix = string(field(rotation, "rotationFilePrefix"), &prefix_path)?.unwrap_or_default();
        if policy.prefix.contains(['/', '\0']) {
            return Err(SettingsError::new(prefix_path, "must not contain `/` (archives stay next to the file)"));
        }

        let suffix_path = path("rotationFileSuffix");
        policy.suffix = string(field(rotation, "rotationFileSuffix"), &suffix_path)?.unwrap_or(DEFAULT_SUFFIX.to_owned());
        validate_suffix(&policy.suffix).map_err(|m| SettingsError::new(&suffix_path, m))?;
        if policy.suffix.is_empty() && policy.prefix.is_empty() {
            return Err(SettingsError::new(
                suffix_path,
                "must not be empty when rotationFilePrefix is empty (archives need a name of their own)",
            ));
        }

        let interval_path = path("rotationInterval");
        if let Some(v) = field(rotation, "rotationInterval") {
            policy.interval = duration(v, &interval_path, true)?;
            if policy.interval.is_some_and(|d| d.is_zero()) {
                return Err(SettingsError::new(interval_path, "must not be zero (use \"disabled\" to turn interval rotation off)"));
            }
        }

        let times_path = path("rotationTimes");
        match field(rotation, "rotationTimes") {
            None => {}
            Some(Value::Array(items)) => {
                for (i, item) in items.iter().enumerate() {
                    let item_path = format!("{times_path}[{i}]");
                    let t = duration(item, &item_path, false)?.unwrap_or_default();
                    if t >= Duration::from_secs(86_400) {
                        return Err(SettingsError::new(item_path, "must be less than 24 hours (a time of day after midnight UTC)"));
                    }
                    policy.times.push(t);
                }
                policy.times.sort();
                policy.times.dedup();
            }
            Some(other) => {
                return Err(SettingsError::new(
                    times_path,
                    format!("expected an array of durations such as [\"6 hours\"], found {}", crate::event::json_type(other)),
                ));
            }
        }
        Ok(policy)
    }
}

impl RetentionPolicy {
    /// Reads the policy from a handler's settings object as written (the
    /// whole handler `config` object): `fileRetention`. Absent settings and
    /// values of `0` or less (`-1` for `maxNumberOfHistoryFiles`) turn a
    /// policy off; unknown keys inside `fileRetention` are an error.
    pub fn from_settings(settings: &Map<String, Value>) -> Result<RetentionPolicy, SettingsError> {
        let retention = section(settings, RETENTION, RETENTION_KEYS)?;
        let path = |key: &str| format!("{RETENTION}.{key}");
        Ok(RetentionPolicy {
            max_history_files: limit(field(retention, "maxNumberOfHistoryFiles"), &path("maxNumberOfHistoryFiles"), false)?,
            max_disk_space: limit(field(retention, "maxDiskSpaceToUse"), &path("maxDiskSpaceToUse"), true)?,
            min_free_space: limit(field(retention, "minFreeSpaceRequired"), &path("minFreeSpaceRequired"), true)?,
        })
    }
}
