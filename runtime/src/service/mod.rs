//! The embedded API: [`AuditService`] built from a configuration, `publish`
//! on the application's path, `flush`, `shutdown`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::thread::JoinHandle;

use serde::Serialize;

use crate::config::Durability;
use crate::config::{Config, ConfigError};
use crate::dead_letter::DeadLetterStore;
use crate::delivery::{HandlerStats, HandlerSummary, OutputSummary};
use crate::engine::{EngineError, WaspEngine};
use crate::event::{HostEvent, IntoEvent, PublishError};
use crate::journal::{Journal, JournalError};
use crate::quota::TokenBucket;

mod backlog;
mod build;
mod deploy;
mod fleet;
mod pipeline;
mod reload;
mod ticker;
mod watch;

pub use backlog::{Backlog, HandlerLag, StreamBacklog};
pub use reload::{RefusedChange, ReloadReport};
pub use watch::Watcher;

use build::open_journal;
pub(crate) use build::{Versions, prepare, prepare_filters};

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
    /// A journal could not be opened.
    #[error(transparent)]
    Journal(#[from] crate::journal::disk::OpenError),
    /// A ForgeRock handler class WASP recognises but has no output for yet.
    #[error(
        "handler `{handler}`: class `{class}` is recognised but not supported yet (it arrives with {planned}); \
         set \"enabled\": false on it, or remove it, to run the rest"
    )]
    NotSupported {
        /// The handler's name.
        handler: String,
        /// Its class.
        class: &'static str,
        /// What will bring it.
        planned: &'static str,
    },
    /// A setting WASP reads but cannot act on (a JMS provider URL of a
    /// protocol WASP does not speak).
    #[error("handler `{handler}`: {message}; set \"enabled\": false on it, or remove it, to run the rest")]
    Unsupported {
        /// The handler's name.
        handler: String,
        /// Which setting, why, and what is supported.
        message: String,
    },
}

/// Why an action on a handler (`flush_handler`, `rotate`) failed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ActionError {
    /// No running handler has this name.
    #[error("no running handler `{name}` (handlers: {known})")]
    UnknownHandler {
        /// The name given.
        name: String,
        /// The running handlers.
        known: String,
    },
    /// An output could not be rotated.
    #[error("rotation failed: {0}")]
    Failed(String),
    /// The handler's thread did not answer within a minute (it is in a
    /// long call).
    #[error("handler `{handler}` did not take the request within a minute")]
    Timeout {
        /// The handler.
        handler: String,
    },
}

/// What `publish` returns for an accepted event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Receipt {
    /// The event's `_id` (generated when the event had none).
    pub id: String,
    /// The topic.
    pub topic: String,
    /// The sequence number in its stream's journal (one stream per tenant,
    /// one for events without a tenant).
    pub sequence: u64,
    /// The tenant it was published for.
    pub tenant: Option<String>,
}

impl Receipt {
    /// The receipt of an event the journal took.
    fn of(event: &HostEvent) -> Receipt {
        Receipt { id: event.id.clone(), topic: event.topic.clone(), sequence: event.sequence, tenant: event.tenant.clone() }
    }
}

/// Counters of every handler and tenant.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    /// Which instance allocator the engine uses (`pooling`, `on-demand`).
    pub allocator: String,
    /// One entry per enabled handler, in configuration order (top-level
    /// handlers first, then each tenant's).
    pub handlers: Vec<HandlerSummary>,
    /// One entry per tenant, by name.
    pub tenants: Vec<TenantSummary>,
    /// Where dead letters are kept.
    pub dead_letters: PathBuf,
}

/// Counters of one tenant.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct TenantSummary {
    /// The tenant.
    pub name: String,
    /// Events accepted for it.
    pub published: u64,
    /// Events refused because it was over `quotas.eventsPerSecond`.
    pub over_quota: u64,
}

impl Summary {
    /// The handler with this name (`tenant/name` for a tenant's).
    pub fn handler(&self, name: &str) -> Option<&HandlerSummary> {
        self.handlers.iter().find(|h| h.name == name)
    }
}

