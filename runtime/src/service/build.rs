//! Building a service's parts from its configuration: the journal of each
//! stream, the filters, and each handler's worker (component, outputs under
//! its directory capability, `init`).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread::JoinHandle;

use cap_std::ambient_authority;
use cap_std::fs::Dir;

use super::{BuildError, HandlerEntry};
use crate::config::{Config, Durability, WasmHandlerConfig};
use crate::dead_letter::{DeadLetterStore, FaultRecord};
use crate::delivery::{Breaker, HandlerStats, OutputSummary, Worker};
use crate::engine::{FaultKind, OutputSpec, StateStore, WaspEngine};
use crate::journal::{Journal, MemoryJournal};
use crate::quota::TokenBucket;

/// Opens the journal of one stream (a tenant's, or `None`'s) per the
/// configured durability; in `fsync` mode starts its group-commit thread.
pub(super) fn open_journal(config: &Config, tenant: Option<&str>, threads: &mut Vec<JoinHandle<()>>) -> Result<Arc<dyn Journal>, BuildError> {
    let jc = &config.journal;
    if jc.durability == Durability::Memory {
        return Ok(Arc::new(MemoryJournal::bounded(jc.bounds)));
    }
    let dir = match tenant {
        None => config.data_dir.join("journal").join("default"),
        Some(t) => config.data_dir.join("journal").join("tenants").join(t),
    };
    let journal = Arc::new(crate::journal::disk::open(&dir, jc)?);
    if jc.durability == Durability::Fsync {
        let syncer = journal.clone();
        threads.push(
            std::thread::Builder::new()
                .name("wasp-journal-sync".into())
                .spawn(move || syncer.sync_loop())
                .expect("spawn the journal sync thread"),
        );
    }
    Ok(journal)
}

/// A filter's tenant, and a maker of fresh stages for each handler.
pub(crate) type FilterMaker = (Option<String>, Box<dyn Fn() -> crate::delivery::filters::FilterStage>);

/// Loads every enabled filter's component once.
pub(crate) fn prepare_filters(engine: &WaspEngine, config: &Config) -> Result<Vec<FilterMaker>, BuildError> {
    use crate::delivery::filters::{FilterStage, OnFault};
    let mut makers: Vec<FilterMaker> = Vec::new();
    for f in config.filters.iter().filter(|f| f.enabled) {
        let name = crate::config::qualified(f.tenant.as_deref(), &f.name);
        let component = |source| BuildError::Component { handler: format!("filter {name}"), source };
        let loaded = engine.load(&f.component, config.cache_dir.as_deref()).map_err(component)?;
        let pre = engine.prepare_filter(&loaded, &f.component).map_err(component)?;
        let f = f.clone();
        makers.push((
            f.tenant.clone(),
            Box::new(move || FilterStage {
                name: name.clone(),
                topics: f.topics.clone(),
                pre: pre.clone(),
                budgets: f.budgets.clone(),
                config_json: f.config_json.clone(),
                on_fault: if f.fail_open { OnFault::Open } else { OnFault::Closed },
                instance: None,
            }),
        ));
    }
    Ok(makers)
}

