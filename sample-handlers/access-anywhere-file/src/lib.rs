//! The Access Anywhere `SampleFileAuditEventHandler`, ported to a WASP
//! handler.
//!
//! The original (PHP, `handleEvent(AuditEvent)`) writes, for every audit
//! event, a JSON line with `actor`, `eventType`, `ip`, `date` (RFC 822),
//! `log_str`, `name`, `objid` and `params` to a local `audit.log`. Here it
//! emits the same line to the handler's `audit.log` output; the host owns the
//! file, and a failure here can never reach the application's request path.
//!
//! # Mapping
//!
//! Each field is taken from the first JSON pointer of its list that is
//! present in the event (ForgeRock common audit event fields first); absent
//! everywhere, it is `null`. The handler's `config` may replace any list:
//! `{"mapping": {"ip": ["/client/ip", "/http/request/headers/x-forwarded-for/0"]}}`.
//!
//! | field | pointers (default) |
//! |---|---|
//! | `actor` | `/userId`, `/principal/0`, `/actor` |
//! | `eventType` | `/eventName`, `/eventType` |
//! | `ip` | `/client/ip`, `/ip` |
//! | `date` | `/timestamp`, formatted as RFC 822 (`Sun, 22 Nov 26 04:44:00 +0000`) |
//! | `log_str` | `/log`, `/operation`, `/request/operation`, `/result` |
//! | `name` | `/name`, `/component` |
//! | `objid` | `/objectId`, `/objid` |
//! | `params` | `/params`, `/request/detail`, `/changedFields` |
//!
//! `date` is written in UTC; a timestamp that is not ISO-8601 is copied as it
//! is. The output line's keys are in the order above.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;
use wasp_guest::{Config, Event, Handler, emit, export_handler};

mod rfc822;

/// The fields of one output line, in order, with their default pointers.
const FIELDS: [(&str, &[&str]); 8] = [
    ("actor", &["/userId", "/principal/0", "/actor"]),
    ("eventType", &["/eventName", "/eventType"]),
    ("ip", &["/client/ip", "/ip"]),
    ("date", &["/timestamp"]),
    ("log_str", &["/log", "/operation", "/request/operation", "/result"]),
    ("name", &["/name", "/component"]),
    ("objid", &["/objectId", "/objid"]),
    ("params", &["/params", "/request/detail", "/changedFields"]),
];

/// The handler's `config` object.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Settings {
    /// Replaces the pointer list of the named fields.
    #[serde(default)]
    mapping: BTreeMap<String, Vec<String>>,
    /// The output the lines go to (default `audit.log`).
    #[serde(default)]
    output: Option<String>,
}

struct AccessAnywhereFile {
    fields: Vec<(&'static str, Vec<String>)>,
    output: String,
}

impl Handler for AccessAnywhereFile {
    fn init(config: Config) -> Result<Self, String> {
        let mut settings: Settings = config.parse_into()?;
        let fields = FIELDS
            .iter()
            .map(|(name, defaults)| {
                let pointers = settings
                    .mapping
                    .remove(*name)
                    .unwrap_or_else(|| defaults.iter().map(|p| (*p).to_owned()).collect());
                (*name, pointers)
            })
            .collect();
        if let Some(unknown) = settings.mapping.keys().next() {
            return Err(format!(
                "config.mapping.{unknown}: not a field of the output line (fields: {})",
                FIELDS.map(|(n, _)| n).join(", ")
            ));
        }
        Ok(AccessAnywhereFile { fields, output: settings.output.unwrap_or_else(|| "audit.log".into()) })
    }

    fn handle(&mut self, event: &Event) -> Result<(), String> {
        let document = event.json()?;
        let mut line = String::with_capacity(256);
        for (name, pointers) in &self.fields {
            let value = pointers.iter().find_map(|p| document.pointer(p)).cloned().unwrap_or(Value::Null);
            let value = match (*name, value) {
                ("date", Value::String(ts)) => Value::String(rfc822::from_iso8601(&ts).unwrap_or(ts)),
                (_, value) => value,
            };
            line.push(if line.is_empty() { '{' } else { ',' });
            line.push_str(&Value::String((*name).to_owned()).to_string());
            line.push(':');
            line.push_str(&value.to_string());
        }
        line.push('}');
        emit(&self.output, line)
    }
}

export_handler!(AccessAnywhereFile);
