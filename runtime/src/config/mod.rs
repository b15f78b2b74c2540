//! Configuration: a JSON file in the ForgeRock `AuditService` shape, read
//! into `raw` (serde, unknown fields refused) and validated into [`Config`].
//! Every error names the JSON path of what was wrong.
//!
//! ```json
//! {
//!   "eventHandlers": [{
//!     "class": "wasm",
//!     "config": {
//!       "name": "access-anywhere",
//!       "topics": ["access", "authentication"],
//!       "component": "handlers/access_anywhere_file.wasm",
//!       "outputs": { "audit.log": { "type": "file", "path": "audit.log" } },
//!       "config": { }
//!     }
//!   }],
//!   "wasp": { "dataDirectory": "wasp-data" }
//! }
//! ```

#[doc(hidden)]
pub mod expr;
pub mod fleet;
pub mod forgerock;
#[doc(hidden)]
pub mod ini;
mod raw;
#[doc(hidden)]
pub mod secrets;
pub mod sidecar;
pub(crate) use raw::RawSidecar;
mod validate;

use validate::{deserialize, load_schemas, read_filters, read_handlers, split_forgerock, valid_name, validate_journal};

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;

pub use crate::delivery::breaker::BreakerConfig;
use crate::engine::Budgets;
use crate::event::DEFAULT_MAX_EVENT_BYTES;
pub use crate::journal::{Durability, JournalConfig};
use crate::outputs::OutputConfig;

/// The topics of the ForgeRock common audit event model, always known.
pub const STANDARD_TOPICS: [&str; 4] = ["access", "activity", "authentication", "config"];

/// A configuration that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read configuration {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The IO error.
        source: std::io::Error,
    },
    /// A value is wrong; `at` is its JSON path (`eventHandlers[0].config.name`).
    #[error("{origin}: {at}: {message}")]
    Invalid {
        /// The file, or `<inline>`.
        origin: String,
        /// JSON path of the offending value (`.` for the document).
        at: String,
        /// What is wrong and what was expected.
        message: String,
    },
}

/// A validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Directory relative paths in the configuration are resolved against.
    pub base_dir: PathBuf,
    /// Where WASP keeps its data.
    pub data_dir: PathBuf,
    /// Compiled component cache (`None`: disabled).
    pub cache_dir: Option<PathBuf>,
    /// Largest accepted event, in bytes.
    pub max_event_bytes: usize,
    /// The journal's settings.
    pub journal: JournalConfig,
    /// What `publish` checks.
    pub validation: ValidationConfig,
    /// `wasp.safelist`: whether the `access` topic keeps only ForgeRock's
    /// safelisted fields (and `includeIf`).
    pub safelist: bool,
    /// The handlers, in configuration order (disabled ones included): the
    /// top-level ones first, then each tenant's.
    pub handlers: Vec<WasmHandlerConfig>,
    /// The tenants by name.
    pub tenants: BTreeMap<String, TenantConfig>,
    /// The filters, in configuration order (top level, then each tenant's).
    pub filters: Vec<FilterConfig>,
    /// The ForgeRock handlers (of any class but `wasm`), recognised; the
    /// service refuses to start those whose output is not built yet.
    pub forgerock_handlers: Vec<forgerock::ForgeRockHandlerConfig>,
    /// The audit service's own settings (filter policies, …).
    pub audit: forgerock::AuditSettings,
    /// The service's `name` (full ForgeRock form).
    pub name: Option<String>,
    /// `topicsSchemasDirectory`, resolved.
    pub topics_schemas_dir: Option<PathBuf>,
    /// Schemas of topics from `topicsSchemasDirectory` (custom topics, and
    /// core topics they extend), by topic.
    pub custom_schemas: BTreeMap<String, std::sync::Arc<crate::schema::Schema>>,
    /// The custom topic schemas as written (the CSV handler's columns).
    pub custom_schema_sources: BTreeMap<String, serde_json::Value>,
    /// `wasp.sidecar`: the HTTP sidecar's settings (`wasp run`).
    pub sidecar: sidecar::SidecarConfig,
    /// `wasp.fleet`: NATS JetStream between edges and workers (absent:
    /// single-process mode).
    pub fleet: Option<fleet::FleetConfig>,
    /// Where WebAssembly handlers keep their `state`: `None` (the
    /// configuration's default) keeps it in this process; a fleet worker
    /// sets a JetStream key-value bucket shared by all workers.
    pub shared_state: Option<crate::engine::SharedStateFactory>,
}

