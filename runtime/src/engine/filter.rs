//! Filter instances: the `filter` world (`init`, `filter-batch`, or
//! `filter-packed` of world `packed-filter` when exported) run under
//! the same budgets, store and fault classification as handlers. A filter
//! imports only `logging`; its store has no outputs and no state.

use std::path::Path;
use std::sync::Arc;

use wasmtime::Store;
use wasmtime::component::Linker;

use super::bindings::filter as bindings;
use super::bindings::packed_export;
use super::bindings::wasp::handler::types::Verdict as WitVerdict;
use super::bindings::{BatchCall, BatchExport, PackedExport};
use super::fault::FaultKind;
use super::instance::{Fault, arm, begin_call, classify, drain_stdio, end_call, start};
use super::state::StateStore;
use super::store::{Budgets, StoreData};
use super::{EngineError, LoadedComponent};
use crate::event::HostEvent;
use wasmtime::component::ComponentExportIndex;

/// What a filter decided for one event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Pass it on unchanged.
    Keep,
    /// Drop it.
    Drop,
    /// Pass on this JSON document instead.
    Replace(String),
}

/// A filter component prepared for instantiation.
#[derive(Clone)]
pub struct FilterPre {
    pre: bindings::FilterPre<StoreData>,
    /// `filter-packed`, when the component exports it (world `packed-filter`).
    packed: Option<ComponentExportIndex>,
    /// Hex SHA-256 of the component.
    pub hash: String,
}

/// `filter-batch`: one verdict per event.
type FilterBatch = BatchExport<Vec<WitVerdict>>;

/// `filter-packed` (world `packed-filter`): one verdict per event.
type FilterPacked = PackedExport<Vec<WitVerdict>>;

/// A live filter instance. After a [`Fault`] it must be dropped.
pub struct FilterInstance {
    store: Store<StoreData>,
    /// `filter-batch`, or `filter-packed` when the component exports it.
    filter: BatchCall<Vec<WitVerdict>>,
    budgets: Budgets,
    last_fuel: u64,
}

impl FilterPre {
    pub(super) fn new(linker: &Linker<StoreData>, loaded: &LoadedComponent, path: &Path) -> Result<Self, EngineError> {
        let link = |e: wasmtime::Error| EngineError::Link { path: path.to_owned(), message: format!("{e:#}") };
        let instance_pre = linker.instantiate_pre(&loaded.component).map_err(link)?;
        let packed = packed_export::<_, (Vec<WitVerdict>,)>(&instance_pre, "filter-packed", "packed-filter")
            .map_err(|message| EngineError::Link { path: path.to_owned(), message })?;
        let pre = bindings::FilterPre::new(instance_pre).map_err(link)?;
        Ok(FilterPre { pre, packed, hash: loaded.hash.clone() })
    }

    /// Instantiates and calls `init(config_json)`.
    pub fn instantiate(&self, name: &str, budgets: &Budgets, config_json: &str) -> Result<FilterInstance, Fault> {
        let data = StoreData::new(name, budgets, Arc::from(Vec::new()), StateStore::new(0));
        let (store, (_, filter_batch, filter_packed)) = start(
            self.pre.engine(),
            data,
            budgets,
            |store| {
                let instance = self.pre.instance_pre().instantiate(&mut *store)?;
                let bindings = bindings::Filter::new(&mut *store, &instance)?;
                let filter_batch = instance.get_typed_func(&mut *store, "filter-batch")?;
                let filter_packed = self.packed.as_ref().map(|index| instance.get_typed_func(&mut *store, index)).transpose()?;
                Ok((bindings, filter_batch, filter_packed))
            },
            |(bindings, ..): &(bindings::Filter, FilterBatch, Option<FilterPacked>), store| bindings.call_init(store, config_json),
        )?;
        let filter = BatchCall::new(filter_batch, filter_packed);
        Ok(FilterInstance { store, filter, budgets: budgets.clone(), last_fuel: 0 })
    }
}

impl FilterInstance {
    /// Fuel the last `filter-batch` call consumed (for benchmarks: filters
    /// are not in the handlers' fuel accounting).
    pub fn last_fuel(&self) -> u64 {
        self.last_fuel
    }

    /// Calls `filter-packed` (when the component exports it) or
    /// `filter-batch`: one verdict per event.
    pub fn filter_batch(&mut self, events: &[Arc<HostEvent>]) -> Result<Vec<Verdict>, Fault> {
        let fuel = self.budgets.fuel_per_event.saturating_mul(events.len() as u64);
        arm(&mut self.store, fuel, &self.budgets);
        begin_call(&mut self.store, &[], events.len());
        let result = self.filter.call(&mut self.store, events);
        let fuel_used = fuel - self.store.get_fuel().unwrap_or(0);
        self.last_fuel = fuel_used;
        match result {
            Ok(verdicts) if verdicts.len() == events.len() => {
                drain_stdio(&mut self.store);
                end_call(&mut self.store, true);
                Ok(verdicts
                    .into_iter()
                    .map(|v| match v {
                        WitVerdict::Keep => Verdict::Keep,
                        WitVerdict::Drop => Verdict::Drop,
                        WitVerdict::Replace(json) => Verdict::Replace(json),
                    })
                    .collect())
            }
            Ok(verdicts) => {
                end_call(&mut self.store, false);
                Err(Fault {
                    kind: FaultKind::Trap,
                    message: format!("filter-batch returned {} verdicts for {} events", verdicts.len(), events.len()),
                    trap_code: Some("wrong result count".into()),
                    fuel_used,
                    peak_memory: self.store.data().limits.peak_memory,
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
