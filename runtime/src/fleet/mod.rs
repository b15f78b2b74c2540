//! Fleet mode: edges accept events, workers run the handlers, NATS
//! JetStream (one stream, `wasp.fleet.stream`) carries the events between
//! them. `docs/fleet.md` describes it.
//!
//! Delivery invariants:
//! - **edge**: an accepted event is in the edge's journal first (as in
//!   single-process mode); a forwarder reads the journal through its own
//!   cursor (`fleet-edge`) and publishes each event on
//!   `audit.<tenant, or _>.<topic>` with `Nats-Msg-Id` = its `_id`; the
//!   cursor is acknowledged only after every PubAck of the batch arrived.
//!   While NATS is unreachable the events stay in the journal and the
//!   batch is re-sent (same ids: stored once within the stream's duplicate
//!   window). With a disk journal they survive a restart of the edge.
//! - **worker**: one durable pull consumer per handler (`wasp-<handler>`,
//!   shared by every worker, so adding a worker spreads the load); a
//!   fetched message goes into a handler-only journal, and is acknowledged
//!   to JetStream only after the handler acknowledged it there (delivered,
//!   or dead-lettered as in single-process mode). While the handler's
//!   outputs retry, the worker tells JetStream the message is in progress.
//!   A worker that dies leaves its messages unacknowledged: JetStream
//!   gives them to another worker after `ackWait` (at-least-once; a
//!   handler that delivered but died before the ack delivers again).

pub mod edge;
pub(crate) mod state;
pub mod worker;

use std::time::Duration;

use async_nats::jetstream::{self, ErrorCode, context::GetStreamErrorKind};

pub use crate::config::fleet::{FleetConfig, Retention, Role};

/// The subject of an event: `audit.<tenant, or _>.<topic>`.
pub fn subject(tenant: Option<&str>, topic: &str) -> String {
    format!("audit.{}.{topic}", tenant.unwrap_or("_"))
}

/// The consumer name of a handler.
pub fn consumer_name(handler: &str) -> String {
    let clean: String = handler.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' }).collect();
    format!("wasp-{clean}")
}

/// The tenant and topic of a subject made by [`subject`].
pub fn parse_subject(subject: &str) -> Option<(Option<String>, String)> {
    let rest = subject.strip_prefix("audit.")?;
    let (tenant, topic) = rest.split_once('.')?;
    if topic.is_empty() || tenant.is_empty() {
        return None;
    }
    Some(((tenant != "_").then(|| tenant.to_owned()), topic.to_owned()))
}