/// Topic schema validation on publish.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SchemaMode {
    /// No schema check (ForgeRock's behaviour).
    Off,
    /// Violations are logged; the event is accepted.
    Warn,
    /// Violations refuse the event.
    Reject,
}

/// `wasp.validation`, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidationConfig {
    /// Topic schema validation.
    pub mode: SchemaMode,
    /// Fields every event must carry.
    pub required_fields: Vec<String>,
    /// Deepest nesting accepted.
    pub max_depth: usize,
}

/// A WebAssembly filter.
#[derive(Debug, Clone, PartialEq)]
pub struct FilterConfig {
    /// Its name.
    pub name: String,
    /// Its tenant (`None`: the top-level handlers' events).
    pub tenant: Option<String>,
    /// Topics it filters.
    pub topics: BTreeSet<String>,
    /// The component.
    pub component: PathBuf,
    /// Whether it runs.
    pub enabled: bool,
    /// Its settings as JSON text.
    pub config_json: String,
    /// Whether a fault passes the event (`true`, open) or dead-letters it.
    pub fail_open: bool,
    /// Its budgets.
    pub budgets: Budgets,
}

/// A tenant: its handlers are in [`Config::handlers`] and
/// [`Config::forgerock_handlers`] with `tenant` set.
#[derive(Debug, Clone, PartialEq)]
pub struct TenantConfig {
    /// The directory all its handlers' outputs live in.
    pub output_root: PathBuf,
    /// Events per second it may publish.
    pub events_per_second: Option<u64>,
    /// Fuel per second its handlers may burn together.
    pub fuel_per_second: Option<u64>,
    /// Its JSON or CSV handler that answers its queries.
    pub handler_for_queries: Option<String>,
}

/// A WebAssembly handler.
#[derive(Debug, Clone)]
pub struct WasmHandlerConfig {
    /// Name, unique within its tenant (or among the top-level handlers).
    pub name: String,
    /// The tenant it belongs to (`None`: a top-level handler, which sees
    /// only events published without a tenant).
    pub tenant: Option<String>,
    /// Topics it receives.
    pub topics: BTreeSet<String>,
    /// Whether it runs.
    pub enabled: bool,
    /// The component file (absolute or relative to the working directory).
    pub component: PathBuf,
    /// Declared outputs by name.
    pub outputs: BTreeMap<String, OutputConfig>,
    /// The handler's own settings as JSON text (passed to `init`).
    pub handler_config: String,
    /// Output directory. For a tenant's handler: relative to the tenant's
    /// output root, and opened through it (so it cannot escape).
    pub directory: PathBuf,
    /// Most events per call.
    pub batch_max_size: usize,
    /// Longest wait for a batch to fill.
    pub batch_max_wait: Duration,
    /// Per-call limits, the state budget included.
    pub budgets: Budgets,
    /// When the handler is quarantined.
    pub breaker: BreakerConfig,
}

impl WasmHandlerConfig {
    /// `tenant/name` for a tenant's handler, `name` otherwise: how the CLI,
    /// dead letters and summaries name it.
    pub fn qualified_name(&self) -> String {
        qualified(self.tenant.as_deref(), &self.name)
    }
}

/// `tenant/name`, or `name` without a tenant.
pub fn qualified(tenant: Option<&str>, name: &str) -> String {
    match tenant {
        Some(t) => format!("{t}/{name}"),
        None => name.to_owned(),
    }
}

/// Where the audit service sits in the file (for error paths), and the
/// route's `properties`, if any.
struct ServicePath {
    prefix: String,
    properties: Option<Value>,
    /// The secret stores of the route's heap, with their paths.
    secret_stores: Vec<(String, Value)>,
}

impl ServicePath {
    fn join(&self, at: &str) -> String {
        match (self.prefix.as_str(), at) {
            ("", at) => at.to_owned(),
            (prefix, "." | "") => prefix.to_owned(),
            (prefix, at) => format!("{prefix}.{at}"),
        }
    }
}

