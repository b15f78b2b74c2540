//! Building a service's parts from its configuration: the journal of each
//! stream, the filters, and each handler's worker (component, outputs under
//! its directory capability, `init`).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread::JoinHandle;

use super::{BuildError, HandlerEntry};
use crate::config::{Config, Durability, WasmHandlerConfig};
use crate::dead_letter::{DeadLetterStore, FaultRecord};
use crate::delivery::{Breaker, HandlerStats, OutputSummary, Worker};
use crate::engine::{FaultKind, OutputSpec, StateStore, WaspEngine};
use crate::journal::{Journal, MemoryJournal};
use crate::quota::TokenBucket;

/// Opens the journal of one stream (a tenant's, or `None`'s) per the
/// configured durability; in `fsync` mode starts its group-commit thread.
pub(super) fn open_journal(
    config: &Config,
    tenant: Option<&str>,
    threads: &mut Vec<JoinHandle<()>>,
) -> Result<Arc<dyn Journal>, BuildError> {
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

/// Fresh filter stages for a handler of `tenant` (the filters of its
/// stream: the top-level ones for a top-level handler).
pub(crate) fn filter_stages(filters: &[FilterMaker], tenant: Option<&str>) -> Vec<crate::delivery::filters::FilterStage> {
    filters.iter().filter(|(t, _)| t.as_deref() == tenant).map(|(_, stage)| stage()).collect()
}

/// Which component `prepare` loads for a WASM handler.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Versions {
    /// The configured file (`wasp dlq replay --component`).
    Configured,
    /// The live version of the handler's history (see `deploy::resolve`).
    Live,
    /// The live version, for a delivery thread that starts afresh (a
    /// shadow or canary still listed is marked rolled back).
    Start,
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
    versions: Versions,
) -> Result<(Worker, HandlerEntry), BuildError> {
    let qualified = h.qualified_name();
    let component = |source| BuildError::Component { handler: qualified.clone(), source };
    let resolved = match versions {
        Versions::Configured => None,
        Versions::Live => Some(crate::deploy::resolve(config, h, false)),
        Versions::Start => Some(crate::deploy::resolve(config, h, true)),
    };
    let path = resolved.as_ref().map_or(h.component.as_path(), |r| r.component.as_path());
    let loaded = engine.load(path, config.cache_dir.as_deref()).map_err(component)?;
    let pre = engine.prepare_handler(&loaded, path).map_err(component)?;
    let handler_config = resolved.as_ref().map_or_else(|| h.handler_config.clone(), |r| r.init_config.clone());
    let output_specs: Arc<[OutputSpec]> =
        h.outputs.iter().map(|(name, o)| OutputSpec { name: name.clone(), line_oriented: o.line_oriented() }).collect();
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
        spec: format!("{h:?}"),
        component: Some(h.component.clone()),
        thread: None,
        file_hash: resolved.as_ref().and_then(|r| r.file_hash.clone()),
        live_version: resolved.as_ref().and_then(|r| r.version),
        candidate: None,
        start_change: resolved.and_then(|r| r.changed),
    };
    let mut worker = Worker {
        name: qualified.clone(),
        tenant: h.tenant.clone(),
        topics: h.topics.clone(),
        version: pre.hash.clone(),
        pre: Some(pre),
        native: None,
        budgets: h.budgets.clone(),
        output_specs,
        sinks,
        state: StateStore::for_handler(config.shared_state.as_ref(), &qualified, h.budgets.state_bytes)
            .map_err(|message| BuildError::Unsupported { handler: qualified.clone(), message: format!("its shared state: {message}") })?,
        handler_config,
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
        stopping: false,
        output_down: None,
        candidate: None,
        acked: 0,
        captured: None,
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

/// A handler's opened outputs and what the summary says of them.
type Outputs = (Vec<Box<dyn crate::outputs::Sink>>, Vec<OutputSummary>);

/// Opens the handler's outputs, and its output directory (through its
/// tenant's output root, for a tenant's handler) when one of them writes
/// there: a handler with network outputs only has no directory.
fn open_outputs(config: &Config, h: &WasmHandlerConfig) -> Result<Outputs, String> {
    let dir = match h.outputs.values().any(|o| o.needs_directory()) {
        true => Some(crate::outputs::open_directory(config.output_root(h), &h.directory, true)?),
        false => None,
    };
    let shown = config.output_directory(h);
    let place = crate::outputs::OutputPlace { dir: dir.as_ref(), shown: &shown, sync: config.journal.durability == Durability::Fsync };
    let mut sinks = Vec::new();
    let mut outputs = Vec::new();
    for (name, output) in &h.outputs {
        let sink = output.build(&place).map_err(|e| format!("output `{name}` cannot be opened: {e}"))?;
        outputs.push(OutputSummary::new(name.clone(), output.kind(), sink.location()));
        sinks.push(sink);
    }
    Ok((sinks, outputs))
}

/// Builds the worker of a built-in (ForgeRock class) handler: its native
/// formatter and its outputs. Outputs or keys that cannot be opened disable
/// the handler (its events are dead-lettered), as for WASM handlers.
pub(crate) fn prepare_builtin(
    config: &Config,
    h: &crate::config::forgerock::ForgeRockHandlerConfig,
    settings: &crate::builtin::BuiltinSettings,
    dead_letters: &DeadLetterStore,
) -> (Worker, HandlerEntry) {
    let stats = Arc::new(HandlerStats::default());
    let version = format!("builtin:{}", h.class.name().rsplit('.').next().unwrap_or_default());
    let (native, opened, batch_max_size, batch_max_wait) = builtin_parts(config, h, settings);
    let (sinks, outputs, disabled) = match opened {
        Ok((sinks, outputs)) => (sinks, outputs, None),
        Err(message) => (Vec::new(), Vec::new(), Some(message)),
    };
    let controls = crate::delivery::Controls::default();
    let qualified = h.qualified_name();
    let entry = HandlerEntry {
        name: qualified.clone(),
        cursor: None,
        controls: controls.clone(),
        tenant: h.tenant.clone(),
        version: version.clone(),
        stats: stats.clone(),
        outputs,
        spec: format!("{h:?}"),
        component: None,
        thread: None,
        file_hash: None,
        live_version: None,
        candidate: None,
        start_change: None,
    };
    let disabled = disabled.map(|message| {
        tracing::error!(handler = %qualified, "handler disabled: {message}; its events go to the dead-letter store");
        stats.disable(message.clone());
        FaultRecord::plain(FaultKind::Init, message)
    });
    let worker = Worker {
        name: qualified.clone(),
        tenant: h.tenant.clone(),
        topics: h.topics.iter().cloned().collect(),
        pre: None,
        native: Some(native),
        version,
        budgets: crate::engine::Budgets::default(),
        output_specs: Arc::from(Vec::new()),
        sinks,
        state: StateStore::new(0),
        handler_config: String::new(),
        batch_max_size,
        batch_max_wait,
        stats,
        instance: None,
        breaker: Breaker::new(crate::config::BreakerConfig {
            failures: 5,
            backoff: std::time::Duration::from_secs(1),
            max_backoff: std::time::Duration::from_secs(300),
        }),
        dead_letters: dead_letters.clone(),
        fuel_quota: None,
        disabled,
        filters: Vec::new(),
        controls,
        stopping: false,
        output_down: None,
        candidate: None,
        acked: 0,
        captured: None,
    };
    (worker, entry)
}

type BuiltinParts = (Box<dyn crate::builtin::NativeHandler>, Result<Outputs, String>, usize, std::time::Duration);

fn builtin_parts(
    config: &Config,
    h: &crate::config::forgerock::ForgeRockHandlerConfig,
    settings: &crate::builtin::BuiltinSettings,
) -> BuiltinParts {
    use crate::builtin::{BuiltinSettings, csv, json};
    use crate::outputs::log_file::codec::{CsvRows, JsonLines, LineCodec};
    let sync = config.journal.durability == Durability::Fsync;
    let topic_index = || h.topics.iter().enumerate().map(|(i, t)| (t.clone(), i)).collect();
    // Chain checkpoints of tamper-evident outputs: outside the log
    // directory, under `<dataDirectory>/integrity` (opened as a capability
    // when needed, so that no name leads out of it).
    let state_dir = match &h.tenant {
        None => PathBuf::from(&h.name),
        Some(t) => Path::new("tenants").join(t).join(&h.name),
    };
    let root = h.tenant.as_ref().map(|t| config.tenants[t].output_root.as_path());
    if let Some(opened) = settings.open_standalone() {
        let outputs =
            opened.outputs.map(|outputs| outputs.into_iter().map(|o| (o.sink, OutputSummary::new(o.name, o.kind, o.location))).unzip());
        return (opened.handler, outputs, opened.batch_max_size, opened.batch_max_wait);
    }
    match settings {
        BuiltinSettings::Json(s) => {
            let opened = open_log_files(
                (root, &s.log_directory),
                h,
                s.security.as_ref(),
                &s.rotation,
                &s.retention,
                sync,
                (&config.data_dir, &state_dir),
                |topic| Ok((json::JsonSettings::file_name(topic), Box::new(JsonLines) as Box<dyn LineCodec>)),
            );
            let native = json::JsonHandler { outputs: topic_index(), elasticsearch_compatible: s.elasticsearch_compatible };
            (Box::new(native), opened, s.max_size, s.write_interval)
        }
        BuiltinSettings::Csv(s) if s.security.as_ref().is_some_and(|sec| sec.is_jceks()) => {
            let mut topics = std::collections::BTreeMap::new();
            let opened = open_forgerock_files((root, s), h, |topic| {
                let columns = config.csv_columns(topic).map_err(|e| e.to_string())?;
                topics.insert(topic.to_owned(), (topics.len(), columns.clone()));
                Ok((csv::CsvSettings::file_name(topic), columns))
            });
            (Box::new(csv::CsvHandler { topics }), opened, 10_000, s.write_interval)
        }
        BuiltinSettings::Csv(s) => {
            let mut topics = std::collections::BTreeMap::new();
            let opened = open_log_files(
                (root, &s.log_directory),
                h,
                s.security.as_ref(),
                &s.rotation,
                &s.retention,
                sync,
                (&config.data_dir, &state_dir),
                |topic| {
                    let columns = config.csv_columns(topic).map_err(|e| e.to_string())?;
                    topics.insert(topic.to_owned(), (topics.len(), columns.clone()));
                    let codec = CsvRows { format: s.format.clone(), columns, secure: s.security.is_some() };
                    Ok((csv::CsvSettings::file_name(topic), Box::new(codec) as Box<dyn LineCodec>))
                },
            );
            (Box::new(csv::CsvHandler { topics }), opened, 10_000, s.write_interval)
        }
        BuiltinSettings::JsonStdout(_)
        | BuiltinSettings::Syslog(_)
        | BuiltinSettings::Splunk(_)
        | BuiltinSettings::Elasticsearch(_)
        | BuiltinSettings::Jms(_)
        | BuiltinSettings::Jdbc(_) => unreachable!("opened by BuiltinSettings::open_standalone"),
    }
}

/// Opens one ForgeRock-format CSV file per topic (the CSV handler with a
/// JCEKS keystore as `security.filename`), continuing existing ones.
fn open_forgerock_files(
    (root, s): (Option<&Path>, &crate::builtin::csv::CsvSettings),
    h: &crate::config::forgerock::ForgeRockHandlerConfig,
    mut columns_for: impl FnMut(&str) -> Result<(String, Vec<String>), String>,
) -> Result<Outputs, String> {
    use crate::integrity::forgerock::ForgeRockKeys;
    use crate::outputs::csv::forgerock_write::ForgeRockCsvWriter;
    let security = s.security.as_ref().expect("checked by the caller");
    if root.is_some() {
        return Err("security.filename: a tenant's CSV output cannot write ForgeRock's format (its files are reached through the tenant's directory capability only); use a WASP key file (`wasp keygen`)".into());
    }
    if s.retention.is_enabled() || s.rotation.gzip() {
        tracing::warn!(
            "fileRetention and gzipped archives are not applied to ForgeRock's tamper-evident format (each archive keeps its keystore beside it)"
        );
    }
    let password = security.password.as_deref().ok_or_else(|| {
        format!("security.password: required with the JCEKS keystore {} (its store and key password)", security.key_file.display())
    })?;
    let store =
        crate::integrity::jceks::JceksKeyStore::open(&security.key_file, password).map_err(|e| format!("security.filename: {e}"))?;
    let keys = ForgeRockKeys::from_keystore(&store, password).map_err(|e| format!("security.filename: {e}"))?;
    std::fs::create_dir_all(&s.log_directory).map_err(|e| format!("cannot create directory {}: {e}", s.log_directory.display()))?;
    let mut sinks: Vec<Box<dyn crate::outputs::Sink>> = Vec::new();
    let mut outputs = Vec::new();
    for topic in &h.topics {
        let (file, columns) = columns_for(topic)?;
        let path = s.log_directory.join(&file);
        let writer = ForgeRockCsvWriter::open(&path, columns, s.format.clone(), keys.clone()).map_err(|e| e.to_string())?;
        let sink = crate::outputs::csv::forgerock_sink::ForgeRockCsvSink::new(
            writer,
            &s.log_directory,
            &file,
            s.rotation.clone(),
            security.signature_interval,
        );
        outputs.push(OutputSummary::new(topic.clone(), "file", path.display().to_string()));
        sinks.push(Box::new(sink));
    }
    Ok((sinks, outputs))
}

/// Opens one log file per topic in `directory`; with `security`, their
/// chain checkpoints go to `state_dir` inside `<data_dir>/integrity`.
#[allow(clippy::too_many_arguments)]
fn open_log_files(
    (root, directory): (Option<&Path>, &Path),
    h: &crate::config::forgerock::ForgeRockHandlerConfig,
    security: Option<&crate::builtin::SecuritySettings>,
    rotation: &crate::outputs::rotation::RotationPolicy,
    retention: &crate::outputs::rotation::RetentionPolicy,
    sync: bool,
    (data_dir, state_dir): (&Path, &Path),
    mut codec_for: impl FnMut(&str) -> Result<(String, Box<dyn crate::outputs::log_file::codec::LineCodec>), String>,
) -> Result<Outputs, String> {
    use crate::outputs::log_file::{Integrity, LogFile, LogOptions};
    let dir = crate::outputs::open_directory(root, directory, true).map_err(|e| format!("the log directory: {e}"))?;
    let checkpoints = match security {
        None => None,
        Some(_) => {
            let integrity_root = data_dir.join("integrity");
            let opened = crate::outputs::open_directory(Some(&integrity_root), state_dir, true)
                .map_err(|e| format!("the integrity checkpoint directory: {e}"))?;
            Some((Arc::new(opened), integrity_root.join(state_dir)))
        }
    };
    if security.is_some_and(|s| s.password.is_some()) {
        tracing::warn!("security.password is ignored: WASP key files are not password-protected (protect the file with its permissions)");
    }
    let integrity = match security {
        None => None,
        Some(s) => Some(Integrity {
            keys: Arc::new(crate::integrity::IntegrityKeys::load(&s.key_file).map_err(|e| e.to_string())?),
            signature_interval: s.signature_interval,
        }),
    };
    let mut sinks: Vec<Box<dyn crate::outputs::Sink>> = Vec::new();
    let mut outputs = Vec::new();
    for topic in &h.topics {
        let (file, codec) = codec_for(topic)?;
        let checkpoint = checkpoints.as_ref().map(|(dir, shown)| {
            let name = format!("{file}.state");
            crate::outputs::log_file::Checkpoint { dir: dir.clone(), shown: shown.join(&name), name }
        });
        let options = LogOptions {
            rotation: rotation.clone(),
            retention: retention.clone(),
            integrity: integrity.clone(),
            sync,
            checkpoint,
            ..Default::default()
        };
        let log = LogFile::open(&dir, PathBuf::from(&file), directory.join(&file), codec, options)
            .map_err(|e| format!("cannot open {}: {e}", directory.join(&file).display()))?;
        outputs.push(OutputSummary::new(topic.clone(), "file", log.path().display().to_string()));
        sinks.push(Box::new(log));
    }
    Ok((sinks, outputs))
}
