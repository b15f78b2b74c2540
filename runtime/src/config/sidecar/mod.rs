//! `wasp.sidecar`, validated (`validate.rs`): where the sidecar listens,
//! its limits, and the bearer tokens it accepts (stored as SHA-256 hashes,
//! never the tokens themselves). The sidecar reads the whole [`Config`]
//! (its routes query and export through it), so its settings live here,
//! below it, rather than in `sidecar/`.
//!
//! [`Config`]: super::Config

use std::path::PathBuf;
use std::time::Duration;

use sha2::{Digest, Sha256};

pub(super) mod validate;

/// Default `listen`.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
/// Default `maxBodyBytes`: 10 MiB.
pub const DEFAULT_MAX_BODY_BYTES: usize = 10 << 20;
/// Default `maxBatchEvents`.
pub const DEFAULT_MAX_BATCH_EVENTS: usize = 10_000;
/// Default `shutdownDeadline`.
pub const DEFAULT_SHUTDOWN_DEADLINE: Duration = Duration::from_secs(30);
/// Default `flushTimeout`.
pub const DEFAULT_FLUSH_TIMEOUT: Duration = Duration::from_secs(60);
/// Default `watchInterval`.
pub const DEFAULT_WATCH_INTERVAL: Duration = Duration::from_secs(2);
/// Default `headerReadTimeout`.
pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// Default `bodyReadTimeout`.
pub const DEFAULT_BODY_READ_TIMEOUT: Duration = Duration::from_secs(60);
/// Default `maxConnections` (half the usual limit of 1,024 file
/// descriptors).
pub const DEFAULT_MAX_CONNECTIONS: usize = 512;

/// `wasp.sidecar.tls`: where the certificate chain and its key are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// PEM certificate chain, the server's certificate first.
    pub cert_file: PathBuf,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1).
    pub key_file: PathBuf,
}

/// `wasp.sidecar`, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct SidecarConfig {
    /// `host:port` to listen on.
    pub listen: String,
    /// Largest request body in bytes.
    pub max_body_bytes: usize,
    /// Most events in one NDJSON batch.
    pub max_batch_events: usize,
    /// Longest graceful shutdown (requests in flight, then the drain).
    pub shutdown_deadline: Duration,
    /// How requests are authenticated.
    pub auth: AuthMode,
    /// The accepted token hashes and what each may do.
    pub tokens: Vec<(TokenHash, Role)>,
    /// The name of each token of `tokens` (same order), for people: the
    /// version history of a deploy says which token made it.
    pub token_names: Vec<String>,
    /// How long `_action=flush` waits before answering 504.
    pub flush_timeout: Duration,
    /// HTTPS: the certificate and key files (`None`: plain HTTP).
    pub tls: Option<TlsFiles>,
    /// How often the configuration and component files are looked at for
    /// hot reload (`None`: not watched; SIGHUP still reloads).
    pub watch_interval: Option<Duration>,
    /// How long a client may take to send a request's headers (then the
    /// connection is closed).
    pub header_read_timeout: Duration,
    /// How long a client may take to send a request's body (then 408).
    pub body_read_timeout: Duration,
    /// Most connections served at once (more wait in the listen queue).
    pub max_connections: usize,
}

impl Default for SidecarConfig {
    fn default() -> Self {
        SidecarConfig {
            listen: DEFAULT_LISTEN.into(),
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            max_batch_events: DEFAULT_MAX_BATCH_EVENTS,
            shutdown_deadline: DEFAULT_SHUTDOWN_DEADLINE,
            auth: AuthMode::Tokens,
            tokens: Vec::new(),
            token_names: Vec::new(),
            flush_timeout: DEFAULT_FLUSH_TIMEOUT,
            tls: None,
            watch_interval: Some(DEFAULT_WATCH_INTERVAL),
            header_read_timeout: DEFAULT_HEADER_READ_TIMEOUT,
            body_read_timeout: DEFAULT_BODY_READ_TIMEOUT,
            max_connections: DEFAULT_MAX_CONNECTIONS,
        }
    }
}

/// How requests are authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMode {
    /// Bearer tokens (`adminToken`, `tokens`).
    Tokens,
    /// None: every caller is the admin.
    None,
}

/// What a token may do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Role {
    /// Everything: publish (for any tenant), query, actions, metrics.
    Admin,
    /// Publish events without a tenant, and query them.
    TopLevel,
    /// Publish events for this tenant only, and query them.
    Tenant(String),
}

impl Role {
    /// How error messages name the caller.
    pub fn describe(&self) -> String {
        match self {
            Role::Admin => "the admin token".into(),
            Role::TopLevel => "a top-level token".into(),
            Role::Tenant(t) => format!("a token of tenant `{t}`"),
        }
    }
}

/// Text that is not `sha256:<64 hex digits>`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{}not a token hash: expected `sha256:` followed by 64 hex digits (`wasp sidecar hash-token` prints it)",
    preview.as_ref().map(|p| format!("`{p}…` is ")).unwrap_or_default()
)]
pub struct NotATokenHash {
    /// The text's first 8 characters when it lacks the `sha256:` prefix
    /// (never more: it may be a token pasted where its hash belongs).
    pub preview: Option<String>,
}

/// SHA-256 of a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenHash([u8; 32]);

impl TokenHash {
    /// The hash of `token`.
    pub fn of(token: &str) -> TokenHash {
        TokenHash(Sha256::digest(token.as_bytes()).into())
    }

    /// Reads `sha256:<64 hex digits>`.
    pub fn parse(text: &str) -> Result<TokenHash, NotATokenHash> {
        let hex_part = text.strip_prefix("sha256:").ok_or_else(|| NotATokenHash { preview: Some(preview(text)) })?;
        let bytes = hex::decode(hex_part).map_err(|_| NotATokenHash { preview: None })?;
        let bytes: [u8; 32] = bytes.try_into().map_err(|_| NotATokenHash { preview: None })?;
        Ok(TokenHash(bytes))
    }

    /// Compares in constant time.
    pub fn matches(&self, other: &TokenHash) -> bool {
        let mut diff = 0u8;
        for (a, b) in self.0.iter().zip(other.0.iter()) {
            diff |= a ^ b;
        }
        std::hint::black_box(diff) == 0
    }
}

impl std::fmt::Display for TokenHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "sha256:{}", hex::encode(self.0))
    }
}

/// At most the first 8 characters, so that an error never echoes a token
/// pasted where its hash belongs.
fn preview(text: &str) -> String {
    text.chars().take(8).collect()
}