/// Two enabled handlers of the same class may not write the same topic's
/// file in the same directory (ForgeRock warns about it): their records
/// would interleave and rotation, retention and tamper evidence break.
fn check_shared_log_files(handlers: &[forgerock::ForgeRockHandlerConfig]) -> Result<(), String> {
    let mut writers: BTreeMap<(String, PathBuf, String), String> = BTreeMap::new();
    for h in handlers.iter().filter(|h| h.enabled) {
        let Some(dir) = h.builtin.as_ref().and_then(|b| b.log_directory()) else {
            continue;
        };
        // Lexically normalised: `logs/./x` and `logs/x` are one directory.
        let dir: PathBuf = dir.components().filter(|c| !matches!(c, std::path::Component::CurDir)).collect();
        for topic in &h.topics {
            let key = (h.class.name().to_owned(), dir.clone(), topic.clone());
            if let Some(other) = writers.insert(key, h.qualified_name()) {
                return Err(format!(
                    "handlers `{other}` and `{}` both write topic `{topic}` to {} ({}): give each its own `logDirectory`",
                    h.qualified_name(),
                    dir.display(),
                    h.class.name()
                ));
            }
        }
    }
    Ok(())
}

/// Takes out the `config` of every `wasm` handler and filter (the
/// component's own settings, which may hold `${…}` of their own), by JSON
/// pointer, leaving `null` in their place.
fn take_guest_configs(service: &mut Value) -> Vec<(String, Value)> {
    let mut taken = Vec::new();
    let mut lists: Vec<String> = Vec::new();
    for root in ["", "/config"] {
        lists.push(format!("{root}/eventHandlers"));
        lists.push(format!("{root}/filters"));
        if let Some(tenants) = service.pointer(&format!("{root}/tenants")).and_then(Value::as_object) {
            for name in tenants.keys() {
                let name = name.replace('~', "~0").replace('/', "~1");
                lists.push(format!("{root}/tenants/{name}/eventHandlers"));
                lists.push(format!("{root}/tenants/{name}/filters"));
            }
        }
    }
    for list in lists {
        let Some(items) = service.pointer_mut(&list).and_then(Value::as_array_mut) else {
            continue;
        };
        for (i, item) in items.iter_mut().enumerate() {
            let pointer = if list.ends_with("/filters") {
                format!("{list}/{i}/config")
            } else if item.get("class").and_then(Value::as_str) == Some("wasm") {
                format!("{list}/{i}/config/config")
            } else {
                continue;
            };
            let inner = pointer.strip_prefix(&format!("{list}/{i}")).expect("built from it");
            if let Some(slot) = item.pointer_mut(inner) {
                taken.push((pointer, slot.take()));
            }
        }
    }
    taken
}

/// The audit service a file configures, in any of ForgeRock's forms: the
/// bare `{"config", "eventHandlers"}` object, the heap object
/// `{"type": "AuditService", "config": {…}}`, or a route / `config.json`
/// whose `auditService` is inline or names an object of its `heap` (by
/// default the heap object named `AuditService`).
fn select_audit_service(document: Value) -> Result<(Value, ServicePath), (String, String)> {
    let Value::Object(mut map) = document else {
        return Err((".".into(), "the configuration must be a JSON object".into()));
    };
    let is_route = map.contains_key("heap") || map.contains_key("auditService") || map.contains_key("handler");
    if map.contains_key("type") || !is_route {
        return Ok((Value::Object(map), ServicePath { prefix: String::new(), properties: None, secret_stores: Vec::new() }));
    }
    let properties = map.remove("properties");
    let heap: Vec<Value> = match map.remove("heap") {
        None => Vec::new(),
        Some(Value::Array(items)) => items,
        Some(_) => return Err(("heap".into(), "`heap` must be an array of objects".into())),
    };
    let is_service = |v: &Value| matches!(v.get("type").and_then(Value::as_str), Some("AuditService" | "NoOpAuditService"));
    let secret_stores: Vec<(String, Value)> =
        heap.iter().enumerate().filter(|(_, v)| secrets::is_store(v)).map(|(i, v)| (format!("heap[{i}]"), v.clone())).collect();
    let wanted = match map.remove("auditService") {
        Some(inline @ Value::Object(_)) => {
            return Ok((inline, ServicePath { prefix: "auditService".into(), properties, secret_stores }));
        }
        Some(Value::String(name)) => name,
        Some(_) => {
            return Err(("auditService".into(), "`auditService` must name a heap object or be an AuditService object".into()));
        }
        None => "AuditService".to_owned(),
    };
    let found = heap.iter().position(|v| is_service(v) && v.get("name").and_then(Value::as_str) == Some(wanted.as_str()));
    match found {
        Some(i) => {
            let mut service = heap[i].clone();
            use_heap_data_source(&mut service, &heap);
            Ok((service, ServicePath { prefix: format!("heap[{i}]"), properties, secret_stores }))
        }
        None => {
            let names: Vec<String> = heap
                .iter()
                .filter(|v| is_service(v))
                .filter_map(|v| v.get("name").and_then(Value::as_str))
                .map(|n| format!("`{n}`"))
                .collect();
            let declared = if names.is_empty() { "none".to_owned() } else { names.join(", ") };
            Err((
                "auditService".into(),
                format!(
                    "the audit service `{wanted}` is not declared in this file's heap (audit services here: {declared}); it may be in a parent heap (config.json): give WASP the file that declares it"
                ),
            ))
        }
    }
}

