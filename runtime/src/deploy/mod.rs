//! Versioned deploys of WASM handlers: every component a handler runs is a
//! numbered *version* kept in the data directory ([`VersionStore`]) with the
//! handler `config` it runs with, who deployed it, when, and its state
//! (`live`, `shadow`, `canary`, `retired`, `rolled-back`).
//!
//! A new version is validated before anything changes ([`validate`]: the
//! component fits the handler world, and a scratch instance `init`s with
//! the version's config under the handler's budgets). It then goes live at
//! once, or runs as a *shadow* (it receives the live version's events; its
//! records go to `<dataDirectory>/shadow/…`, never to the outputs, and are
//! compared with the live ones record by record) or as a *canary* (a stable
//! share of the events, by a hash of `_id` or of a field, with automatic
//! rollback). The candidate runs on the live version's delivery thread and
//! cursor (see `delivery::candidate`), so promotion and rollback happen
//! between two batches at one journal position.
//!
//! Invariants:
//! - a version that does not validate changes nothing: neither the store's
//!   live version nor the running handler;
//! - when a version becomes live at journal position `S`, every event up
//!   to `S` was handled by the version before it and every event after `S`
//!   by it (`S` is recorded in the history and in the `config` event);
//! - each change of version is published as an event of topic `config`
//!   into the handler's stream (so a handler of the `config` topic — a
//!   tamper-evident JSON log, say — records it like any other event);
//! - versions survive restarts: at start the live version of the history
//!   runs, unless the configured component file holds bytes no version has
//!   yet (a component changed while the service was down: it becomes a new
//!   live version, deployed by `configuration file`).

#[doc(hidden)]
pub mod offline;
mod store;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

pub use store::{VersionStore, next_number, sha256_hex};

use crate::config::{Config, WasmHandlerConfig};
pub use crate::delivery::canary::{CanarySettings, NotAShare};
use crate::engine::{StateStore, WaspEngine};

/// Why a deploy, rollback or promotion was refused.
#[derive(Debug, thiserror::Error)]
pub enum DeployError {
    /// The handler is not a running (or configured) WASM handler.
    #[error("no WASM handler `{handler}` (handlers: {known})")]
    UnknownHandler {
        /// The name given.
        handler: String,
        /// The WASM handlers there are.
        known: String,
    },
    /// The new version does not validate; nothing changed.
    #[error("handler `{handler}`: version refused, the live version is untouched: {message}")]
    Refused {
        /// The handler.
        handler: String,
        /// Why (`wasp check`'s problem, the `init` failure, …).
        message: String,
    },
    /// The request itself is wrong (no such version, no shadow to promote,
    /// a bad canary share, …).
    #[error("handler `{handler}`: {message}")]
    Invalid {
        /// The handler.
        handler: String,
        /// What is wrong.
        message: String,
    },
    /// The version store could not be read or written.
    #[error("handler `{handler}`: the version store: {message}")]
    Storage {
        /// The handler.
        handler: String,
        /// What failed, with the file.
        message: String,
    },
    /// The handler's delivery thread did not take the change.
    #[error("handler `{handler}`: {message}")]
    NotApplied {
        /// The handler.
        handler: String,
        /// Why.
        message: String,
    },
}

/// Where a version stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum VersionState {
    /// It handles the events (at most one version).
    Live,
    /// It runs beside the live version on the same events; its records go
    /// to the shadow directory.
    Shadow,
    /// It handles a share of the events.
    Canary,
    /// It was live before another version.
    Retired,
    /// A shadow or canary that was withdrawn (by `wasp rollback`, or
    /// automatically for its fault rate or fuel).
    RolledBack,
}

impl VersionState {
    /// As `wasp versions` shows it.
    pub fn as_str(self) -> &'static str {
        match self {
            VersionState::Live => "live",
            VersionState::Shadow => "shadow",
            VersionState::Canary => "canary",
            VersionState::Retired => "retired",
            VersionState::RolledBack => "rolled-back",
        }
    }
}

