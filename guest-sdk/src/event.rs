//! The event a handler receives: typed access to the common fields without
//! parsing, and the document on demand: borrowed and indexed
//! ([`Event::doc`], the fast path), deserialized into your own type
//! ([`Event::parse_borrowed`], [`Event::parse`]), or as a whole tree
//! ([`Event::json`]).

use std::cell::OnceCell;

use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::json::Doc;

use crate::__private::bindings::wasp::handler::types::Event as RawEvent;

/// One audit event.
///
/// The common fields ([`id`](Event::id), [`topic`](Event::topic),
/// [`timestamp`](Event::timestamp), …) cost nothing: the host lifts them out.
/// For the rest of the document, from fastest to most convenient:
/// [`doc`](Event::doc) indexes its top-level members without copying
/// anything (look values up by JSON pointer, write them with
/// [`json`](crate::json)); [`parse_borrowed`](Event::parse_borrowed)
/// deserializes it into your own type whose `&str` fields borrow from the
/// event's text; [`parse`](Event::parse) into an owned type;
/// [`json`](Event::json) and [`get`](Event::get) build a whole
/// `serde_json::Value` tree (once, on first use), several times the cost.
#[derive(Debug)]
pub struct Event {
    raw: RawEvent,
    parsed: OnceCell<Result<serde_json::Value, String>>,
}

impl Event {
    pub(crate) fn new(raw: RawEvent) -> Self {
        Event { raw, parsed: OnceCell::new() }
    }

    /// The event's `_id`.
    pub fn id(&self) -> &str {
        &self.raw.id
    }

    /// The topic the event was published to (`access`, `activity`, …).
    pub fn topic(&self) -> &str {
        &self.raw.topic
    }

    /// The journal sequence number (strictly increasing in delivery order).
    pub fn sequence(&self) -> u64 {
        self.raw.sequence
    }

    /// The event's `timestamp` (ISO-8601 UTC).
    pub fn timestamp(&self) -> &str {
        &self.raw.timestamp
    }

    /// The event's `eventName`, if it has one.
    pub fn event_name(&self) -> Option<&str> {
        self.raw.event_name.as_deref()
    }

    /// The event's `transactionId`, if it has one.
    pub fn transaction_id(&self) -> Option<&str> {
        self.raw.transaction_id.as_deref()
    }

    /// The event's `userId`, if it has one.
    pub fn user_id(&self) -> Option<&str> {
        self.raw.user_id.as_deref()
    }

    /// The whole event document as JSON text.
    pub fn raw_json(&self) -> &str {
        &self.raw.json
    }

    /// The document with its top-level members indexed, borrowing from the
    /// event's text: the fast way to read a few values by JSON pointer
    /// (see [`json`](crate::json)). The host hands every event as valid
    /// JSON, so the text is scanned for its structure, not validated again.
    /// Each call indexes the text again; keep the [`Doc`] for the event.
    pub fn doc(&self) -> Result<Doc<'_>, String> {
        Doc::trusted(&self.raw.json)
    }

    /// Deserializes the event document into `T`, whose `&str` (or
    /// `Cow<str>` with `#[serde(borrow)]`) fields borrow from the event's
    /// text; fields `T` does not name are skipped without building a tree.
    /// A `&str` field fails on a string with escapes; `Cow<str>` takes both.
    pub fn parse_borrowed<'a, T: Deserialize<'a>>(&'a self) -> Result<T, String> {
        serde_json::from_str(&self.raw.json).map_err(|e| format!("event does not fit: {e}"))
    }

    /// The whole document as a `serde_json::Value` tree, parsed once on
    /// first use (convenient, and several times the cost of
    /// [`doc`](Event::doc)).
    pub fn json(&self) -> Result<&serde_json::Value, String> {
        self.parsed
            .get_or_init(|| serde_json::from_str(&self.raw.json).map_err(|e| format!("event is not JSON: {e}")))
            .as_ref()
            .map_err(Clone::clone)
    }

    /// The value at a JSON pointer (`/client/ip`, `/trackingIds/0`), if present.
    pub fn get(&self, pointer: &str) -> Option<&serde_json::Value> {
        self.json().ok()?.pointer(pointer)
    }

    /// The string at a JSON pointer, if present and a string.
    pub fn get_str(&self, pointer: &str) -> Option<&str> {
        self.get(pointer)?.as_str()
    }

    /// Deserializes the event document into `T` (fields `T` does not name are
    /// skipped without building a tree).
    pub fn parse<T: DeserializeOwned>(&self) -> Result<T, String> {
        serde_json::from_str(&self.raw.json).map_err(|e| format!("event does not fit: {e}"))
    }
}
