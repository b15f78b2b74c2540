//! Deploys on the version store alone, without a running service (`wasp
//! deploy --config`, `wasp rollback --config`): the new live version runs
//! at the next start. Also the steps a running service shares: staging and
//! validating a component, choosing a rollback's target.

use std::path::PathBuf;

use super::{
    DeployError, DeployMode, DeployRequest, VersionRecord, VersionState, VersionStore, config_text, configured, new_record, validate,
};
use crate::config::{Config, WasmHandlerConfig};
use crate::engine::{HandlerPre, WaspEngine};

/// Writes `bytes` to a scratch file, validates it for `h` with
/// `init_config`, and only then keeps it in the store. Returns its SHA-256
/// and the prepared component.
pub fn stage_and_validate(
    engine: &WaspEngine,
    config: &Config,
    h: &WasmHandlerConfig,
    store: &VersionStore,
    bytes: &[u8],
    init_config: &str,
) -> Result<(String, HandlerPre), DeployError> {
    let handler = h.qualified_name();
    let scratch_dir = config.data_dir.join("versions").join(".incoming");
    std::fs::create_dir_all(&scratch_dir)
        .map_err(|e| DeployError::Storage { handler: handler.clone(), message: format!("cannot create {}: {e}", scratch_dir.display()) })?;
    let scratch: PathBuf = scratch_dir.join(format!("{}-{}.wasm", super::sha256_hex(bytes), std::process::id()));
    std::fs::write(&scratch, bytes)
        .map_err(|e| DeployError::Storage { handler: handler.clone(), message: format!("cannot write {}: {e}", scratch.display()) })?;
    // Errors name the component, not the scratch file.
    let validated = validate(engine, config, h, &scratch, init_config).map_err(|e| match e {
        DeployError::Refused { handler, message } => {
            DeployError::Refused { handler, message: message.replace(&scratch.display().to_string(), "the component") }
        }
        other => other,
    });
    let _ = std::fs::remove_file(&scratch);
    let pre = validated?;
    let sha = store.keep_component(bytes)?;
    Ok((sha, pre))
}

/// The version a rollback goes to: `version` if given (it must exist and
/// not be live); otherwise the running shadow or canary (withdrawn), or
/// else the newest retired version older than the live one.
pub fn rollback_target(store: &VersionStore, handler: &str, version: Option<u64>) -> Result<VersionRecord, DeployError> {
    let history = store.history()?;
    let invalid = |message: String| DeployError::Invalid { handler: handler.to_owned(), message };
    match version {
        Some(n) => {
            let v = history.iter().find(|v| v.version == n).ok_or_else(|| {
                invalid(format!(
                    "no version {n} (versions: {})",
                    history.iter().map(|v| v.version.to_string()).collect::<Vec<_>>().join(", ")
                ))
            })?;
            if v.state == VersionState::Live {
                return Err(invalid(format!("version {n} is already live")));
            }
            Ok(v.clone())
        }
        None => {
            if let Some(candidate) = history.iter().find(|v| matches!(v.state, VersionState::Shadow | VersionState::Canary)) {
                return Ok(candidate.clone());
            }
            let live = history.iter().find(|v| v.state == VersionState::Live).map_or(u64::MAX, |v| v.version);
            history
                .iter()
                .rev()
                .find(|v| v.state == VersionState::Retired && v.version < live)
                .or_else(|| history.iter().rev().find(|v| v.state == VersionState::Retired))
                .cloned()
                .ok_or_else(|| invalid("no earlier version to roll back to (`wasp versions` lists them)".into()))
        }
    }
}

/// Marks `version` live (the live one retired) at `position`.
pub fn make_live(store: &VersionStore, version: u64, position: Option<u64>) -> Result<(Option<VersionRecord>, VersionRecord), DeployError> {
    store.update(|history| {
        let mut before = None;
        for v in history.iter_mut().filter(|v| v.state == VersionState::Live) {
            v.state = VersionState::Retired;
            before = Some(v.clone());
        }
        let v = history
            .iter_mut()
            .find(|v| v.version == version)
            .ok_or_else(|| DeployError::Invalid { handler: store.handler().to_owned(), message: format!("no version {version}") })?;
        v.state = VersionState::Live;
        v.position = position;
        v.note = None;
        Ok((before, v.clone()))
    })
}

/// `wasp deploy --config` without a running service: validates and records
/// the version as live (it runs at the next start). Shadows and canaries
/// need the running service (`--url`).
pub fn deploy(config: &Config, request: &DeployRequest) -> Result<VersionRecord, DeployError> {
    let h = configured(config, &request.handler)?;
    if request.mode != DeployMode::Live {
        return Err(DeployError::Invalid {
            handler: request.handler.clone(),
            message:
                "a shadow or canary runs beside the live version in a running service: deploy it with --url to the sidecar (`wasp run`)"
                    .into(),
        });
    }
    let store = VersionStore::new(&config.data_dir, &request.handler)?;
    // The configured file is a version too (the one that ran so far).
    super::resolve(config, h, false);
    let engine = WaspEngine::global().map_err(|e| DeployError::Refused { handler: request.handler.clone(), message: e.to_string() })?;
    let (sha, _) = stage_and_validate(engine, config, h, &store, &request.component, &config_text(h, request.config.as_ref()))?;
    store.update(|history| {
        for v in history.iter_mut().filter(|v| v.state == VersionState::Live) {
            v.state = VersionState::Retired;
        }
        let record = new_record(history, &sha, request.config.clone(), &request.by, "deploy", VersionState::Live);
        history.push(record.clone());
        Ok(record)
    })
}

/// `wasp rollback --config` without a running service: validates the
/// target again and records it as live (it runs at the next start).
pub fn rollback(config: &Config, handler: &str, version: Option<u64>) -> Result<VersionRecord, DeployError> {
    let h = configured(config, handler)?;
    let store = VersionStore::new(&config.data_dir, handler)?;
    let target = rollback_target(&store, handler, version)?;
    if matches!(target.state, VersionState::Shadow | VersionState::Canary) {
        // Left over from a service that stopped: it runs nowhere.
        return store.update(|history| {
            let v = history.iter_mut().find(|v| v.version == target.version).expect("read above");
            v.state = VersionState::RolledBack;
            Ok(v.clone())
        });
    }
    let engine = WaspEngine::global().map_err(|e| DeployError::Refused { handler: handler.to_owned(), message: e.to_string() })?;
    validate(engine, config, h, &store.component_path(&target.component), &config_text(h, target.config.as_ref()))?;
    Ok(make_live(&store, target.version, None)?.1)
}
