//! The on-disk, append-only segment log under the durable journal.
//!
//! # Format
//!
//! A log is a directory of segment files named `<first seq>.seg`, the first
//! sequence number zero-padded to 20 digits (so names sort like numbers),
//! beside a `segments.lock` file. Other files in the directory are ignored.
//! A segment is a plain concatenation of records, with no file header:
//!
//! ```text
//! u32 LE payload length | u32 LE CRC32C(seq as u64 LE ++ payload) | u64 LE seq | payload
//! ```
//!
//! # Invariants
//!
//! - Sequence numbers start at 1 and are contiguous within and across
//!   segments: a segment's first record has the seq of its file name, each
//!   next record (in the file, then in the next segment) has seq + 1. Only
//!   the last segment can be empty (created, then a crash before its first
//!   record landed); it then says "the next seq is its name".
//! - Only the last segment (the active one) is ever written, and only at its
//!   end; records are handed to the OS by one `write(2)` of a buffer
//!   holding whole records (one, or a run appended together; `write_all`
//!   loops only on a short write, e.g. a full disk), so a killed process
//!   leaves whole records and at most one torn one after them, never
//!   acknowledged to a publisher. A write error cuts the file back to the
//!   run's first record boundary (if even that fails the log refuses
//!   further work).
//! - A torn or corrupt record can only be the result of a crash of the
//!   machine while the active segment was being written, so on open the
//!   last segment is truncated at its first record that is incomplete or
//!   fails its CRC (dropping everything after it). Any such record in an
//!   earlier segment, a record whose seq breaks the sequence, or a gap
//!   between segments is reported as an error naming the file and offset.
//! - A new segment is started when the record would push the active one
//!   past `max_segment_bytes`, unless the active one is empty (so a record
//!   larger than the limit gets a segment of its own).
//! - Segments are removed oldest first, and only whole ones, never the
//!   active one; so a crash in the middle of a removal leaves a contiguous
//!   suffix of the log.
//! - `sync` makes durable every record appended before it (including those
//!   in segments rolled away from since the last sync) and the creation or
//!   removal of segment files. A failed fdatasync poisons the log: the
//!   kernel may have dropped the dirty pages, so no later sync can vouch
//!   for them.
//! - One `SegmentLog` per directory at a time: `open` takes an exclusive
//!   lock on `segments.lock` for the life of the log.

use std::collections::VecDeque;
use std::fs::{self, File, OpenOptions, TryLockError};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Length of a record header: payload length, CRC, seq.
pub const HEADER_LEN: u64 = 16;
const HEADER: usize = HEADER_LEN as usize;
const EXTENSION: &str = "seg";
const NAME_DIGITS: usize = 20;
const LOCK_FILE: &str = "segments.lock";

/// What [`SegmentLog::open`] found on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recovered {
    /// Every intact record with seq > `from`, in order.
    pub records: Vec<(u64, Vec<u8>)>,
    /// The seq of the first record still on disk (`last_seq + 1` when there
    /// is none). Records in `from + 1 .. first_seq` were removed earlier.
    pub first_seq: u64,
    /// The last intact seq (0 if the log is empty).
    pub last_seq: u64,
    /// Bytes of torn or corrupt tail cut from the last segment.
    pub truncated_bytes: u64,
}

