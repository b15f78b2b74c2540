//! Fast JSON for handlers: look values up in the event's text without
//! building a tree, and write output lines without `serde_json::Value`.
//!
//! A handler that needs a few fields of an event should not pay for a whole
//! `serde_json::Value` tree (a map allocation per object, a `String` per
//! key and per string): [`Doc`] indexes the top-level members of the event
//! once, borrowing every key and value from the event's text, and a
//! [`Pointer`] walks down from there, scanning only the objects and arrays
//! on its path. Values come back as `&RawValue`, slices of the text.
//!
//! The writers produce exactly the bytes `serde_json` would: [`push_str`]
//! escapes a string as `serde_json::to_string` does, and [`push_canonical`]
//! writes a raw value as `serde_json::Value::to_string` would after parsing it
//! (object keys sorted, numbers normalised), copying the text when it is
//! already in that form, which strings without escapes, `true`, `false`,
//! `null` and plain integers always are.
//!
//! ```
//! use wasp_guest::json::{self, Doc, Pointer};
//!
//! let text = r#"{"userId":"bjensen","client":{"ip":"203.0.113.7"},"n":[1,2]}"#;
//! let doc = Doc::parse(text).unwrap();
//! let ip = Pointer::parse("/client/ip");
//! let mut line = String::new();
//! let mut object = json::ObjectWriter::new(&mut line);
//! json::push_canonical(object.key("ip"), doc.lookup(&ip).unwrap());
//! json::push_str(object.key("who"), &json::as_str(doc.get("userId").unwrap()).unwrap());
//! object.finish();
//! assert_eq!(line, r#"{"ip":"203.0.113.7","who":"bjensen"}"#);
//! ```

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

mod scan;
pub use serde_json::value::RawValue;

/// An event document (a JSON object) with its top-level members indexed,
/// every key and value borrowed from the text.
#[derive(Debug)]
pub struct Doc<'a> {
    text: &'a str,
    /// Top-level members in document order, each value's text (`None`: the
    /// document is not an object).
    members: Option<Vec<(Cow<'a, str>, &'a str)>>,
}

impl<'a> Doc<'a> {
    /// Indexes `text`; `Err` when it is not JSON. A document that is JSON
    /// but not an object is accepted (its lookups walk the text).
    pub fn parse(text: &'a str) -> Result<Self, String> {
        let mut de = serde_json::Deserializer::from_str(text);
        let members = de.deserialize_any(Members).map_err(|e| format!("event is not JSON: {e}"))?;
        de.end().map_err(|e| format!("event is not JSON: {e}"))?;
        Ok(Doc { text, members })
    }

    /// Indexes `text`, which the host has already checked to be JSON (an
    /// event's document), without validating it again: a scan for its
    /// structure only. Should the scan find something other than JSON, the
    /// text is parsed as [`parse`](Doc::parse) does, error included.
    pub(crate) fn trusted(text: &'a str) -> Result<Self, String> {
        let trimmed = scan::trim(text);
        if !trimmed.starts_with('{') {
            return Doc::parse(text);
        }
        let mut members = Vec::with_capacity(16);
        match scan::members(trimmed, |quoted, escaped, value| members.push((scan::key(quoted, escaped), value))) {
            Some(()) => Ok(Doc { text, members: Some(members) }),
            None => Doc::parse(text),
        }
    }

    /// The whole document's text.
    pub fn text(&self) -> &'a str {
        self.text
    }

    /// The top-level member `key` (the last one, should the text repeat it,
    /// as `serde_json::Value` keeps it).
    pub fn get(&self, key: &str) -> Option<&'a RawValue> {
        self.member(key).and_then(raw)
    }

    fn member(&self, key: &str) -> Option<&'a str> {
        match &self.members {
            Some(members) => members.iter().rev().find(|(k, _)| k == key).map(|(_, v)| *v),
            None => None,
        }
    }

    /// The value at `pointer`, as `serde_json::Value::pointer` finds it.
    /// Only the objects and arrays on the pointer's path are scanned.
    pub fn lookup(&self, pointer: &Pointer) -> Option<&'a RawValue> {
        self.lookup_text(pointer).and_then(raw)
    }

    /// The JSON text of the value at `pointer` (as [`lookup`](Doc::lookup)
    /// finds it), without the check that makes it a `RawValue`: the
    /// cheapest lookup. Write it with [`push_canonical_text`], read a string
    /// with [`text_as_str`].
    pub fn lookup_text(&self, pointer: &Pointer) -> Option<&'a str> {
        if pointer.invalid {
            return None;
        }
        let Some(tokens) = &pointer.tokens else {
            return Some(scan::trim(self.text));
        };
        let mut tokens = tokens.iter();
        let mut current = match (&self.members, tokens.next()) {
            (_, None) => unreachable!("a parsed pointer other than \"\" has a token"),
            (Some(_), Some(first)) => self.member(first)?,
            (None, Some(first)) => step(scan::trim(self.text), first)?,
        };
        for token in tokens {
            current = step(current, token)?;
        }
        Some(current)
    }

    /// The value at the JSON pointer text `pointer` (parse it once with
    /// [`Pointer::parse`] when it is used for every event).
    pub fn pointer(&self, pointer: &str) -> Option<&'a RawValue> {
        self.lookup(&Pointer::parse(pointer))
    }
}

