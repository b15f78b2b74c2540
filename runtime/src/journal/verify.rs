//! `wasp journal verify`: checks a durable journal on disk without changing
//! it, so that an operator (or a crash test) can tell a healthy journal
//! from a damaged one before WASP opens it.
//!
//! For each stream (`journal/default`, `journal/tenants/<tenant>`) it
//! checks:
//!
//! - the segment log (`segments/`): every record's CRC, sequence numbers
//!   contiguous within and across segments, and every payload a stored
//!   event (JSON with its topic and event text that parses). A torn record
//!   at the very end of the last segment is reported, not failed: it is
//!   the trace of a crash while it was written, never acknowledged, and
//!   the next start cuts it. Anything else is damage;
//! - every cursor (`cursors/<handler>.cursor`): a number, and not past the
//!   log's last sequence. A cursor past the end means a handler
//!   acknowledged events the journal no longer holds (a lost tail): new
//!   events would reuse those sequence numbers and that handler would skip
//!   them. An unreadable cursor is reported (its handler starts again from
//!   what the journal holds: duplicates, not losses);
//! - the gap log (`gaps.ndjson`): one JSON object per line.
//!
//! It refuses to run on a journal a running WASP holds (the segment log's
//! lock): stop it, or verify a copy.

use std::path::{Path, PathBuf};

use super::segment;

/// What was found in one stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamReport {
    /// The stream's directory.
    pub dir: PathBuf,
    /// Segment files.
    pub segments: usize,
    /// Intact records.
    pub records: u64,
    /// The seq of the first record on disk (`last_seq + 1` when none).
    pub first_seq: u64,
    /// The last intact seq (0 if the log is empty).
    pub last_seq: u64,
    /// Bytes of a torn tail of the last segment (the next start cuts them).
    pub torn_tail: u64,
    /// Each cursor: its handler and acknowledged sequence (`None`: the
    /// file is unreadable).
    pub cursors: Vec<(String, Option<u64>)>,
    /// Lines of the gap log.
    pub gaps: usize,
}

