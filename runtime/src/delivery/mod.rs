//! Delivery: one thread per handler reads the journal through the handler's
//! cursor, calls the handler in batches, commits the records of the events
//! it accepted to the outputs, dead-letters the events it did not deliver,
//! and acknowledges only after the outputs (or the dead-letter store) took
//! them.
//!
//! Invariants:
//! - every event of the handler's topics and tenant is counted exactly once
//!   as delivered or dead-lettered (`lost` only if the dead-letter store
//!   itself cannot be written — logged as an error);
//! - records of an event are written only if the handler returned `ok` for
//!   it, and the cursor moves past an event only after its records were
//!   flushed or its dead letter was written;
//! - a faulted instance is never called again (a trap poisons its store);
//!   the batch is re-run one event at a time on fresh instances so that only
//!   the faulty event is dead-lettered;
//! - while the circuit breaker is open the handler reads nothing: its events
//!   stay in the journal (the cursor is parked, so flushes do not wait for
//!   it) until the journal needs the room: then they are spilled, i.e.
//!   dead-lettered as `quarantined`, untried, and acknowledged, so that a
//!   quarantined handler never fills the journal for its neighbours or the
//!   producer. At shutdown the rest is dead-lettered the same way.

pub mod breaker;
pub mod canary;
pub mod candidate;
pub mod filters;
mod stats;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

pub use breaker::{Breaker, Position, Transition};
pub use stats::{HandlerState, HandlerStats, HandlerSummary, OutputCounts, OutputSummary};

use crate::dead_letter::{DeadLetterStore, FaultRecord, HandlerRef};
use crate::engine::{BatchOutcome, Fault, FaultKind, HandlerInstance, HandlerPre, OutputSpec, StateStore};
use crate::event::HostEvent;
use crate::journal::{CursorId, Journal};
use crate::outputs::Sink;
use crate::quota::TokenBucket;

/// A request to a handler's delivery thread.
pub enum Control {
    /// Rotate the handler's file outputs; the reply lists the archived
    /// files.
    Rotate(std::sync::mpsc::Sender<Result<Vec<String>, String>>),
    /// Hot reload: replace the component with this one, between two
    /// batches. The new version is instantiated and `init`ed first; if that
    /// fails the reply carries the error and the old version keeps running.
    /// A disabled or quarantined handler starts afresh on the new version.
    /// With a config, the new version is `init`ed with it (a deploy with
    /// its own config). The reply is the journal position of the switch:
    /// the old version handled the events up to it, the new one handles
    /// the events after it.
    Swap(Box<HandlerPre>, Option<String>, std::sync::mpsc::Sender<Result<u64, String>>),
    /// Start a shadow or canary beside the live version (its first
    /// instance is `init`ed first); the reply is the journal position it
    /// starts after. It replaces any candidate running.
    Candidate(Box<candidate::Candidate>, std::sync::mpsc::Sender<Result<u64, String>>),
    /// Withdraw the candidate (rollback); the reply is the position after
    /// which the live version handles every event.
    Withdraw(std::sync::mpsc::Sender<Result<u64, String>>),
    /// Make the candidate the live version; the reply is the position
    /// after which it handles every event.
    Promote(std::sync::mpsc::Sender<Result<u64, String>>),
    /// Stop after the batch in hand (hot reload removes or rebuilds the
    /// handler): the cursor then stands after the last acknowledged event.
    Stop,
}

/// Requests waiting for a delivery thread (it takes them between batches).
pub type Controls = Arc<std::sync::Mutex<Vec<Control>>>;

/// What became of one event.
#[derive(Debug)]
pub enum EventResult {
    /// Its records reached the outputs.
    Delivered,
    /// A filter dropped it before the handler.
    Filtered,
    /// It was not delivered, for this reason.
    Failed(FaultRecord),
}

