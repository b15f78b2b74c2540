//! Hot reload: applying a changed configuration, or changed component
//! files, to a running service without losing an event.
//!
//! Each handler is compared with what runs, by qualified name:
//! - same settings, other component bytes: the new component is compiled
//!   and handed to the handler's thread, which swaps it in between two
//!   batches once its first instance has started (`init` succeeded);
//! - other settings (outputs, topics, budgets, …): the new version is
//!   compiled and `init`ed on the side first; then the old thread stops
//!   after its batch in hand and the new one starts on the same cursor;
//! - new: built, `init`ed, and started on a new cursor (it receives what
//!   the journal still holds and everything after);
//! - gone: its thread stops after its batch in hand and its cursor is
//!   retired.
//!
//! Invariants:
//! - a handler's events never go to neither version: the cursor is kept
//!   across a swap or a rebuild, and the old version acknowledges only what
//!   it handled, so the new one starts right after;
//! - no event goes to both: the old thread stops only between batches;
//! - a new version that cannot be compiled, instantiated or `init`ed is
//!   refused: the old one keeps running, and the refusal is in the report,
//!   the log and the handler's summary (`reloadError`);
//! - changes outside the handlers (journal, tenants, filters, schemas,
//!   policies, data directory) are refused whole: they need a restart.

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

use super::{AuditService, HandlerEntry, start_worker};
use crate::config::Config;
use crate::delivery::{Control, Worker};
use crate::engine::{StateStore, WaspEngine};

/// How long a handler's thread may take to answer a swap or a stop (it
/// answers between batches; a batch is bounded by the handler's budgets).
const ANSWER_WITHIN: Duration = Duration::from_secs(60);

/// What one reload did.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ReloadReport {
    /// When it ran (RFC 3339, UTC).
    pub at: String,
    /// Handlers whose component was swapped (same settings, new bytes).
    pub swapped: Vec<String>,
    /// Handlers rebuilt because their settings changed.
    pub restarted: Vec<String>,
    /// Handlers started.
    pub added: Vec<String>,
    /// Handlers stopped and removed.
    pub removed: Vec<String>,
    /// Handler changes refused (the running version was kept).
    pub refused: Vec<RefusedChange>,
    /// Why nothing was applied (an unreadable or invalid configuration, or
    /// a change that needs a restart).
    pub error: Option<String>,
}

/// A handler change that was refused.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct RefusedChange {
    /// The handler.
    pub handler: String,
    /// Why.
    pub reason: String,
}

impl ReloadReport {
    fn now() -> Self {
        ReloadReport { at: humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string(), ..Default::default() }
    }

    /// A reload that could not even start (the configuration file could
    /// not be read or is invalid).
    pub fn failed(error: String) -> Self {
        ReloadReport { error: Some(error), ..Self::now() }
    }

    /// Whether everything asked for was applied.
    pub fn ok(&self) -> bool {
        self.error.is_none() && self.refused.is_empty()
    }

    /// Whether anything changed.
    pub fn changed(&self) -> bool {
        !(self.swapped.is_empty() && self.restarted.is_empty() && self.added.is_empty() && self.removed.is_empty())
    }

    fn refuse(&mut self, handler: &str, reason: String) {
        tracing::error!(handler, "reload refused, the running version is kept: {reason}");
        self.refused.push(RefusedChange { handler: handler.to_owned(), reason });
    }
}

/// What a stopped handler leaves: its journal, cursor and counters.
type Stopped = (Arc<dyn crate::journal::Journal>, crate::journal::CursorId, Arc<crate::delivery::HandlerStats>);

/// A handler of the new configuration.
enum Wanted<'a> {
    Wasm(&'a crate::config::WasmHandlerConfig),
    Builtin(&'a crate::config::forgerock::ForgeRockHandlerConfig, &'a crate::builtin::BuiltinSettings),
}

impl Wanted<'_> {
    fn name(&self) -> String {
        match self {
            Wanted::Wasm(h) => h.qualified_name(),
            Wanted::Builtin(h, _) => h.qualified_name(),
        }
    }

    fn spec(&self) -> String {
        match self {
            Wanted::Wasm(h) => format!("{h:?}"),
            Wanted::Builtin(h, _) => format!("{h:?}"),
        }
    }
}