/// A route's heap may declare the database of its JDBC handlers as a
/// `JdbcDataSource` (ForgeRock's example names it `AuditDataSource`): a
/// `JdbcAuditEventHandler` without `connectionPool` connects to it, its
/// `properties.url` (or `url`/`jdbcUrl`) and `username` taken as
/// `connectionPool.jdbcUrl` and `username`, and its `password` if written
/// in the configuration (`passwordSecretId` needs secret stores, not built
/// yet). With several data sources, the one named `AuditDataSource` (or
/// `AuditService`) is used.
fn use_heap_data_source(service: &mut Value, heap: &[Value]) {
    let sources: Vec<&Value> = heap.iter().filter(|v| v.get("type").and_then(Value::as_str) == Some("JdbcDataSource")).collect();
    let source = match sources.as_slice() {
        [] => return,
        [one] => *one,
        many => match many.iter().find(|v| matches!(v.get("name").and_then(Value::as_str), Some("AuditDataSource" | "AuditService"))) {
            Some(source) => *source,
            None => return,
        },
    };
    let Some(config) = source.get("config").and_then(Value::as_object) else { return };
    let url = config.get("properties").and_then(|p| p.get("url")).or_else(|| config.get("url")).or_else(|| config.get("jdbcUrl")).cloned();
    let mut pool = serde_json::Map::new();
    if let Some(url) = url {
        pool.insert("jdbcUrl".into(), url);
    }
    for key in ["username", "password", "passwordSecretId", "secretsProvider", "driverClassName", "dataSourceClassName"] {
        if let Some(value) = config.get(key) {
            pool.insert(key.into(), value.clone());
        }
    }
    let Some(handlers) = service.get_mut("config").and_then(|c| c.get_mut("eventHandlers")).and_then(Value::as_array_mut) else {
        return;
    };
    for handler in handlers {
        let jdbc = handler.get("class").and_then(Value::as_str).is_some_and(|c| c.ends_with("JdbcAuditEventHandler"));
        if let (true, Some(config)) = (jdbc, handler.get_mut("config").and_then(Value::as_object_mut))
            && !config.contains_key("connectionPool")
        {
            config.insert("connectionPool".into(), Value::Object(pool.clone()));
        }
    }
}

/// A topic without a schema, custom or standard.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("topic `{0}` has no schema (the CSV columns come from it): add one to topicsSchemasDirectory")]
pub struct NoSchema(pub String);

impl Config {
    /// The JSON schema of `topic` as written (custom, or else the standard
    /// one).
    pub fn schema_source(&self, topic: &str) -> Result<serde_json::Value, NoSchema> {
        if let Some(schema) = self.custom_schema_sources.get(topic) {
            return Ok(schema.clone());
        }
        let source = crate::schema::standard_source(topic).ok_or_else(|| NoSchema(topic.to_owned()))?;
        let doc: serde_json::Value = serde_json::from_str(source).expect("the standard schemas are JSON (a unit test parses them)");
        Ok(doc.get("schema").cloned().unwrap_or(doc))
    }