/// One version in a handler's history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VersionRecord {
    /// Its number (1, 2, …; never reused).
    pub version: u64,
    /// Hex SHA-256 of the component (kept as `components/<sha256>.wasm`).
    pub component: String,
    /// The handler `config` object it runs with (`None`: the one in the
    /// configuration file).
    pub config: Option<Value>,
    /// When it was deployed (RFC 3339, UTC).
    pub deployed_at: String,
    /// Who deployed it: ``token `<name>` `` (the sidecar: the admin token's
    /// name, `adminToken` or `tokens[].name`), `cli (<user>)`,
    /// `configuration file` (found at start), `file watch` (hot reload).
    pub deployed_by: String,
    /// How: `deploy`, `shadow`, `canary`, `file`.
    pub source: String,
    /// Where it stands now.
    pub state: VersionState,
    /// The journal position of its last change to `live`: it handled the
    /// events after this sequence number (`None`: not yet live, or made live
    /// while the service was not running).
    pub position: Option<u64>,
    /// Why its state last changed, when not by request (an automatic
    /// rollback's reason).
    pub note: Option<String>,
}

/// How a new version starts.
#[derive(Debug, Clone, PartialEq)]
pub enum DeployMode {
    /// Live at once (between two batches).
    Live,
    /// Beside the live version, on the same events, outputs to the shadow
    /// directory, compared record by record.
    Shadow,
    /// On a share of the events.
    Canary(CanarySettings),
}

/// A new version, as `wasp deploy` asks for it.
#[derive(Debug, Clone)]
pub struct DeployRequest {
    /// The handler (`name` or `tenant/name`).
    pub handler: String,
    /// The component's bytes.
    pub component: Vec<u8>,
    /// The handler `config` object for it (`None`: the configured one).
    pub config: Option<Value>,
    /// How it starts.
    pub mode: DeployMode,
    /// Who asks (recorded).
    pub by: String,
}

/// The configured WASM handler called `handler`.
pub fn configured<'a>(config: &'a Config, handler: &str) -> Result<&'a WasmHandlerConfig, DeployError> {
    config.handlers.iter().find(|h| h.qualified_name() == handler).ok_or_else(|| DeployError::UnknownHandler {
        handler: handler.to_owned(),
        known: config.handlers.iter().map(WasmHandlerConfig::qualified_name).collect::<Vec<_>>().join(", "),
    })
}

/// The `init` text of a version: its own config, or the configured one.
pub fn config_text(h: &WasmHandlerConfig, config: Option<&Value>) -> String {
    config.map_or_else(|| h.handler_config.clone(), Value::to_string)
}

/// Validates a component kept in `store` for handler `h`: it must fit the
/// handler world (`wasp check`) and a scratch instance must `init` with
/// `config` under the handler's budgets. Returns the prepared component.
pub fn validate(
    engine: &WaspEngine,
    config: &Config,
    h: &WasmHandlerConfig,
    path: &Path,
    init_config: &str,
) -> Result<crate::engine::HandlerPre, DeployError> {
    let handler = h.qualified_name();
    let refused = |message: String| DeployError::Refused { handler: handler.clone(), message };
    let report = crate::engine::check::check(engine, path).map_err(|e| refused(e.to_string()))?;
    if !report.is_handler() || !report.fits() {
        let world = report.world.as_deref().unwrap_or("no WASP world");
        let problems = if report.problems.is_empty() { String::new() } else { format!(": {}", report.problems.join("; ")) };
        return Err(refused(format!("`wasp check` says it is not a handler component (it implements {world}){problems}")));
    }
    let loaded = engine.load(path, config.cache_dir.as_deref()).map_err(|e| refused(e.to_string()))?;
    let pre = engine.prepare_handler(&loaded, path).map_err(|e| refused(e.to_string()))?;
    let specs: std::sync::Arc<[crate::engine::OutputSpec]> =
        h.outputs.iter().map(|(name, o)| crate::engine::OutputSpec { name: name.clone(), line_oriented: o.line_oriented() }).collect();
    pre.instantiate(&handler, &h.budgets, specs, StateStore::new(h.budgets.state_bytes), init_config)
        .map_err(|fault| refused(format!("a scratch instance failed to start ({}): {}", fault.kind.as_str(), fault.message)))?;
    Ok(pre)
}

