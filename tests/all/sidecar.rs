//! The sidecar end to end: `wasp run` on a real socket, events posted as
//! plain HTTP/1.1 (one JSON event, and an NDJSON batch with a bad line),
//! SIGTERM, exit 0, and every accepted event in the JSON file.

use std::net::TcpStream;

use serde_json::{Value, json};
use wasp_tests::{Fixture, WaspRun};

const TOKEN: &str = "e2e-token";

/// One request over a fresh connection; returns the status and the body.
fn http(address: &str, method: &str, path: &str, content_type: &str, body: &str) -> (u16, String) {
    wasp_tests::http(address, TOKEN, method, path, content_type, body)
}

#[test]
fn wasp_run_serves_until_sigterm_and_every_accepted_event_is_written() {
    let fx = Fixture::new();
    // A long write interval: at SIGTERM the events are still in the
    // handler's batch, so only the drain writes them.
    fx.config_doc(&json!({
        "eventHandlers": [{"class": "JsonAuditEventHandler",
                           "config": {"name": "json", "logDirectory": "logs", "topics": ["access"], "buffering": {"writeInterval": "10 seconds"}}}],
        "wasp": {"sidecar": {"adminToken": wasp::sidecar::hash_token(TOKEN), "shutdownDeadline": "20 seconds"}}
    }));
    let run = WaspRun::start(fx.path());
    let address = run.address.clone();

    let mut accepted = Vec::new();
    for n in 0..10 {
        let (status, body) = http(&address, "POST", "/audit/access", "application/json", &json!({"_id": format!("one-{n}")}).to_string());
        assert_eq!(status, 201, "{body}");
        let receipt: Value = serde_json::from_str(&body).unwrap();
        accepted.push(receipt["_id"].as_str().unwrap().to_owned());
    }
    let mut batch: Vec<String> = (0..20).map(|n| json!({"_id": format!("batch-{n}")}).to_string()).collect();
    batch.insert(5, "{not json".into());
    let (status, body) = http(&address, "POST", "/audit/access", "application/x-ndjson", &batch.join("\n"));
    assert_eq!(status, 200, "{body}");
    let report: Value = serde_json::from_str(&body).unwrap();
    assert_eq!((report["accepted"].as_u64(), report["rejected"].as_u64()), (Some(20), Some(1)), "{report}");
    assert_eq!(report["results"][5]["status"], 400);
    for result in report["results"].as_array().unwrap().iter().filter(|r| r["status"] == 201) {
        accepted.push(result["_id"].as_str().unwrap().to_owned());
    }
    let (status, body) = http(&address, "GET", "/health", "application/json", "");
    assert_eq!(status, 200, "{body}");

    let (code, stderr) = run.terminate();
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stderr.contains("handler json: 30 received, 30 delivered, 0 dead-lettered"), "{stderr}");

    let written = std::fs::read_to_string(fx.path().join("wasp-data/logs/access.audit.json")).unwrap();
    let ids: Vec<String> = written.lines().map(|l| serde_json::from_str::<Value>(l).unwrap()["_id"].as_str().unwrap().to_owned()).collect();
    assert_eq!(accepted.len(), 30);
    assert_eq!(ids, accepted, "every accepted event, in order");
    // Nothing listens any more.
    assert!(TcpStream::connect(&address).is_err());
}

/// Sends `request` (raw bytes) over a fresh connection and reads the
/// answer until the server closes; returns the status and the body.
fn raw_request(address: &str, request: &[u8]) -> (u16, String) {
    use std::io::{Read, Write};
    let mut stream = TcpStream::connect(address).unwrap();
    stream.set_read_timeout(Some(std::time::Duration::from_secs(30))).unwrap();
    stream.write_all(request).unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).unwrap();
    let response = String::from_utf8_lossy(&response).into_owned();
    let status = response.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or_else(|| panic!("no status in {response:?}"));
    let body = response.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or_default();
    (status, body)
}

