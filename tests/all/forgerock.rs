//! ForgeRock configurations as they are: the full `AuditService` form,
//! `filterPolicies` applied before any handler sees the event, and handler
//! classes without a WASP output yet refused with "not supported yet".

use serde_json::json;
use wasp::AuditService;
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
        .publish(
            "access",
            json!({
                "_id": "e1", "action": "err", "server": {"ip": "10.0.0.1"},
                "http": {"request": {"path": "/x", "headers": {"Authorization": ["Bearer s3cr3t"], "host": ["example.com"]}}}
            }),
        )
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
fn a_jms_handler_without_its_broker_is_a_named_error_and_disabled_it_is_left_alone() {
    let fx = Fixture::new();
    let config = fx.config_doc(&json!({
        "eventHandlers": [{
            "class": "org.forgerock.audit.handlers.jms.JmsAuditEventHandler",
            "config": {"name": "jms", "topics": ["access"]}
        }]
    }));
    let err = AuditService::from_config_file(&config).err().expect("refused").to_string();
    assert!(err.contains("eventHandlers[0].config.jndi") && err.contains("java.naming.provider.url"), "{err}");
    // Disabled, it is recognised and the service runs.
    let config = fx.config_doc(&json!({
        "eventHandlers": [{
            "class": "org.forgerock.audit.handlers.jms.JmsAuditEventHandler",
            "config": {"name": "jms", "topics": ["access"], "enabled": "false", "jndi": {"contextProperties": {"java.naming.provider.url": "nats://127.0.0.1:4222"}, "topicName": "audit"}}
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
            {"class": "org.forgerock.audit.handlers.jms.JmsAuditEventHandler", "config": {"name": "jms", "topics": ["access"],
             "jndi": {"contextProperties": {"java.naming.provider.url": "tcp://127.0.0.1:61616"}, "topicName": "audit"}}}
        ]}
    }));
    let out = wasp_tests::run_wasp(&["config", "check", config.to_str().unwrap()], None, fx.path());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(3), "{stdout}");
    assert!(stdout.contains("audit service: AuditService"), "{stdout}");
    assert!(stdout.contains("handler p (wasm): topics access, authentication"), "{stdout}");
    assert!(stdout.contains("wasp:handler/packed-handler@0.1.0"), "the probe's world: {stdout}");
    assert!(stdout.contains("error: handler `lost`: cannot read component") && stdout.contains("missing.wasm"), "{stdout}");
    assert!(stdout.contains("error: handler `jms`: jndi.contextProperties[\"java.naming.provider.url\"]: `tcp://127.0.0.1:61616` is an ActiveMQ OpenWire URL"), "{stdout}");
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

/// Everything under `dir`, as paths relative to it.
fn tree(dir: &std::path::Path) -> Vec<String> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let path = entry.path();
            found.push(path.strip_prefix(dir).unwrap().display().to_string());
            if path.is_dir() {
                stack.push(path);
            }
        }
    }
    found.sort();
    found
}

#[test]
fn a_builtin_handler_name_that_leads_out_of_its_directories_is_refused() {
    // Issue 25: a JSON handler named `../../../esc-top` with `security` on
    // passed `wasp config check` and wrote `esc-top/access.audit.json.state`
    // outside the data directory (its integrity checkpoint directory is
    // named after it); a tenant's, outside the tenant's output root.
    let fx = Fixture::new();
    // The data directory is nested so that the escapes land inside the
    // fixture, where the test can see them.
    let base = fx.path().join("a/b/c");
    std::fs::create_dir_all(fx.path().join("keys")).unwrap();
    let out = wasp_tests::run_wasp(&["keygen", "--out", "keys/audit.key"], None, fx.path());
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let json = |name: &str| {
        json!({"class": "JsonAuditEventHandler", "config": {
            "name": name, "topics": ["access"], "logDirectory": "logs",
            "security": {"enabled": true, "filename": "keys/audit.key", "signatureInterval": "10 ms"}
        }})
    };
    let cases = [
        ("top level", json!({"eventHandlers": [json("../../../esc-top")]}), "eventHandlers[0].config.name", "../../../esc-top"),
        (
            "tenant",
            json!({"eventHandlers": [], "tenants": {"acme": {"eventHandlers": [json("../../../../../esc-tenant")]}}}),
            "tenants.acme.eventHandlers[0].config.name",
            "../../../../../esc-tenant",
        ),
        (
            "csv",
            json!({"eventHandlers": [{"class": "CsvAuditEventHandler", "config": {"name": "x/../../y", "topics": ["access"], "logDirectory": "csv"}}]}),
            "eventHandlers[0].config.name",
            "x/../../y",
        ),
    ];
    for (case, doc, at, name) in cases {
        let mut doc = doc;
        doc["wasp"] = json!({"dataDirectory": "a/b/c/wasp-data", "validation": {"requiredFields": []}});
        let config = fx.config_doc(&doc);
        let before = tree(fx.path());
        let out = wasp_tests::run_wasp(&["config", "check", config.to_str().unwrap()], None, fx.path());
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(1), "{case}: {stdout}");
        assert!(stdout.contains(&format!("{at}: `{name}` is not a valid handler name")), "{case}: {stdout}");
        let Err(e) = AuditService::from_config_file(&config) else { panic!("{case}: the configuration was accepted") };
        assert!(e.to_string().contains(&format!("{at}: `{name}` is not a valid handler name")), "{case}: {e}");
        // Nothing was created anywhere by either.
        assert_eq!(tree(fx.path()), before, "{case}");
    }
    // The same handlers with proper names write their checkpoints inside
    // `<dataDirectory>/integrity`.
    let config = fx.config_doc(&json!({
        "wasp": {"dataDirectory": "a/b/c/wasp-data", "validation": {"requiredFields": []}},
        "eventHandlers": [json("top")],
        "tenants": {"acme": {"eventHandlers": [json("trail")]}}
    }));
    let audit = AuditService::from_config_file(&config).unwrap();
    audit.publish("access", json!({"_id": "e1"})).unwrap();
    audit.publish_as("acme", "access", json!({"_id": "e2"})).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(50));
    audit.flush();
    let summary = audit.shutdown();
    assert_eq!(summary.handler("top").unwrap().delivered, 1, "{summary:?}");
    assert_eq!(summary.handler("acme/trail").unwrap().delivered, 1, "{summary:?}");
    let integrity = base.join("wasp-data/integrity");
    assert!(integrity.join("top/access.audit.json.state").exists(), "{:?}", tree(fx.path()));
    assert!(integrity.join("tenants/acme/trail/access.audit.json.state").exists(), "{:?}", tree(fx.path()));
    let outside: Vec<String> = tree(fx.path())
        .into_iter()
        .filter(|p| !p.starts_with("a/b/c") && !p.starts_with("keys") && !["a", "a/b", "audit.json"].contains(&p.as_str()))
        .collect();
    assert!(outside.is_empty(), "written outside the data directory: {outside:?}");
}
