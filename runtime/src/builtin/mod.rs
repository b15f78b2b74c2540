//! The built-in handlers: ForgeRock's `JsonAuditEventHandler`,
//! `JsonStdoutAuditEventHandler`, `CsvAuditEventHandler`, and the network
//! ones (Syslog, Elasticsearch, Splunk, JMS), configured
//! as in ForgeRock and run natively (no WebAssembly) by the same delivery
//! machinery as WASM handlers: the journal cursor, batches, outputs that
//! acknowledge only after a flush, dead letters.
//!
//! A built-in handler turns each event into one record for the output of
//! its topic; the outputs (log files with rotation, retention and tamper
//! evidence, or stdout) are in [`crate::outputs`].

mod class;
pub mod csv;
pub mod elasticsearch;
pub mod jdbc;
pub mod jms;
pub mod json;
pub mod json_stdout;
mod settings;
pub mod splunk;
pub mod syslog;

use std::sync::Arc;
use std::time::Duration;

use crate::engine::{BatchOutcome, StagedRecord};
use crate::event::HostEvent;
use crate::outputs::Sink;

pub use class::HandlerClass;
pub use settings::{SecuritySettings, SettingsError};

/// A handler that runs natively.
pub trait NativeHandler: Send {
    /// Formats each event into records (output index, bytes). An `Err` for
    /// an event dead-letters it with the message.
    fn record(&mut self, event: &HostEvent) -> Result<Vec<(usize, Vec<u8>)>, String>;
}

/// Runs a native handler over a batch, as the WASM path would.
pub(crate) fn handle_batch(handler: &mut dyn NativeHandler, events: &[Arc<HostEvent>]) -> BatchOutcome {
    let mut results = Vec::with_capacity(events.len());
    let mut staged = Vec::with_capacity(events.len());
    for event in events {
        match handler.record(event) {
            Ok(records) => {
                staged.extend(records.into_iter().map(|(output, data)| StagedRecord { sequence: event.sequence, output, data }));
                results.push(Ok(()));
            }
            Err(message) => results.push(Err(crate::engine::GuestError { message, truncated_bytes: 0 })),
        }
    }
    BatchOutcome { results, staged, fuel_used: 0 }
}

/// A built-in handler ready to run: its formatter and its outputs.
pub struct Opened {
    /// Turns events into records.
    pub handler: Box<dyn NativeHandler>,
    /// The outputs, or why they cannot be opened (the handler is then
    /// disabled and its events dead-lettered).
    pub outputs: Result<Vec<OpenedOutput>, String>,
    /// Events per batch.
    pub batch_max_size: usize,
    /// How long a batch waits to fill.
    pub batch_max_wait: Duration,
}

impl Opened {
    /// One output's handler, or why it could not be opened.
    fn one(
        handler: Box<dyn NativeHandler>,
        output: Result<OpenedOutput, String>,
        batch_max_size: usize,
        batch_max_wait: Duration,
    ) -> Opened {
        Opened { handler, outputs: output.map(|o| vec![o]), batch_max_size, batch_max_wait }
    }
}

/// One opened output of a built-in handler.
pub struct OpenedOutput {
    /// Its name in summaries.
    pub name: String,
    /// Its type in summaries.
    pub kind: &'static str,
    /// Where its records go, for people.
    pub location: String,
    /// The output.
    pub sink: Box<dyn Sink>,
}

/// What `wasp config check` says of a built-in handler's settings.
#[derive(Debug, Default)]
pub struct Checked {
    /// Lines describing where its records go.
    pub lines: Vec<String>,
    /// Problems, each naming the setting or the cause.
    pub problems: Vec<String>,
}

impl Checked {
    /// A problem if `enabled` and the probe failed.
    fn probe<E: std::fmt::Display>(&mut self, enabled: bool, probed: impl FnOnce() -> Result<(), E>) {
        if enabled && let Err(e) = probed() {
            self.problems.push(e.to_string());
        }
    }
}

/// The settings of a built-in handler, by class.
#[derive(Debug, Clone, PartialEq)]
pub enum BuiltinSettings {
    /// `JsonAuditEventHandler`.
    Json(json::JsonSettings),
    /// `JsonStdoutAuditEventHandler`.
    JsonStdout(json_stdout::JsonStdoutSettings),
    /// `CsvAuditEventHandler`.
    Csv(csv::CsvSettings),
    /// `SyslogAuditEventHandler`.
    Syslog(syslog::SyslogSettings),
    /// `SplunkAuditEventHandler`.
    Splunk(splunk::SplunkSettings),
    /// `ElasticsearchAuditEventHandler`.
    Elasticsearch(elasticsearch::ElasticsearchSettings),
    /// `JmsAuditEventHandler`.
    Jms(jms::JmsSettings),
    /// `JdbcAuditEventHandler`.
    Jdbc(jdbc::JdbcSettings),
}

