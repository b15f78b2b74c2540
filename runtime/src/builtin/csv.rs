//! `CsvAuditEventHandler`: one CSV row per event in
//! `<logDirectory>/<topic>.csv`, columns from the topic's schema in dot
//! notation, ForgeRock's formatting, buffering, rotation, retention and
//! `security` (tamper evidence) settings.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Map, Value};

use super::NativeHandler;
use super::settings::{SecuritySettings, SettingsError, boolean, object, only};
use crate::event::HostEvent;
use crate::outputs::csv::codec::{CsvFormat, event_cells};
use crate::outputs::rotation::{RetentionPolicy, RotationPolicy};

/// The settings of a `CsvAuditEventHandler`, as in ForgeRock.
#[derive(Debug, Clone, PartialEq)]
pub struct CsvSettings {
    /// `logDirectory` (required): where `<topic>.csv` files go; a relative
    /// path is under the data directory.
    pub log_directory: PathBuf,
    /// `formatting`: `quoteChar`, `delimiterChar`, `endOfLineSymbols`, and
    /// WASP's `neutraliseFormulas`.
    pub format: CsvFormat,
    /// `buffering.enabled` (default false: each event is written as it
    /// comes; true: events are written together, up to 100 ms apart).
    /// `buffering.autoFlush` is accepted: WASP always flushes before it
    /// acknowledges events.
    pub write_interval: Duration,
    /// `fileRotation` and `rotationRetentionCheckInterval`.
    pub rotation: RotationPolicy,
    /// `fileRetention`.
    pub retention: RetentionPolicy,
    /// `security`: tamper evidence.
    pub security: Option<SecuritySettings>,
}

impl CsvSettings {
    /// Reads the handler's settings.
    pub fn from_settings(settings: &Map<String, Value>, base_dir: &Path, data_dir: &Path) -> Result<CsvSettings, SettingsError> {
        only(
            settings,
            "",
            &["logDirectory", "formatting", "buffering", "security", "fileRotation", "fileRetention", "rotationRetentionCheckInterval"],
        )?;
        let log_directory = super::settings::log_directory(settings, data_dir)?;
        let write_interval = match object(settings, "buffering", &["enabled", "autoFlush"])? {
            None => Duration::ZERO,
            Some(buffering) => {
                boolean(buffering, "buffering", "autoFlush")?;
                if boolean(buffering, "buffering", "enabled")?.unwrap_or(false) { Duration::from_millis(100) } else { Duration::ZERO }
            }
        };
        let format = CsvFormat::from_settings(settings).map_err(|e| match e {
            crate::outputs::csv::codec::CsvError::Settings { field, message } => SettingsError::new(field, message),
            other => SettingsError::new("formatting", other.to_string()),
        })?;
        Ok(CsvSettings {
            format,
            write_interval,
            rotation: RotationPolicy::from_settings(settings)?,
            retention: RetentionPolicy::from_settings(settings)?,
            security: SecuritySettings::from_settings(settings, base_dir, &log_directory)?,
            log_directory,
        })
    }

    /// The live file of `topic`.
    pub fn file_name(topic: &str) -> String {
        format!("{topic}.csv")
    }
}

/// The CSV handler's formatting: per topic, its output and columns.
#[derive(Debug)]
pub struct CsvHandler {
    /// Output index and columns by topic.
    pub topics: BTreeMap<String, (usize, Vec<String>)>,
}

impl NativeHandler for CsvHandler {
    fn record(&mut self, event: &HostEvent) -> Result<Vec<(usize, Vec<u8>)>, String> {
        let Some((output, columns)) = self.topics.get(&event.topic) else {
            return Ok(Vec::new());
        };
        let value: Value = serde_json::from_str(&event.json).map_err(|e| format!("the event is not JSON: {e}"))?;
        let cells = event_cells(columns, &value);
        Ok(vec![(*output, serde_json::to_vec(&cells).map_err(|e| e.to_string())?)])
    }
}

impl CsvSettings {
    /// What `wasp config check` says.
    pub(crate) fn check(&self) -> super::Checked {
        let secure = if self.security.is_some() { ", tamper-evident" } else { "" };
        super::Checked { lines: vec![format!("files {}/<topic>.csv{secure}", self.log_directory.display())], problems: Vec::new() }
    }
}
