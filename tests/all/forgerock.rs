//! ForgeRock configurations as they are: the full `AuditService` form,
//! `filterPolicies` applied before any handler sees the event, and handler
//! classes without a WASP output yet refused with "not supported yet".

use serde_json::json;
use wasp::{AuditService, BuildError};
use wasp_tests::{Fixture, probe_handler};

#[test]
fn exclude_if_removes_fields_before_handlers_see_them() {
    let fx = Fixture::new();
    let config = fx.config_doc(&json!({
        "name": "AuditService",
        "type": "AuditService",
        "config": {
            "config": {"filterPolicies": {"field": {"excludeIf": [
                "/access/http/request/headers/authorization",
                "/access/server"
            ]}}},
            "eventHandlers": [{"class": "wasm", "config": probe_handler("p", json!({}))}]
        }
    }));
    let service = AuditService::from_config_file(config).unwrap();
    // `err` makes the probe fail the event, so its dead letter shows the
    // event exactly as the handler received it.
    service
        .publish("access", json!({
            "_id": "e1", "action": "err", "server": {"ip": "10.0.0.1"},
            "http": {"request": {"path": "/x", "headers": {"Authorization": ["Bearer s3cr3t"], "host": ["example.com"]}}}
        }))
        .unwrap();
    service.flush();
    drop(service);
    let letter = fx.dead_letters("p").pop().unwrap();
    let document = letter.event.document;
    assert_eq!(document["http"]["request"]["headers"], json!({"host": ["example.com"]}), "the header, matched without case, is gone");
    assert!(document.get("server").is_none());
    assert_eq!(document["http"]["request"]["path"], "/x");
}

#[test]
fn a_class_without_an_output_yet_is_refused_as_not_supported_yet() {
    let fx = Fixture::new();
    let config = fx.config_doc(&json!({
        "eventHandlers": [{
            "class": "org.forgerock.audit.handlers.csv.CsvAuditEventHandler",
            "config": {"name": "csv", "topics": ["access"], "logDirectory": "/var/audit"}
        }]
    }));
    let err = AuditService::from_config_file(&config).err().expect("refused");
    assert!(matches!(err, BuildError::NotSupported { .. }), "{err:?}");
    assert!(err.to_string().starts_with("handler `csv`: class `org.forgerock.audit.handlers.csv.CsvAuditEventHandler` is recognised but not supported yet"), "{err}");
    // Disabled, it is recognised and the service runs.
    let config = fx.config_doc(&json!({
        "eventHandlers": [{
            "class": "org.forgerock.audit.handlers.csv.CsvAuditEventHandler",
            "config": {"name": "csv", "topics": ["access"], "enabled": "false", "logDirectory": "/var/audit"}
        }]
    }));
    AuditService::from_config_file(&config).unwrap().shutdown();
}
