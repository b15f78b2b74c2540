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
//! is. The output line's keys are in the order above; each value is written
//! as `serde_json` writes it (objects with sorted keys).
//!
//! # Cost
//!
//! The handler uses the SDK's fast path: [`Event::doc`] indexes the event's
//! top-level members without copying, the pointers are parsed once at `init`,
//! and the line is written with [`wasp_guest::json`] into a buffer kept across
//! events; no `serde_json::Value` tree is built (only for an object or array
//! value that is written out, such as `params`).

use std::collections::BTreeMap;

use serde::Deserialize;
use wasp_guest::json::{self, ObjectWriter, Pointer};
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
    /// Each field of the line with its pointers, parsed.
    fields: Vec<(&'static str, Vec<Pointer>)>,
    output: String,
    /// The line being written (kept to reuse its allocation).
    line: String,
}

impl Handler for AccessAnywhereFile {
    fn init(config: Config) -> Result<Self, String> {
        let mut settings: Settings = config.parse_into()?;
        let fields = FIELDS
            .iter()
            .map(|(name, defaults)| {
                let pointers = settings.mapping.remove(*name).unwrap_or_else(|| defaults.iter().map(|p| (*p).to_owned()).collect());
                (*name, pointers.iter().map(|p| Pointer::parse(p)).collect())
            })
            .collect();
        if let Some(unknown) = settings.mapping.keys().next() {
            return Err(format!(
                "config.mapping.{unknown}: not a field of the output line (fields: {})",
                FIELDS.map(|(n, _)| n).join(", ")
            ));
        }
        let output = settings.output.unwrap_or_else(|| "audit.log".into());
        Ok(AccessAnywhereFile { fields, output, line: String::with_capacity(512) })
    }

    fn handle(&mut self, event: &Event) -> Result<(), String> {
        let doc = event.doc()?;
        self.line.clear();
        let mut line = ObjectWriter::new(&mut self.line);
        for (name, pointers) in &self.fields {
            let value = pointers.iter().find_map(|p| doc.lookup_text(p));
            let out = line.key(name);
            match value {
                None => out.push_str("null"),
                Some(raw) if *name == "date" => match json::text_as_str(raw) {
                    Some(ts) => json::push_str(out, rfc822::from_iso8601(&ts).as_deref().unwrap_or(&ts)),
                    None => json::push_canonical_text(out, raw),
                },
                Some(raw) => json::push_canonical_text(out, raw),
            }
        }
        line.finish();
        emit(&self.output, &self.line)
    }
}

export_handler!(AccessAnywhereFile);
