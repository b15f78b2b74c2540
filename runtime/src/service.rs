//! The embedded API: [`AuditService`] built from a configuration, `publish`
//! on the application's path, `flush`, `shutdown`.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use serde::Serialize;

use crate::config::{Config, ConfigError, WasmHandlerConfig};
use crate::delivery::{HandlerStats, HandlerSummary, OutputSummary, Worker};
use crate::engine::{EngineError, OutputSpec, StateStore, WaspEngine};
use crate::event::{HostEvent, IntoEvent, PublishError};
use crate::journal::{Journal, MemoryJournal};

/// Why a service could not be built.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The configuration is not usable.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A handler's component could not be loaded or does not fit.
    #[error("handler `{handler}`: {source}")]
    Component {
        /// The handler.
        handler: String,
        /// Why.
        source: EngineError,
    },
    /// A handler's `init` failed.
    #[error("handler `{handler}`: {message}")]
    Init {
        /// The handler.
        handler: String,
        /// The guest's message or the fault.
        message: String,
    },
    /// An output could not be opened.
    #[error("handler `{handler}`, output `{output}`: cannot open: {source}")]
    Output {
        /// The handler.
        handler: String,
        /// The output.
        output: String,
        /// The IO error.
        source: std::io::Error,
    },
}

/// What `publish` returns for an accepted event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Receipt {
    /// The event's `_id` (generated when the event had none).
    pub id: String,
    /// The topic.
    pub topic: String,
    /// The journal sequence number.
    pub sequence: u64,
}

/// Counters of every handler.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Summary {
    /// Which instance allocator the engine uses (`pooling`, `on-demand`).
    pub allocator: String,
    /// One entry per running handler, in configuration order.
    pub handlers: Vec<HandlerSummary>,
}

struct HandlerEntry {
    name: String,
    version: String,
    stats: Arc<HandlerStats>,
    outputs: Vec<OutputSummary>,
}

/// An audit service: routes published events to its handlers.
///
/// `publish` validates the event, appends it to the journal and returns; it
/// never waits for a handler and never reports a handler's failure. Each
/// handler runs on its own thread.
///
/// ```no_run
/// use serde_json::json;
/// use wasp::{AuditService, PublishError};
///
/// // Built once at start-up, shared by every request (it is `Send + Sync`).
/// let audit = AuditService::from_config_file("audit.json")?;
///
/// // On the request path: a failed login is audited, and the response does
/// // not wait for (or depend on) any handler.
/// fn login(audit: &AuditService, user: &str, ip: &str, ok: bool) -> Result<u16, PublishError> {
///     audit.publish("authentication", json!({
///         "eventName": "AM-LOGIN-COMPLETED",
///         "transactionId": "tx-42",
///         "userId": user,
///         "result": if ok { "SUCCESSFUL" } else { "FAILED" },
///         "client": { "ip": ip },
///     }))?;
///     Ok(if ok { 200 } else { 401 })
/// }
/// login(&audit, "bjensen", "203.0.113.7", false)?;
///
/// audit.flush();                 // wait until every handler has delivered
/// let summary = audit.shutdown(); // drain and stop
/// println!("{}", summary.handlers[0].delivered);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct AuditService {
    journal: Arc<MemoryJournal>,
    topics: BTreeSet<String>,
    max_event_bytes: usize,
    accepting: AtomicBool,
    workers: Mutex<Vec<JoinHandle<()>>>,
    handlers: Vec<HandlerEntry>,
    allocator: String,
}

impl AuditService {
    /// Builds a service from a configuration file.
    pub fn from_config_file(path: impl AsRef<Path>) -> Result<Self, BuildError> {
        Self::new(Config::from_file(path)?)
    }

    /// Builds a service: loads and checks every enabled handler's component,
    /// opens its outputs, instantiates it and calls its `init`, then starts
    /// its delivery thread.
    pub fn new(config: Config) -> Result<Self, BuildError> {
        let engine = WaspEngine::global().map_err(|source| BuildError::Component { handler: "*".into(), source })?;
        let journal = Arc::new(MemoryJournal::new());
        let mut prepared = Vec::new();
        for handler in config.handlers.iter().filter(|h| h.enabled) {
            prepared.push(prepare(engine, &config, handler)?);
        }
        let mut workers = Vec::new();
        let mut handlers = Vec::new();
        for (worker, entry) in prepared {
            let cursor = journal.register_cursor(&worker.name);
            let journal: Arc<dyn Journal> = journal.clone();
            let thread = std::thread::Builder::new()
                .name(format!("wasp-handler-{}", worker.name))
                .spawn(move || worker.run(journal, cursor))
                .expect("spawn a handler thread");
            workers.push(thread);
            handlers.push(entry);
        }
        let allocator = match engine.allocator() {
            crate::engine::Allocator::Pooling => "pooling",
            crate::engine::Allocator::OnDemand => "on-demand",
        };
        Ok(AuditService {
            journal,
            topics: config.known_topics(),
            max_event_bytes: config.max_event_bytes,
            accepting: AtomicBool::new(true),
            workers: Mutex::new(workers),
            handlers,
            allocator: allocator.into(),
        })
    }

