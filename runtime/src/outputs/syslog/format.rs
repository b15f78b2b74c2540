//! RFC 5424 messages as ForgeRock's syslog handler lays them out:
//!
//! ```text
//! <PRI>1 TIMESTAMP HOSTNAME APP-NAME - MSGID [<topic>@36733 name="value" …]
//! ```
//!
//! PRI is `facility × 8 + severity`; TIMESTAMP the event's `timestamp`;
//! MSGID the topic; the structured data element is named after the topic
//! with ForgeRock's private enterprise number (36733), one parameter per
//! top-level field of the event (objects and arrays as their JSON text),
//! values escaped as RFC 5424 requires (`"`, `\` and `]` preceded by `\`).
//! There is no free-form MSG part.

use serde_json::Value;

/// ForgeRock's IANA private enterprise number, in every SD-ID.
pub const ENTERPRISE_ID: u32 = 36733;

/// The facilities of RFC 5424 by ForgeRock's names.
pub const FACILITIES: [(&str, u8); 24] = [
    ("kern", 0),
    ("user", 1),
    ("mail", 2),
    ("daemon", 3),
    ("auth", 4),
    ("syslog", 5),
    ("lpr", 6),
    ("news", 7),
    ("uucp", 8),
    ("cron", 9),
    ("authpriv", 10),
    ("ftp", 11),
    ("ntp", 12),
    ("logaudit", 13),
    ("logalert", 14),
    ("clockd", 15),
    ("local0", 16),
    ("local1", 17),
    ("local2", 18),
    ("local3", 19),
    ("local4", 20),
    ("local5", 21),
    ("local6", 22),
    ("local7", 23),
];

/// The severities of RFC 5424 by ForgeRock's names.
pub const SEVERITIES: [(&str, u8); 8] =
    [("emergency", 0), ("alert", 1), ("critical", 2), ("error", 3), ("warning", 4), ("notice", 5), ("informational", 6), ("debug", 7)];

/// A facility's code by name, any case.
pub fn facility(name: &str) -> Option<u8> {
    FACILITIES.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, c)| *c)
}

/// A severity's code by name, any case.
pub fn severity(name: &str) -> Option<u8> {
    SEVERITIES.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, c)| *c)
}

/// An RFC 5424 header field: printable US-ASCII without spaces, at most
/// `max` characters, `-` when empty.
pub fn header_field(text: &str, max: usize) -> String {
    let cleaned: String = text.chars().filter(|c| c.is_ascii_graphic()).take(max).collect();
    if cleaned.is_empty() { "-".to_owned() } else { cleaned }
}

/// An SD-NAME: printable US-ASCII except `=`, space, `]` and `"`, at most
/// 32 characters.
fn sd_name(text: &str) -> String {
    let cleaned: String = text.chars().filter(|c| c.is_ascii_graphic() && !matches!(c, '=' | ']' | '"')).take(32).collect();
    if cleaned.is_empty() { "_".to_owned() } else { cleaned }
}

/// A PARAM-VALUE, escaped.
fn escape(value: &str, out: &mut String) {
    for c in value.chars() {
        if matches!(c, '"' | '\\' | ']') {
            out.push('\\');
        }
        out.push(c);
    }
}

/// The top-level fields of an event's JSON text, each as its raw JSON
/// (sorted by name; nothing below the top level is parsed).
pub type Fields<'a> = std::collections::BTreeMap<String, &'a serde_json::value::RawValue>;

/// Reads the top-level fields of `json` (an object).
pub fn fields(json: &str) -> Result<Fields<'_>, String> {
    serde_json::from_str(json).map_err(|e| format!("the event is not a JSON object: {e}"))
}

/// A field's value at `pointer` (`/a/b`), when present.
pub fn lookup(fields: &Fields<'_>, pointer: &str) -> Option<Value> {
    let rest = pointer.strip_prefix('/')?;
    let (first, deeper) = match rest.split_once('/') {
        Some((first, deeper)) => (first, Some(deeper)),
        None => (rest, None),
    };
    let first = first.replace("~1", "/").replace("~0", "~");
    let value: Value = serde_json::from_str(fields.get(&first)?.get()).ok()?;
    match deeper {
        None => Some(value),
        Some(deeper) => value.pointer(&format!("/{deeper}")).cloned(),
    }
}

/// One message for the event `fields` of `topic`.
pub fn message(facility: u8, severity: u8, hostname: &str, app_name: &str, topic: &str, fields: &Fields<'_>) -> String {
    let timestamp = fields
        .get("timestamp")
        .and_then(|raw| serde_json::from_str::<std::borrow::Cow<'_, str>>(raw.get()).ok())
        .map_or_else(|| "-".to_owned(), |t| header_field(&t, 64));
    let mut out = format!(
        "<{}>1 {timestamp} {} {} - {} [{}@{ENTERPRISE_ID}",
        u16::from(facility) * 8 + u16::from(severity),
        header_field(hostname, 255),
        header_field(app_name, 48),
        header_field(topic, 32),
        sd_name(topic),
    );
    for (name, raw) in fields {
        out.push(' ');
        out.push_str(&sd_name(name));
        out.push_str("=\"");
        let text = raw.get();
        if text.starts_with('"') {
            match serde_json::from_str::<std::borrow::Cow<'_, str>>(text) {
                Ok(s) => escape(&s, &mut out),
                Err(_) => escape(text, &mut out),
            }
        } else if text != "null" {
            escape(text, &mut out);
        }
        out.push('"');
    }
    out.push(']');
    out
}

/// This machine's host name (`-` when unknown), for HOSTNAME.
pub fn local_hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "-".to_owned())
}
