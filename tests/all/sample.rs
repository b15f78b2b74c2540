//! The access-anywhere-file sample, end to end: through the embedded API and
//! through `wasp pipe`, with byte-exact output.

use serde_json::{Value, json};
use wasp::{AuditService, HandlerState};
use wasp_tests::{Fixture, guests, run_wasp};

/// Three events of three topics, as NDJSON with a `topic` field each.
const EVENTS: &str = r#"{"topic":"access","_id":"e1","timestamp":"2026-11-22T04:44:00.123Z","transactionId":"t1","eventName":"AM-ACCESS-OUTCOME","userId":"bjensen","client":{"ip":"203.0.113.7"},"request":{"operation":"GET","detail":{"path":"/files/q3.pdf"}}}
{"topic":"authentication","_id":"e2","timestamp":"2026-11-22T05:00:00+01:00","transactionId":"t2","eventName":"AM-LOGIN-COMPLETED","principal":["alice"],"result":"FAILED","client":{"ip":"198.51.100.2"}}
{"topic":"activity","_id":"e3","timestamp":"2026-02-29T10:00:00Z","transactionId":"t3","eventName":"AM-IDENTITY-CHANGE","userId":"admin","objectId":"managed/user/42","operation":"PATCH","changedFields":["mail"]}
"#;

/// What the Access Anywhere handler writes for `EVENTS` (its mapping is in
/// the sample's crate documentation). The third date is not a real day and
/// is copied as it is.
const EXPECTED: [&str; 3] = [
    r#"{"actor":"bjensen","eventType":"AM-ACCESS-OUTCOME","ip":"203.0.113.7","date":"Sun, 22 Nov 26 04:44:00 +0000","log_str":"GET","name":null,"objid":null,"params":{"path":"/files/q3.pdf"}}"#,
    r#"{"actor":"alice","eventType":"AM-LOGIN-COMPLETED","ip":"198.51.100.2","date":"Sun, 22 Nov 26 04:00:00 +0000","log_str":"FAILED","name":null,"objid":null,"params":null}"#,
    r#"{"actor":"admin","eventType":"AM-IDENTITY-CHANGE","ip":null,"date":"2026-02-29T10:00:00Z","log_str":"PATCH","name":null,"objid":"managed/user/42","params":["mail"]}"#,
];

fn sample_handler() -> Value {
    json!({
        "name": "access-anywhere",
        "topics": ["access", "activity", "authentication"],
        "component": guests::ACCESS_ANYWHERE_FILE,
        "outputs": {"audit.log": {"type": "file", "path": "audit.log"}}
    })
}

#[test]
fn access_anywhere_file_through_the_embedded_api() {
    let fx = Fixture::new();
    let service = AuditService::from_config_file(fx.config(&[sample_handler()])).unwrap();
    for line in EVENTS.lines() {
        let mut event: Value = serde_json::from_str(line).unwrap();
        let topic = event.as_object_mut().unwrap().remove("topic").unwrap();
        service.publish(topic.as_str().unwrap(), event).unwrap();
    }
    service.flush();
    assert_eq!(fx.output_lines("access-anywhere", "audit.log"), EXPECTED);
    let summary = service.shutdown();
    let h = &summary.handlers[0];
    assert_eq!((h.received, h.delivered, h.dead_lettered), (3, 3, 0));
    assert!(h.fuel_used > 0 && h.fuel_per_event > 0, "fuel is accounted: {h:?}");
}

#[test]
fn access_anywhere_file_through_wasp_pipe() {
    let fx = Fixture::new();
    let config = fx.config(&[sample_handler()]);
    let out = run_wasp(&["pipe", "--config", config.to_str().unwrap(), "--json"], Some(EVENTS), fx.path());
    assert!(out.status.success(), "wasp pipe failed: {}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(fx.output_lines("access-anywhere", "audit.log"), EXPECTED);

    let summary: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["input"], json!({"lines": 3, "accepted": 3, "rejected": 0}));
    let h = &summary["handlers"][0];
    assert_eq!((h["name"].as_str(), h["delivered"].as_u64(), h["deadLettered"].as_u64()), (Some("access-anywhere"), Some(3), Some(0)));
    assert!(h["fuelPerEvent"].as_u64().unwrap() > 0);
    let location = h["outputs"][0]["location"].as_str().unwrap();
    assert!(location.ends_with("wasp-data/access-anywhere/audit.log"), "{location}");
}

#[test]
fn wasp_pipe_reports_rejected_lines_and_exits_3() {
    let fx = Fixture::new();
    let config = fx.config(&[sample_handler()]);
    let input = format!("{}not json\n{{\"topic\":\"nope\"}}\n{{\"no\":\"topic\"}}\n", EVENTS.lines().next().unwrap().to_owned() + "\n");
    let out = run_wasp(&["pipe", "--config", config.to_str().unwrap()], Some(&input), fx.path());
    assert_eq!(out.status.code(), Some(3));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("line 2: rejected: event is not valid JSON"), "{stderr}");
    assert!(stderr.contains("line 3: rejected: unknown topic `nope`"), "{stderr}");
    assert!(stderr.contains("line 4: rejected: no topic: give --topic"), "{stderr}");
    assert!(stderr.contains("4 events read, 1 accepted, 3 rejected"), "{stderr}");
    assert_eq!(fx.output_lines("access-anywhere", "audit.log"), &EXPECTED[..1]);
}

#[test]
fn wasp_pipe_with_a_bad_config_names_the_field_and_exits_1() {
    let fx = Fixture::new();
    let mut handler = sample_handler();
    handler["outputs"]["audit.log"]["colour"] = json!("blue");
    let config = fx.config(&[handler]);
    let out = run_wasp(&["pipe", "--config", config.to_str().unwrap()], Some(""), fx.path());
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("eventHandlers[0].config.outputs.audit.log") && stderr.contains("unknown field `colour`"), "{stderr}");
}

#[test]
fn the_sample_refuses_an_unknown_mapping_field_at_init() {
    let fx = Fixture::new();
    let mut handler = sample_handler();
    handler["config"] = json!({"mapping": {"colour": ["/x"]}});
    let service = AuditService::from_config_file(fx.config(&[handler])).expect("a failed init disables the handler only");
    let summary = service.shutdown();
    let h = &summary.handlers[0];
    assert_eq!(h.state, HandlerState::Disabled);
    let message = h.disabled_reason.as_deref().unwrap();
    assert!(message.starts_with("init returned an error"), "{message}");
    assert!(message.contains("config.mapping.colour: not a field of the output line"), "{message}");
}
