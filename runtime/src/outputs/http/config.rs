//! Settings of the `http` output.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::outputs::SettingError;

/// How a batch's records form the request body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum HttpBody {
    /// One record per line, `Content-Type: application/x-ndjson`.
    #[default]
    Ndjson,
    /// `[record, record, …]`, `Content-Type: application/json` (each record
    /// must be JSON).
    JsonArray,
}

/// `{"type": "http", "url": …}`.
#[derive(Clone, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct HttpOutputConfig {
    /// The endpoint, `http://` or `https://`.
    pub url: String,
    /// Extra request headers, e.g. `{"Authorization": "Bearer &{collector.token}"}`
    /// (configuration expressions resolve them; they are never logged).
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// `ndjson` (default) or `json-array`.
    #[serde(default)]
    pub body: HttpBody,
    /// Adds to each record (a JSON object) a member of this name holding
    /// the record's own idempotency key: the SHA-256 (hex) of the record as
    /// the handler wrote it, so the key stays the same on every retry
    /// whatever batch the record goes in (`Idempotency-Key` covers a whole
    /// batch). A record that is not a JSON object is refused (its batch is
    /// dead-lettered with the reason). Default: none (records sent as
    /// written).
    #[serde(default)]
    pub record_key: Option<String>,
    /// Milliseconds a request may take before it counts as failed (and is
    /// retried). Default: 30000.
    #[serde(default)]
    pub timeout: Option<u64>,
    /// PEM file of the CA to trust for `https://` (relative to the
    /// configuration file); default: the usual web roots.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// PEM client certificate chain to present to an endpoint that asks
    /// for one (relative to the configuration file); with `keyFile`.
    #[serde(default)]
    pub cert_file: Option<PathBuf>,
    /// PEM private key of `certFile`.
    #[serde(default)]
    pub key_file: Option<PathBuf>,
}

impl std::fmt::Debug for HttpOutputConfig {
    // Header values (tokens) and credentials in the URL are never printed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpOutputConfig")
            .field("url", &self.shown_url())
            .field("headers", &self.headers.keys().collect::<Vec<_>>())
            .field("body", &self.body)
            .finish_non_exhaustive()
    }
}

impl HttpOutputConfig {
    /// Checks the settings; the message names the field.
    pub fn validate(&self) -> Result<(), SettingError> {
        for name in self.headers.keys() {
            if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_".contains(&b)) {
                return Err(SettingError::new("headers", format!("`{name}` is not a header name")));
            }
        }
        if self.record_key.as_deref().is_some_and(|k| k.trim().is_empty()) {
            return Err(SettingError::new("recordKey", "the member name is empty"));
        }
        let tls = super::TlsFiles::from_settings(&self.ca_file, &self.cert_file, &self.key_file);
        super::check_settings(&self.url, None, &tls, &[self.timeout])
    }

    /// Resolves the TLS files against the configuration file's directory.
    pub fn resolve_paths(&mut self, base_dir: &std::path::Path) {
        super::resolve_files(base_dir, [&mut self.ca_file, &mut self.cert_file, &mut self.key_file]);
    }

    /// The URL without credentials or query, for people and logs.
    pub fn shown_url(&self) -> String {
        let (scheme, rest) = self.url.split_once("://").unwrap_or(("http", &self.url));
        let rest = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
        let rest = rest.split(['?', '#']).next().unwrap_or(rest);
        format!("{scheme}://{rest}")
    }
}