    /// Accepts one event for `topic`: a `serde_json::Value` or JSON text.
    ///
    /// Errors concern only the event itself (bad JSON, not an object, unknown
    /// topic, too large, a wrongly typed `_id` or `timestamp`) or a service
    /// that is shutting down.
    pub fn publish(&self, topic: &str, event: impl IntoEvent) -> Result<Receipt, PublishError> {
        if !self.accepting.load(Ordering::Acquire) {
            return Err(PublishError::ShuttingDown);
        }
        if !self.topics.contains(topic) {
            return Err(PublishError::UnknownTopic {
                topic: topic.to_owned(),
                known: self.topics.iter().cloned().collect::<Vec<_>>().join(", "),
            });
        }
        let document = event.into_document(self.max_event_bytes)?;
        let event = HostEvent::from_document(topic, document, self.max_event_bytes)?;
        let event = self.journal.append(event).map_err(|_| PublishError::ShuttingDown)?;
        Ok(Receipt { id: event.id.clone(), topic: event.topic.clone(), sequence: event.sequence })
    }

    /// Blocks until every handler has processed every event published
    /// before the call (delivered or counted as failed).
    pub fn flush(&self) {
        self.journal.wait_acked(self.journal.head());
    }

    /// Counters of every handler, now.
    pub fn summary(&self) -> Summary {
        Summary {
            allocator: self.allocator.clone(),
            handlers: self.handlers.iter().map(|h| h.stats.summary(&h.name, &h.version, h.outputs.clone())).collect(),
        }
    }

    /// Stops accepting events, lets every handler drain the journal, stops
    /// the handler threads and returns the final counters.
    pub fn shutdown(self) -> Summary {
        self.stop();
        self.summary()
    }

    fn stop(&self) {
        self.accepting.store(false, Ordering::Release);
        self.journal.close();
        for worker in self.workers.lock().unwrap().drain(..) {
            if worker.join().is_err() {
                tracing::error!("a handler thread panicked");
            }
        }
    }
}

impl Drop for AuditService {
    /// Dropping the service drains it like [`shutdown`](AuditService::shutdown).
    fn drop(&mut self) {
        self.stop();
    }
}

fn prepare(engine: &WaspEngine, config: &Config, h: &WasmHandlerConfig) -> Result<(Worker, HandlerEntry), BuildError> {
    let component = |source| BuildError::Component { handler: h.name.clone(), source };
    let loaded = engine.load(&h.component, config.cache_dir.as_deref()).map_err(component)?;
    let pre = engine.prepare_handler(&loaded, &h.component).map_err(component)?;
    let output_specs: Arc<[OutputSpec]> = h
        .outputs
        .iter()
        .map(|(name, o)| OutputSpec { name: name.clone(), line_oriented: o.line_oriented() })
        .collect();
    let mut sinks = Vec::new();
    let mut outputs = Vec::new();
    for (name, output) in &h.outputs {
        let sink = output
            .build(&h.directory)
            .map_err(|source| BuildError::Output { handler: h.name.clone(), output: name.clone(), source })?;
        outputs.push(OutputSummary { name: name.clone(), kind: output.kind().into(), location: sink.location() });
        sinks.push(sink);
    }
    let stats = Arc::new(HandlerStats::default());
    let entry = HandlerEntry { name: h.name.clone(), version: pre.hash.clone(), stats: stats.clone(), outputs };
    let mut worker = Worker {
        name: h.name.clone(),
        topics: h.topics.clone(),
        pre,
        budgets: h.budgets.clone(),
        output_specs,
        sinks,
        state: StateStore::new(h.state_bytes),
        handler_config: h.handler_config.clone(),
        batch_max_size: h.batch_max_size,
        batch_max_wait: h.batch_max_wait,
        stats,
        instance: None,
    };
    // Instantiate and `init` now, so that a handler that cannot start stops
    // the service from starting (with the guest's message).
    worker.instance().map_err(|fault| BuildError::Init { handler: h.name.clone(), message: fault.message })?;
    Ok((worker, entry))
}
