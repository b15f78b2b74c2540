//! Deploys on a running service: `deploy` (live, shadow, canary),
//! `promote`, `rollback`, the versions and the candidate's report. The
//! version store and validation are in [`crate::deploy`]; the switch itself
//! happens on the handler's delivery thread between two batches (see
//! `delivery::candidate`).
//!
//! Invariants:
//! - a change is applied under the lock that serialises reloads, so a
//!   deploy and a hot reload never interleave;
//! - the history is written only after the delivery thread took the
//!   change, with the journal position it answered: what the history says
//!   is live is what runs (a change the thread refuses leaves both alone);
//! - every change is announced by a `config` event in the handler's stream.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;

use super::AuditService;
use crate::delivery::candidate::{Candidate, CandidateMode, CandidateReport};
use crate::delivery::{Breaker, Control};
use crate::deploy::{
    DeployError, DeployMode, DeployRequest, VersionRecord, VersionState, VersionStore, config_event, config_text, configured, new_record,
    validate,
};
use crate::engine::{StateStore, WaspEngine};
use crate::journal::Journal;

/// How long a handler's thread may take to take a change (it does so
/// between batches).
const ANSWER_WITHIN: Duration = Duration::from_secs(60);

/// Appends `config` events to one stream's journal (from the service, or
/// from a delivery thread that rolls a canary back).
#[derive(Clone)]
pub(crate) struct ConfigPublisher {
    journal: Arc<dyn Journal>,
    tenant: Option<String>,
    max_event_bytes: usize,
}

impl ConfigPublisher {
    /// Appends one `config` event; a failure is logged (the change itself
    /// stands, and is in the version history).
    pub(crate) fn publish(&self, event: Value) {
        let Value::Object(document) = event else {
            return;
        };
        let appended = crate::event::HostEvent::from_document("config", document, self.max_event_bytes.max(64 * 1024))
            .map_err(|e| e.to_string())
            .and_then(|mut event| {
                event.tenant = self.tenant.clone();
                self.journal.append(event).map_err(|e| format!("{e:?}"))
            });
        if let Err(e) = appended {
            tracing::error!(tenant = ?self.tenant, "the `config` event of a version change could not be appended: {e}");
        }
    }
}

impl AuditService {
    /// The handler's version store. `data_dir` comes from the caller's
    /// configuration (a caller holding the reload lock cannot ask
    /// [`AuditService::config`]).
    fn store(&self, data_dir: &std::path::Path, handler: &str) -> Result<VersionStore, DeployError> {
        VersionStore::new(data_dir, handler)
    }

    fn publisher(&self, handler: &str) -> Result<ConfigPublisher, DeployError> {
        let handlers = self.handlers.read().unwrap();
        let entry = handlers.iter().find(|e| e.name == handler && e.component.is_some()).ok_or_else(|| self.unknown(handler))?;
        Ok(ConfigPublisher {
            journal: self.journals[&entry.tenant].clone(),
            tenant: entry.tenant.clone(),
            max_event_bytes: self.pipeline.max_event_bytes(),
        })
    }

    fn unknown(&self, handler: &str) -> DeployError {
        DeployError::UnknownHandler {
            handler: handler.to_owned(),
            known: self
                .handlers
                .read()
                .unwrap()
                .iter()
                .filter(|e| e.component.is_some())
                .map(|e| e.name.clone())
                .collect::<Vec<_>>()
                .join(", "),
        }
    }

    /// Sends a control to the handler's thread and waits for its answer
    /// (a journal position).
    fn control(
        &self,
        handler: &str,
        make: impl FnOnce(std::sync::mpsc::Sender<Result<u64, String>>) -> Control,
    ) -> Result<u64, DeployError> {
        if !self.accepting.load(std::sync::atomic::Ordering::Acquire) {
            return Err(DeployError::NotApplied { handler: handler.to_owned(), message: "the service is shutting down".into() });
        }
        let (journal, cursor, controls) = self.entry(handler).map_err(|_| self.unknown(handler))?;
        let (reply, answer) = std::sync::mpsc::channel();
        controls.lock().unwrap().push(make(reply));
        journal.wake(cursor);
        let not_applied = |message: String| DeployError::NotApplied { handler: handler.to_owned(), message };
        match answer.recv_timeout(ANSWER_WITHIN) {
            Ok(Ok(position)) => Ok(position),
            Ok(Err(message)) => Err(not_applied(message)),
            Err(_) => Err(not_applied(format!(
                "the handler's thread did not take the change within {}s (it is in a long call)",
                ANSWER_WITHIN.as_secs()
            ))),
        }
    }

