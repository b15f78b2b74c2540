//! `handlerForQueries` naming an Elasticsearch handler: read by `_id`, and
//! `_queryFilter` with sort keys and paging, over the index of a topic
//! (`<indexName>_<topic>`).
//!
//! The filter is translated to an Elasticsearch query that only narrows
//! the documents read, and only where Elasticsearch decides exactly as
//! CREST does: `pr` becomes `exists`, an ordering of a field against a
//! number becomes a `range`, `and` a `bool` `filter`, an `or` of such parts
//! a `bool` `should`. Everything else (string comparisons, which CREST
//! makes ignoring case whatever the index mapping says; negations) reads
//! every document and is left to the exact evaluation of
//! [`crate::query::run`] over the documents read, which also sorts and
//! pages. So a query never misses a document the filter matches. Documents
//! are read with the scroll API (1000 at a time), so an index larger than
//! Elasticsearch's `max_result_window` is read whole; the handler's
//! normalisation of field names is undone on every document read.

use serde_json::{Value, json};

use super::BulkTarget;
use crate::query::filter::{Expr, Op};
use crate::query::{QueryPage, QueryRequest};

/// Documents asked for per scroll page.
const PAGE: usize = 1000;

/// The Elasticsearch query narrowing `expr` (`None`: every document).
pub(crate) fn translate(expr: &Expr) -> Option<Value> {
    match expr {
        Expr::Present(pointer) => Some(json!({"exists": {"field": field(pointer)?}})),
        Expr::Compare { pointer, op, value: Value::Number(n), .. } => {
            let bound = match op {
                Op::Gt => "gt",
                Op::Ge => "ge",
                Op::Lt => "lt",
                Op::Le => "le",
                // Equality of numbers: CREST compares 1 and 1.0 equal, as a
                // range does; kept as a closed range.
                Op::Eq => return Some(json!({"range": {field(pointer)?: {"gte": n, "lte": n}}})),
                Op::Co | Op::Sw => return None,
            };
            let bound = match bound {
                "ge" => "gte",
                "le" => "lte",
                other => other,
            };
            Some(json!({"range": {field(pointer)?: {bound: n}}}))
        }
        Expr::And(children) => {
            let parts: Vec<Value> = children.iter().filter_map(translate).collect();
            (!parts.is_empty()).then(|| json!({"bool": {"filter": parts}}))
        }
        Expr::Or(children) => {
            let parts: Option<Vec<Value>> = children.iter().map(translate).collect();
            parts.map(|parts| json!({"bool": {"should": parts, "minimum_should_match": 1}}))
        }
        Expr::Const(false) => Some(json!({"bool": {"must_not": [{"match_all": {}}]}})),
        Expr::Const(true) | Expr::Not(_) | Expr::Compare { .. } => None,
    }
}

/// The document field of a JSON pointer, as the handler stored it (dots
/// in names became `_`); `None` for `_id`, which is no document field.
fn field(pointer: &str) -> Option<String> {
    let parts: Vec<String> =
        pointer.trim_start_matches('/').split('/').map(|p| p.replace("~1", "/").replace("~0", "~").replace('.', "_")).collect();
    if parts.first().is_some_and(|p| p == "_id") {
        return None;
    }
    Some(parts.join("."))
}

/// An Elasticsearch reader for one index.
pub struct IndexReader {
    agent: ureq::Agent,
    target: BulkTarget,
    index: String,
}

impl IndexReader {
    /// A reader of `index` at `target`.
    pub fn new(target: &BulkTarget, index: String) -> Result<IndexReader, String> {
        let agent = crate::outputs::http::agent(target.timeout, &target.tls).map_err(|e| e.to_string())?;
        Ok(IndexReader { agent, target: target.clone(), index })
    }

    fn send(&self, method: &str, path: &str, body: Option<&Value>) -> Result<(u16, Value), String> {
        let url = format!("{}{path}", self.target.base_url);
        let mut request = ureq::http::Request::builder().method(method).uri(&url);
        if let Some((user, password)) = &self.target.credentials {
            use base64::Engine;
            let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
            request = request.header("Authorization", format!("Basic {token}"));
        }
        let response = match body {
            Some(body) => {
                let request =
                    request.header("Content-Type", "application/json").body(body.to_string()).map_err(|e| format!("{url}: {e}"))?;
                self.agent.run(request)
            }
            None => self.agent.run(request.body(()).map_err(|e| format!("{url}: {e}"))?),
        };
        let mut response = response.map_err(|e| format!("{url}: {e}"))?;
        let status = response.status().as_u16();
        let text = response.body_mut().read_to_string().map_err(|e| format!("{url}: {e}"))?;
        let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Ok((status, value))
    }

