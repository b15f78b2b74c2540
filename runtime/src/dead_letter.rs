//! The dead-letter store: every event a handler could not deliver (a fault,
//! a guest error, an output that would not take it, a handler that could
//! not start) is kept here with a structured fault record, per handler, in
//! the data directory, until it is replayed or removed.
//!
//! Layout: `<dataDirectory>/dead-letters/handlers/<handler>/<id>.json` for
//! top-level handlers and `…/dead-letters/tenants/<tenant>/<handler>/<id>.json`
//! for a tenant's. One pretty-printed JSON document per dead letter, so that
//! people can read them with any tool. Many letters written at once (a
//! quarantined handler's spill) go into one bundle, `<id>.bundle`, one
//! compact JSON letter per line, their ids `<id>+000000`, `<id>+000001`, …;
//! the ids of those removed since are appended to `<id>.removed` beside it.
//!
//! Invariants:
//! - a dead letter is durable before [`DeadLetterStore::put`] returns: it is
//!   written to a temporary file, `fsync`ed, renamed into place and the
//!   directory `fsync`ed — so the handler may acknowledge the event;
//! - ids are unique and sort in creation order (`<unix µs>-<counter>`), so
//!   listing and replay keep the original event order;
//! - a replayed dead letter is removed only after the event was delivered;
//!   one that fails again is rewritten in place with its new fault and
//!   `attempts + 1` (rename over the old file: never absent, never torn; a
//!   bundled one gets a file of its own, which `list` shows instead of its
//!   bundle line);
//! - a bundle is written whole (temporary file, sync, rename, directory
//!   sync) and never changed; it is deleted once every letter in it is in
//!   its `.removed` list.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::engine::{Fault, FaultKind};
use crate::event::HostEvent;

/// One event a handler did not deliver, and why.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct DeadLetter {
    /// Unique id, sortable by creation time.
    pub id: String,
    /// The handler (`tenant/name` for a tenant's handler).
    pub handler: String,
    /// The tenant, if any.
    pub tenant: Option<String>,
    /// SHA-256 of the component that failed (the handler's version).
    pub version: String,
    /// When it was (last) dead-lettered, RFC 3339 UTC.
    pub time: String,
    /// Delivery attempts so far (1 when first dead-lettered; replays add one).
    pub attempts: u32,
    /// The event as published.
    pub event: DeadEvent,
    /// Why it was not delivered.
    pub fault: FaultRecord,
}

/// The event of a dead letter.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct DeadEvent {
    /// The event's `_id`.
    pub id: String,
    /// Its topic.
    pub topic: String,
    /// Its journal sequence number when it failed.
    pub sequence: u64,
    /// The whole event document.
    pub document: serde_json::Value,
}

/// The structured fault of a dead letter.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct FaultRecord {
    /// `fuel`, `deadline`, `memory`, `trap`, `panic`, `guest-error`,
    /// `output-limit`, `log-limit`, `state-limit`, `init`, `output` or
    /// `quarantined`.
    pub kind: FaultKind,
    /// For people: the trap, the panic text (captured stderr), the guest's
    /// error, the output's IO error.
    pub message: String,
    /// For traps: wasmtime's trap code (`wasm trap: wasm 'unreachable'
    /// instruction executed`, `call stack exhausted`, …).
    pub trap_code: Option<String>,
    /// Fuel the failing call consumed.
    pub fuel_used: u64,
    /// Peak linear memory of the failing instance, in bytes.
    pub peak_memory: u64,
    /// Bytes cut from the end of the guest's `err` message, over its
    /// `errorPerEvent` budget (the message then ends with
    /// `… [truncated: N more bytes]`); absent when nothing was cut.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub truncated_bytes: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl FaultRecord {
    /// The record of a fault.
    pub fn from_fault(fault: &Fault) -> Self {
        FaultRecord {
            kind: fault.kind,
            message: fault.message.clone(),
            trap_code: fault.trap_code.clone(),
            fuel_used: fault.fuel_used,
            peak_memory: fault.peak_memory as u64,
            truncated_bytes: fault.truncated_bytes,
        }
    }

    /// The record of an `err` the guest returned for the event.
    pub fn guest_error(error: &crate::engine::GuestError) -> Self {
        FaultRecord { truncated_bytes: error.truncated_bytes, ..FaultRecord::plain(FaultKind::GuestError, error.message.clone()) }
    }

    /// A record without a call behind it (a guest error, an output failure).
    pub fn plain(kind: FaultKind, message: impl Into<String>) -> Self {
        FaultRecord { kind, message: message.into(), trap_code: None, fuel_used: 0, peak_memory: 0, truncated_bytes: 0 }
    }
}

