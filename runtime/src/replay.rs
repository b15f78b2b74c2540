//! `wasp dlq replay`: re-delivers a handler's dead letters, typically after
//! a fixed component was deployed. A dead letter whose event is now
//! delivered is removed; one that fails again is kept with its new fault
//! record and one more attempt.
//!
//! Replay runs the handler exactly as the service would (its filters, same
//! budgets, outputs, state budget), one event at a time and in the original
//! order, with the circuit breaker off: every dead letter gets its attempt.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use serde::Serialize;

use crate::config::{Config, ConfigError};
use crate::dead_letter::{DeadLetterError, DeadLetterStore, FaultRecord};
use crate::delivery::EventResult;
use crate::engine::{FaultKind, WaspEngine};
use crate::service::{BuildError, prepare, prepare_filters};

/// Why a replay could not run.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    /// The configuration is not usable.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// No handler has this name.
    #[error("no handler `{name}` in the configuration (handlers: {known})")]
    UnknownHandler {
        /// The name given.
        name: String,
        /// The configured handlers, comma-separated.
        known: String,
    },
    /// The handler's component could not be loaded.
    #[error(transparent)]
    Build(#[from] BuildError),
    /// The dead-letter store could not be read or written.
    #[error(transparent)]
    Store(#[from] DeadLetterError),
}

/// What a replay did.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ReplayReport {
    /// The handler.
    pub handler: String,
    /// The component's SHA-256 that was used.
    pub version: String,
    /// Dead letters tried.
    pub attempted: u64,
    /// Delivered now, and removed from the store.
    pub recovered: u64,
    /// Failed again, kept with their new fault.
    pub still_failing: u64,
    /// The new faults by kind.
    pub faults: BTreeMap<String, u64>,
}

/// Replays the dead letters of `handler` (`name` or `tenant/name`) with the
/// handler's live version (see [`crate::deploy`]: the last one deployed, or
/// the configured component), or with `component` when given.
pub fn replay(config: &Config, handler: &str, component: Option<&Path>) -> Result<ReplayReport, ReplayError> {
    let Some(h) = config.handlers.iter().find(|h| h.qualified_name() == handler) else {
        return Err(ReplayError::UnknownHandler {
            name: handler.to_owned(),
            known: config.handlers.iter().map(|h| h.qualified_name()).collect::<Vec<_>>().join(", "),
        });
    };
    let mut h = h.clone();
    if let Some(component) = component {
        h.component = component.to_owned();
    }
    h.breaker.failures = 0;
    let engine = WaspEngine::global().map_err(|source| BuildError::Component { handler: handler.to_owned(), source })?;
    let store = DeadLetterStore::new(&config.data_dir);
    let (mut worker, _) = prepare(
        engine,
        config,
        &h,
        &store,
        None,
        if component.is_none() { crate::service::Versions::Live } else { crate::service::Versions::Configured },
    )?;
    // The events pass the handler's filters again, as they would live.
    worker.filters = prepare_filters(engine, config)?.iter().filter(|(tenant, _)| *tenant == h.tenant).map(|(_, stage)| stage()).collect();
    let version = worker.version.clone();
    let mut report = ReplayReport {
        handler: handler.to_owned(),
        version: version.clone(),
        attempted: 0,
        recovered: 0,
        still_failing: 0,
        faults: BTreeMap::new(),
    };
    for letter in store.list(Some(handler))? {
        report.attempted += 1;
        let result = match letter.host_event() {
            Ok(event) => worker.handle(&[Arc::new(event)]).0.pop().map(|(_, result)| result),
            Err(e) => Some(EventResult::Failed(FaultRecord::plain(FaultKind::Trap, format!("the dead letter is no longer an event: {e}")))),
        };
        match result {
            // Delivered now, or dropped by a filter that now applies.
            Some(EventResult::Delivered | EventResult::Filtered) => {
                store.remove(&letter)?;
                report.recovered += 1;
            }
            Some(EventResult::Failed(record)) => {
                *report.faults.entry(record.kind.as_str().to_owned()).or_default() += 1;
                store.put(&letter.failed_again(record, &version))?;
                report.still_failing += 1;
            }
            None => unreachable!("a handler result for every event when the breaker is off"),
        }
    }
    Ok(report)
}
