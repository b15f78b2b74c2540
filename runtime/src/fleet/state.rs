//! Handler state shared by the workers of a fleet: a JetStream key-value
//! bucket per handler (`wasp-state-<handler>`), so that a handler's `state`
//! (failed-login counters, for example) is the same on every worker,
//! whichever worker JetStream gives an event to.
//!
//! Invariants:
//! - a call reads each key from the bucket (never a local copy that another
//!   worker may have changed), and its changes reach the bucket only when
//!   the call completed without a fault (`engine::state`'s invariant);
//! - a key the guest gives is stored under an escaped name that NATS
//!   accepts (`-`, `/`, `_`, ASCII letters and digits as they are, every
//!   other byte as `=XX`), so any key round-trips;
//! - the state budget counts the bucket's stored bytes as NATS reports them
//!   (keys, values and NATS's per-entry overhead), so it is never looser
//!   than in single-process mode.
//!
//! Two workers that change the same key in the same instant: the last
//! write wins (a key-value bucket keeps one value per key). A handler that
//! needs exact counts per key partitions its events by subject so that one
//! key's events go to one worker (`docs/fleet.md`).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_nats::jetstream::kv;

use super::FleetConfig;
use crate::engine::{SharedState, SharedStateFactory};

/// How long one read or write of the bucket may take.
const TIMEOUT: Duration = Duration::from_secs(10);

/// The bucket of one handler.
pub struct KvState {
    runtime: Arc<tokio::runtime::Runtime>,
    store: kv::Store,
    bucket: String,
    /// The bucket's stored bytes when last asked.
    bytes: AtomicUsize,
}

impl std::fmt::Debug for KvState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KvState").field("bucket", &self.bucket).finish_non_exhaustive()
    }
}

/// The bucket name of a handler's state.
pub fn bucket_name(handler: &str) -> String {
    let consumer = super::worker::consumer_name(handler);
    format!("wasp-state-{}", consumer.trim_start_matches("wasp-"))
}

/// A guest's key as a NATS key-value key.
pub fn escape_key(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    for byte in key.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'/' | b'_') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("={byte:02X}"));
        }
    }
    if out.is_empty() { "=".to_owned() } else { out }
}

/// The factory a worker sets on its configuration
/// ([`crate::Config::shared_state`]).
pub fn factory(fleet: &FleetConfig) -> SharedStateFactory {
    let fleet = fleet.clone();
    SharedStateFactory(Arc::new(move |handler: &str, _max_bytes: usize| {
        let state = KvState::open(&fleet, handler)?;
        Ok(Arc::new(state) as Arc<dyn SharedState>)
    }))
}

/// Opens key-value bucket `bucket`, creating it when missing (entries
/// expire after `max_age` unless it is zero).
pub(super) async fn open_bucket(
    js: &async_nats::jetstream::Context,
    bucket: &str,
    description: &str,
    replicas: usize,
    max_age: Duration,
) -> Result<kv::Store, String> {
    if let Ok(store) = js.get_key_value(bucket).await {
        return Ok(store);
    }
    // The bucket's stream, as the client's `create_key_value` makes it
    // (that call first asks for the account's limits, whose answer from a
    // NATS 2.9 server this client cannot read).
    use async_nats::jetstream::stream;
    js.create_stream(stream::Config {
        name: format!("KV_{bucket}"),
        description: Some(description.to_owned()),
        subjects: vec![format!("$KV.{bucket}.>")],
        max_messages_per_subject: 1,
        max_age,
        num_replicas: replicas,
        storage: stream::StorageType::File,
        allow_rollup: true,
        deny_delete: true,
        allow_direct: true,
        discard: stream::DiscardPolicy::New,
        ..Default::default()
    })
    .await
    .map_err(|e| format!("cannot create the key-value bucket `{bucket}`: {e}"))?;
    js.get_key_value(bucket).await.map_err(|e| format!("cannot open the key-value bucket `{bucket}`: {e}"))
}

impl KvState {
    /// Connects and opens (or creates) the handler's bucket.
    pub fn open(fleet: &FleetConfig, handler: &str) -> Result<KvState, String> {
        let runtime = Arc::new(crate::outputs::broker::runtime("fleet-state").map_err(|e| format!("cannot start the NATS client: {e}"))?);
        let bucket = bucket_name(handler);
        let store: kv::Store = runtime.block_on(async {
            let (_client, js) = super::connect(fleet, TIMEOUT).await?;
            open_bucket(&js, &bucket, &format!("WASP: the state of handler `{handler}`"), fleet.replicas.unwrap_or(1), Duration::ZERO).await
        })?;
        let state = KvState { runtime, store, bucket, bytes: AtomicUsize::new(0) };
        state.refresh_bytes()?;
        Ok(state)
    }

    fn run<T, E: std::fmt::Display>(&self, what: &str, future: impl Future<Output = Result<T, E>>) -> Result<T, String> {
        self.runtime.block_on(async {
            match tokio::time::timeout(TIMEOUT, future).await {
                Ok(Ok(value)) => Ok(value),
                Ok(Err(e)) => Err(format!("key-value bucket `{}`: cannot {what}: {e}", self.bucket)),
                Err(_) => Err(format!("key-value bucket `{}`: cannot {what}: no answer within {TIMEOUT:?}", self.bucket)),
            }
        })
    }

    fn refresh_bytes(&self) -> Result<(), String> {
        let status = self.run("read its status", self.store.status())?;
        self.bytes.store(status.info.state.bytes as usize, Ordering::Relaxed);
        Ok(())
    }
}

impl SharedState for KvState {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, String> {
        let name = escape_key(key);
        Ok(self.run("read a key", self.store.get(name))?.map(|b| b.to_vec()))
    }

    fn put(&self, key: &str, value: &[u8]) -> Result<(), String> {
        let name = escape_key(key);
        self.run("write a key", self.store.put(name, bytes::Bytes::copy_from_slice(value)))?;
        self.refresh_bytes()
    }

    fn delete(&self, key: &str) -> Result<(), String> {
        let name = escape_key(key);
        self.run("remove a key", self.store.purge(name))?;
        self.refresh_bytes()
    }

    fn bytes(&self) -> usize {
        self.bytes.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_escaped_to_what_nats_accepts_and_stay_distinct() {
        assert_eq!(escape_key("failed/alice"), "failed/alice");
        assert_eq!(escape_key("a.b c"), "a=2Eb=20c");
        assert_eq!(escape_key("="), "=3D");
        assert_eq!(escape_key(""), "=");
        assert_ne!(escape_key("a.b"), escape_key("a=2Eb"));
        assert_eq!(bucket_name("tenant/h.x"), "wasp-state-tenant_h_x");
    }
}