/// Why a journal does not verify.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// No journal where one was expected.
    #[error("{}: no journal here (expected a data directory with `journal/`, a `journal/` directory, or one stream with `segments/`)", .0.display())]
    NotAJournal(PathBuf),
    /// A file or directory cannot be read.
    #[error("{}: {source}", path.display())]
    Io {
        /// The path.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// The segment log is damaged (or locked by a running WASP).
    #[error(transparent)]
    Log(#[from] segment::SegmentError),
    /// A cursor is past the end of its stream's log.
    #[error("{}: handler `{handler}` acknowledged up to {cursor}, but the journal ends at {last}: its tail was lost (events published next would reuse those numbers and be skipped by this handler)", dir.display())]
    CursorPastEnd {
        /// The stream.
        dir: PathBuf,
        /// The handler.
        handler: String,
        /// Its cursor.
        cursor: u64,
        /// The log's last sequence.
        last: u64,
    },
    /// A line of the gap log is not JSON.
    #[error("{} line {line}: not a gap record: {message}", path.display())]
    Gap {
        /// `gaps.ndjson`.
        path: PathBuf,
        /// Its line.
        line: usize,
        /// Why.
        message: String,
    },
}

/// Verifies the journal of a data directory, a `journal/` directory, or
/// one stream directory; one report per stream.
pub fn verify(path: &Path) -> Result<Vec<StreamReport>, VerifyError> {
    let journal = if path.join("journal").is_dir() { path.join("journal") } else { path.to_path_buf() };
    let mut streams = Vec::new();
    if journal.join("segments").is_dir() {
        streams.push(journal.clone());
    }
    if journal.join("default").is_dir() {
        streams.push(journal.join("default"));
    }
    let tenants = journal.join("tenants");
    if tenants.is_dir() {
        let mut names: Vec<PathBuf> = read_dir(&tenants)?.into_iter().filter(|p| p.is_dir()).collect();
        names.sort();
        streams.extend(names);
    }
    if streams.is_empty() {
        return Err(VerifyError::NotAJournal(path.to_path_buf()));
    }
    streams.iter().map(|dir| verify_stream(dir)).collect()
}

fn read_dir(dir: &Path) -> Result<Vec<PathBuf>, VerifyError> {
    let io = |source| VerifyError::Io { path: dir.to_path_buf(), source };
    std::fs::read_dir(dir).map_err(io)?.map(|e| e.map(|e| e.path()).map_err(io)).collect()
}

fn verify_stream(dir: &Path) -> Result<StreamReport, VerifyError> {
    let segments = dir.join("segments");
    let log = if segments.is_dir() {
        segment::verify(&segments, &mut |sequence, payload| super::disk::decode(sequence, payload).map(drop))?
    } else {
        segment::Verified { first_seq: 1, ..segment::Verified::default() }
    };
    let mut cursors = Vec::new();
    let cursor_dir = dir.join("cursors");
    if cursor_dir.is_dir() {
        let mut files = read_dir(&cursor_dir)?;
        files.sort();
        for file in files {
            let Some(handler) = file.file_name().and_then(|n| n.to_str()).and_then(|n| n.strip_suffix(".cursor")) else { continue };
            let text = std::fs::read_to_string(&file).map_err(|source| VerifyError::Io { path: file.clone(), source })?;
            let cursor = text.trim().parse::<u64>().ok();
            if let Some(cursor) = cursor
                && cursor > log.last_seq
            {
                return Err(VerifyError::CursorPastEnd {
                    dir: dir.to_path_buf(),
                    handler: handler.replace('~', "/"),
                    cursor,
                    last: log.last_seq,
                });
            }
            cursors.push((handler.replace('~', "/"), cursor));
        }
    }
    let gaps_path = dir.join("gaps.ndjson");
    let mut gaps = 0;
    if let Ok(text) = std::fs::read_to_string(&gaps_path) {
        for (i, line) in text.lines().enumerate() {
            serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(line).map_err(|e| VerifyError::Gap {
                path: gaps_path.clone(),
                line: i + 1,
                message: e.to_string(),
            })?;
            gaps += 1;
        }
    }
    Ok(StreamReport {
        dir: dir.to_path_buf(),
        segments: log.segments,
        records: log.records,
        first_seq: log.first_seq,
        last_seq: log.last_seq,
        torn_tail: log.torn_tail,
        cursors,
        gaps,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::segment::{SegmentLog, segment_name};

    fn stored(n: u64) -> Vec<u8> {
        serde_json::json!({"p": "access", "e": format!("{{\"_id\":\"e{n}\"}}")}).to_string().into_bytes()
    }

    /// A stream with `n` events in segments of about 200 bytes, and a cursor.
    fn stream(n: u64, cursor: u64) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let (mut log, _) = SegmentLog::open(&dir.path().join("segments"), 200, 0).unwrap();
        for seq in 1..=n {
            log.append(seq, &stored(seq)).unwrap();
        }
        std::fs::create_dir_all(dir.path().join("cursors")).unwrap();
        std::fs::write(dir.path().join("cursors/json.cursor"), cursor.to_string()).unwrap();
        dir
    }

    #[test]
    fn a_healthy_stream_verifies_and_a_torn_tail_is_reported_not_failed() {
        let dir = stream(20, 12);
        let report = verify(dir.path()).unwrap();
        assert_eq!((report[0].records, report[0].last_seq, report[0].torn_tail), (20, 20, 0));
        assert!(report[0].segments > 2, "{report:?}");
        assert_eq!(report[0].cursors, [("json".to_owned(), Some(12))]);
        // A crash in the middle of the last record's write.
        let last = std::fs::read_dir(dir.path().join("segments"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "seg"))
            .max()
            .unwrap();
        let len = std::fs::metadata(&last).unwrap().len();
        std::fs::OpenOptions::new().write(true).open(&last).unwrap().set_len(len - 3).unwrap();
        let report = verify(dir.path()).unwrap();
        assert_eq!((report[0].last_seq, report[0].torn_tail > 0), (19, true), "{report:?}");
        assert_eq!(std::fs::metadata(&last).unwrap().len(), len - 3, "verify changes nothing");
    }

    #[test]
    fn damage_is_named() {
        // A flipped byte in an earlier segment.
        let dir = stream(20, 0);
        let first = dir.path().join("segments").join(segment_name(1));
        let mut bytes = std::fs::read(&first).unwrap();
        bytes[20] ^= 0x40;
        std::fs::write(&first, bytes).unwrap();
        let error = verify(dir.path()).unwrap_err().to_string();
        assert!(error.contains("corrupt segment") && error.contains(&segment_name(1)), "{error}");
        // A cursor past the end: a lost tail.
        let dir = stream(5, 9);
        let error = verify(dir.path()).unwrap_err().to_string();
        assert!(error.contains("handler `json` acknowledged up to 9, but the journal ends at 5"), "{error}");
        // A payload that is not a stored event.
        let dir = tempfile::tempdir().unwrap();
        let (mut log, _) = SegmentLog::open(&dir.path().join("segments"), 1 << 20, 0).unwrap();
        log.append(1, b"not json").unwrap();
        drop(log);
        let error = verify(dir.path()).unwrap_err().to_string();
        assert!(error.contains("record 1:"), "{error}");
        // Held by a running journal.
        let dir = stream(3, 0);
        let (_held, _) = SegmentLog::open(&dir.path().join("segments"), 200, 0).unwrap();
        let error = verify(dir.path()).unwrap_err().to_string();
        assert!(error.contains("locked"), "{error}");
        // Not a journal.
        let empty = tempfile::tempdir().unwrap();
        assert!(matches!(verify(empty.path()), Err(VerifyError::NotAJournal(_))));
    }
}
