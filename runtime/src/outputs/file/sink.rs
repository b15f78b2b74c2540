//! The `file` output's sink: a buffered appender; `flush` hands the buffer to
//! the operating system (so the lines survive the process, not a power loss).

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use cap_std::fs::{Dir, OpenOptions};

use super::FileConfig;
use crate::outputs::{Sink, write_line};

/// Appends JSON lines to one file.
pub struct FileSink {
    path: PathBuf,
    out: BufWriter<File>,
    /// The handler's directory and the file inside it, for rotation.
    dir: Dir,
    relative: PathBuf,
    /// The file (shared with `out`), its length after the last successful
    /// flush, and whether a flush also syncs it to disk (`fsync` journal).
    file: File,
    committed_len: u64,
    sync: bool,
    /// The length `rollback` cuts back to (set by `mark`).
    mark_len: u64,
}

impl FileSink {
    /// Opens (creating it and its directories) `config.path` inside `dir`
    /// for append. `dir` is a capability: nothing outside it can be opened,
    /// whatever `..` or symbolic links the path holds. `shown` is how `dir`
    /// is named to people.
    pub fn open(config: &FileConfig, dir: &Dir, shown: &Path, sync: bool) -> std::io::Result<Self> {
        config.validate().map_err(std::io::Error::other)?;
        if let Some(parent) = config.path.parent().filter(|p| !p.as_os_str().is_empty()) {
            dir.create_dir_all(parent)?;
        }
        let file = dir.open_with(&config.path, OpenOptions::new().create(true).append(true).read(true))?;
        let mut file = file.into_std();
        repair_torn_line(&mut file)?;
        let committed_len = file.metadata()?.len();
        Ok(FileSink {
            path: shown.join(&config.path),
            out: BufWriter::with_capacity(64 << 10, file.try_clone()?),
            dir: dir.try_clone()?,
            relative: config.path.clone(),
            file,
            committed_len,
            sync,
            mark_len: committed_len,
        })
    }
}

impl Sink for FileSink {
    fn write(&mut self, record: &[u8]) -> std::io::Result<()> {
        write_line(&mut self.out, record)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()?;
        if self.sync {
            self.file.sync_data()?;
        }
        self.committed_len = self.file.metadata()?.len();
        Ok(())
    }

    fn mark(&mut self) {
        self.mark_len = self.committed_len;
    }

    /// Forgets what was written since `mark`: the buffer is discarded (not
    /// written) and the file cut back, so a retry writes each record once
    /// and a failed event leaves nothing behind.
    fn rollback(&mut self) -> std::io::Result<()> {
        let fresh = BufWriter::with_capacity(64 << 10, self.file.try_clone()?);
        let _unwritten = std::mem::replace(&mut self.out, fresh).into_parts();
        self.file.set_len(self.mark_len)?;
        self.committed_len = self.mark_len;
        Ok(())
    }

    fn location(&self) -> String {
        self.path.display().to_string()
    }

    /// Renames the file to `<name>.<UTC time>` (`audit.log.20261122T061500.123Z`)
    /// and starts an empty one.
    fn rotate(&mut self) -> std::io::Result<Option<String>> {
        self.out.flush()?;
        let stamp = humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string().replace(['-', ':'], "");
        // Never replace an earlier archive (two rotations in one millisecond).
        let archived = (0..)
            .map(|n: u32| {
                let mut name = self.relative.clone().into_os_string();
                name.push(if n == 0 { format!(".{stamp}") } else { format!(".{stamp}.{n}") });
                PathBuf::from(name)
            })
            .find(|candidate| !self.dir.exists(candidate))
            .expect("an unused name");
        self.dir.rename(&self.relative, &self.dir, &archived)?;
        match self.dir.open_with(&self.relative, OpenOptions::new().create(true).append(true)) {
            Ok(file) => {
                let file = file.into_std();
                self.out = BufWriter::with_capacity(64 << 10, file.try_clone()?);
                self.file = file;
                self.committed_len = 0;
                self.mark_len = 0;
            }
            Err(e) => {
                // Keep writing where we were rather than nowhere.
                self.dir.rename(&archived, &self.dir, &self.relative)?;
                return Err(e);
            }
        }
        Ok(Some(self.path.with_file_name(archived.file_name().unwrap_or_default()).display().to_string()))
    }
}

/// A crash in the middle of a write can leave a partial last line. Its
/// events were not acknowledged (the cursor moves only after a flush), so
/// they will be delivered again: cut the partial line so that every line in
/// the file is a whole record.
fn repair_torn_line(file: &mut File) -> std::io::Result<()> {
    use std::io::{Read, Seek, SeekFrom};
    let len = file.metadata()?.len();
    if len == 0 {
        return Ok(());
    }
    let mut keep = len;
    let mut buf = vec![0u8; 64 << 10];
    loop {
        let start = keep.saturating_sub(buf.len() as u64);
        let chunk = &mut buf[..(keep - start) as usize];
        file.seek(SeekFrom::Start(start))?;
        file.read_exact(chunk)?;
        if keep == len && chunk.last() == Some(&b'\n') {
            return Ok(());
        }
        if let Some(pos) = chunk.iter().rposition(|&b| b == b'\n') {
            keep = start + pos as u64 + 1;
            break;
        }
        keep = start;
        if start == 0 {
            break;
        }
    }
    tracing::warn!("cutting a partial last line of {} bytes (its events will be delivered again)", len - keep);
    file.set_len(keep)
}
