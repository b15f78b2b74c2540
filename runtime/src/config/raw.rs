//! The configuration as written (serde, unknown fields refused). The doc
//! comment of every field is its user documentation; `docs/configuration.md`
//! repeats it with examples.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;

use crate::outputs::OutputConfig;
use crate::units;

/// The full ForgeRock form: `{"name", "type": "AuditService", "config": {…}}`
/// (or `"type": "NoOpAuditService"`, with no `config`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawAuditServiceObject {
    /// The service's name (informational).
    pub name: Option<String>,
    /// `AuditService` or `NoOpAuditService`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The bare form.
    pub config: Option<Value>,
}

/// The bare form: what the ForgeRock `AuditService` object holds in its
/// `config`, plus WASP's own sections (`tenants`, `wasp`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawConfig {
    /// The audit service's own settings (`handlerForQueries`,
    /// `availableAuditEventHandlers`, `caseInsensitiveFields`,
    /// `filterPolicies`).
    #[serde(default)]
    pub config: super::forgerock::RawAuditSettings,
    /// The handlers, each `{"class": …, "config": {…}}`.
    #[serde(default)]
    pub event_handlers: Vec<RawHandlerEntry>,
    /// WebAssembly filters run before the handlers (WASP's extension).
    #[serde(default)]
    pub filters: Vec<RawFilter>,
    /// Directory of JSON schemas of custom topics (ForgeRock's
    /// `topicsSchemasDirectory`).
    pub topics_schemas_directory: Option<String>,
    /// Tenants by name: each has its own handlers, budgets, quotas and
    /// output root. Events published for a tenant reach only its handlers.
    #[serde(default)]
    pub tenants: BTreeMap<String, RawTenant>,
    /// WASP's own service settings.
    #[serde(default)]
    pub wasp: RawService,
}

/// One entry of `eventHandlers`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHandlerEntry {
    /// The handler class: `wasm` for a WebAssembly handler, or a ForgeRock
    /// class name (`org.forgerock.audit.handlers.json.JsonAuditEventHandler`).
    pub class: String,
    /// The handler's settings (shape depends on `class`).
    pub config: Value,
}

/// One entry of `tenants`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawTenant {
    /// The directory every output of the tenant's handlers lives in
    /// (relative to `dataDirectory`). Handlers cannot reach outside it: no
    /// `..`, absolute path or symbolic link escapes it. Default:
    /// `tenants/<tenant name>`.
    pub output_root: Option<PathBuf>,
    /// Budget defaults for this tenant's handlers (a handler's own
    /// `budgets` override them field by field).
    #[serde(default)]
    pub budgets: RawBudgets,
    /// Rate limits of the whole tenant.
    #[serde(default)]
    pub quotas: RawQuotas,
    /// The tenant's handlers: `wasm` handlers, whose `directory` is
    /// relative to `outputRoot`, and ForgeRock JSON, CSV and JSON stdout
    /// handlers, whose `logDirectory` is relative to `outputRoot`.
    #[serde(default)]
    pub event_handlers: Vec<RawHandlerEntry>,
    /// The tenant's filters (before its handlers only).
    #[serde(default)]
    pub filters: Vec<RawFilter>,
    /// The tenant's JSON or CSV handler that answers the tenant's queries
    /// (`GET /audit/{topic}` with the tenant's token, `wasp query
    /// --tenant`), as the top-level `handlerForQueries` does for top-level
    /// events. Absent: the tenant's events cannot be queried.
    pub handler_for_queries: Option<String>,
}

/// One entry of `filters`: a `filter`-world component that keeps, drops or
/// replaces each event of its topics before the handlers see it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawFilter {
    /// Unique filter name.
    pub name: String,
    /// Topics whose events it filters.
    pub topics: Vec<String>,
    /// The component (`.wasm`), relative to the configuration file.
    pub component: PathBuf,
    /// `false` keeps it configured but not running. Default: `true`.
    #[serde(default = "yes", deserialize_with = "bool_or_text")]
    pub enabled: bool,
    /// Its own settings, passed to its `init` as JSON.
    #[serde(default)]
    pub config: Option<Value>,
    /// When it faults on an event: `closed` (the event is dead-lettered,
    /// kind `filter`) or `open` (the event passes unchanged). Default:
    /// `closed`.
    pub on_fault: Option<String>,
    /// Its budgets (same fields and checks as a handler's).
    #[serde(default)]
    pub budgets: RawBudgets,
}

