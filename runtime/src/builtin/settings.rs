//! Settings the built-in handlers share: reading ForgeRock's loosely typed
//! values (numbers and booleans as strings, durations), and `security`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Map, Value};

pub use crate::outputs::rotation::SettingsError;
use crate::outputs::rotation::settings as read;

fn path(at: &str, key: &str) -> String {
    if at.is_empty() { key.to_owned() } else { format!("{at}.{key}") }
}

/// Refuses keys of `object` not in `known` (a typo must not be ignored).
/// `logDirectory` (required), relative to the data directory.
pub(crate) fn log_directory(settings: &Map<String, Value>, data_dir: &Path) -> Result<PathBuf, SettingsError> {
    let dir = string(settings, "", "logDirectory")?
        .ok_or_else(|| SettingsError::new("logDirectory", "required: the directory of the log files"))?;
    Ok(data_dir.join(dir))
}

pub(crate) fn only(object: &Map<String, Value>, at: &str, known: &[&str]) -> Result<(), SettingsError> {
    match object.keys().find(|k| !known.contains(&k.as_str())) {
        Some(key) => Err(SettingsError::new(path(at, key), format!("unknown setting (known here: {})", known.join(", ")))),
        None => Ok(()),
    }
}

/// The object at `key`, if present, holding only `known` keys.
pub(crate) fn object<'a>(
    settings: &'a Map<String, Value>,
    key: &str,
    known: &[&str],
) -> Result<Option<&'a Map<String, Value>>, SettingsError> {
    read::section(settings, key, known)
}

/// A boolean (`true` or `"true"`).
pub(crate) fn boolean(object: &Map<String, Value>, at: &str, key: &str) -> Result<Option<bool>, SettingsError> {
    read::field(Some(object), key).map(|v| read::boolean(v, &path(at, key))).transpose()
}

/// A string.
pub(crate) fn string(object: &Map<String, Value>, at: &str, key: &str) -> Result<Option<String>, SettingsError> {
    read::string(read::field(Some(object), key), &path(at, key))
}

/// A whole number (`10000` or `"10000"`).
pub(crate) fn integer(object: &Map<String, Value>, at: &str, key: &str) -> Result<Option<i128>, SettingsError> {
    read::field(Some(object), key).map(|v| read::integer(v, &path(at, key), false)).transpose()
}

/// A duration (`"10 seconds"`).
pub(crate) fn duration(object: &Map<String, Value>, at: &str, key: &str) -> Result<Option<Duration>, SettingsError> {
    Ok(read::field(Some(object), key).map(|v| read::duration(v, &path(at, key), false)).transpose()?.flatten())
}

/// `security`: tamper evidence (CSV in ForgeRock; the JSON handler too in
/// WASP). `Debug` does not show the password.
#[derive(Clone, PartialEq)]
pub struct SecuritySettings {
    /// The key file (`wasp keygen` writes one); it must not be inside the
    /// log directory. For the CSV handler it may instead be a ForgeRock
    /// JCEKS keystore (with `password`): the handler then writes
    /// ForgeRock's own tamper-evident format (see
    /// [`crate::integrity::forgerock`]), continuing an existing
    /// ForgeRock-signed file.
    pub key_file: PathBuf,
    /// `password`: the JCEKS keystore's password (its keys' too, as in
    /// ForgeRock). Not used with a WASP key file.
    pub password: Option<String>,
    /// How often the chain head is signed (ForgeRock format: how often a
    /// signature row is written). Required; not zero.
    pub signature_interval: Duration,
}

impl std::fmt::Debug for SecuritySettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecuritySettings")
            .field("key_file", &self.key_file)
            .field("password", &self.password.as_ref().map(|_| "<hidden>"))
            .field("signature_interval", &self.signature_interval)
            .finish()
    }
}

impl SecuritySettings {
    /// Whether the key file is a JCEKS keystore (it starts with JCEKS's
    /// magic number); `false` when it cannot be read.
    pub fn is_jceks(&self) -> bool {
        use std::io::Read;
        let mut magic = [0u8; 4];
        std::fs::File::open(&self.key_file).and_then(|mut f| f.read_exact(&mut magic)).is_ok() && magic == [0xce; 4]
    }
}

impl SecuritySettings {
    /// Reads `security` (`None` when absent or `enabled` is false).
    /// `filename` resolves against `base_dir`; it must lie outside
    /// `log_directory`.
    pub fn from_settings(
        settings: &Map<String, Value>,
        base_dir: &Path,
        log_directory: &Path,
    ) -> Result<Option<SecuritySettings>, SettingsError> {
        let Some(security) = object(settings, "security", &["enabled", "filename", "password", "signatureInterval"])? else {
            return Ok(None);
        };
        if !boolean(security, "security", "enabled")?.unwrap_or(false) {
            return Ok(None);
        }
        let filename = string(security, "security", "filename")?.ok_or_else(|| {
            SettingsError::new(
                "security.filename",
                "required when tamper evidence is enabled: the key file (create one with `wasp keygen --out FILE`)",
            )
        })?;
        let key_file = base_dir.join(&filename);
        if key_file.starts_with(log_directory) {
            return Err(SettingsError::new(
                "security.filename",
                format!("{} is inside the log directory: keep keys apart from the logs they protect", key_file.display()),
            ));
        }
        let password = string(security, "security", "password")?;
        let signature_interval = duration(security, "security", "signatureInterval")?
            .ok_or_else(|| SettingsError::new("security.signatureInterval", "required when tamper evidence is enabled"))?;
        if signature_interval.is_zero() {
            return Err(SettingsError::new("security.signatureInterval", "must not be zero"));
        }
        Ok(Some(SecuritySettings { key_file, password, signature_interval }))
    }
}

/// A TCP/UDP port (1 to 65535) read at `path`.
pub(crate) fn port(value: i128, path: &str) -> Result<u16, SettingsError> {
    u16::try_from(value).ok().filter(|p| *p > 0).ok_or_else(|| SettingsError::new(path, format!("{value} is not a port (1 to 65535)")))
}

/// `caFile`, `certFile` and `keyFile` of a `connection` object (WASP's
/// additions to ForgeRock's network handlers), resolved against `base_dir`.
pub(crate) fn tls_files(
    connection: &Map<String, Value>,
    at: &str,
    base_dir: &Path,
) -> Result<crate::outputs::http::TlsFiles, SettingsError> {
    let file = |key: &str| string(connection, at, key).map(|f| f.map(|f| base_dir.join(f)));
    let tls = crate::outputs::http::TlsFiles { ca_file: file("caFile")?, cert_file: file("certFile")?, key_file: file("keyFile")? };
    if tls.cert_file.is_some() != tls.key_file.is_some() {
        return Err(SettingsError::new(at, "`certFile` and `keyFile` go together"));
    }
    Ok(tls)
}
