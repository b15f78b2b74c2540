//! The circuit breaker: a handler that keeps faulting is quarantined, its
//! events wait (none lost), a half-open probe brings it back, and at
//! shutdown a still-quarantined handler's backlog is dead-lettered.

use std::time::{Duration, Instant};

use serde_json::json;
use wasp::{AuditService, HandlerState};
use wasp_tests::{Fixture, healthy_probe, probe_handler, wait_for};

#[test]
fn consecutive_faults_quarantine_and_a_successful_probe_restores() {
    let fx = Fixture::new();
    let handler = probe_handler("flaky", json!({"circuitBreaker": {"failures": 3, "backoff": "200 ms"}, "batch": {"maxSize": 1}}));
    let service = AuditService::from_config_file(fx.config(&[handler, healthy_probe()])).unwrap();
    for n in 0..3 {
        service.publish("access", json!({"_id": format!("boom{n}"), "action": "panic"})).unwrap();
    }
    wait_for("quarantine", || service.summary().handler("flaky").unwrap().state == HandlerState::Quarantined);
    for n in 0..4 {
        service.publish("access", json!({"_id": format!("ok{n}")})).unwrap();
    }
    // A flush does not wait for a quarantined handler; the healthy one is done.
    service.flush();
    assert_eq!(service.summary().handler("healthy").unwrap().delivered, 7);
    let flaky = service.summary().handler("flaky").unwrap().clone();
    assert_eq!((flaky.delivered, flaky.dead_lettered, flaky.quarantines), (0, 3, 1), "{flaky:?}");
    // After the backoff one event probes; it succeeds and the rest follow.
    wait_for("recovery", || service.summary().handler("flaky").unwrap().delivered == 4);
    let summary = service.shutdown();
    let flaky = summary.handler("flaky").unwrap();
    assert_eq!(flaky.state, HandlerState::Running);
    assert_eq!((flaky.received, flaky.delivered, flaky.dead_lettered), (7, 4, 3));
    let ids: Vec<String> = fx.output_json("flaky", "out.log").iter().map(|v| v["id"].as_str().unwrap().to_owned()).collect();
    assert_eq!(ids, ["ok0", "ok1", "ok2", "ok3"], "order kept across the quarantine");
}

#[test]
fn a_failed_probe_doubles_the_backoff() {
    let fx = Fixture::new();
    let handler = probe_handler("bad", json!({"circuitBreaker": {"failures": 1, "backoff": "100 ms"}, "batch": {"maxSize": 1}}));
    let service = AuditService::from_config_file(fx.config(&[handler])).unwrap();
    for n in 0..3 {
        service.publish("access", json!({"_id": format!("boom{n}"), "action": "panic"})).unwrap();
    }
    // Open at once (100 ms), probe fails (200 ms), probe fails: 3 quarantines.
    wait_for("three quarantines", || service.summary().handler("bad").unwrap().quarantines == 3);
    let h = &service.shutdown().handlers[0];
    assert_eq!((h.received, h.dead_lettered), (3, 3));
    assert_eq!(h.faults.get("panic"), Some(&3));
}

#[test]
fn shutdown_dead_letters_a_quarantined_handlers_backlog_untried() {
    let fx = Fixture::new();
    let handler = probe_handler("stuck", json!({"circuitBreaker": {"failures": 1, "backoff": "1 hour"}, "batch": {"maxSize": 1}}));
    let service = AuditService::from_config_file(fx.config(&[handler])).unwrap();
    service.publish("access", json!({"_id": "boom", "action": "panic"})).unwrap();
    wait_for("quarantine", || service.summary().handlers[0].state == HandlerState::Quarantined);
    service.publish("access", json!({"_id": "waiting1"})).unwrap();
    service.publish("access", json!({"_id": "waiting2"})).unwrap();
    let started = Instant::now();
    let summary = service.shutdown();
    assert!(started.elapsed() < Duration::from_secs(10), "shutdown does not wait out the backoff");
    let h = &summary.handlers[0];
    assert_eq!((h.received, h.delivered, h.dead_lettered), (3, 0, 3));
    assert_eq!(h.faults.get("quarantined"), Some(&2));
    let letters = fx.dead_letters("stuck");
    let kinds: Vec<(&str, String)> =
        letters.iter().map(|l| (l.event.id.as_str(), serde_json::to_value(l.fault.kind).unwrap().as_str().unwrap().to_owned())).collect();
    assert_eq!(kinds, [("boom", "panic".into()), ("waiting1", "quarantined".into()), ("waiting2", "quarantined".into())]);
}
