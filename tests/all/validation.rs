//! What `publish` checks: ForgeRock's required fields, an ISO-8601 UTC
//! timestamp, the nesting depth, and (per `wasp.validation.mode`) the
//! topic's schema. Every refusal names what was wrong and where.

use std::path::Path;

use serde_json::{Value, json};
use wasp::{AuditService, PublishError};
use wasp_tests::{Fixture, probe_handler};

fn service(fx: &Fixture, validation: Value) -> AuditService {
    let config = fx.config_doc(&json!({
        "eventHandlers": [{"class": "wasm", "config": probe_handler("p", json!({}))}],
        "wasp": {"validation": validation}
    }));
    AuditService::from_config_file(config).unwrap()
}

#[test]
fn transaction_id_and_timestamp_are_required_by_default() {
    let fx = Fixture::new();
    let s = service(&fx, json!({}));
    let err = s.publish("access", json!({"timestamp": "2026-11-22T06:00:00Z"})).unwrap_err();
    assert_eq!(err, PublishError::MissingField { field: "transactionId".into() });
    assert_eq!(err.to_string(), "event field `transactionId` is required");
    let err = s.publish("access", json!({"transactionId": "tx-1"})).unwrap_err();
    assert_eq!(err.to_string(), "event field `timestamp` is required");
    let ok = s.publish("access", json!({"transactionId": "tx-1", "timestamp": "2026-11-22T06:00:00.123Z"})).unwrap();
    assert_eq!(ok.id.len(), 36, "an `_id` (UUID) is generated when absent");
}

#[test]
fn the_timestamp_must_be_iso_8601_utc() {
    let fx = Fixture::new();
    let s = service(&fx, json!({}));
    for bad in ["yesterday", "2026-11-22 06:00:00", "2026-11-22T06:00:00+02:00"] {
        let err = s.publish("access", json!({"transactionId": "t", "timestamp": bad})).unwrap_err();
        assert_eq!(err, PublishError::InvalidTimestamp { found: bad.into() }, "{bad}");
    }
    s.publish("access", json!({"transactionId": "t", "timestamp": "2026-11-22T06:00:00+00:00"})).unwrap();
}

#[test]
fn nesting_deeper_than_the_maximum_is_refused_with_the_pointer() {
    let fx = Fixture::new();
    let s = service(&fx, json!({"requiredFields": [], "maxDepth": 3}));
    s.publish("access", json!({"a": {"b": {"c": 1}}})).unwrap();
    let err = s.publish("access", json!({"a": {"b": {"c": {"d": 1}}}})).unwrap_err();
    assert_eq!(err, PublishError::TooDeep { pointer: "/a/b/c".into(), max: 3 });
    assert_eq!(err.to_string(), "event nests deeper than the maximum of 3 levels at `/a/b/c`");
}

fn valid_access() -> Value {
    json!({"transactionId": "tx-1", "timestamp": "2026-11-22T06:00:00Z", "eventName": "AM-ACCESS-OUTCOME", "response": {"status": "SUCCESSFUL"}})
}

#[test]
fn reject_mode_refuses_an_event_that_breaks_its_topic_schema_naming_pointer_and_rule() {
    let fx = Fixture::new();
    let s = service(&fx, json!({"mode": "reject"}));
    s.publish("access", valid_access()).unwrap();
    let mut bad = valid_access();
    bad["response"]["status"] = json!("MAYBE");
    bad["trackingIds"] = json!("not-a-list");
    let err = s.publish("access", bad).unwrap_err();
    let PublishError::Schema { topic, violations } = &err else { panic!("{err:?}") };
    assert_eq!(topic, "access");
    let where_what: Vec<(&str, &str)> = violations.iter().map(|(p, r, _)| (p.as_str(), r.as_str())).collect();
    assert!(where_what.contains(&("/response/status", "enum")) && where_what.contains(&("/trackingIds", "type")), "{err}");
    assert!(err.to_string().starts_with("event does not match the `access` schema: "), "{err}");
    let mut no_name = valid_access();
    no_name.as_object_mut().unwrap().remove("eventName");
    let err = s.publish("access", no_name).unwrap_err();
    assert!(err.to_string().contains("required property `eventName` is missing"), "{err}");
}

