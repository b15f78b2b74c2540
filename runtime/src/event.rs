//! Audit events as the host holds them: validated on publish, given an `_id`
//! and a sequence number, and lowered to the WIT `event` record for handlers.

use serde_json::{Map, Value};

/// Default maximum size of one event's JSON text.
pub const DEFAULT_MAX_EVENT_BYTES: usize = 1 << 20;

/// Why an event was refused at publish. Every variant concerns the event
/// itself; a handler's faults never surface here.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PublishError {
    /// The text is not JSON.
    #[error("event is not valid JSON: {0}")]
    InvalidJson(String),
    /// The JSON is not an object.
    #[error("event must be a JSON object, found {0}")]
    NotAnObject(&'static str),
    /// No handler and no standard topic has this name.
    #[error("unknown topic `{topic}` (known topics: {known})")]
    UnknownTopic {
        /// The topic given.
        topic: String,
        /// The topics this service knows, comma-separated.
        known: String,
    },
    /// The event is larger than the configured maximum.
    #[error("event is {size} bytes, more than the maximum of {max} bytes")]
    TooLarge {
        /// The event's size in bytes.
        size: usize,
        /// The maximum.
        max: usize,
    },
    /// A field the host relies on has the wrong type.
    #[error("event field `{field}` must be {expected}, found {found}")]
    InvalidField {
        /// The field's name.
        field: &'static str,
        /// What it must be.
        expected: &'static str,
        /// What it was.
        found: &'static str,
    },
    /// A field every event must carry is missing (`wasp.validation.requiredFields`).
    #[error("event field `{field}` is required")]
    MissingField {
        /// The field.
        field: String,
    },
    /// `timestamp` is not an ISO-8601 UTC date and time.
    #[error("event field `timestamp` must be an ISO-8601 UTC date and time such as `2026-11-22T06:00:00Z`, found `{found}`")]
    InvalidTimestamp {
        /// What was given.
        found: String,
    },
    /// The event nests objects and arrays deeper than `wasp.validation.maxDepth`.
    #[error("event nests deeper than the maximum of {max} levels at `{pointer}`")]
    TooDeep {
        /// Where the limit was passed.
        pointer: String,
        /// The maximum.
        max: usize,
    },
    /// The event breaks its topic's schema (validation mode `reject`).
    #[error("event does not match the `{topic}` schema: {}", violations.iter().map(|v| format!("`{}` ({}): {}", if v.0.is_empty() { "/" } else { &v.0 }, v.1, v.2)).collect::<Vec<_>>().join("; "))]
    Schema {
        /// The topic.
        topic: String,
        /// Each violation: JSON pointer, rule, message.
        violations: Vec<(String, String, String)>,
    },
    /// The service is shutting down and accepts no more events.
    #[error("the audit service is shutting down")]
    ShuttingDown,
    /// The journal is at its bound (`wasp.journal.maxEvents`/`maxBytes`)
    /// and its overflow policy refused the event: handlers are behind.
    #[error("the journal is full ({max_events} events or {max_bytes} bytes waiting for handlers): retry later")]
    Overloaded {
        /// `maxEvents`.
        max_events: usize,
        /// `maxBytes`.
        max_bytes: usize,
    },
    /// The journal could not store the event (e.g. its disk is full); the
    /// event was not accepted.
    #[error("the journal cannot store the event: {0}")]
    Storage(String),
    /// `fsync` durability: the event was accepted and will be delivered,
    /// but the disk flush covering it did not finish within
    /// `wasp.journal.fsyncTimeout`.
    #[error("event {sequence} was accepted but not yet flushed to disk after {waited:?}")]
    NotYetDurable {
        /// Its sequence number.
        sequence: u64,
        /// How long publish waited.
        waited: std::time::Duration,
    },
    /// No tenant has this name.
    #[error("unknown tenant `{tenant}` (known tenants: {known})")]
    UnknownTenant {
        /// The tenant given.
        tenant: String,
        /// The configured tenants, comma-separated.
        known: String,
    },
    /// The tenant published more events per second than its quota; the
    /// event was not accepted (the tenant's summary counts it).
    #[error("tenant `{tenant}` is over its quota of {per_second} events per second")]
    QuotaExceeded {
        /// The tenant.
        tenant: String,
        /// Its `quotas.eventsPerSecond`.
        per_second: u64,
    },
}

/// An accepted event.
#[derive(Debug, Clone, PartialEq)]
pub struct HostEvent {
    /// The event's `_id`.
    pub id: String,
    /// The topic.
    pub topic: String,
    /// The journal sequence number (0 until appended).
    pub sequence: u64,
    /// The tenant it was published for (`None`: published without one; only
    /// top-level handlers see it).
    pub tenant: Option<String>,
    /// The event's `timestamp`.
    pub timestamp: String,
    /// The event's `eventName`.
    pub event_name: Option<String>,
    /// The event's `transactionId`.
    pub transaction_id: Option<String>,
    /// The event's `userId`.
    pub user_id: Option<String>,
    /// The whole document as JSON text.
    pub json: String,
}

/// Input accepted by [`AuditService::publish`](crate::AuditService::publish):
/// a `serde_json::Value` or JSON text.
pub trait IntoEvent {
    /// The event document, or why it is not one.
    fn into_document(self, max_bytes: usize) -> Result<Map<String, Value>, PublishError>;
}

impl IntoEvent for Value {
    fn into_document(self, _max_bytes: usize) -> Result<Map<String, Value>, PublishError> {
        match self {
            Value::Object(map) => Ok(map),
            other => Err(PublishError::NotAnObject(json_type(&other))),
        }
    }
}

