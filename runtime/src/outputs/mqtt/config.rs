//! Settings of the `mqtt` output.

use crate::outputs::SettingError;
use crate::outputs::broker::Endpoint;

/// `{"type": "mqtt", "url": "mqtt://host:1883", "topic": …}`.
#[derive(Clone, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct MqttOutputConfig {
    /// The broker, `mqtt://[user:password@]host[:port]` (port 1883 by
    /// default).
    pub url: String,
    /// The topic each record is published on (no wildcards).
    pub topic: String,
    /// The client identifier. Default: `wasp-<process id>-<random>` (a
    /// broker disconnects an older client with the same identifier).
    #[serde(default)]
    pub client_id: Option<String>,
    /// User name (overrides the URL's).
    #[serde(default)]
    pub username: Option<String>,
    /// Password (overrides the URL's; never logged).
    #[serde(default)]
    pub password: Option<String>,
    /// Milliseconds a connection or a batch's `PUBACK`s may take before the
    /// batch counts as failed (and is retried). Default: 10000.
    #[serde(default)]
    pub timeout: Option<u64>,
}

impl std::fmt::Debug for MqttOutputConfig {
    // The password is never printed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MqttOutputConfig")
            .field("url", &crate::outputs::broker::redact(&self.url))
            .field("topic", &self.topic)
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

impl MqttOutputConfig {
    /// The broker and credentials.
    pub fn endpoint(&self) -> Result<Endpoint, SettingError> {
        Endpoint::parse(&self.url, "mqtt", self.username.as_deref(), self.password.as_deref())
            .map_err(|e| SettingError::new("url", e.to_string()))
    }

    /// Checks the settings; the message names the field.
    pub fn validate(&self) -> Result<(), SettingError> {
        let endpoint = self.endpoint()?;
        if self.topic.is_empty() || self.topic.len() > 65_535 || self.topic.contains(['+', '#', '\0']) {
            return Err(SettingError::new("topic", format!("`{}` is not a topic to publish on (no `+`, `#`)", self.topic)));
        }
        if let Some(id) = &self.client_id
            && (id.is_empty() || id.len() > 65_535)
        {
            return Err(SettingError::new("clientId", "must not be empty"));
        }
        if endpoint.password.is_some() && endpoint.username.is_none() {
            return Err(SettingError::new("password", "MQTT 3.1.1 sends a password only with a user name"));
        }
        if self.timeout == Some(0) {
            return Err(SettingError::new("timeout", "must be greater than 0"));
        }
        Ok(())
    }
}
