//! The worker: each configured handler fed from JetStream.
//!
//! Invariant: a message is acknowledged to JetStream only after its event
//! went through the handler (the handler's journal cursor acknowledged
//! it: delivered to every output, or dead-lettered as in single-process
//! mode). Each handler runs in its own service (a memory journal holding
//! only the messages fetched and not yet acknowledged), fed by one durable
//! pull consumer `wasp-<handler>` that every worker shares. While the
//! handler's outputs fail and are retried, the worker sends "in progress"
//! so that JetStream does not give the messages to another worker; a
//! message that is not an event (bad subject or JSON) is terminated and
//! logged. On a stop, messages not yet handled are `nak`ed with a delay:
//! another worker takes them.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use async_nats::jetstream::{self, AckKind, consumer::pull};
use futures_util::StreamExt as _;

use super::FleetConfig;
use crate::config::Config;
use crate::service::AuditService;

/// A worker's handlers.
pub struct Worker {
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
    /// Events handled (acknowledged to JetStream), all handlers together.
    pub handled: Arc<AtomicU64>,
    /// Messages JetStream delivered more than once (after a worker died or
    /// `ackWait` passed).
    pub redelivered: Arc<AtomicU64>,
}

impl Worker {
    /// Builds one service per enabled handler (the configuration with only
    /// that handler enabled, a memory journal) and starts its consumer.
    pub fn start(config: &Config, fleet: &FleetConfig) -> Result<Worker, crate::service::BuildError> {
        let stop = Arc::new(AtomicBool::new(false));
        let handled = Arc::new(AtomicU64::new(0));
        let redelivered = Arc::new(AtomicU64::new(0));
        let mut names: Vec<(String, Option<String>)> = config
            .handlers
            .iter()
            .filter(|h| h.enabled)
            .map(|h| (crate::config::qualified(h.tenant.as_deref(), &h.name), h.tenant.clone()))
            .collect();
        names.extend(config.forgerock_handlers.iter().filter(|h| h.enabled).map(|h| (h.qualified_name(), h.tenant.clone())));
        let mut services = Vec::new();
        for (name, tenant) in &names {
            let mut only = config.clone();
            only.fleet = None;
            only.journal.durability = crate::config::Durability::Memory;
            if fleet.shared_state.unwrap_or(true) {
                only.shared_state = Some(super::state::factory(fleet));
            }
            for h in &mut only.handlers {
                h.enabled = &crate::config::qualified(h.tenant.as_deref(), &h.name) == name;
            }
            for h in &mut only.forgerock_handlers {
                h.enabled = &h.qualified_name() == name;
            }
            services.push((name.clone(), tenant.clone(), Arc::new(AuditService::new(only)?)));
        }
        let threads = services
            .into_iter()
            .map(|(name, tenant, service)| {
                let (fleet, stop, handled, redelivered) = (fleet.clone(), stop.clone(), handled.clone(), redelivered.clone());
                std::thread::Builder::new()
                    .name(format!("wasp-fleet-{name}"))
                    .spawn(move || {
                        consume(&fleet, &name, tenant.as_deref(), &service, &stop, &handled, &redelivered);
                        if let Ok(service) = Arc::try_unwrap(service) {
                            service.shutdown();
                        }
                    })
                    .expect("spawn a fleet worker thread")
            })
            .collect();
        Ok(Worker { stop, threads, handled, redelivered })
    }

    /// Stops fetching, lets each handler finish its batch, and stops.
    pub fn stop(self) {
        self.stop.store(true, Ordering::Release);
        for thread in self.threads {
            let _ = thread.join();
        }
    }
}

fn consume(
    fleet: &FleetConfig,
    handler: &str,
    tenant: Option<&str>,
    service: &AuditService,
    stop: &AtomicBool,
    handled: &AtomicU64,
    redelivered: &AtomicU64,
) {
    let runtime = match crate::outputs::broker::runtime("fleet-worker") {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(handler, "fleet worker: cannot start the NATS client: {e}");
            return;
        }
    };
    let mut backoff = Duration::from_millis(200);
    while !stop.load(Ordering::Acquire) {
        let result = runtime.block_on(handle_batches(fleet, handler, tenant, service, stop, handled, redelivered));
        if let Err(message) = result {
            tracing::warn!(handler, "fleet worker: {message}; retried in {backoff:?}");
            let until = Instant::now() + backoff;
            while Instant::now() < until && !stop.load(Ordering::Acquire) {
                std::thread::sleep(Duration::from_millis(20));
            }
            backoff = (backoff * 2).min(Duration::from_secs(5));
        }
    }
}

