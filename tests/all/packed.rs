//! Packed batches (worlds `packed-handler` and `packed-filter`): a handler
//! built with the Rust SDK gets every event's fields from spans of one
//! buffer, and must see exactly what a `handle-batch` handler sees.

use serde_json::{Value, json};
use wasp::AuditService;
use wasp_tests::{Fixture, probe_handler};

#[test]
fn a_packed_handler_sees_every_field_of_every_event_as_published() {
    let fx = Fixture::new();
    // One batch holds them all: topics alternate (a topic is packed once
    // only while it repeats), optional fields come and go.
    let handler = probe_handler("p", json!({"batch": {"maxSize": 64, "maxWait": "200 ms"}}));
    let service = AuditService::from_config_file(fx.config(&[handler])).unwrap();
    let events = [
        (
            "access",
            json!({"_id": "a1", "timestamp": "2026-12-06T06:00:00.001Z", "eventName": "AM-ACCESS-OUTCOME", "transactionId": "tx-1", "userId": "bjensen"}),
        ),
        ("access", json!({"_id": "a2", "timestamp": "2026-12-06T06:00:00.002Z"})),
        ("authentication", json!({"_id": "é3 ✓", "timestamp": "2026-12-06T06:00:00.003Z", "userId": "ünïcödé \"quoted\" \\ back\nslash"})),
        ("access", json!({"_id": "a4", "timestamp": "2026-12-06T06:00:00.004Z", "transactionId": "", "eventName": "AM-ACCESS-ATTEMPT"})),
        ("authentication", json!({"_id": "a5", "timestamp": "2026-12-06T06:00:00.005Z", "userId": 42})),
    ];
    let mut sequences = Vec::new();
    for (topic, mut event) in events.clone() {
        event["action"] = json!("fields");
        sequences.push(service.publish(topic, event).unwrap().sequence);
    }
    service.flush();
    let out = fx.output_json("p", "out.log");
    assert_eq!(out.len(), events.len(), "{out:?}");
    for (((topic, event), sequence), seen) in events.iter().zip(&sequences).zip(&out) {
        let text = |field: &str| event.get(field).and_then(Value::as_str).map(|s| json!(s)).unwrap_or(Value::Null);
        assert_eq!(seen["id"], event["_id"], "{seen}");
        assert_eq!(seen["topic"], json!(topic), "{seen}");
        assert_eq!(seen["seq"], json!(sequence), "{seen}");
        assert_eq!(seen["timestamp"], event["timestamp"], "{seen}");
        assert_eq!(seen["eventName"], text("eventName"), "{seen}");
        assert_eq!(seen["transactionId"], text("transactionId"), "{seen}");
        // Lifted only when a string: 42 is not.
        assert_eq!(seen["userId"], text("userId"), "{seen}");
        let document: Value = serde_json::from_str(seen["json"].as_str().unwrap()).unwrap();
        for (field, value) in event.as_object().unwrap() {
            assert_eq!(&document[field], value, "{field} in {document}");
        }
    }
    service.shutdown();
}