pub(crate) struct HandlerEntry {
    name: String,
    cursor: Option<crate::journal::CursorId>,
    controls: crate::delivery::Controls,
    tenant: Option<String>,
    version: String,
    stats: Arc<HandlerStats>,
    outputs: Vec<OutputSummary>,
    /// Its configuration as built (`Debug` text): a reload that finds it
    /// changed rebuilds the handler.
    spec: String,
    /// Its component file (WASM handlers): a reload that finds other bytes
    /// there swaps the component.
    component: Option<PathBuf>,
    /// Its delivery thread.
    thread: Option<JoinHandle<()>>,
    /// SHA-256 of the configured component file when last looked at: a
    /// reload that finds other bytes there deploys them as a new version.
    file_hash: Option<String>,
    /// The live version's number in its history (WASM handlers).
    live_version: Option<u64>,
    /// The report of its last shadow or canary.
    candidate: Option<Arc<Mutex<crate::delivery::candidate::CandidateReport>>>,
    /// A version that became live at start, to announce once the service
    /// runs: the one before, and it.
    start_change: Option<(Option<crate::deploy::VersionRecord>, crate::deploy::VersionRecord)>,
}

/// A tenant at run time.
struct Tenant {
    /// Topics it may publish to (its handlers' topics change on reload).
    topics: RwLock<BTreeSet<String>>,
    events_quota: Option<(u64, TokenBucket)>,
    published: AtomicU64,
    over_quota: AtomicU64,
}

impl Tenant {
    /// Takes one event from the `eventsPerSecond` quota of the tenant
    /// `name`; an event over it is refused and counted.
    fn take_event(&self, name: &str) -> Result<(), PublishError> {
        if let Some((rate, bucket)) = &self.events_quota
            && !bucket.try_take(1)
        {
            self.over_quota.fetch_add(1, Ordering::Relaxed);
            return Err(PublishError::QuotaExceeded { tenant: name.to_owned(), per_second: *rate });
        }
        Ok(())
    }
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
    /// One journal per stream: `None` for events without a tenant.
    journals: BTreeMap<Option<String>, Arc<dyn Journal>>,
    durability: Durability,
    fsync_timeout: std::time::Duration,
    /// Topics accepted without a tenant (handlers' topics change on reload).
    topics: RwLock<BTreeSet<String>>,
    tenants: BTreeMap<String, Tenant>,
    dead_letters: PathBuf,
    /// What every event goes through before the journal.
    pipeline: pipeline::Pipeline,
    accepting: AtomicBool,
    /// Threads besides the handlers' (the journals' group commit).
    workers: Mutex<Vec<JoinHandle<()>>>,
    handlers: RwLock<Vec<HandlerEntry>>,
    ticker: Arc<ticker::Ticker>,
    allocator: String,
    /// What hot reload needs: the configuration running now (its lock
    /// serialises reloads and shutdown), the last reload's report.
    current: Mutex<Arc<Config>>,
    last_reload: Mutex<Option<ReloadReport>>,
    dead_letter_store: DeadLetterStore,
    fuel_quotas: BTreeMap<String, Arc<TokenBucket>>,
    /// Why the last `publish` could not store its event (a full disk under
    /// the journal), until a `publish` stores one again: `/health` shows it.
    storage_alarm: Mutex<Option<String>>,
    storage_failing: AtomicBool,
    /// A fleet edge's forwarder cursor on each journal: in `fsync` mode,
    /// `publish` returns once JetStream acknowledged the event.
    forwarder: RwLock<BTreeMap<Option<String>, crate::journal::CursorId>>,
}

impl AuditService {
    /// Builds a service from a configuration file.
    pub fn from_config_file(path: impl AsRef<Path>) -> Result<Self, BuildError> {
        Self::new(Config::from_file(path)?)
    }

