//! Tenants: their own handlers, events, outputs under an output root that
//! nothing escapes, budgets and quotas.

use serde_json::{Value, json};
use wasp::{AuditService, HandlerState, PublishError};
use wasp_tests::{Fixture, probe_handler};

fn entry(handler: Value) -> Value {
    json!({"class": "wasm", "config": handler})
}

fn tenant(handlers: &[Value], extra: Value) -> Value {
    let mut t = json!({"eventHandlers": handlers.iter().cloned().map(entry).collect::<Vec<_>>()});
    for (k, v) in extra.as_object().unwrap() {
        t[k] = v.clone();
    }
    t
}

fn ids(values: &[Value]) -> Vec<&str> {
    values.iter().map(|v| v["id"].as_str().unwrap()).collect()
}

#[test]
fn each_tenant_gets_only_its_own_events_in_its_own_root() {
    let fx = Fixture::new();
    let mut globex_audit = probe_handler("audit", json!({}));
    globex_audit["outputs"]["globex-only"] = json!({"type": "file", "path": "globex-only.log"});
    let config = fx.config_doc(&json!({
        "eventHandlers": [entry(probe_handler("ops", json!({})))],
        "tenants": {
            "acme": tenant(&[probe_handler("audit", json!({}))], json!({})),
            "globex": tenant(&[globex_audit], json!({}))
        }
    }));
    let service = AuditService::from_config_file(config).unwrap();
    service.publish_as("acme", "access", json!({"_id": "a1"})).unwrap();
    service.publish_as("globex", "access", json!({"_id": "g1"})).unwrap();
    service.publish("access", json!({"_id": "o1"})).unwrap();
    // acme's handler tries to write to an output only globex declared.
    service.publish_as("acme", "access", json!({"_id": "a2", "action": "emit-other", "output": "globex-only"})).unwrap();
    service.flush();
    assert_eq!(ids(&fx.data_json("tenants/acme/audit/out.log")), ["a1"]);
    assert_eq!(ids(&fx.data_json("tenants/globex/audit/out.log")), ["g1"]);
    assert_eq!(ids(&fx.data_json("ops/out.log")), ["o1"]);
    assert!(fx.data_json("tenants/globex/audit/globex-only.log").is_empty());
    let letters = fx.dead_letters("acme/audit");
    assert_eq!(letters.len(), 1);
    assert_eq!(letters[0].tenant.as_deref(), Some("acme"));
    assert!(letters[0].fault.message.contains("output `globex-only` is not declared for this handler"), "{letters:?}");
    let summary = service.shutdown();
    let names: Vec<&str> = summary.handlers.iter().map(|h| h.name.as_str()).collect();
    assert_eq!(names, ["ops", "acme/audit", "globex/audit"]);
    assert_eq!(summary.handler("acme/audit").unwrap().received, 2);
    assert_eq!(summary.handler("globex/audit").unwrap().received, 1);
    assert_eq!(summary.handler("ops").unwrap().received, 1);
    assert_eq!(summary.tenants.iter().map(|t| (t.name.as_str(), t.published)).collect::<Vec<_>>(), [("acme", 2), ("globex", 1)]);
}

#[test]
fn an_unknown_tenant_is_refused() {
    let fx = Fixture::new();
    let config = fx.config_doc(&json!({"eventHandlers": [], "tenants": {"acme": tenant(&[], json!({}))}}));
    let service = AuditService::from_config_file(config).unwrap();
    let err = service.publish_as("initech", "access", json!({})).unwrap_err();
    assert_eq!(err.to_string(), "unknown tenant `initech` (known tenants: acme)");
}

