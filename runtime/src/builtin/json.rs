//! `JsonAuditEventHandler`: one JSON object per line in
//! `<logDirectory>/<topic>.audit.json`, with ForgeRock's rotation,
//! retention and buffering settings, `elasticsearchCompatible`, and (beyond
//! ForgeRock) tamper evidence through `security` as for CSV.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Map, Value};

use super::NativeHandler;
use super::settings::{SecuritySettings, SettingsError, boolean, duration, integer, object, only};
use crate::event::HostEvent;
use crate::outputs::rotation::{RetentionPolicy, RotationPolicy};

/// The settings of a `JsonAuditEventHandler`, as in ForgeRock.
#[derive(Debug, Clone, PartialEq)]
pub struct JsonSettings {
    /// `logDirectory` (required): where `<topic>.audit.json` files go; a
    /// relative path is under the data directory.
    pub log_directory: PathBuf,
    /// `elasticsearchCompatible` (default false): `_id` is written as
    /// `_eventId`, and dots in field names become `_`, with a
    /// `_normalized.fieldNames` map (normalized pointer → original name) so
    /// that reads restore them.
    pub elasticsearch_compatible: bool,
    /// `fileRotation` and `rotationRetentionCheckInterval`.
    pub rotation: RotationPolicy,
    /// `fileRetention`.
    pub retention: RetentionPolicy,
    /// `buffering.writeInterval` (default 1 second, must be > 0): how long
    /// events may wait to be written together (the handler's batch wait).
    pub write_interval: Duration,
    /// `buffering.maxSize` (default 10000): at most this many events are
    /// written together (the handler's batch size).
    pub max_size: usize,
    /// `security`: tamper evidence.
    pub security: Option<SecuritySettings>,
}

impl JsonSettings {
    /// Reads the handler's `config` (its settings besides name, topics and
    /// enabled).
    pub fn from_settings(settings: &Map<String, Value>, base_dir: &Path, data_dir: &Path) -> Result<JsonSettings, SettingsError> {
        only(
            settings,
            "",
            &[
                "logDirectory",
                "elasticsearchCompatible",
                "fileRotation",
                "fileRetention",
                "rotationRetentionCheckInterval",
                "buffering",
                "security",
            ],
        )?;
        let log_directory = super::settings::log_directory(settings, data_dir)?;
        let (write_interval, max_size) = match object(settings, "buffering", &["writeInterval", "maxSize", "enabled"])? {
            None => (Duration::from_secs(1), 10_000),
            Some(buffering) => {
                let interval = duration(buffering, "buffering", "writeInterval")?.unwrap_or(Duration::from_secs(1));
                if interval.is_zero() {
                    return Err(SettingsError::new("buffering.writeInterval", "must be greater than 0"));
                }
                let size = integer(buffering, "buffering", "maxSize")?.unwrap_or(10_000);
                if size <= 0 || size > 10_000_000 {
                    return Err(SettingsError::new("buffering.maxSize", "must be between 1 and 10000000"));
                }
                // `enabled: false` writes each event as it comes.
                match boolean(buffering, "buffering", "enabled")? {
                    Some(false) => (Duration::ZERO, size as usize),
                    _ => (interval, size as usize),
                }
            }
        };
        Ok(JsonSettings {
            elasticsearch_compatible: boolean(settings, "", "elasticsearchCompatible")?.unwrap_or(false),
            rotation: RotationPolicy::from_settings(settings)?,
            retention: RetentionPolicy::from_settings(settings)?,
            write_interval,
            max_size,
            security: SecuritySettings::from_settings(settings, base_dir, &log_directory)?,
            log_directory,
        })
    }

    /// The live file of `topic`.
    pub fn file_name(topic: &str) -> String {
        format!("{topic}.audit.json")
    }
}

/// The JSON handler's formatting: one output per topic, in `topics` order.
#[derive(Debug)]
pub struct JsonHandler {
    /// Output index by topic.
    pub outputs: BTreeMap<String, usize>,
    /// `elasticsearchCompatible`.
    pub elasticsearch_compatible: bool,
}

impl NativeHandler for JsonHandler {
    fn record(&mut self, event: &HostEvent) -> Result<Vec<(usize, Vec<u8>)>, String> {
        let Some(&output) = self.outputs.get(&event.topic) else {
            return Ok(Vec::new());
        };
        let line = if self.elasticsearch_compatible {
            let value: Value = serde_json::from_str(&event.json).map_err(|e| format!("the event is not JSON: {e}"))?;
            crate::outputs::elasticsearch::normalize(value).to_string().into_bytes()
        } else {
            event.json.clone().into_bytes()
        };
        Ok(vec![(output, line)])
    }
}

impl JsonSettings {
    /// What `wasp config check` says.
    pub(crate) fn check(&self) -> super::Checked {
        let secure = if self.security.is_some() { ", tamper-evident" } else { "" };
        super::Checked { lines: vec![format!("files {}/<topic>.audit.json{secure}", self.log_directory.display())], problems: Vec::new() }
    }
}