    /// Builds a service: loads and checks every enabled handler's component,
    /// opens its outputs, instantiates it and calls its `init`, then starts
    /// its delivery thread.
    ///
    /// A component that cannot be loaded or does not fit the handler world
    /// is a configuration error. A handler whose `init` fails or whose
    /// outputs cannot be opened is *disabled* instead: the service starts,
    /// the error (naming the handler and the guest's message) is logged and
    /// shown in the summary, and its events are dead-lettered with kind
    /// `init`, to be replayed once it is fixed.
    pub fn new(config: Config) -> Result<Self, BuildError> {
        let service = Self::start(config)?;
        // Versions that became live at start are announced once it runs.
        service.announce_start_changes();
        Ok(service)
    }

    /// [`new`](Self::new) without the announcements.
    fn start(config: Config) -> Result<Self, BuildError> {
        if let Some(h) = config.forgerock_handlers.iter().find(|h| h.enabled && h.builtin.is_none()) {
            return Err(BuildError::NotSupported { handler: h.name.clone(), class: h.class.name(), planned: h.class.planned_output() });
        }
        for h in config.forgerock_handlers.iter().filter(|h| h.enabled) {
            if let Some(crate::builtin::BuiltinSettings::Jms(s)) = &h.builtin
                && let Some(message) = s.unsupported()
            {
                return Err(BuildError::Unsupported { handler: h.name.clone(), message: message.to_owned() });
            }
        }
        let engine = WaspEngine::global().map_err(|source| BuildError::Component { handler: "*".into(), source })?;
        let mut workers = Vec::new();
        let mut journals: BTreeMap<Option<String>, Arc<dyn Journal>> = BTreeMap::new();
        let built = (|| -> Result<_, BuildError> {
            for stream in std::iter::once(None).chain(config.tenants.keys().cloned().map(Some)) {
                let journal = open_journal(&config, stream.as_deref(), &mut workers)?;
                journals.insert(stream, journal);
            }
            let dead_letters = DeadLetterStore::new(&config.data_dir);
            let fuel_quotas: BTreeMap<String, Arc<TokenBucket>> = config
                .tenants
                .iter()
                .filter_map(|(name, t)| Some((name.clone(), Arc::new(TokenBucket::new(t.fuel_per_second?)))))
                .collect();
            let filters = prepare_filters(engine, &config)?;
            let mut prepared = Vec::new();
            // An edge runs no handler: its forwarder is the journal's only
            // reader (`crate::fleet::edge`).
            let edge = config.fleet.as_ref().and_then(|f| f.role) == Some(crate::config::fleet::Role::Edge);
            for handler in config.handlers.iter().filter(|h| h.enabled && !edge) {
                let fuel_quota = handler.tenant.as_deref().and_then(|t| fuel_quotas.get(t).cloned());
                let (mut worker, entry) = prepare(engine, &config, handler, &dead_letters, fuel_quota, Versions::Start)?;
                worker.filters = build::filter_stages(&filters, handler.tenant.as_deref());
                prepared.push((worker, entry));
            }
            for h in config.forgerock_handlers.iter().filter(|h| h.enabled && !edge) {
                if let Some(settings) = &h.builtin {
                    // The filters of the handler's stream apply to built-in
                    // handlers as to every other handler.
                    let (mut worker, entry) = build::prepare_builtin(&config, h, settings, &dead_letters);
                    worker.filters = build::filter_stages(&filters, h.tenant.as_deref());
                    prepared.push((worker, entry));
                }
            }
            Ok((dead_letters, prepared, fuel_quotas))
        })();
        let (dead_letters, prepared, fuel_quotas) = match built {
            Ok(parts) => parts,
            Err(e) => {
                // Release what was opened (journal locks, sync threads).
                for journal in journals.values() {
                    journal.close();
                }
                for thread in workers {
                    let _ = thread.join();
                }
                return Err(e);
            }
        };
        let mut handlers = Vec::new();
        // Every cursor is registered before any handler starts: a running
        // handler's acknowledgements must not release events another
        // handler (resuming after a restart) has yet to read.
        let mut registered = Vec::new();
        for (worker, mut entry) in prepared {
            let journal = journals[&entry.tenant].clone();
            let cursor = journal.register_cursor(&entry.name);
            entry.cursor = Some(cursor);
            registered.push((worker, journal));
            handlers.push(entry);
        }
        let ticker = Arc::new(ticker::Ticker::default());
        for ((worker, journal), entry) in registered.into_iter().zip(&mut handlers) {
            start_worker(&ticker, worker, entry, journal);
        }
        let allocator = match engine.allocator() {
            crate::engine::Allocator::Pooling => "pooling",
            crate::engine::Allocator::OnDemand => "on-demand",
        };
        let tenants = config
            .tenants
            .iter()
            .map(|(name, t)| {
                let tenant = Tenant {
                    topics: RwLock::new(config.known_topics_for(Some(name))),
                    events_quota: t.events_per_second.map(|rate| (rate, TokenBucket::new(rate))),
                    published: AtomicU64::new(0),
                    over_quota: AtomicU64::new(0),
                };
                (name.clone(), tenant)
            })
            .collect();
        Ok(AuditService {
            journals,
            forwarder: RwLock::new(BTreeMap::new()),
            durability: config.journal.durability,
            fsync_timeout: config.journal.fsync_timeout,
            topics: RwLock::new(config.known_topics()),
            tenants,
            dead_letters: dead_letters.root().to_owned(),
            pipeline: pipeline::Pipeline::new(&config),
            accepting: AtomicBool::new(true),
            workers: Mutex::new(workers),
            handlers: RwLock::new(handlers),
            ticker,
            allocator: allocator.into(),
            current: Mutex::new(Arc::new(config)),
            last_reload: Mutex::new(None),
            dead_letter_store: dead_letters,
            fuel_quotas,
            storage_alarm: Mutex::new(None),
            storage_failing: AtomicBool::new(false),
        })
    }

