//! The WebAssembly engine: one `wasmtime::Engine` per process, components
//! loaded through an on-disk compiled cache, the sandbox's linker, and
//! handler instances with fuel and wall-clock budgets.
//!
//! Layout: `bindings` holds the one private `bindgen!` of the handler world;
//! every host interface lives in its own file (`logging`, `output`, `state`,
//! and `poll`, which bounds WASI waits by the call's deadline)
//! with its own state type and `add_to_linker`; `store` is the per-instance
//! store data (WASI without files, network or environment; captured stdio;
//! memory limits); `instance` runs batches and classifies faults; `cache`
//! is the compiled-component cache; `check` explains whether a component fits.

mod bindings;
mod cache;
pub mod check;

mod fault;
mod filter;
mod host;
mod instance;
mod logging;
mod output;
mod poll;
mod state;
mod store;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use wasmtime::component::{Component, Linker};
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

pub use fault::FaultKind;
pub use filter::{FilterInstance, FilterPre, Verdict};
pub use instance::{BatchOutcome, Fault, GuestError, HandlerInstance, HandlerPre};
pub use output::{OutputSpec, StagedRecord};
pub use state::{SharedState, SharedStateFactory, StateStore};
pub use store::Budgets;

/// Interval of the process-wide epoch ticker that enforces wall-clock
/// deadlines.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Errors while preparing the engine or a component.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The engine could not be created.
    #[error("cannot create the WebAssembly engine: {0}")]
    Engine(String),
    /// The component file could not be read.
    #[error("cannot read component {path}: {source}")]
    Read {
        /// The component path.
        path: PathBuf,
        /// The IO error.
        source: std::io::Error,
    },
    /// The bytes are not a component wasmtime accepts.
    #[error("{path} is not a usable WebAssembly component: {message}")]
    Compile {
        /// The component path.
        path: PathBuf,
        /// What wasmtime said.
        message: String,
    },
    /// The component does not fit the sandbox or the world.
    #[error("{path} does not fit the WASP sandbox: {message}")]
    Link {
        /// The component path.
        path: PathBuf,
        /// What does not fit.
        message: String,
    },
}

/// Which instance allocator the engine uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Allocator {
    /// Pre-reserved slots: fast instantiation (about 2× faster recycling).
    Pooling,
    /// Memory mapped per instance; used where the pool cannot be reserved.
    OnDemand,
}

/// The process-wide engine and the sandbox linker.
pub struct WaspEngine {
    engine: Engine,
    allocator: Allocator,
    linker: Linker<store::StoreData>,
}

static ENGINE: OnceLock<Result<WaspEngine, String>> = OnceLock::new();

/// The largest linear memory any handler may be given (pool slot size).
pub const MAX_MEMORY_BYTES: usize = 1 << 30;
/// The most core instances one handler instance may create.
pub const MAX_CORE_INSTANCES: usize = 64;
/// The most tables one handler instance may create.
pub const MAX_TABLES: usize = 64;
/// The most linear memories one handler instance may create.
pub const MAX_MEMORIES: usize = 32;

