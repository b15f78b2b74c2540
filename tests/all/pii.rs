//! The pii-redactor sample (a `filter` component) through the runtime: the
//! events a downstream handler writes have e-mail addresses, card numbers
//! and bearer tokens masked in every string, and nothing else changed.

use serde_json::{Value, json};
use wasp::AuditService;
use wasp_tests::{Fixture, guests};

const JWT: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJiamVuc2VuIn0.4pcPyMD09olPSyXnrXCjTwXyr4BsezdI1AVTmud2fU4";

/// The severity-router sample writes every event, unchanged, to its
/// `informational` output: the downstream handler that shows what the
/// filter passed on.
fn service(fx: &Fixture, filter_config: Value) -> AuditService {
    let handler = json!({
        "name": "sink",
        "topics": ["access", "activity"],
        "component": guests::SEVERITY_ROUTER,
        "outputs": {"informational": {"type": "file", "path": "events.json"}}
    });
    let config = fx.config_doc(&json!({
        "eventHandlers": [{"class": "wasm", "config": handler}],
        "filters": [{"name": "pii", "topics": ["access", "activity"], "component": guests::PII_REDACTOR, "config": filter_config}]
    }));
    AuditService::from_config_file(config).unwrap()
}

fn with_pii() -> Value {
    json!({
        "_id": "pii-1", "timestamp": "2026-11-22T06:00:00Z", "transactionId": "tx-1", "eventName": "AM-ACCESS-OUTCOME",
        "userId": "bjensen@example.com",
        "client": {"ip": "203.0.113.7", "port": 44321},
        "http": {"request": {
            "method": "POST",
            "headers": {"authorization": ["Bearer 8f4c2a91d7e3b6c5a0f1e2d3"], "x-session": [JWT]},
            "queryParameters": {"notify": ["alice@mail.example.org", "bob@example.net"]}
        }},
        "response": {"status": "SUCCESSFUL", "elapsedTime": 12, "detail": {
            "note": "paid with 4111 1111 1111 1111 (exp 12/29), order 1234567890123456",
            "cards": ["5500-0055-5555-5559", "4111111111111112"],
            "amount": 4111111111111111u64,
            "ok": true,
            "nothing": null
        }},
        "trackingIds": ["c5b8e1f0-6a2d-4b5e-9f1a-2c3d4e5f6a7b"]
    })
}

fn masked() -> Value {
    let mut expected = with_pii();
    expected["userId"] = json!("[email]");
    expected["http"]["request"]["headers"] = json!({"authorization": ["Bearer [token]"], "x-session": ["[jwt]"]});
    expected["http"]["request"]["queryParameters"]["notify"] = json!(["[email]", "[email]"]);
    expected["response"]["detail"]["note"] = json!("paid with [card] (exp 12/29), order 1234567890123456");
    // The second number fails the Luhn check: not a card. Numbers are not strings.
    expected["response"]["detail"]["cards"] = json!(["[card]", "4111111111111112"]);
    expected
}

fn without_pii() -> Value {
    json!({
        "_id": "plain-1", "timestamp": "2026-11-22T06:00:01Z", "transactionId": "tx-2", "eventName": "AM-IDENTITY-CHANGE",
        "userId": "bjensen", "objectId": "managed/user/42", "operation": "PATCH",
        "changedFields": ["telephoneNumber"], "revision": 7, "after": {"telephoneNumber": "+1 408 555 1862", "zip": "95054"}
    })
}

#[test]
fn pii_redactor_masks_every_string_and_leaves_the_rest_alone() {
    let fx = Fixture::new();
    let s = service(&fx, json!({}));
    s.publish("access", with_pii()).unwrap();
    s.publish("activity", without_pii()).unwrap();
    s.flush();
    let summary = s.shutdown();

    let written = fx.output_json("sink", "events.json");
    assert_eq!(written, [masked(), without_pii()]);
    let h = &summary.handlers[0];
    assert_eq!((h.received, h.delivered, h.filtered, h.dead_lettered), (2, 2, 0, 0), "{h:?}");
    let text = std::fs::read_to_string(fx.path().join("wasp-data/sink/events.json")).unwrap();
    for secret in ["bjensen@example.com", "8f4c2a91", "eyJhbGci", "4111 1111", "5500-0055"] {
        assert!(!text.contains(secret), "{secret} leaked: {text}");
    }
}

