//! Settings of the `nats` output (delivery against a real server is in
//! `tests/all/brokers.rs`).

use super::NatsOutputConfig;

fn config(value: serde_json::Value) -> Result<NatsOutputConfig, String> {
    let config: NatsOutputConfig = serde_json::from_value(value).map_err(|e| e.to_string())?;
    config.validate().map(|()| config).map_err(|e| e.to_string())
}

#[test]
fn settings_are_checked_and_name_the_field() {
    let ok = config(serde_json::json!({"url": "nats://u:secret@127.0.0.1", "subject": "audit.access", "stream": "AUDIT"})).unwrap();
    assert_eq!(ok.endpoint().unwrap().port, 4222);
    assert!(!format!("{ok:?}").contains("secret"));
    let e = config(serde_json::json!({"url": "nats://h", "subject": "audit.*"})).unwrap_err();
    assert!(e.starts_with("subject:"), "{e}");
    let e = config(serde_json::json!({"url": "nats://h", "subject": "a", "createStream": true})).unwrap_err();
    assert!(e.starts_with("createStream:"), "{e}");
    let e = config(serde_json::json!({"url": "amqp://h", "subject": "a"})).unwrap_err();
    assert!(e.starts_with("url:"), "{e}");
    let e = config(serde_json::json!({"url": "nats://h", "subject": "a", "stream": "A.B"})).unwrap_err();
    assert!(e.starts_with("stream:"), "{e}");
}
