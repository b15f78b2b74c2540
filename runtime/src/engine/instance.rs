//! Handler instances: instantiate from an `InstancePre`, call `init`, run
//! batches under fuel and deadline budgets, and classify faults.
//!
//! A trap poisons the whole `Store` (wasmtime refuses to re-enter the
//! component afterwards), so an instance that faulted is never called again:
//! the caller drops it and instantiates a fresh one.

use std::path::Path;
use std::sync::Arc;

use wasmtime::component::{ComponentExportIndex, Linker};
use wasmtime::{Store, Trap};

use super::bindings::{self, BatchCall, BatchExport, PackedExport, packed_export};
use super::fault::FaultKind;
use super::output::{OutputSpec, StagedRecord};
use super::state::StateStore;
use super::store::{Budgets, StoreData};
use super::{EPOCH_TICK, EngineError, LoadedComponent};
use crate::event::HostEvent;

/// A faulted call.
#[derive(Debug, Clone)]
pub struct Fault {
    /// The kind of fault.
    pub kind: FaultKind,
    /// A message for people: the trap, the panic text, the guest's error.
    pub message: String,
    /// For `trap`: wasmtime's trap code (`unreachable`, `stack overflow`, …).
    pub trap_code: Option<String>,
    /// Fuel the call consumed.
    pub fuel_used: u64,
    /// The instance's peak linear memory, in bytes.
    pub peak_memory: usize,
    /// Bytes cut from the end of a guest's `err` message (`init` returned
    /// one longer than the `errorPerEvent` budget); 0 otherwise.
    pub truncated_bytes: u64,
}

/// The `err` a guest returned for one event, cut to its handler's
/// `errorPerEvent` budget.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuestError {
    /// The guest's message (when cut, it ends with a `[truncated: …]` mark).
    pub message: String,
    /// Bytes cut from the end of the guest's message (0: kept whole).
    pub truncated_bytes: u64,
}

impl GuestError {
    /// `message` cut to at most `max` bytes (at a character boundary), then
    /// marked as truncated.
    pub fn bounded(message: String, max: usize) -> Self {
        let (message, truncated_bytes) = bound_message(message, max);
        GuestError { message, truncated_bytes }
    }
}

/// Cuts `message` to at most `max` bytes at a character boundary and marks
/// it; returns it and how many bytes were cut.
pub(crate) fn bound_message(mut message: String, max: usize) -> (String, u64) {
    if message.len() <= max {
        return (message, 0);
    }
    let mut cut = max;
    while !message.is_char_boundary(cut) {
        cut -= 1;
    }
    let dropped = (message.len() - cut) as u64;
    message.truncate(cut);
    message.push_str(&format!("… [truncated: {dropped} more bytes]"));
    (message, dropped)
}

/// A batch call that completed (no trap).
#[derive(Debug)]
pub struct BatchOutcome {
    /// One result per event, in order: `Err` carries the guest's message
    /// (bounded by `errorPerEvent`).
    pub results: Vec<Result<(), GuestError>>,
    /// The records emitted during the call (for every event; commit only
    /// those of `Ok` events).
    pub staged: Vec<StagedRecord>,
    /// Fuel the call consumed.
    pub fuel_used: u64,
}

/// A handler component prepared for instantiation, with everything its
/// instances share.
#[derive(Clone)]
pub struct HandlerPre {
    pre: bindings::HandlerPre<StoreData>,
    /// `handle-packed`, when the component exports it (world `packed-handler`).
    packed: Option<ComponentExportIndex>,
    /// Hex SHA-256 of the component (the handler's version).
    pub hash: String,
}

impl HandlerPre {
    pub(super) fn new(linker: &Linker<StoreData>, loaded: &LoadedComponent, path: &Path) -> Result<Self, EngineError> {
        let link = |e: wasmtime::Error| EngineError::Link { path: path.to_owned(), message: format!("{e:#}") };
        let instance_pre = linker.instantiate_pre(&loaded.component).map_err(link)?;
        let packed = packed_export::<_, (HandleResults,)>(&instance_pre, "handle-packed", "packed-handler")
            .map_err(|message| EngineError::Link { path: path.to_owned(), message })?;
        let pre = bindings::HandlerPre::new(instance_pre).map_err(link)?;
        Ok(HandlerPre { pre, packed, hash: loaded.hash.clone() })
    }

    /// Instantiates and calls `init(config_json)`.
    pub fn instantiate(
        &self,
        handler: &str,
        budgets: &Budgets,
        outputs: Arc<[OutputSpec]>,
        state: StateStore,
        config_json: &str,
    ) -> Result<HandlerInstance, Fault> {
        let data = StoreData::new(handler, budgets, outputs, state);
        let (store, (_, handle_batch, handle_packed)) = start(
            self.pre.engine(),
            data,
            budgets,
            |store| {
                let instance = self.pre.instance_pre().instantiate(&mut *store)?;
                let bindings = bindings::Handler::new(&mut *store, &instance)?;
                let handle_batch = instance.get_typed_func(&mut *store, "handle-batch")?;
                let handle_packed = self.packed.as_ref().map(|index| instance.get_typed_func(&mut *store, index)).transpose()?;
                Ok((bindings, handle_batch, handle_packed))
            },
            |(bindings, ..): &(bindings::Handler, HandleBatch, Option<HandlePacked>), store| bindings.call_init(store, config_json),
        )?;
        let handle = BatchCall::new(handle_batch, handle_packed);
        Ok(HandlerInstance { store, handle, budgets: budgets.clone(), events_handled: 0 })
    }
}

