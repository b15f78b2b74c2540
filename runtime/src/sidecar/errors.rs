//! Errors as the sidecar answers them: JSON in the CREST shape
//! `{"code": 400, "reason": "Bad Request", "message": "…"}`, the message
//! naming what was wrong; 401 carries `WWW-Authenticate: Bearer`, 503 for
//! an overloaded journal and 429 for a tenant over its quota carry
//! `Retry-After`.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::event::PublishError;
use crate::handler_query::QueryFailure;
use crate::service::ActionError;

/// One error response.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct CrestError {
    /// The HTTP status.
    pub code: StatusCode,
    /// What was wrong, for people.
    pub message: String,
    /// Seconds after which a retry may succeed (`Retry-After`).
    pub retry_after: Option<u32>,
    /// `WWW-Authenticate` to send (401 only).
    pub authenticate: Option<&'static str>,
}

impl CrestError {
    /// An error with this status and message.
    pub fn new(code: StatusCode, message: impl Into<String>) -> CrestError {
        CrestError { code, message: message.into(), retry_after: None, authenticate: None }
    }

    /// 400 Bad Request.
    pub fn bad_request(message: impl Into<String>) -> CrestError {
        CrestError::new(StatusCode::BAD_REQUEST, message)
    }

    /// 403 Forbidden.
    pub fn forbidden(message: impl Into<String>) -> CrestError {
        CrestError::new(StatusCode::FORBIDDEN, message)
    }

    /// 404 Not Found.
    pub fn not_found(message: impl Into<String>) -> CrestError {
        CrestError::new(StatusCode::NOT_FOUND, message)
    }

    /// 401 Unauthorized; `invalid`: a token was given but is not accepted.
    pub fn unauthorized(message: impl Into<String>, invalid: bool) -> CrestError {
        CrestError {
            authenticate: Some(if invalid { r#"Bearer realm="wasp", error="invalid_token""# } else { r#"Bearer realm="wasp""# }),
            ..CrestError::new(StatusCode::UNAUTHORIZED, message)
        }
    }

    /// 500 Internal Server Error.
    pub fn internal(message: impl Into<String>) -> CrestError {
        CrestError::new(StatusCode::INTERNAL_SERVER_ERROR, message)
    }

    /// The CREST body.
    pub fn to_json(&self) -> Value {
        json!({"code": self.code.as_u16(), "reason": self.code.canonical_reason().unwrap_or(""), "message": self.message})
    }

    fn retry(mut self, seconds: u32) -> CrestError {
        self.retry_after = Some(seconds);
        self
    }
}

impl IntoResponse for CrestError {
    fn into_response(self) -> Response {
        let mut response = (self.code, Json(self.to_json())).into_response();
        if let Some(seconds) = self.retry_after {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        if let Some(challenge) = self.authenticate {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(challenge));
        }
        response
    }
}

/// The `reason` label of a refused event in `/metrics`.
pub fn publish_reason(e: &PublishError) -> &'static str {
    match e {
        PublishError::UnknownTopic { .. } => "unknown-topic",
        PublishError::UnknownTenant { .. } => "unknown-tenant",
        PublishError::TooLarge { .. } => "too-large",
        PublishError::Overloaded { .. } => "overloaded",
        PublishError::QuotaExceeded { .. } => "quota",
        PublishError::ShuttingDown => "shutting-down",
        PublishError::Storage(_) => "storage",
        PublishError::NotYetDurable { .. } => "not-yet-durable",
        PublishError::Schema { .. } => "schema",
        PublishError::InvalidJson(_)
        | PublishError::NotAnObject(_)
        | PublishError::InvalidField { .. }
        | PublishError::MissingField { .. }
        | PublishError::InvalidTimestamp { .. }
        | PublishError::TooDeep { .. } => "invalid",
    }
}

impl From<PublishError> for CrestError {
    /// Event errors are 400 (an unknown topic too: the message lists the
    /// known ones), too large 413, an overloaded journal 503 with
    /// `Retry-After: 1`, a tenant over its quota 429 with `Retry-After: 1`,
    /// shutting down 503, a journal that cannot store 507.
    fn from(e: PublishError) -> CrestError {
        let message = e.to_string();
        match e {
            PublishError::TooLarge { .. } => CrestError::new(StatusCode::PAYLOAD_TOO_LARGE, message),
            PublishError::Overloaded { .. } => CrestError::new(StatusCode::SERVICE_UNAVAILABLE, message).retry(1),
            PublishError::QuotaExceeded { .. } => CrestError::new(StatusCode::TOO_MANY_REQUESTS, message).retry(1),
            PublishError::ShuttingDown => CrestError::new(StatusCode::SERVICE_UNAVAILABLE, message),
            PublishError::Storage(_) => CrestError::new(StatusCode::INSUFFICIENT_STORAGE, message),
            PublishError::NotYetDurable { .. } => CrestError::new(StatusCode::ACCEPTED, message),
            _ => CrestError::bad_request(message),
        }
    }
}

impl From<ActionError> for CrestError {
    /// An unknown handler is 404, a failed rotation 500, a handler that did
    /// not take the request 504.
    fn from(e: ActionError) -> CrestError {
        let message = e.to_string();
        match e {
            ActionError::UnknownHandler { .. } => CrestError::not_found(message),
            ActionError::Failed(_) => CrestError::internal(message),
            ActionError::Timeout { .. } => CrestError::new(StatusCode::GATEWAY_TIMEOUT, message),
        }
    }
}

impl From<QueryFailure> for CrestError {
    /// A bad request parameter or an unknown `?tenant=` is 400; a topic the query handler does not
    /// keep 404; no (usable) `handlerForQueries` 501; unreadable or corrupt
    /// files 500; a JDBC query handler's database failing 503.
    fn from(e: QueryFailure) -> CrestError {
        let message = e.to_string();
        match e {
            QueryFailure::Query(_) | QueryFailure::UnknownTenant(_) => CrestError::bad_request(message),
            QueryFailure::UnknownTopic { .. } => CrestError::not_found(message),
            QueryFailure::NoQueryHandler(_) | QueryFailure::NotAFileHandler(_) => CrestError::new(StatusCode::NOT_IMPLEMENTED, message),
            QueryFailure::Io { .. } | QueryFailure::Corrupt { .. } => CrestError::internal(message),
            QueryFailure::Database { .. } => CrestError::new(StatusCode::SERVICE_UNAVAILABLE, message),
        }
    }
}

impl From<super::auth::Unauthenticated> for CrestError {
    fn from(e: super::auth::Unauthenticated) -> Self {
        CrestError::unauthorized(e.message, e.invalid_token)
    }
}
