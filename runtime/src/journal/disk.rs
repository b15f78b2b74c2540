//! The durable journal: the window of `window.rs` over a segment log
//! (`segment.rs`) and one cursor file per reader, in one directory per
//! stream (`<dataDirectory>/journal/default`, `…/journal/tenants/<tenant>`).
//!
//! Invariants:
//! - an event is in the segment log (`process`: written to the operating
//!   system; `fsync`: flushed, before `wait_durable` returns) before
//!   `publish` returns its receipt;
//! - a cursor file holds the highest sequence its handler acknowledged,
//!   replaced atomically (temporary file + rename), so after a crash a
//!   handler resumes after the last event it acknowledged: at-least-once;
//! - a segment is deleted only when every cursor has acknowledged all of
//!   its records (faulted events are in the dead-letter store before their
//!   acknowledgement);
//! - an event the `drop-oldest` policy drops for a handler leaves a gap
//!   record in `gaps.ndjson` (`{"handler", "sequence", "time"}`, appended)
//!   before the drop is acknowledged, so integrity checks can show it;
//! - on open, a torn or corrupt tail of the last segment (a record cut by a
//!   crash) is truncated; it was never acknowledged to a publisher.

use std::collections::{BTreeMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::segment::SegmentLog;
use super::{Backing, JournalError, Window};
use super::{Durability, JournalConfig};
use crate::event::{HostEvent, IntoEvent};

/// A durable journal.
pub type DiskJournal = Window<DiskBacking>;

/// The disk side of a durable journal.
pub struct DiskBacking {
    log: SegmentLog,
    gaps: PathBuf,
    cursors: PathBuf,
    fsync: bool,
}

/// One event as stored in a segment.
#[derive(Serialize, Deserialize)]
struct Stored<'a> {
    #[serde(rename = "t", default, skip_serializing_if = "Option::is_none")]
    tenant: Option<std::borrow::Cow<'a, str>>,
    #[serde(rename = "p")]
    topic: std::borrow::Cow<'a, str>,
    #[serde(rename = "e")]
    json: std::borrow::Cow<'a, str>,
}

/// Why a durable journal could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// The directory or a cursor file could not be read.
    #[error("journal {path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The IO error.
        source: std::io::Error,
    },
    /// The segment log could not be opened.
    #[error("journal {path}: {message}")]
    Log {
        /// The directory.
        path: PathBuf,
        /// What is wrong (names the file and offset).
        message: String,
    },
}

/// Opens (creating) the durable journal in `dir`: recovers the events no
/// reader has acknowledged and the readers' positions.
pub fn open(dir: &Path, config: &JournalConfig) -> Result<DiskJournal, OpenError> {
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| OpenError::Io { path, source }
    };
    let cursors_dir = dir.join("cursors");
    std::fs::create_dir_all(&cursors_dir).map_err(io(&cursors_dir))?;
    let mut resume = BTreeMap::new();
    for entry in std::fs::read_dir(&cursors_dir).map_err(io(&cursors_dir))? {
        let path = entry.map_err(io(&cursors_dir))?.path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()).and_then(|n| n.strip_suffix(".cursor")) else {
            continue;
        };
        let text = std::fs::read_to_string(&path).map_err(io(&path))?;
        match text.trim().parse::<u64>() {
            Ok(acked) => {
                resume.insert(name.replace('~', "/"), acked);
            }
            Err(_) => {
                tracing::warn!(file = %path.display(), "ignoring an unreadable cursor file (its handler starts with what the journal holds)")
            }
        }
    }
    let from = resume.values().copied().min().unwrap_or(0);
    let log_dir = dir.join("segments");
    let (log, recovered) = SegmentLog::open(&log_dir, config.segment_bytes, from)
        .map_err(|e| OpenError::Log { path: log_dir.clone(), message: e.to_string() })?;
    if recovered.truncated_bytes > 0 {
        tracing::warn!(dir = %log_dir.display(), bytes = recovered.truncated_bytes, "journal: truncated a torn record at the end of the log (it was never acknowledged)");
    }
    let mut tail = VecDeque::with_capacity(recovered.records.len());
    for (sequence, payload) in recovered.records {
        tail.push_back(Arc::new(
            decode(sequence, &payload)
                .map_err(|message| OpenError::Log { path: log_dir.clone(), message: format!("record {sequence}: {message}") })?,
        ));
    }
    let fsync = config.durability == Durability::Fsync;
    let backing = DiskBacking { log, gaps: dir.join("gaps.ndjson"), cursors: cursors_dir, fsync };
    let window = Window::with_backing(backing, config.bounds, recovered.last_seq, resume, tail);
    Ok(if fsync { window.syncing() } else { window })
}

/// An event's record payload.
fn payload(event: &HostEvent) -> Vec<u8> {
    let stored =
        Stored { tenant: event.tenant.as_deref().map(Into::into), topic: event.topic.as_str().into(), json: event.json.as_str().into() };
    serde_json::to_vec(&stored).expect("an event serializes")
}