/// What a WASM handler runs at start: the component file, its `init`
/// config, the configured file's hash, and the version (if the store could
/// be used), plus the change to announce when a new file became live.
#[derive(Debug, Clone)]
pub struct Resolved {
    /// The component to load.
    pub component: PathBuf,
    /// Its `init` config.
    pub init_config: String,
    /// Hex SHA-256 of the configured component file.
    pub file_hash: Option<String>,
    /// The live version.
    pub version: Option<u64>,
    /// A version that became live at start (the configured file had new
    /// bytes) and the one it replaced.
    pub changed: Option<(Option<VersionRecord>, VersionRecord)>,
}

/// Decides what `h` runs at start (see the module's invariants) and records
/// a configured file with new bytes as a new live version. With `starting`
/// (the handler's delivery thread is about to start afresh), a shadow or
/// canary the history still lists is marked rolled back: it ran on the
/// thread that is gone. A store that cannot be used is logged and the
/// configured file runs.
pub fn resolve(config: &Config, h: &WasmHandlerConfig, starting: bool) -> Resolved {
    let plain =
        Resolved { component: h.component.clone(), init_config: h.handler_config.clone(), file_hash: None, version: None, changed: None };
    let Ok(bytes) = std::fs::read(&h.component) else {
        return plain; // the engine reports the unreadable file
    };
    let handler = h.qualified_name();
    let attempt = || -> Result<Resolved, DeployError> {
        let store = VersionStore::new(&config.data_dir, &handler)?;
        let file_hash = sha256_hex(&bytes);
        let mut history = store.history()?;
        if starting && history.iter().any(|v| matches!(v.state, VersionState::Shadow | VersionState::Canary)) {
            history = store.update(|history| {
                for v in history.iter_mut().filter(|v| matches!(v.state, VersionState::Shadow | VersionState::Canary)) {
                    v.state = VersionState::RolledBack;
                    v.note =
                        Some("withdrawn: the handler restarted (a shadow or canary runs only in the process it was deployed to)".into());
                }
                Ok(history.clone())
            })?;
        }
        let known = history.iter().any(|v| v.component == file_hash);
        if let (true, Some(live)) = (known, history.iter().find(|v| v.state == VersionState::Live)) {
            return Ok(Resolved {
                component: store.component_path(&live.component),
                init_config: config_text(h, live.config.as_ref()),
                file_hash: Some(file_hash),
                version: Some(live.version),
                changed: None,
            });
        }
        store.keep_component(&bytes)?;
        let (before, after) = store.update(|history| {
            let before = history.iter_mut().find(|v| v.state == VersionState::Live).map(|v| {
                v.state = VersionState::Retired;
                v.clone()
            });
            let record = new_record(history, &file_hash, None, "configuration file", "file", VersionState::Live);
            history.push(record.clone());
            Ok((before, record))
        })?;
        Ok(Resolved {
            component: store.component_path(&file_hash),
            init_config: h.handler_config.clone(),
            file_hash: Some(file_hash),
            version: Some(after.version),
            changed: before.is_some().then_some((before, after)),
        })
    };
    match attempt() {
        Ok(resolved) => resolved,
        Err(e) => {
            tracing::warn!(handler, "versions not recorded, the configured component runs: {e}");
            plain
        }
    }
}

/// A new version record (the next number, now).
pub fn new_record(
    history: &[VersionRecord],
    component: &str,
    config: Option<Value>,
    by: &str,
    source: &str,
    state: VersionState,
) -> VersionRecord {
    VersionRecord {
        version: next_number(history),
        component: component.to_owned(),
        config,
        deployed_at: now(),
        deployed_by: by.to_owned(),
        source: source.to_owned(),
        state,
        position: None,
        note: None,
    }
}