    /// The data columns of `topic`'s CSV files: its schema's fields
    /// ([`columns_for_schema`](crate::outputs::csv::codec::columns_for_schema)).
    pub fn csv_columns(&self, topic: &str) -> Result<Vec<String>, NoSchema> {
        Ok(crate::outputs::csv::codec::columns_for_schema(&self.schema_source(topic)?))
    }

    /// The output root of `h`'s tenant (`None` for a top-level handler): its
    /// output directory is opened through it.
    pub fn output_root(&self, h: &WasmHandlerConfig) -> Option<&Path> {
        h.tenant.as_ref().map(|t| self.tenants[t].output_root.as_path())
    }

    /// The path of `h`'s output directory (under its tenant's output root).
    pub fn output_directory(&self, h: &WasmHandlerConfig) -> PathBuf {
        self.output_root(h).map_or_else(|| h.directory.clone(), |root| root.join(&h.directory))
    }

    /// Reads and validates a configuration file.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, ConfigError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.to_owned(), source })?;
        let base = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        Self::from_json(&text, base, &path.display().to_string())
    }

    /// Validates configuration text; relative paths resolve against `base_dir`;
    /// `origin` names the source in errors.
    pub fn from_json(text: &str, base_dir: &Path, origin: &str) -> Result<Self, ConfigError> {
        let plain = |at: String, message: String| ConfigError::Invalid { origin: origin.to_owned(), at, message };
        let document: Value = deserialize(text, "", &plain)?;
        // A route or config.json holds the service in its heap (or inline
        // as `auditService`): errors name paths in the file as written.
        let (mut service, path) = select_audit_service(document).map_err(|(at, m)| plain(at, m))?;
        let mut properties = expr::Properties::from_env().map_err(|e| plain(".".into(), e.to_string()))?;
        if let Some(object) = service.as_object_mut().and_then(|o| o.remove("properties")) {
            properties.add_object(&object);
        }
        if let Some(object) = &path.properties {
            properties.add_object(object);
        }
        // A component's own `config` is the guest's business: passed as written.
        let guest_configs = take_guest_configs(&mut service);
        expr::resolve(&mut service, "", &properties).map_err(|(at, e)| plain(path.join(&at), e.to_string()))?;
        // Secrets (`…SecretId`) from the heap's stores and `wasp.secretStores`.
        let mut stores = Vec::new();
        for (at, mut store) in path.secret_stores.clone() {
            expr::resolve(&mut store, &at, &properties).map_err(|(at, e)| plain(at, e.to_string()))?;
            stores.push((at, store));
        }
        for pointer in ["/wasp/secretStores", "/config/wasp/secretStores"] {
            match service.pointer(pointer) {
                None => {}
                Some(Value::Array(items)) => {
                    let at = pointer.trim_start_matches('/').replace('/', ".");
                    stores.extend(items.iter().enumerate().map(|(i, v)| (path.join(&format!("{at}[{i}]")), v.clone())));
                }
                Some(_) => {
                    return Err(plain(
                        path.join(&pointer.trim_start_matches('/').replace('/', ".")),
                        "must be an array of secret stores".into(),
                    ));
                }
            }
        }
        let stores =
            secrets::SecretStores::from_objects(stores.iter().map(|(at, v)| (at.clone(), v)), base_dir).map_err(|(at, m)| plain(at, m))?;
        stores.resolve(&mut service, "", &properties, base_dir).map_err(|(at, m)| plain(path.join(&at), m))?;
        for (pointer, value) in guest_configs {
            if let Some(slot) = service.pointer_mut(&pointer) {
                *slot = value;
            }
        }
        let invalid = |at: String, message: String| ConfigError::Invalid { origin: origin.to_owned(), at: path.join(&at), message };
        let text = &service.to_string();
        // The full ForgeRock form wraps the bare one in `config`.
        let document = service;
        let (name, raw, prefix): (Option<String>, raw::RawConfig, &str) = if document.get("type").is_some() {
            let outer: raw::RawAuditServiceObject = deserialize(text, "", &invalid)?;
            match outer.kind.as_str() {
                "AuditService" => {
                    let inner = outer.config.ok_or_else(|| invalid("config".into(), "an AuditService needs its `config`".into()))?;
                    (outer.name, deserialize(&inner.to_string(), "config", &invalid)?, "config.")
                }
                "NoOpAuditService" => (outer.name, deserialize("{}", "config", &invalid)?, "config."),
                other => {
                    return Err(invalid(
                        "type".into(),
                        format!("`{other}` is not an audit service (expected AuditService or NoOpAuditService)"),
                    ));
                }
            }
        } else {
            (None, deserialize(text, "", &invalid)?, "")
        };
        let audit = forgerock::validate_settings(raw.config, &format!("{prefix}config"), base_dir).map_err(|(at, m)| invalid(at, m))?;

        let data_dir = base_dir.join(raw.wasp.data_directory.as_deref().unwrap_or(Path::new("wasp-data")));
        let cache_dir = match &raw.wasp.cache_directory {
            None => Some(data_dir.join("cache")),
            Some(Value::Bool(false)) => None,
            Some(Value::String(dir)) => Some(base_dir.join(dir)),
            Some(other) => {
                return Err(invalid(
                    "wasp.cacheDirectory".into(),
                    format!("expected a directory or false, found {}", crate::event::json_type(other)),
                ));
            }
        };

        let mut handlers = Vec::new();
        let mut forgerock_handlers = Vec::new();
        let no_defaults = raw::RawBudgets::default();
        let (top_level, others) =
            split_forgerock(raw.event_handlers, &format!("{prefix}eventHandlers"), (base_dir, &data_dir), None, &invalid)?;
        forgerock_handlers.extend(others);
        read_handlers(top_level, &format!("{prefix}eventHandlers"), None, &no_defaults, base_dir, &data_dir, &invalid, &mut handlers)?;
        {
            // Handler names are unique across classes (actions and the
            // summary find handlers by name).
            let mut names: BTreeSet<&str> = handlers.iter().map(|h| h.name.as_str()).collect();
            for h in &forgerock_handlers {
                if !names.insert(&h.name) {
                    return Err(invalid(format!("{prefix}eventHandlers"), format!("handler name `{}` is used twice", h.name)));
                }
            }
        }
        let mut filters = Vec::new();
        read_filters(raw.filters, &format!("{prefix}filters"), None, &no_defaults, base_dir, &invalid, &mut filters)?;
        let mut tenants = BTreeMap::new();
        for (name, tenant) in raw.tenants {
            let at = format!("tenants.{name}");
            if !valid_name(&name) {
                return Err(invalid(at, format!("`{name}` is not a valid tenant name (letters, digits, `.`, `_`, `-`)")));
            }
            if let Some(0) = tenant.quotas.events_per_second {
                return Err(invalid(format!("{at}.quotas.eventsPerSecond"), "must be greater than 0".into()));
            }
            if let Some(0) = tenant.quotas.fuel_per_second {
                return Err(invalid(format!("{at}.quotas.fuelPerSecond"), "must be greater than 0".into()));
            }
            let output_root = data_dir.join(tenant.output_root.unwrap_or_else(|| Path::new("tenants").join(&name)));
            read_filters(tenant.filters, &format!("{at}.filters"), Some(&name), &tenant.budgets, base_dir, &invalid, &mut filters)?;
            let (wasm, builtin) =
                split_forgerock(tenant.event_handlers, &format!("{at}.eventHandlers"), (base_dir, &output_root), Some(&name), &invalid)?;
            let first_wasm = handlers.len();
            read_handlers(
                wasm,
                &format!("{at}.eventHandlers"),
                Some(&name),
                &tenant.budgets,
                base_dir,
                &data_dir,
                &invalid,
                &mut handlers,
            )?;
            {
                let mut names: BTreeSet<&str> = handlers[first_wasm..].iter().map(|h| h.name.as_str()).collect();
                if let Some(twice) = builtin.iter().find(|h| !names.insert(&h.name)) {
                    return Err(invalid(format!("{at}.eventHandlers"), format!("handler name `{}` is used twice", twice.name)));
                }
            }
            if let Some(query) = &tenant.handler_for_queries {
                let candidates: Vec<&str> = builtin
                    .iter()
                    .filter(|h| h.enabled && h.builtin.as_ref().is_some_and(|b| b.log_directory().is_some()))
                    .map(|h| h.name.as_str())
                    .collect();
                if !candidates.contains(&query.as_str()) {
                    let known = if candidates.is_empty() {
                        "the tenant has none".to_owned()
                    } else {
                        format!("the tenant's: {}", candidates.join(", "))
                    };
                    return Err(invalid(
                        format!("{at}.handlerForQueries"),
                        format!("`{query}` is not an enabled JSON or CSV handler of tenant `{name}` ({known})"),
                    ));
                }
            }
            forgerock_handlers.extend(builtin);
            tenants.insert(
                name,
                TenantConfig {
                    output_root,
                    events_per_second: tenant.quotas.events_per_second,
                    fuel_per_second: tenant.quotas.fuel_per_second,
                    handler_for_queries: tenant.handler_for_queries,
                },
            );
        }
        check_shared_log_files(&forgerock_handlers).map_err(|m| invalid(format!("{prefix}eventHandlers"), m))?;
        let journal = validate_journal(&raw.wasp.journal, &invalid)?;
        let topics_schemas_dir = raw.topics_schemas_directory.as_ref().map(|d| base_dir.join(d));
        let custom = match &topics_schemas_dir {
            Some(dir) => load_schemas(dir, origin, &format!("{prefix}topicsSchemasDirectory"))?,
            None => BTreeMap::new(),
        };
        let v = &raw.wasp.validation;
        let validation = ValidationConfig {
            mode: match v.mode.as_deref() {
                None | Some("off") => SchemaMode::Off,
                Some("warn") => SchemaMode::Warn,
                Some("reject") => SchemaMode::Reject,
                Some(other) => {
                    return Err(invalid("wasp.validation.mode".into(), format!("unknown mode `{other}` (expected off, warn or reject)")));
                }
            },
            required_fields: v.required_fields.clone().unwrap_or_else(|| vec!["transactionId".into(), "timestamp".into()]),
            max_depth: v.max_depth.unwrap_or(32),
        };
        let sidecar = sidecar::validate::validate(&raw.wasp.sidecar, base_dir, &tenants, &invalid)?;
        if let Some(fleet) = &raw.wasp.fleet {
            fleet.validate().map_err(|e| invalid(format!("wasp.fleet.{}", e.field), e.message))?;
            let known: Vec<String> = handlers
                .iter()
                .map(WasmHandlerConfig::qualified_name)
                .chain(forgerock_handlers.iter().map(forgerock::ForgeRockHandlerConfig::qualified_name))
                .collect();
            for (i, name) in fleet.ordered.iter().enumerate() {
                if !known.contains(name) {
                    return Err(invalid(
                        format!("wasp.fleet.ordered[{i}]"),
                        format!("no handler `{name}` (handlers: {})", known.join(", ")),
                    ));
                }
            }
        }
        Ok(Config {
            fleet: raw.wasp.fleet.clone(),
            shared_state: None,
            safelist: raw.wasp.safelist.unwrap_or(true),
            sidecar,
            base_dir: base_dir.to_owned(),
            data_dir,
            cache_dir,
            journal,
            validation,
            max_event_bytes: raw.wasp.max_event_size.unwrap_or(DEFAULT_MAX_EVENT_BYTES),
            handlers,
            tenants,
            forgerock_handlers,
            filters,
            audit,
            name,
            custom_schemas: custom.iter().map(|(t, (s, _))| (t.clone(), s.clone())).collect(),
            custom_schema_sources: custom.into_iter().map(|(t, (_, v))| (t, v)).collect(),
            topics_schemas_dir,
        })
    }

    /// Every topic the service accepts for `tenant` (`None`: events
    /// published without a tenant): the standard ones, those with a schema
    /// in `topicsSchemasDirectory`, and those any of its handlers names.
    pub fn known_topics_for(&self, tenant: Option<&str>) -> BTreeSet<String> {
        let mut topics: BTreeSet<String> = STANDARD_TOPICS.iter().map(|t| (*t).to_owned()).collect();
        topics.extend(self.custom_schemas.keys().cloned());
        for h in self.handlers.iter().filter(|h| h.tenant.as_deref() == tenant) {
            topics.extend(h.topics.iter().cloned());
        }
        topics
    }

    /// Every topic the service accepts for events without a tenant.
    pub fn known_topics(&self) -> BTreeSet<String> {
        self.known_topics_for(None)
    }
}

#[cfg(test)]
mod tests;