    /// Why the journal could not store the last event published (`No space
    /// left on device`), until an event is stored again; `None` while
    /// events are stored.
    pub fn storage_alarm(&self) -> Option<String> {
        if !self.storage_failing.load(std::sync::atomic::Ordering::Relaxed) {
            return None;
        }
        self.storage_alarm.lock().unwrap().clone()
    }

    fn set_storage_alarm(&self, alarm: Option<String>) {
        self.storage_failing.store(alarm.is_some(), std::sync::atomic::Ordering::Relaxed);
        *self.storage_alarm.lock().unwrap() = alarm;
    }

    /// Accepts one event for `topic`: a `serde_json::Value` or JSON text.
    /// Only top-level handlers (not a tenant's) receive it.
    ///
    /// Errors concern only the event itself (bad JSON, not an object, unknown
    /// topic, too large, a wrongly typed `_id` or `timestamp`) or a service
    /// that is shutting down.
    pub fn publish(&self, topic: &str, event: impl IntoEvent) -> Result<Receipt, PublishError> {
        self.append(None, &self.topics, topic, event)
    }

    /// Whether `topic` is a topic of the top level (`tenant` `None`) or of
    /// that tenant (false for an unknown tenant).
    pub fn has_topic(&self, tenant: Option<&str>, topic: &str) -> bool {
        let topics = match tenant {
            None => &self.topics,
            Some(t) => match self.tenants.get(t) {
                Some(t) => &t.topics,
                None => return false,
            },
        };
        topics.read().unwrap().contains(topic)
    }

    /// The configuration running now (the last one reloaded).
    pub fn config(&self) -> Arc<Config> {
        self.current.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Every handler's name (`tenant/name` for a tenant's), in
    /// configuration order.
    pub fn handler_names(&self) -> Vec<String> {
        self.handlers.read().unwrap().iter().map(|h| h.name.clone()).collect()
    }