/// A tenant handler whose `directory` tries to leave the tenant's root is
/// disabled (the service runs) and nothing is created outside.
fn escape(directory: &str, fx: &Fixture) -> String {
    let mut handler = probe_handler("sneaky", json!({}));
    handler["directory"] = json!(directory);
    let config = fx.config_doc(&json!({
        "eventHandlers": [entry(probe_handler("ops", json!({})))],
        "tenants": {"acme": tenant(&[handler], json!({}))}
    }));
    let service = AuditService::from_config_file(config).unwrap();
    service.publish_as("acme", "access", json!({"_id": "x"})).unwrap();
    service.publish("access", json!({"_id": "o"})).unwrap();
    service.flush();
    let summary = service.shutdown();
    let h = summary.handler("acme/sneaky").unwrap();
    assert_eq!(h.state, HandlerState::Disabled);
    assert_eq!((h.received, h.dead_lettered), (1, 1), "its event is kept as a dead letter");
    assert_eq!(summary.handler("ops").unwrap().delivered, 1);
    h.disabled_reason.clone().unwrap()
}

#[test]
fn dot_dot_does_not_escape_the_output_root() {
    let fx = Fixture::new();
    let reason = escape("../../escaped", &fx);
    assert!(reason.contains("is not inside the tenant's output root"), "{reason}");
    assert!(!fx.path().join("escaped").exists() && !fx.path().join("wasp-data/escaped").exists());
}

#[test]
fn an_absolute_path_does_not_escape_the_output_root() {
    let fx = Fixture::new();
    let target = fx.path().join("absolute-target");
    let reason = escape(target.to_str().unwrap(), &fx);
    assert!(reason.contains("is not inside the tenant's output root"), "{reason}");
    assert!(!target.exists());
}

/// Makes `wasp-data/tenants/acme/link`, a symbolic link to a directory
/// outside acme's output root; returns that directory and the root.
fn link_out_of_root(fx: &Fixture) -> (std::path::PathBuf, std::path::PathBuf) {
    let outside = fx.path().join("outside");
    std::fs::create_dir_all(&outside).unwrap();
    let root = fx.path().join("wasp-data/tenants/acme");
    std::fs::create_dir_all(&root).unwrap();
    std::os::unix::fs::symlink(&outside, root.join("link")).unwrap();
    (outside, root)
}

#[test]
fn a_symbolic_link_does_not_escape_the_output_root() {
    let fx = Fixture::new();
    let (outside, _root) = link_out_of_root(&fx);
    let reason = escape("link", &fx);
    assert!(reason.contains("is not inside the tenant's output root"), "{reason}");
    assert_eq!(std::fs::read_dir(&outside).unwrap().count(), 0, "nothing written through the link");
}

#[test]
fn tenant_budgets_apply_to_its_handlers_unless_overridden() {
    let fx = Fixture::new();
    let small = probe_handler("small", json!({}));
    let own = probe_handler("own", json!({"budgets": {"fuelPerEvent": 3_000_000}}));
    let config = fx.config_doc(&json!({
        "eventHandlers": [],
        "tenants": {"acme": tenant(&[small, own], json!({"budgets": {"fuelPerEvent": 1_000_000}}))}
    }));
    let service = AuditService::from_config_file(config).unwrap();
    service.publish_as("acme", "access", json!({"_id": "spin", "action": "loop"})).unwrap();
    service.flush();
    drop(service);
    let fuel = |h: &str| fx.dead_letters(h)[0].fault.fuel_used;
    assert!((1_000_000..1_100_000).contains(&fuel("acme/small")), "tenant default: {}", fuel("acme/small"));
    assert!((3_000_000..3_100_000).contains(&fuel("acme/own")), "handler override: {}", fuel("acme/own"));
}

#[test]
fn the_events_per_second_quota_refuses_and_counts_the_excess() {
    let fx = Fixture::new();
    let config = fx.config_doc(&json!({
        "eventHandlers": [],
        "tenants": {"acme": tenant(&[probe_handler("audit", json!({}))], json!({"quotas": {"eventsPerSecond": 5}}))}
    }));
    let service = AuditService::from_config_file(config).unwrap();
    let results: Vec<_> = (0..8).map(|n| service.publish_as("acme", "access", json!({"_id": format!("e{n}")}))).collect();
    let refused = results.iter().filter(|r| matches!(r, Err(PublishError::QuotaExceeded { per_second: 5, .. }))).count();
    // One second's worth is allowed at once; the refill over the loop is tiny.
    assert!((2..=3).contains(&refused), "{results:?}");
    let summary = service.shutdown();
    assert_eq!(summary.tenants[0].over_quota, refused as u64);
    assert_eq!(summary.tenants[0].published, 8 - refused as u64);
    assert_eq!(summary.handlers[0].delivered, 8 - refused as u64, "accepted events are all delivered");
}