/// The parts of `new` that differ from `old` and cannot change while the
/// service runs, by their configuration names.
fn needs_restart(old: &Config, new: &Config) -> Vec<&'static str> {
    let fields: [(&'static str, String, String); 10] = [
        ("wasp.dataDirectory", format!("{:?}", old.data_dir), format!("{:?}", new.data_dir)),
        ("wasp.cacheDirectory", format!("{:?}", old.cache_dir), format!("{:?}", new.cache_dir)),
        ("wasp.maxEventSize", format!("{:?}", old.max_event_bytes), format!("{:?}", new.max_event_bytes)),
        ("wasp.journal", format!("{:?}", old.journal), format!("{:?}", new.journal)),
        ("wasp.validation", format!("{:?}", old.validation), format!("{:?}", new.validation)),
        ("tenants", format!("{:?}", old.tenants), format!("{:?}", new.tenants)),
        ("filters", format!("{:?}", old.filters), format!("{:?}", new.filters)),
        ("config (the audit service's settings)", format!("{:?}", old.audit), format!("{:?}", new.audit)),
        ("topicsSchemasDirectory", format!("{:?}", old.topics_schemas_dir), format!("{:?}", new.topics_schemas_dir)),
        ("topic schemas", format!("{:?}", old.custom_schema_sources), format!("{:?}", new.custom_schema_sources)),
    ];
    fields.into_iter().filter(|(_, a, b)| a != b).map(|(name, _, _)| name).collect()
}

/// SHA-256 of a component file, as the engine names versions.
fn file_hash(path: &std::path::Path) -> Result<String, String> {
    use sha2::{Digest, Sha256};
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read component {}: {e}", path.display()))?;
    Ok(hex::encode(Sha256::digest(&bytes)))
}

impl AuditService {
    /// Applies `config` to the running service (hot reload; see the module
    /// documentation of what is applied and how). Component files are read
    /// again too: a handler whose file changed is swapped even when the
    /// configuration did not change. Never fails the service: what cannot
    /// be applied is refused and reported, and the old version keeps
    /// running.
    pub fn reload(&self, config: Config) -> ReloadReport {
        let mut current = self.current.lock().unwrap_or_else(|e| e.into_inner());
        let mut report = ReloadReport::now();
        if !self.accepting.load(std::sync::atomic::Ordering::Acquire) {
            report.error = Some("the service is shutting down".into());
            return self.record(report);
        }
        let changed = needs_restart(&current, &config);
        if !changed.is_empty() {
            report.error = Some(format!(
                "{} changed: that needs a restart of the service; nothing was reloaded (handlers and their components reload live)",
                changed.join(", ")
            ));
            tracing::error!("{}", report.error.as_deref().unwrap_or_default());
            return self.record(report);
        }
        if let Some(h) = config.forgerock_handlers.iter().find(|h| h.enabled && h.builtin.is_none()) {
            report.error = Some(format!(
                "handler `{}`: class `{}` is recognised but not supported yet (it arrives with {}); nothing was reloaded",
                h.name,
                h.class.name(),
                h.class.planned_output()
            ));
            return self.record(report);
        }
        if let Some((h, message)) = config.forgerock_handlers.iter().filter(|h| h.enabled).find_map(|h| match &h.builtin {
            Some(crate::builtin::BuiltinSettings::Jms(s)) => s.unsupported().map(|m| (h, m)),
            _ => None,
        }) {
            report.error = Some(format!("handler `{}`: {message}; nothing was reloaded", h.name));
            return self.record(report);
        }
        let engine = match WaspEngine::global() {
            Ok(engine) => engine,
            Err(e) => {
                report.error = Some(e.to_string());
                return self.record(report);
            }
        };
        let wanted: Vec<Wanted<'_>> = config
            .handlers
            .iter()
            .filter(|h| h.enabled)
            .map(Wanted::Wasm)
            .chain(config.forgerock_handlers.iter().filter(|h| h.enabled).filter_map(|h| Some(Wanted::Builtin(h, h.builtin.as_ref()?))))
            .collect();
        let wanted_names: Vec<String> = wanted.iter().map(Wanted::name).collect();

        // Removed handlers first: they may hold files a new one opens.
        let gone: Vec<String> =
            self.handlers.read().unwrap().iter().filter(|e| !wanted_names.contains(&e.name)).map(|e| e.name.clone()).collect();
        for name in gone {
            self.remove_handler(&name);
            report.removed.push(name);
        }
        for want in &wanted {
            let name = want.name();
            let running = self
                .handlers
                .read()
                .unwrap()
                .iter()
                .find(|e| e.name == name)
                .map(|e| (e.spec.clone(), e.file_hash.clone(), e.component.clone()));
            match running {
                None => match self.add_handler(engine, &config, want) {
                    Ok(()) => report.added.push(name),
                    Err(reason) => report.refuse(&name, reason),
                },
                Some((spec, _, _)) if spec != want.spec() => match self.rebuild_handler(engine, &config, want) {
                    Ok(()) => report.restarted.push(name),
                    Err(reason) => report.refuse(&name, reason),
                },
                // The file is compared with what it held when last looked
                // at (not with the running version: a version deployed
                // since must not be undone by a reload).
                Some((_, seen, Some(component))) => match file_hash(&component) {
                    Ok(hash) if Some(&hash) == seen.as_ref() => {}
                    Ok(_) => match self.swap_component(engine, &config, &name, &component) {
                        Ok(()) => report.swapped.push(name),
                        Err(reason) => report.refuse(&name, reason),
                    },
                    Err(reason) => report.refuse(&name, reason),
                },
                Some(_) => {}
            }
        }
        // Topics follow the handlers' topics.
        *self.topics.write().unwrap() = config.known_topics();
        for (name, tenant) in &self.tenants {
            *tenant.topics.write().unwrap() = config.known_topics_for(Some(name));
        }
        // What is refused keeps running as configured before; the rest of
        // `config` now runs. The next reload compares with the handlers as
        // they run (their `spec`), so a refused change is tried again.
        *current = Arc::new(config);
        if report.changed() || !report.refused.is_empty() {
            tracing::info!(
                swapped = ?report.swapped,
                restarted = ?report.restarted,
                added = ?report.added,
                removed = ?report.removed,
                refused = report.refused.len(),
                "configuration reloaded"
            );
        }
        self.record(report)
    }