impl DeadLetter {
    /// This dead letter after another failed attempt, by `version`.
    pub fn failed_again(&self, fault: FaultRecord, version: &str) -> DeadLetter {
        DeadLetter { version: version.to_owned(), time: now_rfc3339(), attempts: self.attempts + 1, fault, ..self.clone() }
    }

    /// Rebuilds the event for a replay (`Err` only if the file was edited
    /// into something that is no longer an event).
    pub fn host_event(&self) -> Result<HostEvent, crate::event::PublishError> {
        use crate::event::IntoEvent;
        let document = self.event.document.clone().into_document(usize::MAX)?;
        let mut event = HostEvent::from_document(&self.event.topic, document, usize::MAX)?;
        event.sequence = self.event.sequence;
        event.tenant = self.tenant.clone();
        Ok(event)
    }
}

/// Why the dead-letter store failed.
#[derive(Debug, thiserror::Error)]
pub enum DeadLetterError {
    /// Reading or writing the store failed.
    #[error("dead-letter store {path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The IO error.
        source: std::io::Error,
    },
    /// A file in the store is not a dead letter.
    #[error("dead letter {path} is not readable: {message}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// No dead letter has this id.
    #[error("no dead letter with id `{0}`")]
    NotFound(String),
}

/// The dead letters under one data directory.
#[derive(Debug, Clone)]
pub struct DeadLetterStore {
    root: PathBuf,
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

impl DeadLetterStore {
    /// The store of `data_dir` (created on first write).
    pub fn new(data_dir: &Path) -> Self {
        DeadLetterStore { root: data_dir.join("dead-letters") }
    }

    /// Where the store lives.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn handler_dir(&self, tenant: Option<&str>, name: &str) -> PathBuf {
        match tenant {
            Some(t) => self.root.join("tenants").join(t).join(name),
            None => self.root.join("handlers").join(name),
        }
    }

    /// A new dead letter for `event`, failed in `handler`.
    pub fn letter(handler: &HandlerRef<'_>, event: &HostEvent, fault: FaultRecord) -> DeadLetter {
        let micros = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_micros()).unwrap_or(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        DeadLetter {
            id: format!("{micros:016}-{n:06}-{}", std::process::id()),
            handler: handler.name.to_owned(),
            tenant: handler.tenant.map(str::to_owned),
            version: handler.version.to_owned(),
            time: now_rfc3339(),
            attempts: 1,
            event: DeadEvent {
                id: event.id.clone(),
                topic: event.topic.clone(),
                sequence: event.sequence,
                document: serde_json::from_str(&event.json).unwrap_or(serde_json::Value::String(event.json.clone())),
            },
            fault,
        }
    }

    /// Writes `letter` durably (replacing an earlier version of it).
    pub fn put(&self, letter: &DeadLetter) -> Result<(), DeadLetterError> {
        let (tenant, name) = split_handler(&letter.handler);
        let text = serde_json::to_vec_pretty(letter).expect("a dead letter serializes");
        write_durably(&self.handler_dir(tenant, name), &format!("{}.json", letter.id), &text)
    }

    /// Writes the dead letters of one handler (a quarantined handler's
    /// spill, its drain at shutdown) durably as one bundle: one file, one
    /// flush to disk, about the size of the events, instead of a file per
    /// letter. Their ids become `<first id>+<n>` (`n` from 000000), still
    /// unique and in creation order; each is listed, shown, replayed and
    /// removed like any other dead letter.
    pub fn put_many(&self, letters: &mut [DeadLetter]) -> Result<(), DeadLetterError> {
        let Some(first) = letters.first() else { return Ok(()) };
        let (tenant, name) = split_handler(&first.handler);
        let dir = self.handler_dir(tenant, name);
        let bundle = first.id.clone();
        let handler = first.handler.clone();
        let mut text = Vec::new();
        for (n, letter) in letters.iter_mut().enumerate() {
            assert_eq!(letter.handler, handler, "one handler per bundle");
            letter.id = format!("{bundle}{BUNDLE_SEPARATOR}{n:06}");
            serde_json::to_writer(&mut text, letter).expect("a dead letter serializes");
            text.push(b'\n');
        }
        write_durably(&dir, &format!("{bundle}.{BUNDLE_EXTENSION}"), &text)
    }

