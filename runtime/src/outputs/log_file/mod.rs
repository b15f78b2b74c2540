//! The log file writer behind every file output (the JSON and CSV handlers
//! and a WASM handler's `file` outputs): buffered appends, rotation,
//! retention, and, when the output is tamper-evident, the hash chain and
//! its signed records.
//!
//! Invariants:
//! - a record is never split: rotation happens between records (before the
//!   record that would pass `maxFileSize`, or between batches for
//!   time-based rotation), and a torn last record left by a crash is cut
//!   when the file is opened (its events were not acknowledged, so they are
//!   delivered again);
//! - `flush` returning `Ok` means every record written so far reached the
//!   operating system (and the disk, in `fsync` mode); `rollback` takes
//!   back everything since `mark`, chain state included;
//! - the live file is never deleted by retention; archives are deleted
//!   oldest first;
//! - with tamper evidence, every file begins with a signed `start` record
//!   naming the file before it, an archive ends with a signature over its
//!   final state, and a retention deletion leaves a signed `retention`
//!   record in the live file (see [`crate::integrity`]).

pub mod codec;
mod recover;
pub mod verify;
pub use recover::read_text;
#[cfg(test)]
mod tests;

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use cap_std::fs::{Dir, OpenOptions};

use crate::integrity::{Chain, IntegrityKeys, RecordKind, SignedRecord};
use crate::outputs::Sink;
use crate::outputs::rotation::{Clock, RetentionPolicy, RotationPolicy, SystemClock};
use codec::LineCodec;

/// Tamper-evidence settings of one output.
#[derive(Debug, Clone)]
pub struct Integrity {
    /// The keys.
    pub keys: Arc<IntegrityKeys>,
    /// How often the chain head is signed (when records were written).
    pub signature_interval: Duration,
}

/// Where a tamper-evident file's chain state is saved: the file `name`
/// inside `dir`, a directory capability (nothing outside it is reachable,
/// whatever `name` holds).
#[derive(Debug, Clone)]
pub struct Checkpoint {
    /// The directory of the checkpoint.
    pub dir: Arc<Dir>,
    /// The checkpoint's file name in `dir` (one path component).
    pub name: String,
    /// The checkpoint's path, for people.
    pub shown: PathBuf,
}

/// How a log file is written.
#[derive(Debug, Clone)]
pub struct LogOptions {
    /// Rotation (`fileRotation`).
    pub rotation: RotationPolicy,
    /// Retention (`fileRetention`).
    pub retention: RetentionPolicy,
    /// Tamper evidence, when enabled.
    pub integrity: Option<Integrity>,
    /// Whether a flush also syncs to disk (`fsync` journal durability).
    pub sync: bool,
    /// Where the chain state is kept after each signature (outside the log
    /// directory), so that records lost from the end of the file (a crash
    /// before the disk had them, or a cut) are declared by a signed `gap`
    /// record when the file is opened again, not silently renumbered.
    pub checkpoint: Option<Checkpoint>,
    /// The time source.
    pub clock: Arc<dyn Clock>,
}

impl Default for LogOptions {
    fn default() -> Self {
        LogOptions {
            rotation: RotationPolicy::default(),
            retention: RetentionPolicy::default(),
            integrity: None,
            sync: false,
            checkpoint: None,
            clock: Arc::new(SystemClock),
        }
    }
}

/// One live log file (and its archives).
pub struct LogFile {
    dir: Dir,
    /// The live file's name inside `dir` (a relative path).
    name: PathBuf,
    shown: PathBuf,
    codec: Box<dyn LineCodec>,
    options: LogOptions,
    file: File,
    out: BufWriter<File>,
    /// Bytes in the file after the last flush, and handed to `out` since.
    committed_len: u64,
    len: u64,
    mark_len: u64,
    chain: Option<Chain>,
    mark_chain: Option<Chain>,
    /// Records written since the last signed record.
    unsigned: u64,
    opened_at: SystemTime,
    /// A signature was written since the checkpoint was last saved.
    checkpoint_due: bool,
    last_signature: SystemTime,
    last_check: SystemTime,
    /// The newest archive's name (made by this writer or found on open):
    /// the next archive's name sorts after it, so no name is ever reused.
    last_archive: Option<String>,
}

