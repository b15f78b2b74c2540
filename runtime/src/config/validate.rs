//! Validating the parts of a configuration: handler and filter lists,
//! budgets, the journal settings, topic schema files. Every error names the
//! JSON path (or file) of what is wrong.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;

use super::*;

/// Reads every `*.json` file of `topicsSchemasDirectory`: either
/// `{"schema": {…}}` (the topic is the file's name without `.json`, as
/// ForgeRock does) or `{"<topic>": {"schema": {…}}, …}`. A schema for a core
/// topic may only add properties to the standard one.
pub(super) fn load_schemas(
    dir: &Path,
    origin: &str,
    dir_at: &str,
) -> Result<BTreeMap<String, (std::sync::Arc<crate::schema::Schema>, Value)>, ConfigError> {
    let fail = |file: &Path, at: &str, message: String| ConfigError::Invalid {
        origin: format!("{origin} (schema {})", file.display()),
        at: at.to_owned(),
        message,
    };
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| ConfigError::Invalid {
            origin: origin.to_owned(),
            at: dir_at.to_owned(),
            message: format!("cannot read the directory {}: {e}", dir.display()),
        })?
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
                .map(|m| {
                    m.iter().map(|(t, v)| (t.clone(), v.get("schema").cloned().unwrap_or(Value::Null), format!("{t}.schema"))).collect()
                })
                .unwrap_or_default(),
        };
        for (topic, schema, at) in topics {
            if !valid_name(&topic) {
                return Err(fail(&file, ".", format!("`{topic}` is not a valid topic name")));
            }
            let compiled = crate::schema::Schema::compile(&schema).map_err(|e| fail(&file, &at, e.to_string()))?;
            if let Some(core) = crate::schema::standard(&topic) {
                compiled
                    .extends(core)
                    .map_err(|m| fail(&file, &at, format!("a schema of the core topic `{topic}` may only add properties: {m}")))?;
            }
            schemas.insert(topic, (std::sync::Arc::new(compiled), schema));
        }
    }
    Ok(schemas)
}