/// Everything one handler's delivery thread owns.
pub struct Worker {
    pub name: String,
    pub tenant: Option<String>,
    pub topics: BTreeSet<String>,
    /// The component (WASM handlers).
    pub pre: Option<HandlerPre>,
    /// The built-in handler (instead of a component).
    pub native: Option<Box<dyn crate::builtin::NativeHandler>>,
    /// The handler's version: the component's SHA-256, or `builtin:<class>`.
    pub version: String,
    pub budgets: crate::engine::Budgets,
    pub output_specs: Arc<[OutputSpec]>,
    pub sinks: Vec<Box<dyn Sink>>,
    pub state: StateStore,
    pub handler_config: String,
    pub batch_max_size: usize,
    pub batch_max_wait: Duration,
    pub stats: Arc<HandlerStats>,
    pub instance: Option<HandlerInstance>,
    pub breaker: Breaker,
    pub dead_letters: DeadLetterStore,
    /// The tenant's fuel quota, shared by its handlers.
    pub fuel_quota: Option<Arc<TokenBucket>>,
    /// Why the handler could not start; its events are dead-lettered.
    pub disabled: Option<FaultRecord>,
    /// The filters its events pass first.
    pub filters: Vec<filters::FilterStage>,
    /// Requests from the service (`rotate`, hot reload).
    pub controls: Controls,
    /// A [`Control::Stop`] was taken.
    pub stopping: bool,
    /// An output whose errors are retryable failed the last batch: why,
    /// and how long to wait before trying again.
    pub output_down: Option<(String, Duration)>,
    /// A shadow or canary version beside this one (deploys).
    pub candidate: Option<candidate::Candidate>,
    /// The last sequence acknowledged through the cursor: between two
    /// batches, every event up to it was handled, none after it.
    pub acked: u64,
    /// While a shadow runs: the records of the last batch's delivered
    /// events, by sequence (what the shadow is compared with).
    pub captured: Option<candidate::Captured>,
}

/// First wait after a retryable output failure; it doubles per failure.
const OUTPUT_RETRY_FIRST: Duration = Duration::from_millis(100);
/// Longest wait between two attempts at a retryable output.
const OUTPUT_RETRY_MAX: Duration = Duration::from_secs(30);

/// How often an output write is attempted before its events count as failed.
const OUTPUT_ATTEMPTS: u32 = 3;
/// How often writing a dead letter is attempted before the event is lost.
const DEAD_LETTER_ATTEMPTS: u32 = 3;

impl Worker {
    /// Runs until the journal is closed and this handler has read everything.
    pub fn run(mut self, journal: Arc<dyn Journal>, cursor: CursorId) {
        self.acked = journal.acked(cursor);
        loop {
            self.take_controls();
            if self.stopping {
                // Everything read so far was acknowledged (or rewound): the
                // handler that replaces this one resumes from the cursor.
                break;
            }
            self.tick_outputs();
            if self.breaker.is_open() && !self.sit_out_quarantine(&*journal, cursor) {
                self.drain_quarantined(&*journal, cursor);
                break;
            }
            if self.stopping {
                break;
            }
            let max = if self.breaker.position() == Position::HalfOpen { 1 } else { self.batch_max_size };
            let batch = journal.read(cursor, max, self.batch_max_wait);
            self.declare_dropped(&*journal, cursor);
            let Some(last) = batch.last().map(|e| e.sequence) else {
                if journal.is_closed() {
                    break;
                }
                continue; // woken for a request
            };
            let mine: Vec<Arc<HostEvent>> = batch.into_iter().filter(|e| self.wants(e)).collect();
            let stopped_at = if mine.is_empty() { None } else { self.deliver(&mine) };
            match stopped_at {
                None => {
                    journal.ack(cursor, last);
                    self.acked = last;
                }
                Some(next) => {
                    // The breaker opened mid-batch, or an output is down:
                    // the rest waits in the journal.
                    journal.ack(cursor, next - 1);
                    journal.rewind(cursor, next);
                    self.acked = next - 1;
                }
            }
            journal.park(cursor, self.breaker.is_open());
            if !self.wait_for_output(&*journal) {
                break;
            }
        }
        for sink in &mut self.sinks {
            if let Err(e) = sink.close() {
                tracing::error!(handler = %self.name, output = %sink.location(), "closing the output failed: {e}");
            }
        }
        tracing::debug!(handler = %self.name, "delivery stopped: journal drained");
    }