/// A value's text (valid JSON, trimmed) as a `RawValue`.
fn raw(text: &str) -> Option<&RawValue> {
    serde_json::from_str(text).ok()
}

/// A JSON pointer (RFC 6901), split into its unescaped tokens once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pointer {
    /// `None`: the empty pointer (the whole document); `Some(tokens)`
    /// otherwise. A text that does not start with `/` finds nothing.
    tokens: Option<Vec<String>>,
    /// The pointer does not start with `/`.
    invalid: bool,
}

impl Pointer {
    /// Parses `/a/b~1c/0` into `a`, `b/c`, `0`.
    pub fn parse(text: &str) -> Self {
        if text.is_empty() {
            return Pointer { tokens: None, invalid: false };
        }
        let invalid = !text.starts_with('/');
        let tokens = text.split('/').skip(1).map(|t| t.replace("~1", "/").replace("~0", "~")).collect();
        Pointer { tokens: Some(tokens), invalid }
    }
}

/// The member `token` of the object `text` (the last one of that name), or
/// the element at index `token` of the array `text`; `None` for anything
/// else.
fn step<'a>(text: &'a str, token: &str) -> Option<&'a str> {
    match text.as_bytes().first()? {
        b'{' => {
            let mut found = None;
            scan::members(text, |quoted, escaped, value| {
                if scan::key(quoted, escaped) == token {
                    found = Some(value);
                }
            })?;
            found
        }
        b'[' => {
            let wanted = parse_index(token)?;
            let (mut index, mut found) = (0, None);
            scan::elements(text, |value| {
                if index == wanted {
                    found = Some(value);
                }
                index += 1;
            })?;
            found
        }
        _ => None,
    }
}

/// `serde_json`'s rule for array indices: digits, no `+`, no leading zero.
fn parse_index(token: &str) -> Option<usize> {
    if token.starts_with('+') || (token.starts_with('0') && token.len() != 1) {
        return None;
    }
    token.parse().ok()
}

/// A key, borrowed from the text unless it has escapes.
struct Key<'a>(Cow<'a, str>);

impl<'de> de::Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Key(Cow::Owned(v.to_owned())))
            }
        }
        deserializer.deserialize_str(KeyVisitor)
    }
}

/// Collects the members of a top-level object (`None` for other values).
struct Members;

impl<'de> Visitor<'de> for Members {
    type Value = Option<Vec<(Cow<'de, str>, &'de str)>>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut members = Vec::with_capacity(16);
        while let Some(Key(key)) = map.next_key::<Key<'de>>()? {
            members.push((key, map.next_value::<&'de RawValue>()?.get()));
        }
        Ok(Some(members))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(None)
    }
    fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
}

/// The string a raw value holds (unescaped; borrowed when it has no
/// escapes), or `None` when it is not a string.
pub fn as_str(value: &RawValue) -> Option<Cow<'_, str>> {
    text_as_str(value.get())
}

/// [`as_str`] of a value's JSON text (as [`Doc::lookup_text`] gives it).
pub fn text_as_str(text: &str) -> Option<Cow<'_, str>> {
    let inner = text.strip_prefix('"')?.strip_suffix('"')?;
    if !inner.contains('\\') {
        return Some(Cow::Borrowed(inner));
    }
    serde_json::from_str::<String>(text).ok().map(Cow::Owned)
}

