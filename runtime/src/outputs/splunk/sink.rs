//! Posts batches to HEC and, with `useAck`, waits for the indexers.

use std::io::ErrorKind;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::outputs::Sink;
use crate::outputs::http::{TlsFiles, retryable_status};

/// Where and how a Splunk output sends.
#[derive(Clone, PartialEq)]
pub struct HecTarget {
    /// `http(s)://host:port`, without a trailing `/`.
    pub base_url: String,
    /// The HEC token.
    pub token: String,
    /// `source` of the events the output wraps.
    pub source: Option<String>,
    /// `sourcetype` of the events the output wraps.
    pub sourcetype: String,
    /// `index` of the events the output wraps.
    pub index: Option<String>,
    /// Wait for the indexer acknowledgement of each batch.
    pub use_ack: bool,
    /// How long to wait for it.
    pub ack_timeout: Duration,
    /// How long one request may take.
    pub timeout: Duration,
    /// CA and client certificate for `https://`.
    pub tls: TlsFiles,
    /// Records are wrapped as HEC events by the output (a WASM handler's
    /// records); `false`: they are HEC event objects already (the built-in
    /// `SplunkAuditEventHandler` formats its own).
    pub wrap: bool,
}

impl std::fmt::Debug for HecTarget {
    // The token is never printed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HecTarget").field("base_url", &self.base_url).field("use_ack", &self.use_ack).finish_non_exhaustive()
    }
}

impl HecTarget {
    /// The event endpoint, for people and logs.
    pub fn event_url(&self) -> String {
        format!("{}/services/collector/event", self.base_url)
    }
}

/// A Splunk HEC output.
pub struct SplunkSink {
    agent: ureq::Agent,
    target: HecTarget,
    /// This output's channel (indexer acknowledgements are per channel).
    channel: String,
    /// Event objects since the last flush, one per line.
    pending: Vec<u8>,
}

impl std::fmt::Debug for SplunkSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SplunkSink").field("target", &self.target).field("pending", &self.pending.len()).finish_non_exhaustive()
    }
}

impl SplunkSink {
    /// An output to `target`; its TLS files are read now.
    pub fn new(target: HecTarget) -> std::io::Result<SplunkSink> {
        let agent = crate::outputs::http::agent(target.timeout, &target.tls)?;
        Ok(SplunkSink { agent, target, channel: uuid::Uuid::new_v4().to_string(), pending: Vec::new() })
    }

    fn post(&self, url: &str, body: &[u8]) -> std::io::Result<(u16, String)> {
        let mut response = self
            .agent
            .post(url)
            .header("Authorization", &format!("Splunk {}", self.target.token))
            .header("X-Splunk-Request-Channel", &self.channel)
            .header("Content-Type", "application/json")
            .send(body)
            .map_err(|e| std::io::Error::other(format!("{url}: {e}")))?;
        let status = response.status().as_u16();
        Ok((status, response.body_mut().read_to_string().unwrap_or_default()))
    }

    /// An error for a non-2xx answer: retryable or permanent by status.
    fn refused(url: &str, status: u16, text: &str) -> std::io::Error {
        let text =
            serde_json::from_str::<Value>(text).ok().and_then(|v| v["text"].as_str().map(str::to_owned)).unwrap_or_else(|| text.to_owned());
        let message = format!("{url} answered {status}: {}", text.chars().take(512).collect::<String>().trim());
        if retryable_status(status) { std::io::Error::other(message) } else { std::io::Error::new(ErrorKind::InvalidData, message) }
    }

    /// Polls `/services/collector/ack` until the indexers confirm `ack_id`.
    fn wait_for_ack(&self, ack_id: u64) -> std::io::Result<()> {
        let url = format!("{}/services/collector/ack?channel={}", self.target.base_url, self.channel);
        let body = serde_json::json!({"acks": [ack_id]}).to_string();
        let started = Instant::now();
        let mut pause = Duration::from_millis(10);
        loop {
            let (status, text) = self.post(&url, body.as_bytes())?;
            if !(200..300).contains(&status) {
                return Err(Self::refused(&url, status, &text));
            }
            let answer: Value =
                serde_json::from_str(&text).map_err(|e| std::io::Error::other(format!("{url}: the ack answer is not JSON ({e})")))?;
            if answer["acks"][ack_id.to_string()].as_bool() == Some(true) {
                return Ok(());
            }
            if started.elapsed() >= self.target.ack_timeout {
                return Err(std::io::Error::new(
                    ErrorKind::TimedOut,
                    format!(
                        "{url}: the indexers did not acknowledge ack {ack_id} within {:?}; the batch is sent again",
                        self.target.ack_timeout
                    ),
                ));
            }
            std::thread::sleep(pause);
            pause = (pause * 2).min(Duration::from_secs(1));
        }
    }
}

impl Sink for SplunkSink {
    fn write(&mut self, record: &[u8]) -> std::io::Result<()> {
        let record = record.strip_suffix(b"\n").unwrap_or(record);
        if self.target.wrap {
            let text = String::from_utf8_lossy(record);
            let event = super::hec_event(&text, self.target.source.as_deref(), &self.target.sourcetype, self.target.index.as_deref());
            self.pending.extend_from_slice(event.as_bytes());
        } else {
            self.pending.extend_from_slice(record);
        }
        self.pending.push(b'\n');
        Ok(())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let url = self.target.event_url();
        let (status, text) = self.post(&url, &self.pending)?;
        if !(200..300).contains(&status) {
            return Err(Self::refused(&url, status, &text));
        }
        if self.target.use_ack {
            let answer: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
            let Some(ack_id) = answer["ackId"].as_u64() else {
                return Err(std::io::Error::new(
                    ErrorKind::InvalidData,
                    format!(
                        "{url} answered without an ackId: indexer acknowledgement is not enabled for this token (turn it on, or set useAck to false)"
                    ),
                ));
            };
            self.wait_for_ack(ack_id)?;
        }
        self.pending.clear();
        Ok(())
    }

    fn location(&self) -> String {
        self.target.event_url()
    }

    fn rollback(&mut self) -> std::io::Result<()> {
        self.pending.clear();
        Ok(())
    }

    fn retryable(&self, error: &std::io::Error) -> bool {
        error.kind() != ErrorKind::InvalidData
    }
}