    fn failed(&self, what: &str, status: u16, answer: &Value) -> String {
        let reason = answer.pointer("/error/reason").and_then(Value::as_str).map_or_else(|| answer.to_string(), str::to_owned);
        format!("{} index {}: {what} answered {status}: {}", self.target.base_url, self.index, reason.chars().take(512).collect::<String>())
    }

    /// The event whose `_id` is `id`, if the index has it.
    pub fn read(&self, id: &str) -> Result<Option<Value>, String> {
        let path = format!("/{}/_doc/{}", self.index, percent(id));
        let (status, answer) = self.send("GET", &path, None)?;
        match status {
            404 => Ok(None),
            200 if answer["found"] == true => Ok(Some(event(&answer))),
            200 => Ok(None),
            _ => Err(self.failed("a read", status, &answer)),
        }
    }

    /// Every document the filter may match, as events.
    pub fn candidates(&self, request: &QueryRequest) -> Result<Vec<Value>, String> {
        let query = translate(request.filter.expr()).unwrap_or_else(|| json!({"match_all": {}}));
        let body = json!({"size": PAGE, "query": query, "sort": ["_doc"]});
        let (status, mut answer) = self.send("POST", &format!("/{}/_search?scroll=1m", self.index), Some(&body))?;
        if status == 404 {
            // No event of the topic was indexed yet.
            return Ok(Vec::new());
        }
        if status != 200 {
            return Err(self.failed("a search", status, &answer));
        }
        let mut events = Vec::new();
        let mut scroll_id = None;
        loop {
            let hits = answer.pointer("/hits/hits").and_then(Value::as_array).cloned().unwrap_or_default();
            if let Some(id) = answer.get("_scroll_id").and_then(Value::as_str) {
                scroll_id = Some(id.to_owned());
            }
            if hits.is_empty() {
                break;
            }
            events.extend(hits.iter().map(event));
            let Some(id) = &scroll_id else { break };
            let (status, next) = self.send("POST", "/_search/scroll", Some(&json!({"scroll": "1m", "scroll_id": id})))?;
            if status != 200 {
                return Err(self.failed("a scroll", status, &next));
            }
            answer = next;
        }
        if let Some(id) = scroll_id {
            // Frees the server's scroll context; it expires anyway.
            let _ = self.send("DELETE", "/_search/scroll", Some(&json!({"scroll_id": [id]})));
        }
        Ok(events)
    }

    /// Runs `request` over the index.
    pub fn query(&self, request: &QueryRequest) -> Result<QueryPage, String> {
        let events = self.candidates(request)?;
        match crate::query::run(request, events.into_iter().map(Ok::<_, std::convert::Infallible>)) {
            Ok(page) => Ok(page),
            Err(never) => match never {},
        }
    }
}

/// A hit (or a `_doc` answer) as the event it was: its `_source` with the
/// handler's normalisation undone, `_id` from the document's id.
fn event(hit: &Value) -> Value {
    let mut event = super::denormalize(hit.get("_source").cloned().unwrap_or(Value::Null));
    if let (Some(object), Some(id)) = (event.as_object_mut(), hit.get("_id").and_then(Value::as_str)) {
        object.insert("_id".to_owned(), Value::String(id.to_owned()));
    }
    event
}

/// `id` as a URL path segment.
fn percent(id: &str) -> String {
    let mut out = String::new();
    for byte in id.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::filter::QueryFilter;

    fn translated(filter: &str) -> Option<Value> {
        translate(QueryFilter::parse(filter).unwrap().expr())
    }

    #[test]
    fn only_what_elasticsearch_decides_exactly_narrows_the_search() {
        assert_eq!(translated("/response/elapsedTime pr"), Some(json!({"exists": {"field": "response.elapsedTime"}})));
        assert_eq!(translated("/n ge 3"), Some(json!({"range": {"n": {"gte": 3}}})));
        assert_eq!(translated("/user.name pr"), Some(json!({"exists": {"field": "user_name"}})));
        // Strings compare ignoring case in CREST: read everything.
        assert_eq!(translated("/userId eq \"bjensen\""), None);
        assert_eq!(translated("!(/n pr)"), None);
        assert_eq!(translated("/_id eq \"x\""), None);
        assert_eq!(translated("/n gt 1 and /userId eq \"b\""), Some(json!({"bool": {"filter": [{"range": {"n": {"gt": 1}}}]}})));
        assert_eq!(translated("/n gt 1 or /userId eq \"b\""), None, "an or with a part that cannot narrow cannot narrow");
        assert_eq!(
            translated("/n lt 1 or /m pr"),
            Some(json!({"bool": {"should": [{"range": {"n": {"lt": 1}}}, {"exists": {"field": "m"}}], "minimum_should_match": 1}}))
        );
        assert_eq!(translated("true"), None);
    }

    #[test]
    fn ids_are_escaped_in_paths() {
        assert_eq!(percent("a b/c?"), "a%20b%2Fc%3F");
    }
}