impl std::fmt::Debug for LogFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogFile").field("path", &self.shown).finish_non_exhaustive()
    }
}

impl LogFile {
    /// Opens (creating it and its directories) the live file `name` inside
    /// `dir` (a capability: nothing outside it can be reached); `shown` is
    /// the file's path for people.
    pub fn open(dir: &Dir, name: PathBuf, shown: PathBuf, codec: Box<dyn LineCodec>, options: LogOptions) -> std::io::Result<LogFile> {
        if let Some(parent) = name.parent().filter(|p| !p.as_os_str().is_empty()) {
            dir.create_dir_all(parent)?;
        }
        let dir = match name.parent().filter(|p| !p.as_os_str().is_empty()) {
            Some(parent) => dir.open_dir(parent)?,
            None => dir.try_clone()?,
        };
        let name = PathBuf::from(name.file_name().ok_or_else(|| std::io::Error::other("a file output needs a file name"))?);
        let mut file = dir.open_with(&name, OpenOptions::new().create(true).append(true).read(true))?.into_std();
        let recovered = recover::open_state(&mut file, &*codec, &dir, &name, &options)?;
        let now = options.clock.now();
        let len = file.metadata()?.len();
        let last_archive = crate::outputs::rotation::list_archives(&dir, &name.to_string_lossy(), &options.rotation)?.pop().map(|a| a.name);
        let mut log = LogFile {
            out: BufWriter::with_capacity(64 << 10, file.try_clone()?),
            file,
            dir,
            name,
            shown,
            codec,
            committed_len: len,
            len,
            mark_len: len,
            chain: None,
            mark_chain: None,
            unsigned: recovered.unsigned,
            opened_at: now,
            checkpoint_due: false,
            last_signature: now,
            last_check: now,
            last_archive,
            options,
        };
        if let Some(integrity) = &log.options.integrity {
            log.chain = Some(Chain::resume(integrity.keys.hmac_key(), recovered.state));
        }
        if len == 0 {
            log.begin_file(&recovered.previous)?;
            log.flush()?;
        }
        log.declare_lost_records()?;
        log.mark_chain = log.chain.clone();
        Ok(log)
    }

    /// Compares the chain with the checkpoint: records the checkpoint had
    /// signed that the files no longer hold are declared by a signed `gap`
    /// record, and the chain continues after them.
    fn declare_lost_records(&mut self) -> std::io::Result<()> {
        let (Some(checkpoint), Some(integrity), Some(chain)) = (&self.options.checkpoint, self.options.integrity.clone(), &self.chain)
        else {
            return Ok(());
        };
        let Some(saved) = recover::read_checkpoint(checkpoint)? else { return Ok(()) };
        let state = chain.state();
        if saved.seq <= state.seq {
            return Ok(());
        }
        tracing::error!(
            file = %self.shown.display(),
            "records {}..={} were signed but are no longer in the file (lost in a crash before they reached the disk, or cut): a signed gap record declares them",
            state.seq + 1,
            saved.seq
        );
        let record = SignedRecord::new(&integrity.keys, RecordKind::Gap, saved, &[("from", (state.seq + 1).to_string())]);
        let line = self.codec.signed_line(&record);
        self.put(&line)?;
        self.chain = Some(Chain::resume(integrity.keys.hmac_key(), saved));
        self.unsigned = 0;
        self.flush()
    }

    /// The live file's path, for people.
    pub fn path(&self) -> &std::path::Path {
        &self.shown
    }

    /// Writes what every file begins with: the header, and the signed
    /// `start` record naming the file before it.
    fn begin_file(&mut self, previous: &str) -> std::io::Result<()> {
        if let Some(header) = self.codec.header() {
            self.put(&header)?;
        }
        self.signed(RecordKind::Start, &[("previous", previous.to_owned())])
    }

    fn put(&mut self, line: &[u8]) -> std::io::Result<()> {
        self.out.write_all(line)?;
        self.len += line.len() as u64;
        Ok(())
    }