#[test]
fn warn_mode_accepts_and_off_does_not_look() {
    let fx = Fixture::new();
    let mut bad = valid_access();
    bad["response"]["status"] = json!("MAYBE");
    service(&fx, json!({"mode": "warn"})).publish("access", bad.clone()).expect("warn accepts");
    let fx = Fixture::new();
    service(&fx, json!({})).publish("access", bad).expect("off (the default, as ForgeRock) accepts");
}

#[test]
fn custom_topics_come_from_the_topics_schemas_directory() {
    let fx = Fixture::new();
    let schemas = fx.path().join("schemas");
    std::fs::create_dir_all(&schemas).unwrap();
    // The seed's custom topic schema, verbatim, as `doorBadges.json`.
    let seed = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/seeds/001-0121-custom-topic-schema.json");
    let mut schema: Value = serde_json::from_str(&std::fs::read_to_string(seed).unwrap()).unwrap();
    schema["schema"]["required"] = json!(["customField"]);
    std::fs::write(schemas.join("doorBadges.json"), schema.to_string()).unwrap();
    let config = fx.config_doc(&json!({
        "eventHandlers": [{"class": "wasm", "config": probe_handler("p", json!({}))}],
        "topicsSchemasDirectory": "schemas",
        "wasp": {"validation": {"mode": "reject"}}
    }));
    let s = AuditService::from_config_file(&config).unwrap();
    let ok = json!({"transactionId": "t", "timestamp": "2026-11-22T06:00:00Z", "customField": "door 7"});
    s.publish("doorBadges", ok).expect("a custom topic is known from its schema");
    let err = s.publish("doorBadges", json!({"transactionId": "t", "timestamp": "2026-11-22T06:00:00Z"})).unwrap_err();
    assert!(err.to_string().contains("required property `customField` is missing"), "{err}");

    // A schema for a core topic may only add properties.
    let mut access = serde_json::from_str::<Value>(wasp::schema::standard_source("access").unwrap()).unwrap();
    access["properties"].as_object_mut().unwrap().remove("server");
    std::fs::write(schemas.join("access.json"), json!({"schema": access}).to_string()).unwrap();
    let err = wasp::config::Config::from_file(&config).unwrap_err().to_string();
    assert!(err.contains("access.json") && err.contains("may only add properties") && err.contains("server"), "{err}");
}

#[test]
fn a_custom_topic_keeps_only_its_safelisted_fields_plus_include_if() {
    let fx = Fixture::new();
    let schemas = fx.path().join("schemas");
    std::fs::create_dir_all(&schemas).unwrap();
    let schema = json!({"schema": {"type": "object", "properties": {"customField": {"type": "string"}}}});
    std::fs::write(schemas.join("doorBadges.json"), schema.to_string()).unwrap();
    let config = fx.config_doc(&json!({
        "config": {"filterPolicies": {"field": {"includeIf": ["/doorBadges/reader", "/doorBadges/action"]}}},
        "eventHandlers": [{"class": "wasm", "config": {
            "name": "p", "topics": ["doorBadges"], "component": wasp_tests::guests::PROBE,
            "outputs": {"out": {"type": "file", "path": "out.log"}}
        }}],
        "topicsSchemasDirectory": "schemas"
    }));
    let s = AuditService::from_config_file(&config).unwrap();
    s.publish(
        "doorBadges",
        json!({
            "_id": "b1", "transactionId": "t", "action": "err",
            "customField": "door 7", "reader": {"id": 3}, "pin": "1234"
        }),
    )
    .unwrap();
    s.flush();
    drop(s);
    let document = fx.dead_letters("p").pop().unwrap().event.document;
    let mut keys: Vec<&str> = document.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort();
    // `pin` is not safelisted: gone before any handler sees the event.
    // (`action`, included, makes the probe dead-letter it, so we see it.)
    assert_eq!(keys, ["_id", "action", "customField", "reader", "timestamp", "transactionId"], "{document}");
}
