//! Settings of the `nats` output.

use crate::outputs::SettingError;
use crate::outputs::broker::Endpoint;

/// `{"type": "nats", "url": "nats://host:4222", "subject": …}`.
#[derive(Clone, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct NatsOutputConfig {
    /// The server, `nats://[user:password@]host[:port]` (port 4222 by
    /// default).
    pub url: String,
    /// The subject each record is published on; a JetStream stream must
    /// capture it.
    pub subject: String,
    /// The stream expected to capture `subject`. When set, it is looked up
    /// at connection: a missing stream is a clear error (retried until it
    /// exists), or is created with `createStream`. When not set, a subject
    /// no stream captures fails each publish ("no responders", retried).
    #[serde(default)]
    pub stream: Option<String>,
    /// Create `stream` (file storage, capturing `subject`) when it does not
    /// exist. Default: `false` — streams are the operator's to define
    /// (retention, replicas, limits).
    #[serde(default)]
    pub create_stream: bool,
    /// User name (overrides the URL's).
    #[serde(default)]
    pub username: Option<String>,
    /// Password (overrides the URL's; never logged).
    #[serde(default)]
    pub password: Option<String>,
    /// Milliseconds a connection or a batch's publish acknowledgements may
    /// take before the batch counts as failed (and is retried). Default:
    /// 10000.
    #[serde(default)]
    pub timeout: Option<u64>,
}

impl std::fmt::Debug for NatsOutputConfig {
    // The password is never printed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NatsOutputConfig")
            .field("url", &crate::outputs::broker::redact(&self.url))
            .field("subject", &self.subject)
            .field("stream", &self.stream)
            .field("create_stream", &self.create_stream)
            .finish_non_exhaustive()
    }
}

impl NatsOutputConfig {
    /// The server and credentials.
    pub fn endpoint(&self) -> Result<Endpoint, SettingError> {
        Endpoint::parse(&self.url, "nats", self.username.as_deref(), self.password.as_deref())
            .map_err(|e| SettingError::new("url", e.to_string()))
    }

    /// Checks the settings; the message names the field.
    pub fn validate(&self) -> Result<(), SettingError> {
        self.endpoint()?;
        if self.subject.is_empty() || self.subject.contains([' ', '\t', '\r', '\n', '*', '>']) || self.subject.split('.').any(str::is_empty)
        {
            return Err(SettingError::new(
                "subject",
                format!("`{}` is not a subject to publish on (tokens separated by `.`, no spaces or wildcards)", self.subject),
            ));
        }
        if let Some(stream) = &self.stream
            && (stream.is_empty() || stream.contains([' ', '\t', '.', '*', '>', '/', '\\']))
        {
            return Err(SettingError::new("stream", format!("`{stream}` is not a stream name (no spaces, `.`, `*`, `>`, `/`, `\\`)")));
        }
        if self.create_stream && self.stream.is_none() {
            return Err(SettingError::new("createStream", "needs `stream`, the name of the stream to create"));
        }
        if self.timeout == Some(0) {
            return Err(SettingError::new("timeout", "must be greater than 0"));
        }
        Ok(())
    }
}