    /// The last reload's report (`None` before the first reload).
    pub fn last_reload(&self) -> Option<ReloadReport> {
        self.last_reload.lock().unwrap().clone()
    }

    /// Records a reload that failed before it could compare anything
    /// (e.g. the configuration file is invalid), for `last_reload`.
    pub fn record_failed_reload(&self, error: String) -> ReloadReport {
        tracing::error!("reload failed, nothing changed: {error}");
        self.record(ReloadReport::failed(error))
    }

    fn record(&self, report: ReloadReport) -> ReloadReport {
        // A handler's `reloadError` says why its last change was refused.
        for entry in self.handlers.read().unwrap().iter() {
            if let Some(refused) = report.refused.iter().find(|r| r.handler == entry.name) {
                entry.stats.set_reload_error(Some(refused.reason.clone()));
            } else if report.error.is_none() {
                entry.stats.set_reload_error(None);
            }
        }
        *self.last_reload.lock().unwrap() = Some(report.clone());
        report
    }

    /// Compiles `component` and hands it to the handler's thread, waiting
    /// for its answer.
    fn swap_component(&self, engine: &WaspEngine, config: &Config, name: &str, component: &std::path::Path) -> Result<(), String> {
        let loaded = engine.load(component, config.cache_dir.as_deref()).map_err(|e| e.to_string())?;
        let pre = engine.prepare_handler(&loaded, component).map_err(|e| e.to_string())?;
        let hash = pre.hash.clone();
        let (journal, cursor, controls) = self.entry(name).map_err(|e| e.to_string())?;
        let (reply, answer) = std::sync::mpsc::channel();
        // The file's version runs with the configured `config`.
        let init_config = crate::deploy::configured(config, name).map(|h| h.handler_config.clone()).ok();
        controls.lock().unwrap().push(Control::Swap(Box::new(pre), init_config, reply));
        journal.wake(cursor);
        match answer.recv_timeout(ANSWER_WITHIN) {
            Ok(Ok(position)) => {
                // Hot reload is one way of deploying: a version like
                // `wasp deploy`'s, announced the same way (recorded before
                // the summary shows the new version).
                self.record_file_version(&config.data_dir, name, component, position);
                if let Some(entry) = self.handlers.write().unwrap().iter_mut().find(|e| e.name == name) {
                    entry.version = hash.clone();
                    entry.file_hash = Some(hash);
                }
                Ok(())
            }
            Ok(Err(reason)) => Err(reason),
            Err(_) => {
                Err(format!("the handler's thread did not take the new version within {}s (it is in a long call)", ANSWER_WITHIN.as_secs()))
            }
        }
    }

    /// Builds the worker of `want` (component compiled, outputs opened,
    /// first instance `init`ed). `Err` if any step fails; nothing runs then.
    fn build_worker(&self, engine: &WaspEngine, config: &Config, want: &Wanted<'_>) -> Result<(Worker, HandlerEntry), String> {
        let (mut worker, entry, tenant) = match want {
            Wanted::Wasm(h) => {
                let quota = h.tenant.as_deref().and_then(|t| self.fuel_quotas.get(t).cloned());
                let (worker, entry) =
                    super::prepare(engine, config, h, &self.dead_letter_store, quota, super::Versions::Start).map_err(|e| e.to_string())?;
                (worker, entry, h.tenant.as_deref())
            }
            Wanted::Builtin(h, settings) => {
                let (worker, entry) = super::build::prepare_builtin(config, h, settings, &self.dead_letter_store);
                (worker, entry, h.tenant.as_deref())
            }
        };
        // The filters of the handler's stream, for built-in handlers too.
        let filters = super::prepare_filters(engine, config).map_err(|e| e.to_string())?;
        worker.filters = super::build::filter_stages(&filters, tenant);
        if let Some(why) = worker.disabled.take() {
            for sink in &mut worker.sinks {
                let _ = sink.close();
            }
            return Err(why.message);
        }
        Ok((worker, entry))
    }

