//! The severity-router sample through the runtime: ForgeRock's
//! `severityFieldMappings` decide each event's syslog severity, and the
//! event goes, unchanged, to that severity's output.

use serde_json::{Value, json};
use wasp::{AuditService, HandlerState};
use wasp_tests::{Fixture, guests};

fn router(name: &str, config: Value, outputs: &[&str]) -> Value {
    let outputs: serde_json::Map<String, Value> =
        outputs.iter().map(|o| ((*o).to_owned(), json!({"type": "file", "path": format!("{o}.json")}))).collect();
    json!({
        "name": name,
        "topics": ["access", "activity", "authentication"],
        "component": guests::SEVERITY_ROUTER,
        "outputs": outputs,
        "config": config
    })
}

fn mappings() -> Value {
    json!([
        {"topic": "access", "field": "response/statusCode", "valueMappings": {"500": "ERROR", "503": "critical"}},
        {"topic": "access", "field": "response/status", "valueMappings": {"FAILED": "WARNING", "SUCCESSFUL": "INFORMATIONAL"}},
        {"topic": "authentication", "field": "/result", "valueMappings": {"FAILED": "NOTICE"}}
    ])
}

fn ids(values: &[Value]) -> Vec<&str> {
    values.iter().map(|v| v["_id"].as_str().unwrap()).collect()
}

#[test]
fn severity_router_maps_field_values_to_per_severity_outputs() {
    let fx = Fixture::new();
    let outputs = ["critical", "error", "warning", "notice", "informational"];
    let service =
        AuditService::from_config_file(fx.config(&[router("router", json!({"severityFieldMappings": mappings()}), &outputs)])).unwrap();
    let events = [
        ("access", json!({"_id": "failed", "response": {"status": "FAILED", "statusCode": 401}})),
        ("access", json!({"_id": "ok", "response": {"status": "SUCCESSFUL", "statusCode": 200}})),
        // The first mapping that matches decides: the status code.
        ("access", json!({"_id": "boom", "response": {"status": "FAILED", "statusCode": 500}})),
        ("access", json!({"_id": "down", "response": {"status": "FAILED", "statusCode": 503}})),
        ("access", json!({"_id": "odd", "response": {"status": "UNKNOWN"}})),
        ("authentication", json!({"_id": "bad-login", "result": "FAILED", "principal": ["alice"]})),
        ("authentication", json!({"_id": "good-login", "result": "SUCCESSFUL"})),
        ("activity", json!({"_id": "change", "operation": "PATCH"})),
    ];
    for (topic, event) in &events {
        service.publish(topic, event.clone()).unwrap();
    }
    service.flush();

    assert_eq!(ids(&fx.output_json("router", "critical.json")), ["down"]);
    assert_eq!(ids(&fx.output_json("router", "error.json")), ["boom"]);
    assert_eq!(ids(&fx.output_json("router", "warning.json")), ["failed"]);
    assert_eq!(ids(&fx.output_json("router", "notice.json")), ["bad-login"]);
    // Mapped to INFORMATIONAL, or unmapped (the default severity).
    assert_eq!(ids(&fx.output_json("router", "informational.json")), ["ok", "odd", "good-login", "change"]);
    // The event is written unchanged.
    let written = &fx.output_json("router", "warning.json")[0];
    let mut published = events[0].1.clone();
    published["timestamp"] = written["timestamp"].clone();
    assert_eq!(written, &published);

    let summary = service.shutdown();
    let h = &summary.handlers[0];
    assert_eq!((h.received, h.delivered, h.dead_lettered), (8, 8, 0), "{h:?}");
}

#[test]
fn severity_router_default_severity_routes_and_undeclared_outputs() {
    let fx = Fixture::new();
    let config = json!({
        "severityFieldMappings": mappings(),
        "defaultSeverity": "debug",
        "outputs": {"debug": null, "WARNING": "attention", "notice": "attention"}
    });
    // `error` is not declared: an event of that severity is dead-lettered.
    let service = AuditService::from_config_file(fx.config(&[router("router", config, &["attention", "informational"])])).unwrap();
    service.publish("access", json!({"_id": "failed", "response": {"status": "FAILED"}})).unwrap();
    service.publish("authentication", json!({"_id": "bad-login", "result": "FAILED"})).unwrap();
    service.publish("activity", json!({"_id": "unmapped"})).unwrap();
    service.publish("access", json!({"_id": "boom", "response": {"statusCode": 500}})).unwrap();
    service.publish("access", json!({"_id": "ok", "response": {"status": "SUCCESSFUL"}})).unwrap();
    service.flush();

    assert_eq!(ids(&fx.output_json("router", "attention.json")), ["failed", "bad-login"]);
    assert_eq!(ids(&fx.output_json("router", "informational.json")), ["ok"]);
    let letters = fx.dead_letters("router");
    assert_eq!(letters.len(), 1, "{letters:?}");
    assert_eq!(letters[0].event.id, "boom");
    assert!(letters[0].fault.message.contains("severity ERROR: output `error` is not declared"), "{:?}", letters[0].fault);
    let summary = service.shutdown();
    let h = &summary.handlers[0];
    assert_eq!((h.received, h.delivered, h.dead_lettered), (5, 4, 1), "the unmapped event is discarded (debug → null): {h:?}");
}

#[test]
fn severity_router_refuses_an_unknown_severity_naming_where() {
    let fx = Fixture::new();
    let config = json!({"severityFieldMappings": [{"topic": "access", "field": "response/status", "valueMappings": {"FAILED": "LOUD"}}]});
    let service = AuditService::from_config_file(fx.config(&[router("router", config, &["informational"])])).unwrap();
    let summary = service.shutdown();
    let h = &summary.handlers[0];
    assert_eq!(h.state, HandlerState::Disabled);
    let reason = h.disabled_reason.as_deref().unwrap();
    assert!(reason.contains("severityFieldMappings[0].valueMappings.FAILED: `LOUD` is not a syslog severity"), "{reason}");
}
