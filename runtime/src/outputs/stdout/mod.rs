//! The `stdout` output: one line per record on the process's standard output.

mod config;
mod sink;
#[cfg(test)]
mod tests;

pub use config::StdoutConfig;
pub use sink::StdoutSink;

impl super::Output for StdoutConfig {
    fn validate(&self) -> Result<(), super::SettingError> {
        Ok(())
    }
    fn open(&self, _place: &super::OutputPlace<'_>) -> std::io::Result<Box<dyn super::Sink>> {
        Ok(Box::new(StdoutSink::new(self)))
    }
}
