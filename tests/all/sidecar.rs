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
