//! The edge's forwarder: every accepted event, from the journal to
//! JetStream.
//!
//! Invariant: the forwarder's cursor (`fleet-edge`) is acknowledged up to
//! an event only after JetStream acknowledged (PubAck) every event of its
//! batch, so the journal keeps each event until the stream has it. A
//! failed batch (NATS down, no stream, a lost PubAck) is sent again after
//! a backoff with the same `Nats-Msg-Id`s: the stream stores each once
//! within its duplicate window.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use async_nats::jetstream::{self, message::PublishMessage};

use super::FleetConfig;
use crate::event::HostEvent;
use crate::journal::{CursorId, Journal};

/// The journal cursor of the forwarder.
pub const CURSOR: &str = "fleet-edge";

/// Counters of the forwarder.
#[derive(Debug, Default)]
pub struct ForwarderStats {
    /// Events JetStream acknowledged.
    pub forwarded: AtomicU64,
    /// PubAcks that said "duplicate" (a re-sent event stored once).
    pub duplicates: AtomicU64,
    /// Failed attempts (each is retried).
    pub failures: AtomicU64,
}

/// The forwarding threads (one per journal: one per tenant, one for events
/// without a tenant).
pub struct Forwarder {
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
    /// Its counters.
    pub stats: Arc<ForwarderStats>,
}

impl Forwarder {
    /// Registers the forwarder's cursor on each of `service`'s journals
    /// and starts forwarding. Called before the edge accepts its first
    /// event.
    pub fn start(fleet: &FleetConfig, service: &crate::service::AuditService) -> Forwarder {
        let stop = Arc::new(AtomicBool::new(false));
        let stats = Arc::new(ForwarderStats::default());
        let threads = service
            .journal_list()
            .into_iter()
            .map(|(tenant, journal)| {
                let cursor = journal.register_cursor(CURSOR);
                service.set_forwarder(tenant.clone(), cursor);
                let (fleet, stop, stats) = (fleet.clone(), stop.clone(), stats.clone());
                std::thread::Builder::new()
                    .name(format!("wasp-fleet-edge-{}", tenant.as_deref().unwrap_or("_")))
                    .spawn(move || forward(&fleet, &*journal, cursor, &stop, &stats))
                    .expect("spawn the fleet forwarder")
            })
            .collect();
        Forwarder { stop, threads, stats }
    }

    /// Waits until the forwarder forwarded what the (closed) journals hold,
    /// at most until `deadline`; then stops it. What it did not forward
    /// stays in the journal (forwarded at the next start with a disk
    /// journal). `true` when everything was forwarded.
    pub fn stop(self, deadline: Instant) -> bool {
        while Instant::now() < deadline && self.threads.iter().any(|t| !t.is_finished()) {
            std::thread::sleep(Duration::from_millis(10));
        }
        let done = self.threads.iter().all(JoinHandle::is_finished);
        self.stop.store(true, Ordering::Release);
        for thread in self.threads {
            let _ = thread.join();
        }
        done
    }
}

fn forward(fleet: &FleetConfig, journal: &dyn Journal, cursor: CursorId, stop: &AtomicBool, stats: &ForwarderStats) {
    let runtime = match crate::outputs::broker::runtime("fleet-edge") {
        Ok(r) => r,
        Err(e) => {
            tracing::error!("fleet edge: cannot start the NATS client: {e}; events stay in the journal");
            return;
        }
    };
    let mut context: Option<(async_nats::Client, jetstream::Context)> = None;
    let mut backoff = Duration::from_millis(100);
    while !stop.load(Ordering::Acquire) {
        let batch = journal.read(cursor, 1024, Duration::from_millis(2));
        if batch.is_empty() {
            if journal.is_closed() {
                break;
            }
            continue;
        }
        let last = batch.last().map_or(0, |e| e.sequence);
        loop {
            match runtime.block_on(publish(fleet, &mut context, &batch)) {
                Ok(duplicates) => {
                    journal.ack(cursor, last);
                    stats.forwarded.fetch_add(batch.len() as u64, Ordering::Relaxed);
                    stats.duplicates.fetch_add(duplicates, Ordering::Relaxed);
                    backoff = Duration::from_millis(100);
                    break;
                }
                Err(message) => {
                    stats.failures.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!("fleet edge: {message}; {} events wait in the journal, retried in {backoff:?}", batch.len());
                    if let Some((client, _)) = context.take() {
                        let _inside = runtime.enter();
                        drop(client);
                    }
                    let until = Instant::now() + backoff;
                    while Instant::now() < until && !stop.load(Ordering::Acquire) {
                        std::thread::sleep(Duration::from_millis(20));
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                    if stop.load(Ordering::Acquire) {
                        break;
                    }
                }
            }
        }
    }
    let _inside = runtime.enter();
    drop(context);
}

/// Publishes a batch (pipelined) and awaits every PubAck; the number of
/// duplicates.
async fn publish(
    fleet: &FleetConfig,
    context: &mut Option<(async_nats::Client, jetstream::Context)>,
    batch: &[Arc<HostEvent>],
) -> Result<u64, String> {
    let timeout = Duration::from_secs(10);
    if context.is_none() {
        let (client, js) = super::connect(fleet, timeout).await?;
        super::ensure_stream(fleet, &js).await?;
        *context = Some((client, js));
    }
    let (_, js) = context.as_ref().expect("connected above");
    let mut acks = Vec::with_capacity(batch.len());
    for event in batch {
        let subject = super::subject(event.tenant.as_deref(), &event.topic);
        let message = PublishMessage::build().payload(event.json.clone().into()).message_id(&event.id);
        let ack = js.send_publish(subject, message).await.map_err(|e| format!("cannot publish: {e}"))?;
        acks.push(ack);
    }
    let mut duplicates = 0;
    for ack in acks {
        let ack = tokio::time::timeout(timeout, ack)
            .await
            .map_err(|_| "no PubAck within 10s".to_owned())?
            .map_err(|e| format!("no PubAck: {e}"))?;
        duplicates += u64::from(ack.duplicate);
    }
    Ok(duplicates)
}
