//! The Splunk output: batches of events POSTed to a Splunk HTTP Event
//! Collector (HEC), `/services/collector/event`, with `Authorization:
//! Splunk <token>` and a channel header (`X-Splunk-Request-Channel`).
//!
//! Each record becomes one HEC event object, `{"time": …, "source": …,
//! "sourcetype": …, "index": …, "event": <the record>}` ([`hec_event`]);
//! a batch is the objects one after another.
//!
//! Delivery: 2xx acknowledges the batch — or, with `useAck`, HEC's
//! *indexer acknowledgement*: the answer's `ackId` is polled at
//! `/services/collector/ack` until the indexers confirm it, and only then is
//! the batch acknowledged. 408, 429, 5xx (HEC's "server busy"), transport
//! errors and an ack not confirmed within `ackTimeout` are retryable: the
//! events wait in the journal and the batch is sent again (HEC has no
//! idempotency key: a batch whose answer was lost may be indexed twice; the
//! events' `_id` tells the copies apart). Other answers (400 invalid data,
//! 401/403 token) are permanent: the batch is dead-lettered with HEC's
//! `text`.

mod config;
mod sink;

pub use config::SplunkOutputConfig;
pub use sink::{HecTarget, SplunkSink};

impl super::Output for SplunkOutputConfig {
    fn resolve_paths(&mut self, base_dir: &std::path::Path) {
        SplunkOutputConfig::resolve_paths(self, base_dir);
    }
    fn validate(&self) -> Result<(), super::SettingError> {
        SplunkOutputConfig::validate(self)
    }
    fn open(&self, _place: &super::OutputPlace<'_>) -> std::io::Result<Box<dyn super::Sink>> {
        Ok(Box::new(SplunkSink::new(self.target())?))
    }
    fn check_network(&self) -> Result<(), super::CheckError> {
        super::check_url(&self.url, &self.url, || SplunkSink::new(self.target()).map(drop))
    }
}

/// One HEC event object for `record` (JSON text, else sent as a string
/// event): `time` from the record's `timestamp` (RFC 3339) in epoch
/// seconds with milliseconds, when it has one.
pub fn hec_event(record: &str, source: Option<&str>, sourcetype: &str, index: Option<&str>) -> String {
    use serde_json::Value;
    let parsed: Option<serde_json::Map<String, Value>> = serde_json::from_str(record).ok();
    let timestamp = parsed
        .as_ref()
        .and_then(|m| m.get("timestamp").and_then(Value::as_str).and_then(|t| humantime::parse_rfc3339_weak(t).ok()))
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok());
    let mut out = String::with_capacity(record.len() + 96);
    out.push('{');
    if let Some(t) = timestamp {
        out.push_str(&format!("\"time\":{}.{:03},", t.as_secs(), t.subsec_millis()));
    }
    if let Some(source) = source {
        out.push_str(&format!("\"source\":{},", Value::String(source.to_owned())));
    }
    out.push_str(&format!("\"sourcetype\":{},", Value::String(sourcetype.to_owned())));
    if let Some(index) = index {
        out.push_str(&format!("\"index\":{},", Value::String(index.to_owned())));
    }
    out.push_str("\"event\":");
    match serde_json::from_str::<&serde_json::value::RawValue>(record) {
        Ok(raw) => out.push_str(raw.get()),
        Err(_) => out.push_str(&Value::String(record.to_owned()).to_string()),
    }
    out.push('}');
    out
}

#[cfg(test)]
mod tests {
    use super::hec_event;

    #[test]
    fn events_carry_their_time_source_and_the_record_as_is() {
        let got = hec_event(r#"{"_id":"a","timestamp":"2026-12-04T10:00:00.250Z","n":1}"#, Some("access"), "_json", None);
        assert_eq!(
            got,
            r#"{"time":1796378400.250,"source":"access","sourcetype":"_json","event":{"_id":"a","timestamp":"2026-12-04T10:00:00.250Z","n":1}}"#
        );
        let got = hec_event("user bjensen logged in", None, "wasp:line", Some("audit"));
        assert_eq!(got, r#"{"sourcetype":"wasp:line","index":"audit","event":"user bjensen logged in"}"#);
    }
}