/// Connects, binds the consumer, and handles batches until `stop` or a
/// connection failure.
async fn handle_batches(
    fleet: &FleetConfig,
    handler: &str,
    tenant: Option<&str>,
    service: &AuditService,
    stop: &AtomicBool,
    handled: &AtomicU64,
    redelivered: &AtomicU64,
) -> Result<(), String> {
    let (client, js) = super::connect(fleet, Duration::from_secs(10)).await?;
    super::ensure_stream(fleet, &js).await?;
    let stream = js.get_stream(fleet.stream_name()).await.map_err(|e| format!("wasp.fleet.stream: {e}"))?;
    let name = super::consumer_name(handler);
    let consumer_config = pull::Config {
        durable_name: Some(name.clone()),
        filter_subject: format!("audit.{}.>", tenant.unwrap_or("_")),
        ack_policy: jetstream::consumer::AckPolicy::Explicit,
        ack_wait: fleet.ack_wait(),
        // An ordered handler: one batch in flight in the whole fleet, so
        // the next batch is handed out only after this one was
        // acknowledged (or, after a worker died, redelivered first).
        max_ack_pending: if fleet.is_ordered(handler) { fleet.batch() as i64 } else { 16_384 },
        ..Default::default()
    };
    let consumer = stream.get_or_create_consumer(&name, consumer_config).await.map_err(|e| format!("consumer `{name}`: {e}"))?;
    tracing::debug!(handler, consumer = %name, "fleet worker: consuming");
    let mut lease = match fleet.is_ordered(handler) {
        true => Some(Lease::open(fleet, &js, handler).await?),
        false => None,
    };
    while !stop.load(Ordering::Acquire) {
        if let Some(lease) = &mut lease
            && !lease.hold().await
        {
            // Another worker runs this ordered handler: stand by.
            tokio::time::sleep(Duration::from_millis(200)).await;
            continue;
        }
        let mut batch = consumer
            .fetch()
            .max_messages(fleet.batch())
            .expires(Duration::from_millis(500))
            .messages()
            .await
            .map_err(|e| format!("consumer `{name}`: cannot fetch: {e}"))?;
        let mut messages = Vec::new();
        while let Some(message) = batch.next().await {
            match message {
                Ok(m) => messages.push(m),
                Err(e) => tracing::debug!(handler, "fetch: {e}"),
            }
        }
        if messages.is_empty() {
            continue;
        }
        tracing::debug!(handler, messages = messages.len(), "fleet worker: fetched");
        // Into the handler's journal.
        let mut last: Option<u64> = None;
        let mut accepted = Vec::with_capacity(messages.len());
        for message in messages {
            if message.info().is_ok_and(|i| i.delivered > 1) {
                redelivered.fetch_add(1, Ordering::Relaxed);
            }
            let parsed = super::parse_subject(&message.subject)
                .ok_or_else(|| format!("subject `{}` is not audit.<tenant>.<topic>", message.subject))
                .and_then(|(t, topic)| service.ingest(t.as_deref(), &topic, &message.payload));
            match parsed {
                Ok(sequence) => {
                    last = Some(sequence);
                    accepted.push(message);
                }
                Err(e) => {
                    tracing::error!(handler, subject = %message.subject, "fleet worker: not an event, terminated: {e}");
                    let _ = message.ack_with(AckKind::Term).await;
                }
            }
        }
        // Acknowledged to JetStream once the handler acknowledged them.
        if let Some(last) = last {
            service.wake_handlers(tenant);
            let mut progress = Instant::now();
            let mut stopping: Option<Instant> = None;
            while !service.handled_through(tenant, last) {
                if stop.load(Ordering::Acquire) {
                    stopping.get_or_insert_with(Instant::now);
                }
                if stopping.is_some_and(|s| s.elapsed() > Duration::from_secs(5)) {
                    // Stopping while the handler retries: another worker
                    // takes them.
                    for m in &accepted {
                        let _ = m.ack_with(AckKind::Nak(Some(Duration::from_secs(1)))).await;
                    }
                    let _ = client.flush().await;
                    if let Some(lease) = &mut lease {
                        lease.release().await;
                    }
                    return Ok(());
                }
                if progress.elapsed() > fleet.ack_wait() / 3 {
                    for m in &accepted {
                        let _ = m.ack_with(AckKind::Progress).await;
                    }
                    if let Some(lease) = &mut lease {
                        lease.hold().await;
                    }
                    progress = Instant::now();
                }
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        }
        let count = accepted.len() as u64;
        for m in accepted {
            m.ack().await.map_err(|e| format!("cannot acknowledge: {e}"))?;
        }
        client.flush().await.map_err(|e| format!("cannot acknowledge: {e}"))?;
        handled.fetch_add(count, Ordering::Relaxed);
    }
    if let Some(lease) = &mut lease {
        lease.release().await;
    }
    Ok(())
}

/// Which worker runs an ordered handler: a key in the key-value bucket
/// `wasp-fleet-leases` (entries expire after `ackWait`), created by the
/// worker that takes the handler and rewritten by it before each fetch.
/// The others stand by until it is released (a stop) or expires (the
/// holder died or stalled); the holder's unacknowledged messages then come
/// back first, so the stream order holds.
struct Lease {
    store: async_nats::jetstream::kv::Store,
    key: String,
    owner: bytes::Bytes,
    /// The key's revision while this worker holds it.
    revision: Option<u64>,
}

impl Lease {
    async fn open(fleet: &FleetConfig, js: &jetstream::Context, handler: &str) -> Result<Lease, String> {
        let store = super::state::open_bucket(
            js,
            "wasp-fleet-leases",
            "WASP: which worker runs each ordered handler",
            fleet.replicas.unwrap_or(1),
            fleet.ack_wait(),
        )
        .await?;
        let owner = format!("pid {} at {:?}", std::process::id(), std::time::SystemTime::now());
        Ok(Lease { store, key: super::state::escape_key(handler), owner: owner.into(), revision: None })
    }

    /// Takes or renews the lease; whether this worker holds it.
    async fn hold(&mut self) -> bool {
        let result = match self.revision {
            Some(revision) => self.store.update(&self.key, self.owner.clone(), revision).await.map_err(|e| e.to_string()),
            None => self.store.create(&self.key, self.owner.clone()).await.map_err(|e| e.to_string()),
        };
        match result {
            Ok(revision) => {
                if self.revision.is_none() {
                    tracing::info!(key = %self.key, "fleet worker: this worker now runs the ordered handler");
                }
                self.revision = Some(revision);
                true
            }
            Err(e) => {
                if self.revision.take().is_some() {
                    tracing::warn!(key = %self.key, "fleet worker: lost the ordered handler's lease: {e}");
                }
                false
            }
        }
    }

    /// Gives the lease up so a standby worker takes over at once.
    async fn release(&mut self) {
        if self.revision.take().is_some() {
            let _ = self.store.purge(&self.key).await;
        }
    }
}