/// Creates the store of one instance (memory limits, epoch deadline), then
/// instantiates the component and calls its `init` under the init budgets
/// (`init` may load a language runtime: the fuel and log of a hundred
/// events). Every failure is an `init` fault naming the step.
pub(super) fn start<B>(
    engine: &wasmtime::Engine,
    data: StoreData,
    budgets: &Budgets,
    instantiate: impl FnOnce(&mut Store<StoreData>) -> wasmtime::Result<B>,
    init: impl FnOnce(&B, &mut Store<StoreData>) -> wasmtime::Result<Result<(), String>>,
) -> Result<(Store<StoreData>, B), Fault> {
    let mut store = Store::new(engine, data);
    store.limiter(|data| &mut data.limits);
    store.epoch_deadline_trap();
    let init_fuel = budgets.fuel_per_event.saturating_mul(INIT_EVENTS as u64);
    arm(&mut store, init_fuel, budgets);
    begin_call(&mut store, &[], INIT_EVENTS);
    let init_fault = |store: &mut Store<StoreData>, message: String, truncated_bytes: u64| {
        let (fuel_used, peak_memory) = (init_fuel - store.get_fuel().unwrap_or(0), store.data().limits.peak_memory);
        Fault { kind: FaultKind::Init, message, trap_code: None, fuel_used, peak_memory, truncated_bytes }
    };
    let bindings = match instantiate(&mut store) {
        Ok(b) => b,
        Err(e) => {
            end_call(&mut store, false);
            let fault = classify(&mut store, &e, 0);
            return Err(init_fault(&mut store, format!("instantiation failed ({}): {}", fault.kind.as_str(), fault.message), 0));
        }
    };
    match init(&bindings, &mut store) {
        Ok(Ok(())) if let Some(why) = failed(&mut store) => {
            end_call(&mut store, false);
            return Err(init_fault(&mut store, why, 0));
        }
        Ok(Ok(())) => end_call(&mut store, true),
        Ok(Err(message)) => {
            end_call(&mut store, false);
            let (message, truncated) = bound_message(message, budgets.error_bytes_per_event);
            return Err(init_fault(&mut store, format!("init returned an error: {message}"), truncated));
        }
        Err(e) => {
            end_call(&mut store, false);
            let fault = classify(&mut store, &e, 0);
            return Err(init_fault(&mut store, format!("init faulted ({}): {}", fault.kind.as_str(), fault.message), 0));
        }
    }
    drain_stdio(&mut store);
    Ok((store, bindings))
}

/// What `handle-batch` and `handle-packed` return: one result per event.
type HandleResults = Vec<Result<(), String>>;

/// `handle-batch`.
type HandleBatch = BatchExport<HandleResults>;

/// `handle-packed` (world `packed-handler`).
type HandlePacked = PackedExport<HandleResults>;

/// A live handler instance. After a [`Fault`] it must be dropped.
pub struct HandlerInstance {
    store: Store<StoreData>,
    /// `handle-batch`, or `handle-packed` when the component exports it.
    handle: BatchCall<HandleResults>,
    budgets: Budgets,
    events_handled: u64,
}

impl HandlerInstance {
    /// Events this instance has been given.
    pub fn events_handled(&self) -> u64 {
        self.events_handled
    }

    /// Calls `handle-packed` (when the component exports it) or
    /// `handle-batch` with `events` (in journal order).
    pub fn handle_batch(&mut self, events: &[Arc<HostEvent>]) -> Result<BatchOutcome, Fault> {
        let fuel = self.budgets.fuel_per_event.saturating_mul(events.len() as u64);
        arm(&mut self.store, fuel, &self.budgets);
        let sequences: Vec<u64> = events.iter().map(|e| e.sequence).collect();
        begin_call(&mut self.store, &sequences, events.len());
        self.events_handled += events.len() as u64;
        let result = self.handle.call(&mut self.store, events);
        let fuel_used = fuel - self.store.get_fuel().unwrap_or(0);
        let peak_memory = self.store.data().limits.peak_memory;
        match result {
            Ok(_) if let Some(message) = failed(&mut self.store) => {
                drain_stdio(&mut self.store);
                end_call(&mut self.store, false);
                Err(Fault { kind: FaultKind::Output, message, trap_code: None, fuel_used, peak_memory, truncated_bytes: 0 })
            }
            Ok(results) if results.len() == events.len() => {
                drain_stdio(&mut self.store);
                end_call(&mut self.store, true);
                let max = self.budgets.error_bytes_per_event;
                let results = results.into_iter().map(|r| r.map_err(|message| GuestError::bounded(message, max))).collect();
                Ok(BatchOutcome { results, staged: self.store.data_mut().output.take(), fuel_used })
            }
            Ok(results) => {
                drain_stdio(&mut self.store);
                end_call(&mut self.store, false);
                Err(Fault {
                    kind: FaultKind::Trap,
                    message: format!("handle-batch returned {} results for {} events", results.len(), events.len()),
                    trap_code: Some("wrong result count".into()),
                    fuel_used,
                    peak_memory,
                    truncated_bytes: 0,
                })
            }
            Err(e) => {
                end_call(&mut self.store, false);
                Err(classify(&mut self.store, &e, fuel_used))
            }
        }
    }
}