    fn set_running(&self, handler: &str, hash: Option<&str>, version: Option<u64>, report: Option<Option<Arc<Mutex<CandidateReport>>>>) {
        if let Some(entry) = self.handlers.write().unwrap().iter_mut().find(|e| e.name == handler) {
            if let Some(hash) = hash {
                entry.version = hash.to_owned();
            }
            if version.is_some() {
                entry.live_version = version;
            }
            if let Some(report) = report {
                entry.candidate = report;
            }
        }
    }

    /// Deploys a new version of a running WASM handler: validates it (it
    /// fits the handler world; a scratch instance `init`s with its config),
    /// keeps it in the version store, and starts it live, as a shadow or as
    /// a canary, between two batches. Refused versions change nothing.
    pub fn deploy(&self, request: DeployRequest) -> Result<VersionRecord, DeployError> {
        let current = self.current.lock().unwrap_or_else(|e| e.into_inner());
        let handler = request.handler.clone();
        let h = configured(&current, &handler)?.clone();
        let publisher = self.publisher(&handler)?;
        let store = self.store(&current.data_dir, &handler)?;
        let engine = WaspEngine::global().map_err(|e| DeployError::Refused { handler: handler.clone(), message: e.to_string() })?;
        let init_config = config_text(&h, request.config.as_ref());
        let (sha, pre) = crate::deploy::offline::stage_and_validate(engine, &current, &h, &store, &request.component, &init_config)?;
        let live_number = store.live()?.map(|v| v.version);
        let (operation, position) = match &request.mode {
            DeployMode::Live => ("deploy", self.control(&handler, |reply| Control::Swap(Box::new(pre), Some(init_config.clone()), reply))?),
            mode => {
                let number = crate::deploy::next_number(&store.history()?);
                let report = Arc::new(Mutex::new(CandidateReport {
                    handler: handler.clone(),
                    mode: if matches!(mode, DeployMode::Shadow) { "shadow" } else { "canary" }.into(),
                    version: number,
                    live_version: live_number,
                    state: "running".into(),
                    ..Default::default()
                }));
                let candidate_mode = match mode {
                    DeployMode::Canary(settings) => CandidateMode::Canary(settings.clone()),
                    _ => {
                        let dir = shadow_dir(&current.data_dir, &handler, number);
                        report.lock().unwrap().shadow_directory = Some(dir.display().to_string());
                        CandidateMode::Shadow { dir }
                    }
                };
                let on_rollback =
                    matches!(mode, DeployMode::Canary(_)).then(|| rollback_hook(store.clone(), publisher.clone(), handler.clone(), number));
                let candidate = Candidate {
                    version: number,
                    pre: Some(pre),
                    hash: sha.clone(),
                    config: init_config.clone(),
                    state: StateStore::new(h.budgets.state_bytes),
                    instance: None,
                    breaker: Breaker::new(crate::config::BreakerConfig {
                        failures: 0,
                        backoff: Duration::from_secs(1),
                        max_backoff: Duration::from_secs(1),
                    }),
                    mode: candidate_mode,
                    report: report.clone(),
                    on_rollback,
                };
                let position = self.control(&handler, |reply| Control::Candidate(Box::new(candidate), reply))?;
                self.set_running(&handler, None, None, Some(Some(report)));
                (if matches!(mode, DeployMode::Shadow) { "shadow" } else { "canary" }, position)
            }
        };
        let (before, after) = store.update(|history| {
            let state = match request.mode {
                DeployMode::Live => VersionState::Live,
                DeployMode::Shadow => VersionState::Shadow,
                DeployMode::Canary(_) => VersionState::Canary,
            };
            let mut before = None;
            for v in history.iter_mut() {
                let replaced = match state {
                    VersionState::Live => v.state == VersionState::Live,
                    _ => matches!(v.state, VersionState::Shadow | VersionState::Canary),
                };
                if replaced {
                    v.state = if state == VersionState::Live { VersionState::Retired } else { VersionState::RolledBack };
                    before = Some(v.clone());
                }
            }
            if before.is_none() {
                before = history.iter().find(|v| v.state == VersionState::Live).cloned();
            }
            let mut record = new_record(history, &sha, request.config.clone(), &request.by, operation, state);
            record.position = Some(position);
            history.push(record.clone());
            Ok((before, record))
        })?;
        if matches!(request.mode, DeployMode::Live) {
            self.set_running(&handler, Some(&sha), Some(after.version), None);
        }
        tracing::info!(handler, version = after.version, position, by = %request.by, "new version started ({operation})");
        publisher.publish(config_event(&handler, operation, &request.by, before.as_ref(), &after, None));
        Ok(after)
    }

