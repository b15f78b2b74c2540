//! Settings of the `splunk` output a WASM handler declares.

use std::path::PathBuf;
use std::time::Duration;

use super::sink::HecTarget;
use crate::outputs::SettingError;
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
    pub fn validate(&self) -> Result<(), SettingError> {
        crate::outputs::http::check_settings(&self.url, Some("`token`"), &self.tls(), &[self.timeout, self.ack_timeout])?;
        if self.token.trim().is_empty() {
            return Err(SettingError::new("token", "required: the HTTP Event Collector token"));
        }
        Ok(())
    }

    /// Resolves the TLS files against the configuration file's directory.
    pub fn resolve_paths(&mut self, base_dir: &std::path::Path) {
        crate::outputs::http::resolve_files(base_dir, [&mut self.ca_file, &mut self.cert_file, &mut self.key_file]);
    }

    fn tls(&self) -> TlsFiles {
        TlsFiles::from_settings(&self.ca_file, &self.cert_file, &self.key_file)
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
            tls: self.tls(),
            wrap: true,
        }
    }
}
