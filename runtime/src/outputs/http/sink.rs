//! POSTs the records written since the last flush as one request.

use std::io::ErrorKind;
use std::sync::Arc;
use std::time::Duration;

use sha2::Digest;

use super::config::{HttpBody, HttpOutputConfig};
use crate::outputs::Sink;

/// An `http` output.
pub struct HttpSink {
    agent: ureq::Agent,
    config: HttpOutputConfig,
    pending: Vec<Vec<u8>>,
}

impl std::fmt::Debug for HttpSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpSink").field("url", &self.config.shown_url()).field("pending", &self.pending.len()).finish_non_exhaustive()
    }
}

impl HttpSink {
    /// An output as `config` says; its CA file is read now.
    pub fn new(config: &HttpOutputConfig) -> std::io::Result<HttpSink> {
        let tls = TlsFiles { ca_file: config.ca_file.clone(), cert_file: config.cert_file.clone(), key_file: config.key_file.clone() };
        let agent = agent(Duration::from_millis(config.timeout.unwrap_or(30_000)), &tls)?;
        Ok(HttpSink { agent, config: config.clone(), pending: Vec::new() })
    }

    fn body(&self) -> (Vec<u8>, &'static str) {
        let mut body = Vec::with_capacity(self.pending.iter().map(|r| r.len() + 1).sum::<usize>() + 2);
        match self.config.body {
            HttpBody::Ndjson => {
                for record in &self.pending {
                    body.extend_from_slice(record);
                    body.push(b'\n');
                }
                (body, "application/x-ndjson")
            }
            HttpBody::JsonArray => {
                body.push(b'[');
                for (i, record) in self.pending.iter().enumerate() {
                    if i > 0 {
                        body.push(b',');
                    }
                    body.extend_from_slice(record);
                }
                body.push(b']');
                (body, "application/json")
            }
        }
    }
}

/// The TLS files of an HTTPS output (paths already resolved).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsFiles {
    /// PEM CA (or self-signed certificate) to trust; default: the usual
    /// web roots.
    pub ca_file: Option<std::path::PathBuf>,
    /// PEM client certificate chain, for a receiver that asks for one.
    pub cert_file: Option<std::path::PathBuf>,
    /// PEM private key of `cert_file`.
    pub key_file: Option<std::path::PathBuf>,
}

impl TlsFiles {
    /// The `caFile`, `certFile` and `keyFile` of an output's settings,
    /// resolved against `base_dir` when given.
    pub fn from_settings(
        ca_file: &Option<std::path::PathBuf>,
        cert_file: &Option<std::path::PathBuf>,
        key_file: &Option<std::path::PathBuf>,
    ) -> TlsFiles {
        TlsFiles { ca_file: ca_file.clone(), cert_file: cert_file.clone(), key_file: key_file.clone() }
    }
}

/// The checks every HTTP-based output makes of its settings: `url` is an
/// `http://` or `https://` URL with a host — without credentials when
/// `credentials_elsewhere` names the settings that carry them — `certFile`
/// and `keyFile` go together, and timeouts are not zero.
pub fn check_settings(
    url: &str,
    credentials_elsewhere: Option<&str>,
    tls: &TlsFiles,
    timeouts: &[Option<u64>],
) -> Result<(), super::super::SettingError> {
    use super::super::SettingError;
    let Some(rest) = url.strip_prefix("http://").or_else(|| url.strip_prefix("https://")) else {
        return Err(SettingError::new("url", format!("`{url}` is not an http:// or https:// URL")));
    };
    if rest.is_empty() || rest.starts_with('/') {
        return Err(SettingError::new("url", format!("`{url}` names no host")));
    }
    if let Some(instead) = credentials_elsewhere
        && rest.split('/').next().is_some_and(|authority| authority.contains('@'))
    {
        return Err(SettingError::new("url", format!("`{url}` carries credentials: use {instead}")));
    }
    if timeouts.contains(&Some(0)) {
        return Err(SettingError::new("timeout", "must be greater than 0"));
    }
    if tls.cert_file.is_some() != tls.key_file.is_some() {
        return Err(SettingError::whole("certFile and keyFile go together"));
    }
    Ok(())
}

/// Resolves TLS file settings against the configuration file's directory.
pub fn resolve_files(base_dir: &std::path::Path, files: [&mut Option<std::path::PathBuf>; 3]) {
    for file in files.into_iter().flatten() {
        *file = base_dir.join(&*file);
    }
}