    /// Makes the running shadow or canary the live version, between two
    /// batches: the version before it handled the events up to the
    /// returned record's `position`, it handles those after.
    pub fn promote(&self, handler: &str, by: &str) -> Result<VersionRecord, DeployError> {
        let current = self.current.lock().unwrap_or_else(|e| e.into_inner());
        let publisher = self.publisher(handler)?;
        let store = self.store(&current.data_dir, handler)?;
        let Some(candidate) = store.history()?.into_iter().find(|v| matches!(v.state, VersionState::Shadow | VersionState::Canary)) else {
            return Err(DeployError::Invalid {
                handler: handler.to_owned(),
                message: "no shadow or canary to promote (`wasp versions` lists them)".into(),
            });
        };
        let position = self.control(handler, Control::Promote)?;
        let (before, after) = store.update(|history| {
            let mut before = None;
            for v in history.iter_mut() {
                if v.state == VersionState::Live {
                    v.state = VersionState::Retired;
                    before = Some(v.clone());
                }
            }
            let v = history.iter_mut().find(|v| v.version == candidate.version).expect("read above, under the service's lock");
            v.state = VersionState::Live;
            v.position = Some(position);
            Ok((before, v.clone()))
        })?;
        self.set_running(handler, Some(&after.component), Some(after.version), None);
        tracing::info!(handler, version = after.version, position, by, "version promoted");
        publisher.publish(config_event(handler, "promote", by, before.as_ref(), &after, None));
        Ok(after)
    }

    /// Rolls back: without `version`, withdraws the running shadow or
    /// canary, or else makes the version live before the current one live
    /// again; with `version`, makes that version live (or withdraws it if
    /// it is the shadow or canary). The old version is validated again
    /// (`init` in a scratch instance) before anything changes.
    pub fn rollback(&self, handler: &str, version: Option<u64>, by: &str) -> Result<VersionRecord, DeployError> {
        let current = self.current.lock().unwrap_or_else(|e| e.into_inner());
        let h = configured(&current, handler)?.clone();
        let publisher = self.publisher(handler)?;
        let store = self.store(&current.data_dir, handler)?;
        let target = crate::deploy::offline::rollback_target(&store, handler, version)?;
        if matches!(target.state, VersionState::Shadow | VersionState::Canary) {
            let position = self.control(handler, Control::Withdraw)?;
            let after = store.update(|history| {
                let v = history.iter_mut().find(|v| v.version == target.version).expect("read above");
                v.state = VersionState::RolledBack;
                v.position = Some(position);
                Ok(v.clone())
            })?;
            if let Some(report) = self.handlers.read().unwrap().iter().find(|e| e.name == handler).and_then(|e| e.candidate.clone()) {
                report.lock().unwrap().state = "rolled-back".into();
            }
            publisher.publish(config_event(handler, "rollback", by, Some(&target), &after, None));
            return Ok(after);
        }
        let engine = WaspEngine::global().map_err(|e| DeployError::Refused { handler: handler.to_owned(), message: e.to_string() })?;
        let init_config = config_text(&h, target.config.as_ref());
        let pre = validate(engine, &current, &h, &store.component_path(&target.component), &init_config)?;
        let position = self.control(handler, |reply| Control::Swap(Box::new(pre), Some(init_config.clone()), reply))?;
        let (before, after) = crate::deploy::offline::make_live(&store, target.version, Some(position))?;
        self.set_running(handler, Some(&after.component), Some(after.version), None);
        tracing::info!(handler, version = after.version, position, by, "rolled back");
        publisher.publish(config_event(handler, "rollback", by, before.as_ref(), &after, None));
        Ok(after)
    }

    /// A handler's versions, oldest first.
    pub fn versions(&self, handler: &str) -> Result<Vec<VersionRecord>, DeployError> {
        self.publisher(handler)?;
        self.store(&self.config().data_dir, handler)?.history()
    }