#[test]
fn a_tenants_batch_takes_its_quota_event_by_event() {
    let fx = Fixture::new();
    let config = fx.config_doc(&json!({
        "eventHandlers": [],
        "tenants": {"acme": tenant(&[probe_handler("audit", json!({}))], json!({"quotas": {"eventsPerSecond": 5}}))}
    }));
    let service = AuditService::from_config_file(config).unwrap();
    let events: Vec<_> = (0..8).map(|n| json!({"_id": format!("e{n}")})).collect();
    let results = service.publish_batch(Some("acme"), "access", events);
    let refused = results.iter().filter(|r| matches!(r, Err(PublishError::QuotaExceeded { per_second: 5, .. }))).count();
    assert!((2..=3).contains(&refused), "{results:?}");
    assert!(results[..5].iter().all(Result::is_ok), "the first second's worth is accepted: {results:?}");
    assert!(results.iter().filter_map(|r| r.as_ref().ok()).all(|r| r.tenant.as_deref() == Some("acme")));
    let unknown = service.publish_batch(Some("globex"), "access", [json!({})]);
    assert!(matches!(unknown[0], Err(PublishError::UnknownTenant { .. })), "{unknown:?}");
    let summary = service.shutdown();
    assert_eq!(summary.tenants[0].over_quota, refused as u64);
    assert_eq!(summary.tenants[0].published, 8 - refused as u64);
    assert_eq!(summary.handlers[0].delivered, 8 - refused as u64, "accepted events are all delivered");
}

#[test]
fn the_fuel_per_second_quota_throttles_and_counts_the_wait() {
    let fx = Fixture::new();
    let handler = probe_handler("audit", json!({"batch": {"maxSize": 1}}));
    let config = fx.config_doc(&json!({
        "eventHandlers": [],
        "tenants": {"acme": tenant(&[handler], json!({"quotas": {"fuelPerSecond": 200_000}}))}
    }));
    let service = AuditService::from_config_file(config).unwrap();
    for n in 0..20 {
        service.publish_as("acme", "access", json!({"_id": format!("e{n}")})).unwrap();
    }
    service.flush();
    let h = &service.shutdown().handlers[0];
    assert_eq!(h.delivered, 20);
    assert!(h.fuel_used > 200_000, "the test needs more than one second's fuel: {h:?}");
    assert!(h.throttled_ns > 0, "over its fuel quota the tenant waited: {h:?}");
}

#[test]
fn a_tenants_builtin_handler_cannot_write_through_a_symbolic_link() {
    let fx = Fixture::new();
    let (outside, root) = link_out_of_root(&fx);
    let json = |dir: &str| json!({"class": "JsonAuditEventHandler", "config": {"name": "json", "topics": ["access"], "logDirectory": dir}});
    let config = fx.config_doc(&json!({
        "eventHandlers": [],
        "tenants": {"acme": {"eventHandlers": [json("link"), {"class": "CsvAuditEventHandler", "config": {
            "name": "csv", "topics": ["access"], "logDirectory": "csv"
        }}]}}
    }));
    let service = AuditService::from_config_file(config).unwrap();
    service.publish_as("acme", "access", json!({"_id": "x"})).unwrap();
    service.flush();
    let summary = service.shutdown();
    let h = summary.handler("acme/json").unwrap();
    assert_eq!(h.state, HandlerState::Disabled);
    assert!(h.disabled_reason.as_deref().unwrap().contains("is not inside the tenant's output root"), "{h:?}");
    assert_eq!((h.received, h.dead_lettered), (1, 1), "its event is kept as a dead letter");
    assert_eq!(std::fs::read_dir(&outside).unwrap().count(), 0, "nothing written through the link");
    // The tenant's other built-in handler writes inside the root.
    assert_eq!(summary.handler("acme/csv").unwrap().delivered, 1);
    assert!(root.join("csv/access.csv").exists());
}