    /// After a retryable output failure, waits (doubling, up to
    /// [`OUTPUT_RETRY_MAX`]) before the batch is tried again; the events
    /// wait in the journal meanwhile. `false` when the journal closed and
    /// the output is still down: the handler stops, its undelivered events
    /// stay in the journal (a durable journal delivers them at the next
    /// start).
    fn wait_for_output(&mut self, journal: &dyn Journal) -> bool {
        let Some((error, wait)) = self.output_down.clone() else {
            return true;
        };
        if journal.is_closed() && self.stats.retries.load(Ordering::Relaxed) > 0 && wait >= Duration::from_secs(1) {
            tracing::error!(handler = %self.name, "stopping while an output is down ({error}): its undelivered events stay in the journal");
            return false;
        }
        let until = Instant::now() + wait;
        while Instant::now() < until {
            self.take_controls();
            if self.stopping {
                return true;
            }
            std::thread::sleep((until - Instant::now()).min(Duration::from_millis(20)));
        }
        true
    }

    /// Time-driven output work (rotation, retention, signatures).
    fn tick_outputs(&mut self) {
        for sink in &mut self.sinks {
            if let Err(e) = sink.tick() {
                tracing::error!(handler = %self.name, output = %sink.location(), "rotation, retention or signing failed: {e}");
            }
        }
    }

    /// The shortest interval at which the outputs want [`Sink::tick`].
    pub fn tick_interval(&self) -> Option<Duration> {
        self.sinks.iter().filter_map(|s| s.tick_interval()).min()
    }

    fn take_controls(&mut self) {
        let requests: Vec<Control> = std::mem::take(&mut *self.controls.lock().unwrap());
        for request in requests {
            match request {
                Control::Rotate(reply) => {
                    let mut archived = Vec::new();
                    let mut result = Ok(());
                    for sink in &mut self.sinks {
                        match sink.rotate() {
                            Ok(Some(file)) => archived.push(file),
                            Ok(None) => {}
                            Err(e) => result = Err(format!("{}: {e}", sink.location())),
                        }
                    }
                    tracing::info!(handler = %self.name, ?archived, "outputs rotated");
                    let _ = reply.send(result.map(|()| archived));
                }
                Control::Swap(pre, config, reply) => {
                    let _ = reply.send(self.swap(*pre, config).map(|()| self.acked));
                }
                Control::Candidate(candidate, reply) => {
                    let _ = reply.send(self.start_candidate(*candidate));
                }
                Control::Withdraw(reply) => {
                    let _ = reply.send(match self.candidate.take() {
                        Some(_) => Ok(self.acked),
                        None => Err("no shadow or canary runs".into()),
                    });
                }
                Control::Promote(reply) => {
                    let _ = reply.send(self.promote());
                }
                Control::Stop => self.stopping = true,
            }
        }
    }

    /// Replaces the component: the new version's first instance is
    /// created (and `init`ed) before the old one is dropped.
    fn swap(&mut self, pre: HandlerPre, config: Option<String>) -> Result<(), String> {
        let config = config.unwrap_or_else(|| self.handler_config.clone());
        let instance = pre
            .instantiate(&self.name, &self.budgets, self.output_specs.clone(), self.state.clone(), &config)
            .map_err(|fault| format!("the new version failed to start ({}): {}", fault.kind.as_str(), fault.message))?;
        tracing::info!(handler = %self.name, from = %self.version, to = %pre.hash, position = self.acked, "component swapped");
        self.handler_config = config;
        self.stats.instances.fetch_add(1, Ordering::Relaxed);
        self.version = pre.hash.clone();
        self.pre = Some(pre);
        self.instance = Some(instance);
        if self.disabled.take().is_some() || self.breaker.is_open() {
            self.breaker.reset();
            self.stats.enable();
        }
        Ok(())
    }

