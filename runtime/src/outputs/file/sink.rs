//! The `file` output's sink: the log file writer ([`LogFile`]) with raw
//! lines: `flush` hands the buffer to the operating system (so the lines
//! survive the process, not a power loss, unless the journal is `fsync`).

use std::path::Path;

use cap_std::fs::Dir;

use super::FileConfig;
use crate::outputs::Sink;
use crate::outputs::log_file::codec::RawLines;
use crate::outputs::log_file::{LogFile, LogOptions};

/// Appends lines to one file.
#[derive(Debug)]
pub struct FileSink(LogFile);

impl FileSink {
    /// Opens (creating it and its directories) `config.path` inside `dir`
    /// for append. `dir` is a capability: nothing outside it can be opened,
    /// whatever `..` or symbolic links the path holds. `shown` is how `dir`
    /// is named to people. A partial last line left by a crash is cut (its
    /// events were not acknowledged, so they are delivered again).
    pub fn open(config: &FileConfig, dir: &Dir, shown: &Path, sync: bool) -> std::io::Result<Self> {
        config.validate().map_err(std::io::Error::other)?;
        let options = LogOptions { sync, ..LogOptions::default() };
        LogFile::open(dir, config.path.clone(), shown.join(&config.path), Box::new(RawLines), options).map(FileSink)
    }
}

impl Sink for FileSink {
    fn write(&mut self, record: &[u8]) -> std::io::Result<()> {
        self.0.write(record)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
    fn location(&self) -> String {
        self.0.location()
    }
    fn mark(&mut self) {
        self.0.mark();
    }
    fn rollback(&mut self) -> std::io::Result<()> {
        self.0.rollback()
    }
    /// Renames the file to `<name>-yyyy.MM.dd-HH.mm.ss` (UTC; `.1`, `.2`, …
    /// when taken) and starts an empty one.
    fn rotate(&mut self) -> std::io::Result<Option<String>> {
        self.0.rotate()
    }
    fn retryable(&self, error: &std::io::Error) -> bool {
        self.0.retryable(error)
    }
    fn close(&mut self) -> std::io::Result<()> {
        self.0.close()
    }
}