pub(super) fn validate_journal(
    raw: &raw::RawJournal,
    invalid: &impl Fn(String, String) -> ConfigError,
) -> Result<JournalConfig, ConfigError> {
    use crate::journal::{Bounds, Overflow};
    let durability = match raw.durability.as_deref() {
        None | Some("process") => Durability::Process,
        Some("memory") => Durability::Memory,
        Some("fsync") => Durability::Fsync,
        Some(other) => {
            return Err(invalid(
                "wasp.journal.durability".into(),
                format!("unknown durability `{other}` (expected memory, process or fsync)"),
            ));
        }
    };
    let overflow = match raw.overflow.as_deref() {
        None | Some("reject") => Overflow::Reject,
        Some("block") => Overflow::Block(raw.block_timeout.unwrap_or(Duration::from_secs(1))),
        Some("drop-oldest") => Overflow::DropOldest,
        Some(other) => {
            return Err(invalid(
                "wasp.journal.overflow".into(),
                format!("unknown overflow policy `{other}` (expected reject, block or drop-oldest)"),
            ));
        }
    };
    let bounds = Bounds { max_events: raw.max_events.unwrap_or(1_000_000), max_bytes: raw.max_bytes.unwrap_or(256 << 20), overflow };
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

/// The budgets a handler or filter runs under: each field as configured
/// (after the tenant's defaults), else the default; values the engine
/// cannot honour are refused, naming `<at>.budgets.<field>`.
fn resolve_budgets(b: raw::RawBudgets, at: &str, invalid: &impl Fn(String, String) -> ConfigError) -> Result<Budgets, ConfigError> {
    let d = Budgets::default();
    let budgets = Budgets {
        fuel_per_event: b.fuel_per_event.unwrap_or(d.fuel_per_event),
        deadline: b.deadline.unwrap_or(d.deadline),
        memory_bytes: b.memory.unwrap_or(d.memory_bytes),
        output_bytes_per_event: b.output_per_event.unwrap_or(d.output_bytes_per_event),
        output_bytes_per_call: b.output_per_call.unwrap_or(d.output_bytes_per_call),
        log_bytes_per_event: b.log_per_event.unwrap_or(d.log_bytes_per_event),
        state_bytes: b.state.unwrap_or(d.state_bytes),
        stdio_bytes_per_call: b.stdio_per_call.unwrap_or(d.stdio_bytes_per_call),
        error_bytes_per_event: b.error_per_event.unwrap_or(d.error_bytes_per_event),
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
        return Err(invalid(format!("{at}.budgets.memory"), format!("{} bytes is more than the maximum of 1 GiB", budgets.memory_bytes)));
    }
    Ok(budgets)
}

/// Reads one `filters` list (top level or a tenant's) into `out`.
pub(super) fn read_filters(
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
            Some(other) => {
                return Err(invalid(format!("{at}.onFault"), format!("`{other}`: expected open or closed")));
            }
        };
        let config_json = match f.config {
            None | Some(Value::Null) => "{}".to_owned(),
            Some(v @ Value::Object(_)) => v.to_string(),
            Some(other) => {
                return Err(invalid(
                    format!("{at}.config"),
                    format!("the filter's settings must be an object, found {}", crate::event::json_type(&other)),
                ));
            }
        };
        let budgets = resolve_budgets(f.budgets.or(tenant_budgets), &at, invalid)?;
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
///
/// For a tenant's list, `dirs.1` is the tenant's output root: a
/// `logDirectory` is relative to it and may not leave it, and only the
/// classes WASP runs (JSON, CSV, JSON stdout) are accepted.
pub(super) fn split_forgerock(
    entries: Vec<raw::RawHandlerEntry>,
    list_at: &str,
    dirs: (&Path, &Path),
    tenant: Option<&str>,
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
            return Err(invalid(
                format!("{at}.class"),
                format!("unknown handler class `{}` (known: wasm, {})", entry.class, known.join(", ")),
            ));
        };
        let raw: forgerock::RawForgeRockHandler = deserialize(&entry.config.to_string(), &format!("{at}.config"), invalid)?;
        // The name becomes a directory (integrity checkpoints, dead letters):
        // the same rule as for WASM handlers, so that it cannot lead out.
        if !valid_name(&raw.name) {
            return Err(invalid(
                format!("{at}.config.name"),
                format!("`{}` is not a valid handler name (letters, digits, `.`, `_`, `-`; starting with a letter or digit)", raw.name),
            ));
        }
        let settings: serde_json::Map<String, Value> = raw.settings.into_iter().collect();
        let (base_dir, data_dir) = dirs;
        if tenant.is_some() {
            use forgerock::HandlerClass;
            // A tenant's built-in handlers write files under its output root;
            // network handlers are the operator's, at the top level.
            if !matches!(class, HandlerClass::Json | HandlerClass::Csv | HandlerClass::JsonStdout) {
                return Err(invalid(
                    format!("{at}.class"),
                    format!(
                        "handler `{}`: a tenant's handlers are `wasm`, JSON, CSV or JSON stdout handlers (class `{}` is for the top level)",
                        raw.name,
                        class.name()
                    ),
                ));
            }
            check_tenant_log_directory(&settings, &format!("{at}.config"), invalid)?;
        }
        let builtin = crate::builtin::BuiltinSettings::from_settings(class, &settings, base_dir, data_dir)
            .map_err(|e| invalid(format!("{at}.config.{}", e.path), e.message))?;
        // (A tenant's class was checked above: a file handler, built in.)
        if let (Some(t), Some(builtin)) = (tenant, &builtin)
            && let Some(security) = builtin.security()
            && security.key_file.starts_with(data_dir)
        {
            return Err(invalid(
                format!("{at}.config.security.filename"),
                format!(
                    "{} is inside the output root of tenant `{t}`, which the tenant's handlers write to: keep the key outside it",
                    security.key_file.display()
                ),
            ));
        }
        if raw.topics.is_empty() && builtin.is_some() {
            return Err(invalid(format!("{at}.config.topics"), "required: at least one topic".into()));
        }
        if let Some(twice) = raw.topics.iter().enumerate().find_map(|(i, t)| raw.topics[..i].contains(t).then_some(t)) {
            return Err(invalid(format!("{at}.config.topics"), format!("topic `{twice}` is listed twice")));
        }
        others.push(forgerock::ForgeRockHandlerConfig {
            name: raw.name,
            tenant: tenant.map(str::to_owned),
            class,
            topics: raw.topics,
            enabled: raw.enabled.unwrap_or(true),
            settings: settings.into_iter().collect(),
            builtin,
        });
    }
    Ok((wasm, others))
}

