//! Settings of the `mqtt` output (delivery against a real broker is in
//! `tests/all/brokers.rs`; packet encoding in `packet.rs`).

use super::MqttOutputConfig;

fn config(value: serde_json::Value) -> Result<MqttOutputConfig, String> {
    let config: MqttOutputConfig = serde_json::from_value(value).map_err(|e| e.to_string())?;
    config.validate().map(|()| config).map_err(|e| e.to_string())
}

#[test]
fn settings_are_checked_and_name_the_field() {
    let ok = config(serde_json::json!({"url": "mqtt://u:secret@127.0.0.1", "topic": "audit/access"})).unwrap();
    assert_eq!(ok.endpoint().unwrap().port, 1883);
    assert!(!format!("{ok:?}").contains("secret"));
    assert!(config(serde_json::json!({"url": "mqtt://h", "topic": "audit/#"})).unwrap_err().starts_with("topic:"));
    assert!(config(serde_json::json!({"url": "mqtt://:p@h", "topic": "a"})).unwrap_err().starts_with("password:"));
    assert!(config(serde_json::json!({"url": "mqtt://h", "topic": "a", "clientId": ""})).unwrap_err().starts_with("clientId:"));
}