/// `quotas` of a tenant. Absent: unlimited.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawQuotas {
    /// Events per second the tenant may publish (a burst of one second's
    /// worth is allowed). `publish` refuses the excess with
    /// `QuotaExceeded`, and the tenant's summary counts it.
    #[serde(default, deserialize_with = "units::number")]
    pub events_per_second: Option<u64>,
    /// Fuel per second the tenant's handlers may burn together. A handler
    /// over it waits before its next call; the time waited is counted.
    #[serde(default, deserialize_with = "units::number")]
    pub fuel_per_second: Option<u64>,
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
    /// The journal: the one buffer between `publish` and the handlers.
    #[serde(default)]
    pub journal: RawJournal,
    /// What `publish` checks.
    #[serde(default)]
    pub validation: RawValidation,
    /// ForgeRock's safelist of the `access` topic: only its fields (and
    /// `filterPolicies.field.includeIf`) are kept, so credentials in
    /// headers, cookies and query parameters never reach a log or a
    /// handler. `false` keeps every field (WASP's behaviour before it).
    /// Default: `true`.
    #[serde(default, deserialize_with = "units::boolean")]
    pub safelist: Option<bool>,
    /// The HTTP sidecar (`wasp run`): where it listens, its limits and its
    /// bearer tokens. `docs/sidecar.md` describes it.
    #[serde(default)]
    pub sidecar: RawSidecar,
    /// Fleet mode: edges forward events to NATS JetStream, workers run the
    /// handlers on them. Absent: one process does everything, no NATS.
    /// `docs/fleet.md` describes it.
    #[serde(default)]
    pub fleet: Option<super::fleet::FleetConfig>,
    /// Secret stores that `…SecretId` settings name with `secretsProvider`
    /// (PingGateway heap objects: `SystemAndEnvSecretStore`,
    /// `FileSystemSecretStore`); read before the rest of the configuration
    /// (see `config::secrets`).
    #[serde(default)]
    #[expect(dead_code, reason = "read from the JSON before it is typed (config::secrets)")]
    pub secret_stores: Option<Vec<Value>>,
}