/// A tenant's `logDirectory` is relative to its output root and stays in it.
fn check_tenant_log_directory(
    settings: &serde_json::Map<String, Value>,
    at: &str,
    invalid: &impl Fn(String, String) -> ConfigError,
) -> Result<(), ConfigError> {
    use std::path::Component;
    let Some(Value::String(dir)) = settings.get("logDirectory") else {
        return Ok(());
    };
    let path = Path::new(dir);
    if path.components().any(|c| !matches!(c, Component::Normal(_) | Component::CurDir)) {
        return Err(invalid(
            format!("{at}.logDirectory"),
            format!("`{dir}`: a tenant's log directory is relative to its output root and stays inside it (no absolute path, no `..`)"),
        ));
    }
    Ok(())
}

/// Reads one `eventHandlers` list (top level or a tenant's) into `out`.
#[allow(clippy::too_many_arguments)]
pub(super) fn read_handlers(
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

/// A handler's `configFile`: JSON, or eZ INI by its name (`.ini`,
/// `.ini.append.php`, `.ini.append`).
fn read_config_file(path: &Path) -> Result<Value, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let name = path.file_name().map(|n| n.to_string_lossy().to_ascii_lowercase()).unwrap_or_default();
    if name.ends_with(".json") {
        serde_json::from_str(&text).map_err(|e| format!("{}: not JSON: {e}", path.display()))
    } else if name.ends_with(".ini") || name.ends_with(".ini.append.php") || name.ends_with(".ini.append") {
        super::ini::parse(&text).map_err(|e| format!("{}: {e}", path.display()))
    } else {
        Err(format!("{}: a settings file is `.json` or eZ INI (`.ini`, `.ini.append.php`)", path.display()))
    }
}

pub(super) fn deserialize<T: serde::de::DeserializeOwned>(
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

pub(super) fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphanumeric()) && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

fn validate_handler(
    mut raw: raw::RawWasmHandler,
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
    for (name, output) in &mut raw.outputs {
        if name.is_empty() {
            return Err(invalid(format!("{at}.outputs"), "an output name must not be empty".into()));
        }
        output.validate().map_err(|e| invalid(format!("{at}.outputs.{name}"), e.to_string()))?;
        output.resolve_paths(base_dir);
    }
    let from_file = match (&raw.config_file, &raw.config) {
        (None, _) => None,
        (Some(_), Some(c)) if !c.is_null() => {
            return Err(invalid(format!("{at}.configFile"), "give the handler's settings in `config` or in `configFile`, not both".into()));
        }
        (Some(file), _) => Some(read_config_file(&base_dir.join(file)).map_err(|m| invalid(format!("{at}.configFile"), m))?),
    };
    let handler_config = match from_file.or(raw.config) {
        None | Some(Value::Null) => "{}".to_owned(),
        Some(v @ Value::Object(_)) => v.to_string(),
        Some(other) => {
            return Err(invalid(
                format!("{at}.config"),
                format!("the handler's settings must be an object, found {}", crate::event::json_type(&other)),
            ));
        }
    };
    let b = raw.budgets.or(tenant_budgets);
    let budgets = resolve_budgets(b, at, invalid)?;
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
    })
}
