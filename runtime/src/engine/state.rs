//! Host interface `wasp:handler/state`: a small key/value map per handler,
//! shared by all of the handler's instances so it survives recycling.
//!
//! Invariant: a call's changes are staged in its instance's [`StateView`]
//! and reach the shared [`StateStore`] only when the call completes without
//! a fault; a call that traps leaves the state as it found it (so re-running
//! its events one by one does not count anything twice).
//!
//! The map lives in this process, or — for a fleet worker — in a store
//! shared by every process running the handler ([`SharedState`]: a
//! JetStream key-value bucket, `crate::fleet::state`); reads then go to
//! that store, so each worker sees what the others committed.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use wasmtime::component::{HasSelf, Linker};

use super::bindings::wasp::handler::state;
use super::fault::FaultKind;
use super::host::HostInterface;

/// A handler's state kept outside this process, shared by every process
/// that runs the handler (fleet workers). Each method blocks until the
/// store answered; an `Err` names what failed.
pub trait SharedState: Send + Sync + std::fmt::Debug {
    /// The value under `key`.
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, String>;
    /// Stores `value` under `key`.
    fn put(&self, key: &str, value: &[u8]) -> Result<(), String>;
    /// Removes `key`.
    fn delete(&self, key: &str) -> Result<(), String>;
    /// Bytes the store holds now (what the state budget counts).
    fn bytes(&self) -> usize;
}

/// Makes the [`SharedState`] of a handler (by its qualified name, with its
/// state budget in bytes); set on [`crate::Config::shared_state`] by the
/// fleet worker.
#[derive(Clone)]
pub struct SharedStateFactory(pub Arc<MakeSharedState>);

/// Opens the shared state of a handler (qualified name, state budget).
pub type MakeSharedState = dyn Fn(&str, usize) -> Result<Arc<dyn SharedState>, String> + Send + Sync;

impl std::fmt::Debug for SharedStateFactory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SharedStateFactory")
    }
}

/// Why a state operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StateError {
    /// The change would take the state over its budget.
    #[error("state budget exceeded: {bytes} bytes, limit {limit}")]
    OverBudget {
        /// The bytes the state would hold.
        bytes: usize,
        /// The budget.
        limit: usize,
    },
    /// The shared store (fleet workers) failed; its message says how.
    #[error("{0}")]
    Shared(String),
}

/// One handler's state, bounded in bytes (keys + values).
#[derive(Debug, Clone)]
pub struct StateStore {
    inner: Arc<Mutex<StateMap>>,
    /// Where the state lives when it is shared (`inner` then holds only
    /// the budget).
    shared: Option<Arc<dyn SharedState>>,
}

#[derive(Debug, Default)]
struct StateMap {
    values: HashMap<String, Vec<u8>>,
    bytes: usize,
    max_bytes: usize,
}

impl StateStore {
    /// An empty store holding at most `max_bytes` of keys and values.
    pub fn new(max_bytes: usize) -> Self {
        StateStore { inner: Arc::new(Mutex::new(StateMap { max_bytes, ..Default::default() })), shared: None }
    }

    /// The state of handler `handler`: shared through `factory` when one is
    /// given (fleet workers), else in this process.
    pub fn for_handler(factory: Option<&SharedStateFactory>, handler: &str, max_bytes: usize) -> Result<Self, StateError> {
        let mut store = StateStore::new(max_bytes);
        if let Some(factory) = factory {
            store.shared = Some((factory.0)(handler, max_bytes).map_err(StateError::Shared)?);
        }
        Ok(store)
    }

    /// The value under `key`.
    pub fn get(&self, key: &str) -> Option<Vec<u8>> {
        self.try_get(key).unwrap_or_else(|e| {
            tracing::warn!("state `{key}`: {e}");
            None
        })
    }

    /// The value under `key`, or why the shared store could not be read.
    pub fn try_get(&self, key: &str) -> Result<Option<Vec<u8>>, StateError> {
        match &self.shared {
            Some(shared) => shared.get(key).map_err(StateError::Shared),
            None => Ok(self.inner.lock().unwrap().values.get(key).cloned()),
        }
    }

    /// Stores `value` under `key` unless the budget would be exceeded.
    pub fn set(&self, key: &str, value: Vec<u8>) -> Result<(), StateError> {
        if let Some(shared) = &self.shared {
            let limit = self.inner.lock().unwrap().max_bytes;
            let old = shared.get(key).map_err(StateError::Shared)?.map_or(0, |v| key.len() + v.len());
            let new_total = (shared.bytes() + key.len() + value.len()).saturating_sub(old);
            if new_total > limit {
                return Err(StateError::OverBudget { bytes: new_total, limit });
            }
            return shared.put(key, &value).map_err(StateError::Shared);
        }
        let mut map = self.inner.lock().unwrap();
        let old = map.values.get(key).map_or(0, |v| key.len() + v.len());
        let new_total = map.bytes - old + key.len() + value.len();
        if new_total > map.max_bytes {
            return Err(StateError::OverBudget { bytes: new_total, limit: map.max_bytes });
        }
        map.bytes = new_total;
        map.values.insert(key.to_owned(), value);
        Ok(())
    }

