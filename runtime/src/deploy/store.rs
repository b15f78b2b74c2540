//! The version store of one handler, on disk under the data directory:
//!
//! ```text
//! <dataDirectory>/versions/handlers/<name>/            (a top-level handler)
//! <dataDirectory>/versions/tenants/<tenant>/<name>/    (a tenant's)
//!     components/<sha256>.wasm    every component ever deployed, by content
//!     history.json                every version: number, component, config,
//!                                 when, who, state, journal position
//! ```
//!
//! Invariants:
//! - a component file is written under a temporary name and renamed into
//!   place, so `components/<sha256>.wasm` always holds exactly those bytes;
//! - `history.json` is replaced whole (written, synced, renamed), under a
//!   process-wide lock, so a reader sees the old or the new history, never
//!   a mix;
//! - at most one version is `live`, at most one is `shadow` or `canary`;
//! - version numbers only grow; a rollback makes an old number live again
//!   rather than copying it.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use sha2::{Digest, Sha256};

use super::{DeployError, VersionRecord, VersionState};

/// Serialises every read-modify-write of a history in this process.
static LOCK: Mutex<()> = Mutex::new(());

/// One handler's versions on disk.
#[derive(Debug, Clone)]
pub struct VersionStore {
    handler: String,
    dir: PathBuf,
}

/// Hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

impl VersionStore {
    /// The store of `handler` (`name` or `tenant/name`) under `data_dir`.
    /// Nothing is read or created yet.
    pub fn new(data_dir: &Path, handler: &str) -> Result<VersionStore, DeployError> {
        let bad = |why: &str| DeployError::Invalid { handler: handler.to_owned(), message: format!("not a handler name: {why}") };
        let parts: Vec<&str> = handler.split('/').collect();
        if parts.iter().any(|p| p.is_empty() || *p == "." || *p == ".." || p.contains('\\')) {
            return Err(bad("empty, `.` or `..` parts"));
        }
        let dir = match parts.as_slice() {
            [name] => data_dir.join("versions").join("handlers").join(name),
            [tenant, name] => data_dir.join("versions").join("tenants").join(tenant).join(name),
            _ => return Err(bad("expected `name` or `tenant/name`")),
        };
        Ok(VersionStore { handler: handler.to_owned(), dir })
    }

    /// The handler.
    pub fn handler(&self) -> &str {
        &self.handler
    }

    /// Where the component with this SHA-256 is kept.
    pub fn component_path(&self, sha256: &str) -> PathBuf {
        self.dir.join("components").join(format!("{sha256}.wasm"))
    }

    fn storage(&self, what: &str, path: &Path, e: std::io::Error) -> DeployError {
        DeployError::Storage { handler: self.handler.clone(), message: format!("{what} {}: {e}", path.display()) }
    }

    /// Keeps `bytes` as `components/<sha256>.wasm` (once: the name is the
    /// content) and returns the SHA-256.
    pub fn keep_component(&self, bytes: &[u8]) -> Result<String, DeployError> {
        let sha = sha256_hex(bytes);
        let path = self.component_path(&sha);
        if std::fs::metadata(&path).is_ok_and(|m| m.len() == bytes.len() as u64) {
            return Ok(sha);
        }
        let dir = self.dir.join("components");
        std::fs::create_dir_all(&dir).map_err(|e| self.storage("cannot create", &dir, e))?;
        let tmp = dir.join(format!(".{sha}.{}.tmp", std::process::id()));
        write_synced(&tmp, bytes).map_err(|e| self.storage("cannot write", &tmp, e))?;
        std::fs::rename(&tmp, &path).map_err(|e| self.storage("cannot rename into", &path, e))?;
        Ok(sha)
    }

    /// Every version, oldest first (empty before the first).
    pub fn history(&self) -> Result<Vec<VersionRecord>, DeployError> {
        let _guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());
        self.read()
    }

    fn read(&self) -> Result<Vec<VersionRecord>, DeployError> {
        let path = self.dir.join("history.json");
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| DeployError::Storage {
                handler: self.handler.clone(),
                message: format!("{} is not a version history: {e}", path.display()),
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
            Err(e) => Err(self.storage("cannot read", &path, e)),
        }
    }

    /// Changes the history under the lock: `change` sees every version and
    /// may edit or append; what it returns is returned once the new history
    /// is on disk. An `Err` from `change` leaves the history untouched.
    pub fn update<R>(&self, change: impl FnOnce(&mut Vec<VersionRecord>) -> Result<R, DeployError>) -> Result<R, DeployError> {
        let _guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());
        let mut history = self.read()?;
        let result = change(&mut history)?;
        std::fs::create_dir_all(&self.dir).map_err(|e| self.storage("cannot create", &self.dir, e))?;
        let path = self.dir.join("history.json");
        let tmp = self.dir.join(format!(".history.{}.tmp", std::process::id()));
        let text = serde_json::to_vec_pretty(&history).expect("a history serialises");
        write_synced(&tmp, &text).map_err(|e| self.storage("cannot write", &tmp, e))?;
        std::fs::rename(&tmp, &path).map_err(|e| self.storage("cannot rename into", &path, e))?;
        Ok(result)
    }

    /// The live version, if any.
    pub fn live(&self) -> Result<Option<VersionRecord>, DeployError> {
        Ok(self.history()?.into_iter().find(|v| v.state == VersionState::Live))
    }
}

/// The next version number of `history`.
pub fn next_number(history: &[VersionRecord]) -> u64 {
    history.iter().map(|v| v.version).max().unwrap_or(0) + 1
}

fn write_synced(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut file = std::fs::File::create(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(version: u64, state: VersionState) -> VersionRecord {
        VersionRecord {
            version,
            component: "ab".into(),
            config: None,
            deployed_at: "2026-01-01T00:00:00Z".into(),
            deployed_by: "test".into(),
            source: "deploy".into(),
            state,
            position: None,
            note: None,
        }
    }

    #[test]
    fn histories_survive_a_new_store_and_components_are_kept_by_content() {
        let dir = tempfile::tempdir().unwrap();
        let store = VersionStore::new(dir.path(), "acme/p").unwrap();
        assert!(store.history().unwrap().is_empty());
        let sha = store.keep_component(b"bytes").unwrap();
        assert_eq!(sha, sha256_hex(b"bytes"));
        assert_eq!(std::fs::read(store.component_path(&sha)).unwrap(), b"bytes");
        assert!(store.component_path(&sha).starts_with(dir.path().join("versions/tenants/acme/p")));
        for state in [VersionState::Live, VersionState::Shadow] {
            store
                .update(|h| {
                    h.push(record(next_number(h), state));
                    Ok(())
                })
                .unwrap();
        }
        let again = VersionStore::new(dir.path(), "acme/p").unwrap();
        let history = again.history().unwrap();
        assert_eq!(history.iter().map(|v| v.version).collect::<Vec<_>>(), [1, 2]);
        assert_eq!(again.live().unwrap().unwrap().version, 1);
        // A refused change leaves the history as it was.
        let refused: Result<(), _> = again.update(|h| {
            h.clear();
            Err(DeployError::Invalid { handler: "acme/p".into(), message: "no".into() })
        });
        assert!(refused.is_err());
        assert_eq!(again.history().unwrap().len(), 2);
    }

    #[test]
    fn names_cannot_leave_the_versions_directory() {
        let dir = tempfile::tempdir().unwrap();
        for bad in ["..", "a/../b", "", "a/b/c", "a\\b"] {
            assert!(VersionStore::new(dir.path(), bad).is_err(), "{bad}");
        }
    }
}
