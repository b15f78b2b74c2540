//! `SplunkAuditEventHandler`: events sent to a Splunk HTTP Event Collector
//! (`/services/collector/event`), configured as in ForgeRock:
//! `connection` (`host`, `port`, `useSSL` — honoured, unlike ForgeRock's own
//! URL building), `buffering` (`maxSize`, `maxBatchedEvents`,
//! `writeInterval`) and `authzToken`. Beyond ForgeRock:
//! `connection.caFile` for a private CA, `connection.certFile` and
//! `connection.keyFile` for a client certificate, `useAck` (wait for HEC's
//! indexer acknowledgement of each batch) and `ackTimeout`.
//!
//! Each event is one HEC event object, one per line in the request body:
//! `{"time": <epoch seconds of its timestamp>, "source": "<topic>",
//! "sourcetype": "_json", "event": <the event as published>}`. Delivery is
//! the `splunk` output's ([`crate::outputs::splunk`]): 2xx (or, with
//! `useAck`, the indexers' acknowledgement) acknowledges, 408, 429, 5xx
//! (HEC's "server busy") and connection errors are retried while the events
//! wait in the journal, other answers (400 invalid data, 401/403 token)
//! dead-letter the batch with HEC's `text`.

use std::time::Duration;

use serde_json::{Map, Value};

use super::NativeHandler;
use super::settings::{SettingsError, boolean, duration, integer, object, only, port, string, tls_files};
use crate::event::HostEvent;
use crate::outputs::splunk::HecTarget;

/// The settings of a `SplunkAuditEventHandler`.
#[derive(Clone, PartialEq)]
pub struct SplunkSettings {
    /// Where and how events are posted.
    pub target: HecTarget,
    /// `buffering.maxBatchedEvents` (default 500): events per request.
    pub max_batched: usize,
    /// `buffering.writeInterval` (default 100 ms): how long events may wait
    /// to be sent together.
    pub write_interval: Duration,
}

impl std::fmt::Debug for SplunkSettings {
    // The token is never printed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SplunkSettings").field("target", &self.target).field("max_batched", &self.max_batched).finish_non_exhaustive()
    }
}

impl SplunkSettings {
    /// Reads the handler's settings (besides name, topics and enabled).
    pub fn from_settings(settings: &Map<String, Value>, base_dir: &std::path::Path) -> Result<SplunkSettings, SettingsError> {
        only(settings, "", &["connection", "buffering", "authzToken", "useAck", "ackTimeout"])?;
        let token = string(settings, "", "authzToken")?
            .filter(|t| !t.trim().is_empty())
            .ok_or_else(|| SettingsError::new("authzToken", "required: the HTTP Event Collector token"))?;
        let (host, port, ssl, tls) = match object(settings, "connection", &["host", "port", "useSSL", "caFile", "certFile", "keyFile"])? {
            None => ("localhost".to_owned(), 8088, false, Default::default()),
            Some(c) => {
                let port = port(integer(c, "connection", "port")?.unwrap_or(8088), "connection.port")?;
                (
                    string(c, "connection", "host")?.unwrap_or_else(|| "localhost".to_owned()),
                    port,
                    boolean(c, "connection", "useSSL")?.unwrap_or(false),
                    tls_files(c, "connection", base_dir)?,
                )
            }
        };
        if host.is_empty() || host.contains(['/', ' ', '@']) {
            return Err(SettingsError::new("connection.host", format!("`{host}` is not a host name or address")));
        }
        let use_ack = boolean(settings, "", "useAck")?.unwrap_or(false);
        let ack_timeout = duration(settings, "", "ackTimeout")?.unwrap_or(Duration::from_secs(60));
        if ack_timeout.is_zero() {
            return Err(SettingsError::new("ackTimeout", "must be greater than 0"));
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
        let target = HecTarget {
            base_url: format!("{scheme}://{host}:{port}"),
            token,
            source: None,
            sourcetype: "_json".to_owned(),
            index: None,
            use_ack,
            ack_timeout,
            timeout: Duration::from_secs(30),
            tls,
            wrap: false,
        };
        Ok(SplunkSettings { target, max_batched, write_interval })
    }
}

/// Formats events as HEC event objects (one output).
#[derive(Debug)]
pub struct SplunkHandler;

impl NativeHandler for SplunkHandler {
    fn record(&mut self, event: &HostEvent) -> Result<Vec<(usize, Vec<u8>)>, String> {
        serde_json::from_str::<&serde_json::value::RawValue>(&event.json).map_err(|e| format!("the event is not JSON: {e}"))?;
        Ok(vec![(0, crate::outputs::splunk::hec_event(&event.json, Some(&event.topic), "_json", None).into_bytes())])
    }
}

impl SplunkSettings {
    /// The handler with its HTTP Event Collector client.
    pub(crate) fn open(&self) -> super::Opened {
        let output = crate::outputs::splunk::SplunkSink::new(self.target.clone())
            .map(|sink| super::OpenedOutput {
                name: "splunk".into(),
                kind: "splunk",
                location: self.target.event_url(),
                sink: Box::new(sink),
            })
            .map_err(|e| format!("the Splunk output: {e}"));
        super::Opened::one(Box::new(SplunkHandler), output, self.max_batched, self.write_interval)
    }

    /// What `wasp config check` says; the collector is probed when `enabled`.
    pub(crate) fn check(&self, enabled: bool) -> super::Checked {
        let ack = if self.target.use_ack { ", indexer acknowledgement" } else { "" };
        let mut checked = super::Checked {
            lines: vec![format!("splunk HEC {} ({} events a request{ack})", self.target.event_url(), self.max_batched)],
            problems: Vec::new(),
        };
        checked.probe(enabled, || {
            let (host, port) = crate::outputs::url_host_port(&self.target.base_url).unwrap_or_default();
            crate::outputs::check_network(&host, port, || crate::outputs::splunk::SplunkSink::new(self.target.clone()).map(drop))
        });
        checked
    }
}
