//! Delivery: one thread per handler reads the journal through the handler's
//! cursor, calls the handler in batches, commits the records of the events
//! it accepted to the outputs, and acknowledges only after the outputs took
//! them.
//!
//! Invariants:
//! - every event of the handler's topics is counted exactly once as
//!   delivered or failed (never silently dropped);
//! - records of an event are written only if the handler returned `ok` for
//!   it, and the cursor moves past a batch only after the outputs flushed;
//! - a faulted instance is never called again (a trap poisons its store);
//!   the batch is re-run one event at a time on fresh instances so that only
//!   the faulty event fails.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::engine::{BatchOutcome, Fault, FaultKind, HandlerInstance, HandlerPre, OutputSpec, StateStore};
use crate::event::HostEvent;
use crate::journal::{CursorId, Journal};
use crate::outputs::Sink;

/// Counters of one handler, updated by its delivery thread.
#[derive(Debug, Default)]
pub struct HandlerStats {
    received: AtomicU64,
    delivered: AtomicU64,
    failed: AtomicU64,
    fuel_used: AtomicU64,
    busy_ns: AtomicU64,
    calls: AtomicU64,
    instances: AtomicU64,
    faults: Mutex<BTreeMap<FaultKind, u64>>,
    last_fault: Mutex<Option<String>>,
}

/// A snapshot of one handler's counters.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct HandlerSummary {
    /// The handler's name.
    pub name: String,
    /// SHA-256 of its component.
    pub version: String,
    /// Events of its topics it was given.
    pub received: u64,
    /// Events it accepted whose records reached the outputs.
    pub delivered: u64,
    /// Events that failed (guest error, fault, or output failure).
    pub failed: u64,
    /// Fuel consumed by all calls.
    pub fuel_used: u64,
    /// Fuel per received event (0 when none).
    pub fuel_per_event: u64,
    /// Time spent in handler calls and output writes, in nanoseconds.
    pub busy_ns: u64,
    /// Handler calls made.
    pub calls: u64,
    /// Instances created (1 + recycles after faults).
    pub instances: u64,
    /// Failures by kind (`guest-error`, `trap`, `panic`, `fuel`, …).
    pub faults: BTreeMap<String, u64>,
    /// The most recent failure, for people.
    pub last_fault: Option<String>,
    /// Where its outputs write.
    pub outputs: Vec<OutputSummary>,
}

/// One output of a handler.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct OutputSummary {
    /// The output's name.
    pub name: String,
    /// Its type (`file`, `stdout`).
    #[serde(rename = "type")]
    pub kind: String,
    /// Where records go.
    pub location: String,
}

impl HandlerStats {
    fn fault(&self, kind: FaultKind, text: String) {
        *self.faults.lock().unwrap().entry(kind).or_default() += 1;
        *self.last_fault.lock().unwrap() = Some(text);
    }

    /// A snapshot.
    pub fn summary(&self, name: &str, version: &str, outputs: Vec<OutputSummary>) -> HandlerSummary {
        let received = self.received.load(Ordering::Relaxed);
        let fuel_used = self.fuel_used.load(Ordering::Relaxed);
        HandlerSummary {
            name: name.to_owned(),
            version: version.to_owned(),
            received,
            delivered: self.delivered.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
            fuel_used,
            fuel_per_event: fuel_used.checked_div(received).unwrap_or(0),
            busy_ns: self.busy_ns.load(Ordering::Relaxed),
            calls: self.calls.load(Ordering::Relaxed),
            instances: self.instances.load(Ordering::Relaxed),
            faults: self.faults.lock().unwrap().iter().map(|(k, v)| (k.as_str().to_owned(), *v)).collect(),
            last_fault: self.last_fault.lock().unwrap().clone(),
            outputs,
        }
    }
}

/// Everything one handler's delivery thread owns.
pub struct Worker {
    pub name: String,
    pub topics: BTreeSet<String>,
    pub pre: HandlerPre,
    pub budgets: crate::engine::Budgets,
    pub output_specs: Arc<[OutputSpec]>,
    pub sinks: Vec<Box<dyn Sink>>,
    pub state: StateStore,
    pub handler_config: String,
    pub batch_max_size: usize,
    pub batch_max_wait: Duration,
    pub stats: Arc<HandlerStats>,
    pub instance: Option<HandlerInstance>,
}

/// How often an output write is attempted before its events count as failed.
const OUTPUT_ATTEMPTS: u32 = 3;

