//! Isolation attacks on a real `wasp run` over loopback HTTP: a tenant's
//! token reaching for another tenant's events, actions and dead letters;
//! path traversal in topic, handler, tenant and `_id`; oversized headers,
//! bodies, events and batches; a burst over a tenant's quota. Each attack
//! must be answered with the right 4xx, and afterwards every tenant's
//! events are exactly what it published and nothing was written outside
//! the data directory. (Idle and slow clients are another test's: they need
//! the sidecar's read timeouts and connection limit.)
//!
//! The test reports `isolation attacks over HTTP: N refused …` as a figure
//! ([`wasp_tests::figure`]).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use serde_json::{Value, json};
use wasp::sidecar::hash_token;
use wasp_tests::{Fixture, WaspRun};

const ADMIN: &str = "attack-admin";
const TOP: &str = "attack-top-level";
const ACME: &str = "attack-acme";
const GLOBEX: &str = "attack-globex";
/// acme's `quotas.eventsPerSecond`.
const ACME_QUOTA: u64 = 20;

/// One answer: status, header block, body.
struct Answer {
    status: u16,
    head: String,
    body: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }
}

/// Sends `request` (a whole HTTP/1.1 request) over a fresh connection and
/// reads the answer. The server may answer before reading all of a large
/// body, so a failed write is not an error as long as an answer comes.
fn send(address: &str, request: &[u8]) -> Answer {
    let mut stream = TcpStream::connect(address).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    stream.set_write_timeout(Some(Duration::from_secs(30))).unwrap();
    let _ = stream.write_all(request);
    let mut raw = Vec::new();
    let mut buf = [0u8; 16 << 10];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => raw.extend_from_slice(&buf[..n]),
            // A reset after the answer arrived (the server closed with
            // unread request bytes) ends the answer.
            Err(e) if !raw.is_empty() && e.kind() == std::io::ErrorKind::ConnectionReset => break,
            Err(e) => panic!("no answer to {:?}: {e}", String::from_utf8_lossy(&request[..request.len().min(200)])),
        }
    }
    let text = String::from_utf8_lossy(&raw).into_owned();
    let status = text.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or_else(|| panic!("no status in {text:?}"));
    let (head, body) = text.split_once("\r\n\r\n").map_or((text.clone(), String::new()), |(h, b)| (h.to_owned(), b.to_owned()));
    Answer { status, head, body }
}

/// A request with `token` (none: no `Authorization`), extra header lines,
/// and `body`.
fn request(method: &str, path: &str, token: Option<&str>, headers: &str, body: &[u8]) -> Vec<u8> {
    let auth = token.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
    let mut out = format!(
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\n{auth}{headers}Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(body);
    out
}

/// Counts the attacks and checks each answer.
struct Attacker<'a> {
    address: &'a str,
    refused: usize,
}

impl Attacker<'_> {
    /// Sends one attack; its answer must have `status` and (when given) a
    /// message containing `needle`.
    fn expect(&mut self, what: &str, status: u16, needle: &str, request: &[u8]) -> Answer {
        let answer = send(self.address, request);
        assert_eq!(answer.status, status, "{what}: {} {}", answer.head, answer.body);
        assert!(answer.body.contains(needle), "{what}: expected `{needle}` in {}", answer.body);
        self.refused += 1;
        answer
    }
    fn get(&mut self, what: &str, status: u16, needle: &str, path: &str, token: &str) -> Answer {
        self.expect(what, status, needle, &request("GET", path, Some(token), "", b""))
    }
    fn post(&mut self, what: &str, status: u16, needle: &str, path: &str, token: &str, body: &str) -> Answer {
        self.expect(what, status, needle, &request("POST", path, Some(token), "Content-Type: application/json\r\n", body.as_bytes()))
    }
}

fn json_handler() -> Value {
    json!({"class": "JsonAuditEventHandler",
           "config": {"name": "json", "logDirectory": "logs", "topics": ["access"], "buffering": {"writeInterval": "20 ms"}}})
}

/// The `_id`s a token's `_queryFilter=true` query answers.
fn visible(address: &str, token: &str) -> Vec<String> {
    let answer = send(address, &request("GET", "/audit/access?_queryFilter=true&_sortKeys=_id", Some(token), "", b""));
    assert_eq!(answer.status, 200, "{}", answer.body);
    answer.json()["result"].as_array().unwrap().iter().map(|e| e["_id"].as_str().unwrap().to_owned()).collect()
}

/// Every file under `dir`, relative, sorted.
fn files_under(dir: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.push(path.strip_prefix(dir).unwrap().display().to_string());
            }
        }
    }
    out.sort();
    out
}