    /// Accepts one event for `topic` on behalf of `tenant`: only that
    /// tenant's handlers receive it. Besides [`publish`](Self::publish)'s
    /// errors: an unknown tenant, or one over its `eventsPerSecond` quota
    /// (the event is refused and counted in the tenant's summary).
    pub fn publish_as(&self, tenant: &str, topic: &str, event: impl IntoEvent) -> Result<Receipt, PublishError> {
        let Some(t) = self.tenants.get(tenant) else {
            return Err(PublishError::UnknownTenant {
                tenant: tenant.to_owned(),
                known: self.tenants.keys().cloned().collect::<Vec<_>>().join(", "),
            });
        };
        t.take_event(tenant)?;
        let result = self.append(Some(tenant), &t.topics, topic, event);
        // `NotYetDurable` is an accepted event too.
        if matches!(result, Ok(_) | Err(PublishError::NotYetDurable { .. })) {
            t.published.fetch_add(1, Ordering::Relaxed);
        }
        result
    }

    /// Accepts the events of a batch for `topic`, on behalf of `tenant` or
    /// of the top level (`None`): each as [`publish_as`](Self::publish_as)
    /// or [`publish`](Self::publish) would, in order, with a result each
    /// (one event's error does not stop the others). The events that pass
    /// their checks go into the journal together: under one lock and, with
    /// the `process` journal, in one write. In `fsync` mode each event
    /// waits for its flush as with `publish`.
    pub fn publish_batch<E: IntoEvent>(
        &self,
        tenant: Option<&str>,
        topic: &str,
        events: impl IntoIterator<Item = E>,
    ) -> Vec<Result<Receipt, PublishError>> {
        let one = |event: E| match tenant {
            Some(t) => self.publish_as(t, topic, event),
            None => self.publish(topic, event),
        };
        if self.durability == Durability::Fsync {
            return events.into_iter().map(one).collect();
        }
        let (topics, tenant_state) = match tenant {
            None => (&self.topics, None),
            Some(t) => match self.tenants.get(t) {
                Some(state) => (&state.topics, Some(state)),
                // The unknown tenant's error, once per event.
                None => return events.into_iter().map(one).collect(),
            },
        };
        // Each event checked in order; `None` holds the place of one that
        // goes into the journal with the others.
        let mut results: Vec<Option<Result<Receipt, PublishError>>> = Vec::new();
        let mut prepared = Vec::new();
        for event in events {
            let checked = match (tenant, tenant_state) {
                (Some(name), Some(state)) => state.take_event(name),
                _ => Ok(()),
            };
            match checked.and_then(|()| self.prepare(tenant, topics, topic, event)) {
                Ok(event) => {
                    prepared.push(event);
                    results.push(None);
                }
                Err(e) => results.push(Some(Err(e))),
            }
        }
        let mut appended = self.journals[&tenant.map(str::to_owned)].append_batch(prepared).into_iter();
        let results: Vec<Result<Receipt, PublishError>> = results
            .into_iter()
            .map(|result| {
                result.unwrap_or_else(|| {
                    let event = appended.next().expect("a journal result per prepared event");
                    self.stored(event).map(|event| Receipt::of(&event))
                })
            })
            .collect();
        if let Some(state) = tenant_state {
            state.published.fetch_add(results.iter().filter(|r| r.is_ok()).count() as u64, Ordering::Relaxed);
        }
        results
    }

