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
            "class": "org.forgerock.audit.handlers.syslog.SyslogAuditEventHandler",
            "config": {"name": "syslog", "topics": ["access"], "host": "localhost", "port": 514}
        }]
    }));
    let err = AuditService::from_config_file(&config).err().expect("refused");
    assert!(matches!(err, BuildError::NotSupported { .. }), "{err:?}");
    assert!(err.to_string().starts_with("handler `syslog`: class `org.forgerock.audit.handlers.syslog.SyslogAuditEventHandler` is recognised but not supported yet"), "{err}");
    // Disabled, it is recognised and the service runs.
    let config = fx.config_doc(&json!({
        "eventHandlers": [{
            "class": "org.forgerock.audit.handlers.syslog.SyslogAuditEventHandler",
            "config": {"name": "syslog", "topics": ["access"], "enabled": "false", "host": "localhost"}
        }]
    }));
    AuditService::from_config_file(&config).unwrap().shutdown();
}

#[test]
fn config_check_resolves_a_configuration_and_names_every_problem() {
    let fx = Fixture::new();
    let mut missing = probe_handler("lost", json!({}));
    missing["component"] = json!("handlers/missing.wasm");
    let config = fx.config_doc(&json!({
        "name": "AuditService",
        "type": "AuditService",
        "config": {"eventHandlers": [
            {"class": "wasm", "config": probe_handler("p", json!({}))},
            {"class": "wasm", "config": missing},
            {"class": "org.forgerock.audit.handlers.syslog.SyslogAuditEventHandler", "config": {"name": "syslog", "topics": ["access"]}}
        ]}
    }));
    let out = wasp_tests::run_wasp(&["config", "check", config.to_str().unwrap()], None, fx.path());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(3), "{stdout}");
    assert!(stdout.contains("audit service: AuditService"), "{stdout}");
    assert!(stdout.contains("handler p (wasm): topics access, authentication"), "{stdout}");
    assert!(stdout.contains("implements") || stdout.contains("wasp:handler/handler@0.1.0"), "{stdout}");
    assert!(stdout.contains("error: handler `lost`: cannot read component") && stdout.contains("missing.wasm"), "{stdout}");
    assert!(stdout.contains("error: handler `syslog`: class `org.forgerock.audit.handlers.syslog.SyslogAuditEventHandler` is recognised but not supported yet"), "{stdout}");
    assert!(stdout.contains("2 problem(s)"), "{stdout}");

    std::fs::write(&config, "{\"eventHandlers\": [").unwrap();
    let out = wasp_tests::run_wasp(&["config", "check", config.to_str().unwrap()], None, fx.path());
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("invalid"));
}

#[test]
fn hash_if_pseudonymises_and_wasp_hash_finds_the_same_digest() {
    let fx = Fixture::new();
    std::fs::write(fx.path().join("hash.key"), "an investigator's key\n").unwrap();
    let config = fx.config_doc(&json!({
        "config": {"filterPolicies": {
            "hashKey": {"file": "hash.key"},
            "field": {"hashIf": ["/access/userId", "/access/client/ip"]}
        }},
        "eventHandlers": [{"class": "wasm", "config": probe_handler("p", json!({}))}]
    }));
    let service = AuditService::from_config_file(config).unwrap();
    service.publish("access", json!({"_id": "e1", "action": "err", "userId": "bjensen", "client": {"ip": "203.0.113.7"}})).unwrap();
    service.flush();
    drop(service);
    let document = fx.dead_letters("p").pop().unwrap().event.document;
    let digest = document["userId"].as_str().unwrap().to_owned();
    assert!(digest.starts_with("hmac-sha256:") && digest.len() == 12 + 64, "{digest}");
    assert_ne!(document["client"]["ip"], "203.0.113.7");
    let out = wasp_tests::run_wasp(&["hash", "--key-file", "hash.key", "bjensen"], None, fx.path());
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), digest, "wasp hash gives the digest in the records");
}