impl IntoEvent for &Value {
    fn into_document(self, max_bytes: usize) -> Result<Map<String, Value>, PublishError> {
        self.clone().into_document(max_bytes)
    }
}

impl IntoEvent for &str {
    fn into_document(self, max_bytes: usize) -> Result<Map<String, Value>, PublishError> {
        if self.len() > max_bytes {
            return Err(PublishError::TooLarge { size: self.len(), max: max_bytes });
        }
        serde_json::from_str::<Value>(self).map_err(|e| PublishError::InvalidJson(e.to_string()))?.into_document(max_bytes)
    }
}

impl IntoEvent for String {
    fn into_document(self, max_bytes: usize) -> Result<Map<String, Value>, PublishError> {
        self.as_str().into_document(max_bytes)
    }
}

impl IntoEvent for &String {
    fn into_document(self, max_bytes: usize) -> Result<Map<String, Value>, PublishError> {
        self.as_str().into_document(max_bytes)
    }
}

/// The JSON type name of a value, for error messages.
pub fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Checks the fields every event must carry, the timestamp's form (ISO-8601
/// UTC, when `timestamp` is a required field, as ForgeRock requires) and the
/// nesting depth (the schema check is separate).
pub fn check_basics(doc: &Map<String, Value>, required: &[String], max_depth: usize) -> Result<(), PublishError> {
    for field in required {
        match doc.get(field) {
            None | Some(Value::Null) => {
                return Err(PublishError::MissingField { field: field.clone() });
            }
            Some(Value::String(s)) if s.is_empty() => {
                return Err(PublishError::MissingField { field: field.clone() });
            }
            _ => {}
        }
    }
    if let (true, Some(Value::String(ts))) = (required.iter().any(|f| f == "timestamp"), doc.get("timestamp")) {
        let utc = ts.strip_suffix("+00:00").map(|t| format!("{t}Z"));
        if humantime::parse_rfc3339(utc.as_deref().unwrap_or(ts)).is_err() {
            return Err(PublishError::InvalidTimestamp { found: ts.clone() });
        }
    }
    fn depth(value: &Value, pointer: &mut String, level: usize, max: usize) -> Result<(), PublishError> {
        let children: Box<dyn Iterator<Item = (String, &Value)>> = match value {
            Value::Object(map) => Box::new(map.iter().map(|(k, v)| (k.replace('~', "~0").replace('/', "~1"), v))),
            Value::Array(items) => Box::new(items.iter().enumerate().map(|(i, v)| (i.to_string(), v))),
            _ => return Ok(()),
        };
        if level > max {
            return Err(PublishError::TooDeep { pointer: if pointer.is_empty() { "/".into() } else { pointer.clone() }, max });
        }
        for (key, child) in children {
            let len = pointer.len();
            pointer.push('/');
            pointer.push_str(&key);
            depth(child, pointer, level + 1, max)?;
            pointer.truncate(len);
        }
        Ok(())
    }
    /// Whether `value` (at `level`) nests no deeper than `max`; allocates
    /// nothing (the pointer is built only for an event that fails).
    fn within(value: &Value, level: usize, max: usize) -> bool {
        match value {
            Value::Object(map) => level <= max && map.values().all(|v| within(v, level + 1, max)),
            Value::Array(items) => level <= max && items.iter().all(|v| within(v, level + 1, max)),
            _ => true,
        }
    }
    for (key, value) in doc {
        if within(value, 2, max_depth) {
            continue;
        }
        let mut pointer = format!("/{}", key.replace('~', "~0").replace('/', "~1"));
        depth(value, &mut pointer, 2, max_depth)?;
    }
    Ok(())
}

impl HostEvent {
    /// Validates a document for `topic`: `_id` is generated when absent,
    /// `timestamp` is set to now when absent; both must be strings.
    pub fn from_document(topic: &str, mut doc: Map<String, Value>, max_bytes: usize) -> Result<Self, PublishError> {
        let id = match doc.get("_id") {
            None => {
                let id = uuid::Uuid::new_v4().to_string();
                doc.insert("_id".into(), Value::String(id.clone()));
                id
            }
            Some(Value::String(s)) if !s.is_empty() => s.clone(),
            Some(Value::String(_)) => {
                return Err(PublishError::InvalidField { field: "_id", expected: "a non-empty string", found: "an empty string" });
            }
            Some(other) => {
                return Err(PublishError::InvalidField { field: "_id", expected: "a string", found: json_type(other) });
            }
        };
        let timestamp = match doc.get("timestamp") {
            None => {
                let now = humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string();
                doc.insert("timestamp".into(), Value::String(now.clone()));
                now
            }
            Some(Value::String(s)) => s.clone(),
            Some(other) => {
                return Err(PublishError::InvalidField { field: "timestamp", expected: "a string", found: json_type(other) });
            }
        };
        let text_field = |name: &str| doc.get(name).and_then(Value::as_str).map(str::to_owned);
        let (event_name, transaction_id, user_id) = (text_field("eventName"), text_field("transactionId"), text_field("userId"));
        let json = Value::Object(doc).to_string();
        if json.len() > max_bytes {
            return Err(PublishError::TooLarge { size: json.len(), max: max_bytes });
        }
        Ok(HostEvent { id, topic: topic.to_owned(), sequence: 0, tenant: None, timestamp, event_name, transaction_id, user_id, json })
    }
}
