//! Reading only what a query looks at: a JSON record is parsed into the
//! top-level members its filter and sort keys read (the rest of the record
//! is scanned, not built), with the record's position kept beside them,
//! and only the records of the page asked for are read whole at the end.
//!
//! Invariant: a slim event answers the filter and the sort keys exactly as
//! the whole event does — every member they can reach is in it (pointers
//! reach below the top level only through a top-level member, kept whole)
//! — so [`super::run`] over slim events selects, sorts and pages the same
//! events as over whole ones; [`expand`] then gives back the whole events.

use std::collections::BTreeSet;

use serde_json::{Map, Value};

use super::{QueryPage, QueryRequest};

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
    /// The wanted members.
    pub event: Map<String, Value>,
    /// How many top-level members the record has.
    pub member_count: usize,
    /// Whether it has a member named `flag` (the caller's marker).
    pub flagged: bool,
}

/// Reads `record` (a JSON object) keeping only the `wanted` members, each
/// parsed from its text; the other members are skipped by a scanner that
/// only follows strings and brackets. Notes whether a member is named
/// `flag`. A record that is not one JSON object is an error.
pub fn read(record: &str, wanted: &BTreeSet<String>, flag: &str) -> Result<SlimRecord, String> {
    let mut slim = SlimRecord { event: Map::new(), member_count: 0, flagged: false };
    let bytes = record.as_bytes();
    let mut at = skip_ws(bytes, 0);
    if bytes.get(at) != Some(&b'{') {
        return Err("not a JSON object".into());
    }
    at = skip_ws(bytes, at + 1);
    if bytes.get(at) == Some(&b'}') {
        at += 1;
    } else {
        loop {
            let (key_end, escaped) = scan_string(bytes, at)?;
            let key_text = &record[at..key_end];
            at = skip_ws(bytes, key_end);
            if bytes.get(at) != Some(&b':') {
                return Err(format!("expected `:` at byte {at}"));
            }
            let value_start = skip_ws(bytes, at + 1);
            let value_end = skip_value(bytes, value_start)?;
            slim.member_count += 1;
            let key = if escaped {
                std::borrow::Cow::Owned(serde_json::from_str::<String>(key_text).map_err(|e| format!("a member name: {e}"))?)
            } else {
                std::borrow::Cow::Borrowed(&key_text[1..key_text.len() - 1])
            };
            if key == flag {
                slim.flagged = true;
            } else if wanted.iter().any(|w| w.as_bytes() == key.as_bytes()) {
                let value: Value = serde_json::from_str(&record[value_start..value_end]).map_err(|e| format!("member `{key}`: {e}"))?;
                slim.event.insert(key.into_owned(), value);
            }
            at = skip_ws(bytes, value_end);
            match bytes.get(at) {
                Some(b',') => at = skip_ws(bytes, at + 1),
                Some(b'}') => {
                    at += 1;
                    break;
                }
                _ => return Err(format!("expected `,` or `}}` at byte {at}")),
            }
        }
    }
    if skip_ws(bytes, at) != bytes.len() {
        return Err(format!("trailing characters at byte {at}"));
    }
    Ok(slim)
}

fn skip_ws(bytes: &[u8], mut at: usize) -> usize {
    while bytes.get(at).is_some_and(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r')) {
        at += 1;
    }
    at
}

/// The end (after the closing quote) of the string starting at `at`.
fn skip_string(bytes: &[u8], at: usize) -> Result<usize, String> {
    scan_string(bytes, at).map(|(end, _)| end)
}

/// The end (after the closing quote) of the string starting at `at`, and
/// whether it holds an escape. Short strings (member names, most values)
/// are walked byte by byte; past 16 bytes `memchr` takes over.
fn scan_string(bytes: &[u8], at: usize) -> Result<(usize, bool), String> {
    if bytes.get(at) != Some(&b'"') {
        return Err(format!("expected a string at byte {at}"));
    }
    let mut at = at + 1;
    let mut escaped = false;
    let short_end = bytes.len().min(at + 16);
    while at < short_end {
        match bytes[at] {
            b'"' => return Ok((at + 1, escaped)),
            b'\\' => {
                escaped = true;
                at += 2;
            }
            _ => at += 1,
        }
    }
    loop {
        let found = memchr::memchr2(b'"', b'\\', &bytes[at.min(bytes.len())..]).ok_or("an unterminated string")?;
        at += found;
        if bytes[at] == b'\\' {
            escaped = true;
            at += 2;
        } else {
            return Ok((at + 1, escaped));
        }
    }
}