    /// Starts a handler the running configuration did not have.
    fn add_handler(&self, engine: &WaspEngine, config: &Config, want: &Wanted<'_>) -> Result<(), String> {
        let (worker, mut entry) = self.build_worker(engine, config, want)?;
        let journal = self.journals[&entry.tenant].clone();
        entry.cursor = Some(journal.register_cursor(&entry.name));
        start_worker(&self.ticker, worker, &mut entry, journal);
        tracing::info!(handler = %entry.name, "handler added");
        self.handlers.write().unwrap().push(entry);
        Ok(())
    }

    /// Rebuilds a handler whose settings changed, on the same cursor. The
    /// new version is tried before the old one stops; the outputs are
    /// opened after it stopped (they may be the same files).
    fn rebuild_handler(&self, engine: &WaspEngine, config: &Config, want: &Wanted<'_>) -> Result<(), String> {
        let name = want.name();
        if let Wanted::Wasm(h) = want {
            // Compile and start it on the side: a version that cannot start
            // leaves the running one alone.
            let resolved = crate::deploy::resolve(config, h, false);
            let loaded = engine.load(&resolved.component, config.cache_dir.as_deref()).map_err(|e| e.to_string())?;
            let pre = engine.prepare_handler(&loaded, &resolved.component).map_err(|e| e.to_string())?;
            let specs: Arc<[crate::engine::OutputSpec]> = h
                .outputs
                .iter()
                .map(|(name, o)| crate::engine::OutputSpec { name: name.clone(), line_oriented: o.line_oriented() })
                .collect();
            pre.instantiate(&name, &h.budgets, specs, StateStore::new(h.budgets.state_bytes), &resolved.init_config)
                .map_err(|fault| format!("the new version failed to start ({}): {}", fault.kind.as_str(), fault.message))?;
        }
        let (journal, cursor, stats) = self.stop_handler(&name)?;
        let (mut worker, mut entry) = match self.build_worker(engine, config, want) {
            Ok(parts) => parts,
            Err(reason) => {
                // The old version is stopped and the new one cannot open
                // its outputs: the handler is disabled; its events wait in
                // the journal (the cursor is kept) for the next reload.
                stats.disable(format!("rebuilt by a reload, but cannot start: {reason}"));
                return Err(format!("stopped for the change, but the new version cannot start (its events wait in the journal): {reason}"));
            }
        };
        // The counters carry on across versions.
        worker.stats = stats.clone();
        entry.stats = stats.clone();
        stats.enable();
        entry.cursor = Some(cursor);
        start_worker(&self.ticker, worker, &mut entry, journal);
        tracing::info!(handler = %name, "handler rebuilt with its new settings");
        let mut handlers = self.handlers.write().unwrap();
        if let Some(slot) = handlers.iter_mut().find(|e| e.name == name) {
            *slot = entry;
        }
        Ok(())
    }

    /// Stops a handler's thread after its batch in hand; its cursor is
    /// kept. Returns its journal, cursor and counters.
    fn stop_handler(&self, name: &str) -> Result<Stopped, String> {
        let (journal, cursor, controls) = self.entry(name).map_err(|e| e.to_string())?;
        controls.lock().unwrap().push(Control::Stop);
        journal.wake(cursor);
        let (thread, stats) = {
            let mut handlers = self.handlers.write().unwrap();
            let entry = handlers.iter_mut().find(|e| e.name == name).ok_or_else(|| format!("no running handler `{name}`"))?;
            (entry.thread.take(), entry.stats.clone())
        };
        self.ticker.remove(name);
        if let Some(thread) = thread
            && thread.join().is_err()
        {
            tracing::error!(handler = name, "the handler's thread panicked");
        }
        Ok((journal, cursor, stats))
    }

    /// Stops a handler removed from the configuration and retires its
    /// cursor.
    fn remove_handler(&self, name: &str) {
        match self.stop_handler(name) {
            Ok((journal, cursor, _)) => journal.retire(cursor),
            Err(e) => tracing::error!(handler = name, "cannot stop the removed handler: {e}"),
        }
        self.handlers.write().unwrap().retain(|e| e.name != name);
        tracing::info!(handler = name, "handler removed");
    }
}
