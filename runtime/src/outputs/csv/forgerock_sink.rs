//! The CSV handler's output when `security.filename` is a ForgeRock JCEKS
//! keystore: ForgeRock's tamper-evident format, written by
//! [`ForgeRockCsvWriter`] (which continues an existing ForgeRock-signed
//! file from its `<file>.keystore`).
//!
//! Invariants: `flush` syncs the rows, then rewrites `<file>.keystore`
//! with the key after the last row; `rollback` takes back the rows and key
//! state since `mark`; a signature row is written every
//! `signatureInterval` (when rows were written), before each rotation and
//! on close; rotation (`maxFileSize`, times, intervals, on demand) renames
//! the file and its keystore together and the next file starts with a copy
//! of the last signature. Retention and gzipped archives are not applied
//! to this format (an archive's keystore must stay beside it).

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use super::forgerock_write::{ForgeRockCsvWriter, ForgeRockWriteError};
use crate::outputs::Sink;
use crate::outputs::rotation::RotationPolicy;

/// One topic's ForgeRock-format CSV file.
#[derive(Debug)]
pub struct ForgeRockCsvSink {
    writer: Option<ForgeRockCsvWriter>,
    dir: PathBuf,
    live: String,
    rotation: RotationPolicy,
    signature_interval: Duration,
    opened_at: SystemTime,
    last_signature: SystemTime,
    last_check: SystemTime,
    last_archive: Option<String>,
}

fn io(e: ForgeRockWriteError) -> std::io::Error {
    match e {
        ForgeRockWriteError::Io { source, path } => std::io::Error::new(source.kind(), format!("{}: {source}", path.display())),
        other => std::io::Error::other(other.to_string()),
    }
}

impl ForgeRockCsvSink {
    /// Wraps a writer of the live file `dir/live`.
    pub fn new(writer: ForgeRockCsvWriter, dir: &Path, live: &str, rotation: RotationPolicy, signature_interval: Duration) -> Self {
        let now = SystemTime::now();
        ForgeRockCsvSink {
            writer: Some(writer),
            dir: dir.to_owned(),
            live: live.to_owned(),
            rotation,
            signature_interval,
            opened_at: now,
            last_signature: now,
            last_check: now,
            last_archive: None,
        }
    }

    fn writer(&mut self) -> &mut ForgeRockCsvWriter {
        self.writer.as_mut().expect("a writer between rotations")
    }

    fn rotate_now(&mut self) -> std::io::Result<String> {
        let now = SystemTime::now();
        let dir = self.dir.clone();
        let archive =
            crate::outputs::rotation::archive_name(&self.live, &self.rotation, now, self.last_archive.as_deref(), |c| dir.join(c).exists());
        let archive = archive.strip_suffix(".gz").unwrap_or(&archive).to_owned();
        let writer = self.writer.take().expect("a writer between rotations");
        let rotated = writer.rotate(&self.dir.join(&archive)).map_err(io)?;
        self.writer = Some(rotated);
        self.writer().mark();
        self.last_archive = Some(archive.clone());
        self.opened_at = now;
        self.last_signature = now;
        tracing::info!(file = %self.dir.join(&self.live).display(), archive, "rotated (ForgeRock format)");
        Ok(self.dir.join(&archive).display().to_string())
    }
}

impl Sink for ForgeRockCsvSink {
    fn write(&mut self, record: &[u8]) -> std::io::Result<()> {
        let cells: Vec<String> = serde_json::from_slice(record)
            .map_err(|e| std::io::Error::other(format!("a CSV record must be a JSON array of strings: {e}")))?;
        let cells: Vec<&str> = cells.iter().map(String::as_str).collect();
        let row_len = self.writer().row_len(&cells);
        let len = self.writer().len();
        if crate::outputs::rotation::size_due(&self.rotation, len, row_len) {
            self.rotate_now()?;
        }
        self.writer().append(&cells).map_err(io)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.writer().flush().map_err(io)
    }

    fn location(&self) -> String {
        self.dir.join(&self.live).display().to_string()
    }

    fn mark(&mut self) {
        self.writer().mark();
    }

    fn rollback(&mut self) -> std::io::Result<()> {
        self.writer().rollback().map_err(io)
    }

    fn rotate(&mut self) -> std::io::Result<Option<String>> {
        self.rotate_now().map(Some)
    }

    fn retryable(&self, error: &std::io::Error) -> bool {
        crate::outputs::disk_full(error)
    }

    fn tick(&mut self) -> std::io::Result<()> {
        let now = SystemTime::now();
        if self.writer().unsigned() > 0 && now.duration_since(self.last_signature).unwrap_or_default() >= self.signature_interval {
            self.writer().sign().map_err(io)?;
            self.writer().flush().map_err(io)?;
            self.writer().mark();
            self.last_signature = now;
        }
        if now.duration_since(self.last_check).unwrap_or_default() >= self.rotation.check_interval {
            self.last_check = now;
            if crate::outputs::rotation::due(&self.rotation, self.opened_at, now) {
                self.rotate_now()?;
            }
        }
        Ok(())
    }

    fn tick_interval(&self) -> Option<Duration> {
        let rotation = self.rotation.enabled.then_some(self.rotation.check_interval);
        rotation.into_iter().chain([self.signature_interval]).min()
    }

    fn close(&mut self) -> std::io::Result<()> {
        self.writer().close().map_err(io)
    }
}
