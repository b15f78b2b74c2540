//! The configuration as written (serde, unknown fields refused). The doc
//! comment of every field is its user documentation; `docs/configuration.md`
//! repeats it with examples.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;

use super::units;
use crate::outputs::OutputConfig;

/// The top level: the ForgeRock `AuditService` shape.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawConfig {
    /// The handlers, each `{"class": …, "config": {…}}`.
    pub event_handlers: Vec<RawHandlerEntry>,
    /// WASP's own service settings.
    #[serde(default)]
    pub wasp: RawService,
}

/// One entry of `eventHandlers`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHandlerEntry {
    /// The handler class: `wasm` for a WebAssembly handler.
    pub class: String,
    /// The handler's settings (shape depends on `class`).
    pub config: Value,
}

/// `wasp`: service settings.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawService {
    /// Where WASP keeps its data (handler output directories, the compiled
    /// component cache). Relative to the configuration file's directory.
    /// Default: `wasp-data`.
    pub data_directory: Option<PathBuf>,
    /// Where compiled components are cached. Default:
    /// `<dataDirectory>/cache`. `false` disables the cache.
    pub cache_directory: Option<Value>,
    /// Largest accepted event (JSON text), bytes or e.g. `"1 MiB"`.
    /// Default: 1 MiB.
    #[serde(default, deserialize_with = "units::bytes")]
    pub max_event_size: Option<usize>,
}

/// `config` of a `wasm` handler.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawWasmHandler {
    /// Unique handler name: letters, digits, `.`, `_`, `-`.
    pub name: String,
    /// Topics whose events this handler receives (e.g. `["access"]`).
    pub topics: Vec<String>,
    /// `false` keeps the handler configured but not running. Default: `true`.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// The component (`.wasm`), relative to the configuration file's
    /// directory.
    pub component: PathBuf,
    /// The outputs the handler may emit to, by name.
    #[serde(default)]
    pub outputs: BTreeMap<String, OutputConfig>,
    /// The handler's own settings, passed to its `init` as JSON.
    #[serde(default)]
    pub config: Option<Value>,
    /// The handler's output directory (relative to `dataDirectory`).
    /// Default: the handler's name.
    pub directory: Option<PathBuf>,
    /// How events are batched into calls.
    #[serde(default)]
    pub batch: RawBatch,
    /// The limits every call runs under.
    #[serde(default)]
    pub budgets: RawBudgets,
}

fn yes() -> bool {
    true
}

/// `batch`: events per call and how long to wait for a batch to fill.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawBatch {
    /// Most events per call. Default: 64.
    pub max_size: Option<usize>,
    /// Longest wait for a batch to fill once an event is ready, e.g.
    /// `"20 ms"`. Default: 10 ms.
    #[serde(default, deserialize_with = "units::duration")]
    pub max_wait: Option<Duration>,
}

/// `budgets`: per-call limits.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawBudgets {
    /// Fuel (roughly, WebAssembly instructions) per event; a call gets this
    /// times its batch size. Default: 10,000,000.
    pub fuel_per_event: Option<u64>,
    /// Wall-clock deadline of one call, e.g. `"5 seconds"`. Default: 5 s.
    #[serde(default, deserialize_with = "units::duration")]
    pub deadline: Option<Duration>,
    /// Linear memory of one instance, e.g. `"256 MiB"` (at most 1 GiB).
    /// Default: 256 MiB.
    #[serde(default, deserialize_with = "units::bytes")]
    pub memory: Option<usize>,
    /// Bytes one call may emit to outputs. Default: 16 MiB.
    #[serde(default, deserialize_with = "units::bytes")]
    pub output_per_call: Option<usize>,
    /// Bytes one call may log. Default: 64 KiB.
    #[serde(default, deserialize_with = "units::bytes")]
    pub log_per_call: Option<usize>,
    /// Bytes of state (keys + values) the handler may keep. Default: 1 MiB.
    #[serde(default, deserialize_with = "units::bytes")]
    pub state: Option<usize>,
}