/// Why a segment operation failed. Every message names the file, and the
/// offset in it where one applies.
#[derive(Debug, thiserror::Error)]
pub enum SegmentError {
    /// An I/O call failed.
    #[error("{op} {}: {source}", path.display())]
    Io {
        /// What was being done ("open", "read", "fdatasync", ...).
        op: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// Writing a record failed (the file was rolled back to `offset`).
    #[error("write of seq {seq} to {} at offset {offset}: {source}", path.display())]
    Write {
        /// The active segment.
        path: PathBuf,
        /// Where the record was to start.
        offset: u64,
        /// The record's seq.
        seq: u64,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// A record is torn or fails its CRC in a segment that is not the last,
    /// or the sequence numbers are not contiguous.
    #[error("corrupt segment {} at offset {offset}: {reason}", path.display())]
    Corrupt {
        /// The segment file.
        path: PathBuf,
        /// Where the bad record (or the file, for a gap) starts.
        offset: u64,
        /// What is wrong.
        reason: String,
    },
    /// `append` was given a seq other than `last_seq + 1`.
    #[error("append to {} at offset {offset}: expected seq {expected}, got {got}", path.display())]
    OutOfOrder {
        /// The active segment (or the directory if there is none yet).
        path: PathBuf,
        /// Where the record would have started.
        offset: u64,
        /// `last_seq + 1`.
        expected: u64,
        /// The seq passed in.
        got: u64,
    },
    /// A payload longer than `u32::MAX` bytes.
    #[error("append to {} at offset {offset}: payload of {len} bytes exceeds the 4 GiB record limit", path.display())]
    TooLarge {
        /// The active segment (or the directory).
        path: PathBuf,
        /// Where the record would have started.
        offset: u64,
        /// The payload length.
        len: usize,
    },
    /// Another `SegmentLog` holds the directory.
    #[error("segment log {} is locked by another user", path.display())]
    Locked {
        /// The lock file.
        path: PathBuf,
    },
    /// An earlier write could not be rolled back or an fdatasync failed:
    /// the state on disk is unknown, so the log refuses further work.
    #[error("segment log {} is unusable after an earlier I/O failure (at offset {offset})", path.display())]
    Poisoned {
        /// The active segment.
        path: PathBuf,
        /// Its length as last known.
        offset: u64,
    },
}

fn io_err(op: &'static str, path: &Path) -> impl FnOnce(io::Error) -> SegmentError {
    move |source| SegmentError::Io { op, path: path.to_path_buf(), source }
}

#[derive(Debug)]
struct Segment {
    path: PathBuf,
    first_seq: u64,
    /// `first_seq - 1` while empty.
    last_seq: u64,
    bytes: u64,
}

/// An append-only log of `(seq, payload)` records in segment files.
#[derive(Debug)]
pub struct SegmentLog {
    dir: PathBuf,
    max_segment_bytes: u64,
    /// Oldest first; the last one is the active segment.
    segments: VecDeque<Segment>,
    /// The active segment, open for appending (None until the first one).
    active: Option<File>,
    last_seq: u64,
    /// Whether the active segment has writes not yet fdatasync'ed.
    active_dirty: bool,
    /// Segments rolled away from with writes not yet fdatasync'ed.
    unsynced: Vec<(PathBuf, File)>,
    /// Whether a segment was created or removed since the last sync.
    dir_dirty: bool,
    poisoned: bool,
    /// Staging buffer: header and payload go out in one write.
    buf: Vec<u8>,
    _lock: File,
}

/// The CRC stored in a record header.
pub fn record_crc(seq: u64, payload: &[u8]) -> u32 {
    crc32c::crc32c_append(crc32c::crc32c(&seq.to_le_bytes()), payload)
}

/// The file name of the segment whose first record is `first_seq`.
pub fn segment_name(first_seq: u64) -> String {
    format!("{first_seq:0NAME_DIGITS$}.{EXTENSION}")
}

fn parse_name(name: &str) -> Option<u64> {
    let digits = name.strip_suffix(EXTENSION)?.strip_suffix('.')?;
    if digits.len() != NAME_DIGITS || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// The result of reading one segment.
struct Scan {
    /// Length of the intact prefix.
    valid_len: u64,
    /// Seq of the last intact record (`first_seq - 1` if none).
    last_seq: u64,
    /// Offset and description of the first torn or corrupt record.
    bad: Option<(u64, String)>,
}

/// Reads the records of one segment, handing those with seq > `from` to
/// `out`. A record that is cut short or fails its CRC ends the scan
/// (`bad`); a CRC-valid record with the wrong seq is an error.
fn scan(path: &Path, data: &[u8], first_seq: u64, from: u64, out: &mut dyn FnMut(u64, &[u8])) -> Result<Scan, SegmentError> {
    let mut off = 0usize;
    let mut expected = first_seq;
    let bad = loop {
        let rest = &data[off..];
        if rest.is_empty() {
            break None;
        }
        if rest.len() < HEADER {
            break Some(format!("torn header ({} of {HEADER} bytes)", rest.len()));
        }
        let len = u32::from_le_bytes(rest[0..4].try_into().unwrap()) as usize;
        let crc = u32::from_le_bytes(rest[4..8].try_into().unwrap());
        let seq = u64::from_le_bytes(rest[8..16].try_into().unwrap());
        if rest.len() - HEADER < len {
            break Some(format!("torn record (payload of {len} bytes, {} present)", rest.len() - HEADER));
        }
        let payload = &rest[HEADER..HEADER + len];
        let actual = record_crc(seq, payload);
        if actual != crc {
            break Some(format!("CRC mismatch (stored {crc:#010x}, computed {actual:#010x})"));
        }
        if seq != expected {
            return Err(SegmentError::Corrupt {
                path: path.to_path_buf(),
                offset: off as u64,
                reason: format!("record has seq {seq}, expected {expected}"),
            });
        }
        if seq > from {
            out(seq, payload);
        }
        expected += 1;
        off += HEADER + len;
    };
    Ok(Scan { valid_len: off as u64, last_seq: expected - 1, bad: bad.map(|reason| (off as u64, reason)) })
}

/// Checks one payload (its seq, its bytes) for [`verify`].
pub type PayloadCheck<'a> = dyn FnMut(u64, &[u8]) -> Result<(), String> + 'a;

/// What [`verify`] found in a segment log, which it leaves as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Verified {
    /// Segment files.
    pub segments: usize,
    /// Intact records.
    pub records: u64,
    /// The seq of the first record on disk (`last_seq + 1` when none).
    pub first_seq: u64,
    /// The last intact seq (0 if the log is empty).
    pub last_seq: u64,
    /// Bytes of a torn or corrupt tail of the last segment, which the next
    /// `open` will cut (the trace of a crash while it was written).
    pub torn_tail: u64,
}

/// Checks the log in `dir` without changing it (read-only; refused while
/// a running log holds its lock): every record's CRC, the sequence across
/// segments, and `check` on every payload. A bad record anywhere but at
/// the end of the last segment, a gap, or a payload `check` refuses is an
/// error naming the file and offset (or the seq).
pub fn verify(dir: &Path, check: &mut PayloadCheck<'_>) -> Result<Verified, SegmentError> {
    let lock_path = dir.join(LOCK_FILE);
    if let Ok(lock) = File::open(&lock_path) {
        match lock.try_lock_shared() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => return Err(SegmentError::Locked { path: lock_path }),
            Err(TryLockError::Error(e)) => return Err(io_err("lock", &lock_path)(e)),
        }
    }
    let mut found = Vec::new();
    for entry in fs::read_dir(dir).map_err(io_err("read directory", dir))? {
        let entry = entry.map_err(io_err("read directory", dir))?;
        if let Some(first_seq) = entry.file_name().to_str().and_then(parse_name) {
            found.push((first_seq, entry.path()));
        }
    }
    found.sort();
    let mut report = Verified { segments: found.len(), ..Verified::default() };
    let mut failed = None;
    let count = found.len();
    let mut prev_last: Option<u64> = None;
    for (i, (first_seq, path)) in found.into_iter().enumerate() {
        if first_seq == 0 || prev_last.is_some_and(|p| p + 1 != first_seq) {
            return Err(SegmentError::Corrupt {
                path,
                offset: 0,
                reason: format!("segment starts at seq {first_seq} but the previous one ends at seq {}", prev_last.unwrap_or(0)),
            });
        }
        if i == 0 {
            report.first_seq = first_seq;
        }
        let data = fs::read(&path).map_err(io_err("read", &path))?;
        let scanned = scan(&path, &data, first_seq, 0, &mut |seq, payload| {
            report.records += 1;
            if failed.is_none()
                && let Err(why) = check(seq, payload)
            {
                failed = Some((seq, why));
            }
        })?;
        if let Some((seq, why)) = failed.take() {
            return Err(SegmentError::Corrupt { path, offset: 0, reason: format!("record {seq}: {why}") });
        }
        if let Some((offset, reason)) = scanned.bad {
            if i + 1 != count {
                return Err(SegmentError::Corrupt { path, offset, reason });
            }
            report.torn_tail = data.len() as u64 - scanned.valid_len;
        }
        prev_last = Some(scanned.last_seq);
    }
    report.last_seq = prev_last.unwrap_or(0);
    if report.segments == 0 {
        report.first_seq = 1;
    }
    Ok(report)
}

fn sync_dir(dir: &Path) -> Result<(), SegmentError> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(io_err("fsync directory", dir))
}