    fn wants(&self, event: &HostEvent) -> bool {
        event.tenant == self.tenant && self.topics.contains(&event.topic)
    }

    fn handler_ref(&self) -> HandlerRef<'_> {
        HandlerRef { name: &self.name, tenant: self.tenant.as_deref(), version: &self.version }
    }

    /// Waits out an open breaker, spilling when the journal needs the room;
    /// `false` if the journal closed meanwhile.
    fn sit_out_quarantine(&mut self, journal: &dyn Journal, cursor: CursorId) -> bool {
        while let Position::Open { until } = self.breaker.position() {
            if journal.is_closed() {
                return false;
            }
            let now = Instant::now();
            if now >= until {
                tracing::info!(handler = %self.name, "circuit breaker half-open: probing with one event");
                self.breaker.half_open();
                break;
            }
            self.take_controls();
            if self.stopping || !self.breaker.is_open() {
                return true;
            }
            if journal.spill_due(cursor, (until - now).min(Duration::from_millis(20))) {
                self.spill(journal, cursor);
            }
            self.declare_dropped(journal, cursor);
        }
        true
    }

    /// While quarantined, the journal needs the room the handler's backlog
    /// takes: its waiting events go to the dead-letter store untried (kind
    /// `quarantined`, replayable) and are acknowledged.
    fn spill(&mut self, journal: &dyn Journal, cursor: CursorId) {
        let why = format!(
            "not attempted: the handler was quarantined by its circuit breaker and the journal needed the room its backlog took (last fault: {})",
            self.stats.last_fault().unwrap_or_default()
        );
        let mut spilled = 0;
        while let Some(n) = self.dead_letter_untried(journal, cursor, &why) {
            spilled += n;
            if !journal.spill_due(cursor, Duration::ZERO) {
                break;
            }
        }
        self.stats.spilled.fetch_add(spilled, Ordering::Relaxed);
        tracing::warn!(handler = %self.name, spilled, "quarantined handler: its backlog was moved from the journal to the dead-letter store (`wasp dlq replay` delivers it once the handler is healthy)");
    }

    /// At shutdown, a quarantined handler's waiting events go to the
    /// dead-letter store untried.
    fn drain_quarantined(&mut self, journal: &dyn Journal, cursor: CursorId) {
        let why = format!(
            "not attempted: the handler was quarantined by its circuit breaker when the service stopped (last fault: {})",
            self.stats.last_fault().unwrap_or_default()
        );
        while self.dead_letter_untried(journal, cursor, &why).is_some() {}
        self.declare_dropped(journal, cursor);
    }

    /// Takes the events the journal dropped under this handler since the
    /// last look (`drop-oldest`), counts them, and declares them in its
    /// outputs: a tamper-evident log gets a signed `dropped` record per
    /// run of sequences, before any record of a later event.
    fn declare_dropped(&mut self, journal: &dyn Journal, cursor: CursorId) {
        let dropped = journal.take_dropped(cursor);
        self.stats.dropped.store(journal.dropped(cursor), Ordering::Relaxed);
        if dropped.is_empty() {
            return;
        }
        let mut ranges: Vec<(u64, u64)> = Vec::new();
        for sequence in dropped {
            match ranges.last_mut() {
                Some((_, to)) if *to + 1 == sequence => *to = sequence,
                _ => ranges.push((sequence, sequence)),
            }
        }
        for sink in &mut self.sinks {
            if let Err(e) = sink.declare_dropped(&ranges) {
                tracing::error!(handler = %self.name, output = %sink.location(), ?ranges, "cannot declare dropped events in the output (they are in the journal's gap log): {e}");
            }
        }
    }

    /// Reads the next events (up to 1024) and dead-letters this handler's
    /// as `quarantined`, untried, with one flush of the dead-letter store;
    /// acknowledges them. Returns how many were dead-lettered (`None` when
    /// nothing was waiting).
    fn dead_letter_untried(&mut self, journal: &dyn Journal, cursor: CursorId, why: &str) -> Option<u64> {
        let batch = journal.read(cursor, 1024, Duration::ZERO);
        let last = batch.last()?.sequence;
        let mine: Vec<&Arc<HostEvent>> = batch.iter().filter(|e| self.wants(e)).collect();
        let mut letters: Vec<_> =
            mine.iter().map(|e| DeadLetterStore::letter(&self.handler_ref(), e, FaultRecord::plain(FaultKind::Quarantined, why))).collect();
        self.stats.received.fetch_add(mine.len() as u64, Ordering::Relaxed);
        match self.dead_letters.put_many(&mut letters) {
            Ok(()) => {
                self.stats.dead_lettered.fetch_add(letters.len() as u64, Ordering::Relaxed);
                self.stats.count_faults(FaultKind::Quarantined, letters.len() as u64);
            }
            Err(e) => {
                tracing::warn!(handler = %self.name, "writing {} dead letters at once failed, writing them one by one: {e}", letters.len());
                for event in &mine {
                    self.dead_letter(event, FaultRecord::plain(FaultKind::Quarantined, why));
                }
            }
        }
        journal.ack(cursor, last);
        self.acked = last;
        Some(mine.len() as u64)
    }

    /// Handles `events`, dead-lettering the ones not delivered. Returns the
    /// sequence of the first event left untouched because the breaker
    /// opened, if any.
    fn deliver(&mut self, events: &[Arc<HostEvent>]) -> Option<u64> {
        match &self.candidate {
            None => self.deliver_plain(events),
            Some(c) if c.is_canary() => self.deliver_canary(events),
            Some(_) => self.deliver_shadowed(events),
        }
    }

    pub(super) fn deliver_plain(&mut self, events: &[Arc<HostEvent>]) -> Option<u64> {
        let started = Instant::now();
        let (results, stopped_at) = self.handle(events);
        self.record_results(results, started);
        stopped_at
    }

    /// Counts each event's result; dead-letters the failed ones.
    pub(super) fn record_results(&mut self, results: Vec<(Arc<HostEvent>, EventResult)>, started: Instant) {
        // Each event as the handler received it (after its filters): what a
        // dead letter keeps, so nothing a filter removed is stored.
        for (event, result) in results {
            let event = &event;
            self.stats.received.fetch_add(1, Ordering::Relaxed);
            match result {
                EventResult::Delivered => {
                    self.stats.delivered.fetch_add(1, Ordering::Relaxed);
                }
                EventResult::Filtered => {
                    self.stats.filtered.fetch_add(1, Ordering::Relaxed);
                }
                EventResult::Failed(record) => self.dead_letter(event, record),
            }
        }
        self.stats.busy_ns.fetch_add(started.elapsed().as_nanos() as u64, Ordering::Relaxed);
    }

    /// Runs `events` through the filters, the handler and the outputs: one
    /// result per event handled (a prefix of `events`, each as the handler
    /// received it: a filter may have replaced it), and where it stopped if
    /// the breaker opened.
    pub fn handle(&mut self, events: &[Arc<HostEvent>]) -> (Vec<(Arc<HostEvent>, EventResult)>, Option<u64>) {
        if let Some(record) = &self.disabled {
            return (events.iter().map(|e| (e.clone(), EventResult::Failed(record.clone()))).collect(), None);
        }
        if self.filters.is_empty() {
            let (results, stopped_at) = self.handle_filtered(events);
            return (events.iter().cloned().zip(results).collect(), stopped_at);
        }
        let outcomes = filters::apply(&mut self.filters, events);
        let pass: Vec<Arc<HostEvent>> =
            outcomes.iter().filter_map(|o| if let filters::Filtered::Pass(e) = o { Some(e.clone()) } else { None }).collect();
        let (handled, stopped_at) = if pass.is_empty() { (Vec::new(), None) } else { self.handle_filtered(&pass) };
        let mut handled = handled.into_iter();
        let mut results = Vec::with_capacity(events.len());
        for (original, outcome) in events.iter().zip(outcomes) {
            results.push(match outcome {
                filters::Filtered::Pass(event) => match handled.next() {
                    Some(result) => (event, result),
                    // The breaker stopped the batch at this event.
                    None => return (results, stopped_at),
                },
                filters::Filtered::Dropped => (original.clone(), EventResult::Filtered),
                // Dead-lettered as the failing filter got it: what earlier
                // filters removed is not stored.
                filters::Filtered::Failed(event, record) => (event, EventResult::Failed(record)),
            });
        }
        (results, stopped_at)
    }

    /// [`handle`](Self::handle) after the filters.
    fn handle_filtered(&mut self, events: &[Arc<HostEvent>]) -> (Vec<EventResult>, Option<u64>) {
        match self.call(events) {
            Ok(outcome) => match self.commit(events, outcome) {
                Some(results) => (results, None),
                None => (Vec::new(), Some(events[0].sequence)),
            },
            Err(fault) if events.len() == 1 => {
                self.breaker_fault(&fault.kind);
                (vec![EventResult::Failed(FaultRecord::from_fault(&fault))], None)
            }
            Err(fault) => {
                tracing::debug!(handler = %self.name, "batch of {} faulted ({}); isolating the faulty events", events.len(), fault.kind.as_str());
                let mut results = Vec::with_capacity(events.len());
                for event in events {
                    if self.breaker.is_open() {
                        return (results, Some(event.sequence));
                    }
                    let one = std::slice::from_ref(event);
                    match self.call(one) {
                        Ok(outcome) => match self.commit(one, outcome) {
                            Some(result) => results.extend(result),
                            None => return (results, Some(event.sequence)),
                        },
                        Err(fault) => {
                            self.breaker_fault(&fault.kind);
                            results.push(EventResult::Failed(FaultRecord::from_fault(&fault)));
                        }
                    }
                }
                (results, None)
            }
        }
    }

    fn breaker_fault(&mut self, kind: &FaultKind) {
        if !kind.trips_breaker() {
            return;
        }
        if self.breaker.fault() == Transition::Opened {
            self.stats.quarantines.fetch_add(1, Ordering::Relaxed);
            self.stats.set_state(HandlerState::Quarantined);
            tracing::warn!(handler = %self.name, backoff = ?self.breaker.backoff(), "circuit breaker open: handler quarantined");
        }
    }

    fn breaker_success(&mut self) {
        if self.breaker.success() == Transition::Closed {
            self.stats.set_state(HandlerState::Running);
            tracing::info!(handler = %self.name, "circuit breaker closed: the probe succeeded");
        }
    }

    /// Writes a dead letter durably, retrying; counts the event as lost only
    /// if the store cannot be written at all.
    fn dead_letter(&self, event: &HostEvent, record: FaultRecord) {
        let kind = record.kind;
        let summary = format!("event {} ({}): {}", event.id, kind.as_str(), record.message);
        tracing::warn!(handler = %self.name, event = %event.id, sequence = event.sequence, fault = kind.as_str(), "dead-lettered: {}", record.message);
        let letter = DeadLetterStore::letter(&self.handler_ref(), event, record);
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.dead_letters.put(&letter) {
                Ok(()) => break,
                Err(e) if attempt < DEAD_LETTER_ATTEMPTS => {
                    tracing::warn!(handler = %self.name, "writing a dead letter failed (attempt {attempt}), retrying: {e}");
                    std::thread::sleep(Duration::from_millis(100 << attempt));
                }
                Err(e) => {
                    tracing::error!(handler = %self.name, event = %event.id, "EVENT LOST: its dead letter could not be written: {e}");
                    self.stats.lost.fetch_add(1, Ordering::Relaxed);
                    self.stats.fault(kind, summary);
                    return;
                }
            }
        }
        self.stats.dead_lettered.fetch_add(1, Ordering::Relaxed);
        self.stats.fault(kind, summary);
    }

    /// The live instance, instantiated (and `init`ed) when there is none.
    pub(crate) fn instance(&mut self) -> Result<&mut HandlerInstance, Fault> {
        if self.instance.is_none() {
            let Some(pre) = &self.pre else {
                return Err(Fault {
                    kind: FaultKind::Init,
                    message: "a built-in handler has no instance".into(),
                    trap_code: None,
                    fuel_used: 0,
                    peak_memory: 0,
                    truncated_bytes: 0,
                });
            };
            let instance =
                pre.instantiate(&self.name, &self.budgets, self.output_specs.clone(), self.state.clone(), &self.handler_config)?;
            self.stats.instances.fetch_add(1, Ordering::Relaxed);
            self.instance = Some(instance);
        }
        Ok(self.instance.as_mut().expect("just set"))
    }

    fn call(&mut self, events: &[Arc<HostEvent>]) -> Result<BatchOutcome, Fault> {
        if let Some(quota) = &self.fuel_quota {
            let waited = quota.wait_for_credit();
            self.stats.throttled_ns.fetch_add(waited.as_nanos() as u64, Ordering::Relaxed);
        }
        self.stats.calls.fetch_add(1, Ordering::Relaxed);
        if let Some(native) = &mut self.native {
            return Ok(crate::builtin::handle_batch(native.as_mut(), events));
        }
        let result = self.instance().and_then(|instance| instance.handle_batch(events));
        let fuel = match &result {
            Ok(outcome) => outcome.fuel_used,
            Err(fault) => fault.fuel_used,
        };
        self.stats.fuel_used.fetch_add(fuel, Ordering::Relaxed);
        if let Some(quota) = &self.fuel_quota {
            quota.charge(fuel);
        }
        match &result {
            // A fault poisons the store: never call this instance again.
            Err(_) => self.instance = None,
            Ok(_) => {
                let handled = self.instance.as_ref().map_or(0, HandlerInstance::events_handled);
                if self.budgets.recycle_after > 0 && handled >= self.budgets.recycle_after {
                    self.instance = None;
                    self.stats.recycled.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        result
    }

    /// Writes the records of the accepted events and flushes; one result
    /// per event. `None` when an output whose errors are retryable failed:
    /// nothing of the batch counts as delivered, it is tried again later
    /// ([`Self::output_down`]).
    fn commit(&mut self, events: &[Arc<HostEvent>], outcome: BatchOutcome) -> Option<Vec<EventResult>> {
        // The guest ran to completion: whatever it answered, it is healthy.
        self.breaker_success();
        let mut accepted = BTreeSet::new();
        let mut results: Vec<Option<EventResult>> = Vec::with_capacity(events.len());
        for (event, result) in events.iter().zip(&outcome.results) {
            match result {
                Ok(()) => {
                    accepted.insert(event.sequence);
                    results.push(None);
                }
                Err(error) => results.push(Some(EventResult::Failed(FaultRecord::guest_error(error)))),
            }
        }
        let records: Vec<_> = outcome.staged.iter().filter(|r| accepted.contains(&r.sequence)).collect();
        if let Some(captured) = &mut self.captured {
            for record in &records {
                captured.entry(record.sequence).or_default().push((record.output, record.data.clone()));
            }
        }
        for sink in &mut self.sinks {
            sink.mark();
        }
        let mut attempt = 0;
        let mut sent: Vec<Vec<u64>> = Vec::new();
        let written = loop {
            attempt += 1;
            let result = self.write_records(&records, &mut sent);
            if result.is_err() {
                // Take back what reached any output in this attempt: a retry
                // writes each record once, a failure leaves nothing behind.
                for sink in &mut self.sinks {
                    if let Err(e) = sink.rollback() {
                        tracing::error!(handler = %self.name, output = %sink.location(), "cannot take back a partial write: {e}");
                    }
                }
            }
            match result {
                Ok(()) => break Ok(()),
                Err((index, e)) if self.sinks[index].retryable(&e) => {
                    self.stats.count_output(index, |c| c.retried += 1);
                    let location = self.sinks[index].location();
                    let wait = self.output_down.as_ref().map_or(OUTPUT_RETRY_FIRST, |(_, w)| (*w * 2).min(OUTPUT_RETRY_MAX));
                    let error = format!("{location}: {e}");
                    if self.output_down.is_none() {
                        tracing::warn!(handler = %self.name, "output down, its events wait in the journal and are retried: {error}");
                    } else {
                        tracing::debug!(handler = %self.name, ?wait, "output still down: {error}");
                    }
                    self.stats.retries.fetch_add(1, Ordering::Relaxed);
                    self.stats.set_output_error(Some(error.clone()));
                    self.output_down = Some((error, wait));
                    return None;
                }
                // A receiver's permanent rejection (HTTP 400, …): trying
                // again cannot help; dead-lettered with its reason.
                Err((index, e)) if e.kind() == std::io::ErrorKind::InvalidData => {
                    let refused = records.iter().filter(|r| r.output == index).count() as u64;
                    self.stats.count_output(index, |c| c.rejected += refused);
                    break Err(e);
                }
                Err((_, e)) if attempt < OUTPUT_ATTEMPTS => {
                    tracing::warn!(handler = %self.name, "output write failed (attempt {attempt}), retrying: {e}");
                    std::thread::sleep(Duration::from_millis(100 << attempt));
                }
                Err((_, e)) => {
                    tracing::error!(handler = %self.name, "output write failed {OUTPUT_ATTEMPTS} times: {e}");
                    break Err(e);
                }
            }
        };
        if written.is_ok() && self.output_down.take().is_some() {
            tracing::info!(handler = %self.name, "output back: delivering again");
            self.stats.set_output_error(None);
        }
        if written.is_ok() {
            // Records a receiver refused for good (a bulk item's mapping
            // error): their events are dead-lettered with its reason.
            for (output, (sink, sequences)) in self.sinks.iter_mut().zip(&sent).enumerate() {
                let rejected = sink.take_rejected();
                let (n, refused) = (sequences.len() as u64, rejected.len() as u64);
                if n > 0 {
                    self.stats.count_output(output, |c| {
                        c.acknowledged += n.saturating_sub(refused);
                        c.rejected += refused;
                    });
                }
                for (index, reason) in rejected {
                    let Some(sequence) = sequences.get(index) else {
                        continue;
                    };
                    if let Some(slot) = events.iter().position(|e| e.sequence == *sequence) {
                        results[slot] = Some(EventResult::Failed(FaultRecord::plain(
                            FaultKind::Output,
                            format!("{} refused the record: {reason}", sink.location()),
                        )));
                    }
                }
            }
        }
        if let Err(e) = &written {
            self.breaker_fault(&FaultKind::Output);
            let message = if e.kind() == std::io::ErrorKind::InvalidData {
                format!("the output refused the records: {e}")
            } else {
                format!("output write failed {OUTPUT_ATTEMPTS} times: {e}")
            };
            for slot in results.iter_mut().filter(|r| r.is_none()) {
                *slot = Some(EventResult::Failed(FaultRecord::plain(FaultKind::Output, message.clone())));
            }
        }
        Some(results.into_iter().map(|r| r.unwrap_or(EventResult::Delivered)).collect())
    }

    /// Writes and flushes; on error, which output failed. `sent` gets, per
    /// output, the event sequence of each record written, in order.
    fn write_records(&mut self, records: &[&crate::engine::StagedRecord], sent: &mut Vec<Vec<u64>>) -> Result<(), (usize, std::io::Error)> {
        let mut touched = vec![false; self.sinks.len()];
        *sent = vec![Vec::new(); self.sinks.len()];
        for record in records {
            self.sinks[record.output].write(&record.data).map_err(|e| (record.output, e))?;
            touched[record.output] = true;
            sent[record.output].push(record.sequence);
        }
        for (index, (sink, touched)) in self.sinks.iter_mut().zip(touched).enumerate() {
            if touched {
                self.stats.count_output(index, |c| c.sent += sent[index].len() as u64);
                sink.flush().map_err(|e| (index, e))?;
            }
        }
        Ok(())
    }
}
