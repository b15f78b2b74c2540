//! The `file` output: JSON lines appended to a file under the handler's
//! output directory. (Rotation, retention, CSV and tamper evidence belong to
//! the full file outputs.)

mod config;
mod sink;
#[cfg(test)]
mod tests;

pub use config::FileConfig;
pub use sink::FileSink;

impl super::Output for FileConfig {
    fn needs_directory(&self) -> bool {
        true
    }
    fn validate(&self) -> Result<(), super::SettingError> {
        FileConfig::validate(self)
    }
    fn open(&self, place: &super::OutputPlace<'_>) -> std::io::Result<Box<dyn super::Sink>> {
        Ok(Box::new(FileSink::open(self, place.dir()?, place.shown, place.sync)?))
    }
}
