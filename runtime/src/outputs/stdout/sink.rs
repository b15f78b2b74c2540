//! The `stdout` output's sink. Lines from several handlers never interleave
//! mid-line: each flush writes whole lines under the stdout lock.

use std::io::Write;

use super::StdoutConfig;
use crate::outputs::{Sink, write_line};

/// Writes lines to standard output.
pub struct StdoutSink {
    buffer: Vec<u8>,
}

impl StdoutSink {
    /// A sink on the process's stdout.
    pub fn new(_config: &StdoutConfig) -> Self {
        StdoutSink { buffer: Vec::new() }
    }

    /// Writes and clears the buffered lines.
    fn drain_into(&mut self, out: &mut impl Write) -> std::io::Result<()> {
        out.write_all(&self.buffer)?;
        out.flush()?;
        self.buffer.clear();
        Ok(())
    }
}

impl Sink for StdoutSink {
    fn write(&mut self, record: &[u8]) -> std::io::Result<()> {
        write_line(&mut self.buffer, record)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        let stdout = std::io::stdout();
        let mut lock = stdout.lock();
        self.drain_into(&mut lock)
    }

    fn location(&self) -> String {
        "stdout".into()
    }
}

#[cfg(test)]
impl StdoutSink {
    pub(super) fn flush_into(&mut self, out: &mut impl Write) -> std::io::Result<()> {
        self.drain_into(out)
    }
}
