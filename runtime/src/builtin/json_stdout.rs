//! `JsonStdoutAuditEventHandler`: each event as one JSON line on standard
//! output, with its topic added as `_topic`; `elasticsearchCompatible` as
//! for the JSON file handler.

use serde_json::{Map, Value};

use super::NativeHandler;
use super::settings::{SettingsError, boolean, only};
use crate::event::HostEvent;

/// The settings of a `JsonStdoutAuditEventHandler`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct JsonStdoutSettings {
    /// `elasticsearchCompatible` (default false).
    pub elasticsearch_compatible: bool,
}

impl JsonStdoutSettings {
    /// Reads the handler's settings.
    pub fn from_settings(settings: &Map<String, Value>) -> Result<JsonStdoutSettings, SettingsError> {
        only(settings, "", &["elasticsearchCompatible"])?;
        Ok(JsonStdoutSettings { elasticsearch_compatible: boolean(settings, "", "elasticsearchCompatible")?.unwrap_or(false) })
    }
}

/// Formats events for stdout (one output).
#[derive(Debug)]
pub struct JsonStdoutHandler(pub JsonStdoutSettings);

impl NativeHandler for JsonStdoutHandler {
    fn record(&mut self, event: &HostEvent) -> Result<Vec<(usize, Vec<u8>)>, String> {
        let mut value: Value = serde_json::from_str(&event.json).map_err(|e| format!("the event is not JSON: {e}"))?;
        if self.0.elasticsearch_compatible {
            value = crate::outputs::elasticsearch::normalize(value);
        }
        if let Value::Object(map) = &mut value {
            map.insert("_topic".into(), Value::String(event.topic.clone()));
        }
        Ok(vec![(0, value.to_string().into_bytes())])
    }
}

impl JsonStdoutSettings {
    /// The handler with its output, standard output.
    pub(crate) fn open(&self) -> super::Opened {
        let sink: Box<dyn crate::outputs::Sink> = Box::new(crate::outputs::stdout::StdoutSink::new(&Default::default()));
        let output = super::OpenedOutput { name: "stdout".into(), kind: "stdout", location: "stdout".into(), sink };
        super::Opened::one(Box::new(JsonStdoutHandler(self.clone())), Ok(output), 10_000, std::time::Duration::ZERO)
    }
}