fn sidecar_config(fx: &Fixture, sidecar: Value) {
    let mut settings = json!({"adminToken": wasp::sidecar::hash_token(TOKEN), "shutdownDeadline": "20 seconds"});
    for (k, v) in sidecar.as_object().unwrap() {
        settings[k] = v.clone();
    }
    fx.config_doc(&json!({
        "eventHandlers": [{"class": "JsonAuditEventHandler", "config": {"name": "json", "logDirectory": "logs", "topics": ["access"]}}],
        "wasp": {"sidecar": settings}
    }));
}

#[test]
fn a_batch_line_that_is_not_utf8_fails_alone() {
    // Issue 25: one byte of bad UTF-8 rejected the whole NDJSON batch (400
    // "the request body is not UTF-8").
    let fx = Fixture::new();
    sidecar_config(&fx, json!({}));
    let run = WaspRun::start(fx.path());
    let body: &[u8] = b"{\"_id\": \"u1\"}\n{\"_id\": \"bad-\xff\"}\n\n{\"_id\": \"u2\"}\r\n{\"_id\": \"u3\"}";
    let mut request = format!(
        "POST /audit/access HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\nContent-Type: application/x-ndjson\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    request.extend_from_slice(body);
    let (status, answer) = raw_request(&run.address, &request);
    assert_eq!(status, 200, "{answer}");
    let report: Value = serde_json::from_str(&answer).unwrap();
    assert_eq!((report["accepted"].as_u64(), report["rejected"].as_u64()), (Some(3), Some(1)), "{report}");
    let results = report["results"].as_array().unwrap();
    let lines: Vec<(u64, u64)> = results.iter().map(|r| (r["line"].as_u64().unwrap(), r["status"].as_u64().unwrap())).collect();
    assert_eq!(lines, [(1, 201), (2, 400), (4, 201), (5, 201)], "{report}");
    let message = results[1]["error"]["message"].as_str().unwrap();
    assert!(message.starts_with("the line is not UTF-8: invalid utf-8 sequence"), "{message}");
    // One event that is not UTF-8 is still refused whole.
    let mut single = format!(
        "POST /audit/access HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\nContent-Type: application/json\r\n\
         Content-Length: 14\r\nConnection: close\r\n\r\n"
    )
    .into_bytes();
    single.extend_from_slice(b"{\"_id\": \"\xff\"}  ");
    let (status, answer) = raw_request(&run.address, &single);
    assert_eq!(status, 400, "{answer}");
    assert!(answer.contains("the request body is not UTF-8"), "{answer}");

    let (code, stderr) = run.terminate();
    assert_eq!(code, Some(0), "{stderr}");
    let written = std::fs::read_to_string(fx.path().join("wasp-data/logs/access.audit.json")).unwrap();
    let ids: Vec<String> = written.lines().map(|l| serde_json::from_str::<Value>(l).unwrap()["_id"].as_str().unwrap().to_owned()).collect();
    assert_eq!(ids, ["u1", "u2", "u3"]);
}

/// Reads what the server sends on `stream` until it closes the connection;
/// `None` if it has not closed it within `limit`.
fn read_until_closed(stream: &mut TcpStream, limit: std::time::Duration) -> Option<String> {
    use std::io::Read;
    stream.set_read_timeout(Some(limit)).unwrap();
    let mut response = Vec::new();
    match stream.read_to_end(&mut response) {
        Ok(_) => Some(String::from_utf8_lossy(&response).into_owned()),
        // A reset is a close too.
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => Some(String::from_utf8_lossy(&response).into_owned()),
        Err(_) => None,
    }
}

#[test]
fn an_idle_or_half_sent_header_is_closed_after_header_read_timeout() {
    // Issue 25: half a request header kept the connection open forever.
    use std::io::Write;
    let fx = Fixture::new();
    sidecar_config(&fx, json!({"headerReadTimeout": "500 ms"}));
    let run = WaspRun::start(fx.path());
    let started = std::time::Instant::now();
    let mut half = TcpStream::connect(&run.address).unwrap();
    half.write_all(b"POST /audit/access HTTP/1.1\r\nHost: x\r\nContent-Type: appl").unwrap();
    let mut silent = TcpStream::connect(&run.address).unwrap();
    assert!(read_until_closed(&mut half, std::time::Duration::from_secs(20)).is_some(), "the half header is still open");
    assert!(read_until_closed(&mut silent, std::time::Duration::from_secs(20)).is_some(), "the silent connection is still open");
    assert!(started.elapsed() < std::time::Duration::from_secs(10), "{:?}", started.elapsed());
    // A client that sends its request in time is served, also on a kept-alive
    // connection that then idles: it is closed after the timeout too.
    let mut kept = TcpStream::connect(&run.address).unwrap();
    kept.write_all(b"GET /health/live HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let answer = read_until_closed(&mut kept, std::time::Duration::from_secs(20)).expect("the idle keep-alive connection is closed");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let (code, stderr) = run.terminate();
    assert_eq!(code, Some(0), "{stderr}");
}

#[test]
fn a_body_slower_than_body_read_timeout_gets_408() {
    // Issue 25: `Content-Length: 1000` followed by 5 bytes stayed open.
    use std::io::Write;
    let fx = Fixture::new();
    sidecar_config(&fx, json!({"bodyReadTimeout": "500 ms"}));
    let run = WaspRun::start(fx.path());
    let mut slow = TcpStream::connect(&run.address).unwrap();
    slow.write_all(
        format!("POST /audit/access HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{{\"_i")
            .as_bytes(),
    )
    .unwrap();
    let answer = read_until_closed(&mut slow, std::time::Duration::from_secs(20)).expect("the slow body's connection is closed");
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("the request body did not arrive within bodyReadTimeout (500 ms)"), "{answer}");
    // The limits are validated like the others.
    sidecar_config(&fx, json!({"bodyReadTimeout": 0, "maxConnections": 0}));
    let out = wasp_tests::run_wasp(&["config", "check", "audit.json"], None, fx.path());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("wasp.sidecar.maxConnections: must be greater than 0"), "{stdout}");
    drop(run);
}