/// Appends `value` as a JSON string, escaped byte for byte as `serde_json`
/// escapes it (`"`, `\`, and control characters; `\u00XX` in lowercase
/// hex where there is no short form).
pub fn push_str(out: &mut String, value: &str) {
    out.reserve(value.len() + 2);
    out.push('"');
    let bytes = value.as_bytes();
    // Eight bytes at a time up to the first that needs an escape (most
    // strings have none).
    let clean = scan::skip_unmarked(bytes, 0, |x| scan::eq_mask(x, b'"') | scan::eq_mask(x, b'\\') | scan::control_mask(x));
    let mut start = 0;
    for (i, &byte) in bytes.iter().enumerate().skip(clean) {
        let escape: &str = match byte {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0x08 => "\\b",
            0x0c => "\\f",
            0x00..=0x1f => "",
            _ => continue,
        };
        out.push_str(&value[start..i]);
        if escape.is_empty() {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.push_str("\\u00");
            out.push(HEX[usize::from(byte >> 4)] as char);
            out.push(HEX[usize::from(byte & 0xf)] as char);
        } else {
            out.push_str(escape);
        }
        start = i + 1;
    }
    out.push_str(&value[start..]);
    out.push('"');
}

/// Appends `value` as `serde_json::Value::to_string` writes it after
/// parsing: the text itself where it is already in that form (strings
/// without escapes, `true`, `false`, `null`, plain integers), objects with
/// their keys sorted (the last of a repeated key kept), strings re-escaped,
/// and other numbers normalised as `serde_json` normalises them.
pub fn push_canonical(out: &mut String, value: &RawValue) {
    push_canonical_text(out, value.get());
}

/// [`push_canonical`] of a value's JSON text (as [`Doc::lookup_text`]
/// gives it). Text that is not JSON is written as it is.
pub fn push_canonical_text(out: &mut String, text: &str) {
    let mark = out.len();
    if canonical(out, text).is_none() {
        // Not reached for a `RawValue` (valid JSON); should it be, write
        // what serde_json writes.
        out.truncate(mark);
        match serde_json::from_str::<serde_json::Value>(text) {
            Ok(parsed) => out.push_str(&parsed.to_string()),
            Err(_) => out.push_str(text),
        }
    }
}

/// [`push_canonical`] of the valid JSON `text`, walking it with the scanner;
/// `None` if the scanner finds something else.
fn canonical(out: &mut String, text: &str) -> Option<()> {
    let b = text.as_bytes();
    match *b.first()? {
        b'"' if !text.contains('\\') => out.push_str(text),
        b'"' => push_str(out, &serde_json::from_str::<String>(text).ok()?),
        b't' | b'f' | b'n' => out.push_str(text),
        b'{' => {
            let mut sorted = std::collections::BTreeMap::new();
            scan::members(text, |quoted, escaped, value| {
                sorted.insert(scan::key(quoted, escaped), value);
            })?;
            out.push('{');
            for (i, (key, value)) in sorted.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                push_str(out, &key);
                out.push(':');
                canonical(out, value)?;
            }
            out.push('}');
        }
        b'[' => {
            out.push('[');
            let mut first = true;
            let mut result = Some(());
            scan::elements(text, |value| {
                if !std::mem::take(&mut first) {
                    out.push(',');
                }
                result = result.and_then(|()| canonical(out, value));
            })?;
            result?;
            out.push(']');
        }
        _ => {
            // A u64 written without a leading zero, or a negative one that
            // fits an i64: as `Value` writes it. Others (fractions,
            // exponents, -0, beyond 64 bits) as serde_json normalises them.
            let digits = text.strip_prefix('-').unwrap_or(text);
            let plain = !digits.is_empty()
                && digits.bytes().all(|c| c.is_ascii_digit())
                && (digits == "0" || !digits.starts_with('0'))
                && if digits.len() < text.len() { digits.len() < 19 && digits != "0" } else { digits.len() < 20 };
            if plain {
                out.push_str(text);
            } else {
                out.push_str(&serde_json::from_str::<serde_json::Value>(text).ok()?.to_string());
            }
        }
    }
    Some(())
}

/// Writes a JSON object member by member into a `String`.
#[derive(Debug)]
pub struct ObjectWriter<'o> {
    out: &'o mut String,
    empty: bool,
}

impl<'o> ObjectWriter<'o> {
    /// Starts an object (`{`) at the end of `out`.
    pub fn new(out: &'o mut String) -> Self {
        out.push('{');
        ObjectWriter { out, empty: true }
    }

    /// Writes the separator and `"key":`; the caller appends the value to
    /// the returned buffer (with [`push_str`], [`push_canonical`], or text
    /// that is already JSON).
    pub fn key(&mut self, key: &str) -> &mut String {
        if !std::mem::take(&mut self.empty) {
            self.out.push(',');
        }
        push_str(self.out, key);
        self.out.push(':');
        self.out
    }

    /// Closes the object (`}`).
    pub fn finish(self) {
        self.out.push('}');
    }
}

#[cfg(test)]
mod tests;
