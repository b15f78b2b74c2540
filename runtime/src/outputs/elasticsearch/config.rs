//! Settings of the `elasticsearch` output a WASM handler declares.

use std::path::PathBuf;
use std::time::Duration;

use super::sink::BulkTarget;
use crate::outputs::SettingError;
use crate::outputs::http::TlsFiles;

/// `{"type": "elasticsearch", "url": "http://localhost:9200", "index":
/// "audit"}`: each record, a JSON object, indexed as one document.
#[derive(Clone, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ElasticsearchOutputConfig {
    /// The cluster's base URL, `http://` or `https://` and host and port
    /// (`/_bulk` is appended).
    pub url: String,
    /// The index the documents go to (lowercase, no `\ / * ? " < > | , #
    /// :` or space).
    pub index: String,
    /// Basic authentication user, with `password`.
    #[serde(default)]
    pub username: Option<String>,
    /// Basic authentication password (or `passwordSecretId`, see Secrets in
    /// docs/configuration.md); never logged.
    #[serde(default)]
    pub password: Option<String>,
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

impl std::fmt::Debug for ElasticsearchOutputConfig {
    // The password is never printed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ElasticsearchOutputConfig").field("url", &self.url).field("index", &self.index).finish_non_exhaustive()
    }
}

impl ElasticsearchOutputConfig {
    /// Checks the settings; the message names the field.
    pub fn validate(&self) -> Result<(), SettingError> {
        crate::outputs::http::check_settings(&self.url, Some("`username` and `password`"), &self.tls(), &[self.timeout])?;
        if self.index.is_empty() || self.index.chars().any(|c| c.is_ascii_uppercase() || "\\/*?\"<>| ,#:".contains(c)) {
            return Err(SettingError::new(
                "index",
                format!("`{}` is not an index name (lowercase, no \\ / * ? \" < > | space , # :)", self.index),
            ));
        }
        if self.username.is_some() != self.password.is_some() {
            return Err(SettingError::whole("username and password go together"));
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

    /// Where the bulk requests go.
    pub fn target(&self) -> BulkTarget {
        BulkTarget {
            base_url: self.url.trim_end_matches('/').to_owned(),
            credentials: self.username.clone().zip(self.password.clone()),
            tls: self.tls(),
            timeout: Duration::from_millis(self.timeout.unwrap_or(30_000)),
        }
    }
}
