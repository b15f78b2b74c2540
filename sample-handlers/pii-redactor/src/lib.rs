//! PII redactor: a WASP *filter* (the `filter` world) that masks e-mail
//! addresses, payment card numbers, bearer tokens and JSON Web Tokens in
//! every string of an event, at any depth, before any handler sees it.
//!
//! Everything else is left as it is: numbers, booleans, `null`, object keys
//! and the parts of a string around a match. An event with nothing to mask
//! is kept unchanged (`keep`, no re-serialization); one with something is
//! replaced by the masked document (`replace`; the host keeps its `_id`).
//!
//! # What is masked
//!
//! | kind | matches | default mask |
//! |---|---|---|
//! | `bearer` | `Bearer <token>` (any case), token of ≥ 8 of `A-Za-z0-9-._~+/` then `=` padding; the word `Bearer` is kept | `[token]` |
//! | `jwt` | `eyJ….eyJ….<signature>` (base64url header and payload, which encode JSON objects) | `[jwt]` |
//! | `email` | `local@domain.tld`: local part of `A-Za-z0-9._%+-`, two or more domain labels, a top-level label of ≥ 2 letters | `[email]` |
//! | `card` | 13–19 digits, in groups joined by single spaces or dashes, passing the Luhn check, not glued to letters or other digits | `[card]` |
//!
//! They are applied in that order. A digit string that fails the Luhn check
//! (an order number, a timestamp) is not touched; a 13–19 digit identifier
//! that happens to pass it (about one in ten) is masked, as with any PAN
//! scanner.
//!
//! # Configuration (the filter's `config`)
//!
//! | setting | default | meaning |
//! |---|---|---|
//! | `redact` | `["bearer", "jwt", "email", "card"]` | the kinds to mask |
//! | `masks` | the defaults above | replacement text per kind, e.g. `{"email": "***"}` |
//! | `skipFields` | `[]` | JSON pointers of values left as they are (with everything under them), e.g. `["/trackingIds"]` |

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;
use wasp_guest::{Config, Event, Filter, Verdict, export_filter};

mod scan;

use scan::Kind;

/// The filter's `config` object.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Settings {
    #[serde(default)]
    redact: Option<Vec<String>>,
    #[serde(default)]
    masks: BTreeMap<String, String>,
    #[serde(default)]
    skip_fields: Vec<String>,
}

struct PiiRedactor {
    /// The kinds to apply, in order, with their masks.
    kinds: Vec<(Kind, String)>,
    skip: Vec<String>,
}

fn kind_named(name: &str) -> Result<Kind, String> {
    Kind::ALL.into_iter().find(|k| k.name() == name).ok_or_else(|| {
        let known: Vec<&str> = Kind::ALL.iter().map(|k| k.name()).collect();
        format!("filter config: unknown kind `{name}`, expected one of {}", known.join(", "))
    })
}

impl Filter for PiiRedactor {
    fn init(config: Config) -> Result<Self, String> {
        let s: Settings = config.parse_into()?;
        let mut enabled = match &s.redact {
            Some(names) => names.iter().map(|n| kind_named(n)).collect::<Result<Vec<_>, _>>()?,
            None => Kind::ALL.to_vec(),
        };
        enabled.sort();
        enabled.dedup();
        for name in s.masks.keys() {
            kind_named(name).map_err(|e| e.replace("unknown kind", "`masks`: unknown kind"))?;
        }
        let kinds =
            enabled.into_iter().map(|k| (k, s.masks.get(k.name()).cloned().unwrap_or_else(|| k.default_mask().to_owned()))).collect();
        for pointer in &s.skip_fields {
            if !pointer.starts_with('/') {
                return Err(format!("filter config: `skipFields`: `{pointer}` is not a JSON pointer (it must start with `/`)"));
            }
        }
        Ok(PiiRedactor { kinds, skip: s.skip_fields })
    }

    fn filter(&mut self, event: &Event) -> Verdict {
        // The document is parsed once, here (not through `event.json()`,
        // which would keep a second copy).
        let Ok(mut document) = serde_json::from_str::<Value>(event.raw_json()) else {
            // The host only delivers JSON objects; nothing sensible to mask.
            return Verdict::Keep;
        };
        let mut pointer = String::new();
        if self.walk(&mut document, &mut pointer) { Verdict::Replace(document.to_string()) } else { Verdict::Keep }
    }
}

impl PiiRedactor {
    /// Masks every string under `value` (at `pointer`); true if any changed.
    fn walk(&self, value: &mut Value, pointer: &mut String) -> bool {
        if !self.skip.is_empty() && self.skip.iter().any(|s| s == pointer) {
            return false;
        }
        let len = pointer.len();
        let mut changed = false;
        match value {
            Value::String(text) => {
                for (kind, mask) in &self.kinds {
                    if let Some(masked) = kind.redact(text, mask) {
                        *text = masked;
                        changed = true;
                    }
                }
            }
            Value::Array(items) => {
                for (i, item) in items.iter_mut().enumerate() {
                    if !self.skip.is_empty() {
                        pointer.push('/');
                        pointer.push_str(&i.to_string());
                    }
                    changed |= self.walk(item, pointer);
                    pointer.truncate(len);
                }
            }
            Value::Object(members) => {
                for (key, member) in members.iter_mut() {
                    if !self.skip.is_empty() {
                        pointer.push('/');
                        pointer.push_str(&key.replace('~', "~0").replace('/', "~1"));
                    }
                    changed |= self.walk(member, pointer);
                    pointer.truncate(len);
                }
            }
            Value::Null | Value::Bool(_) | Value::Number(_) => {}
        }
        changed
    }
}

export_filter!(PiiRedactor);
