//! Validating `wasp.sidecar` into the sidecar's settings
//! ([`SidecarConfig`]).

use std::collections::BTreeMap;
use std::time::Duration;

use super::super::{ConfigError, RawSidecar, TenantConfig};
use super::{
    AuthMode, DEFAULT_BODY_READ_TIMEOUT, DEFAULT_FLUSH_TIMEOUT, DEFAULT_HEADER_READ_TIMEOUT, DEFAULT_LISTEN, DEFAULT_MAX_BATCH_EVENTS,
    DEFAULT_MAX_BODY_BYTES, DEFAULT_MAX_CONNECTIONS, DEFAULT_SHUTDOWN_DEADLINE, DEFAULT_WATCH_INTERVAL, Role, SidecarConfig, TlsFiles,
    TokenHash,
};

/// Validates `wasp.sidecar`: the address has a port, limits and
/// timeouts are above 0,
/// each hash is `sha256:<64 hex digits>` and appears once, each token's
/// tenant exists, and `auth: none` comes without tokens.
pub(in crate::config) fn validate(
    raw: &RawSidecar,
    base_dir: &std::path::Path,
    tenants: &BTreeMap<String, TenantConfig>,
    invalid: &impl Fn(String, String) -> ConfigError,
) -> Result<SidecarConfig, ConfigError> {
    let at = |field: &str| format!("wasp.sidecar.{field}");
    let listen = raw.listen.clone().unwrap_or_else(|| DEFAULT_LISTEN.into());
    let port_ok = listen.rsplit_once(':').is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok());
    if !port_ok {
        return Err(invalid(at("listen"), format!("`{listen}` is not an address with a port (expected e.g. \"127.0.0.1:8080\")")));
    }
    let positive = |value: Option<usize>, field: &str, default: usize| match value {
        Some(0) => Err(invalid(at(field), "must be greater than 0".into())),
        Some(n) => Ok(n),
        None => Ok(default),
    };
    let max_body_bytes = positive(raw.max_body_bytes, "maxBodyBytes", DEFAULT_MAX_BODY_BYTES)?;
    let max_batch_events = positive(raw.max_batch_events, "maxBatchEvents", DEFAULT_MAX_BATCH_EVENTS)?;
    let max_connections = positive(raw.max_connections, "maxConnections", DEFAULT_MAX_CONNECTIONS)?;
    let timeout = |value: Option<Duration>, field: &str, default: Duration| match value {
        Some(Duration::ZERO) => Err(invalid(at(field), "must be greater than 0".into())),
        Some(timeout) => Ok(timeout),
        None => Ok(default),
    };
    let header_read_timeout = timeout(raw.header_read_timeout, "headerReadTimeout", DEFAULT_HEADER_READ_TIMEOUT)?;
    let body_read_timeout = timeout(raw.body_read_timeout, "bodyReadTimeout", DEFAULT_BODY_READ_TIMEOUT)?;
    let auth = match raw.auth.as_deref() {
        None | Some("tokens") => AuthMode::Tokens,
        Some("none") => AuthMode::None,
        Some(other) => {
            return Err(invalid(at("auth"), format!("unknown mode `{other}` (expected tokens or none)")));
        }
    };
    let mut tokens: Vec<(TokenHash, Role)> = Vec::new();
    let mut token_names: Vec<String> = Vec::new();
    let mut add = |hash: &str, role: Role, name: String, field: String| -> Result<(), ConfigError> {
        let hash = TokenHash::parse(hash).map_err(|e| invalid(field.clone(), e.to_string()))?;
        if tokens.iter().any(|(h, _)| *h == hash) {
            return Err(invalid(field, "the same token hash is configured twice".into()));
        }
        tokens.push((hash, role));
        token_names.push(name);
        Ok(())
    };
    if let Some(hash) = &raw.admin_token {
        add(hash, Role::Admin, "adminToken".into(), at("adminToken"))?;
    }
    for (i, token) in raw.tokens.iter().enumerate() {
        let role = match (&token.tenant, token.admin) {
            (None, true) => Role::Admin,
            (Some(_), true) => {
                return Err(invalid(
                    at(&format!("tokens[{i}].admin")),
                    "an admin token has no tenant (it may act for every tenant)".into(),
                ));
            }
            (None, false) => Role::TopLevel,
            (Some(tenant), false) if tenants.contains_key(tenant) => Role::Tenant(tenant.clone()),
            (Some(tenant), false) => {
                let known = tenants.keys().cloned().collect::<Vec<_>>().join(", ");
                return Err(invalid(at(&format!("tokens[{i}].tenant")), format!("unknown tenant `{tenant}` (tenants: {known})")));
            }
        };
        let name = match &token.name {
            Some(name) if name.trim().is_empty() || name.chars().any(char::is_control) => {
                return Err(invalid(at(&format!("tokens[{i}].name")), "a token's name is printable text".into()));
            }
            Some(name) => name.clone(),
            None => format!("tokens[{i}]"),
        };
        add(&token.hash, role, name, at(&format!("tokens[{i}].hash")))?;
    }
    if auth == AuthMode::None && !tokens.is_empty() {
        return Err(invalid(at("auth"), "`none` turns authentication off: remove `adminToken` and `tokens`, or the `auth` setting".into()));
    }
    let tls = match &raw.tls {
        None => None,
        Some(tls) => {
            let required = |value: &Option<std::path::PathBuf>, field: &str| {
                value
                    .as_ref()
                    .map(|p| base_dir.join(p))
                    .ok_or_else(|| invalid(at(&format!("tls.{field}")), "required with `tls` (a PEM file)".into()))
            };
            Some(TlsFiles { cert_file: required(&tls.cert_file, "certFile")?, key_file: required(&tls.key_file, "keyFile")? })
        }
    };
    Ok(SidecarConfig {
        listen,
        tls,
        max_body_bytes,
        max_batch_events,
        shutdown_deadline: raw.shutdown_deadline.unwrap_or(DEFAULT_SHUTDOWN_DEADLINE),
        auth,
        tokens,
        token_names,
        flush_timeout: match raw.flush_timeout {
            Some(Duration::ZERO) => {
                return Err(invalid(at("flushTimeout"), "must be greater than 0".into()));
            }
            Some(timeout) => timeout,
            None => DEFAULT_FLUSH_TIMEOUT,
        },
        watch_interval: match raw.watch_interval {
            None => Some(DEFAULT_WATCH_INTERVAL),
            Some(Duration::ZERO) => None,
            Some(interval) => Some(interval),
        },
        header_read_timeout,
        body_read_timeout,
        max_connections,
    })
}