impl BuiltinSettings {
    /// Reads a ForgeRock handler's settings for the classes WASP runs
    /// (`None` for the others, whose settings are kept as written).
    pub fn from_settings(
        class: HandlerClass,
        settings: &serde_json::Map<String, serde_json::Value>,
        base_dir: &std::path::Path,
        data_dir: &std::path::Path,
    ) -> Result<Option<BuiltinSettings>, SettingsError> {
        Ok(Some(match class {
            HandlerClass::Json => BuiltinSettings::Json(json::JsonSettings::from_settings(settings, base_dir, data_dir)?),
            HandlerClass::JsonStdout => BuiltinSettings::JsonStdout(json_stdout::JsonStdoutSettings::from_settings(settings)?),
            HandlerClass::Csv => BuiltinSettings::Csv(csv::CsvSettings::from_settings(settings, base_dir, data_dir)?),
            HandlerClass::Syslog => BuiltinSettings::Syslog(syslog::SyslogSettings::from_settings(settings, base_dir)?),
            HandlerClass::Splunk => BuiltinSettings::Splunk(splunk::SplunkSettings::from_settings(settings, base_dir)?),
            HandlerClass::Elasticsearch => {
                BuiltinSettings::Elasticsearch(elasticsearch::ElasticsearchSettings::from_settings(settings, base_dir)?)
            }
            HandlerClass::Jms => BuiltinSettings::Jms(jms::JmsSettings::from_settings(settings)?),
            HandlerClass::Jdbc => BuiltinSettings::Jdbc(jdbc::JdbcSettings::from_settings(settings, data_dir)?),
        }))
    }

    /// Opens a handler that needs nothing of the service: standard output
    /// and the network, database and broker classes. `None` for the file
    /// classes (JSON, CSV), whose directories, keys and checkpoints the
    /// service opens.
    pub fn open_standalone(&self) -> Option<Opened> {
        match self {
            BuiltinSettings::JsonStdout(s) => Some(s.open()),
            BuiltinSettings::Syslog(s) => Some(s.open()),
            BuiltinSettings::Splunk(s) => Some(s.open()),
            BuiltinSettings::Elasticsearch(s) => Some(s.open()),
            BuiltinSettings::Jms(s) => Some(s.open()),
            BuiltinSettings::Jdbc(s) => Some(s.open()),
            BuiltinSettings::Json(_) | BuiltinSettings::Csv(_) => None,
        }
    }

    /// What `wasp config check` prints of the handler (of `topics`), and
    /// its problems; receivers are probed only for an `enabled` handler.
    pub fn check(&self, topics: &[String], enabled: bool) -> Checked {
        match self {
            BuiltinSettings::Json(s) => s.check(),
            BuiltinSettings::JsonStdout(_) => Checked { lines: vec!["standard output".into()], problems: Vec::new() },
            BuiltinSettings::Csv(s) => s.check(),
            BuiltinSettings::Syslog(s) => s.check(enabled),
            BuiltinSettings::Splunk(s) => s.check(enabled),
            BuiltinSettings::Elasticsearch(s) => s.check(enabled),
            BuiltinSettings::Jms(s) => s.check(enabled),
            BuiltinSettings::Jdbc(s) => s.check(topics, enabled),
        }
    }

    /// The directory of the log files (`None`: standard output).
    pub fn log_directory(&self) -> Option<&std::path::Path> {
        match self {
            BuiltinSettings::Json(s) => Some(&s.log_directory),
            BuiltinSettings::Csv(s) => Some(&s.log_directory),
            BuiltinSettings::JsonStdout(_)
            | BuiltinSettings::Syslog(_)
            | BuiltinSettings::Splunk(_)
            | BuiltinSettings::Elasticsearch(_)
            | BuiltinSettings::Jms(_)
            | BuiltinSettings::Jdbc(_) => None,
        }
    }

    /// Tamper evidence, when enabled.
    pub fn security(&self) -> Option<&SecuritySettings> {
        match self {
            BuiltinSettings::Json(s) => s.security.as_ref(),
            BuiltinSettings::Csv(s) => s.security.as_ref(),
            BuiltinSettings::JsonStdout(_)
            | BuiltinSettings::Syslog(_)
            | BuiltinSettings::Splunk(_)
            | BuiltinSettings::Elasticsearch(_)
            | BuiltinSettings::Jms(_)
            | BuiltinSettings::Jdbc(_) => None,
        }
    }
}
