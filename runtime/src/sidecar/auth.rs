//! Bearer tokens: the configuration holds SHA-256 hashes of the tokens
//! (`sha256:<hex>`); a request's token is hashed and compared with every
//! configured hash in constant time, without stopping at the first match,
//! so that timing says nothing about which hash (or how much of it) matched.
//!
//! Roles: the admin may do everything; a top-level token publishes events
//! without a tenant and may query them; a tenant token publishes and
//! queries only for its tenant.

use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;

pub use crate::config::sidecar::{AuthMode, Role, TokenHash};

/// `sha256:<hex>` of `token`: what `adminToken` and `tokens[].hash` hold.
pub fn hash_token(token: &str) -> String {
    TokenHash::of(token).to_string()
}

/// A fresh random token (32 bytes, URL-safe base64).
pub fn generate_token() -> Result<String, getrandom::Error> {
    use base64::Engine as _;
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

/// The name (`tokens[].name`, `adminToken`, or `tokens[<index>]`) of the
/// token the request presents, when it is one of `tokens` (`names` in the
/// same order).
pub fn token_name(tokens: &[(TokenHash, Role)], names: &[String], headers: &HeaderMap) -> Option<String> {
    let token = headers.get(AUTHORIZATION)?.to_str().ok()?.split_once(' ')?.1.trim();
    let presented = TokenHash::of(token);
    let mut found = None;
    for ((hash, _), name) in tokens.iter().zip(names) {
        if hash.matches(&presented) && found.is_none() {
            found = Some(name.clone());
        }
    }
    found
}

/// Why a request is not authenticated (answered 401, with
/// `WWW-Authenticate: Bearer`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Unauthenticated {
    /// What is wrong, for the caller.
    pub message: &'static str,
    /// A token was presented but is not valid (`error="invalid_token"`).
    pub invalid_token: bool,
}

impl Unauthenticated {
    fn new(message: &'static str, invalid_token: bool) -> Self {
        Unauthenticated { message, invalid_token }
    }
}

/// The caller's role, from the `Authorization: Bearer` header; refused
/// without a token or with an unknown one.
pub fn authenticate(mode: AuthMode, tokens: &[(TokenHash, Role)], headers: &HeaderMap) -> Result<Role, Unauthenticated> {
    if mode == AuthMode::None {
        return Ok(Role::Admin);
    }
    let Some(value) = headers.get(AUTHORIZATION) else {
        return Err(Unauthenticated::new("no bearer token: send `Authorization: Bearer <token>`", false));
    };
    let token = value
        .to_str()
        .ok()
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
        .filter(|token| !token.is_empty());
    let Some(token) = token else {
        return Err(Unauthenticated::new("the Authorization header is not `Bearer <token>`", true));
    };
    let presented = TokenHash::of(token);
    let mut found = None;
    for (hash, role) in tokens {
        if hash.matches(&presented) && found.is_none() {
            found = Some(role.clone());
        }
    }
    found.ok_or_else(|| Unauthenticated::new("the bearer token is not one of the configured tokens", true))
}
