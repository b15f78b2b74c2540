//! A WASM handler's `http` output and ForgeRock's `SplunkAuditEventHandler`
//! against in-test receivers that check what they are sent strictly
//! (method, path, content type, authorization, `Idempotency-Key` = SHA-256
//! of the body, NDJSON lines that are JSON; for Splunk the HEC event
//! objects, token and channel) and can be told to answer 503, 400/403 or
//! to drop the connection: delivered once acknowledged, retried while the
//! receiver fails, dead-lettered with the receiver's reason when it refuses
//! for good. Splunk itself is not installable here: the HEC receiver
//! implements the parts of the protocol WASP uses.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use sha2::Digest;
use wasp::AuditService;
use wasp_tests::{Fixture, probe_handler, wait_for};

#[derive(Clone, Copy, PartialEq)]
pub(crate) enum Mode {
    Accept,
    Status(u16),
    Drop,
}

#[derive(Default)]
pub(crate) struct Seen {
    /// Accepted bodies' records (each a JSON line).
    pub(crate) records: Vec<Value>,
    /// Requests refused because they broke the protocol, with why.
    pub(crate) malformed: Vec<String>,
    pub(crate) requests: usize,
}

/// What a receiver checks: the request line, headers and body; on success
/// the records it keeps and the 200 answer's body, or why the request is
/// malformed.
pub(crate) type Check = fn(&str, &BTreeMap<String, String>, &[u8]) -> Result<(Vec<Value>, String), String>;

pub(crate) struct Receiver {
    pub(crate) url: String,
    pub(crate) port: u16,
    mode: Arc<Mutex<Mode>>,
    pub(crate) seen: Arc<Mutex<Seen>>,
    /// While set, the port is closed (connections are refused) and open
    /// connections are dropped.
    down: Arc<std::sync::atomic::AtomicBool>,
}

impl Receiver {
    fn start() -> Receiver {
        Self::start_with(check)
    }

    /// A receiver checking with `check`.
    pub(crate) fn start_with(check: Check) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let url = format!("http://127.0.0.1:{port}/ingest");
        let mode = Arc::new(Mutex::new(Mode::Accept));
        let seen = Arc::new(Mutex::new(Seen::default()));
        let down = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (m, s, d) = (mode.clone(), seen.clone(), down.clone());
        std::thread::spawn(move || {
            let mut listener = Some(listener);
            loop {
                let is_down = d.load(std::sync::atomic::Ordering::SeqCst);
                match (&listener, is_down) {
                    // Closed: the port refuses connections.
                    (Some(_), true) => listener = None,
                    // Open again on the same port (std sets SO_REUSEADDR).
                    (None, false) => match TcpListener::bind(("127.0.0.1", port)) {
                        Ok(l) => listener = Some(l),
                        Err(_) => std::thread::sleep(std::time::Duration::from_millis(10)),
                    },
                    (None, true) => std::thread::sleep(std::time::Duration::from_millis(5)),
                    (Some(l), false) => {
                        l.set_nonblocking(true).unwrap();
                        match l.accept() {
                            Ok((stream, _)) => {
                                stream.set_nonblocking(false).unwrap();
                                let (m, s, d) = (m.clone(), s.clone(), d.clone());
                                std::thread::spawn(move || serve(stream, &m, &s, &d, check));
                            }
                            Err(_) => std::thread::sleep(std::time::Duration::from_millis(2)),
                        }
                    }
                }
            }
        });
        Receiver { url, port, mode, seen, down }
    }

    /// Closes the port (connections refused, open ones dropped), or opens
    /// it again.
    pub(crate) fn set_down(&self, down: bool) {
        self.down.store(down, std::sync::atomic::Ordering::SeqCst);
    }

    pub(crate) fn set(&self, mode: Mode) {
        *self.mode.lock().unwrap() = mode;
    }

    fn ids(&self) -> Vec<String> {
        self.seen.lock().unwrap().records.iter().map(|r| r["id"].as_str().unwrap_or_default().to_owned()).collect()
    }
}

/// Serves HTTP/1.1 requests of one connection (keep-alive) until it closes.
fn serve(stream: std::net::TcpStream, mode: &Mutex<Mode>, seen: &Mutex<Seen>, down: &std::sync::atomic::AtomicBool, check: Check) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut writer = stream;
    while let Some((request_line, headers, body)) = read_request(&mut reader) {
        if down.load(std::sync::atomic::Ordering::SeqCst) {
            return;
        }
        let current = *mode.lock().unwrap();
        seen.lock().unwrap().requests += 1;
        let (status, reason) = match current {
            Mode::Drop => return,
            Mode::Status(status) => (status, "mapper_parsing_exception: field [n] of type [long]".to_owned()),
            Mode::Accept => match check(&request_line, &headers, &body) {
                Ok((records, answer)) => {
                    seen.lock().unwrap().records.extend(records);
                    (200, answer)
                }
                Err(why) => {
                    seen.lock().unwrap().malformed.push(why.clone());
                    (400, why)
                }
            },
        };
        let response = format!("HTTP/1.1 {status} X\r\nContent-Length: {}\r\nContent-Type: text/plain\r\n\r\n{reason}", reason.len());
        if writer.write_all(response.as_bytes()).is_err() {
            return;
        }
    }
}

/// One HTTP/1.1 request of a keep-alive connection: its request line,
/// headers (names lowercased) and body (`Content-Length` bytes); `None`
/// when the connection closed.
pub(crate) fn read_request(reader: &mut impl BufRead) -> Option<(String, BTreeMap<String, String>, Vec<u8>)> {
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
        return None;
    }
    let mut headers = BTreeMap::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return None;
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            headers.insert(name.trim().to_ascii_lowercase(), value.trim().to_owned());
        }
    }
    let length: usize = headers.get("content-length").and_then(|l| l.parse().ok()).unwrap_or(0);
    let mut body = vec![0u8; length];
    reader.read_exact(&mut body).ok()?;
    Some((request_line, headers, body))
}

