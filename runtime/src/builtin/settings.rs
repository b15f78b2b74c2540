//! Settings the built-in handlers share: reading ForgeRock's loosely typed
//! values (numbers and booleans as strings, durations), and `security`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Map, Value};

use crate::config::units;

/// A setting that is wrong: where (`buffering.writeInterval`) and why.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct SettingsError {
    /// The field, relative to the handler's `config`.
    pub path: String,
    /// What was wrong.
    pub message: String,
}

impl SettingsError {
    pub(crate) fn new(path: impl Into<String>, message: impl Into<String>) -> SettingsError {
        SettingsError { path: path.into(), message: message.into() }
    }
}

impl From<crate::outputs::rotation::SettingsError> for SettingsError {
    fn from(e: crate::outputs::rotation::SettingsError) -> Self {
        SettingsError { path: e.path, message: e.message }
    }
}

/// Refuses keys of `object` not in `known` (a typo must not be ignored).
pub(crate) fn only(object: &Map<String, Value>, at: &str, known: &[&str]) -> Result<(), SettingsError> {
    for key in object.keys() {
        if !known.contains(&key.as_str()) {
            let path = if at.is_empty() { key.clone() } else { format!("{at}.{key}") };
            return Err(SettingsError::new(path, format!("unknown setting (known here: {})", known.join(", "))));
        }
    }
    Ok(())
}

/// The object at `key`, if present.
pub(crate) fn object<'a>(settings: &'a Map<String, Value>, key: &str) -> Result<Option<&'a Map<String, Value>>, SettingsError> {
    match settings.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(o)) => Ok(Some(o)),
        Some(other) => Err(SettingsError::new(key, format!("must be an object, not {other}"))),
    }
}

/// A boolean (`true` or `"true"`).
pub(crate) fn boolean(object: &Map<String, Value>, at: &str, key: &str) -> Result<Option<bool>, SettingsError> {
    let path = || if at.is_empty() { key.to_owned() } else { format!("{at}.{key}") };
    match object.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(Value::String(s)) => units::parse_bool(s).map(Some).map_err(|m| SettingsError::new(path(), m)),
        Some(other) => Err(SettingsError::new(path(), format!("must be a boolean, not {other}"))),
    }
}

/// A string.
pub(crate) fn string<'a>(object: &'a Map<String, Value>, at: &str, key: &str) -> Result<Option<&'a str>, SettingsError> {
    let path = || if at.is_empty() { key.to_owned() } else { format!("{at}.{key}") };
    match object.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(SettingsError::new(path(), format!("must be a string, not {other}"))),
    }
}

/// An integer (`10000` or `"10000"`).
pub(crate) fn integer(object: &Map<String, Value>, at: &str, key: &str) -> Result<Option<i64>, SettingsError> {
    let path = || if at.is_empty() { key.to_owned() } else { format!("{at}.{key}") };
    match object.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n.as_i64().map(Some).ok_or_else(|| SettingsError::new(path(), format!("must be a whole number, not {n}"))),
        Some(Value::String(s)) => s.trim().parse().map(Some).map_err(|_| SettingsError::new(path(), format!("must be a whole number, not `{s}`"))),
        Some(other) => Err(SettingsError::new(path(), format!("must be a number, not {other}"))),
    }
}

/// A duration (`"10 seconds"`).
pub(crate) fn duration(object: &Map<String, Value>, at: &str, key: &str) -> Result<Option<Duration>, SettingsError> {
    let path = || if at.is_empty() { key.to_owned() } else { format!("{at}.{key}") };
    match string(object, at, key)? {
        None => Ok(None),
        Some(text) => units::parse_duration(text).map(Some).map_err(|m| SettingsError::new(path(), m)),
    }
}

/// `security`: tamper evidence (CSV in ForgeRock; the JSON handler too in
/// WASP).
#[derive(Debug, Clone, PartialEq)]
pub struct SecuritySettings {
    /// The key file (`wasp keygen` writes one); it must not be inside the
    /// log directory. ForgeRock's JCEKS keystores are not read.
    pub key_file: PathBuf,
    /// How often the chain head is signed. Required; not zero.
    pub signature_interval: Duration,
}

impl SecuritySettings {
    /// Reads `security` (`None` when absent or `enabled` is false).
    /// `filename` resolves against `base_dir`; it must lie outside
    /// `log_directory`.
    pub fn from_settings(settings: &Map<String, Value>, base_dir: &Path, log_directory: &Path) -> Result<Option<SecuritySettings>, SettingsError> {
        let Some(security) = object(settings, "security")? else { return Ok(None) };
        only(security, "security", &["enabled", "filename", "password", "signatureInterval"])?;
        if !boolean(security, "security", "enabled")?.unwrap_or(false) {
            return Ok(None);
        }
        let filename = string(security, "security", "filename")?
            .ok_or_else(|| SettingsError::new("security.filename", "required when tamper evidence is enabled: the key file (create one with `wasp keygen --out FILE`)"))?;
        let key_file = base_dir.join(filename);
        if key_file.starts_with(log_directory) {
            return Err(SettingsError::new("security.filename", format!("{} is inside the log directory: keep keys apart from the logs they protect", key_file.display())));
        }
        if string(security, "security", "password")?.is_some() {
            tracing::warn!("security.password is ignored: WASP key files are not password-protected (protect the file with its permissions)");
        }
        let signature_interval = duration(security, "security", "signatureInterval")?
            .ok_or_else(|| SettingsError::new("security.signatureInterval", "required when tamper evidence is enabled"))?;
        if signature_interval.is_zero() {
            return Err(SettingsError::new("security.signatureInterval", "must not be zero"));
        }
        Ok(Some(SecuritySettings { key_file, signature_interval }))
    }
}
