//! Counters of one handler, updated by its delivery thread and read by
//! `summary()` at any time.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};

use serde::Serialize;

use crate::engine::FaultKind;

/// Where a handler stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum HandlerState {
    /// Handling events.
    Running,
    /// Its circuit breaker is open: its events wait in the journal until a
    /// probe succeeds (or, when the journal needs the room, are spilled to
    /// the dead-letter store as `quarantined`).
    Quarantined,
    /// It could not start (`init` failed, or an output could not be
    /// opened): its events are dead-lettered with kind `init`.
    Disabled,
}

/// Counters of one handler.
#[derive(Debug, Default)]
pub struct HandlerStats {
    pub(super) received: AtomicU64,
    pub(super) delivered: AtomicU64,
    pub(super) dead_lettered: AtomicU64,
    pub(super) lost: AtomicU64,
    pub(super) dropped: AtomicU64,
    pub(super) spilled: AtomicU64,
    pub(super) filtered: AtomicU64,
    pub(super) fuel_used: AtomicU64,
    pub(super) busy_ns: AtomicU64,
    pub(super) throttled_ns: AtomicU64,
    pub(super) calls: AtomicU64,
    pub(super) instances: AtomicU64,
    pub(super) recycled: AtomicU64,
    pub(super) quarantines: AtomicU64,
    pub(super) retries: AtomicU64,
    output_error: Mutex<Option<String>>,
    /// Per output (by index): sent, acknowledged, retried, rejected.
    output_counts: Mutex<Vec<OutputCounts>>,
    state: AtomicU8,
    faults: Mutex<BTreeMap<FaultKind, u64>>,
    last_fault: Mutex<Option<String>>,
    disabled_reason: Mutex<Option<String>>,
    reload_error: Mutex<Option<String>>,
}

/// A snapshot of one handler's counters.
///
/// For every handler, `received = delivered + deadLettered + filtered +
/// lost` (`spilled` is part of `deadLettered`), every event of its stream
/// was either received or `dropped`, and `lost` stays 0 unless the
/// dead-letter store itself could not be written.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct HandlerSummary {
    /// The handler's name (`tenant/name` for a tenant's handler).
    pub name: String,
    /// Its tenant, if any.
    pub tenant: Option<String>,
    /// SHA-256 of its component.
    pub version: String,
    /// `running`, `quarantined` or `disabled`.
    pub state: HandlerState,
    /// Why it is disabled.
    pub disabled_reason: Option<String>,
    /// Why the last hot reload of this handler was refused (the running
    /// version was kept); cleared by a reload that succeeds.
    pub reload_error: Option<String>,
    /// Events of its topics it has taken from the journal.
    pub received: u64,
    /// Events it accepted whose records reached the outputs.
    pub delivered: u64,
    /// Events kept in the dead-letter store.
    pub dead_lettered: u64,
    /// Events neither delivered nor dead-lettered (the dead-letter store
    /// could not be written; logged as errors).
    pub lost: u64,
    /// Events the journal dropped before this handler read them (overflow
    /// policy `drop-oldest`; logged as warnings).
    pub dropped: u64,
    /// Events moved out of the journal untried while the handler was
    /// quarantined, because the journal needed the room: dead-lettered as
    /// `quarantined` (replayable with `wasp dlq replay`), and counted in
    /// `deadLettered` too.
    pub spilled: u64,
    /// Events a filter dropped before this handler (by design: not a
    /// failure).
    pub filtered: u64,
    /// Fuel consumed by all calls.
    pub fuel_used: u64,
    /// Fuel per received event (0 when none).
    pub fuel_per_event: u64,
    /// Time spent in handler calls and output writes, in nanoseconds.
    pub busy_ns: u64,
    /// Time spent waiting for the tenant's fuel quota, in nanoseconds.
    pub throttled_ns: u64,
    /// Handler calls made.
    pub calls: u64,
    /// Instances created (1 + recycles + replacements after faults).
    pub instances: u64,
    /// Instances replaced after `recycleAfter` events.
    pub recycled: u64,
    /// Times the circuit breaker opened.
    pub quarantines: u64,
    /// Batches tried again because an output whose errors are transient (a
    /// network receiver) failed; their events waited in the journal.
    pub retries: u64,
    /// Why that output fails now (`None` once it takes records again).
    pub output_error: Option<String>,
    /// Dead letters by fault kind (`guest-error`, `trap`, `panic`, `fuel`, …).
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
    /// What the output did with the handler's records.
    #[serde(flatten)]
    pub counts: OutputCounts,
}

impl OutputSummary {
    /// An output with no records yet.
    pub fn new(name: impl Into<String>, kind: impl Into<String>, location: impl Into<String>) -> OutputSummary {
        OutputSummary { name: name.into(), kind: kind.into(), location: location.into(), counts: OutputCounts::default() }
    }
}

/// Counters of one output.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct OutputCounts {
    /// Records handed to the output (each attempt counts: a retried batch
    /// is sent again).
    pub sent: u64,
    /// Records the output acknowledged (a file: written; a network
    /// receiver: its acknowledgement).
    pub acknowledged: u64,
    /// Attempts that failed with a transient error and were tried again
    /// later (the events waited in the journal).
    pub retried: u64,
    /// Records the receiver refused for good (their events dead-lettered
    /// with its reason).
    pub rejected: u64,
}