/// Loads a handler's component and builds its worker. Only a component
/// that cannot be used is an error; a handler that cannot start is returned
/// disabled.
pub(crate) fn prepare(
    engine: &WaspEngine,
    config: &Config,
    h: &WasmHandlerConfig,
    dead_letters: &DeadLetterStore,
    fuel_quota: Option<Arc<TokenBucket>>,
) -> Result<(Worker, HandlerEntry), BuildError> {
    let qualified = h.qualified_name();
    let component = |source| BuildError::Component { handler: qualified.clone(), source };
    let loaded = engine.load(&h.component, config.cache_dir.as_deref()).map_err(component)?;
    let pre = engine.prepare_handler(&loaded, &h.component).map_err(component)?;
    let output_specs: Arc<[OutputSpec]> = h
        .outputs
        .iter()
        .map(|(name, o)| OutputSpec { name: name.clone(), line_oriented: o.line_oriented() })
        .collect();
    let stats = Arc::new(HandlerStats::default());
    let (sinks, outputs, disabled) = match open_outputs(config, h) {
        Ok((sinks, outputs)) => (sinks, outputs, None),
        Err(message) => (Vec::new(), Vec::new(), Some(message)),
    };
    let controls = crate::delivery::Controls::default();
    let entry = HandlerEntry {
        name: qualified.clone(),
        cursor: None,
        controls: controls.clone(),
        tenant: h.tenant.clone(),
        version: pre.hash.clone(),
        stats: stats.clone(),
        outputs,
    };
    let mut worker = Worker {
        name: qualified.clone(),
        tenant: h.tenant.clone(),
        topics: h.topics.clone(),
        pre,
        budgets: h.budgets.clone(),
        output_specs,
        sinks,
        state: StateStore::new(h.state_bytes),
        handler_config: h.handler_config.clone(),
        batch_max_size: h.batch_max_size,
        batch_max_wait: h.batch_max_wait,
        stats: stats.clone(),
        instance: None,
        breaker: Breaker::new(h.breaker.clone()),
        dead_letters: dead_letters.clone(),
        fuel_quota,
        disabled: None,
        filters: Vec::new(),
        controls,
    };
    // Instantiate and `init` now, so that a handler that cannot start is
    // known (and named) before the first event.
    let failure = match disabled {
        Some(message) => Some(FaultRecord::plain(FaultKind::Init, message)),
        None => worker.instance().err().map(|fault| FaultRecord { kind: FaultKind::Init, ..FaultRecord::from_fault(&fault) }),
    };
    if let Some(record) = failure {
        tracing::error!(handler = %qualified, "handler disabled: {}; its events go to the dead-letter store", record.message);
        stats.disable(record.message.clone());
        worker.disabled = Some(record);
    }
    Ok((worker, entry))
}

/// Opens the handler's output directory (through its tenant's output root,
/// for a tenant's handler) and its outputs.
/// A handler's opened outputs and what the summary says of them.
type Outputs = (Vec<Box<dyn crate::outputs::Sink>>, Vec<OutputSummary>);

fn open_outputs(config: &Config, h: &WasmHandlerConfig) -> Result<Outputs, String> {
    if h.outputs.is_empty() {
        return Ok((Vec::new(), Vec::new()));
    }
    let (dir, shown) = handler_dir(config, h)?;
    let mut sinks = Vec::new();
    let mut outputs = Vec::new();
    for (name, output) in &h.outputs {
        let sync = config.journal.durability == Durability::Fsync;
        let sink = output.build(&dir, &shown, sync).map_err(|e| format!("output `{name}` cannot be opened: {e}"))?;
        outputs.push(OutputSummary { name: name.clone(), kind: output.kind().into(), location: sink.location() });
        sinks.push(sink);
    }
    Ok((sinks, outputs))
}

fn handler_dir(config: &Config, h: &WasmHandlerConfig) -> Result<(Dir, PathBuf), String> {
    let ambient = |path: &Path| {
        std::fs::create_dir_all(path)
            .and_then(|()| Dir::open_ambient_dir(path, ambient_authority()))
            .map_err(|e| format!("cannot open directory {}: {e}", path.display()))
    };
    match &h.tenant {
        None => Ok((ambient(&h.directory)?, h.directory.clone())),
        Some(tenant) => {
            let root_path = &config.tenants[tenant].output_root;
            let root = ambient(root_path)?;
            let escape = |e: std::io::Error| {
                format!("directory `{}` is not inside the tenant's output root {}: {e}", h.directory.display(), root_path.display())
            };
            root.create_dir_all(&h.directory).map_err(escape)?;
            let dir = root.open_dir(&h.directory).map_err(escape)?;
            Ok((dir, root_path.join(&h.directory)))
        }
    }
}