    /// Every dead letter, oldest first; only `handler`'s (`name` or
    /// `tenant/name`) when given.
    pub fn list(&self, handler: Option<&str>) -> Result<Vec<DeadLetter>, DeadLetterError> {
        let mut dirs = Vec::new();
        match handler {
            Some(h) => {
                let (tenant, name) = split_handler(h);
                dirs.push(self.handler_dir(tenant, name));
            }
            None => {
                for handler_dir in subdirs(&self.root.join("handlers"))? {
                    dirs.push(handler_dir);
                }
                for tenant_dir in subdirs(&self.root.join("tenants"))? {
                    dirs.extend(subdirs(&tenant_dir)?);
                }
            }
        }
        let mut letters = Vec::new();
        for dir in dirs {
            let entries = match std::fs::read_dir(&dir) {
                Ok(entries) => entries,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(source) => return Err(DeadLetterError::Io { path: dir, source }),
            };
            let mut bundles = Vec::new();
            for entry in entries {
                let path = entry.map_err(|source| DeadLetterError::Io { path: dir.clone(), source })?.path();
                if path.extension().is_some_and(|e| e == "json") {
                    letters.push(read_letter(&path)?);
                } else if path.extension().is_some_and(|e| e == BUNDLE_EXTENSION) {
                    bundles.push(path);
                }
            }
            // A bundled letter rewritten on its own (a replay that failed
            // again) is shown once, as rewritten.
            let single: std::collections::HashSet<String> = letters.iter().map(|l| l.id.clone()).collect();
            for path in bundles {
                let (left, all) = read_bundle(&path)?;
                if left.is_empty() && all > 0 {
                    // Every letter of it was removed: the bundle goes too.
                    let removed = path.with_extension(REMOVED_EXTENSION);
                    let _ = std::fs::remove_file(&path);
                    let _ = std::fs::remove_file(&removed);
                    continue;
                }
                letters.extend(left.into_iter().filter(|l| !single.contains(&l.id)));
            }
        }
        letters.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(letters)
    }

    /// The dead letter with this id.
    pub fn get(&self, id: &str) -> Result<DeadLetter, DeadLetterError> {
        self.list(None)?.into_iter().find(|l| l.id == id).ok_or_else(|| DeadLetterError::NotFound(id.to_owned()))
    }

    /// Removes a dead letter (after its event was delivered). A bundled
    /// one is marked removed in its bundle's `.removed` list (appended and
    /// synced); the bundle goes once all of its letters are removed.
    pub fn remove(&self, letter: &DeadLetter) -> Result<(), DeadLetterError> {
        let (tenant, name) = split_handler(&letter.handler);
        let dir = self.handler_dir(tenant, name);
        let path = dir.join(format!("{}.json", letter.id));
        if let Some((bundle, _)) = letter.id.split_once(BUNDLE_SEPARATOR) {
            use std::io::Write;
            match std::fs::remove_file(&path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(DeadLetterError::Io { path, source: e }),
                _ => {}
            }
            let removed = dir.join(format!("{bundle}.{REMOVED_EXTENSION}"));
            return std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&removed)
                .and_then(|mut f| f.write_all(format!("{}\n", letter.id).as_bytes()).and_then(|()| f.sync_data()))
                .map_err(|source| DeadLetterError::Io { path: removed, source });
        }
        std::fs::remove_file(&path).map_err(|source| DeadLetterError::Io { path: path.clone(), source })?;
        std::fs::File::open(&dir).and_then(|d| d.sync_all()).map_err(|source| DeadLetterError::Io { path: dir, source })
    }
}

