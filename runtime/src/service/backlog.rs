//! What the journals hold, per stream and per handler
//! ([`AuditService::backlog`](super::AuditService::backlog)): the journal
//! size and handler lag that `/metrics` reports.

use serde::Serialize;

/// What the journals hold now ([`AuditService::backlog`](super::AuditService::backlog)).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Backlog {
    /// One entry per stream: events without a tenant first, then each
    /// tenant's, by name.
    pub streams: Vec<StreamBacklog>,
    /// One entry per enabled handler, in configuration order.
    pub handlers: Vec<HandlerLag>,
}

/// One journal stream's backlog.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct StreamBacklog {
    /// The tenant (`None`: events published without one).
    pub tenant: Option<String>,
    /// The last sequence number assigned.
    pub head: u64,
    /// Events held (not yet acknowledged by every handler of the stream).
    pub events: usize,
    /// Bytes of event JSON held.
    pub bytes: usize,
}

/// How far one handler is behind its stream.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct HandlerLag {
    /// The handler (`tenant/name` for a tenant's).
    pub name: String,
    /// Events of its stream it has not acknowledged yet (those of other
    /// topics included).
    pub lag: u64,
}