    /// Writes a signed record over the current chain state (nothing when
    /// the output is not tamper-evident).
    fn signed(&mut self, kind: RecordKind, extra: &[(&str, String)]) -> std::io::Result<()> {
        let (Some(integrity), Some(chain)) = (&self.options.integrity, &self.chain) else {
            return Ok(());
        };
        let record = SignedRecord::new(&integrity.keys, kind, chain.state(), extra);
        let line = self.codec.signed_line(&record);
        self.put(&line)?;
        if kind != RecordKind::Retention {
            self.unsigned = 0;
            self.last_signature = self.options.clock.now();
        }
        self.checkpoint_due = true;
        Ok(())
    }

    /// Signs the chain head if records were written since the last
    /// signature.
    fn sign_if_needed(&mut self, reason: &str) -> std::io::Result<()> {
        if self.unsigned > 0 {
            self.signed(RecordKind::Signature, &[("reason", reason.to_owned())])?;
        }
        Ok(())
    }

    /// Rotates now: signs, archives the live file under its rotated name
    /// (gzipped when the suffix ends with `.gz`), starts a new one, and
    /// applies retention. Returns the archive's name.
    pub fn rotate_now(&mut self) -> std::io::Result<String> {
        self.signed(RecordKind::Signature, &[("reason", "rotate".to_owned())])?;
        self.flush()?;
        let now = self.options.clock.now();
        let live = self.name.to_string_lossy().into_owned();
        let archive =
            crate::outputs::rotation::archive_name(&live, &self.options.rotation, now, self.last_archive.as_deref(), |candidate| {
                self.dir.exists(candidate) || self.dir.exists(candidate.strip_suffix(".gz").unwrap_or(candidate))
            });
        let gzip = self.options.rotation.gzip() && archive.ends_with(".gz");
        let moved = if gzip { archive.strip_suffix(".gz").unwrap_or(&archive).to_owned() } else { archive.clone() };
        self.dir.rename(&self.name, &self.dir, &moved)?;
        let file = match self.dir.open_with(&self.name, OpenOptions::new().create(true).append(true).read(true)) {
            Ok(file) => file.into_std(),
            Err(e) => {
                self.dir.rename(&moved, &self.dir, &self.name)?;
                return Err(e);
            }
        };
        self.last_archive = Some(archive.clone());
        self.out = BufWriter::with_capacity(64 << 10, file.try_clone()?);
        self.file = file;
        self.committed_len = 0;
        self.len = 0;
        self.opened_at = now;
        self.begin_file(&archive)?;
        self.flush()?;
        self.mark_len = self.committed_len;
        self.mark_chain = self.chain.clone();
        if gzip && let Err(e) = crate::outputs::rotation::gzip_archive(&self.dir, &moved, &archive) {
            tracing::error!(file = %self.shown.display(), "cannot gzip the archive {moved}: {e}");
        }
        tracing::info!(file = %self.shown.display(), archive, "rotated");
        self.apply_retention()?;
        Ok(self.shown.with_file_name(&archive).display().to_string())
    }

    /// Deletes archives per the retention policy, oldest first; with tamper
    /// evidence, records each deletion in the live file.
    pub fn apply_retention(&mut self) -> std::io::Result<()> {
        use crate::outputs::rotation as naming;
        use crate::outputs::rotation as retention;
        if !self.options.retention.is_enabled() {
            return Ok(());
        }
        let live = self.name.to_string_lossy().into_owned();
        let archives = naming::list_archives(&self.dir, &live, &self.options.rotation)?;
        let free = if self.options.retention.min_free_space.is_some() { Some(retention::free_space(&self.dir)?) } else { None };
        let doomed = retention::select_for_deletion(&archives, self.len, &self.options.retention, free);
        for name in doomed {
            let vouch = if self.chain.is_some() { Some(recover::final_state_of(&self.dir, &name, &*self.codec)?) } else { None };
            self.dir.remove_file(&name)?;
            tracing::info!(file = %self.shown.display(), archive = %name, "deleted by retention");
            if let Some(state) = vouch {
                self.signed(
                    RecordKind::Retention,
                    &[("file", name.clone()), ("fileSeq", state.seq.to_string()), ("fileHead", state.head_hex())],
                )?;
            }
        }
        self.flush()
    }
}