/// The checks of a strict receiver.
fn check(request_line: &str, headers: &BTreeMap<String, String>, body: &[u8]) -> Result<(Vec<Value>, String), String> {
    if !request_line.starts_with("POST /ingest ") {
        return Err(format!("unexpected request line {request_line:?}"));
    }
    if headers.get("content-type").map(String::as_str) != Some("application/x-ndjson") {
        return Err(format!("content-type {:?}", headers.get("content-type")));
    }
    if headers.get("authorization").map(String::as_str) != Some("Bearer s3cr3t") {
        return Err("authorization".into());
    }
    let key = hex::encode(sha2::Sha256::digest(body));
    if headers.get("idempotency-key") != Some(&key) {
        return Err("idempotency-key is not the SHA-256 of the body".into());
    }
    let text = std::str::from_utf8(body).map_err(|e| e.to_string())?;
    if !text.ends_with('\n') {
        return Err("NDJSON must end with a newline".into());
    }
    let records =
        text.lines().map(|l| serde_json::from_str(l).map_err(|e| format!("a line that is not JSON: {e}"))).collect::<Result<_, _>>()?;
    Ok((records, String::new()))
}

fn service(fx: &Fixture, url: &str) -> AuditService {
    let handler = probe_handler(
        "web",
        json!({"outputs": {"out": {"type": "http", "url": url, "headers": {"Authorization": "Bearer s3cr3t"}, "timeout": 2000}},
               "batch": {"maxSize": 10, "maxWait": "5 ms"}}),
    );
    AuditService::from_config_file(fx.config(&[handler])).unwrap()
}

#[test]
fn records_are_posted_as_ndjson_and_acknowledged_after_2xx() {
    let receiver = Receiver::start();
    let fx = Fixture::new();
    let audit = service(&fx, &receiver.url);
    for n in 0..25 {
        audit.publish("access", json!({"_id": format!("h{n}")})).unwrap();
    }
    audit.flush();
    let h = audit.shutdown().handlers[0].clone();
    assert_eq!((h.delivered, h.dead_lettered, h.retries), (25, 0, 0), "{h:?}");
    let seen = receiver.seen.lock().unwrap();
    assert!(seen.malformed.is_empty(), "{:?}", seen.malformed);
    assert_eq!(seen.records.len(), 25);
    assert_eq!(h.outputs[0].location, receiver.url, "shown without credentials");
}

#[test]
fn while_the_receiver_fails_events_wait_and_arrive_once_it_is_back() {
    let receiver = Receiver::start();
    let fx = Fixture::new();
    let audit = service(&fx, &receiver.url);
    receiver.set(Mode::Status(503));
    for n in 0..20 {
        audit.publish("access", json!({"_id": format!("a{n}")})).unwrap();
    }
    wait_for("retries", || audit.summary().handlers[0].retries >= 2);
    receiver.set(Mode::Drop);
    for n in 0..20 {
        audit.publish("access", json!({"_id": format!("b{n}")})).unwrap();
    }
    wait_for("more retries", || audit.summary().handlers[0].retries >= 4);
    let h = audit.summary().handlers[0].clone();
    assert_eq!((h.delivered, h.dead_lettered), (0, 0), "{h:?}");
    assert!(h.output_error.is_some(), "{h:?}");
    receiver.set(Mode::Accept);
    wait_for("every event", || {
        let ids: std::collections::BTreeSet<String> = receiver.ids().into_iter().collect();
        ids.len() == 40
    });
    audit.flush();
    let h = audit.shutdown().handlers[0].clone();
    assert_eq!((h.delivered, h.dead_lettered, h.lost), (40, 0, 0), "{h:?}");
    assert!(h.output_error.is_none());
    let counts = h.outputs[0].counts;
    assert_eq!((counts.acknowledged, counts.rejected), (40, 0), "{counts:?}");
    assert!(counts.retried >= 4 && counts.sent > 40, "every failed attempt counted: {counts:?}");
    let ids = receiver.ids();
    eprintln!("http outage: 40 events, {} received ({} duplicates), {} retries", ids.len(), ids.len() - 40, h.retries);
    assert!(receiver.seen.lock().unwrap().malformed.is_empty());
}

/// The strict checks, keeping each NDJSON line's text as it came.
fn raw_lines(request_line: &str, headers: &BTreeMap<String, String>, body: &[u8]) -> Result<(Vec<Value>, String), String> {
    check(request_line, headers, body)?;
    Ok((String::from_utf8_lossy(body).lines().map(|l| Value::String(l.to_owned())).collect(), String::new()))
}

