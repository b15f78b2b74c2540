//! What `publish` checks: ForgeRock's required fields, an ISO-8601 UTC
//! timestamp, the nesting depth, and (per `wasp.validation.mode`) the
//! topic's schema. Every refusal names what was wrong and where.

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