/// `wasp.sidecar`: the HTTP sidecar started by `wasp run`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawSidecar {
    /// Address and port to listen on, e.g. `"0.0.0.0:8080"` (port 0 picks a
    /// free port; `wasp run` prints the address). Default: `127.0.0.1:8080`.
    pub listen: Option<String>,
    /// Largest request body, bytes or e.g. `"10 MiB"`; a larger body is
    /// refused with 413. Default: 10 MiB.
    #[serde(default, deserialize_with = "units::bytes")]
    pub max_body_bytes: Option<usize>,
    /// Most events in one NDJSON batch; a larger batch is refused whole
    /// with 413 (nothing is published). Default: 10,000.
    #[serde(default, deserialize_with = "units::number")]
    pub max_batch_events: Option<usize>,
    /// How long a SIGTERM/SIGINT shutdown may take: requests in flight
    /// finish, then the handlers drain the journal. Default: 30 seconds.
    #[serde(default, deserialize_with = "units::duration")]
    pub shutdown_deadline: Option<Duration>,
    /// `tokens` (the default: every request but `/health` needs a bearer
    /// token; `wasp run` refuses to start when none is configured) or
    /// `none` (no authentication at all: every caller is the admin; for a
    /// sidecar reachable only from its own pod or host).
    pub auth: Option<String>,
    /// The admin token's hash, `"sha256:<64 hex digits>"` (print it with
    /// `wasp sidecar hash-token`). The admin may do everything: publish
    /// (for any tenant, with `?tenant=`), query, run `rotate` and `flush`,
    /// read `/metrics` and the handler details of `/health`.
    pub admin_token: Option<String>,
    /// Serve HTTPS with this certificate and key (rustls; TLS 1.2 and 1.3).
    /// Default: plain HTTP.
    pub tls: Option<RawTls>,
    /// How long `_action=flush` waits for the handlers before answering
    /// 504 (the handlers keep working). Default: 60 seconds.
    #[serde(default, deserialize_with = "units::duration")]
    pub flush_timeout: Option<Duration>,
    /// How often `wasp run` looks at the configuration file and the
    /// handlers' component files for changes to reload live (hot reload).
    /// `0` turns watching off; SIGHUP reloads either way. Default: 2 seconds.
    #[serde(default, deserialize_with = "units::duration")]
    pub watch_interval: Option<Duration>,
    /// How long a client may take to send a request's headers, from the
    /// moment the connection waits for them (a new connection, or an idle
    /// keep-alive one); past it the connection is closed. Default:
    /// 10 seconds.
    #[serde(default, deserialize_with = "units::duration")]
    pub header_read_timeout: Option<Duration>,
    /// How long a client may take to send a request's body once its
    /// headers arrived; past it the request is answered 408 and the
    /// connection closed. Default: 60 seconds.
    #[serde(default, deserialize_with = "units::duration")]
    pub body_read_timeout: Option<Duration>,
    /// Most client connections served at once; more wait in the listen
    /// queue until one closes (keep it well below the process's file
    /// descriptor limit). Default: 512.
    #[serde(default, deserialize_with = "units::number")]
    pub max_connections: Option<usize>,
    /// Application tokens: `{"tenant": "acme", "hash": "sha256:…"}` may
    /// publish and query only for tenant `acme` (queries go to
    /// `tenants.acme.handlerForQueries`); `{"tenant": null, "hash": …}` (or
    /// no `tenant`) publishes top-level events and may query them.
    #[serde(default)]
    pub tokens: Vec<RawToken>,
}

/// `wasp.sidecar.tls`: serve HTTPS.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawTls {
    /// PEM certificate chain (the server's certificate first), relative to
    /// the configuration file's directory.
    pub cert_file: Option<PathBuf>,
    /// PEM private key of that certificate (PKCS#8, PKCS#1 or SEC1),
    /// relative to the configuration file's directory.
    pub key_file: Option<PathBuf>,
}

/// One entry of `wasp.sidecar.tokens`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawToken {
    /// The tenant the token publishes for; `null` or absent: top-level
    /// events (published without a tenant).
    #[serde(default)]
    pub tenant: Option<String>,
    /// SHA-256 of the token, `"sha256:<64 hex digits>"` (`wasp sidecar
    /// hash-token` prints it). The token itself is never stored.
    pub hash: String,
    /// A name for people (who holds it): the version history of `wasp
    /// deploy` records it as who deployed. Default: `tokens[<index>]`.
    #[serde(default)]
    pub name: Option<String>,
    /// An admin token (everything the `adminToken` may do; no `tenant`).
    /// Several named admin tokens tell operators apart in the deploy
    /// history. Default: `false`.
    #[serde(default)]
    pub admin: bool,
}

/// `wasp.validation`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawValidation {
    /// Topic schema validation: `off` (ForgeRock's behaviour: no schema
    /// check), `warn` (log the violations, accept the event) or `reject`
    /// (refuse it, naming each pointer and rule). Default: `off`.
    pub mode: Option<String>,
    /// Fields every event must carry. Default: `["transactionId",
    /// "timestamp"]`, as ForgeRock requires; a required `timestamp` must be
    /// ISO-8601 UTC (`2026-11-22T06:00:00Z`). With `timestamp` not
    /// required, an event without one gets the time of publish and any
    /// string is taken as it is.
    pub required_fields: Option<Vec<String>>,
    /// Deepest nesting of objects and arrays accepted. Default: 32.
    #[serde(default, deserialize_with = "units::number")]
    pub max_depth: Option<usize>,
}