/// An HTTP client for network outputs: statuses are answers, not errors;
/// requests time out after `timeout`; `https://` trusts `tls.ca_file` (PEM)
/// when given, the usual web roots otherwise, and presents the client
/// certificate of `tls.cert_file`/`tls.key_file` when given. The files are
/// read now: an unreadable or malformed one is an `InvalidInput` error
/// naming it.
pub fn agent(timeout: Duration, tls: &TlsFiles) -> std::io::Result<ureq::Agent> {
    use ureq::tls::{Certificate, ClientCert, PrivateKey, RootCerts, TlsConfig};
    let invalid = |m: String| std::io::Error::new(ErrorKind::InvalidInput, m);
    let read_certs = |setting: &str, path: &std::path::Path| -> std::io::Result<Vec<Certificate<'static>>> {
        let pem = std::fs::read(path).map_err(|e| invalid(format!("{setting} {}: {e}", path.display())))?;
        let certs: Vec<Certificate<'static>> = ureq::tls::parse_pem(&pem)
            .filter_map(|item| match item {
                Ok(ureq::tls::PemItem::Certificate(c)) => Some(Ok(c)),
                Ok(_) => None,
                Err(e) => Some(Err(e)),
            })
            .collect::<Result<_, _>>()
            .map_err(|e| invalid(format!("{setting} {}: {e}", path.display())))?;
        if certs.is_empty() {
            return Err(invalid(format!("{setting} {}: no CERTIFICATE in the file", path.display())));
        }
        Ok(certs)
    };
    let mut config = TlsConfig::builder();
    if let Some(path) = &tls.ca_file {
        config = config.root_certs(RootCerts::Specific(Arc::new(read_certs("caFile", path)?)));
    }
    match (&tls.cert_file, &tls.key_file) {
        (None, None) => {}
        (Some(cert), Some(key)) => {
            let chain = read_certs("certFile", cert)?;
            let pem = std::fs::read(key).map_err(|e| invalid(format!("keyFile {}: {e}", key.display())))?;
            let key = PrivateKey::from_pem(&pem).map_err(|e| invalid(format!("keyFile {}: not a PEM private key: {e}", key.display())))?;
            config = config.client_cert(Some(ClientCert::new_with_certs(&chain, key)));
        }
        _ => return Err(invalid("certFile and keyFile go together".into())),
    }
    Ok(ureq::Agent::config_builder().http_status_as_error(false).timeout_global(Some(timeout)).tls_config(config.build()).build().into())
}

/// `record` (a JSON object) with `member` first, holding the SHA-256 (hex)
/// of `record`: its idempotency key (`recordKey`). Not an object: a
/// permanent rejection.
fn with_record_key(record: &[u8], member: &str) -> std::io::Result<Vec<u8>> {
    let refused = |why: &str| std::io::Error::new(ErrorKind::InvalidData, format!("recordKey `{member}`: the record is {why}"));
    if serde_json::from_slice::<serde::de::IgnoredAny>(record).is_err() {
        return Err(refused("not JSON"));
    }
    let open = record
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .filter(|&at| record[at] == b'{')
        .ok_or_else(|| refused("not a JSON object"))?;
    let empty = record[open + 1..].iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'}');
    let key = hex::encode(sha2::Sha256::digest(record));
    let name = serde_json::to_string(member).unwrap_or_default();
    let mut out = Vec::with_capacity(record.len() + name.len() + 70);
    out.extend_from_slice(&record[..=open]);
    out.extend_from_slice(format!("{name}:\"{key}\"{}", if empty { "" } else { "," }).as_bytes());
    out.extend_from_slice(&record[open + 1..]);
    Ok(out)
}

/// Whether an HTTP status means "try again later" (408, 429, 5xx).
pub fn retryable_status(status: u16) -> bool {
    matches!(status, 408 | 429) || status >= 500
}

impl Sink for HttpSink {
    fn write(&mut self, record: &[u8]) -> std::io::Result<()> {
        let record = record.strip_suffix(b"\n").unwrap_or(record);
        let record = match &self.config.record_key {
            None => record.to_vec(),
            Some(member) => with_record_key(record, member)?,
        };
        self.pending.push(record);
        Ok(())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let (body, content_type) = self.body();
        let key = hex::encode(sha2::Sha256::digest(&body));
        let mut request = self.agent.post(&self.config.url).header("Content-Type", content_type).header("Idempotency-Key", &key);
        for (name, value) in &self.config.headers {
            request = request.header(name.as_str(), value.as_str());
        }
        let shown = self.config.shown_url();
        let mut response = request.send(&body[..]).map_err(|e| std::io::Error::other(format!("{shown}: {e}")))?;
        let status = response.status().as_u16();
        if (200..300).contains(&status) {
            self.pending.clear();
            return Ok(());
        }
        let reason: String = response.body_mut().read_to_string().unwrap_or_default().chars().take(512).collect();
        let message = format!("{shown} answered {status}: {}", reason.trim());
        if retryable_status(status) {
            Err(std::io::Error::other(message))
        } else {
            // A permanent rejection: the batch is dead-lettered with it.
            Err(std::io::Error::new(ErrorKind::InvalidData, message))
        }
    }

    fn location(&self) -> String {
        self.config.shown_url()
    }

    fn rollback(&mut self) -> std::io::Result<()> {
        self.pending.clear();
        Ok(())
    }

    fn retryable(&self, error: &std::io::Error) -> bool {
        error.kind() != ErrorKind::InvalidData
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_key_is_the_hash_of_the_record_as_written() {
        let record = br#" {"id": "a", "n": 1}"#;
        let keyed: serde_json::Value = serde_json::from_slice(&with_record_key(record, "key").unwrap()).unwrap();
        assert_eq!(keyed["key"], hex::encode(sha2::Sha256::digest(record)));
        assert_eq!((keyed["id"].as_str(), keyed["n"].as_u64()), (Some("a"), Some(1)));
        let empty: serde_json::Value = serde_json::from_slice(&with_record_key(b"{ }", "k\"q").unwrap()).unwrap();
        assert_eq!(empty.as_object().unwrap().len(), 1, "{empty}");
        assert!(empty["k\"q"].is_string());
        for (bad, why) in [(&b"[1]"[..], "not a JSON object"), (b"id=a", "not JSON"), (b"{\"a\": ", "not JSON")] {
            let e = with_record_key(bad, "key").unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidData);
            assert!(e.to_string().contains(why), "{e}");
        }
    }
}
