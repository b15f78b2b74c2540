//! Severity router: what ForgeRock's Syslog handler promises with
//! `severityFieldMappings` ("the correspondence between audit event fields
//! and Syslog severity values", seed `002`), as a WASP handler: each event
//! gets a syslog severity from one of its field values and goes, unchanged,
//! to the output of that severity.
//!
//! # Configuration (the handler's `config`)
//!
//! ```json
//! {
//!   "severityFieldMappings": [
//!     { "topic": "access", "field": "response/status",
//!       "valueMappings": { "FAILED": "WARNING", "SUCCESSFUL": "INFORMATIONAL" } }
//!   ],
//!   "defaultSeverity": "INFORMATIONAL",
//!   "outputs": { "debug": null }
//! }
//! ```
//!
//! | setting | default | meaning |
//! |---|---|---|
//! | `severityFieldMappings` | `[]` | ForgeRock's shape, as in the Syslog handler: `topic`, `field` (a JSON pointer, with or without the leading `/`), `valueMappings` (value → severity) |
//! | `defaultSeverity` | `"INFORMATIONAL"` | the severity of an event no mapping matches (the seed does not say what ForgeRock does then; informational is the severity of ordinary audit records) |
//! | `outputs` | each severity → the output of its own name | severity → output name, or `null` to discard events of that severity |
//!
//! Severities are the eight of RFC 5424, named as ForgeRock names them, in
//! any case: `EMERGENCY`, `ALERT`, `CRITICAL`, `ERROR`, `WARNING`, `NOTICE`,
//! `INFORMATIONAL`, `DEBUG`.
//!
//! # Matching
//!
//! For an event, the mappings of its topic are tried in configuration
//! order; the first whose `field` is present with a value listed in
//! `valueMappings` decides. A string value is looked up as it is; a number
//! or boolean by its JSON text (`500`, `true`), so an HTTP status code can
//! be mapped too. No match: `defaultSeverity`.
//!
//! # Output
//!
//! The event's JSON document, unchanged, one record, to the severity's
//! output. An output the handler's configuration does not declare fails
//! the event (it is dead-lettered with `emit`'s message), so a missing
//! output is seen, not silently skipped: declare it or route the severity
//! to `null`.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;
use wasp_guest::{Config, Event, Handler, emit, export_handler};

/// The syslog severities (RFC 5424 §6.2.1), by code.
const SEVERITIES: [&str; 8] = ["emergency", "alert", "critical", "error", "warning", "notice", "informational", "debug"];

/// One of the eight severities, by its RFC 5424 code (0–7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Severity(usize);

impl Severity {
    fn parse(name: &str, path: &str) -> Result<Self, String> {
        SEVERITIES.iter().position(|s| s.eq_ignore_ascii_case(name)).map(Severity).ok_or_else(|| {
            format!("handler config: {path}: `{name}` is not a syslog severity, expected one of {}", SEVERITIES.join(", ").to_uppercase())
        })
    }
}

/// ForgeRock's `severityFieldMappings[]` entry.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawMapping {
    topic: String,
    field: String,
    value_mappings: BTreeMap<String, String>,
}

/// The handler's `config` object.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Settings {
    #[serde(default)]
    severity_field_mappings: Vec<RawMapping>,
    #[serde(default)]
    default_severity: Option<String>,
    #[serde(default)]
    outputs: BTreeMap<String, Option<String>>,
}

struct Mapping {
    topic: String,
    pointer: String,
    values: BTreeMap<String, Severity>,
}

struct SeverityRouter {
    mappings: Vec<Mapping>,
    default: Severity,
    /// Output per severity code; `None`: discarded.
    outputs: [Option<String>; 8],
}

impl Handler for SeverityRouter {
    fn init(config: Config) -> Result<Self, String> {
        let s: Settings = config.parse_into()?;
        let mut mappings = Vec::new();
        for (i, m) in s.severity_field_mappings.into_iter().enumerate() {
            let mut values = BTreeMap::new();
            for (value, severity) in m.value_mappings {
                let path = format!("severityFieldMappings[{i}].valueMappings.{value}");
                values.insert(value, Severity::parse(&severity, &path)?);
            }
            let pointer = if m.field.starts_with('/') { m.field } else { format!("/{}", m.field) };
            mappings.push(Mapping { topic: m.topic, pointer, values });
        }
        let default = match &s.default_severity {
            Some(name) => Severity::parse(name, "defaultSeverity")?,
            None => Severity(6),
        };
        let mut outputs: [Option<String>; 8] = SEVERITIES.map(|s| Some(s.to_owned()));
        for (severity, output) in s.outputs {
            outputs[Severity::parse(&severity, &format!("outputs.{severity}"))?.0] = output;
        }
        Ok(SeverityRouter { mappings, default, outputs })
    }

    fn handle(&mut self, event: &Event) -> Result<(), String> {
        let severity = self.severity(event);
        let Some(output) = &self.outputs[severity.0] else {
            return Ok(());
        };
        emit(output, event.raw_json()).map_err(|e| format!("severity {}: {e}", SEVERITIES[severity.0].to_uppercase()))
    }
}

impl SeverityRouter {
    fn severity(&self, event: &Event) -> Severity {
        for mapping in self.mappings.iter().filter(|m| m.topic == event.topic()) {
            let found = match event.get(&mapping.pointer) {
                Some(Value::String(text)) => mapping.values.get(text.as_str()),
                Some(value @ (Value::Number(_) | Value::Bool(_))) => mapping.values.get(&value.to_string()),
                _ => None,
            };
            if let Some(&severity) = found {
                return severity;
            }
        }
        self.default
    }
}

export_handler!(SeverityRouter);