/// `wasp.journal`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawJournal {
    /// `memory` (nothing on disk: lost with the process), `process` (on
    /// disk before `publish` returns: survives `kill -9` of the process) or
    /// `fsync` (`publish` waits for the disk flush covering the event: also
    /// survives power loss). Default: `process`.
    pub durability: Option<String>,
    /// Most events held for handlers that have not caught up (per tenant).
    /// Default: 1,000,000.
    #[serde(default, deserialize_with = "units::number")]
    pub max_events: Option<usize>,
    /// Most bytes of event JSON held (per tenant). Default: 256 MiB.
    #[serde(default, deserialize_with = "units::bytes")]
    pub max_bytes: Option<usize>,
    /// When full: `reject` (publish fails with `Overloaded`), `block` (publish
    /// waits up to `blockTimeout`, then fails) or `drop-oldest` (the lagging
    /// handlers lose the oldest event, counted). Default: `reject`.
    pub overflow: Option<String>,
    /// Longest wait of `block`. Default: 1 second.
    #[serde(default, deserialize_with = "units::duration")]
    pub block_timeout: Option<Duration>,
    /// Size of one segment file. Default: 64 MiB.
    #[serde(default, deserialize_with = "units::bytes")]
    pub segment_size: Option<usize>,
    /// Longest wait of `publish` for the disk flush in `fsync` mode; past
    /// it the event is kept and delivered, but `publish` reports
    /// `NotYetDurable`. Default: 1 second.
    #[serde(default, deserialize_with = "units::duration")]
    pub fsync_timeout: Option<Duration>,
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
    #[serde(default = "yes", deserialize_with = "bool_or_text")]
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
    /// A file holding the handler's settings instead of `config`: JSON
    /// (`.json`), or eZ Publish INI (`.ini`, `.ini.append.php`: sections
    /// become objects, see `config::ini`). Relative to the configuration
    /// file; read each time the configuration is.
    pub config_file: Option<PathBuf>,
    /// The handler's output directory (relative to `dataDirectory`).
    /// Default: the handler's name.
    pub directory: Option<PathBuf>,
    /// How events are batched into calls.
    #[serde(default)]
    pub batch: RawBatch,
    /// The limits every call runs under.
    #[serde(default)]
    pub budgets: RawBudgets,
    /// When to quarantine a handler that keeps faulting.
    #[serde(default)]
    pub circuit_breaker: RawCircuitBreaker,
}

/// `circuitBreaker`: after `failures` consecutive faulted events the handler
/// is quarantined; its events wait in the journal (none is lost) and after
/// `backoff` one event is tried (half-open). Success closes the breaker; a
/// fault doubles the backoff, up to `maxBackoff`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawCircuitBreaker {
    /// Consecutive faulted events that open the breaker; 0 disables it.
    /// Guest errors (`err` results) do not count. Default: 5.
    #[serde(default, deserialize_with = "units::number")]
    pub failures: Option<u32>,
    /// First wait before a probe, e.g. `"1 second"`. Default: 1 s.
    #[serde(default, deserialize_with = "units::duration")]
    pub backoff: Option<Duration>,
    /// Longest wait between probes. Default: 5 minutes.
    #[serde(default, deserialize_with = "units::duration")]
    pub max_backoff: Option<Duration>,
}

fn yes() -> bool {
    true
}

fn bool_or_text<'de, D: serde::Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    units::boolean(d).map(|b| b.unwrap_or(true))
}

/// `batch`: events per call and how long to wait for a batch to fill.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawBatch {
    /// Most events per call. Default: 64.
    #[serde(default, deserialize_with = "units::number")]
    pub max_size: Option<usize>,
    /// Longest wait for a batch to fill once an event is ready, e.g.
    /// `"20 ms"`. Default: 10 ms.
    #[serde(default, deserialize_with = "units::duration")]
    pub max_wait: Option<Duration>,
}