#[test]
fn pii_redactor_kinds_masks_and_skipped_fields_come_from_its_config() {
    let fx = Fixture::new();
    let s = service(&fx, json!({"redact": ["email"], "masks": {"email": "***"}, "skipFields": ["/http/request/queryParameters"]}));
    s.publish("access", with_pii()).unwrap();
    s.flush();
    s.shutdown();

    let mut expected = with_pii();
    expected["userId"] = json!("***");
    assert_eq!(fx.output_json("sink", "events.json"), [expected], "only e-mail addresses, and not under the skipped field");
}

#[test]
fn pii_redactor_masks_events_before_the_builtin_json_handler() {
    // The sample's `audit.json` shape: the filter in front of ForgeRock's
    // JSON handler (a built-in handler, not a component).
    let fx = Fixture::new();
    let config = fx.config_doc(&json!({
        "eventHandlers": [{
            "class": "org.forgerock.audit.handlers.json.JsonAuditEventHandler",
            "config": {"name": "json", "topics": ["access", "activity"], "logDirectory": "audit"}
        }],
        "filters": [{"name": "pii", "topics": ["access", "activity"], "component": guests::PII_REDACTOR}]
    }));
    let s = AuditService::from_config_file(config).unwrap();
    s.publish("access", with_pii()).unwrap();
    s.publish("activity", without_pii()).unwrap();
    s.flush();
    s.shutdown();
    assert_eq!(fx.data_json("audit/access.audit.json"), [masked()]);
    assert_eq!(fx.data_json("audit/activity.audit.json"), [without_pii()]);
}

#[test]
fn a_builtin_handler_added_by_a_reload_gets_the_filters_too() {
    let fx = Fixture::new();
    let filters = json!([{"name": "pii", "topics": ["access"], "component": guests::PII_REDACTOR}]);
    let config = fx.config_doc(&json!({"eventHandlers": [], "filters": filters}));
    let s = AuditService::from_config_file(&config).unwrap();
    let config = fx.config_doc(&json!({
        "eventHandlers": [{"class": "JsonAuditEventHandler", "config": {"name": "json", "topics": ["access"], "logDirectory": "audit"}}],
        "filters": filters
    }));
    let report = s.reload(wasp::Config::from_file(&config).unwrap());
    assert!(report.ok() && report.added == ["json"], "{report:?}");
    s.publish("access", with_pii()).unwrap();
    s.flush();
    s.shutdown();
    assert_eq!(fx.data_json("audit/access.audit.json"), [masked()], "masked by the filter after the reload");
}

#[test]
fn a_tenants_filter_runs_before_the_tenants_builtin_handler_only() {
    let fx = Fixture::new();
    let json_handler = json!({"class": "JsonAuditEventHandler", "config": {"name": "json", "topics": ["access"], "logDirectory": "audit"}});
    let config = fx.config_doc(&json!({
        "eventHandlers": [json_handler],
        "tenants": {"acme": {
            "eventHandlers": [json_handler],
            "filters": [{"name": "pii", "topics": ["access"], "component": guests::PII_REDACTOR}]
        }}
    }));
    let s = AuditService::from_config_file(config).unwrap();
    s.publish_as("acme", "access", with_pii()).unwrap();
    s.publish("access", with_pii()).unwrap();
    s.flush();
    let summary = s.shutdown();
    assert_eq!(fx.data_json("tenants/acme/audit/access.audit.json"), [masked()], "the tenant's filter masks its events");
    assert_eq!(fx.data_json("audit/access.audit.json"), [with_pii()], "the top level has no filter");
    assert_eq!(summary.handler("acme/json").unwrap().delivered, 1);
}
