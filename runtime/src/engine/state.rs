//! Host interface `wasp:handler/state`: a small key/value map per handler,
//! shared by all of the handler's instances so it survives recycling.
//!
//! Invariant: a call's changes are staged in its instance's [`StateView`]
//! and reach the shared [`StateStore`] only when the call completes without
//! a fault; a call that traps leaves the state as it found it (so re-running
//! its events one by one does not count anything twice).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use wasmtime::component::{HasSelf, Linker};

use super::bindings::wasp::handler::state;
use super::store::StoreData;

/// One handler's state, bounded in bytes (keys + values).
#[derive(Debug, Clone)]
pub struct StateStore {
    inner: Arc<Mutex<StateMap>>,
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
        StateStore { inner: Arc::new(Mutex::new(StateMap { max_bytes, ..Default::default() })) }
    }

    /// The value under `key`.
    pub fn get(&self, key: &str) -> Option<Vec<u8>> {
        self.inner.lock().unwrap().values.get(key).cloned()
    }

    /// Stores `value` under `key` unless the budget would be exceeded.
    pub fn set(&self, key: &str, value: Vec<u8>) -> Result<(), String> {
        let mut map = self.inner.lock().unwrap();
        let old = map.values.get(key).map_or(0, |v| key.len() + v.len());
        let new_total = map.bytes - old + key.len() + value.len();
        if new_total > map.max_bytes {
            return Err(format!("state budget exceeded: {new_total} bytes, limit {}", map.max_bytes));
        }
        map.bytes = new_total;
        map.values.insert(key.to_owned(), value);
        Ok(())
    }

    /// Removes `key`.
    pub fn remove(&self, key: &str) {
        let mut map = self.inner.lock().unwrap();
        if let Some(v) = map.values.remove(key) {
            map.bytes -= key.len() + v.len();
        }
    }

    fn bytes_and_limit(&self) -> (usize, usize) {
        let map = self.inner.lock().unwrap();
        (map.bytes, map.max_bytes)
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
    pub over_budget: bool,
}

impl StateView {
    pub fn new(store: StateStore) -> Self {
        StateView { store, pending: HashMap::new(), pending_delta: 0, over_budget: false }
    }

    fn current_len(&self, key: &str) -> usize {
        match self.pending.get(key) {
            Some(Some(v)) => key.len() + v.len(),
            Some(None) => 0,
            None => self.store.get(key).map_or(0, |v| key.len() + v.len()),
        }
    }

    /// Applies the call's changes to the shared store.
    pub fn commit(&mut self) {
        self.pending_delta = 0;
        for (key, value) in self.pending.drain() {
            match value {
                Some(value) => {
                    if let Err(e) = self.store.set(&key, value) {
                        // Another instance of the handler filled the budget meanwhile.
                        tracing::warn!("state change of `{key}` dropped at commit: {e}");
                    }
                }
                None => self.store.remove(&key),
            }
        }
    }

    /// Forgets the call's changes.
    pub fn discard(&mut self) {
        self.pending.clear();
        self.pending_delta = 0;
    }
}

impl state::Host for StateView {
    fn get(&mut self, key: String) -> Option<Vec<u8>> {
        match self.pending.get(&key) {
            Some(value) => value.clone(),
            None => self.store.get(&key),
        }
    }

    fn set(&mut self, key: String, value: Vec<u8>) -> wasmtime::Result<Result<(), String>> {
        let (committed, limit) = self.store.bytes_and_limit();
        let change = (key.len() + value.len()) as isize - self.current_len(&key) as isize;
        let total = (committed as isize + self.pending_delta + change) as usize;
        if total > limit {
            self.over_budget = true;
            return Err(wasmtime::Error::msg(format!("state budget exceeded: {total} bytes, limit {limit}")));
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

/// Adds `wasp:handler/state` to the linker.
pub fn add_to_linker(linker: &mut Linker<StoreData>) -> wasmtime::Result<()> {
    state::add_to_linker::<StoreData, HasSelf<StateView>>(linker, |data| &mut data.state)
}
