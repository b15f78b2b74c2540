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
        let file = dir.open_with(&config.path, OpenOptions::new().create(true).append(true))?;
        Ok(FileSink { path: shown.join(&config.path), out: BufWriter::with_capacity(64 << 10, file.into_std()) })
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
}
