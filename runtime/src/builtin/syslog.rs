//! `SyslogAuditEventHandler`: each event as an RFC 5424 message to a syslog
//! daemon (see [`crate::outputs::syslog`] for the layout and the
//! transports), configured as in ForgeRock: `protocol`, `host`, `port`,
//! `connectTimeout`, `facility`, `buffering`, `severityFieldMappings`, and
//! `productName` (APP-NAME). Beyond ForgeRock: protocol `TLS` with `tls`
//! (`caFile`, `certFile`, `keyFile`, `serverName`).

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{Map, Value};

use super::NativeHandler;
use super::settings::{SettingsError, boolean, integer, object, only, port, string};
use crate::event::HostEvent;
use crate::outputs::syslog::format;
use crate::outputs::syslog::{Protocol, SyslogTarget, TlsFiles};

/// One `severityFieldMappings` entry: the event field (a JSON pointer; a
/// leading `/` is optional) whose value picks the severity.
#[derive(Debug, Clone, PartialEq)]
pub struct SeverityMapping {
    /// The field, as a JSON pointer.
    pub field: String,
    /// Field value → severity code (0 emergency … 7 debug).
    pub values: BTreeMap<String, u8>,
}

/// The settings of a `SyslogAuditEventHandler`.
#[derive(Debug, Clone, PartialEq)]
pub struct SyslogSettings {
    /// Where and how messages go.
    pub target: SyslogTarget,
    /// `facility` (required): `kern` … `local7`.
    pub facility: u8,
    /// `productName`: the APP-NAME of every message (default `wasp`).
    pub product_name: String,
    /// `severityFieldMappings`, by topic. An event whose field value is not
    /// mapped (or without the field) is `informational`.
    pub severities: BTreeMap<String, SeverityMapping>,
    /// `buffering.maxSize` (default 5000): at most this many events are sent
    /// together (the handler's batch size).
    pub max_size: usize,
    /// How long events may wait to be sent together: 100 ms with
    /// `buffering.enabled`, none without (each event as it comes).
    pub write_interval: Duration,
}

impl SyslogSettings {
    /// Reads the handler's settings (besides name, topics and enabled).
    pub fn from_settings(settings: &Map<String, Value>, base_dir: &std::path::Path) -> Result<SyslogSettings, SettingsError> {
        only(
            settings,
            "",
            &["protocol", "host", "port", "connectTimeout", "facility", "buffering", "severityFieldMappings", "productName", "tls"],
        )?;
        let required = |key: &str| SettingsError::new(key, "required");
        let protocol_text = string(settings, "", "protocol")?.ok_or_else(|| required("protocol"))?;
        let protocol = Protocol::parse(&protocol_text).ok_or_else(|| {
            SettingsError::new("protocol", format!("`{protocol_text}` is not a syslog transport (expected TCP, UDP or TLS)"))
        })?;
        let host = string(settings, "", "host")?.ok_or_else(|| required("host"))?;
        let host = SyslogTarget::bare_host(&host);
        if host.is_empty() || host.contains(['/', ' ']) {
            return Err(SettingsError::new("host", format!("`{host}` is not a host name or address")));
        }
        let port = port(integer(settings, "", "port")?.ok_or_else(|| required("port"))?, "port")?;
        let connect_timeout = match integer(settings, "", "connectTimeout")? {
            None => Duration::from_secs(30),
            Some(ms) if ms > 0 => Duration::from_millis(u64::try_from(ms).unwrap_or(u64::MAX)),
            Some(ms) => {
                return Err(SettingsError::new("connectTimeout", format!("{ms}: must be a number of milliseconds greater than 0")));
            }
        };
        let facility_text = string(settings, "", "facility")?.ok_or_else(|| required("facility"))?;
        let facility = format::facility(&facility_text).ok_or_else(|| {
            let known: Vec<&str> = format::FACILITIES.iter().map(|(n, _)| *n).collect();
            SettingsError::new("facility", format!("`{facility_text}` is not a syslog facility (expected one of {})", known.join(", ")))
        })?;
        let (max_size, write_interval) = match object(settings, "buffering", &["enabled", "maxSize"])? {
            None => (5000, Duration::ZERO),
            Some(buffering) => {
                let size = integer(buffering, "buffering", "maxSize")?.unwrap_or(5000);
                if size <= 0 || size > 10_000_000 {
                    return Err(SettingsError::new("buffering.maxSize", "must be between 1 and 10000000"));
                }
                let wait =
                    if boolean(buffering, "buffering", "enabled")?.unwrap_or(false) { Duration::from_millis(100) } else { Duration::ZERO };
                (size as usize, wait)
            }
        };
        let mut severities = BTreeMap::new();
        match settings.get("severityFieldMappings") {
            None | Some(Value::Null) => {}
            Some(Value::Array(entries)) => {
                for (i, entry) in entries.iter().enumerate() {
                    let at = format!("severityFieldMappings[{i}]");
                    let Value::Object(entry) = entry else {
                        return Err(SettingsError::new(&at, "expected an object"));
                    };
                    only(entry, &at, &["topic", "field", "valueMappings"])?;
                    let topic = string(entry, &at, "topic")?.ok_or_else(|| SettingsError::new(format!("{at}.topic"), "required"))?;
                    let field = string(entry, &at, "field")?.ok_or_else(|| SettingsError::new(format!("{at}.field"), "required"))?;
                    let field = if field.starts_with('/') { field } else { format!("/{field}") };
                    let Some(Value::Object(mappings)) = entry.get("valueMappings") else {
                        return Err(SettingsError::new(format!("{at}.valueMappings"), "required: an object of field value → severity"));
                    };
                    let mut values = BTreeMap::new();
                    for (value, severity) in mappings {
                        let name = severity.as_str().unwrap_or_default();
                        let code = format::severity(name).ok_or_else(|| {
                            let known: Vec<&str> = format::SEVERITIES.iter().map(|(n, _)| *n).collect();
                            SettingsError::new(
                                format!("{at}.valueMappings.{value}"),
                                format!("`{severity}` is not a syslog severity (expected one of {})", known.join(", ")),
                            )
                        })?;
                        values.insert(value.clone(), code);
                    }
                    if severities.insert(topic.clone(), SeverityMapping { field, values }).is_some() {
                        return Err(SettingsError::new(format!("{at}.topic"), format!("topic `{topic}` has two severity mappings")));
                    }
                }
            }
            Some(_) => {
                return Err(SettingsError::new("severityFieldMappings", "expected a list of {topic, field, valueMappings}"));
            }
        }
        let tls = match object(settings, "tls", &["caFile", "certFile", "keyFile", "serverName"])? {
            None => TlsFiles::default(),
            Some(tls) => {
                let file = |key: &str| -> Result<Option<std::path::PathBuf>, SettingsError> {
                    Ok(string(tls, "tls", key)?.map(|p| base_dir.join(p)))
                };
                TlsFiles {
                    ca_file: file("caFile")?,
                    cert_file: file("certFile")?,
                    key_file: file("keyFile")?,
                    server_name: string(tls, "tls", "serverName")?,
                }
            }
        };
        if protocol == Protocol::Tls {
            let ca = tls.ca_file.as_ref().ok_or_else(|| {
                SettingsError::new("tls.caFile", "required with protocol TLS: the CA (PEM) that signed the daemon's certificate")
            })?;
            if let Err(e) = std::fs::metadata(ca) {
                return Err(SettingsError::new("tls.caFile", format!("{}: {e}", ca.display())));
            }
            if tls.cert_file.is_some() != tls.key_file.is_some() {
                return Err(SettingsError::new("tls", "`certFile` and `keyFile` go together"));
            }
        } else if settings.contains_key("tls") {
            return Err(SettingsError::new("tls", format!("only with protocol TLS (this handler uses {protocol_text})")));
        }
        Ok(SyslogSettings {
            target: SyslogTarget { host, port, protocol, connect_timeout, write_timeout: Duration::from_secs(30), tls },
            facility,
            product_name: string(settings, "", "productName")?.unwrap_or_else(|| "wasp".to_owned()),
            severities,
            max_size,
            write_interval,
        })
    }
}

