//! The `file` output: JSON lines appended to a file under the handler's
//! output directory. (Rotation, retention, CSV and tamper evidence belong to
//! the full file outputs.)

mod config;
mod sink;
#[cfg(test)]
mod tests;

pub use config::FileConfig;
pub use sink::FileSink;