impl WaspEngine {
    /// The process's engine, created on first use (with the epoch ticker
    /// thread). `WASP_ALLOCATOR=on-demand` skips the pooling allocator.
    pub fn global() -> Result<&'static WaspEngine, EngineError> {
        ENGINE
            .get_or_init(|| {
                let wanted_pooling = std::env::var("WASP_ALLOCATOR").map_or(true, |v| v != "on-demand");
                let engine = if wanted_pooling {
                    match Engine::new(&engine_config(Allocator::Pooling)) {
                        Ok(engine) => Ok((engine, Allocator::Pooling)),
                        Err(e) => {
                            tracing::warn!("pooling allocator unavailable ({e}); using on-demand allocation");
                            Engine::new(&engine_config(Allocator::OnDemand)).map(|e| (e, Allocator::OnDemand))
                        }
                    }
                } else {
                    Engine::new(&engine_config(Allocator::OnDemand)).map(|e| (e, Allocator::OnDemand))
                };
                let (engine, allocator) = engine.map_err(|e| e.to_string())?;
                let linker = sandbox_linker(&engine).map_err(|e| e.to_string())?;
                start_epoch_ticker(engine.clone());
                Ok(WaspEngine { engine, allocator, linker })
            })
            .as_ref()
            .map_err(|e| EngineError::Engine(e.clone()))
    }

    /// The wasmtime engine.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The instance allocator in use.
    pub fn allocator(&self) -> Allocator {
        self.allocator
    }

    /// Loads a component, from the compiled cache in `cache_dir` when it
    /// holds this component compiled by this engine, compiling (and caching)
    /// it otherwise.
    pub fn load(&self, path: &Path, cache_dir: Option<&Path>) -> Result<LoadedComponent, EngineError> {
        let bytes = std::fs::read(path).map_err(|source| EngineError::Read { path: path.to_owned(), source })?;
        cache::load(&self.engine, path, &bytes, cache_dir)
    }

    /// Prepares a filter component for instantiation (its exports must be
    /// the filter world's).
    pub fn prepare_filter(&self, loaded: &LoadedComponent, path: &Path) -> Result<FilterPre, EngineError> {
        FilterPre::new(&self.linker, loaded, path)
    }

    /// Prepares a handler component for instantiation (checks its imports
    /// against the sandbox and its exports against the handler world).
    pub fn prepare_handler(&self, loaded: &LoadedComponent, path: &Path) -> Result<HandlerPre, EngineError> {
        HandlerPre::new(&self.linker, loaded, path)
    }
}

/// A compiled component and the SHA-256 of its bytes (its version).
#[derive(Clone)]
pub struct LoadedComponent {
    /// The compiled component.
    pub component: Component,
    /// Hex SHA-256 of the `.wasm` bytes.
    pub hash: String,
    /// Whether it came from the compiled cache.
    pub cached: bool,
}

fn engine_config(allocator: Allocator) -> Config {
    let mut config = Config::new();
    config
        .wasm_component_model(true)
        .consume_fuel(true)
        .epoch_interruption(true)
        // Component-model async costs ~0.5 µs per call and WASP does not need it.
        .concurrency_support(false)
        .max_wasm_stack(1 << 20);
    if allocator == Allocator::Pooling {
        let mut pool = PoolingAllocationConfig::default();
        pool.total_component_instances(1000)
            .total_core_instances(4000)
            .total_memories(2000)
            .total_tables(4000)
            .total_stacks(0)
            .max_core_instances_per_component(MAX_CORE_INSTANCES as u32)
            .max_memories_per_component(MAX_MEMORIES as u32)
            .max_tables_per_component(MAX_TABLES as u32)
            .max_memory_size(MAX_MEMORY_BYTES);
        config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    }
    config
}

/// The engine configuration's contribution to compiled-cache keys.
pub(crate) fn engine_fingerprint(engine: &Engine) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut hasher);
    hasher.finish()
}

/// WASI p2 (without files, network or environment: see `store`) and every
/// WASP host interface.
fn sandbox_linker(engine: &Engine) -> wasmtime::Result<Linker<store::StoreData>> {
    let mut linker = Linker::new(engine);
    wasmtime_wasi::p2::add_to_linker_sync(&mut linker)?;
    // WASI waits (sleep, poll) end at the call's deadline too.
    poll::add_to_linker(&mut linker, store::StoreData::poll_view)?;
    logging::add_to_linker(&mut linker, |data| &mut data.logging)?;
    output::add_to_linker(&mut linker, |data| &mut data.output)?;
    state::add_to_linker(&mut linker, |data| &mut data.state)?;
    Ok(linker)
}

fn start_epoch_ticker(engine: Engine) {
    std::thread::Builder::new()
        .name("wasp-epoch".into())
        .spawn(move || {
            loop {
                std::thread::sleep(EPOCH_TICK);
                engine.increment_epoch();
            }
        })
        .expect("spawn the epoch ticker thread");
}
