//! `publish`: errors concern only the event; accepted events get an `_id`
//! and a sequence number.

use serde_json::json;
use wasp::{AuditService, PublishError};
use wasp_tests::{Fixture, probe_handler};

fn service(fx: &Fixture) -> AuditService {
    AuditService::from_config_file(fx.config(&[probe_handler("p", json!({}))])).unwrap()
}

#[test]
fn an_unknown_topic_is_refused_with_the_known_ones() {
    let fx = Fixture::new();
    let err = service(&fx).publish("acess", json!({})).unwrap_err();
    assert_eq!(err.to_string(), "unknown topic `acess` (known topics: access, activity, authentication, config)");
}

#[test]
fn malformed_events_are_refused_with_what_was_wrong() {
    let fx = Fixture::new();
    let s = service(&fx);
    assert!(matches!(s.publish("access", "{not json"), Err(PublishError::InvalidJson(_))));
    assert_eq!(s.publish("access", "[1,2]").unwrap_err().to_string(), "event must be a JSON object, found an array");
    assert_eq!(s.publish("access", json!({"_id": 7})).unwrap_err().to_string(), "event field `_id` must be a string, found a number");
    assert_eq!(
        s.publish("access", json!({"timestamp": false})).unwrap_err().to_string(),
        "event field `timestamp` must be a string, found a boolean"
    );
    let big = format!("{{\"blob\": \"{}\"}}", "x".repeat(2 << 20));
    assert!(matches!(s.publish("access", big.as_str()), Err(PublishError::TooLarge { max: 1048576, .. })));
}

#[test]
fn accepted_events_get_ids_and_consecutive_sequences() {
    let fx = Fixture::new();
    let s = service(&fx);
    let first = s.publish("access", r#"{"_id": "given"}"#).unwrap();
    let second = s.publish("authentication", json!({"userId": "bjensen"})).unwrap();
    assert_eq!((first.id.as_str(), first.sequence), ("given", 1));
    assert_eq!(second.sequence, 2);
    assert_eq!(second.id.len(), 36, "a UUID was generated: {}", second.id);
    s.flush();
    let out = fx.output_json("p", "out.log");
    assert_eq!(out[1]["id"], second.id.as_str());
    assert_eq!(out[1]["topic"], "authentication");
}

#[test]
fn a_batch_gets_a_result_per_event_in_order_and_its_good_events_delivered() {
    let fx = Fixture::new();
    let s = service(&fx);
    s.publish("access", json!({"_id": "before"})).unwrap();
    let lines = [r#"{"_id": "a"}"#, "{not json", r#"{"_id": 7}"#, r#"{"_id": "b", "userId": "bjensen"}"#, "[1]", r#"{"_id": "c"}"#];
    let results = s.publish_batch(None, "access", lines);
    assert_eq!(results.len(), 6);
    let sequences: Vec<Option<u64>> = results.iter().map(|r| r.as_ref().ok().map(|r| r.sequence)).collect();
    assert_eq!(sequences, [Some(2), None, None, Some(3), None, Some(4)], "{results:?}");
    assert!(matches!(results[1], Err(PublishError::InvalidJson(_))));
    assert_eq!(results[2].as_ref().unwrap_err().to_string(), "event field `_id` must be a string, found a number");
    assert_eq!(results[5].as_ref().unwrap().id, "c");
    let unknown = s.publish_batch(None, "acess", [r#"{"_id": "x"}"#]);
    assert!(matches!(unknown[0], Err(PublishError::UnknownTopic { .. })));
    s.publish("access", json!({"_id": "after"})).unwrap();
    s.flush();
    let ids: Vec<String> = fx.output_json("p", "out.log").iter().map(|r| r["id"].as_str().unwrap().to_owned()).collect();
    assert_eq!(ids, ["before", "a", "b", "c", "after"]);
}

#[test]
fn publish_after_shutdown_began_is_refused() {
    let fx = Fixture::new();
    let s = service(&fx);
    s.publish("access", json!({})).unwrap();
    let summary = s.shutdown();
    assert_eq!(summary.handlers[0].delivered, 1, "shutdown drains what was accepted");
}

#[test]
fn a_publisher_never_sees_handler_faults() {
    let fx = Fixture::new();
    let s = service(&fx);
    for n in 0..20 {
        let action = if n % 2 == 0 { "panic" } else { "err" };
        s.publish("access", json!({"action": action})).expect("publish succeeds whatever the handler does");
    }
    let h = &s.shutdown().handlers[0];
    assert_eq!((h.received, h.delivered, h.dead_lettered), (20, 0, 20));
}

/// The loop guard: records a handler emits go to its outputs only, never
/// back into the journal, so they are never audited again.
#[test]
fn emitted_records_are_never_audited_again() {
    let fx = Fixture::new();
    let s = service(&fx);
    for n in 0..3 {
        s.publish("access", json!({"_id": format!("e{n}")})).unwrap();
    }
    s.flush();
    assert_eq!(fx.output_json("p", "out.log").len(), 3, "the handler emitted a record per event");
    assert_eq!(s.publish("access", json!({})).unwrap().sequence, 4, "and none of them was appended to the journal");
    let h = &s.shutdown().handlers[0];
    assert_eq!(h.received, 4);
}

#[test]
fn wasp_pipe_rejects_a_line_that_is_not_utf8_and_reads_on() {
    // Issue 25: `wasp pipe` stopped at a non-UTF-8 line (exit 1, no
    // summary, the later lines never read).
    let fx = Fixture::new();
    fx.config_doc(&json!({"eventHandlers": [{"class": "JsonAuditEventHandler",
        "config": {"name": "json", "logDirectory": "logs", "topics": ["access"]}}]}));
    let mut input = Vec::new();
    input.extend_from_slice(b"{\"_id\": \"first\"}\n");
    input.extend_from_slice(b"{\"_id\": \"bad-\xff\xfe\"}\n");
    input.extend_from_slice(b"\n");
    input.extend_from_slice(b"{\"_id\": \"after\"}\r\n");
    input.extend_from_slice(b"{\"_id\": \"last\"}");
    std::fs::write(fx.path().join("events.ndjson"), &input).unwrap();
    let out = wasp_tests::run_wasp(
        &["pipe", "--config", "audit.json", "--topic", "access", "--input", "events.ndjson", "--json"],
        None,
        fx.path(),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("events.ndjson line 2: rejected: the line is not UTF-8: invalid utf-8 sequence"), "{stderr}");
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["input"], json!({"lines": 4, "accepted": 3, "rejected": 1}), "{summary}");
    let written = std::fs::read_to_string(fx.path().join("wasp-data/logs/access.audit.json")).unwrap();
    let ids: Vec<String> =
        written.lines().map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["_id"].as_str().unwrap().to_owned()).collect();
    assert_eq!(ids, ["first", "after", "last"]);
}