impl Sink for LogFile {
    fn declare_dropped(&mut self, ranges: &[(u64, u64)]) -> std::io::Result<()> {
        if self.chain.is_none() {
            return Ok(());
        }
        for &(from, to) in ranges {
            // The declaration is a link of the chain (sealed like a record,
            // then signed at that state): taking it out breaks the chain.
            let fields = crate::integrity::dropped_fields(from, to);
            let borrowed: Vec<(&str, &[u8])> = fields.iter().map(|(n, v)| (*n, v.as_bytes())).collect();
            self.chain.as_mut().expect("checked above").seal(&borrowed);
            self.signed(RecordKind::Dropped, &fields)?;
        }
        self.flush()
    }

    fn write(&mut self, record: &[u8]) -> std::io::Result<()> {
        if self.chain.is_none() && self.codec.passes_records_through() {
            let newline = !record.ends_with(b"\n");
            let len = record.len() as u64 + u64::from(newline);
            if crate::outputs::rotation::size_due(&self.options.rotation, self.len, len) {
                self.rotate_now()?;
            }
            self.out.write_all(record)?;
            if newline {
                self.out.write_all(b"\n")?;
            }
            self.len += len;
            self.unsigned += 1;
            return Ok(());
        }
        let before = self.chain.clone();
        let mut line = self.codec.data_line(record, self.chain.as_mut())?;
        if crate::outputs::rotation::size_due(&self.options.rotation, self.len, line.len() as u64) {
            // The archive's closing signature covers the chain without this
            // record: seal it again after the rotation.
            self.chain = before;
            self.rotate_now()?;
            line = self.codec.data_line(record, self.chain.as_mut())?;
        }
        self.put(&line)?;
        self.unsigned += 1;
        Ok(())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()?;
        if self.options.sync {
            self.file.sync_data()?;
        }
        self.committed_len = self.len;
        if std::mem::take(&mut self.checkpoint_due)
            && let (Some(checkpoint), Some(chain)) = (&self.options.checkpoint, &self.chain)
        {
            recover::write_checkpoint(checkpoint, chain.state())?;
        }
        Ok(())
    }

    fn location(&self) -> String {
        self.shown.display().to_string()
    }

    fn mark(&mut self) {
        self.mark_len = self.committed_len;
        self.mark_chain = self.chain.clone();
    }

    fn rollback(&mut self) -> std::io::Result<()> {
        let fresh = BufWriter::with_capacity(64 << 10, self.file.try_clone()?);
        let _unwritten = std::mem::replace(&mut self.out, fresh).into_parts();
        self.file.set_len(self.mark_len)?;
        self.committed_len = self.mark_len;
        self.len = self.mark_len;
        self.chain = self.mark_chain.clone();
        Ok(())
    }

    fn rotate(&mut self) -> std::io::Result<Option<String>> {
        self.rotate_now().map(Some)
    }

    /// A full disk (or quota) is waited out: the events stay in the journal and
    /// the write is tried again with a backoff.
    fn retryable(&self, error: &std::io::Error) -> bool {
        crate::outputs::disk_full(error)
    }

    fn tick(&mut self) -> std::io::Result<()> {
        let now = self.options.clock.now();
        if let Some(integrity) = &self.options.integrity
            && self.unsigned > 0
            && now.duration_since(self.last_signature).unwrap_or_default() >= integrity.signature_interval
        {
            self.sign_if_needed("interval")?;
            self.flush()?;
        }
        if now.duration_since(self.last_check).unwrap_or_default() >= self.options.rotation.check_interval {
            self.last_check = now;
            if crate::outputs::rotation::due(&self.options.rotation, self.opened_at, now) {
                self.rotate_now()?;
            } else {
                self.apply_retention()?;
            }
        }
        Ok(())
    }

    fn tick_interval(&self) -> Option<Duration> {
        let rotation =
            (self.options.rotation.enabled || self.options.retention.is_enabled()).then_some(self.options.rotation.check_interval);
        let signing = self.options.integrity.as_ref().map(|i| i.signature_interval);
        rotation.into_iter().chain(signing).min()
    }

    fn close(&mut self) -> std::io::Result<()> {
        self.signed(RecordKind::Signature, &[("reason", "close".to_owned())])?;
        self.flush()
    }
}
