//! Settings of the `amqp` output (delivery against a real broker is in
//! `tests/all/brokers.rs`).

use super::AmqpOutputConfig;

fn config(value: serde_json::Value) -> Result<AmqpOutputConfig, String> {
    let config: AmqpOutputConfig = serde_json::from_value(value).map_err(|e| e.to_string())?;
    config.validate().map(|()| config).map_err(|e| e.to_string())
}

#[test]
fn settings_are_checked_and_name_the_field() {
    let ok = config(serde_json::json!({"url": "amqp://guest:secret@127.0.0.1/%2f", "exchange": "audit"})).unwrap();
    let endpoint = ok.endpoint().unwrap();
    assert_eq!((endpoint.port, endpoint.path.as_str(), ok.persistent), (5672, "/", true));
    assert!(!format!("{ok:?}").contains("secret"));
    assert_eq!(config(serde_json::json!({"url": "amqp://h", "exchange": "x"})).unwrap().endpoint().unwrap().path, "/");
    let e = config(serde_json::json!({"url": "amqp://h", "exchange": "a b"})).unwrap_err();
    assert!(e.starts_with("exchange:"), "{e}");
    let e = config(serde_json::json!({"url": "amqp://h", "exchange": "", "declareExchange": true})).unwrap_err();
    assert!(e.starts_with("declareExchange:"), "{e}");
    let e = config(serde_json::json!({"url": "amqp://h", "exchange": "x", "routingKey": "k".repeat(256)})).unwrap_err();
    assert!(e.starts_with("routingKey:"), "{e}");
}
