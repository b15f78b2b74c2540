//! Host interface `wasp:handler/output`: `emit` stages records for the
//! handler's declared outputs. Nothing is written here; the delivery loop
//! commits the records of the events whose result is `ok`.

use std::sync::Arc;

use wasmtime::component::{HasSelf, Linker};

use super::bindings::wasp::handler::output;
use super::fault::FaultKind;
use super::host::HostInterface;

/// An output a handler declared in its configuration.
#[derive(Debug, Clone)]
pub struct OutputSpec {
    /// The name the handler emits to.
    pub name: String,
    /// Line-oriented outputs (file, stdout) take one line per record.
    pub line_oriented: bool,
}

/// One staged record.
#[derive(Debug, Clone)]
pub struct StagedRecord {
    /// The sequence of the event it was emitted for.
    pub sequence: u64,
    /// Index into the handler's declared outputs.
    pub output: usize,
    /// The record.
    pub data: Vec<u8>,
}

/// Per-instance output staging.
#[derive(Debug)]
pub struct OutputState {
    declared: Arc<[OutputSpec]>,
    /// Sequences of the batch being handled, ascending.
    batch: Vec<u64>,
    staged: Vec<StagedRecord>,
    staged_bytes: usize,
    /// The records of the last call that completed, until taken.
    committed: Vec<StagedRecord>,
    /// Bytes staged per event of the batch (parallel to `batch`).
    per_event: Vec<usize>,
    /// Bytes one event may stage.
    budget_per_event: usize,
    /// Bytes one call may stage.
    budget_per_call: usize,
    /// Set when the guest went over a budget: the call traps (`output-limit`).
    over_budget: bool,
}

impl OutputState {
    pub fn new(declared: Arc<[OutputSpec]>, budget_per_event: usize, budget_per_call: usize) -> Self {
        OutputState {
            declared,
            batch: Vec::new(),
            staged: Vec::new(),
            staged_bytes: 0,
            committed: Vec::new(),
            per_event: Vec::new(),
            budget_per_event,
            budget_per_call,
            over_budget: false,
        }
    }

    /// Takes the records of the last committed call (the delivery loop
    /// writes those of the events the guest accepted).
    pub fn take(&mut self) -> Vec<StagedRecord> {
        std::mem::take(&mut self.committed)
    }

    /// Stages one record. `Ok(Err(_))` is a mistake the guest is told about
    /// (an undeclared output, a sequence outside the batch, a newline in a
    /// line record); `Err(_)` traps the call because a budget was exceeded.
    fn stage(&mut self, sequence: u64, output: &str, data: Vec<u8>) -> wasmtime::Result<Result<(), String>> {
        let Some(index) = self.declared.iter().position(|o| o.name == output) else {
            let declared: Vec<&str> = self.declared.iter().map(|o| o.name.as_str()).collect();
            return Ok(Err(format!(
                "output `{output}` is not declared for this handler (declared: {})",
                if declared.is_empty() { "none".to_owned() } else { declared.join(", ") }
            )));
        };
        let Ok(slot) = self.batch.binary_search(&sequence) else {
            return Ok(Err(format!("sequence {sequence} is not an event of the batch being handled")));
        };
        if self.declared[index].line_oriented {
            let body = data.strip_suffix(b"\n").unwrap_or(&data);
            if body.contains(&b'\n') {
                return Ok(Err(format!("output `{output}` takes one line per record; this record contains a newline")));
            }
        }
        let event_total = self.per_event[slot] + data.len();
        if event_total > self.budget_per_event {
            self.over_budget = true;
            return Err(wasmtime::Error::msg(format!(
                "output budget exceeded: event {sequence} emitted {event_total} bytes, limit {} per event",
                self.budget_per_event
            )));
        }
        if self.staged_bytes + data.len() > self.budget_per_call {
            self.over_budget = true;
            return Err(wasmtime::Error::msg(format!(
                "output budget exceeded: {} bytes emitted in this call, limit {} per call",
                self.staged_bytes + data.len(),
                self.budget_per_call
            )));
        }
        self.per_event[slot] = event_total;
        self.staged_bytes += data.len();
        self.staged.push(StagedRecord { sequence, output: index, data });
        Ok(Ok(()))
    }
}

impl HostInterface for OutputState {
    /// Drops anything left from an earlier call.
    fn begin(&mut self, batch: &[u64], _events: usize) {
        self.batch.clear();
        self.batch.extend_from_slice(batch);
        self.per_event.clear();
        self.per_event.resize(self.batch.len(), 0);
        self.staged.clear();
        self.committed.clear();
        self.staged_bytes = 0;
        self.over_budget = false;
    }

    fn over_budget(&self) -> Option<FaultKind> {
        self.over_budget.then_some(FaultKind::OutputLimit)
    }

    fn commit(&mut self) {
        self.staged_bytes = 0;
        self.committed = std::mem::take(&mut self.staged);
    }

    fn discard(&mut self) {
        self.staged_bytes = 0;
        self.staged.clear();
    }
}

impl output::Host for OutputState {
    fn emit(&mut self, sequence: u64, output: String, data: Vec<u8>) -> wasmtime::Result<Result<(), String>> {
        self.stage(sequence, &output, data)
    }
}

/// Adds `wasp:handler/output` to the linker; `get` finds this interface's
/// state in the store's data.
pub fn add_to_linker<T: 'static>(linker: &mut Linker<T>, get: fn(&mut T) -> &mut OutputState) -> wasmtime::Result<()> {
    output::add_to_linker::<T, HasSelf<OutputState>>(linker, get)
}
