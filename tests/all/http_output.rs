//! A WASM handler's `http` output against an in-test receiver that checks
//! what it is sent strictly (method, path, content type, authorization,
//! `Idempotency-Key` = SHA-256 of the body, NDJSON lines that are JSON) and
//! can be told to answer 503, 400 or to drop the connection: delivered once
//! acknowledged, retried while the receiver fails, dead-lettered with the
//! receiver's reason when it refuses for good.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use sha2::Digest;
use wasp::AuditService;
use wasp_tests::{Fixture, probe_handler, wait_for};

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Accept,
    Status(u16),
    Drop,
}

#[derive(Default)]
struct Seen {
    /// Accepted bodies' records (each a JSON line).
    records: Vec<Value>,
    /// Requests refused because they broke the protocol, with why.
    malformed: Vec<String>,
    requests: usize,
}

struct Receiver {
    url: String,
    mode: Arc<Mutex<Mode>>,
    seen: Arc<Mutex<Seen>>,
}

impl Receiver {
    fn start() -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/ingest", listener.local_addr().unwrap());
        let mode = Arc::new(Mutex::new(Mode::Accept));
        let seen = Arc::new(Mutex::new(Seen::default()));
        let (m, s) = (mode.clone(), seen.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let (m, s) = (m.clone(), s.clone());
                std::thread::spawn(move || serve(stream, &m, &s));
            }
        });
        Receiver { url, mode, seen }
    }

    fn set(&self, mode: Mode) {
        *self.mode.lock().unwrap() = mode;
    }

    fn ids(&self) -> Vec<String> {
        self.seen.lock().unwrap().records.iter().map(|r| r["id"].as_str().unwrap_or_default().to_owned()).collect()
    }
}

/// Serves HTTP/1.1 requests of one connection (keep-alive) until it closes.
fn serve(stream: std::net::TcpStream, mode: &Mutex<Mode>, seen: &Mutex<Seen>) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut writer = stream;
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
            return;
        }
        let mut headers = BTreeMap::new();
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
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
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let current = *mode.lock().unwrap();
        seen.lock().unwrap().requests += 1;
        let (status, reason) = match current {
            Mode::Drop => return,
            Mode::Status(status) => (status, "mapper_parsing_exception: field [n] of type [long]".to_owned()),
            Mode::Accept => match check(&request_line, &headers, &body) {
                Ok(records) => {
                    seen.lock().unwrap().records.extend(records);
                    (200, String::new())
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

/// The checks of a strict receiver; the records on success.
fn check(request_line: &str, headers: &BTreeMap<String, String>, body: &[u8]) -> Result<Vec<Value>, String> {
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
    text.lines().map(|l| serde_json::from_str(l).map_err(|e| format!("a line that is not JSON: {e}"))).collect()
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
    let ids = receiver.ids();
    eprintln!("http outage: 40 events, {} received ({} duplicates), {} retries", ids.len(), ids.len() - 40, h.retries);
    assert!(receiver.seen.lock().unwrap().malformed.is_empty());
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
