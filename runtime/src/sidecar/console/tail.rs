//! The live tail: `GET /console/api/tail` streams the events accepted from
//! then on as server-sent events, each one only to the listeners whose
//! token may see its tenant (filtered here, on the server).
//!
//! The publish routes hand every accepted event to [`Tail::offer`]; with no
//! listener that is one atomic load, and nothing is copied or parsed. A
//! listener that falls more than [`CAPACITY`] events behind is told how
//! many it missed (an `event: lagged` message) rather than slowing
//! publishers down. Shutdown ends every stream ([`Tail::close`]), so that
//! an open tail does not hold the drain up.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use serde_json::{Value, json};
use tokio::sync::{broadcast, watch};

use super::super::AppState;
use super::super::errors::CrestError;
use super::{may_see, role};
use crate::service::Receipt;

/// Events a listener may fall behind before it skips.
pub const CAPACITY: usize = 1024;

/// One accepted event, as sent to listeners.
#[derive(Debug)]
struct Item {
    tenant: Option<String>,
    json: String,
}

/// The broadcast of accepted events to the open tails.
#[derive(Debug)]
pub struct Tail {
    sender: broadcast::Sender<Arc<Item>>,
    listeners: AtomicUsize,
    closed: watch::Sender<bool>,
}

impl Default for Tail {
    fn default() -> Self {
        Tail { sender: broadcast::channel(CAPACITY).0, listeners: AtomicUsize::new(0), closed: watch::channel(false).0 }
    }
}

impl Tail {
    /// An event was accepted: `text` as published, for `tenant`.
    pub fn offer(&self, tenant: Option<&str>, receipt: &Receipt, text: &str) {
        if self.listeners.load(Ordering::Relaxed) == 0 {
            return;
        }
        let event: Value = serde_json::from_str(text).unwrap_or(Value::Null);
        let json =
            json!({"topic": receipt.topic, "tenant": tenant, "_id": receipt.id, "sequence": receipt.sequence, "event": event}).to_string();
        let _ = self.sender.send(Arc::new(Item { tenant: tenant.map(str::to_owned), json }));
    }

    /// Ends every stream (shutdown began).
    pub fn close(&self) {
        self.closed.send_replace(true);
    }
}

/// Counts a listener while its stream lives.
struct Listening(Arc<AppState>);

impl Drop for Listening {
    fn drop(&mut self) {
        self.0.tail.listeners.fetch_sub(1, Ordering::Relaxed);
    }
}

/// `GET /console/api/tail`: `text/event-stream` of the events the token
/// may see, from now on; a comment every 15 s keeps proxies from closing it.
pub(super) async fn stream(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
) -> Result<Sse<impl futures_util::Stream<Item = Result<Event, Infallible>>>, CrestError> {
    let role = role(&state, &headers)?;
    let receiver = state.tail.sender.subscribe();
    let closed = state.tail.closed.subscribe();
    state.tail.listeners.fetch_add(1, Ordering::Relaxed);
    let guard = Listening(state.clone());
    let events = futures_util::stream::unfold((receiver, closed, role, guard), |(mut receiver, mut closed, role, guard)| async move {
        loop {
            let next = tokio::select! {
                next = receiver.recv() => next,
                _ = closed.wait_for(|closed| *closed) => return None,
            };
            let event = match next {
                Ok(item) if may_see(&role, item.tenant.as_deref()) => Event::default().data(item.json.as_str()),
                Ok(_) => continue,
                Err(broadcast::error::RecvError::Lagged(skipped)) => {
                    Event::default().event("lagged").data(json!({"skipped": skipped}).to_string())
                }
                Err(broadcast::error::RecvError::Closed) => return None,
            };
            return Some((Ok(event), (receiver, closed, role, guard)));
        }
    });
    Ok(Sse::new(events).keep_alive(KeepAlive::default()))
}