/// `budgets`: the sandbox limits. Every field is optional; an absent field
/// takes the tenant's value, then the default. `docs/sandbox.md` explains
/// each with the fault that exceeding it causes.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawBudgets {
    /// Fuel (roughly, WebAssembly instructions) per event; a call gets this
    /// times its batch size. Fault: `fuel`. Default: 10,000,000.
    #[serde(default, deserialize_with = "units::number")]
    pub fuel_per_event: Option<u64>,
    /// Wall-clock deadline of one call, e.g. `"5 seconds"`. Fault:
    /// `deadline`. Default: 5 s.
    #[serde(default, deserialize_with = "units::duration")]
    pub deadline: Option<Duration>,
    /// Linear memory of one instance, e.g. `"256 MiB"` (at most 1 GiB).
    /// Fault: `memory`. Default: 256 MiB.
    #[serde(default, deserialize_with = "units::bytes")]
    pub memory: Option<usize>,
    /// Bytes one event may emit to outputs. Fault: `output-limit`.
    /// Default: 1 MiB.
    #[serde(default, deserialize_with = "units::bytes")]
    pub output_per_event: Option<usize>,
    /// Bytes one call may emit to outputs. Fault: `output-limit`.
    /// Default: 16 MiB.
    #[serde(default, deserialize_with = "units::bytes")]
    pub output_per_call: Option<usize>,
    /// Bytes one event may log (a call gets this times its batch size).
    /// Fault: `log-limit`. Default: 16 KiB.
    #[serde(default, deserialize_with = "units::bytes")]
    pub log_per_event: Option<usize>,
    /// Bytes of stdout and stderr kept per call; the rest is counted and
    /// discarded (not a fault). Default: 64 KiB.
    #[serde(default, deserialize_with = "units::bytes")]
    pub stdio_per_call: Option<usize>,
    /// Bytes of an `err` message the guest returns (for an event, or from
    /// `init`) that are kept; a longer one is cut at a character boundary,
    /// marked as truncated, and its dropped bytes are counted in the fault
    /// record (`truncatedBytes`). Not a fault by itself. Default: 16 KiB.
    #[serde(default, deserialize_with = "units::bytes")]
    pub error_per_event: Option<usize>,
    /// Bytes of state (keys + values) the handler may keep. Fault:
    /// `state-limit`. Default: 1 MiB.
    #[serde(default, deserialize_with = "units::bytes")]
    pub state: Option<usize>,
    /// Core instances one handler instance may create. Default: 64.
    #[serde(default, deserialize_with = "units::number")]
    pub instances: Option<usize>,
    /// Tables one handler instance may create. Default: 64.
    #[serde(default, deserialize_with = "units::number")]
    pub tables: Option<usize>,
    /// Linear memories one handler instance may create. Default: 32.
    #[serde(default, deserialize_with = "units::number")]
    pub memories: Option<usize>,
    /// Elements one table may grow to. Default: 1,000,000.
    #[serde(default, deserialize_with = "units::number")]
    pub table_elements: Option<usize>,
    /// Events after which an instance is replaced by a fresh one (its state
    /// is kept); 0 never recycles. Default: 10,000.
    #[serde(default, deserialize_with = "units::number")]
    pub recycle_after: Option<u64>,
}

impl RawBudgets {
    /// Field by field: `self` where set, else `fallback`.
    pub fn or(self, fallback: &RawBudgets) -> RawBudgets {
        RawBudgets {
            fuel_per_event: self.fuel_per_event.or(fallback.fuel_per_event),
            deadline: self.deadline.or(fallback.deadline),
            memory: self.memory.or(fallback.memory),
            output_per_event: self.output_per_event.or(fallback.output_per_event),
            output_per_call: self.output_per_call.or(fallback.output_per_call),
            log_per_event: self.log_per_event.or(fallback.log_per_event),
            stdio_per_call: self.stdio_per_call.or(fallback.stdio_per_call),
            error_per_event: self.error_per_event.or(fallback.error_per_event),
            state: self.state.or(fallback.state),
            instances: self.instances.or(fallback.instances),
            tables: self.tables.or(fallback.tables),
            memories: self.memories.or(fallback.memories),
            table_elements: self.table_elements.or(fallback.table_elements),
            recycle_after: self.recycle_after.or(fallback.recycle_after),
        }
    }
}