pub(crate) fn decode(sequence: u64, payload: &[u8]) -> Result<HostEvent, String> {
    let stored: Stored<'_> = serde_json::from_slice(payload).map_err(|e| e.to_string())?;
    let document = stored.json.as_ref().into_document(usize::MAX).map_err(|e| e.to_string())?;
    let mut event = HostEvent::from_document(&stored.topic, document, usize::MAX).map_err(|e| e.to_string())?;
    event.sequence = sequence;
    event.tenant = stored.tenant.map(|t| t.into_owned());
    Ok(event)
}

impl DiskBacking {
    fn cursor_path(&self, cursor: &str) -> PathBuf {
        self.cursors.join(format!("{}.cursor", cursor.replace('/', "~")))
    }
}

impl Backing for DiskBacking {
    fn append(&mut self, event: &HostEvent) -> Result<(), JournalError> {
        self.log.append(event.sequence, &payload(event)).map_err(|e| JournalError::Storage(e.to_string()))
    }

    fn append_many(&mut self, events: &[HostEvent]) -> Result<(), (usize, JournalError)> {
        let Some(first) = events.first() else { return Ok(()) };
        let payloads: Vec<Vec<u8>> = events.iter().map(payload).collect();
        self.log.append_many(first.sequence, &payloads).map_err(|(done, e)| (done, JournalError::Storage(e.to_string())))
    }

    fn acked(&mut self, cursor: &str, sequence: u64) {
        let path = self.cursor_path(cursor);
        let tmp = path.with_extension("cursor.tmp");
        let written = (|| {
            use std::io::Write;
            let mut file = std::fs::File::create(&tmp)?;
            file.write_all(sequence.to_string().as_bytes())?;
            if self.fsync {
                file.sync_data()?;
            }
            std::fs::rename(&tmp, &path)
        })();
        if let Err(e) = written {
            // The handler will see these events again after a restart
            // (at-least-once), nothing is lost.
            tracing::error!(cursor, file = %path.display(), "cannot persist the cursor: {e}");
        }
    }

    fn released(&mut self, sequence: u64) {
        if let Err(e) = self.log.remove_through(sequence) {
            tracing::warn!("cannot reclaim journal segments (retrying at the next release): {e}");
        }
    }

    fn gap(&mut self, cursor: &str, sequence: u64) {
        use std::io::Write;
        let time = humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string();
        let line = format!("{}\n", serde_json::json!({"handler": cursor, "sequence": sequence, "time": time}));
        let written = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.gaps)
            .and_then(|mut f| f.write_all(line.as_bytes()).and_then(|()| if self.fsync { f.sync_data() } else { Ok(()) }));
        if let Err(e) = written {
            tracing::error!(cursor, sequence, file = %self.gaps.display(), "cannot write the gap record (the drop is still counted): {e}");
        }
    }

    fn retire(&mut self, cursor: &str) {
        let path = self.cursor_path(cursor);
        if let Err(e) = std::fs::remove_file(&path)
            && e.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!(cursor, file = %path.display(), "cannot remove the retired cursor's file: {e}");
        }
    }

    fn sync(&mut self) -> Result<(), JournalError> {
        self.log.sync().map_err(|e| JournalError::Storage(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::journal::{Bounds, Journal};

    fn config() -> JournalConfig {
        JournalConfig {
            durability: Durability::Process,
            bounds: Bounds::default(),
            segment_bytes: 4096,
            fsync_timeout: Duration::from_secs(1),
        }
    }

    fn event(n: usize) -> HostEvent {
        let doc = serde_json::json!({"_id": format!("e{n}"), "n": n, "text": "a \"quoted\" line\n"}).as_object().unwrap().clone();
        HostEvent::from_document("access", doc, 1 << 20).unwrap()
    }

    #[test]
    fn batches_and_single_events_survive_a_restart_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let journal = open(dir.path(), &config()).unwrap();
        let cursor = journal.register_cursor("h");
        let results = journal.append_batch((0..100).map(event).collect());
        assert!(results.iter().enumerate().all(|(i, r)| r.as_ref().unwrap().sequence == i as u64 + 1));
        journal.append(event(100)).unwrap();
        let results = journal.append_batch((101..150).map(event).collect());
        assert_eq!(results.last().unwrap().as_ref().unwrap().sequence, 150);
        journal.ack(cursor, 20);
        drop(journal);
        // Several segments (4 KiB each), all read back after a restart
        // from the handler's acknowledged position.
        assert!(std::fs::read_dir(dir.path().join("segments")).unwrap().count() > 3);
        let journal = open(dir.path(), &config()).unwrap();
        let cursor = journal.register_cursor("h");
        let read = journal.read(cursor, 1000, Duration::ZERO);
        assert_eq!(read.iter().map(|e| e.sequence).collect::<Vec<_>>(), (21..=150).collect::<Vec<_>>());
        for e in &read {
            let doc: serde_json::Value = serde_json::from_str(&e.json).unwrap();
            assert_eq!((doc["n"].as_u64(), doc["text"].as_str()), (Some(e.sequence - 1), Some("a \"quoted\" line\n")));
            assert_eq!(e.id, format!("e{}", e.sequence - 1));
        }
        assert_eq!(journal.append_batch(vec![event(150)])[0].as_ref().unwrap().sequence, 151);
    }
}