#[test]
fn every_isolation_attack_over_http_is_refused_and_nothing_else_moves() {
    let fx = Fixture::new();
    fx.config_doc(&json!({
        "config": {"handlerForQueries": "json"},
        "eventHandlers": [json_handler()],
        "tenants": {
            "acme": {"handlerForQueries": "json", "eventHandlers": [json_handler()], "quotas": {"eventsPerSecond": ACME_QUOTA}},
            "globex": {"handlerForQueries": "json", "eventHandlers": [json_handler()]}
        },
        "wasp": {
            "maxEventSize": "4 KiB",
            "sidecar": {
                "adminToken": hash_token(ADMIN),
                "tokens": [
                    {"tenant": null, "hash": hash_token(TOP)},
                    {"tenant": "acme", "hash": hash_token(ACME)},
                    {"tenant": "globex", "hash": hash_token(GLOBEX)}
                ],
                "maxBodyBytes": "64 KiB",
                "maxBatchEvents": 100
            }
        }
    }));
    let run = WaspRun::start(fx.path());
    let address = run.address.clone();
    let mut a = Attacker { address: &address, refused: 0 };

    // What each one owns.
    let publish = |token: &str, id: &str| {
        let answer = send(
            &address,
            &request("POST", "/audit/access", Some(token), "Content-Type: application/json\r\n", json!({"_id": id}).to_string().as_bytes()),
        );
        assert_eq!(answer.status, 201, "{}", answer.body);
    };
    for id in ["g1", "g2"] {
        publish(GLOBEX, id);
    }
    publish(ACME, "a1");
    publish(TOP, "t1");
    let flush = send(&address, &request("POST", "/audit/access?_action=flush", Some(ADMIN), "", b""));
    assert_eq!(flush.status, 200, "{}", flush.body);
    assert_eq!(visible(&address, GLOBEX), ["g1", "g2"]);
    let outside_before = files_under(fx.path()).into_iter().filter(|f| !f.starts_with("wasp-data/")).collect::<Vec<_>>();

    // A tenant reading, querying, posting for, flushing, rotating another.
    a.get("acme queries globex", 403, "may not query the events of tenant `globex`", "/audit/access?_queryFilter=true&tenant=globex", ACME);
    a.get("acme reads a globex event by _id", 404, "no event with _id `g1`", "/audit/access/g1", ACME);
    a.get("acme reads a globex event naming globex", 403, "tenant `acme` may not query", "/audit/access/g1?tenant=globex", ACME);
    a.get("the top level queries globex", 403, "a top-level token may not query", "/audit/access?_queryFilter=true&tenant=globex", TOP);
    a.post("acme posts as globex", 403, "may not publish for tenant `globex`", "/audit/access?tenant=globex", ACME, r#"{"_id":"forged"}"#);
    a.expect(
        "acme posts a batch as globex",
        403,
        "may not publish for tenant `globex`",
        &request("POST", "/audit/access?tenant=globex", Some(ACME), "Content-Type: application/x-ndjson\r\n", b"{\"_id\":\"forged2\"}\n"),
    );
    a.post(
        "acme flushes globex's handler",
        403,
        "actions need the admin token",
        "/audit/access?_action=flush&handler=globex/json",
        ACME,
        "",
    );
    a.post(
        "acme rotates globex's handler",
        403,
        "actions need the admin token",
        "/audit/access?_action=rotate&handler=globex/json",
        ACME,
        "",
    );
    a.post("acme flushes everything", 403, "actions need the admin token", "/audit/access?_action=flush", ACME, "");
    // Dead letters are not reachable over HTTP at all (`wasp dlq` works on
    // the data directory): neither as an action nor as a route.
    a.post("acme replays globex's dead letters", 400, "is not an action", "/audit/access?_action=replay&handler=globex/json", ACME, "");
    a.get("acme lists dead letters", 404, "no route", "/dead-letters/globex/json", ACME);
    a.post("acme replays through a made-up route", 404, "no route", "/dlq/globex/json/replay", ACME, "");
    a.get("acme reads the metrics", 403, "", "/metrics", ACME);
    a.get("no token", 401, "", "/audit/access?_queryFilter=true", "");
    a.get("a forged token", 401, "", "/audit/access?_queryFilter=true", "globex");
    a.expect("no Authorization header", 401, "", &request("GET", "/audit/access?_queryFilter=true", None, "", b""));

    // Path traversal: topic, handler, tenant and `_id`.
    for topic in ["..", "..%2F..%2Fetc%2Fpasswd", "%2e%2e", "access%00", "tenants%2Facme"] {
        a.post(&format!("topic {topic}"), 400, "unknown topic", &format!("/audit/{topic}"), ADMIN, r#"{"_id":"trav"}"#);
    }
    a.get("a path with .. segments", 404, "no route", "/audit/../../etc/passwd", ADMIN);
    for handler in ["../json", "acme/../globex/json", "..%2F..%2Fjson", "/etc/passwd", "globex/json/.."] {
        a.post(&format!("flush handler {handler}"), 404, "", &format!("/audit/access?_action=flush&handler={handler}"), ADMIN, "");
        a.post(&format!("rotate handler {handler}"), 404, "", &format!("/audit/access?_action=rotate&handler={handler}"), ADMIN, "");
    }
    for tenant in ["..", "../globex", "acme%2F..%2Fglobex", "globex%00"] {
        a.post(
            &format!("admin publishes for tenant {tenant}"),
            400,
            "unknown tenant",
            &format!("/audit/access?tenant={tenant}"),
            ADMIN,
            r#"{"_id":"trav"}"#,
        );
        a.get(
            &format!("acme queries tenant {tenant}"),
            403,
            "may not query",
            &format!("/audit/access?_queryFilter=true&tenant={tenant}"),
            ACME,
        );
    }
    for id in ["..%2F..%2Faudit.json", "..", "%2Fetc%2Fpasswd"] {
        a.get(&format!("read _id {id}"), 404, "no event", &format!("/audit/access/{id}"), ADMIN);
    }

    // Oversized headers, bodies, events and batches.
    let big_header = format!("X-Padding: {}\r\n", "a".repeat(1 << 20));
    a.expect("a 1 MiB header", 431, "", &request("GET", "/audit/access?_queryFilter=true", Some(ACME), &big_header, b""));
    let many_headers: String = (0..200).map(|n| format!("X-H{n}: v\r\n")).collect();
    a.expect("200 headers", 431, "", &request("GET", "/audit/access?_queryFilter=true", Some(ACME), &many_headers, b""));
    let big_body = json!({"_id": "big", "pad": "x".repeat(100 << 10)}).to_string();
    a.post("a body over maxBodyBytes", 413, "maxBodyBytes", "/audit/access", ACME, &big_body);
    a.expect(
        "a declared Content-Length of 1 TB",
        413,
        "maxBodyBytes",
        b"POST /audit/access HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer attack-acme\r\nContent-Type: application/json\r\nContent-Length: 1000000000000\r\nConnection: close\r\n\r\n{",
    );
    let big_event = json!({"_id": "big-event", "pad": "x".repeat(8 << 10)}).to_string();
    a.post("an event over maxEventSize", 413, "", "/audit/access", ACME, &big_event);
    let batch: String = (0..101).map(|n| format!("{{\"_id\":\"b{n}\"}}\n")).collect();
    a.expect(
        "a batch over maxBatchEvents",
        413,
        "maxBatchEvents",
        &request("POST", "/audit/access", Some(ACME), "Content-Type: application/x-ndjson\r\n", batch.as_bytes()),
    );

    // A burst over acme's quota: the excess lines are 429 with Retry-After,
    // and globex, publishing at the same moment, is not refused once.
    let burst: String = (0..100).map(|n| format!("{{\"_id\":\"q{n}\"}}\n")).collect();
    let started = std::time::Instant::now();
    let answer = send(&address, &request("POST", "/audit/access", Some(ACME), "Content-Type: application/x-ndjson\r\n", burst.as_bytes()));
    let elapsed = started.elapsed().as_secs_f64();
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert!(answer.head.to_ascii_lowercase().contains("retry-after: 1"), "{}", answer.head);
    let report = answer.json();
    let results = report["results"].as_array().unwrap();
    let over: Vec<&Value> = results.iter().filter(|r| r["status"] != 201).collect();
    assert!(over.iter().all(|r| r["status"] == 429), "{report}");
    let accepted = report["accepted"].as_u64().unwrap();
    // One second's worth at once, plus what refilled while the batch ran.
    assert!(accepted <= ACME_QUOTA + (elapsed * ACME_QUOTA as f64).ceil() as u64 + 1, "{accepted} accepted in {elapsed} s");
    assert!(over.len() >= 50, "the burst was refused beyond the quota: {report}");
    a.refused += over.len();
    for n in 0..20 {
        publish(GLOBEX, &format!("g-during-{n}"));
    }
    let quota_hits: Vec<String> = results.iter().filter(|r| r["status"] == 201).map(|r| r["_id"].as_str().unwrap().to_owned()).collect();

    // Nothing else moved: each tenant sees exactly its own events, the
    // server still serves, and nothing was written outside the data
    // directory.
    let flush = send(&address, &request("POST", "/audit/access?_action=flush", Some(ADMIN), "", b""));
    assert_eq!(flush.status, 200, "{}", flush.body);
    let mut globex: Vec<String> = vec!["g1".into(), "g2".into()];
    globex.extend((0..20).map(|n| format!("g-during-{n}")));
    globex.sort();
    assert_eq!(visible(&address, GLOBEX), globex);
    let mut acme = vec!["a1".to_owned()];
    acme.extend(quota_hits);
    acme.sort();
    assert_eq!(visible(&address, ACME), acme);
    assert_eq!(visible(&address, TOP), ["t1"]);
    let health = send(&address, &request("GET", "/health", Some(ADMIN), "", b""));
    assert_eq!((health.status, health.json()["status"].as_str()), (200, Some("ready")), "{}", health.body);
    let outside_after = files_under(fx.path()).into_iter().filter(|f| !f.starts_with("wasp-data/")).collect::<Vec<_>>();
    assert_eq!(outside_after, outside_before, "nothing written outside the data directory");
    let (code, stderr) = run.terminate();
    assert_eq!(code, Some(0), "{stderr}");
    wasp_tests::figure(&format!("isolation attacks over HTTP: {} refused with their 4xx, 0 let through", a.refused));
}
