//! Settings of the `splunk` output a WASM handler declares.

use std::path::PathBuf;
use std::time::Duration;

use super::sink::HecTarget;
use crate::outputs::http::TlsFiles;

/// `{"type": "splunk", "url": "https://splunk:8088", "token": …}`: each
/// record (JSON, or a line of text) sent as one HEC event.
#[derive(Clone, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SplunkOutputConfig {
    /// The collector's base URL, `http://` or `https://` and host and port
    /// (`/services/collector/event` is appended).
    pub url: String,
    /// The HEC token (or `tokenSecretId`, see Secrets in
    /// docs/configuration.md); never logged.
    pub token: String,
    /// The events' `source` (default: none, HEC's default).
    #[serde(default)]
    pub source: Option<String>,
    /// The events' `sourcetype`. Default: `_json`.
    #[serde(default)]
    pub sourcetype: Option<String>,
    /// The index the events go to (default: the token's).
    #[serde(default)]
    pub index: Option<String>,
    /// Wait for HEC's indexer acknowledgement of each batch before
    /// acknowledging its events (the token must have it enabled).
    /// Default: `false` (a 2xx answer acknowledges).
    #[serde(default)]
    pub use_ack: bool,
    /// With `useAck`: milliseconds to wait for the indexers before the
    /// batch counts as failed and is sent again. Default: 60000.
    #[serde(default)]
    pub ack_timeout: Option<u64>,
    /// Milliseconds a request may take. Default: 30000.
    #[serde(default)]
    pub timeout: Option<u64>,
    /// PEM CA to trust for `https://` (relative to the configuration file).
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// PEM client certificate chain, with `keyFile`.
    #[serde(default)]
    pub cert_file: Option<PathBuf>,
    /// PEM private key of `certFile`.
    #[serde(default)]
    pub key_file: Option<PathBuf>,
}

impl std::fmt::Debug for SplunkOutputConfig {
    // The token is never printed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SplunkOutputConfig").field("url", &self.url).field("use_ack", &self.use_ack).finish_non_exhaustive()
    }
}

impl SplunkOutputConfig {
    /// Checks the settings; the message names the field.
    pub fn validate(&self) -> Result<(), String> {
        let Some(rest) = self.url.strip_prefix("http://").or_else(|| self.url.strip_prefix("https://")) else {
            return Err(format!("url: `{}` is not an http:// or https:// URL", self.url));
        };
        if rest.is_empty() || rest.starts_with('/') || rest.contains('@') {
            return Err(format!("url: `{}` names no host (or carries credentials: use `token`)", self.url));
        }
        if self.token.trim().is_empty() {
            return Err("token: required: the HTTP Event Collector token".into());
        }
        if self.timeout == Some(0) || self.ack_timeout == Some(0) {
            return Err("timeout, ackTimeout: must be greater than 0".into());
        }
        if self.cert_file.is_some() != self.key_file.is_some() {
            return Err("certFile and keyFile go together".into());
        }
        Ok(())
    }

    /// Resolves the TLS files against the configuration file's directory.
    pub fn resolve_paths(&mut self, base_dir: &std::path::Path) {
        for file in [&mut self.ca_file, &mut self.cert_file, &mut self.key_file].into_iter().flatten() {
            *file = base_dir.join(&*file);
        }
    }

    /// Where and how the batches go.
    pub fn target(&self) -> HecTarget {
        HecTarget {
            base_url: self.url.trim_end_matches('/').to_owned(),
            token: self.token.clone(),
            source: self.source.clone(),
            sourcetype: self.sourcetype.clone().unwrap_or_else(|| "_json".to_owned()),
            index: self.index.clone(),
            use_ack: self.use_ack,
            ack_timeout: Duration::from_millis(self.ack_timeout.unwrap_or(60_000)),
            timeout: Duration::from_millis(self.timeout.unwrap_or(30_000)),
            tls: TlsFiles { ca_file: self.ca_file.clone(), cert_file: self.cert_file.clone(), key_file: self.key_file.clone() },
            wrap: true,
        }
    }
}