/// Connects to `wasp.fleet.servers`; the error names the servers and the
/// cause.
pub(crate) async fn connect(fleet: &FleetConfig, timeout: Duration) -> Result<(async_nats::Client, jetstream::Context), String> {
    let mut options = async_nats::ConnectOptions::new().name("wasp-fleet").connection_timeout(timeout).request_timeout(Some(timeout));
    if let Some(user) = &fleet.username {
        options = options.user_and_password(user.clone(), fleet.password.clone().unwrap_or_default());
    }
    let servers = fleet.server_list();
    let shown: Vec<String> = servers.split(',').map(crate::outputs::broker::redact).collect();
    // Each server on its own (the client does not read a comma-separated
    // list); it tries them in turn and learns the cluster's others.
    let addresses = servers
        .split(',')
        .map(|s| {
            s.parse::<async_nats::ServerAddr>().map_err(|e| format!("wasp.fleet.servers: `{}`: {e}", crate::outputs::broker::redact(s)))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let client = tokio::time::timeout(timeout, options.connect(addresses))
        .await
        .map_err(|_| format!("wasp.fleet.servers: no answer from {} within {timeout:?}", shown.join(", ")))?
        .map_err(|e| format!("wasp.fleet.servers: cannot connect to {}: {e}", shown.join(", ")))?;
    let context = jetstream::ContextBuilder::new().timeout(timeout).build(client.clone());
    Ok((client, context))
}

/// Looks the stream up and creates it when missing; a stream that exists
/// with other settings is used as it is (`wasp config check` reports the
/// differences).
pub(crate) async fn ensure_stream(fleet: &FleetConfig, js: &jetstream::Context) -> Result<(), String> {
    let name = fleet.stream_name();
    match js.get_stream(name).await {
        Ok(_) => Ok(()),
        Err(e) if matches!(e.kind(), GetStreamErrorKind::JetStream(ref j) if j.error_code() == ErrorCode::STREAM_NOT_FOUND) => {
            js.create_stream(fleet.stream_config())
                .await
                .map_err(|e| format!("wasp.fleet.stream: cannot create the JetStream stream `{name}`: {e}"))?;
            tracing::info!(stream = %name, "created the JetStream stream");
            Ok(())
        }
        Err(e) => Err(format!("wasp.fleet.stream: cannot look up the JetStream stream `{name}`: {e}")),
    }
}

/// Why [`check`] could not compare the stream with `wasp.fleet`.
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    /// The NATS client could not start.
    #[error("cannot start the NATS client: {0}")]
    Client(#[source] std::io::Error),
    /// No server could be reached; the message names them.
    #[error("{0}")]
    Unreachable(String),
    /// The stream could not be looked up or read.
    #[error("wasp.fleet.stream: cannot {action} `{stream}`: {message}")]
    Stream {
        /// The stream's name.
        stream: String,
        /// What WASP asked (`look up`, `read`).
        action: &'static str,
        /// What the server or client answered.
        message: String,
    },
}

/// `wasp config check` against the servers: the stream exists (or can be
/// created) and its settings match `wasp.fleet`. Returns what differs
/// (`None`: the stream does not exist yet; the first edge or worker
/// creates it).
pub fn check(fleet: &FleetConfig) -> Result<Option<Vec<String>>, CheckError> {
    let runtime = crate::outputs::broker::runtime("fleet-check").map_err(CheckError::Client)?;
    runtime.block_on(async {
        let (_client, js) = connect(fleet, Duration::from_secs(5)).await.map_err(CheckError::Unreachable)?;
        let name = fleet.stream_name();
        let failed = |action, e: &dyn std::fmt::Display| CheckError::Stream { stream: name.to_owned(), action, message: e.to_string() };
        let mut stream = match js.get_stream(name).await {
            Ok(s) => s,
            Err(e) if matches!(e.kind(), GetStreamErrorKind::JetStream(ref j) if j.error_code() == ErrorCode::STREAM_NOT_FOUND) => {
                return Ok(None);
            }
            Err(e) => return Err(failed("look up", &e)),
        };
        let found = stream.info().await.map_err(|e| failed("read", &e))?.config.clone();
        let want = fleet.stream_config();
        let mut differences = Vec::new();
        let mut differ = |field: &str, want: String, found: String| {
            if want != found {
                differences.push(format!("wasp.fleet.{field}: configured {want}, the stream `{name}` has {found}"));
            }
        };
        differ("subjects", format!("{:?}", want.subjects), format!("{:?}", found.subjects));
        differ("retention", format!("{:?}", want.retention), format!("{:?}", found.retention));
        differ("maxAge", format!("{:?}", want.max_age), format!("{:?}", found.max_age));
        differ("maxBytes", want.max_bytes.to_string(), found.max_bytes.to_string());
        differ("replicas", want.num_replicas.to_string(), found.num_replicas.to_string());
        differ("duplicateWindow", format!("{:?}", want.duplicate_window), format!("{:?}", found.duplicate_window));
        Ok(Some(differences))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_carry_tenant_and_topic() {
        assert_eq!(subject(None, "access"), "audit._.access");
        assert_eq!(parse_subject("audit._.access"), Some((None, "access".into())));
        assert_eq!(parse_subject("audit.acme.authentication"), Some((Some("acme".into()), "authentication".into())));
        assert_eq!(parse_subject("other.x"), None);
    }

    #[test]
    fn settings_name_the_field() {
        let fleet: FleetConfig = serde_json::from_value(serde_json::json!({"replicas": 7})).unwrap();
        assert_eq!(fleet.validate().unwrap_err().field, "replicas");
        let fleet: FleetConfig = serde_json::from_value(serde_json::json!({"servers": ["http://x"]})).unwrap();
        assert_eq!(fleet.validate().unwrap_err().field, "servers");
        let fleet: FleetConfig = serde_json::from_value(serde_json::json!({"subjects": ["x.>"]})).unwrap();
        assert_eq!(fleet.validate().unwrap_err().field, "subjects");
        assert!(serde_json::from_value::<FleetConfig>(serde_json::json!({"role": "boss"})).is_err());
    }
}