#[test]
fn with_record_key_each_record_carries_its_own_key_across_retries() {
    let receiver = Receiver::start_with(raw_lines);
    let fx = Fixture::new();
    let handler = probe_handler(
        "web",
        json!({"outputs": {"out": {"type": "http", "url": receiver.url, "headers": {"Authorization": "Bearer s3cr3t"}, "timeout": 2000,
                                   "recordKey": "idempotencyKey"}},
               "batch": {"maxSize": 10, "maxWait": "5 ms"}}),
    );
    let audit = AuditService::from_config_file(fx.config(&[handler])).unwrap();
    receiver.set(Mode::Status(503));
    for n in 0..15 {
        audit.publish("access", json!({"_id": format!("k{n}")})).unwrap();
    }
    wait_for("retries", || audit.summary().handlers[0].retries >= 2);
    receiver.set(Mode::Accept);
    audit.flush();
    let h = audit.shutdown().handlers[0].clone();
    assert_eq!((h.delivered, h.dead_lettered), (15, 0), "{h:?}");
    let seen = receiver.seen.lock().unwrap();
    assert!(seen.malformed.is_empty(), "{:?}", seen.malformed);
    let mut ids = std::collections::BTreeSet::new();
    for line in &seen.records {
        let line = line.as_str().unwrap();
        let rest = line.strip_prefix(r#"{"idempotencyKey":""#).unwrap_or_else(|| panic!("the key comes first: {line}"));
        let (key, rest) = rest.split_at(64);
        let original = format!("{{{}", rest.strip_prefix("\",").unwrap());
        assert_eq!(key, hex::encode(sha2::Sha256::digest(original.as_bytes())), "the key is the SHA-256 of the record as written");
        ids.insert(serde_json::from_str::<Value>(&original).unwrap()["id"].as_str().unwrap().to_owned());
    }
    assert_eq!(ids.len(), 15, "{ids:?}");
}

#[test]
fn a_permanent_rejection_dead_letters_the_batch_with_the_receivers_reason() {
    let receiver = Receiver::start();
    let fx = Fixture::new();
    let audit = service(&fx, &receiver.url);
    receiver.set(Mode::Status(400));
    audit.publish("access", json!({"_id": "bad1"})).unwrap();
    audit.flush();
    let h = audit.shutdown().handlers[0].clone();
    assert_eq!((h.delivered, h.dead_lettered, h.retries), (0, 1, 0), "{h:?}");
    let counts = h.outputs[0].counts;
    assert_eq!((counts.sent, counts.acknowledged, counts.retried, counts.rejected), (1, 0, 0, 1), "{counts:?}");
    assert_eq!(receiver.seen.lock().unwrap().requests, 1, "not tried again");
    let letters = fx.dead_letters("web");
    assert_eq!(letters.len(), 1);
    assert!(letters[0].fault.message.contains("answered 400: mapper_parsing_exception"), "{:?}", letters[0].fault);
}

#[test]
fn bad_http_settings_are_named() {
    let fx = Fixture::new();
    for (output, expected) in [
        (json!({"type": "http", "url": "ftp://x/y"}), "url: `ftp://x/y` is not an http:// or https:// URL"),
        (json!({"type": "http", "url": "http://x", "headers": {"Bad Header": "v"}}), "headers: `Bad Header`"),
        (json!({"type": "http", "url": "http://x", "body": "xml"}), "unknown variant `xml`"),
    ] {
        let handler = probe_handler("web", json!({"outputs": {"out": output}}));
        let e = AuditService::from_config_file(fx.config(&[handler])).err().unwrap().to_string();
        assert!(e.contains("outputs.out") && e.contains(expected), "{e}");
    }
}

/// HEC's `/services/collector/event`: `Authorization: Splunk <token>`, a
/// request channel, a body of HEC event objects (`event` an object, `time`
/// a number of epoch seconds, `source` and `sourcetype` strings).
pub(crate) fn hec(request_line: &str, headers: &BTreeMap<String, String>, body: &[u8]) -> Result<(Vec<Value>, String), String> {
    if !request_line.starts_with("POST /services/collector/event ") {
        return Err(format!("unexpected request line {request_line:?}"));
    }
    if headers.get("authorization").map(String::as_str) != Some("Splunk 0fdc9a1e-7b0a-4c39-b9a0-3c9a0ad1e4f7") {
        return Err("invalid token".into());
    }
    let channel = headers.get("x-splunk-request-channel").ok_or("no request channel")?;
    if channel.len() != 36 {
        return Err(format!("the channel `{channel}` is not a GUID"));
    }
    let text = std::str::from_utf8(body).map_err(|e| e.to_string())?;
    let mut events = Vec::new();
    for line in text.lines() {
        let object: Value = serde_json::from_str(line).map_err(|e| format!("invalid data format: {e}"))?;
        if !object["event"].is_object() || !object["time"].is_number() || !object["source"].is_string() || object["sourcetype"] != "_json" {
            return Err(format!("not an HEC event object: {line}"));
        }
        events.push(object);
    }
    if events.is_empty() {
        return Err("no data".into());
    }
    Ok((events, r#"{"text":"Success","code":0}"#.to_owned()))
}

fn splunk_service(fx: &Fixture, port: u16) -> AuditService {
    let config = fx.config_doc(&json!({"eventHandlers": [{
        "class": "org.forgerock.audit.handlers.splunk.SplunkAuditEventHandler",
        "config": {"name": "splunk", "enabled": true, "authzToken": "0fdc9a1e-7b0a-4c39-b9a0-3c9a0ad1e4f7",
                   "connection": {"host": "127.0.0.1", "port": port, "useSSL": false}, "topics": ["access"],
                   "buffering": {"maxSize": 10000, "maxBatchedEvents": 7, "writeInterval": "10 ms"}}
    }]}));
    AuditService::from_config_file(&config).unwrap()
}

#[test]
fn splunk_hec_gets_event_objects_and_an_outage_loses_nothing() {
    let receiver = Receiver::start_with(hec);
    let fx = Fixture::new();
    let audit = splunk_service(&fx, receiver.port);
    for n in 0..10 {
        audit.publish("access", json!({"_id": format!("s{n}"), "timestamp": "2026-12-04T10:00:00.250Z", "userId": "bjensen"})).unwrap();
    }
    wait_for("the first 10 at HEC", || receiver.seen.lock().unwrap().records.len() == 10);
    // HEC busy (503), then back.
    receiver.set(Mode::Status(503));
    for n in 10..30 {
        audit.publish("access", json!({"_id": format!("s{n}"), "timestamp": "2026-12-04T10:00:01Z"})).unwrap();
    }
    wait_for("retries", || audit.summary().handlers[0].retries >= 2);
    receiver.set(Mode::Accept);
    audit.flush();
    let h = audit.shutdown().handlers[0].clone();
    assert_eq!((h.delivered, h.dead_lettered), (30, 0), "{h:?}");
    let seen = receiver.seen.lock().unwrap();
    assert!(seen.malformed.is_empty(), "{:?}", seen.malformed);
    let first = &seen.records[0];
    assert_eq!(first["source"], "access");
    assert_eq!(first["time"].as_f64(), Some(1_796_378_400.25), "the event's timestamp in epoch seconds");
    assert_eq!(first["event"]["_id"], "s0", "the event as published");
    let ids: std::collections::BTreeSet<&str> = seen.records.iter().map(|r| r["event"]["_id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), 30);
}

#[test]
fn a_wrong_splunk_token_dead_letters_with_hecs_answer() {
    let receiver = Receiver::start_with(hec);
    let fx = Fixture::new();
    receiver.set(Mode::Status(403));
    let audit = splunk_service(&fx, receiver.port);
    audit.publish("access", json!({"_id": "t1", "timestamp": "2026-12-04T10:00:00Z"})).unwrap();
    audit.flush();
    let h = audit.shutdown().handlers[0].clone();
    assert_eq!((h.delivered, h.dead_lettered), (0, 1), "{h:?}");
    assert_eq!((h.outputs[0].counts.acknowledged, h.outputs[0].counts.rejected), (0, 1), "{:?}", h.outputs[0].counts);
    assert!(fx.dead_letters("splunk")[0].fault.message.contains("answered 403"), "{:?}", fx.dead_letters("splunk")[0].fault);
}

#[test]
fn the_seed_splunk_route_passes_config_check_and_runs() {
    let receiver = Receiver::start_with(hec);
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/seeds/001-1848-route-splunk-example.json");
    let mut route: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let handler = &mut route["heap"][0]["config"]["eventHandlers"][0]["config"];
    handler["connection"]["port"] = json!(receiver.port);
    handler["authzToken"] = json!("0fdc9a1e-7b0a-4c39-b9a0-3c9a0ad1e4f7");
    let fx = Fixture::new();
    let config = fx.path().join("route.json");
    std::fs::write(&config, route.to_string()).unwrap();
    let out = wasp_tests::run_wasp(&["config", "check", config.to_str().unwrap()], None, fx.path());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("splunk HEC http://localhost:") || text.contains("splunk HEC http://127.0.0.1:"), "{text}");
    assert!(!text.contains("0fdc9a1e"), "the token is never shown: {text}");
    let events = "{\"_id\":\"seed-1\",\"transactionId\":\"t\",\"timestamp\":\"2026-12-04T10:00:00Z\"}\n";
    let out = wasp_tests::run_wasp(&["pipe", "--config", config.to_str().unwrap(), "--topic", "access"], Some(events), fx.path());
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(receiver.seen.lock().unwrap().records.len(), 1);
}

/// Elasticsearch's `POST /_bulk`: basic authentication, NDJSON pairs of an
/// `index` action (`_index`, `_id`) and a document without `_id`. Per item:
/// a document with `"bad": true` is refused for good (400
/// `mapper_parsing_exception`), one with `"busy": true` gets 429 the first
/// time its id is seen; the rest 201. Keeps `{_index, _id, doc}` of the
/// documents it indexed.
pub(crate) fn bulk(request_line: &str, headers: &BTreeMap<String, String>, body: &[u8]) -> Result<(Vec<Value>, String), String> {
    // elastic:changeme
    bulk_as(Some("Basic ZWxhc3RpYzpjaGFuZ2VtZQ=="), request_line, headers, body)
}

/// [`bulk`] for a cluster without security: a request must carry no
/// `Authorization` header.
fn bulk_anonymous(request_line: &str, headers: &BTreeMap<String, String>, body: &[u8]) -> Result<(Vec<Value>, String), String> {
    bulk_as(None, request_line, headers, body)
}

fn bulk_as(
    authorization: Option<&str>,
    request_line: &str,
    headers: &BTreeMap<String, String>,
    body: &[u8],
) -> Result<(Vec<Value>, String), String> {
    static BUSY_SEEN: Mutex<Vec<String>> = Mutex::new(Vec::new());
    if !request_line.starts_with("POST /_bulk ") {
        return Err(format!("unexpected request line {request_line:?}"));
    }
    if headers.get("content-type").map(String::as_str) != Some("application/x-ndjson") {
        return Err("content-type".into());
    }
    if headers.get("authorization").map(String::as_str) != authorization {
        return Err("authentication".into());
    }
    let text = std::str::from_utf8(body).map_err(|e| e.to_string())?;
    if !text.ends_with('\n') {
        return Err("the bulk body must end with a newline".into());
    }
    let lines: Vec<&str> = text.lines().collect();
    if !lines.len().is_multiple_of(2) {
        return Err("an action without its document".into());
    }
    let (mut kept, mut items) = (Vec::new(), Vec::new());
    for pair in lines.chunks(2) {
        let action: Value = serde_json::from_str(pair[0]).map_err(|e| format!("action: {e}"))?;
        let doc: Value = serde_json::from_str(pair[1]).map_err(|e| format!("document: {e}"))?;
        let (index, id) = (action["index"]["_index"].as_str().ok_or("no _index")?, action["index"]["_id"].as_str().ok_or("no _id")?);
        if doc.get("_id").is_some() {
            return Err("a document may not hold _id".into());
        }
        let busy_first = doc["busy"] == true && {
            let mut seen = BUSY_SEEN.lock().unwrap();
            let first = !seen.contains(&id.to_owned());
            seen.push(id.to_owned());
            first
        };
        let item = if doc["bad"] == true {
            json!({"index": {"_index": index, "_id": id, "status": 400, "error": {"type": "mapper_parsing_exception", "reason": "failed to parse field [bad] of type [long]"}}})
        } else if busy_first {
            json!({"index": {"_index": index, "_id": id, "status": 429, "error": {"type": "es_rejected_execution_exception", "reason": "rejected execution"}}})
        } else {
            kept.push(json!({"_index": index, "_id": id, "doc": doc}));
            json!({"index": {"_index": index, "_id": id, "status": 201, "result": "created"}})
        };
        items.push(item);
    }
    let errors = items.iter().any(|i| i["index"]["status"] != 201);
    Ok((kept, json!({"took": 3, "errors": errors, "items": items}).to_string()))
}

fn elasticsearch_service(fx: &Fixture, port: u16) -> AuditService {
    let config = fx.config_doc(&json!({"eventHandlers": [{
        "class": "org.forgerock.audit.handlers.elasticsearch.ElasticsearchAuditEventHandler",
        "config": {"name": "es", "topics": ["access", "authentication"], "indexMapping": {"indexName": "audit"},
                   "connection": {"host": "127.0.0.1", "port": port, "useSSL": false, "username": "elastic", "password": "changeme"},
                   "buffering": {"enabled": true, "writeInterval": "10 ms", "maxBatchedEvents": 50}}
    }]}));
    AuditService::from_config_file(&config).unwrap()
}

#[test]
fn elasticsearch_bulk_indexes_by_id_retries_busy_items_and_dead_letters_refused_ones() {
    let receiver = Receiver::start_with(bulk);
    let fx = Fixture::new();
    let audit = elasticsearch_service(&fx, receiver.port);
    for n in 0..12 {
        let mut event = json!({"_id": format!("es-{n}"), "user.name": "bjensen", "n": n});
        if n == 3 {
            event["bad"] = json!(true);
        }
        if n == 7 {
            event["busy"] = json!(true);
        }
        audit.publish(if n % 2 == 0 { "access" } else { "authentication" }, event).unwrap();
    }
    audit.flush();
    let h = audit.shutdown().handlers[0].clone();
    assert_eq!((h.delivered, h.dead_lettered), (11, 1), "{h:?}");
    assert!(h.retries >= 1, "the busy item was retried: {h:?}");
    let counts = h.outputs[0].counts;
    assert_eq!((counts.acknowledged, counts.rejected), (11, 1), "{counts:?}");
    assert_eq!(counts.retried, h.retries, "{counts:?}");
    assert!(counts.sent >= 12 + counts.retried, "a retried batch is sent again: {counts:?}");
    let seen = receiver.seen.lock().unwrap();
    assert!(seen.malformed.is_empty(), "{:?}", seen.malformed);
    let ids: std::collections::BTreeSet<&str> = seen.records.iter().map(|r| r["_id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), 11, "each indexed once by id (a re-sent document replaces itself): {ids:?}");
    assert!(!ids.contains("es-3"));
    let first = seen.records.iter().find(|r| r["_id"] == "es-0").unwrap();
    assert_eq!(first["_index"], "audit_access", "<indexName>_<topic>");
    assert_eq!(first["doc"]["_eventId"], "es-0", "stored as ForgeRock's handler stores it");
    assert_eq!(first["doc"]["user_name"], "bjensen", "dots in field names normalized");
    assert_eq!(seen.records.iter().find(|r| r["_id"] == "es-1").unwrap()["_index"], "audit_authentication");
    let letters = fx.dead_letters("es");
    assert_eq!(letters.len(), 1);
    assert_eq!(letters[0].event.id, "es-3");
    assert!(letters[0].fault.message.contains("400 mapper_parsing_exception: failed to parse field [bad]"), "{:?}", letters[0].fault);
}

#[test]
fn elasticsearch_down_under_load_then_back_gets_every_event() {
    let receiver = Receiver::start_with(bulk);
    let fx = Fixture::new();
    let audit = elasticsearch_service(&fx, receiver.port);
    const EVENTS: usize = 3000;
    for n in 0..EVENTS {
        if n == 500 {
            wait_for("the first events indexed", || !receiver.seen.lock().unwrap().records.is_empty());
            receiver.set_down(true);
        }
        audit.publish("access", json!({"_id": format!("o-{n}"), "userId": "bjensen", "n": n})).unwrap();
    }
    wait_for("retries while Elasticsearch is down", || audit.summary().handlers[0].retries >= 2);
    let h = audit.summary().handlers[0].clone();
    assert!(h.output_error.as_deref().is_some_and(|e| e.contains("127.0.0.1")), "the output's error is shown: {h:?}");
    assert!(h.delivered < EVENTS as u64, "{h:?}");
    receiver.set_down(false);
    audit.flush();
    let h = audit.shutdown().handlers[0].clone();
    assert_eq!((h.delivered, h.dead_lettered, h.lost), (EVENTS as u64, 0, 0), "nothing retryable dead-lettered: {h:?}");
    assert!(h.output_error.is_none(), "{h:?}");
    let counts = h.outputs[0].counts;
    assert_eq!((counts.acknowledged, counts.rejected), (EVENTS as u64, 0), "{counts:?}");
    assert!(counts.retried >= 2, "{counts:?}");
    let seen = receiver.seen.lock().unwrap();
    assert!(seen.malformed.is_empty(), "{:?}", seen.malformed);
    let ids: std::collections::BTreeSet<&str> = seen.records.iter().map(|r| r["_id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), EVENTS, "every event indexed");
    let duplicates = seen.records.len() - ids.len();
    eprintln!("elasticsearch outage: {EVENTS} events, {duplicates} documents sent twice (indexed once by _id), {} retries", h.retries);
    assert_eq!(duplicates, 0, "a batch the receiver never answered is the only one sent again, and it never reached the index");
}

#[test]
fn the_seed_elasticsearch_route_passes_config_check_and_runs() {
    let receiver = Receiver::start_with(bulk_anonymous);
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/seeds/001-0627-route-elasticsearch-example.json");
    let mut route: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    route["heap"][0]["config"]["eventHandlers"][0]["config"]["connection"]["port"] = json!(receiver.port);
    let fx = Fixture::new();
    let config = fx.path().join("route.json");
    std::fs::write(&config, route.to_string()).unwrap();
    let out = wasp_tests::run_wasp(&["config", "check", config.to_str().unwrap()], None, fx.path());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("index audit_<topic>"), "{text}");
    let events = "{\"_id\":\"seed-1\",\"transactionId\":\"t\",\"timestamp\":\"2026-12-04T10:00:00Z\"}\n\
                  {\"_id\":\"seed-2\",\"transactionId\":\"u\",\"timestamp\":\"2026-12-04T10:00:01Z\"}\n";
    let out = wasp_tests::run_wasp(&["pipe", "--config", config.to_str().unwrap(), "--topic", "access"], Some(events), fx.path());
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let seen = receiver.seen.lock().unwrap();
    assert!(seen.malformed.is_empty(), "{:?}", seen.malformed);
    let ids: Vec<&str> = seen.records.iter().map(|r| r["_id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["seed-1", "seed-2"]);
    assert!(seen.records.iter().all(|r| r["_index"] == "audit_access"), "{:?}", seen.records);
}

/// What can be known before running is reported by `wasp config check`:
/// an unreadable CA file, a host that does not resolve, a missing token.
#[test]
fn config_check_names_what_it_can_know_of_network_handlers() {
    let fx = Fixture::new();
    let check = |handler: Value| {
        let config = fx.config_doc(&json!({"eventHandlers": [handler]}));
        let out = wasp_tests::run_wasp(&["config", "check", config.to_str().unwrap()], None, fx.path());
        (out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
    };
    let splunk = |connection: Value, token: Value| {
        let mut config = json!({"name": "splunk", "enabled": true, "topics": ["access"], "connection": connection});
        if !token.is_null() {
            config["authzToken"] = token;
        }
        json!({"class": "org.forgerock.audit.handlers.splunk.SplunkAuditEventHandler", "config": config})
    };
    let (ok, text) = check(splunk(json!({"host": "127.0.0.1", "useSSL": true, "caFile": "missing-ca.pem"}), json!("t")));
    assert!(!ok && text.contains("missing-ca.pem"), "{text}");
    let (ok, text) = check(splunk(json!({"host": "127.0.0.1"}), Value::Null));
    assert!(!ok && text.contains("authzToken") && text.contains("required"), "{text}");
    let es = json!({"class": "org.forgerock.audit.handlers.elasticsearch.ElasticsearchAuditEventHandler",
                    "config": {"name": "es", "topics": ["access"], "connection": {"host": "no-such-host.invalid", "port": 9200}}});
    let (ok, text) = check(es);
    assert!(!ok && text.contains("no-such-host.invalid") && text.contains("does not resolve"), "{text}");
    // A bad port, for each network class.
    for port in [json!(0), json!(70000), json!(-1)] {
        let (ok, text) = check(splunk(json!({"host": "127.0.0.1", "port": port}), json!("t")));
        assert!(!ok && text.contains("connection.port") && text.contains(&format!("{port} is not a port")), "{text}");
        let es = json!({"class": "org.forgerock.audit.handlers.elasticsearch.ElasticsearchAuditEventHandler",
                        "config": {"name": "es", "topics": ["access"], "connection": {"host": "127.0.0.1", "port": port}}});
        let (ok, text) = check(es);
        assert!(!ok && text.contains("connection.port") && text.contains(&format!("{port} is not a port")), "{text}");
        let syslog = json!({"class": "org.forgerock.audit.handlers.syslog.SyslogAuditEventHandler",
                            "config": {"name": "syslog", "topics": ["access"], "protocol": "TCP", "host": "127.0.0.1", "port": port,
                                       "facility": "local0"}});
        let (ok, text) = check(syslog);
        assert!(!ok && text.contains("port") && text.contains(&format!("{port} is not a port")), "{text}");
    }
    let wasm = probe_handler("web", json!({"outputs": {"out": {"type": "http", "url": "https://127.0.0.1:9/x", "caFile": "nope.pem"}}}));
    let (ok, text) = check(json!({"class": "wasm", "config": wasm}));
    assert!(!ok && text.contains("output `out`") && text.contains("nope.pem"), "{text}");
}

/// The HEC token as a secret: `authzTokenSecretId` read from a
/// `FileSystemSecretStore` of the route's heap (PLAIN), and from one in
/// `wasp.secretStores` (BASE64, the default format); never printed.
#[test]
fn the_splunk_token_comes_from_a_secret_store() {
    let receiver = Receiver::start_with(hec);
    let fx = Fixture::new();
    let secrets = fx.path().join("secrets");
    std::fs::create_dir_all(&secrets).unwrap();
    std::fs::write(secrets.join("hec.token"), "0fdc9a1e-7b0a-4c39-b9a0-3c9a0ad1e4f7\n").unwrap();
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/seeds/001-1848-route-splunk-example.json");
    let mut route: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let handler = &mut route["heap"][0]["config"]["eventHandlers"][0]["config"];
    handler["connection"]["port"] = json!(receiver.port);
    handler.as_object_mut().unwrap().remove("authzToken");
    handler["authzTokenSecretId"] = json!("hec.token");
    handler["secretsProvider"] = json!("SecretFiles");
    route["heap"].as_array_mut().unwrap().push(json!({"name": "SecretFiles", "type": "FileSystemSecretStore",
        "config": {"directory": "secrets", "format": "PLAIN"}}));
    let config = fx.path().join("route.json");
    std::fs::write(&config, route.to_string()).unwrap();
    let out = wasp_tests::run_wasp(&["config", "check", config.to_str().unwrap()], None, fx.path());
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{text}");
    assert!(!text.contains("0fdc9a1e"), "the token is never shown: {text}");
    let events = "{\"_id\":\"secret-1\",\"transactionId\":\"t\",\"timestamp\":\"2026-12-04T10:00:00Z\"}\n";
    let out = wasp_tests::run_wasp(&["pipe", "--config", config.to_str().unwrap(), "--topic", "access"], Some(events), fx.path());
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let ids = |r: &Receiver| -> Vec<String> {
        r.seen.lock().unwrap().records.iter().map(|e| e["event"]["_id"].as_str().unwrap().to_owned()).collect()
    };
    assert_eq!(ids(&receiver), ["secret-1"], "HEC accepted the token read from the file");

    // BASE64 by default, from `wasp.secretStores`; a wrong secret is refused by HEC.
    std::fs::write(secrets.join("hec.b64"), "MGZkYzlhMWUtN2IwYS00YzM5LWI5YTAtM2M5YTBhZDFlNGY3").unwrap();
    std::fs::write(secrets.join("wrong.b64"), "d3Jvbmc=").unwrap();
    let service = |id: &str| {
        let config = fx.config_doc(&json!({
            "eventHandlers": [{"class": "org.forgerock.audit.handlers.splunk.SplunkAuditEventHandler",
                "config": {"name": "splunk", "enabled": true, "authzTokenSecretId": id, "secretsProvider": "files",
                           "connection": {"host": "127.0.0.1", "port": receiver.port}, "topics": ["access"]}}],
            "wasp": {"secretStores": [{"name": "files", "type": "FileSystemSecretStore", "config": {"directory": "secrets"}}]}
        }));
        AuditService::from_config_file(&config)
    };
    let audit = service("hec.b64").unwrap();
    audit.publish("access", json!({"_id": "secret-2", "timestamp": "2026-12-04T10:00:00Z"})).unwrap();
    audit.flush();
    assert_eq!(audit.shutdown().handlers[0].delivered, 1);
    let audit = service("wrong.b64").unwrap();
    audit.publish("access", json!({"_id": "secret-3", "timestamp": "2026-12-04T10:00:00Z"})).unwrap();
    audit.flush();
    assert_eq!(audit.shutdown().handlers[0].dead_lettered, 1, "HEC refused the wrong token");
    assert_eq!(ids(&receiver), ["secret-1", "secret-2"]);
    let error = service("hec.token").err().expect("a PLAIN file read as BASE64 is an error").to_string();
    assert!(error.contains("authzTokenSecretId") && error.contains("`hec.token`") && error.contains("Base64"), "{error}");
    assert!(!error.contains("0fdc9a1e"), "{error}");
}

/// The seeds' Elasticsearch and Splunk usage templates, every setting
/// filled in, pointed at the in-test receivers: they pass `wasp config
/// check` and deliver.
#[test]
fn the_filled_elasticsearch_and_splunk_usages_run() {
    let fx = Fixture::new();
    let events = "{\"_id\":\"u-1\",\"transactionId\":\"t1\",\"timestamp\":\"2026-12-04T10:00:00Z\"}\n\
                  {\"_id\":\"u-2\",\"transactionId\":\"t2\",\"timestamp\":\"2026-12-04T10:00:01Z\"}\n";
    let run = |template: &str, handler: Value| {
        let service = json!({"type": "AuditService", "config": {"config": {}, "eventHandlers": [handler]}});
        crate::seeds::assert_fills_template(template, &service);
        let config = fx.path().join(format!("{template}.filled.json"));
        std::fs::write(
            &config,
            json!({"heap": [{"name": "AuditService", "type": "AuditService", "config": service["config"]}]}).to_string(),
        )
        .unwrap();
        let out = wasp_tests::run_wasp(&["config", "check", config.to_str().unwrap()], None, fx.path());
        assert!(out.status.success(), "{template}: {}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        let out = wasp_tests::run_wasp(&["pipe", "--config", config.to_str().unwrap(), "--topic", "access"], Some(events), fx.path());
        assert!(out.status.success(), "{template}: {}", String::from_utf8_lossy(&out.stderr));
    };

    let es = Receiver::start_with(bulk);
    run(
        "001-0485-audit-service-elasticsearch-usage.json",
        json!({"class": "org.forgerock.audit.handlers.elasticsearch.ElasticsearchAuditEventHandler",
               "config": {"name": "es", "topics": ["access"],
                          "connection": {"host": "127.0.0.1", "port": es.port, "useSSL": false, "username": "elastic", "password": "changeme"},
                          "indexMapping": {"indexName": "usage"},
                          "buffering": {"enabled": true, "writeInterval": "20 ms", "maxSize": 1000, "maxBatchedEvents": 100}}}),
    );
    let seen = es.seen.lock().unwrap();
    assert!(seen.malformed.is_empty(), "{:?}", seen.malformed);
    assert_eq!(
        seen.records.iter().map(|r| (r["_index"].as_str().unwrap(), r["_id"].as_str().unwrap())).collect::<Vec<_>>(),
        [("usage_access", "u-1"), ("usage_access", "u-2")]
    );

    let splunk = Receiver::start_with(hec);
    run(
        "001-1724-audit-service-splunk-usage.json",
        json!({"class": "org.forgerock.audit.handlers.splunk.SplunkAuditEventHandler",
               "config": {"name": "splunk", "topics": ["access"], "enabled": true,
                          "connection": {"useSSL": false, "host": "127.0.0.1", "port": splunk.port},
                          "buffering": {"maxSize": 1000, "writeInterval": "20 ms", "maxBatchedEvents": 100},
                          "authzToken": "0fdc9a1e-7b0a-4c39-b9a0-3c9a0ad1e4f7"}}),
    );
    let seen = splunk.seen.lock().unwrap();
    assert!(seen.malformed.is_empty(), "{:?}", seen.malformed);
    assert_eq!(seen.records.iter().map(|r| r["event"]["_id"].as_str().unwrap()).collect::<Vec<_>>(), ["u-1", "u-2"]);
}

/// Credentials never reach the logs: the Elasticsearch password (and its
/// basic-auth form) and the HEC token, with debug logging on, while the
/// receivers refuse (401, then 503 until the run ends) and dead letters
/// are written.
#[test]
fn credentials_are_never_logged_even_at_debug_level() {
    let fx = Fixture::new();
    let (es, splunk) = (Receiver::start_with(bulk), Receiver::start_with(hec));
    es.set(Mode::Status(401));
    splunk.set(Mode::Status(403));
    let config = fx.config_doc(&json!({"eventHandlers": [
        {"class": "org.forgerock.audit.handlers.elasticsearch.ElasticsearchAuditEventHandler",
         "config": {"name": "es", "topics": ["access"], "indexMapping": {"indexName": "audit"},
                    "connection": {"host": "127.0.0.1", "port": es.port, "username": "elastic", "password": "changeme"},
                    "buffering": {"writeInterval": "5 ms", "maxBatchedEvents": 10}}},
        {"class": "org.forgerock.audit.handlers.splunk.SplunkAuditEventHandler",
         "config": {"name": "splunk", "topics": ["access"], "authzToken": "0fdc9a1e-7b0a-4c39-b9a0-3c9a0ad1e4f7",
                    "connection": {"host": "127.0.0.1", "port": splunk.port}, "buffering": {"writeInterval": "5 ms"}}}
    ]}));
    let events = "{\"_id\":\"c-1\",\"transactionId\":\"t1\",\"timestamp\":\"2026-12-04T10:00:00Z\"}\n";
    let out = std::process::Command::new(wasp_tests::wasp_bin())
        .args(["pipe", "--config", config.to_str().unwrap(), "--topic", "access"])
        .current_dir(fx.path())
        .env("RUST_LOG", "debug")
        .stdin(
            std::fs::File::open({
                let input = fx.path().join("events.ndjson");
                std::fs::write(&input, events).unwrap();
                input
            })
            .unwrap(),
        )
        .output()
        .unwrap();
    let logs = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(logs.contains("answered 401") && logs.contains("answered 403"), "the refusals are logged: {logs}");
    let mut written = logs.clone();
    for handler in ["es", "splunk"] {
        for letter in fx.dead_letters(handler) {
            written.push_str(&format!("{letter:?}"));
        }
    }
    assert!(written.contains("c-1"), "the events were dead-lettered: {written}");
    for secret in ["changeme", "ZWxhc3RpYzpjaGFuZ2VtZQ", "0fdc9a1e-7b0a-4c39-b9a0-3c9a0ad1e4f7"] {
        assert!(!written.contains(secret), "`{secret}` was logged or written: {written}");
    }
}

/// `/metrics` of a `wasp run` while its Elasticsearch receiver is down:
/// the output shows down, its retries count, the events wait (lag and
/// journal); once it is back, every event is acknowledged and the lag is 0.
#[test]
fn metrics_show_a_network_output_down_with_its_backlog_then_its_recovery() {
    const TOKEN: &str = "metrics-admin-token";
    let es = Receiver::start_with(bulk);
    es.set_down(true);
    let fx = Fixture::new();
    fx.config_doc(&json!({
        "eventHandlers": [{"class": "org.forgerock.audit.handlers.elasticsearch.ElasticsearchAuditEventHandler",
            "config": {"name": "es", "topics": ["access"], "indexMapping": {"indexName": "audit"},
                       "connection": {"host": "127.0.0.1", "port": es.port, "username": "elastic", "password": "changeme"},
                       "buffering": {"writeInterval": "5 ms", "maxBatchedEvents": 10}}}],
        "wasp": {"sidecar": {"adminToken": wasp::sidecar::hash_token(TOKEN)}}
    }));
    let run = wasp_tests::WaspRun::start(fx.path());
    for n in 0..30 {
        let event = json!({"_id": format!("m-{n}"), "transactionId": format!("t{n}"), "timestamp": "2026-12-04T10:00:00Z"});
        let (status, body) = wasp_tests::http(&run.address, TOKEN, "POST", "/audit/access", "application/json", &event.to_string());
        assert_eq!(status, 201, "{body}");
    }
    // The sum of the series whose line starts with `prefix` (name and first labels).
    let metric = |prefix: &str| -> u64 {
        let (status, text) = wasp_tests::http(&run.address, TOKEN, "GET", "/metrics", "text/plain", "");
        assert_eq!(status, 200, "{text}");
        text.lines().filter(|l| l.starts_with(prefix)).filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok()).sum()
    };
    wait_for("the output down, retried", || {
        metric(r#"wasp_handler_output_down{handler="es""#) == 1 && metric(r#"wasp_output_retries_total{handler="es""#) >= 2
    });
    assert_eq!(metric(r#"wasp_handler_lag_events{handler="es"}"#), 30, "every event waits");
    assert_eq!(metric(r#"wasp_journal_events{tenant=""}"#), 30);
    assert_eq!(metric(r#"wasp_output_records_acknowledged_total{handler="es""#), 0);
    es.set_down(false);
    wait_for("every event acknowledged", || metric(r#"wasp_output_records_acknowledged_total{handler="es""#) == 30);
    wait_for("no lag", || metric(r#"wasp_handler_lag_events{handler="es"}"#) == 0);
    assert_eq!(metric(r#"wasp_handler_output_down{handler="es""#), 0);
    assert_eq!(metric(r#"wasp_output_records_rejected_total{handler="es""#), 0);
    assert_eq!(metric(r#"wasp_handler_delivered_total{handler="es""#), 30);
    let (code, stderr) = run.terminate();
    assert_eq!(code, Some(0), "{stderr}");
    assert!(!stderr.contains("changeme"), "{stderr}");
    assert_eq!(es.seen.lock().unwrap().records.len(), 30);
}
