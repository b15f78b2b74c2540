//! `ElasticsearchAuditEventHandler`: events indexed in Elasticsearch (or
//! OpenSearch) through the Bulk API ([`crate::outputs::elasticsearch`]),
//! configured as in ForgeRock: `connection` (`host`, `port`, `useSSL`,
//! `username`, `password`), `indexMapping.indexName` and `buffering`
//! (`enabled`, `writeInterval`, `maxSize`, `maxBatchedEvents`). Beyond
//! ForgeRock: `connection.caFile` for a private CA, `connection.certFile` and
//! `connection.keyFile` for a client certificate.
//!
//! An event of topic `T` goes to the index `<indexName>_<T>` with its `_id`
//! as the document id (a retry replaces the same document). The document is
//! the event as ForgeRock's Elasticsearch handler stores it: `_id` as
//! `_eventId`, dots in field names as `_` (with `_normalized.fieldNames` to
//! restore them), as the JSON handler's `elasticsearchCompatible` writes.

use std::time::Duration;

use serde_json::{Map, Value};

use super::NativeHandler;
use super::settings::{SettingsError, boolean, duration, integer, object, only, port, string, tls_files};
use crate::event::HostEvent;
use crate::outputs::elasticsearch::BulkTarget;

/// The settings of an `ElasticsearchAuditEventHandler`.
#[derive(Debug, Clone, PartialEq)]
pub struct ElasticsearchSettings {
    /// Where the bulk requests go.
    pub target: BulkTarget,
    /// `indexMapping.indexName` (default `audit`).
    pub index_name: String,
    /// `buffering.maxBatchedEvents` (default 500): events per request.
    pub max_batched: usize,
    /// `buffering.writeInterval` with `buffering.enabled` (default 250 ms),
    /// none without: how long events may wait to be sent together.
    pub write_interval: Duration,
}

impl ElasticsearchSettings {
    /// Reads the handler's settings (besides name, topics and enabled).
    pub fn from_settings(settings: &Map<String, Value>, base_dir: &std::path::Path) -> Result<ElasticsearchSettings, SettingsError> {
        only(settings, "", &["connection", "indexMapping", "buffering"])?;
        let (host, port, ssl, credentials, tls) =
            match object(settings, "connection", &["host", "port", "useSSL", "username", "password", "caFile", "certFile", "keyFile"])? {
                None => ("localhost".to_owned(), 9200, false, None, Default::default()),
                Some(c) => {
                    let port = port(integer(c, "connection", "port")?.unwrap_or(9200), "connection.port")?;
                    let credentials = match (string(c, "connection", "username")?, string(c, "connection", "password")?) {
                        (Some(user), Some(password)) => Some((user, password)),
                        (None, None) => None,
                        _ => {
                            return Err(SettingsError::new("connection", "`username` and `password` go together"));
                        }
                    };
                    (
                        string(c, "connection", "host")?.unwrap_or_else(|| "localhost".to_owned()),
                        port,
                        boolean(c, "connection", "useSSL")?.unwrap_or(false),
                        credentials,
                        tls_files(c, "connection", base_dir)?,
                    )
                }
            };
        if host.is_empty() || host.contains(['/', ' ', '@']) {
            return Err(SettingsError::new("connection.host", format!("`{host}` is not a host name or address")));
        }
        let index_name = match object(settings, "indexMapping", &["indexName"])? {
            None => "audit".to_owned(),
            Some(m) => string(m, "indexMapping", "indexName")?.unwrap_or_else(|| "audit".to_owned()),
        };
        if index_name.is_empty() || index_name.chars().any(|c| c.is_ascii_uppercase() || "\\/*?\"<>| ,#:".contains(c)) {
            return Err(SettingsError::new(
                "indexMapping.indexName",
                format!("`{index_name}` is not an index name (lowercase, no \\ / * ? \" < > | space , # :)"),
            ));
        }
        let (max_batched, write_interval) =
            match object(settings, "buffering", &["enabled", "writeInterval", "maxSize", "maxBatchedEvents"])? {
                None => (500, Duration::ZERO),
                Some(b) => {
                    let batched = integer(b, "buffering", "maxBatchedEvents")?.unwrap_or(500);
                    if batched <= 0 || batched > 100_000 {
                        return Err(SettingsError::new("buffering.maxBatchedEvents", "must be between 1 and 100000"));
                    }
                    if let Some(size) = integer(b, "buffering", "maxSize")?
                        && size <= 0
                    {
                        return Err(SettingsError::new("buffering.maxSize", "must be greater than 0"));
                    }
                    let wait = if boolean(b, "buffering", "enabled")?.unwrap_or(false) {
                        let interval = duration(b, "buffering", "writeInterval")?.unwrap_or(Duration::from_millis(250));
                        if interval.is_zero() {
                            return Err(SettingsError::new("buffering.writeInterval", "must be greater than 0 when buffering is enabled"));
                        }
                        interval
                    } else {
                        Duration::ZERO
                    };
                    (batched as usize, wait)
                }
            };
        let scheme = if ssl { "https" } else { "http" };
        let host = if host.contains(':') { format!("[{host}]") } else { host };
        Ok(ElasticsearchSettings {
            target: BulkTarget { base_url: format!("{scheme}://{host}:{port}"), credentials, tls, timeout: Duration::from_secs(30) },
            index_name,
            max_batched,
            write_interval,
        })
    }
}

/// Formats events as bulk entries (one output).
#[derive(Debug)]
pub struct ElasticsearchHandler {
    /// `indexMapping.indexName`.
    pub index_name: String,
}

impl NativeHandler for ElasticsearchHandler {
    fn record(&mut self, event: &HostEvent) -> Result<Vec<(usize, Vec<u8>)>, String> {
        let value: Value = serde_json::from_str(&event.json).map_err(|e| format!("the event is not JSON: {e}"))?;
        let document = crate::outputs::elasticsearch::normalize(value);
        let action = serde_json::json!({"index": {"_index": format!("{}_{}", self.index_name, event.topic), "_id": event.id}});
        Ok(vec![(0, format!("{action}\n{document}").into_bytes())])
    }
}

impl ElasticsearchSettings {
    /// The handler with its Bulk API client.
    pub(crate) fn open(&self) -> super::Opened {
        let output = crate::outputs::elasticsearch::ElasticsearchSink::new(self.target.clone())
            .map(|sink| super::OpenedOutput {
                name: "elasticsearch".into(),
                kind: "elasticsearch",
                location: self.target.base_url.clone(),
                sink: Box::new(sink),
            })
            .map_err(|e| format!("the Elasticsearch output: {e}"));
        let handler = ElasticsearchHandler { index_name: self.index_name.clone() };
        super::Opened::one(Box::new(handler), output, self.max_batched, self.write_interval)
    }

    /// What `wasp config check` says; the server is probed when `enabled`.
    pub(crate) fn check(&self, enabled: bool) -> super::Checked {
        let mut checked = super::Checked {
            lines: vec![format!(
                "elasticsearch {}/_bulk, index {}_<topic> ({} events a request)",
                self.target.base_url, self.index_name, self.max_batched
            )],
            problems: Vec::new(),
        };
        checked.probe(enabled, || {
            let (host, port) = crate::outputs::url_host_port(&self.target.base_url).unwrap_or_default();
            crate::outputs::check_network(&host, port, || {
                crate::outputs::elasticsearch::ElasticsearchSink::new(self.target.clone()).map(drop)
            })
        });
        checked
    }
}
