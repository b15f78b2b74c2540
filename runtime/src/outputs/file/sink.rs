//! The `file` output's sink: a buffered appender; `flush` hands the buffer to
//! the operating system (so the lines survive the process, not a power loss).

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use super::FileConfig;
use crate::outputs::{Sink, write_line};

/// Appends JSON lines to one file.
pub struct FileSink {
    path: PathBuf,
    out: BufWriter<File>,
}

impl FileSink {
    /// Opens (creating it and its directories) `dir/config.path` for append.
    pub fn open(config: &FileConfig, dir: &Path) -> std::io::Result<Self> {
        config.validate().map_err(std::io::Error::other)?;
        let path = dir.join(&config.path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let file = OpenOptions::new().create(true).append(true).open(&path)?;
        Ok(FileSink { path, out: BufWriter::with_capacity(64 << 10, file) })
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