    /// What the handler's last shadow or canary did (`None`: it never had
    /// one since the service started).
    pub fn candidate_report(&self, handler: &str) -> Result<Option<CandidateReport>, DeployError> {
        self.publisher(handler)?;
        let handlers = self.handlers.read().unwrap();
        Ok(handlers.iter().find(|e| e.name == handler).and_then(|e| e.candidate.as_ref()).map(|r| r.lock().unwrap().clone()))
    }

    /// Every handler's last shadow or canary report (for `/metrics`).
    pub fn candidate_reports(&self) -> Vec<CandidateReport> {
        self.handlers.read().unwrap().iter().filter_map(|e| e.candidate.as_ref()).map(|r| r.lock().unwrap().clone()).collect()
    }

    /// Records the component a hot reload found in the configured file as
    /// a new live version (by `file watch`) and announces it. The swap
    /// itself was done by the caller at `position`.
    pub(super) fn record_file_version(&self, data_dir: &std::path::Path, handler: &str, component: &std::path::Path, position: u64) {
        let recorded = (|| -> Result<(Option<VersionRecord>, VersionRecord), DeployError> {
            let bytes = std::fs::read(component).map_err(|e| DeployError::Storage {
                handler: handler.to_owned(),
                message: format!("cannot read {}: {e}", component.display()),
            })?;
            let store = self.store(data_dir, handler)?;
            let sha = store.keep_component(&bytes)?;
            store.update(|history| {
                let before = history.iter_mut().find(|v| v.state == VersionState::Live).map(|v| {
                    v.state = VersionState::Retired;
                    v.clone()
                });
                let mut record = new_record(history, &sha, None, "file watch", "file", VersionState::Live);
                record.position = Some(position);
                history.push(record.clone());
                Ok((before, record))
            })
        })();
        match recorded {
            Ok((before, after)) => {
                self.set_running(handler, None, Some(after.version), None);
                if let Ok(publisher) = self.publisher(handler) {
                    publisher.publish(config_event(handler, "deploy", "file watch", before.as_ref(), &after, None));
                }
            }
            Err(e) => tracing::error!(handler, "the reloaded component runs but is not in the version history: {e}"),
        }
    }

    /// Announces the versions that became live at start (a configured file
    /// with new bytes).
    pub(super) fn announce_start_changes(&self) {
        let changes: Vec<(String, Option<VersionRecord>, VersionRecord)> = self
            .handlers
            .write()
            .unwrap()
            .iter_mut()
            .filter_map(|h| h.start_change.take().map(|(before, after)| (h.name.clone(), before, after)))
            .collect();
        for (handler, before, after) in changes {
            if let Ok(publisher) = self.publisher(&handler) {
                publisher.publish(config_event(&handler, "deploy", "configuration file", before.as_ref(), &after, None));
            }
        }
    }
}

/// `<dataDirectory>/shadow/<handler>/v<N>`: where a shadow's records go.
fn shadow_dir(data_dir: &std::path::Path, handler: &str, version: u64) -> std::path::PathBuf {
    let mut dir = data_dir.join("shadow");
    for part in handler.split('/') {
        dir.push(part);
    }
    dir.join(format!("v{version}"))
}

/// What a canary's delivery thread calls when it rolls the canary back.
fn rollback_hook(
    store: VersionStore,
    publisher: ConfigPublisher,
    handler: String,
    version: u64,
) -> crate::delivery::candidate::RollbackHook {
    Box::new(move |reason: String, position: u64| {
        let updated = store.update(|history| {
            let v = history.iter_mut().find(|v| v.version == version).ok_or_else(|| DeployError::Invalid {
                handler: handler.clone(),
                message: format!("version {version} is not in the history"),
            })?;
            let before = v.clone();
            v.state = VersionState::RolledBack;
            v.position = Some(position);
            v.note = Some(format!("rolled back automatically: {reason}"));
            Ok((before, v.clone()))
        });
        match updated {
            Ok((before, after)) => {
                publisher.publish(config_event(&handler, "auto-rollback", "wasp (canary thresholds)", Some(&before), &after, Some(&reason)))
            }
            Err(e) => tracing::error!(handler, "the canary was rolled back but its history could not be updated: {e}"),
        }
    })
}