/// Now, RFC 3339 UTC with milliseconds.
pub fn now() -> String {
    humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string()
}

/// The `config` topic event announcing a change of `handler`'s versions,
/// in the shape of ForgeRock's config events: `objectId` names the
/// handler, `operation` the change (`deploy`, `shadow`, `canary`,
/// `promote`, `rollback`, `auto-rollback`), `before`/`after` the versions
/// (number, component, state, journal position), `runAs` who.
pub fn config_event(
    handler: &str,
    operation: &str,
    by: &str,
    before: Option<&VersionRecord>,
    after: &VersionRecord,
    note: Option<&str>,
) -> Value {
    let summary = |v: &VersionRecord| json!({"version": v.version, "component": v.component, "state": v.state.as_str(), "position": v.position, "config": v.config});
    let mut event = json!({
        "timestamp": now(),
        "transactionId": uuid::Uuid::new_v4().to_string(),
        "eventName": format!("WASP-HANDLER-{}", operation.to_ascii_uppercase()),
        "userId": by,
        "runAs": by,
        "objectId": format!("wasp/handlers/{handler}"),
        "operation": operation,
        "before": before.map(summary),
        "after": summary(after),
        "changedFields": ["/version", "/state"],
        "revision": after.version.to_string(),
    });
    if let Some(note) = note {
        event["after"]["note"] = json!(note);
    }
    event
}

/// Formats a history as `wasp versions` prints it.
pub fn format_history(handler: &str, history: &[VersionRecord]) -> String {
    use std::fmt::Write as _;
    let mut out = format!("{handler}: {} version(s)\n", history.len());
    let _ = writeln!(out, "{:>4}  {:<12} {:<14} {:<24} {:<22} {:>9}  source", "ver", "state", "component", "deployed at", "by", "position");
    for v in history {
        let position = v.position.map_or_else(|| "-".to_owned(), |p| p.to_string());
        let _ = writeln!(
            out,
            "{:>4}  {:<12} {:<14} {:<24} {:<22} {:>9}  {}{}{}",
            v.version,
            v.state.as_str(),
            &v.component[..12.min(v.component.len())],
            v.deployed_at,
            v.deployed_by,
            position,
            v.source,
            v.config.as_ref().map(|c| format!("  config {c}")).unwrap_or_default(),
            v.note.as_ref().map(|n| format!("  ({n})")).unwrap_or_default(),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(id: &str, user: &str) -> crate::event::HostEvent {
        let doc = json!({"_id": id, "userId": user});
        crate::event::HostEvent::from_document("access", doc.as_object().unwrap().clone(), 1 << 20).unwrap()
    }

    #[test]
    fn canary_shares_parse_and_route_a_stable_share() {
        assert_eq!(CanarySettings::parse_percent("10%"), Ok(10));
        assert_eq!(CanarySettings::parse_percent("25"), Ok(25));
        for bad in ["0%", "100%", "ten", ""] {
            assert_eq!(CanarySettings::parse_percent(bad), Err(super::NotAShare(bad.to_owned())), "{bad}");
        }
        let settings = CanarySettings { percent: 10, ..CanarySettings::default() };
        let routed = (0..10_000).filter(|n| settings.routes(&event(&format!("e{n}"), "u"))).count();
        assert!((800..1200).contains(&routed), "about 10%: {routed}");
        // The same event always goes the same way; by field, a user's events
        // all go the same way.
        assert_eq!(settings.routes(&event("e1", "u")), settings.routes(&event("e1", "v")));
        let by_user = CanarySettings { field: Some("/userId".into()), percent: 50, ..CanarySettings::default() };
        let first = by_user.routes(&event("a", "bjensen"));
        assert!((0..100).all(|n| by_user.routes(&event(&format!("x{n}"), "bjensen")) == first));
    }
}