/// The end of the JSON value starting at `at` (checked for balance only:
/// a member kept is parsed by `serde_json`).
fn skip_value(bytes: &[u8], at: usize) -> Result<usize, String> {
    match bytes.get(at) {
        Some(b'"') => skip_string(bytes, at),
        Some(b'{' | b'[') => {
            let mut depth = 0usize;
            let mut at = at;
            loop {
                match bytes.get(at) {
                    None => return Err("an unterminated object or array".into()),
                    Some(b'"') => {
                        at = skip_string(bytes, at)?;
                        continue;
                    }
                    Some(b'{' | b'[') => depth += 1,
                    Some(b'}' | b']') => {
                        depth -= 1;
                        if depth == 0 {
                            return Ok(at + 1);
                        }
                    }
                    _ => {}
                }
                at += 1;
            }
        }
        Some(_) => {
            let mut end = at;
            while bytes.get(end).is_some_and(|b| !matches!(b, b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r')) {
                end += 1;
            }
            if end == at { Err(format!("expected a value at byte {at}")) } else { Ok(end) }
        }
        None => Err("expected a value at the end".into()),
    }
}

/// The page with each slim event replaced by the whole event `fetch` reads
/// at its position (as [`super::Collector::finish`] gives them).
pub fn expand<P, E>(mut page: QueryPage, positions: &[P], mut fetch: impl FnMut(&P) -> Result<Value, E>) -> Result<QueryPage, E> {
    for (event, position) in page.result.iter_mut().zip(positions) {
        *event = fetch(position)?;
    }
    Ok(page)
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
        let request =
            QueryRequest::from_params("userId eq \"bjensen\" and /response/status eq 'FAILED'", Some("3"), None, Some("-timestamp,_id"))
                .unwrap();
        let wanted = members(&request).unwrap();
        assert_eq!(wanted, ["_id", "response", "timestamp", "userId"].into_iter().map(str::to_owned).collect());
        let whole = super::super::run(&request, records.iter().map(|r| Ok::<_, ()>(serde_json::from_str::<Value>(r).unwrap()))).unwrap();
        // Slim events gathered in two parts, the later part first.
        let part = |range: std::ops::Range<usize>| {
            let mut part = super::super::Collector::new(&request);
            for i in range {
                let event = Value::Object(read(&records[i], &wanted, "_sig").unwrap().event);
                if request.filter.matches(&event) {
                    part.offer(i, event);
                }
            }
            part
        };
        let mut slim = part(25..50);
        slim.merge(part(0..25));
        let (slim, positions) = slim.finish();
        let slim = expand(slim, &positions, |&at| Ok::<_, ()>(serde_json::from_str(&records[at]).unwrap())).unwrap();
        assert_eq!(slim, whole);
        assert_eq!(whole.result_count, 3);
        let record = read(r#"{"_sig": 1}"#, &wanted, "_sig").unwrap();
        assert!(record.flagged && record.member_count == 1);
        for bad in ["[1]", "{\"a\": 1} x", "{\"a\": ", "{\"a\" 1}", "{\"userId\": tru}", "{\"b\": \"x}", "{\"b\": [1, {\"c\": 2}}"] {
            assert!(read(bad, &wanted, "_sig").is_err(), "{bad}");
        }
        let escaped = read(r#" { "user\u0049d" : "a\"b" , "x": {"y": "}\\"}, "_id": 7 } "#, &wanted, "_sig").unwrap();
        assert_eq!(Value::Object(escaped.event), json!({"userId": "a\"b", "_id": 7}));
        assert_eq!(escaped.member_count, 3);
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