impl SegmentLog {
    /// Opens (creating) the log in `dir`: scans every segment, validates
    /// each record's CRC, truncates a torn or corrupt tail of the last
    /// segment, and returns the intact records with seq > `from`.
    ///
    /// A bad record in any other segment, a seq out of sequence or a gap
    /// between segments is an error naming the file and offset.
    pub fn open(dir: &Path, max_segment_bytes: u64, from: u64) -> Result<(SegmentLog, Recovered), SegmentError> {
        fs::create_dir_all(dir).map_err(io_err("create directory", dir))?;
        let lock_path = dir.join(LOCK_FILE);
        let lock = OpenOptions::new().create(true).truncate(false).write(true).open(&lock_path).map_err(io_err("open", &lock_path))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => return Err(SegmentError::Locked { path: lock_path }),
            Err(TryLockError::Error(e)) => return Err(io_err("lock", &lock_path)(e)),
        }

        let mut found = Vec::new();
        for entry in fs::read_dir(dir).map_err(io_err("read directory", dir))? {
            let entry = entry.map_err(io_err("read directory", dir))?;
            if let Some(first_seq) = entry.file_name().to_str().and_then(parse_name) {
                found.push((first_seq, entry.path()));
            }
        }
        found.sort();

        let mut segments = VecDeque::with_capacity(found.len());
        let mut records = Vec::new();
        let mut truncated_bytes = 0;
        let count = found.len();
        for (i, (first_seq, path)) in found.into_iter().enumerate() {
            let is_last = i + 1 == count;
            let prev_last = segments.back().map(|s: &Segment| s.last_seq);
            if first_seq == 0 || prev_last.is_some_and(|p| p + 1 != first_seq) {
                return Err(SegmentError::Corrupt {
                    path,
                    offset: 0,
                    reason: format!("segment starts at seq {first_seq} but the previous one ends at seq {}", prev_last.unwrap_or(0)),
                });
            }
            let data = fs::read(&path).map_err(io_err("read", &path))?;
            let scanned = scan(&path, &data, first_seq, from, &mut |seq, payload| records.push((seq, payload.to_vec())))?;
            if let Some((offset, reason)) = scanned.bad {
                if !is_last {
                    return Err(SegmentError::Corrupt { path, offset, reason });
                }
                truncated_bytes = data.len() as u64 - scanned.valid_len;
                let file = OpenOptions::new().write(true).open(&path).map_err(io_err("open", &path))?;
                file.set_len(scanned.valid_len).and_then(|()| file.sync_all()).map_err(io_err("truncate torn tail of", &path))?;
            }
            segments.push_back(Segment { path, first_seq, last_seq: scanned.last_seq, bytes: scanned.valid_len });
        }

