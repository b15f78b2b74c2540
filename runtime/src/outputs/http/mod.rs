//! The `http` output: a WASM handler's records POSTed in batches to an HTTP
//! endpoint (a webhook, a log collector), as NDJSON (one record a line) or
//! as a JSON array.
//!
//! Delivery: a batch is acknowledged once the endpoint answered 2xx. 408,
//! 429, 5xx and transport errors (refused, reset, timeout) are retryable:
//! the events wait in the journal and the same batch is sent again with a
//! backoff. Any other answer (400, 401, 403, 404, 413, …) is a permanent
//! rejection: the batch's events are dead-lettered with the endpoint's
//! status and reason. Every request carries `Idempotency-Key`, the SHA-256
//! of its body: a retry of the same events sends the same key, so an
//! endpoint that honours it stores them once.

mod config;
mod sink;

pub use config::{HttpBody, HttpOutputConfig};
pub use sink::{HttpSink, TlsFiles, agent, check_settings, resolve_files, retryable_status};

impl super::Output for HttpOutputConfig {
    fn resolve_paths(&mut self, base_dir: &std::path::Path) {
        HttpOutputConfig::resolve_paths(self, base_dir);
    }
    fn validate(&self) -> Result<(), super::SettingError> {
        HttpOutputConfig::validate(self)
    }
    fn open(&self, _place: &super::OutputPlace<'_>) -> std::io::Result<Box<dyn super::Sink>> {
        Ok(Box::new(HttpSink::new(self)?))
    }
    fn check_network(&self) -> Result<(), super::CheckError> {
        super::check_url(&self.url, &self.shown_url(), || HttpSink::new(self).map(drop))
    }
}
