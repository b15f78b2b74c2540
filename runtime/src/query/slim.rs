//! Reading only what a query looks at: a JSON record is parsed into the
//! top-level members its filter and sort keys read (the rest of the record
//! is scanned, not built), with the record's text kept beside them, and
//! only the records of the page asked for are parsed whole at the end.
//!
//! Invariant: a slim event answers the filter and the sort keys exactly as
//! the whole event does — every member they can reach is in it (pointers
//! reach below the top level only through a top-level member, kept whole)
//! — so [`super::run`] over slim events selects, sorts and pages the same
//! events as over whole ones; [`expand`] then gives back the whole events.

use std::collections::BTreeSet;
use std::fmt;

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, Visitor};
use serde_json::{Map, Value};

use super::{QueryPage, QueryRequest};

/// The member holding a slim event's record text (a name no record has:
/// it starts with NUL).
const RAW: &str = "\u{0}record";

/// The top-level members `request` reads; `None` when it reads the whole
/// event (a pointer to the document itself).
pub fn members(request: &QueryRequest) -> Option<BTreeSet<String>> {
    let mut members = request.filter.top_level_members()?;
    for key in &request.sort_keys {
        members.insert(super::filter::top_level(&key.pointer)?);
    }
    Some(members)
}

/// What a record held, read slim.
pub struct SlimRecord {
    /// The wanted members (and the record's text under [`RAW`]).
    pub event: Map<String, Value>,
    /// How many top-level members the record has.
    pub member_count: usize,
    /// Whether it has a member named `flag` (the caller's marker).
    pub flagged: bool,
}

/// Parses `record` (a JSON object) keeping only `wanted` members; notes
/// whether it has a member named `flag`.
pub fn read(record: &str, wanted: &BTreeSet<String>, flag: &str) -> Result<SlimRecord, serde_json::Error> {
    let mut deserializer = serde_json::Deserializer::from_str(record);
    let (mut event, member_count, flagged) = Slim { wanted, flag }.deserialize(&mut deserializer)?;
    deserializer.end()?;
    event.insert(RAW.to_owned(), Value::String(record.to_owned()));
    Ok(SlimRecord { event, member_count, flagged })
}

/// The page with each slim event replaced by the whole event its record
/// holds, passed through `finish` (which removes what the caller's records
/// carry besides the event).
pub fn expand(mut page: QueryPage, finish: impl Fn(Map<String, Value>) -> Value) -> Result<QueryPage, serde_json::Error> {
    for event in &mut page.result {
        let record = event.get(RAW).and_then(Value::as_str).unwrap_or("{}");
        let whole: Map<String, Value> = serde_json::from_str(record)?;
        *event = finish(whole);
    }
    Ok(page)
}

struct Slim<'a> {
    wanted: &'a BTreeSet<String>,
    flag: &'a str,
}

impl<'de> DeserializeSeed<'de> for Slim<'_> {
    type Value = (Map<String, Value>, usize, bool);

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Slim<'_> {
    type Value = (Map<String, Value>, usize, bool);

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let (mut kept, mut count, mut flagged) = (Map::new(), 0, false);
        while let Some(key) = map.next_key_seed(Key { wanted: self.wanted, flag: self.flag })? {
            count += 1;
            match key {
                KeyKind::Wanted(name) => {
                    let value: Value = map.next_value()?;
                    kept.insert(name, value);
                }
                KeyKind::Flag => {
                    flagged = true;
                    map.next_value::<IgnoredAny>()?;
                }
                KeyKind::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok((kept, count, flagged))
    }
}

enum KeyKind {
    Wanted(String),
    Flag,
    Other,
}

struct Key<'a> {
    wanted: &'a BTreeSet<String>,
    flag: &'a str,
}

impl Key<'_> {
    fn kind(&self, name: &str) -> KeyKind {
        if name == self.flag {
            KeyKind::Flag
        } else if self.wanted.contains(name) {
            KeyKind::Wanted(name.to_owned())
        } else {
            KeyKind::Other
        }
    }
}

impl<'de> DeserializeSeed<'de> for Key<'_> {
    type Value = KeyKind;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<KeyKind, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for Key<'_> {
    type Value = KeyKind;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a member name")
    }

    fn visit_str<E: de::Error>(self, name: &str) -> Result<KeyKind, E> {
        Ok(self.kind(name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_slim_event_answers_the_query_as_the_whole_one_and_expands_back() {
        let records: Vec<String> = (0..50)
            .map(|n| json!({"_id": format!("e{n}"), "timestamp": format!("2026-12-05T10:{:02}:00Z", 59 - n), "user\"Id": "x", "userId": if n % 3 == 0 { "BJensen" } else { "scarter" }, "response": {"status": if n % 2 == 0 { "FAILED" } else { "SUCCESSFUL" }}, "big": {"nested": [1, 2, {"deep": "y"}]}}).to_string())
            .collect();
        let request = QueryRequest::from_params("userId eq \"bjensen\" and /response/status eq 'FAILED'", Some("3"), None, Some("-timestamp,_id")).unwrap();
        let wanted = members(&request).unwrap();
        assert_eq!(wanted, ["_id", "response", "timestamp", "userId"].into_iter().map(str::to_owned).collect());
        let whole = super::super::run(&request, records.iter().map(|r| Ok::<_, ()>(serde_json::from_str::<Value>(r).unwrap()))).unwrap();
        let slim = super::super::run(&request, records.iter().map(|r| Ok::<_, ()>(Value::Object(read(r, &wanted, "_sig").unwrap().event)))).unwrap();
        let slim = expand(slim, Value::Object).unwrap();
        assert_eq!(slim, whole);
        assert_eq!(whole.result_count, 3);
        let record = read(r#"{"_sig": 1}"#, &wanted, "_sig").unwrap();
        assert!(record.flagged && record.member_count == 1);
        assert!(read("[1]", &wanted, "_sig").is_err() && read("{\"a\": 1} x", &wanted, "_sig").is_err());
    }

    #[test]
    fn pointers_name_their_top_level_member() {
        let members_of = |filter: &str| members(&QueryRequest::from_params(filter, None, None, Some("-/a~1b/c")).unwrap());
        let set = |names: &[&str]| Some(names.iter().map(|n| (*n).to_owned()).collect::<BTreeSet<String>>());
        // `/` is the member named "" (RFC 6901), as `Value::pointer` reads it.
        assert_eq!(members_of("/ pr"), set(&["", "a/b"]));
        assert_eq!(members_of("true"), set(&["a/b"]));
        assert_eq!(members_of("!(/x~0y/z eq 1) or q co 'a'"), set(&["a/b", "q", "x~y"]));
    }
}