/// Who a dead letter belongs to.
#[derive(Debug, Clone, Copy)]
pub struct HandlerRef<'a> {
    /// The handler's qualified name (`tenant/name` for a tenant's).
    pub name: &'a str,
    /// Its tenant.
    pub tenant: Option<&'a str>,
    /// Its component's SHA-256.
    pub version: &'a str,
}

fn split_handler(qualified: &str) -> (Option<&str>, &str) {
    match qualified.split_once('/') {
        Some((tenant, name)) => (Some(tenant), name),
        None => (None, qualified),
    }
}

fn subdirs(dir: &Path) -> Result<Vec<PathBuf>, DeadLetterError> {
    match std::fs::read_dir(dir) {
        Ok(entries) => {
            let mut dirs = Vec::new();
            for entry in entries {
                let path = entry.map_err(|source| DeadLetterError::Io { path: dir.to_owned(), source })?.path();
                if path.is_dir() {
                    dirs.push(path);
                }
            }
            dirs.sort();
            Ok(dirs)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(source) => Err(DeadLetterError::Io { path: dir.to_owned(), source }),
    }
}

/// Writes `bytes` as `dir/name` durably: to a temporary file, synced,
/// renamed into place, and the directory synced (so the file is never
/// absent once written, and never torn).
fn write_durably(dir: &Path, name: &str, bytes: &[u8]) -> Result<(), DeadLetterError> {
    use std::io::Write;
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| DeadLetterError::Io { path, source }
    };
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let path = dir.join(name);
    let tmp = dir.join(format!(".{name}.tmp"));
    {
        let mut file = std::fs::File::create(&tmp).map_err(io(&tmp))?;
        file.write_all(bytes).map_err(io(&tmp))?;
        file.sync_data().map_err(io(&tmp))?;
    }
    std::fs::rename(&tmp, &path).map_err(io(&path))?;
    std::fs::File::open(dir).and_then(|d| d.sync_all()).map_err(io(dir))
}

/// Separates a bundle's id from a letter's number in it.
const BUNDLE_SEPARATOR: char = '+';
/// A bundle of dead letters: one compact JSON letter per line.
const BUNDLE_EXTENSION: &str = "bundle";
/// Beside a bundle: the ids of its letters removed since, one per line.
const REMOVED_EXTENSION: &str = "removed";

/// The letters of a bundle not removed since, and how many it holds.
fn read_bundle(path: &Path) -> Result<(Vec<DeadLetter>, usize), DeadLetterError> {
    let io = |source| DeadLetterError::Io { path: path.to_owned(), source };
    let text = std::fs::read_to_string(path).map_err(io)?;
    let removed_path = path.with_extension(REMOVED_EXTENSION);
    let removed = match std::fs::read_to_string(&removed_path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(source) => return Err(DeadLetterError::Io { path: removed_path, source }),
    };
    let removed: std::collections::HashSet<&str> = removed.lines().collect();
    let mut left = Vec::new();
    let mut all = 0;
    for (n, line) in text.lines().enumerate() {
        all += 1;
        let letter: DeadLetter = serde_json::from_str(line)
            .map_err(|e| DeadLetterError::Corrupt { path: path.to_owned(), message: format!("line {}: {e}", n + 1) })?;
        if !removed.contains(letter.id.as_str()) {
            left.push(letter);
        }
    }
    Ok((left, all))
}

fn read_letter(path: &Path) -> Result<DeadLetter, DeadLetterError> {
    let text = std::fs::read(path).map_err(|source| DeadLetterError::Io { path: path.to_owned(), source })?;
    serde_json::from_slice(&text).map_err(|e| DeadLetterError::Corrupt { path: path.to_owned(), message: e.to_string() })
}

