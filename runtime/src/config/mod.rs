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

pub mod forgerock;
mod raw;
pub mod units;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;

use crate::engine::Budgets;
use crate::event::DEFAULT_MAX_EVENT_BYTES;
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

/// How durable a published event is when `publish` returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// Held in memory only.
    Memory,
    /// Written to the operating system: survives the process being killed.
    Process,
    /// Flushed to the disk: survives a power loss.
    Fsync,
}

/// `wasp.journal`, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct JournalConfig {
    /// How durable an accepted event is.
    pub durability: Durability,
    /// The bound and the overflow policy (per tenant).
    pub bounds: crate::journal::Bounds,
    /// Size of one segment file.
    pub segment_bytes: u64,
    /// Longest wait for the disk flush in `fsync` mode.
    pub fsync_timeout: Duration,
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

/// A tenant: its handlers are in [`Config::handlers`] with `tenant` set.
#[derive(Debug, Clone, PartialEq)]
pub struct TenantConfig {
    /// The directory all its handlers' outputs live in.
    pub output_root: PathBuf,
    /// Events per second it may publish.
    pub events_per_second: Option<u64>,
    /// Fuel per second its handlers may burn together.
    pub fuel_per_second: Option<u64>,
}

/// When a handler is quarantined (see `circuitBreaker` in the docs).
#[derive(Debug, Clone, PartialEq)]
pub struct BreakerConfig {
    /// Consecutive faulted events that open the breaker (0: never).
    pub failures: u32,
    /// First wait before a probe.
    pub backoff: Duration,
    /// Longest wait between probes.
    pub max_backoff: Duration,
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
    /// Per-call limits.
    pub budgets: Budgets,
    /// State budget in bytes.
    pub state_bytes: usize,
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

impl Config {
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
        let invalid = |at: String, message: String| ConfigError::Invalid { origin: origin.to_owned(), at, message };
        // The full ForgeRock form wraps the bare one in `config`.
        let document: Value = deserialize(text, "", &invalid)?;
        let (name, raw, prefix): (Option<String>, raw::RawConfig, &str) = if document.get("type").is_some() {
            let outer: raw::RawAuditServiceObject = deserialize(text, "", &invalid)?;
            match outer.kind.as_str() {
                "AuditService" => {
                    let inner = outer.config.ok_or_else(|| invalid("config".into(), "an AuditService needs its `config`".into()))?;
                    (outer.name, deserialize(&inner.to_string(), "config", &invalid)?, "config.")
                }
                "NoOpAuditService" => (outer.name, deserialize("{}", "config", &invalid)?, "config."),
                other => {
                    return Err(invalid("type".into(), format!("`{other}` is not an audit service (expected AuditService or NoOpAuditService)")));
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
        let (top_level, others) = split_forgerock(raw.event_handlers, &format!("{prefix}eventHandlers"), &invalid)?;
        forgerock_handlers.extend(others);
        read_handlers(top_level, &format!("{prefix}eventHandlers"), None, &no_defaults, base_dir, &data_dir, &invalid, &mut handlers)?;
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
            let (wasm, others) = split_forgerock(tenant.event_handlers, &format!("{at}.eventHandlers"), &invalid)?;
            if let Some(other) = others.first() {
                return Err(invalid(
                    format!("{at}.eventHandlers"),
                    format!("handler `{}`: a tenant's handlers are `wasm` handlers (class `{}` is for the top level)", other.name, other.class.name()),
                ));
            }
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
            tenants.insert(
                name,
                TenantConfig {
                    output_root,
                    events_per_second: tenant.quotas.events_per_second,
                    fuel_per_second: tenant.quotas.fuel_per_second,
                },
            );
        }
        let journal = validate_journal(&raw.wasp.journal, &invalid)?;
        let topics_schemas_dir = raw.topics_schemas_directory.as_ref().map(|d| base_dir.join(d));
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
        Ok(Config {
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
            custom_schemas: match &topics_schemas_dir {
                Some(dir) => load_schemas(dir, origin, &format!("{prefix}topicsSchemasDirectory"))?,
                None => BTreeMap::new(),
            },
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

/// Reads every `*.json` file of `topicsSchemasDirectory`: either
/// `{"schema": {…}}` (the topic is the file's name without `.json`, as
/// ForgeRock does) or `{"<topic>": {"schema": {…}}, …}`. A schema for a core
/// topic may only add properties to the standard one.
fn load_schemas(dir: &Path, origin: &str, dir_at: &str) -> Result<BTreeMap<String, std::sync::Arc<crate::schema::Schema>>, ConfigError> {
    let fail = |file: &Path, at: &str, message: String| ConfigError::Invalid { origin: format!("{origin} (schema {})", file.display()), at: at.to_owned(), message };
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| ConfigError::Invalid { origin: origin.to_owned(), at: dir_at.to_owned(), message: format!("cannot read the directory {}: {e}", dir.display()) })?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    entries.sort();
    let mut schemas = BTreeMap::new();
    for file in entries {
        let text = std::fs::read_to_string(&file).map_err(|source| ConfigError::Read { path: file.clone(), source })?;
        let doc: Value = serde_json::from_str(&text).map_err(|e| fail(&file, ".", format!("not JSON: {e}")))?;
        let stem = file.file_stem().and_then(|s| s.to_str()).unwrap_or_default().to_owned();
        let topics: Vec<(String, Value, String)> = match doc.get("schema") {
            Some(schema) => vec![(stem, schema.clone(), "schema".to_owned())],
            None => doc
                .as_object()
                .map(|m| m.iter().map(|(t, v)| (t.clone(), v.get("schema").cloned().unwrap_or(Value::Null), format!("{t}.schema"))).collect())
                .unwrap_or_default(),
        };
        for (topic, schema, at) in topics {
            if !valid_name(&topic) {
                return Err(fail(&file, ".", format!("`{topic}` is not a valid topic name")));
            }
            let compiled = crate::schema::Schema::compile(&schema).map_err(|e| fail(&file, &at, e.to_string()))?;
            if let Some(core) = crate::schema::standard(&topic) {
                compiled.extends(core).map_err(|m| fail(&file, &at, format!("a schema of the core topic `{topic}` may only add properties: {m}")))?;
            }
            schemas.insert(topic, std::sync::Arc::new(compiled));
        }
    }
    Ok(schemas)
}

fn validate_journal(raw: &raw::RawJournal, invalid: &impl Fn(String, String) -> ConfigError) -> Result<JournalConfig, ConfigError> {
    use crate::journal::{Bounds, Overflow};
    let durability = match raw.durability.as_deref() {
        None | Some("process") => Durability::Process,
        Some("memory") => Durability::Memory,
        Some("fsync") => Durability::Fsync,
        Some(other) => {
            return Err(invalid("wasp.journal.durability".into(), format!("unknown durability `{other}` (expected memory, process or fsync)")));
        }
    };
    let overflow = match raw.overflow.as_deref() {
        None | Some("reject") => Overflow::Reject,
        Some("block") => Overflow::Block(raw.block_timeout.unwrap_or(Duration::from_secs(1))),
        Some("drop-oldest") => Overflow::DropOldest,
        Some(other) => {
            return Err(invalid("wasp.journal.overflow".into(), format!("unknown overflow policy `{other}` (expected reject, block or drop-oldest)")));
        }
    };
    let bounds = Bounds {
        max_events: raw.max_events.unwrap_or(1_000_000),
        max_bytes: raw.max_bytes.unwrap_or(256 << 20),
        overflow,
    };
    for (field, value) in [("maxEvents", bounds.max_events), ("maxBytes", bounds.max_bytes)] {
        if value == 0 {
            return Err(invalid(format!("wasp.journal.{field}"), "must be greater than 0".into()));
        }
    }
    let segment_bytes = raw.segment_size.unwrap_or(64 << 20) as u64;
    if segment_bytes < 4096 {
        return Err(invalid("wasp.journal.segmentSize".into(), "must be at least 4 KiB".into()));
    }
    Ok(JournalConfig { durability, bounds, segment_bytes, fsync_timeout: raw.fsync_timeout.unwrap_or(Duration::from_secs(1)) })
}

/// Reads one `filters` list (top level or a tenant's) into `out`.
fn read_filters(
    entries: Vec<raw::RawFilter>,
    list_at: &str,
    tenant: Option<&str>,
    tenant_budgets: &raw::RawBudgets,
    base_dir: &Path,
    invalid: &impl Fn(String, String) -> ConfigError,
    out: &mut Vec<FilterConfig>,
) -> Result<(), ConfigError> {
    let mut names = BTreeSet::new();
    for (i, f) in entries.into_iter().enumerate() {
        let at = format!("{list_at}[{i}]");
        if !valid_name(&f.name) {
            return Err(invalid(format!("{at}.name"), format!("`{}` is not a valid filter name", f.name)));
        }
        if !names.insert(f.name.clone()) {
            return Err(invalid(format!("{at}.name"), format!("filter name `{}` is used twice", f.name)));
        }
        if f.topics.is_empty() {
            return Err(invalid(format!("{at}.topics"), "must name at least one topic".into()));
        }
        let fail_open = match f.on_fault.as_deref() {
            None | Some("closed") => false,
            Some("open") => true,
            Some(other) => return Err(invalid(format!("{at}.onFault"), format!("`{other}`: expected open or closed"))),
        };
        let config_json = match f.config {
            None | Some(Value::Null) => "{}".to_owned(),
            Some(v @ Value::Object(_)) => v.to_string(),
            Some(other) => {
                return Err(invalid(format!("{at}.config"), format!("the filter's settings must be an object, found {}", crate::event::json_type(&other))));
            }
        };
        let b = f.budgets.or(tenant_budgets);
        let d = Budgets::default();
        let budgets = Budgets {
            fuel_per_event: b.fuel_per_event.unwrap_or(d.fuel_per_event),
            deadline: b.deadline.unwrap_or(d.deadline),
            memory_bytes: b.memory.unwrap_or(d.memory_bytes),
            log_bytes_per_event: b.log_per_event.unwrap_or(d.log_bytes_per_event),
            ..d
        };
        out.push(FilterConfig {
            name: f.name,
            tenant: tenant.map(str::to_owned),
            topics: f.topics.into_iter().collect(),
            component: base_dir.join(f.component),
            enabled: f.enabled,
            config_json,
            fail_open,
            budgets,
        });
    }
    Ok(())
}

/// Separates the ForgeRock handler entries (validated here) from the
/// `wasm` ones, keeping each `wasm` entry's index for error paths.
#[allow(clippy::type_complexity)]
fn split_forgerock(
    entries: Vec<raw::RawHandlerEntry>,
    list_at: &str,
    invalid: &impl Fn(String, String) -> ConfigError,
) -> Result<(Vec<(usize, raw::RawHandlerEntry)>, Vec<forgerock::ForgeRockHandlerConfig>), ConfigError> {
    let mut wasm = Vec::new();
    let mut others = Vec::new();
    for (i, entry) in entries.into_iter().enumerate() {
        let at = format!("{list_at}[{i}]");
        if entry.class == "wasm" {
            wasm.push((i, entry));
            continue;
        }
        let Some(class) = forgerock::HandlerClass::from_name(&entry.class) else {
            let known: Vec<&str> = forgerock::HandlerClass::ALL.iter().map(|(_, n)| *n).collect();
            return Err(invalid(format!("{at}.class"), format!("unknown handler class `{}` (known: wasm, {})", entry.class, known.join(", "))));
        };
        let raw: forgerock::RawForgeRockHandler = deserialize(&entry.config.to_string(), &format!("{at}.config"), invalid)?;
        others.push(forgerock::ForgeRockHandlerConfig {
            name: raw.name,
            class,
            topics: raw.topics,
            enabled: raw.enabled.unwrap_or(true),
            settings: raw.settings,
        });
    }
    Ok((wasm, others))
}

/// Reads one `eventHandlers` list (top level or a tenant's) into `out`.
#[allow(clippy::too_many_arguments)]
fn read_handlers(
    entries: Vec<(usize, raw::RawHandlerEntry)>,
    list_at: &str,
    tenant: Option<&str>,
    tenant_budgets: &raw::RawBudgets,
    base_dir: &Path,
    data_dir: &Path,
    invalid: &impl Fn(String, String) -> ConfigError,
    out: &mut Vec<WasmHandlerConfig>,
) -> Result<(), ConfigError> {
    let mut names = BTreeSet::new();
    for (i, entry) in entries {
        let at = format!("{list_at}[{i}]");
        let config_text = entry.config.to_string();
        let raw: raw::RawWasmHandler = deserialize(&config_text, &format!("{at}.config"), invalid)?;
        let h = validate_handler(raw, tenant, tenant_budgets, base_dir, data_dir, &format!("{at}.config"), invalid)?;
        if !names.insert(h.name.clone()) {
            return Err(invalid(format!("{at}.config.name"), format!("handler name `{}` is used twice", h.name)));
        }
        out.push(h);
    }
    Ok(())
}

fn deserialize<T: serde::de::DeserializeOwned>(
    text: &str,
    prefix: &str,
    invalid: &impl Fn(String, String) -> ConfigError,
) -> Result<T, ConfigError> {
    let de = &mut serde_json::Deserializer::from_str(text);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let inner = e.path().to_string();
        let at = match (prefix, inner.as_str()) {
            ("", ".") => ".".to_owned(),
            ("", p) => p.to_owned(),
            (pre, ".") => pre.to_owned(),
            (pre, p) => format!("{pre}.{p}"),
        };
        let message = e.into_inner().to_string();
        // serde_json appends " at line L column C"; keep it only for syntax errors.
        let message = match message.find(" at line ") {
            Some(pos) if !message.starts_with("expected") && !message.starts_with("EOF") && !message.contains("key must") => {
                message[..pos].to_owned()
            }
            _ => message,
        };
        invalid(at, message)
    })
}

fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

fn validate_handler(
    raw: raw::RawWasmHandler,
    tenant: Option<&str>,
    tenant_budgets: &raw::RawBudgets,
    base_dir: &Path,
    data_dir: &Path,
    at: &str,
    invalid: &impl Fn(String, String) -> ConfigError,
) -> Result<WasmHandlerConfig, ConfigError> {
    if !valid_name(&raw.name) {
        return Err(invalid(
            format!("{at}.name"),
            format!("`{}` is not a valid handler name (letters, digits, `.`, `_`, `-`; starting with a letter or digit)", raw.name),
        ));
    }
    if raw.topics.is_empty() {
        return Err(invalid(format!("{at}.topics"), "must name at least one topic".into()));
    }
    for (i, topic) in raw.topics.iter().enumerate() {
        if !valid_name(topic) {
            return Err(invalid(format!("{at}.topics[{i}]"), format!("`{topic}` is not a valid topic name")));
        }
    }
    for (name, output) in &raw.outputs {
        if name.is_empty() {
            return Err(invalid(format!("{at}.outputs"), "an output name must not be empty".into()));
        }
        output.validate().map_err(|m| invalid(format!("{at}.outputs.{name}"), m))?;
    }
    let handler_config = match raw.config {
        None | Some(Value::Null) => "{}".to_owned(),
        Some(v @ Value::Object(_)) => v.to_string(),
        Some(other) => {
            return Err(invalid(
                format!("{at}.config"),
                format!("the handler's settings must be an object, found {}", crate::event::json_type(&other)),
            ));
        }
    };
    let d = Budgets::default();
    let b = raw.budgets.or(tenant_budgets);
    let budgets = Budgets {
        fuel_per_event: b.fuel_per_event.unwrap_or(d.fuel_per_event),
        deadline: b.deadline.unwrap_or(d.deadline),
        memory_bytes: b.memory.unwrap_or(d.memory_bytes),
        output_bytes_per_event: b.output_per_event.unwrap_or(d.output_bytes_per_event),
        output_bytes_per_call: b.output_per_call.unwrap_or(d.output_bytes_per_call),
        log_bytes_per_event: b.log_per_event.unwrap_or(d.log_bytes_per_event),
        stdio_bytes_per_call: b.stdio_per_call.unwrap_or(d.stdio_bytes_per_call),
        instances: b.instances.unwrap_or(d.instances),
        tables: b.tables.unwrap_or(d.tables),
        memories: b.memories.unwrap_or(d.memories),
        table_elements: b.table_elements.unwrap_or(d.table_elements),
        recycle_after: b.recycle_after.unwrap_or(d.recycle_after),
    };
    // The pooling allocator's slots are sized for these maxima.
    for (field, value, max) in [
        ("instances", budgets.instances, crate::engine::MAX_CORE_INSTANCES),
        ("tables", budgets.tables, crate::engine::MAX_TABLES),
        ("memories", budgets.memories, crate::engine::MAX_MEMORIES),
    ] {
        if value == 0 || value > max {
            return Err(invalid(format!("{at}.budgets.{field}"), format!("must be between 1 and {max}, found {value}")));
        }
    }
    if budgets.fuel_per_event == 0 {
        return Err(invalid(format!("{at}.budgets.fuelPerEvent"), "must be greater than 0".into()));
    }
    if budgets.deadline.is_zero() {
        return Err(invalid(format!("{at}.budgets.deadline"), "must be greater than 0".into()));
    }
    if budgets.memory_bytes > crate::engine::MAX_MEMORY_BYTES {
        return Err(invalid(
            format!("{at}.budgets.memory"),
            format!("{} bytes is more than the maximum of 1 GiB", budgets.memory_bytes),
        ));
    }
    let batch_max_size = raw.batch.max_size.unwrap_or(64);
    if batch_max_size == 0 {
        return Err(invalid(format!("{at}.batch.maxSize"), "must be at least 1".into()));
    }
    let directory = raw.directory.unwrap_or_else(|| PathBuf::from(&raw.name));
    // A tenant's handler directory stays relative: it is opened through the
    // tenant's output root, which refuses any escape.
    let directory = if tenant.is_some() { directory } else { data_dir.join(directory) };
    let cb = raw.circuit_breaker;
    let breaker = BreakerConfig {
        failures: cb.failures.unwrap_or(5),
        backoff: cb.backoff.unwrap_or(Duration::from_secs(1)),
        max_backoff: cb.max_backoff.unwrap_or(Duration::from_secs(300)),
    };
    if breaker.backoff.is_zero() {
        return Err(invalid(format!("{at}.circuitBreaker.backoff"), "must be greater than 0".into()));
    }
    Ok(WasmHandlerConfig {
        name: raw.name,
        tenant: tenant.map(str::to_owned),
        breaker,
        topics: raw.topics.into_iter().collect(),
        enabled: raw.enabled,
        component: base_dir.join(raw.component),
        outputs: raw.outputs,
        handler_config,
        directory,
        batch_max_size,
        batch_max_wait: raw.batch.max_wait.unwrap_or(Duration::from_millis(10)),
        budgets,
        state_bytes: b.state.unwrap_or(1 << 20),
    })
}

#[cfg(test)]
mod tests;
