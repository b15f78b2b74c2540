//! Settings of the `amqp` output.

use crate::outputs::SettingError;
use crate::outputs::broker::Endpoint;

/// `{"type": "amqp", "url": "amqp://host:5672/vhost", "exchange": …}`.
#[derive(Clone, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AmqpOutputConfig {
    /// The broker, `amqp://[user:password@]host[:port][/vhost]` (port 5672,
    /// user and password `guest` and virtual host `/` by default; write the
    /// vhost `/` as `%2f`).
    pub url: String,
    /// The exchange each record is published to (`""`: the default
    /// exchange, which routes by queue name).
    pub exchange: String,
    /// The routing key of each record. Default: `""`.
    #[serde(default)]
    pub routing_key: String,
    /// Declare `exchange` (a durable `topic` exchange) when connecting.
    /// Default: `false` — a missing exchange is a clear error, retried until
    /// it exists.
    #[serde(default)]
    pub declare_exchange: bool,
    /// Messages persist on the broker's disk (AMQP delivery mode 2; JMS
    /// `PERSISTENT`). Default: `true`.
    #[serde(default = "yes")]
    pub persistent: bool,
    /// User name (overrides the URL's).
    #[serde(default)]
    pub username: Option<String>,
    /// Password (overrides the URL's; never logged).
    #[serde(default)]
    pub password: Option<String>,
    /// Milliseconds a connection or a batch's publisher confirms may take
    /// before the batch counts as failed (and is retried). Default: 10000.
    #[serde(default)]
    pub timeout: Option<u64>,
}

fn yes() -> bool {
    true
}

impl std::fmt::Debug for AmqpOutputConfig {
    // The password is never printed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AmqpOutputConfig")
            .field("url", &crate::outputs::broker::redact(&self.url))
            .field("exchange", &self.exchange)
            .field("routing_key", &self.routing_key)
            .field("persistent", &self.persistent)
            .finish_non_exhaustive()
    }
}

impl AmqpOutputConfig {
    /// The broker and credentials (`guest`/`guest` by default, vhost `/`).
    pub fn endpoint(&self) -> Result<Endpoint, SettingError> {
        let mut endpoint = Endpoint::parse(&self.url, "amqp", self.username.as_deref(), self.password.as_deref())
            .map_err(|e| SettingError::new("url", e.to_string()))?;
        if endpoint.path.is_empty() {
            endpoint.path = "/".into();
        }
        Ok(endpoint)
    }

    /// Checks the settings; the message names the field.
    pub fn validate(&self) -> Result<(), SettingError> {
        let endpoint = self.endpoint()?;
        if endpoint.path.len() > 255 {
            return Err(SettingError::new("url", "the virtual host is longer than 255 bytes"));
        }
        if self.exchange.len() > 255 || !self.exchange.chars().all(|c| c.is_ascii_alphanumeric() || "-_.:".contains(c)) {
            return Err(SettingError::new(
                "exchange",
                format!("`{}` is not an exchange name (at most 255 letters, digits, `-`, `_`, `.`, `:`)", self.exchange),
            ));
        }
        if self.exchange.is_empty() && self.declare_exchange {
            return Err(SettingError::new("declareExchange", "the default exchange (\"\") cannot be declared"));
        }
        if self.routing_key.len() > 255 {
            return Err(SettingError::new("routingKey", "at most 255 bytes"));
        }
        if self.timeout == Some(0) {
            return Err(SettingError::new("timeout", "must be greater than 0"));
        }
        Ok(())
    }
}