impl Worker {
    /// Runs until the journal is closed and this handler has read everything.
    pub fn run(mut self, journal: Arc<dyn Journal>, cursor: CursorId) {
        loop {
            let batch = journal.read(cursor, self.batch_max_size, self.batch_max_wait);
            let Some(last) = batch.last().map(|e| e.sequence) else { break };
            let mine: Vec<Arc<HostEvent>> = batch.into_iter().filter(|e| self.topics.contains(&e.topic)).collect();
            if !mine.is_empty() {
                let started = Instant::now();
                self.process(&mine);
                self.stats.busy_ns.fetch_add(started.elapsed().as_nanos() as u64, Ordering::Relaxed);
            }
            journal.ack(cursor, last);
        }
        tracing::debug!(handler = %self.name, "delivery stopped: journal drained");
    }

    /// The live instance, instantiated (and `init`ed) when there is none.
    pub(crate) fn instance(&mut self) -> Result<&mut HandlerInstance, Fault> {
        if self.instance.is_none() {
            let instance = self.pre.instantiate(
                &self.name,
                &self.budgets,
                self.output_specs.clone(),
                self.state.clone(),
                &self.handler_config,
            )?;
            self.stats.instances.fetch_add(1, Ordering::Relaxed);
            self.instance = Some(instance);
        }
        Ok(self.instance.as_mut().expect("just set"))
    }

    fn call(&mut self, events: &[Arc<HostEvent>]) -> Result<BatchOutcome, Fault> {
        self.stats.calls.fetch_add(1, Ordering::Relaxed);
        let result = self.instance().and_then(|instance| instance.handle_batch(events));
        let fuel = match &result {
            Ok(outcome) => outcome.fuel_used,
            Err(fault) => fault.fuel_used,
        };
        self.stats.fuel_used.fetch_add(fuel, Ordering::Relaxed);
        if result.is_err() {
            // A fault poisons the store: never call this instance again.
            self.instance = None;
        }
        result
    }

    fn process(&mut self, events: &[Arc<HostEvent>]) {
        self.stats.received.fetch_add(events.len() as u64, Ordering::Relaxed);
        match self.call(events) {
            Ok(outcome) => self.commit(events, outcome),
            Err(fault) if events.len() == 1 => self.fail(&events[0], fault.kind, &fault.message),
            Err(fault) => {
                tracing::debug!(handler = %self.name, "batch of {} faulted ({}); isolating the faulty events", events.len(), fault.kind.as_str());
                for event in events {
                    match self.call(std::slice::from_ref(event)) {
                        Ok(outcome) => self.commit(std::slice::from_ref(event), outcome),
                        Err(fault) => self.fail(event, fault.kind, &fault.message),
                    }
                }
            }
        }
    }

    fn fail(&self, event: &HostEvent, kind: FaultKind, message: &str) {
        tracing::warn!(handler = %self.name, event = %event.id, sequence = event.sequence, fault = kind.as_str(), "event failed: {message}");
        self.stats.failed.fetch_add(1, Ordering::Relaxed);
        self.stats.fault(kind, format!("event {} ({}): {message}", event.id, kind.as_str()));
    }

    /// Writes the records of the accepted events, flushes, and counts.
    fn commit(&mut self, events: &[Arc<HostEvent>], outcome: BatchOutcome) {
        let mut accepted = BTreeSet::new();
        for (event, result) in events.iter().zip(&outcome.results) {
            match result {
                Ok(()) => {
                    accepted.insert(event.sequence);
                }
                Err(message) => self.fail(event, FaultKind::GuestError, message),
            }
        }
        let records: Vec<_> = outcome.staged.iter().filter(|r| accepted.contains(&r.sequence)).collect();
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.write_records(&records) {
                Ok(()) => break,
                Err(e) if attempt < OUTPUT_ATTEMPTS => {
                    tracing::warn!(handler = %self.name, "output write failed (attempt {attempt}), retrying: {e}");
                    std::thread::sleep(Duration::from_millis(100 << attempt));
                }
                Err(e) => {
                    tracing::error!(handler = %self.name, "output write failed {OUTPUT_ATTEMPTS} times: {e}");
                    for event in events.iter().filter(|e| accepted.contains(&e.sequence)) {
                        self.stats.failed.fetch_add(1, Ordering::Relaxed);
                        self.stats.fault(FaultKind::Output, format!("event {}: output write failed: {e}", event.id));
                    }
                    return;
                }
            }
        }
        self.stats.delivered.fetch_add(accepted.len() as u64, Ordering::Relaxed);
    }

    fn write_records(&mut self, records: &[&crate::engine::StagedRecord]) -> std::io::Result<()> {
        let mut touched = vec![false; self.sinks.len()];
        for record in records {
            self.sinks[record.output].write(&record.data)?;
            touched[record.output] = true;
        }
        for (sink, touched) in self.sinks.iter_mut().zip(touched) {
            if touched {
                sink.flush()?;
            }
        }
        Ok(())
    }
}
