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
}

impl FileSink {
    /// Opens (creating it and its directories) `config.path` inside `dir`
    /// for append. `dir` is a capability: nothing outside it can be opened,
    /// whatever `..` or symbolic links the path holds. `shown` is how `dir`
    /// is named to people.
    pub fn open(config: &FileConfig, dir: &Dir, shown: &Path) -> std::io::Result<Self> {
        config.validate().map_err(std::io::Error::other)?;
        if let Some(parent) = config.path.parent().filter(|p| !p.as_os_str().is_empty()) {
            dir.create_dir_all(parent)?;
        }
        let file = dir.open_with(&config.path, OpenOptions::new().create(true).append(true).read(true))?;
        let mut file = file.into_std();
        repair_torn_line(&mut file)?;
        Ok(FileSink {
            path: shown.join(&config.path),
            out: BufWriter::with_capacity(64 << 10, file),
            dir: dir.try_clone()?,
            relative: config.path.clone(),
        })
    }
}

impl Sink for FileSink {
    fn write(&mut self, record: &[u8]) -> std::io::Result<()> {
        write_line(&mut self.out, record)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }

    fn location(&self) -> String {
        self.path.display().to_string()
    }

    /// Renames the file to `<name>.<UTC time>` (`audit.log.20261122T061500.123Z`)
    /// and starts an empty one.
    fn rotate(&mut self) -> std::io::Result<Option<String>> {
        self.out.flush()?;
        let stamp = humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string().replace(['-', ':'], "");
        let mut archived = self.relative.clone().into_os_string();
        archived.push(format!(".{stamp}"));
        let archived = PathBuf::from(archived);
        self.dir.rename(&self.relative, &self.dir, &archived)?;
        let file = self.dir.open_with(&self.relative, OpenOptions::new().create(true).append(true))?;
        self.out = BufWriter::with_capacity(64 << 10, file.into_std());
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
