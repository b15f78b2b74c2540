//! Host interface `wasp:handler/output`: `emit` stages records for the
//! handler's declared outputs. Nothing is written here; the delivery loop
//! commits the records of the events whose result is `ok`.

use std::sync::Arc;

use wasmtime::component::{HasSelf, Linker};

use super::bindings::wasp::handler::output;
use super::store::StoreData;

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
    /// Bytes one call may stage.
    budget_per_call: usize,
}

impl OutputState {
    pub fn new(declared: Arc<[OutputSpec]>, budget_per_call: usize) -> Self {
        OutputState { declared, batch: Vec::new(), staged: Vec::new(), staged_bytes: 0, budget_per_call }
    }

    /// Starts a call for the given (ascending) sequences, dropping anything
    /// left from an earlier call.
    pub fn begin(&mut self, batch: impl IntoIterator<Item = u64>) {
        self.batch.clear();
        self.batch.extend(batch);
        self.staged.clear();
        self.staged_bytes = 0;
    }

    /// Takes the records staged by the call.
    pub fn take(&mut self) -> Vec<StagedRecord> {
        self.staged_bytes = 0;
        std::mem::take(&mut self.staged)
    }

    fn stage(&mut self, sequence: u64, output: &str, data: Vec<u8>) -> Result<(), String> {
        let Some(index) = self.declared.iter().position(|o| o.name == output) else {
            let declared: Vec<&str> = self.declared.iter().map(|o| o.name.as_str()).collect();
            return Err(format!(
                "output `{output}` is not declared for this handler (declared: {})",
                if declared.is_empty() { "none".to_owned() } else { declared.join(", ") }
            ));
        };
        if self.batch.binary_search(&sequence).is_err() {
            return Err(format!("sequence {sequence} is not an event of the batch being handled"));
        }
        if self.declared[index].line_oriented {
            let body = data.strip_suffix(b"\n").unwrap_or(&data);
            if body.contains(&b'\n') {
                return Err(format!("output `{output}` takes one line per record; this record contains a newline"));
            }
        }
        if self.staged_bytes + data.len() > self.budget_per_call {
            return Err(format!(
                "output budget exceeded: {} bytes staged in this call, limit {}",
                self.staged_bytes + data.len(),
                self.budget_per_call
            ));
        }
        self.staged_bytes += data.len();
        self.staged.push(StagedRecord { sequence, output: index, data });
        Ok(())
    }
}

impl output::Host for OutputState {
    fn emit(&mut self, sequence: u64, output: String, data: Vec<u8>) -> Result<(), String> {
        self.stage(sequence, &output, data)
    }
}

/// Adds `wasp:handler/output` to the linker.
pub fn add_to_linker(linker: &mut Linker<StoreData>) -> wasmtime::Result<()> {
    output::add_to_linker::<StoreData, HasSelf<OutputState>>(linker, |data| &mut data.output)
}