fn now_rfc3339() -> String {
    humantime::format_rfc3339_millis(SystemTime::now()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(id: &str, seq: u64) -> HostEvent {
        let mut e = HostEvent::from_document(
            "access",
            serde_json::json!({"_id": id, "timestamp": "2026-11-22T00:00:00Z", "x": 1}).as_object().unwrap().clone(),
            1 << 20,
        )
        .unwrap();
        e.sequence = seq;
        e
    }

    #[test]
    fn a_bundle_lists_replays_and_removes_like_single_letters() {
        let dir = tempfile::tempdir().unwrap();
        let store = DeadLetterStore::new(dir.path());
        let h = HandlerRef { name: "h", tenant: None, version: "v1" };
        let single = DeadLetterStore::letter(&h, &event("a", 1), FaultRecord::plain(FaultKind::Trap, "boom"));
        store.put(&single).unwrap();
        let mut bundle: Vec<DeadLetter> = (2..5)
            .map(|n| DeadLetterStore::letter(&h, &event(&format!("q{n}"), n), FaultRecord::plain(FaultKind::Quarantined, "waiting")))
            .collect();
        store.put_many(&mut bundle).unwrap();
        assert!(bundle[1].id.ends_with("+000001"), "{}", bundle[1].id);
        let files: Vec<String> = std::fs::read_dir(dir.path().join("dead-letters/handlers/h"))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(files.len(), 2, "one file for the single letter, one for the bundle: {files:?}");
        let listed = store.list(Some("h")).unwrap();
        assert_eq!(listed.iter().map(|l| l.event.id.as_str()).collect::<Vec<_>>(), ["a", "q2", "q3", "q4"], "in creation order");
        assert_eq!(store.get(&bundle[2].id).unwrap(), bundle[2]);
        // A replay that fails again rewrites one letter: shown once, as rewritten.
        let again = bundle[0].failed_again(FaultRecord::plain(FaultKind::Trap, "still"), "v2");
        store.put(&again).unwrap();
        let listed = store.list(Some("h")).unwrap();
        assert_eq!(listed.len(), 4);
        assert_eq!(store.get(&bundle[0].id).unwrap().attempts, 2);
        // Removing (delivered now) works for each; the bundle goes with its last letter.
        store.remove(&again).unwrap();
        store.remove(&bundle[1]).unwrap();
        assert_eq!(store.list(Some("h")).unwrap().iter().map(|l| l.event.id.as_str()).collect::<Vec<_>>(), ["a", "q4"]);
        store.remove(&bundle[2]).unwrap();
        assert_eq!(store.list(Some("h")).unwrap().len(), 1);
        let files: Vec<String> = std::fs::read_dir(dir.path().join("dead-letters/handlers/h"))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(files, [format!("{}.json", single.id)], "the emptied bundle and its list are gone");
    }

    #[test]
    fn put_list_get_remove_round_trip_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let store = DeadLetterStore::new(dir.path());
        let top = HandlerRef { name: "h", tenant: None, version: "abc" };
        let acme = HandlerRef { name: "acme/h", tenant: Some("acme"), version: "def" };
        let a = DeadLetterStore::letter(&top, &event("a", 1), FaultRecord::plain(FaultKind::Trap, "boom"));
        let b = DeadLetterStore::letter(&acme, &event("b", 2), FaultRecord::plain(FaultKind::Fuel, "spin"));
        let c = DeadLetterStore::letter(&top, &event("c", 3), FaultRecord::plain(FaultKind::GuestError, "no"));
        for l in [&a, &b, &c] {
            store.put(l).unwrap();
        }
        let all: Vec<_> = store.list(None).unwrap().into_iter().map(|l| l.event.id).collect();
        assert_eq!(all, ["a", "b", "c"]);
        let top_only: Vec<_> = store.list(Some("h")).unwrap().into_iter().map(|l| l.event.id).collect();
        assert_eq!(top_only, ["a", "c"]);
        let got = store.get(&b.id).unwrap();
        assert_eq!(got, b);
        assert_eq!(got.handler, "acme/h");
        let replayed = got.host_event().unwrap();
        assert_eq!(replayed.tenant.as_deref(), Some("acme"));
        assert_eq!((replayed.json, replayed.sequence), (event("b", 2).json, 2));
        store.remove(&a).unwrap();
        assert!(matches!(store.get(&a.id), Err(DeadLetterError::NotFound(_))));
        assert_eq!(store.list(Some("h")).unwrap().len(), 1);
    }

    #[test]
    fn a_corrupt_file_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let store = DeadLetterStore::new(dir.path());
        let handler_dir = store.root().join("handlers/h");
        std::fs::create_dir_all(&handler_dir).unwrap();
        std::fs::write(handler_dir.join("x.json"), b"{not json").unwrap();
        let err = store.list(None).unwrap_err().to_string();
        assert!(err.contains("x.json") && err.contains("not readable"), "{err}");
    }
}