    fn append(
        &self,
        tenant: Option<&str>,
        topics: &RwLock<BTreeSet<String>>,
        topic: &str,
        event: impl IntoEvent,
    ) -> Result<Receipt, PublishError> {
        let event = self.prepare(tenant, topics, topic, event)?;
        let journal = &self.journals[&event.tenant];
        let event = self.stored(journal.append(event))?;
        if self.durability == Durability::Fsync && !journal.wait_durable(event.sequence, self.fsync_timeout) {
            return Err(PublishError::NotYetDurable { sequence: event.sequence, waited: self.fsync_timeout });
        }
        // A fleet edge in `fsync` mode: the producer's answer waits for
        // JetStream's PubAck (the forwarder's cursor moving past it).
        let forwarder = self.forwarder.read().unwrap().get(&event.tenant).copied();
        if self.durability == Durability::Fsync
            && let Some(cursor) = forwarder
        {
            let deadline = std::time::Instant::now() + self.fsync_timeout;
            while journal.acked(cursor) < event.sequence {
                if std::time::Instant::now() >= deadline {
                    return Err(PublishError::NotYetDurable { sequence: event.sequence, waited: self.fsync_timeout });
                }
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
        }
        Ok(Receipt::of(&event))
    }

    /// The journal's answer to an append, as `publish` answers it (and the
    /// storage alarm set or cleared).
    fn stored(&self, appended: Result<Arc<HostEvent>, JournalError>) -> Result<Arc<HostEvent>, PublishError> {
        let event = appended.map_err(|e| match e {
            JournalError::Closed => PublishError::ShuttingDown,
            JournalError::Overloaded { max_events, max_bytes } => PublishError::Overloaded { max_events, max_bytes },
            JournalError::Storage(message) => {
                self.set_storage_alarm(Some(message.clone()));
                PublishError::Storage(message)
            }
        })?;
        if self.storage_failing.load(std::sync::atomic::Ordering::Relaxed) {
            self.set_storage_alarm(None);
        }
        Ok(event)
    }

    /// An event's checks and policies, in order, up to the event the
    /// journal stores (`publish` without the append).
    fn prepare(
        &self,
        tenant: Option<&str>,
        topics: &RwLock<BTreeSet<String>>,
        topic: &str,
        event: impl IntoEvent,
    ) -> Result<HostEvent, PublishError> {
        if !self.accepting.load(Ordering::Acquire) {
            return Err(PublishError::ShuttingDown);
        }
        {
            let topics = topics.read().unwrap();
            if !topics.contains(topic) {
                return Err(PublishError::UnknownTopic {
                    topic: topic.to_owned(),
                    known: topics.iter().cloned().collect::<Vec<_>>().join(", "),
                });
            }
        }
        let mut event = self.pipeline.prepare(topic, event)?;
        event.tenant = tenant.map(str::to_owned);
        Ok(event)
    }

    /// Waits up to `timeout` until the event of `receipt` is as durable as
    /// `wasp.journal.durability` promises: flushed to disk in `fsync` mode
    /// (`publish` already waited `fsyncTimeout` for it); at once in the
    /// other modes. `false` if the flush did not finish in time.
    pub fn wait_durable(&self, receipt: &Receipt, timeout: std::time::Duration) -> bool {
        self.journals.get(&receipt.tenant).is_some_and(|j| j.wait_durable(receipt.sequence, timeout))
    }

    /// The journal, cursor and controls of a running handler.
    fn entry(&self, handler: &str) -> Result<(Arc<dyn Journal>, crate::journal::CursorId, crate::delivery::Controls), ActionError> {
        let handlers = self.handlers.read().unwrap();
        let entry = handlers.iter().find(|h| h.name == handler).ok_or_else(|| ActionError::UnknownHandler {
            name: handler.to_owned(),
            known: handlers.iter().map(|h| h.name.clone()).collect::<Vec<_>>().join(", "),
        })?;
        Ok((self.journals[&entry.tenant].clone(), entry.cursor.expect("registered"), entry.controls.clone()))
    }

    /// Blocks until `handler` (`name` or `tenant/name`) has processed every
    /// event of its stream published before the call.
    pub fn flush_handler(&self, handler: &str) -> Result<(), ActionError> {
        let (journal, cursor, _) = self.entry(handler)?;
        journal.wait_acked_by(cursor, journal.head());
        Ok(())
    }

    /// Rotates `handler`'s file outputs now: each file is renamed to
    /// `<name>.<UTC time>` and a new one started, between two batches (no
    /// record is split). Returns the archived files.
    pub fn rotate(&self, handler: &str) -> Result<Vec<String>, ActionError> {
        let (journal, cursor, controls) = self.entry(handler)?;
        let (reply, answer) = std::sync::mpsc::channel();
        controls.lock().unwrap().push(crate::delivery::Control::Rotate(reply));
        journal.wake(cursor);
        match answer.recv_timeout(std::time::Duration::from_secs(60)) {
            Ok(result) => result.map_err(ActionError::Failed),
            Err(_) => Err(ActionError::Timeout { handler: handler.to_owned() }),
        }
    }

    /// Blocks until every handler has processed every event published
    /// before the call (delivered or dead-lettered). A quarantined handler
    /// is not waited for: its events stay in the journal until its probe
    /// succeeds (or the service stops, which dead-letters them).
    pub fn flush(&self) {
        for journal in self.journals.values() {
            journal.wait_acked(journal.head());
        }
    }

    /// Counters of every handler, now.
    pub fn summary(&self) -> Summary {
        Summary {
            allocator: self.allocator.clone(),
            handlers: self
                .handlers
                .read()
                .unwrap()
                .iter()
                .map(|h| h.stats.summary(&h.name, h.tenant.as_deref(), &h.version, h.outputs.clone()))
                .collect(),
            tenants: self
                .tenants
                .iter()
                .map(|(name, t)| TenantSummary {
                    name: name.clone(),
                    published: t.published.load(Ordering::Relaxed),
                    over_quota: t.over_quota.load(Ordering::Relaxed),
                })
                .collect(),
            dead_letters: self.dead_letters.clone(),
        }
    }

    /// Stops accepting events, lets every handler drain the journal, stops
    /// the handler threads and returns the final counters.
    pub fn shutdown(self) -> Summary {
        self.stop();
        self.summary()
    }

    /// [`shutdown`](Self::shutdown) through a shared reference (a service
    /// held in an `Arc`, e.g. by the sidecar): once it returns, `publish`
    /// refuses with `ShuttingDown` and every handler thread has stopped.
    pub fn close(&self) -> Summary {
        self.stop();
        self.summary()
    }

    /// What the journals hold now, per stream, and how far each handler
    /// is behind.
    pub fn backlog(&self) -> Backlog {
        Backlog {
            streams: self
                .journals
                .iter()
                .map(|(tenant, journal)| {
                    let (events, bytes) = journal.held();
                    StreamBacklog { tenant: tenant.clone(), head: journal.head(), events, bytes }
                })
                .collect(),
            handlers: self
                .handlers
                .read()
                .unwrap()
                .iter()
                .filter_map(|h| {
                    let journal = self.journals.get(&h.tenant)?;
                    let acked = journal.acked(h.cursor?);
                    Some(HandlerLag { name: h.name.clone(), lag: journal.head().saturating_sub(acked) })
                })
                .collect(),
        }
    }

    fn stop(&self) {
        // Waits for a reload in progress; none starts after this.
        let _current = self.current.lock().unwrap_or_else(|e| e.into_inner());
        self.accepting.store(false, Ordering::Release);
        for journal in self.journals.values() {
            journal.close();
        }
        let threads: Vec<JoinHandle<()>> = self.handlers.write().unwrap().iter_mut().filter_map(|h| h.thread.take()).collect();
        for thread in threads {
            if thread.join().is_err() {
                tracing::error!("a handler thread panicked");
            }
        }
        self.ticker.stop();
        for worker in self.workers.lock().unwrap().drain(..) {
            if worker.join().is_err() {
                tracing::error!("a journal thread panicked");
            }
        }
    }
}

/// Starts `worker`'s delivery thread on `journal` through `entry`'s
/// cursor, and its ticks.
fn start_worker(ticker: &Arc<ticker::Ticker>, worker: crate::delivery::Worker, entry: &mut HandlerEntry, journal: Arc<dyn Journal>) {
    let cursor = entry.cursor.expect("registered");
    match worker.tick_interval() {
        Some(interval) => ticker.add(&entry.name, interval, journal.clone(), cursor),
        None => ticker.remove(&entry.name),
    }
    let thread = std::thread::Builder::new()
        .name(format!("wasp-handler-{}", worker.name))
        .spawn(move || worker.run(journal, cursor))
        .expect("spawn a handler thread");
    entry.thread = Some(thread);
}

impl Drop for AuditService {
    /// Dropping the service drains it like [`shutdown`](AuditService::shutdown).
    fn drop(&mut self) {
        self.stop();
    }
}
