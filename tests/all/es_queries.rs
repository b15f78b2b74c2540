//! `handlerForQueries` naming ForgeRock's `ElasticsearchAuditEventHandler`:
//! `wasp query` (filter, paging, sorting, read by id) answered from the
//! index the handler wrote. Elasticsearch is not installable here: the
//! receiver is an in-test server keeping the documents it indexed and
//! implementing, strictly, the parts of the Bulk, search, scroll and
//! document APIs that WASP uses (a query clause it does not know is a 400,
//! as in Elasticsearch; a missing index a 404).

use std::collections::BTreeMap;
use std::io::{BufReader, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use wasp_tests::{Fixture, run_wasp};

#[derive(Default)]
struct Store {
    /// index → id → document.
    indices: BTreeMap<String, BTreeMap<String, Value>>,
    /// scroll id → hits left.
    scrolls: BTreeMap<String, Vec<Value>>,
    /// Queries received in searches, as sent.
    queries: Vec<Value>,
    /// Requests refused as malformed, with why.
    malformed: Vec<String>,
}

struct Elasticsearch {
    port: u16,
    store: Arc<Mutex<Store>>,
}

impl Elasticsearch {
    fn start() -> Elasticsearch {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let store = Arc::new(Mutex::new(Store::default()));
        let shared = store.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let store = shared.clone();
                std::thread::spawn(move || serve(stream, &store));
            }
        });
        Elasticsearch { port, store }
    }
}

fn serve(stream: std::net::TcpStream, store: &Mutex<Store>) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut writer = stream;
    while let Some((request_line, headers, body)) = crate::http_output::read_request(&mut reader) {
        let mut parts = request_line.split_whitespace();
        let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
        let (status, answer) = if headers.get("authorization").map(String::as_str) != Some("Basic ZWxhc3RpYzpjaGFuZ2VtZQ==") {
            (401, json!({"error": {"type": "security_exception", "reason": "missing authentication credentials"}}))
        } else {
            match handle(method, target, &headers, &body, &mut store.lock().unwrap()) {
                Ok(answer) => answer,
                Err(why) => {
                    store.lock().unwrap().malformed.push(format!("{method} {target}: {why}"));
                    (400, json!({"error": {"type": "parsing_exception", "reason": why}}))
                }
            }
        };
        let text = answer.to_string();
        let response = format!("HTTP/1.1 {status} X\r\nContent-Length: {}\r\nContent-Type: application/json\r\n\r\n{text}", text.len());
        if writer.write_all(response.as_bytes()).is_err() {
            return;
        }
    }
}