/// Open file descriptors of process `pid`.
fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map(|d| d.count()).unwrap_or(0)
}

#[test]
fn many_idle_connections_do_not_make_health_unanswerable() {
    // Issue 25: with 1,024 file descriptors, 1,100 idle connections made
    // `/health` unanswerable until the clients left. Here: 128 descriptors
    // and 300 clients that send half a header and keep their sockets open.
    use std::io::Write;
    let fx = Fixture::new();
    sidecar_config(&fx, json!({"maxConnections": 32, "headerReadTimeout": "1 second"}));
    let run = WaspRun::start_with_fd_limit(fx.path(), 128);
    let pid = run.child.id();
    let before = open_fds(pid);
    let mut idle = Vec::new();
    for _ in 0..300 {
        let mut stream = TcpStream::connect(&run.address).unwrap();
        let _ = stream.write_all(b"GET /health HTTP/1.1\r\nHost: ");
        idle.push(stream);
    }
    std::thread::sleep(std::time::Duration::from_millis(300));
    let during = open_fds(pid);
    assert!(during <= before + 32 + 4, "{before} descriptors before, {during} with 300 idle clients");
    // `/health` is answered while every idle client still holds its socket:
    // the idle connections are closed after headerReadTimeout, those waiting
    // in the listen queue are taken 32 at a time, and so is this one.
    let started = std::time::Instant::now();
    let (status, body) = wasp_tests::http(&run.address, TOKEN, "GET", "/health", "application/json", "");
    assert_eq!(status, 200, "{body}");
    assert!(started.elapsed() < std::time::Duration::from_secs(25), "{:?}", started.elapsed());
    assert_eq!(idle.len(), 300);
    drop(idle);
    let (code, stderr) = run.terminate();
    assert_eq!(code, Some(0), "{stderr}");
}
