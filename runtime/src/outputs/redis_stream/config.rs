//! Settings of the `redis-stream` output.

use crate::outputs::SettingError;
use crate::outputs::broker::Endpoint;

/// `{"type": "redis-stream", "url": "redis://host:6379/0", "key": …}`.
#[derive(Clone, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RedisStreamConfig {
    /// The server, `redis://[user:password@]host[:port][/db]` (port 6379,
    /// database 0 by default; `redis://:password@host` for a password
    /// without ACL user).
    pub url: String,
    /// The stream's key.
    pub key: String,
    /// Seconds an event id is remembered to make a re-sent record a no-op
    /// (`<key>:wasp-ids:<_id>`, expiring after the window). Default: 300;
    /// `0` turns deduplication off (then a batch re-sent after a lost reply
    /// can add entries twice).
    #[serde(default)]
    pub dedupe_window: Option<u64>,
    /// Cap the stream at about this many entries (`XADD MAXLEN ~`).
    /// Default: no cap.
    #[serde(default)]
    pub max_len: Option<u64>,
    /// User name (overrides the URL's; ACL `AUTH user password`).
    #[serde(default)]
    pub username: Option<String>,
    /// Password (overrides the URL's; never logged).
    #[serde(default)]
    pub password: Option<String>,
    /// Milliseconds a connection or a batch may take before it counts as
    /// failed (and is retried). Default: 10000.
    #[serde(default)]
    pub timeout: Option<u64>,
}

impl std::fmt::Debug for RedisStreamConfig {
    // The password is never printed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStreamConfig")
            .field("url", &crate::outputs::broker::redact(&self.url))
            .field("key", &self.key)
            .field("dedupe_window", &self.dedupe_window)
            .finish_non_exhaustive()
    }
}

impl RedisStreamConfig {
    /// The server and credentials.
    pub fn endpoint(&self) -> Result<Endpoint, SettingError> {
        Endpoint::parse(&self.url, "redis", self.username.as_deref(), self.password.as_deref())
            .map_err(|e| SettingError::new("url", e.to_string()))
    }

    /// The database number (the URL's path; 0 by default).
    pub fn database(&self) -> Result<u32, SettingError> {
        let path = self.endpoint()?.path;
        if path.is_empty() {
            Ok(0)
        } else {
            path.parse().map_err(|_| SettingError::new("url", format!("`{path}` is not a database number")))
        }
    }

    /// The dedupe window in seconds (0: off).
    pub fn window(&self) -> u64 {
        self.dedupe_window.unwrap_or(300)
    }

    /// Checks the settings; the message names the field.
    pub fn validate(&self) -> Result<(), SettingError> {
        self.database()?;
        if self.key.is_empty() {
            return Err(SettingError::new("key", "required, the stream's key"));
        }
        if self.max_len == Some(0) {
            return Err(SettingError::new("maxLen", "must be greater than 0"));
        }
        if self.timeout == Some(0) {
            return Err(SettingError::new("timeout", "must be greater than 0"));
        }
        Ok(())
    }
}