fn handle(method: &str, target: &str, headers: &BTreeMap<String, String>, body: &[u8], store: &mut Store) -> Result<(u16, Value), String> {
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let json_body = || -> Result<Value, String> {
        if headers.get("content-type").map(String::as_str) != Some("application/json") {
            return Err(format!("content-type {:?}", headers.get("content-type")));
        }
        serde_json::from_slice(body).map_err(|e| format!("body: {e}"))
    };
    match (method, segments.as_slice()) {
        ("POST", ["_bulk"]) => {
            let text = std::str::from_utf8(body).map_err(|e| e.to_string())?;
            let lines: Vec<&str> = text.lines().collect();
            if !text.ends_with('\n') || !lines.len().is_multiple_of(2) {
                return Err("bulk body".into());
            }
            let mut items = Vec::new();
            for pair in lines.chunks(2) {
                let action: Value = serde_json::from_str(pair[0]).map_err(|e| format!("action: {e}"))?;
                let doc: Value = serde_json::from_str(pair[1]).map_err(|e| format!("document: {e}"))?;
                let (index, id) =
                    (action["index"]["_index"].as_str().ok_or("no _index")?, action["index"]["_id"].as_str().ok_or("no _id")?);
                store.indices.entry(index.to_owned()).or_default().insert(id.to_owned(), doc);
                items.push(json!({"index": {"_index": index, "_id": id, "status": 201}}));
            }
            Ok((200, json!({"errors": false, "items": items})))
        }
        ("POST", [index, "_search"]) => {
            if query != "scroll=1m" {
                return Err(format!("expected ?scroll=1m, got {query:?}"));
            }
            let request = json_body()?;
            if request["sort"] != json!(["_doc"]) {
                return Err("sort".into());
            }
            let size = request["size"].as_u64().ok_or("size")? as usize;
            let Some(docs) = store.indices.get(*index) else {
                return Ok((
                    404,
                    json!({"error": {"type": "index_not_found_exception", "reason": format!("no such index [{index}]")}, "status": 404}),
                ));
            };
            let mut hits = Vec::new();
            for (id, doc) in docs {
                if matches(&request["query"], doc)? {
                    hits.push(json!({"_index": index, "_id": id, "_source": doc}));
                }
            }
            store.queries.push(request["query"].clone());
            let rest = hits.split_off(size.min(hits.len()));
            let scroll_id = format!("scroll-{}", store.scrolls.len());
            store.scrolls.insert(scroll_id.clone(), rest);
            Ok((200, json!({"_scroll_id": scroll_id, "hits": {"hits": hits}})))
        }
        ("POST", ["_search", "scroll"]) => {
            let request = json_body()?;
            let id = request["scroll_id"].as_str().ok_or("scroll_id")?;
            let left = store.scrolls.get_mut(id).ok_or("no such scroll")?;
            let page: Vec<Value> = left.drain(..left.len().min(1000)).collect();
            Ok((200, json!({"_scroll_id": id, "hits": {"hits": page}})))
        }
        ("DELETE", ["_search", "scroll"]) => {
            let request = json_body()?;
            for id in request["scroll_id"].as_array().ok_or("scroll_id")? {
                store.scrolls.remove(id.as_str().unwrap_or_default());
            }
            Ok((200, json!({"succeeded": true})))
        }
        ("GET", [index, "_doc", id]) => {
            let id = percent_decode(id);
            match store.indices.get(*index).and_then(|docs| docs.get(&id)) {
                Some(doc) => Ok((200, json!({"_index": index, "_id": id, "found": true, "_source": doc}))),
                None => Ok((404, json!({"_index": index, "_id": id, "found": false}))),
            }
        }
        _ => Err(format!("unexpected request {method} {target}")),
    }
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() + 1 {
            out.push(u8::from_str_radix(&text[i + 1..i + 3], 16).unwrap());
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

/// The document's value at a dotted field path.
fn field<'a>(doc: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(doc, |node, part| node.get(part))
}

/// Elasticsearch's query DSL, the parts WASP sends; anything else is
/// refused.
fn matches(query: &Value, doc: &Value) -> Result<bool, String> {
    let object = query.as_object().ok_or("a query is an object")?;
    if object.len() != 1 {
        return Err(format!("one clause per query object: {query}"));
    }
    let (kind, body) = object.iter().next().unwrap();
    match kind.as_str() {
        "match_all" => Ok(true),
        "exists" => Ok(field(doc, body["field"].as_str().ok_or("exists.field")?).is_some_and(|v| !v.is_null())),
        "range" => {
            let (name, bounds) = body.as_object().and_then(|o| o.iter().next()).ok_or("range")?;
            let Some(value) = field(doc, name).and_then(Value::as_f64) else { return Ok(false) };
            let mut ok = true;
            for (op, bound) in bounds.as_object().ok_or("range bounds")? {
                let bound = bound.as_f64().ok_or("a numeric bound")?;
                ok &= match op.as_str() {
                    "gt" => value > bound,
                    "gte" => value >= bound,
                    "lt" => value < bound,
                    "lte" => value <= bound,
                    other => return Err(format!("range operator {other}")),
                };
            }
            Ok(ok)
        }
        "bool" => {
            let mut ok = true;
            for (part, clauses) in body.as_object().ok_or("bool")? {
                match part.as_str() {
                    "filter" => {
                        for clause in clauses.as_array().ok_or("filter")? {
                            ok &= matches(clause, doc)?;
                        }
                    }
                    "must_not" => {
                        for clause in clauses.as_array().ok_or("must_not")? {
                            ok &= !matches(clause, doc)?;
                        }
                    }
                    "should" => {
                        let mut any = false;
                        for clause in clauses.as_array().ok_or("should")? {
                            any |= matches(clause, doc)?;
                        }
                        ok &= any;
                    }
                    "minimum_should_match" => {
                        if clauses != &json!(1) {
                            return Err("minimum_should_match".into());
                        }
                    }
                    other => return Err(format!("bool.{other}")),
                }
            }
            Ok(ok)
        }
        other => Err(format!("unknown query [{other}]")),
    }
}

#[test]
fn wasp_query_reads_an_elasticsearch_handlers_index() {
    let es = Elasticsearch::start();
    let fx = Fixture::new();
    let config = fx.config_doc(&json!({
        "config": {"handlerForQueries": "es"},
        "eventHandlers": [{
            "class": "org.forgerock.audit.handlers.elasticsearch.ElasticsearchAuditEventHandler",
            "config": {"name": "es", "topics": ["access"], "indexMapping": {"indexName": "audit"},
                       "connection": {"host": "127.0.0.1", "port": es.port, "useSSL": false, "username": "elastic", "password": "changeme"},
                       "buffering": {"enabled": true, "writeInterval": "10 ms", "maxBatchedEvents": 500}}
        }]
    }));
    let config = config.to_str().unwrap();
    let query = |args: &[&str]| -> Value {
        let mut all = vec!["query", "--config", config, "--topic", "access"];
        all.extend_from_slice(args);
        let out = run_wasp(&all, None, fx.path());
        assert!(out.status.success(), "query {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice(&out.stdout).unwrap()
    };
    // Before any event: the index does not exist, the answer is empty.
    assert_eq!(query(&[])["resultCount"], 0);

    // 2,500 events: more than one scroll page.
    let events: Vec<Value> = (0..2500)
        .map(|n| {
            let mut e = json!({"_id": format!("ev-{n:04}"), "transactionId": format!("t{n}"), "timestamp": "2026-12-05T10:00:00Z",
                               "eventName": "AM-ACCESS-OUTCOME", "userId": if n % 2 == 0 { "bjensen" } else { "SCarter" }, "n": n});
            if n % 5 == 0 {
                e["response"] = json!({"elapsedTime": n});
            }
            e
        })
        .collect();
    let body: String = events.iter().map(|e| format!("{e}\n")).collect();
    let piped = run_wasp(&["pipe", "--config", config, "--topic", "access", "--json"], Some(&body), fx.path());
    assert!(piped.status.success(), "pipe: {}", String::from_utf8_lossy(&piped.stderr));
    assert_eq!(es.store.lock().unwrap().indices["audit_access"].len(), 2500);

    let all = query(&["--sort-keys", "_id"]);
    assert_eq!(all["result"].as_array().unwrap(), &events, "every event reads back as published");
    // Case-insensitive string comparison (CREST), decided by WASP.
    let scarter = query(&["--filter", "userId eq \"scarter\"", "--page-size", "10", "--sort-keys", "-n"]);
    assert_eq!(scarter["totalPagedResults"], 1250);
    let first: Vec<&Value> = events.iter().rev().filter(|e| e["userId"] == "SCarter").take(10).collect();
    assert_eq!(scarter["result"].as_array().unwrap().iter().collect::<Vec<_>>(), first);
    // Narrowed by Elasticsearch (exists and range), exact in the end.
    let narrowed = query(&["--filter", "response/elapsedTime pr and n ge 2000 and userId eq \"BJENSEN\"", "--sort-keys", "n"]);
    let expected: Vec<&Value> = events.iter().filter(|e| e["n"].as_u64().unwrap() >= 2000 && e["n"].as_u64().unwrap() % 10 == 0).collect();
    assert_eq!(narrowed["result"].as_array().unwrap().iter().collect::<Vec<_>>(), expected);
    let sent = es.store.lock().unwrap().queries.last().cloned().unwrap();
    assert_eq!(
        sent,
        json!({"bool": {"filter": [{"exists": {"field": "response.elapsedTime"}}, {"range": {"n": {"gte": 2000}}}]}}),
        "the search was narrowed"
    );
    // Paging with the cookie.
    let page1 = query(&["--filter", "n lt 25", "--page-size", "20", "--sort-keys", "n"]);
    assert_eq!(page1["result"].as_array().unwrap().len(), 20);
    let cookie = page1["pagedResultsCookie"].as_str().unwrap().to_owned();
    let page2 = query(&["--filter", "n lt 25", "--page-size", "20", "--sort-keys", "n", "--cookie", &cookie]);
    assert_eq!(page2["result"].as_array().unwrap().iter().collect::<Vec<_>>(), events[20..25].iter().collect::<Vec<_>>());
    // Read by id; an unknown id.
    assert_eq!(query(&["--id", "ev-0042"]), events[42]);
    let missing = run_wasp(&["query", "--config", config, "--topic", "access", "--id", "nope/../x"], None, fx.path());
    assert!(!missing.status.success());
    assert!(es.store.lock().unwrap().malformed.is_empty(), "{:?}", es.store.lock().unwrap().malformed);
    assert!(es.store.lock().unwrap().scrolls.is_empty(), "every scroll was cleared");
}