        let active = match segments.back() {
            Some(s) => Some(OpenOptions::new().append(true).open(&s.path).map_err(io_err("open", &s.path))?),
            None => None,
        };
        let last_seq = segments.back().map_or(0, |s| s.last_seq);
        let log = SegmentLog {
            dir: dir.to_path_buf(),
            max_segment_bytes,
            segments,
            active,
            last_seq,
            active_dirty: false,
            unsynced: Vec::new(),
            dir_dirty: false,
            poisoned: false,
            buf: Vec::new(),
            _lock: lock,
        };
        let recovered = Recovered { records, first_seq: log.first_seq(), last_seq, truncated_bytes };
        Ok((log, recovered))
    }

    /// Appends one record; `seq` must be `last_seq + 1`. Header and payload
    /// reach the OS in one `write(2)` (no userspace buffering), so once this
    /// returns the record survives a kill of the process; [`sync`] makes it
    /// survive a crash of the machine. Starts a new segment when the record
    /// would push the active one past `max_segment_bytes` (a record larger
    /// than that still gets a segment of its own).
    ///
    /// [`sync`]: SegmentLog::sync
    pub fn append(&mut self, seq: u64, payload: &[u8]) -> Result<(), SegmentError> {
        self.append_many(seq, &[payload]).map_err(|(_, e)| e)
    }

    /// Appends records with seqs `first_seq`, `first_seq + 1`, …
    /// (`first_seq` must be `last_seq + 1`): every run of them that fits
    /// the active segment reaches the OS in one `write(2)` of whole
    /// records, rolling segments as [`append`](SegmentLog::append) does.
    /// On an error, the records before the returned index are in the log
    /// and none from it on (the file is cut back to that record's start).
    pub fn append_many<P: AsRef<[u8]>>(&mut self, first_seq: u64, payloads: &[P]) -> Result<(), (usize, SegmentError)> {
        let mut done = 0;
        while done < payloads.len() {
            let seq = first_seq + done as u64;
            self.check_poisoned().map_err(|e| (done, e))?;
            if seq != self.last_seq + 1 {
                let (path, offset) = self.position();
                return Err((done, SegmentError::OutOfOrder { path, offset, expected: self.last_seq + 1, got: seq }));
            }
            let first = payloads[done].as_ref();
            let len = u32::try_from(first.len()).map_err(|_| {
                let (path, offset) = self.position();
                (done, SegmentError::TooLarge { path, offset, len: first.len() })
            })?;
            let roll = match self.segments.back() {
                None => true,
                Some(s) => s.bytes > 0 && s.bytes + HEADER_LEN + u64::from(len) > self.max_segment_bytes,
            };
            if roll {
                self.roll(seq).map_err(|e| (done, e))?;
            }
            let segment = self.segments.back_mut().expect("roll created a segment");
            // The run: the records from `done` that fit this segment (the
            // first always does), stopping before one too large to store.
            self.buf.clear();
            let mut count = 0_u64;
            for payload in &payloads[done..] {
                let payload = payload.as_ref();
                let Ok(len) = u32::try_from(payload.len()) else { break };
                let record_len = HEADER_LEN + u64::from(len);
                if count > 0 && segment.bytes + self.buf.len() as u64 + record_len > self.max_segment_bytes {
                    break;
                }
                let record_seq = seq + count;
                self.buf.extend_from_slice(&len.to_le_bytes());
                self.buf.extend_from_slice(&record_crc(record_seq, payload).to_le_bytes());
                self.buf.extend_from_slice(&record_seq.to_le_bytes());
                self.buf.extend_from_slice(payload);
                count += 1;
            }
            let active = self.active.as_mut().expect("roll opened a segment");
            self.active_dirty = true;
            if let Err(source) = active.write_all(&self.buf) {
                // Cut whatever part of the run got out, so that the next
                // append starts at a record boundary.
                if active.set_len(segment.bytes).is_err() {
                    self.poisoned = true;
                }
                return Err((done, SegmentError::Write { path: segment.path.clone(), offset: segment.bytes, seq, source }));
            }
            segment.bytes += self.buf.len() as u64;
            segment.last_seq = seq + count - 1;
            self.last_seq = segment.last_seq;
            done += count as usize;
        }
        Ok(())
    }

    /// Creates the segment that starts at `first_seq` and makes it active.
    fn roll(&mut self, first_seq: u64) -> Result<(), SegmentError> {
        let path = self.dir.join(segment_name(first_seq));
        let file = OpenOptions::new().append(true).create_new(true).open(&path).map_err(io_err("create", &path))?;
        self.dir_dirty = true;
        if let Some(old) = self.active.replace(file)
            && self.active_dirty
        {
            let old_path = self.segments.back().expect("active segment").path.clone();
            self.unsynced.push((old_path, old));
        }
        self.active_dirty = false;
        self.segments.push_back(Segment { path, first_seq, last_seq: first_seq - 1, bytes: 0 });
        Ok(())
    }

    /// Makes everything appended so far durable: fdatasync of the active
    /// segment and of segments rolled away from since the last sync, and
    /// fsync of the directory when segments were created or removed since.
    pub fn sync(&mut self) -> Result<(), SegmentError> {
        self.check_poisoned()?;
        let active = match (&self.active, self.segments.back()) {
            (Some(file), Some(s)) if self.active_dirty => Some((&s.path, file)),
            _ => None,
        };
        let files = self.unsynced.iter().map(|(p, f)| (p, f)).chain(active);
        let failed = files.map(|(path, file)| file.sync_data().map_err(io_err("fdatasync", path))).find_map(Result::err);
        if let Some(e) = failed {
            self.poisoned = true;
            return Err(e);
        }
        self.unsynced.clear();
        self.active_dirty = false;
        if self.dir_dirty {
            sync_dir(&self.dir)?;
            self.dir_dirty = false;
        }
        Ok(())
    }

    /// Deletes every segment whose records all have seq <= `seq`, oldest
    /// first, never the active segment. Returns how many were removed. The
    /// removals become durable with the next [`sync`](SegmentLog::sync).
    pub fn remove_through(&mut self, seq: u64) -> Result<usize, SegmentError> {
        self.check_poisoned()?;
        let mut removed = 0;
        while self.segments.len() > 1 && self.segments[0].last_seq <= seq {
            let path = &self.segments[0].path;
            fs::remove_file(path).map_err(io_err("remove", path))?;
            self.segments.pop_front();
            self.dir_dirty = true;
            removed += 1;
        }
        Ok(removed)
    }

    /// Bytes of records on disk across all segments.
    #[cfg_attr(not(test), expect(dead_code, reason = "for the journal's disk-usage stats: drop once they use it"))]
    pub fn disk_bytes(&self) -> u64 {
        self.segments.iter().map(|s| s.bytes).sum()
    }

    /// Number of segment files.
    #[cfg_attr(not(test), expect(dead_code, reason = "for the journal's disk-usage stats: drop once they use it"))]
    pub fn segments(&self) -> usize {
        self.segments.len()
    }

    /// The seq of the first record on disk (`last_seq + 1` if none).
    pub fn first_seq(&self) -> u64 {
        self.segments.iter().find(|s| s.bytes > 0).map_or(self.last_seq + 1, |s| s.first_seq)
    }

    /// The active segment and its length (the directory and 0 if none),
    /// for error messages.
    fn position(&self) -> (PathBuf, u64) {
        match self.segments.back() {
            Some(s) => (s.path.clone(), s.bytes),
            None => (self.dir.clone(), 0),
        }
    }

    fn check_poisoned(&self) -> Result<(), SegmentError> {
        if !self.poisoned {
            return Ok(());
        }
        let (path, offset) = self.position();
        Err(SegmentError::Poisoned { path, offset })
    }
}

#[cfg(test)]
mod tests;