/// Events whose budgets `init` gets (it may load a language runtime).
const INIT_EVENTS: usize = 100;

/// Starts a call on every host interface of the store.
pub(super) fn begin_call(store: &mut Store<StoreData>, batch: &[u64], events: usize) {
    for interface in store.data_mut().interfaces() {
        interface.begin(batch, events);
    }
}

/// Ends a call on every host interface: `commit` after a call that
/// completed without a fault, `discard` otherwise.
pub(super) fn end_call(store: &mut Store<StoreData>, completed: bool) {
    for interface in store.data_mut().interfaces() {
        if completed { interface.commit() } else { interface.discard() }
    }
}

/// Why a completed call must still fail, as the first interface that says
/// so puts it.
fn failed(store: &mut Store<StoreData>) -> Option<String> {
    store.data_mut().interfaces().iter().find_map(|i| i.failed())
}

/// Sets the fuel and the wall-clock deadline for the next call.
pub(super) fn arm(store: &mut Store<StoreData>, fuel: u64, budgets: &Budgets) {
    store.set_fuel(fuel).expect("fuel is enabled in the engine");
    let ticks = budgets.deadline.as_millis().div_ceil(EPOCH_TICK.as_millis()).max(1) as u64;
    store.set_epoch_deadline(ticks);
    // Epoch interruption does not reach a guest waiting in a host call:
    // WASI waits end at this instant (see `poll`).
    store.data_mut().deadline = Some(std::time::Instant::now() + budgets.deadline);
}

/// Turns a wasmtime error into a fault, using the limiter's record and the
/// captured stderr to tell memory exhaustion and panics from other traps.
pub(super) fn classify(store: &mut Store<StoreData>, error: &wasmtime::Error, fuel_used: u64) -> Fault {
    let (_stdout, stderr) = drain_stdio(store);
    let peak_memory = store.data().limits.peak_memory;
    let trap = error.downcast_ref::<Trap>().copied();
    let over = |kind| (kind, format!("{error:#}"));
    let (kind, message) = match trap {
        Some(Trap::OutOfFuel) => (FaultKind::Fuel, "ran out of fuel".to_owned()),
        Some(Trap::Interrupt) => (FaultKind::Deadline, "passed its wall-clock deadline".to_owned()),
        _ if let Some(blocked) = error.downcast_ref::<super::poll::BlockedPastDeadline>() => (FaultKind::Deadline, blocked.to_string()),
        _ if let Some(kind) = budget_fault(store) => over(kind),
        _ if store.data().limits.memory_refused => {
            (FaultKind::Memory, format!("exceeded its memory budget (peak {peak_memory} bytes): {error}"))
        }
        _ if stderr.contains("panicked") => (FaultKind::Panic, stderr.trim().to_owned()),
        Some(trap) => (FaultKind::Trap, format!("trap: {trap}")),
        None => (FaultKind::Trap, format!("{error:#}")),
    };
    let trap_code = match (kind, trap) {
        (FaultKind::Trap | FaultKind::Panic | FaultKind::Memory, Some(trap)) => Some(trap.to_string()),
        _ => None,
    };
    Fault { kind, message, trap_code, fuel_used, peak_memory, truncated_bytes: 0 }
}

/// The budget a host interface saw exceeded in the call that trapped.
fn budget_fault(store: &mut Store<StoreData>) -> Option<FaultKind> {
    store.data_mut().interfaces().iter().find_map(|i| i.over_budget())
}

/// Moves captured stdout/stderr into the host log; returns them.
pub(super) fn drain_stdio(store: &mut Store<StoreData>) -> (String, String) {
    let data = store.data();
    let handler = data.logging.handler.as_str();
    let (stdout, out_dropped) = data.stdout.take();
    let (stderr, err_dropped) = data.stderr.take();
    for line in stdout.lines().filter(|l| !l.is_empty()) {
        tracing::info!(handler, stream = "stdout", "{line}");
    }
    for line in stderr.lines().filter(|l| !l.is_empty()) {
        tracing::warn!(handler, stream = "stderr", "{line}");
    }
    if out_dropped + err_dropped > 0 {
        tracing::warn!(handler, "discarded {} bytes of guest stdio over the per-call bound", out_dropped + err_dropped);
    }
    (stdout, stderr)
}