/// Formats events into syslog messages (one output).
#[derive(Debug)]
pub struct SyslogHandler {
    /// The settings.
    pub settings: SyslogSettings,
    /// HOSTNAME of every message.
    pub hostname: String,
}

impl SyslogHandler {
    /// The severity of the event `fields` of `topic`.
    pub fn severity(&self, topic: &str, fields: &format::Fields<'_>) -> u8 {
        let informational = 6;
        let Some(mapping) = self.settings.severities.get(topic) else {
            return informational;
        };
        match format::lookup(fields, &mapping.field) {
            Some(Value::String(s)) => mapping.values.get(&s).copied().unwrap_or(informational),
            Some(other) if !other.is_null() => mapping.values.get(&other.to_string()).copied().unwrap_or(informational),
            _ => informational,
        }
    }
}

impl NativeHandler for SyslogHandler {
    fn record(&mut self, event: &HostEvent) -> Result<Vec<(usize, Vec<u8>)>, String> {
        let fields = format::fields(&event.json)?;
        let severity = self.severity(&event.topic, &fields);
        let message = format::message(self.settings.facility, severity, &self.hostname, &self.settings.product_name, &event.topic, &fields);
        Ok(vec![(0, message.into_bytes())])
    }
}

impl SyslogSettings {
    /// The handler with its connection to the daemon.
    pub(crate) fn open(&self) -> super::Opened {
        let output = crate::outputs::syslog::SyslogSink::new(self.target.clone())
            .map(|sink| super::OpenedOutput {
                name: "syslog".into(),
                kind: "syslog",
                location: self.target.location(),
                sink: Box::new(sink),
            })
            .map_err(|e| format!("the syslog output: {e}"));
        let handler = SyslogHandler { settings: self.clone(), hostname: format::local_hostname() };
        super::Opened::one(Box::new(handler), output, self.max_size, self.write_interval)
    }

    /// What `wasp config check` says; the daemon is probed when `enabled`.
    pub(crate) fn check(&self, enabled: bool) -> super::Checked {
        let mut checked = super::Checked {
            lines: vec![format!("syslog {} (facility {}, app {})", self.target.location(), self.facility, self.product_name)],
            problems: Vec::new(),
        };
        checked.probe(enabled, || {
            crate::outputs::check_network(&self.target.host, self.target.port, || {
                crate::outputs::syslog::SyslogSink::new(self.target.clone()).map(drop)
            })
        });
        checked
    }
}
