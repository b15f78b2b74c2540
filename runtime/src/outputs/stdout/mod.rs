//! The `stdout` output: one line per record on the process's standard output.

mod config;
mod sink;
#[cfg(test)]
mod tests;

pub use config::StdoutConfig;
pub use sink::StdoutSink;
