//! `SplunkAuditEventHandler`: events sent to a Splunk HTTP Event Collector
//! (`/services/collector/event`), configured as in ForgeRock:
//! `connection` (`host`, `port`, `useSSL` — honoured, unlike ForgeRock's own
//! URL building), `buffering` (`maxSize`, `maxBatchedEvents`,
//! `writeInterval`) and `authzToken`. Beyond ForgeRock: `connection.caFile`
//! for a private CA.
//!
//! Each event is one HEC event object, one per line in the request body:
//! `{"time": <epoch seconds of its timestamp>, "source": "<topic>",
//! "sourcetype": "_json", "event": <the event as published>}`. Delivery is
//! the `http` output's ([`crate::outputs::http`]): 2xx acknowledges, 408,
//! 429, 5xx (HEC's "server busy") and connection errors are retried while
//! the events wait in the journal, other answers (400 invalid data, 401/403
//! token) dead-letter the batch with HEC's `text`.

use std::time::Duration;

use serde_json::{Map, Value};

use super::NativeHandler;
use super::settings::{SettingsError, port, boolean, duration, integer, object, only, string};
use crate::event::HostEvent;
use crate::outputs::http::{HttpBody, HttpOutputConfig};

/// The settings of a `SplunkAuditEventHandler`.
#[derive(Clone, PartialEq)]
pub struct SplunkSettings {
    /// Where and how events are posted.
    pub http: HttpOutputConfig,
    /// `buffering.maxBatchedEvents` (default 500): events per request.
    pub max_batched: usize,
    /// `buffering.writeInterval` (default 100 ms): how long events may wait
    /// to be sent together.
    pub write_interval: Duration,
}

impl std::fmt::Debug for SplunkSettings {
    // The token is never printed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SplunkSettings").field("url", &self.http.url).field("max_batched", &self.max_batched).finish_non_exhaustive()
    }
}

impl SplunkSettings {
    /// Reads the handler's settings (besides name, topics and enabled).
    pub fn from_settings(settings: &Map<String, Value>, base_dir: &std::path::Path) -> Result<SplunkSettings, SettingsError> {
        only(settings, "", &["connection", "buffering", "authzToken"])?;
        let token = string(settings, "", "authzToken")?
            .filter(|t| !t.trim().is_empty())
            .ok_or_else(|| SettingsError::new("authzToken", "required: the HTTP Event Collector token"))?;
        let (host, port, ssl, ca_file) = match object(settings, "connection", &["host", "port", "useSSL", "caFile"])? {
            None => ("localhost".to_owned(), 8088, false, None),
            Some(c) => {
                let port = port(integer(c, "connection", "port")?.unwrap_or(8088), "connection.port")?;
                (
                    string(c, "connection", "host")?.unwrap_or_else(|| "localhost".to_owned()),
                    port,
                    boolean(c, "connection", "useSSL")?.unwrap_or(false),
                    string(c, "connection", "caFile")?.map(|f| base_dir.join(f)),
                )
            }
        };
        if host.is_empty() || host.contains(['/', ' ', '@']) {
            return Err(SettingsError::new("connection.host", format!("`{host}` is not a host name or address")));
        }
        let (max_batched, write_interval) = match object(settings, "buffering", &["maxSize", "maxBatchedEvents", "writeInterval"])? {
            None => (500, Duration::from_millis(100)),
            Some(b) => {
                if let Some(size) = integer(b, "buffering", "maxSize")?
                    && size <= 0
                {
                    return Err(SettingsError::new("buffering.maxSize", "must be greater than 0"));
                }
                let batched = integer(b, "buffering", "maxBatchedEvents")?.unwrap_or(500);
                if batched <= 0 || batched > 100_000 {
                    return Err(SettingsError::new("buffering.maxBatchedEvents", "must be between 1 and 100000"));
                }
                (batched as usize, duration(b, "buffering", "writeInterval")?.unwrap_or(Duration::from_millis(100)))
            }
        };
        let scheme = if ssl { "https" } else { "http" };
        let host = if host.contains(':') { format!("[{host}]") } else { host };
        let mut http = HttpOutputConfig {
            url: format!("{scheme}://{host}:{port}/services/collector/event"),
            headers: Default::default(),
            body: HttpBody::Ndjson,
            timeout: None,
            ca_file,
        };
        http.headers.insert("Authorization".into(), format!("Splunk {token}"));
        http.headers.insert("X-Splunk-Request-Channel".into(), uuid::Uuid::new_v4().to_string());
        Ok(SplunkSettings { http, max_batched, write_interval })
    }
}

/// Formats events as HEC event objects (one output).
#[derive(Debug)]
pub struct SplunkHandler;

impl NativeHandler for SplunkHandler {
    fn record(&mut self, event: &HostEvent) -> Result<Vec<(usize, Vec<u8>)>, String> {
        let raw: &serde_json::value::RawValue = serde_json::from_str(&event.json).map_err(|e| format!("the event is not JSON: {e}"))?;
        let timestamp = serde_json::from_str::<Map<String, Value>>(&event.json)
            .ok()
            .and_then(|m| m.get("timestamp").and_then(Value::as_str).and_then(|t| humantime::parse_rfc3339_weak(t).ok()))
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok());
        let mut record = String::with_capacity(event.json.len() + 96);
        record.push('{');
        if let Some(t) = timestamp {
            record.push_str(&format!("\"time\":{}.{:03},", t.as_secs(), t.subsec_millis()));
        }
        record.push_str(&format!("\"source\":{},\"sourcetype\":\"_json\",\"event\":{}}}", Value::String(event.topic.clone()), raw.get()));
        Ok(vec![(0, record.into_bytes())])
    }
}
