//! The event a handler receives: typed access to the common fields without
//! parsing, and the document on demand: borrowed and indexed
//! ([`Event::doc`], the fast path), deserialized into your own type
//! ([`Event::parse_borrowed`], [`Event::parse`]), or as a whole tree
//! ([`Event::json`]).

use std::cell::OnceCell;
use std::rc::Rc;

use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::json::Doc;

use crate::__private::bindings::wasp::handler::types::{Event as RawEvent, PackedEvent, Span};

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
    fields: Fields,
    parsed: OnceCell<Result<serde_json::Value, String>>,
}

/// The event's strings as the host handed them: one string each
/// (`handle-batch`), or spans of the batch's text (`handle-packed`).
#[derive(Debug)]
enum Fields {
    Owned(RawEvent),
    Packed { text: Rc<String>, event: PackedEvent },
}

impl Event {
    pub(crate) fn new(raw: RawEvent) -> Self {
        Event { fields: Fields::Owned(raw), parsed: OnceCell::new() }
    }

    /// The event `event` of a packed batch whose text is `text`. Every span
    /// must lie in `text` on character boundaries (the host's promise; the
    /// SDK checks it once per event in `handler_packed`).
    pub(crate) fn packed(text: Rc<String>, event: PackedEvent) -> Self {
        Event { fields: Fields::Packed { text, event }, parsed: OnceCell::new() }
    }

    /// Whether every span of `event` lies in `text` on character boundaries.
    pub(crate) fn spans_fit(text: &str, event: &PackedEvent) -> bool {
        let fits = |span: &Span| text.get(span.offset as usize..span.offset as usize + span.len as usize).is_some();
        [&event.id, &event.topic, &event.timestamp, &event.json].into_iter().all(fits)
            && [&event.event_name, &event.transaction_id, &event.user_id].into_iter().flatten().all(fits)
    }

    /// A string field: `owned` of a `handle-batch` event, `packed` of a
    /// `handle-packed` one.
    fn field(&self, owned: impl FnOnce(&RawEvent) -> &str, packed: impl FnOnce(&PackedEvent) -> Span) -> &str {
        match &self.fields {
            Fields::Owned(raw) => owned(raw),
            Fields::Packed { text, event } => span(text, packed(event)),
        }
    }

    /// An optional string field, as [`field`](Event::field).
    fn optional(&self, owned: impl FnOnce(&RawEvent) -> Option<&str>, packed: impl FnOnce(&PackedEvent) -> Option<Span>) -> Option<&str> {
        match &self.fields {
            Fields::Owned(raw) => owned(raw),
            Fields::Packed { text, event } => packed(event).map(|s| span(text, s)),
        }
    }

    /// The event's `_id`.
    pub fn id(&self) -> &str {
        self.field(|r| &r.id, |p| p.id)
    }

    /// The topic the event was published to (`access`, `activity`, …).
    pub fn topic(&self) -> &str {
        self.field(|r| &r.topic, |p| p.topic)
    }

    /// The journal sequence number (strictly increasing in delivery order).
    pub fn sequence(&self) -> u64 {
        match &self.fields {
            Fields::Owned(raw) => raw.sequence,
            Fields::Packed { event, .. } => event.sequence,
        }
    }

    /// The event's `timestamp` (ISO-8601 UTC).
    pub fn timestamp(&self) -> &str {
        self.field(|r| &r.timestamp, |p| p.timestamp)
    }

    /// The event's `eventName`, if it has one.
    pub fn event_name(&self) -> Option<&str> {
        self.optional(|r| r.event_name.as_deref(), |p| p.event_name)
    }

    /// The event's `transactionId`, if it has one.
    pub fn transaction_id(&self) -> Option<&str> {
        self.optional(|r| r.transaction_id.as_deref(), |p| p.transaction_id)
    }

    /// The event's `userId`, if it has one.
    pub fn user_id(&self) -> Option<&str> {
        self.optional(|r| r.user_id.as_deref(), |p| p.user_id)
    }

    /// The whole event document as JSON text.
    pub fn raw_json(&self) -> &str {
        self.field(|r| &r.json, |p| p.json)
    }

    /// The document with its top-level members indexed, borrowing from the
    /// event's text: the fast way to read a few values by JSON pointer
    /// (see [`json`](crate::json)). The host hands every event as valid
    /// JSON, so the text is scanned for its structure, not validated again.
    /// Each call indexes the text again; keep the [`Doc`] for the event.
    pub fn doc(&self) -> Result<Doc<'_>, String> {
        Doc::trusted(self.raw_json())
    }

    /// Deserializes the event document into `T`, whose `&str` (or
    /// `Cow<str>` with `#[serde(borrow)]`) fields borrow from the event's
    /// text; fields `T` does not name are skipped without building a tree.
    /// A `&str` field fails on a string with escapes; `Cow<str>` takes both.
    pub fn parse_borrowed<'a, T: Deserialize<'a>>(&'a self) -> Result<T, String> {
        serde_json::from_str(self.raw_json()).map_err(|e| format!("event does not fit: {e}"))
    }

    /// The whole document as a `serde_json::Value` tree, parsed once on
    /// first use (convenient, and several times the cost of
    /// [`doc`](Event::doc)).
    pub fn json(&self) -> Result<&serde_json::Value, String> {
        self.parsed
            .get_or_init(|| serde_json::from_str(self.raw_json()).map_err(|e| format!("event is not JSON: {e}")))
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
        serde_json::from_str(self.raw_json()).map_err(|e| format!("event does not fit: {e}"))
    }
}

/// The text of `span` (checked to fit by `Event::spans_fit` when the event
/// was made; an empty string if it did not).
fn span(text: &str, span: Span) -> &str {
    text.get(span.offset as usize..span.offset as usize + span.len as usize).unwrap_or_default()
}