    /// Removes `key`.
    pub fn remove(&self, key: &str) {
        if let Some(shared) = &self.shared {
            if let Err(e) = shared.delete(key) {
                tracing::error!("state `{key}` could not be removed from the shared store: {e}");
            }
            return;
        }
        let mut map = self.inner.lock().unwrap();
        if let Some(v) = map.values.remove(key) {
            map.bytes -= key.len() + v.len();
        }
    }

    fn bytes_and_limit(&self) -> (usize, usize) {
        let map = self.inner.lock().unwrap();
        match &self.shared {
            Some(shared) => (shared.bytes(), map.max_bytes),
            None => (map.bytes, map.max_bytes),
        }
    }
}

/// One instance's view of the state: the shared store plus the changes of
/// the call in progress.
#[derive(Debug)]
pub struct StateView {
    store: StateStore,
    /// Changes of the current call: `None` removes the key.
    pending: HashMap<String, Option<Vec<u8>>>,
    /// How many bytes `pending` adds to the committed state (negative when
    /// it frees more than it adds).
    pending_delta: isize,
    /// Set when the guest went over the state budget: the call traps
    /// (`state-limit`).
    over_budget: bool,
    /// Set when the shared store could not be read during the call: the
    /// call fails (its events are tried again, then dead-lettered, as for
    /// a trap) instead of acting on a wrong value.
    unreachable: Option<StateError>,
}

impl StateView {
    pub fn new(store: StateStore) -> Self {
        StateView { store, pending: HashMap::new(), pending_delta: 0, over_budget: false, unreachable: None }
    }

    fn current_len(&mut self, key: &str) -> usize {
        match self.pending.get(key) {
            Some(Some(v)) => key.len() + v.len(),
            Some(None) => 0,
            None => self.read(key).map_or(0, |v| key.len() + v.len()),
        }
    }

    /// The committed value of `key`; when the shared store cannot be read,
    /// the call is failed (`unreachable`) rather than shown a wrong value.
    fn read(&mut self, key: &str) -> Option<Vec<u8>> {
        match self.store.try_get(key) {
            Ok(value) => value,
            Err(e) => {
                self.unreachable.get_or_insert(e);
                None
            }
        }
    }
}

impl HostInterface for StateView {
    fn begin(&mut self, _batch: &[u64], _events: usize) {
        self.pending.clear();
        self.pending_delta = 0;
        self.over_budget = false;
        self.unreachable = None;
    }

    fn over_budget(&self) -> Option<FaultKind> {
        self.over_budget.then_some(FaultKind::StateLimit)
    }

    /// The guest was shown "no value" for a key the shared store could not
    /// read: its answers cannot be trusted.
    fn failed(&self) -> Option<String> {
        self.unreachable.as_ref().map(|why| format!("the handler's shared state could not be read: {why}"))
    }

    /// Applies the call's changes to the shared store.
    fn commit(&mut self) {
        self.pending_delta = 0;
        for (key, value) in self.pending.drain() {
            match value {
                Some(value) => {
                    if let Err(e) = self.store.set(&key, value) {
                        // Another instance of the handler filled the budget
                        // meanwhile, or the shared store did not answer.
                        tracing::error!("state change of `{key}` dropped at commit: {e}");
                    }
                }
                None => self.store.remove(&key),
            }
        }
    }

    /// Forgets the call's changes.
    fn discard(&mut self) {
        self.pending.clear();
        self.pending_delta = 0;
        self.unreachable = None;
    }
}

impl state::Host for StateView {
    fn get(&mut self, key: String) -> Option<Vec<u8>> {
        match self.pending.get(&key) {
            Some(value) => value.clone(),
            None => self.read(&key),
        }
    }

    fn set(&mut self, key: String, value: Vec<u8>) -> wasmtime::Result<Result<(), String>> {
        let (committed, limit) = self.store.bytes_and_limit();
        let change = (key.len() + value.len()) as isize - self.current_len(&key) as isize;
        let total = (committed as isize + self.pending_delta + change) as usize;
        if total > limit {
            self.over_budget = true;
            return Err(wasmtime::Error::msg(StateError::OverBudget { bytes: total, limit }.to_string()));
        }
        self.pending_delta += change;
        self.pending.insert(key, Some(value));
        Ok(Ok(()))
    }

    fn remove(&mut self, key: String) {
        self.pending_delta -= self.current_len(&key) as isize;
        self.pending.insert(key, None);
    }
}

/// Adds `wasp:handler/state` to the linker; `get` finds this interface's
/// state in the store's data.
pub fn add_to_linker<T: 'static>(linker: &mut Linker<T>, get: fn(&mut T) -> &mut StateView) -> wasmtime::Result<()> {
    state::add_to_linker::<T, HasSelf<StateView>>(linker, get)
}