impl HandlerSummary {
    /// Every event's fate, for people: `received R = delivered D +
    /// dead-lettered X (S spilled) + filtered F + lost L; dropped P`
    /// (`dropped`: events of its stream the journal dropped before it read
    /// them, each in the stream's gap log).
    pub fn fates(&self) -> String {
        let mut text = format!("{} received = {} delivered + {} dead-lettered", self.received, self.delivered, self.dead_lettered);
        if self.spilled > 0 {
            text.push_str(&format!(" ({} spilled while quarantined)", self.spilled));
        }
        text.push_str(&format!(" + {} filtered + {} lost; {} dropped (gap records)", self.filtered, self.lost, self.dropped));
        text
    }
}

impl HandlerStats {
    pub(super) fn fault(&self, kind: FaultKind, text: String) {
        *self.faults.lock().unwrap().entry(kind).or_default() += 1;
        *self.last_fault.lock().unwrap() = Some(text);
    }

    /// Counts `n` dead letters of `kind` without changing the last fault.
    pub(super) fn count_faults(&self, kind: FaultKind, n: u64) {
        if n > 0 {
            *self.faults.lock().unwrap().entry(kind).or_default() += n;
        }
    }

    /// Updates the counters of output `index`.
    pub(super) fn count_output(&self, index: usize, update: impl FnOnce(&mut OutputCounts)) {
        let mut counts = self.output_counts.lock().unwrap();
        if counts.len() <= index {
            counts.resize(index + 1, OutputCounts::default());
        }
        update(&mut counts[index]);
    }

    pub(super) fn set_output_error(&self, error: Option<String>) {
        *self.output_error.lock().unwrap() = error;
    }

    pub(super) fn set_state(&self, state: HandlerState) {
        self.state.store(state as u8, Ordering::Relaxed);
    }

    pub(crate) fn disable(&self, reason: String) {
        *self.disabled_reason.lock().unwrap() = Some(reason);
        self.set_state(HandlerState::Disabled);
    }

    /// Running again (a new version was swapped in).
    pub(crate) fn enable(&self) {
        *self.disabled_reason.lock().unwrap() = None;
        self.set_state(HandlerState::Running);
    }

    /// Records the outcome of a hot reload of this handler: `Some(why)`
    /// when it was refused.
    pub(crate) fn set_reload_error(&self, error: Option<String>) {
        *self.reload_error.lock().unwrap() = error;
    }

    /// The most recent failure, for people.
    pub fn last_fault(&self) -> Option<String> {
        self.last_fault.lock().unwrap().clone()
    }

    /// The handler's state now.
    pub fn state(&self) -> HandlerState {
        match self.state.load(Ordering::Relaxed) {
            x if x == HandlerState::Quarantined as u8 => HandlerState::Quarantined,
            x if x == HandlerState::Disabled as u8 => HandlerState::Disabled,
            _ => HandlerState::Running,
        }
    }

    /// A snapshot.
    pub fn summary(&self, name: &str, tenant: Option<&str>, version: &str, mut outputs: Vec<OutputSummary>) -> HandlerSummary {
        for (output, counts) in outputs.iter_mut().zip(self.output_counts.lock().unwrap().iter()) {
            output.counts = *counts;
        }
        let received = self.received.load(Ordering::Relaxed);
        let fuel_used = self.fuel_used.load(Ordering::Relaxed);
        HandlerSummary {
            name: name.to_owned(),
            tenant: tenant.map(str::to_owned),
            version: version.to_owned(),
            state: self.state(),
            disabled_reason: self.disabled_reason.lock().unwrap().clone(),
            reload_error: self.reload_error.lock().unwrap().clone(),
            received,
            delivered: self.delivered.load(Ordering::Relaxed),
            dead_lettered: self.dead_lettered.load(Ordering::Relaxed),
            lost: self.lost.load(Ordering::Relaxed),
            dropped: self.dropped.load(Ordering::Relaxed),
            spilled: self.spilled.load(Ordering::Relaxed),
            filtered: self.filtered.load(Ordering::Relaxed),
            fuel_used,
            fuel_per_event: fuel_used.checked_div(received).unwrap_or(0),
            busy_ns: self.busy_ns.load(Ordering::Relaxed),
            throttled_ns: self.throttled_ns.load(Ordering::Relaxed),
            calls: self.calls.load(Ordering::Relaxed),
            instances: self.instances.load(Ordering::Relaxed),
            recycled: self.recycled.load(Ordering::Relaxed),
            quarantines: self.quarantines.load(Ordering::Relaxed),
            retries: self.retries.load(Ordering::Relaxed),
            output_error: self.output_error.lock().unwrap().clone(),
            faults: self.faults.lock().unwrap().iter().map(|(k, v)| (k.as_str().to_owned(), *v)).collect(),
            last_fault: self.last_fault.lock().unwrap().clone(),
            outputs,
        }
    }
}
