//! Faulty guests never fail the publisher, never take their neighbours down,
//! and every event is accounted for.

use serde_json::json;
use wasp::{AuditService, HandlerState};
use wasp_tests::{Fixture, guests, probe_handler};

fn ids(values: &[serde_json::Value]) -> Vec<&str> {
    values.iter().map(|v| v["id"].as_str().unwrap()).collect()
}

#[test]
fn a_panicking_event_fails_alone_and_a_fresh_instance_handles_the_rest() {
    let fx = Fixture::new();
    let service = AuditService::from_config_file(fx.config(&[probe_handler("p", json!({}))])).unwrap();
    for (id, action) in [("a", "echo"), ("b", "panic"), ("c", "echo"), ("d", "echo")] {
        // A guest's fault never reaches publish.
        service.publish("access", json!({"_id": id, "action": action})).unwrap();
    }
    service.flush();
    let out = fx.output_json("p", "out.log");
    assert_eq!(ids(&out), ["a", "c", "d"]);
    let summary = service.shutdown();
    let h = &summary.handlers[0];
    assert_eq!((h.received, h.delivered, h.dead_lettered), (4, 3, 1));
    assert_eq!(h.faults.get("panic"), Some(&1), "{h:?}");
    assert!(h.last_fault.as_deref().unwrap().contains("probe: poisoned event b"), "{h:?}");
    assert!(h.instances >= 2, "the trapped instance was replaced: {h:?}");
}

#[test]
fn running_out_of_fuel_is_a_fault_and_the_next_event_is_handled() {
    let fx = Fixture::new();
    let handler = probe_handler("p", json!({"budgets": {"fuelPerEvent": 2_000_000}}));
    let service = AuditService::from_config_file(fx.config(&[handler])).unwrap();
    service.publish("access", json!({"_id": "spin", "action": "loop"})).unwrap();
    service.publish("access", json!({"_id": "after", "action": "echo"})).unwrap();
    service.flush();
    assert_eq!(ids(&fx.output_json("p", "out.log")), ["after"]);
    let h = &service.shutdown().handlers[0];
    assert_eq!((h.delivered, h.dead_lettered), (1, 1));
    assert_eq!(h.faults.get("fuel"), Some(&1), "{h:?}");
}

#[test]
fn passing_the_deadline_is_a_fault() {
    let fx = Fixture::new();
    let handler = probe_handler("p", json!({"budgets": {"fuelPerEvent": 1_000_000_000_000u64, "deadline": "100 ms"}}));
    let service = AuditService::from_config_file(fx.config(&[handler])).unwrap();
    service.publish("access", json!({"_id": "spin", "action": "loop"})).unwrap();
    service.publish("access", json!({"_id": "after"})).unwrap();
    service.flush();
    assert_eq!(ids(&fx.output_json("p", "out.log")), ["after"]);
    let h = &service.shutdown().handlers[0];
    assert_eq!(h.faults.get("deadline"), Some(&1), "{h:?}");
}

#[test]
fn a_guest_error_fails_the_event_and_discards_its_records() {
    let fx = Fixture::new();
    let service = AuditService::from_config_file(fx.config(&[probe_handler("p", json!({}))])).unwrap();
    for (id, action) in [("a", "echo"), ("b", "err"), ("c", "echo")] {
        service.publish("access", json!({"_id": id, "action": action})).unwrap();
    }
    service.flush();
    // `err` emits before failing: that record must not be written.
    assert_eq!(ids(&fx.output_json("p", "out.log")), ["a", "c"]);
    let h = &service.shutdown().handlers[0];
    assert_eq!(h.faults.get("guest-error"), Some(&1));
    assert_eq!(h.instances, 1, "a guest error keeps the instance");
    assert!(h.last_fault.as_deref().unwrap().contains("refused b"));
}

#[test]
fn emit_to_an_undeclared_output_is_refused() {
    let fx = Fixture::new();
    let service = AuditService::from_config_file(fx.config(&[probe_handler("p", json!({}))])).unwrap();
    service.publish("access", json!({"_id": "u", "action": "emit-undeclared"})).unwrap();
    service.flush();
    let out = fx.output_json("p", "out.log");
    assert_eq!(out[0]["undeclared"], "output `undeclared` is not declared for this handler (declared: out)");
    assert!(!fx.path().join("wasp-data/p/undeclared").exists());
}

#[test]
fn state_survives_instance_recycling() {
    let fx = Fixture::new();
    let service = AuditService::from_config_file(fx.config(&[probe_handler("p", json!({}))])).unwrap();
    for (id, action) in [("1", "count"), ("2", "count"), ("boom", "panic"), ("3", "count")] {
        service.publish("access", json!({"_id": id, "action": action})).unwrap();
    }
    service.flush();
    let counts: Vec<u64> = fx.output_json("p", "out.log").iter().map(|v| v["count"].as_u64().unwrap()).collect();
    assert_eq!(counts, [1, 2, 3]);
}

#[test]
fn events_of_other_topics_are_not_delivered_and_order_is_kept() {
    let fx = Fixture::new();
    let mut handler = probe_handler("p", json!({"batch": {"maxSize": 3, "maxWait": "1 ms"}}));
    handler["topics"] = json!(["access"]);
    let service = AuditService::from_config_file(fx.config(&[handler])).unwrap();
    let mut expected = Vec::new();
    for n in 0..50 {
        let topic = if n % 5 == 0 { "activity" } else { "access" };
        let receipt = service.publish(topic, json!({"_id": format!("e{n}")})).unwrap();
        assert_eq!(receipt.sequence, n + 1);
        if topic == "access" {
            expected.push(format!("e{n}"));
        }
    }
    service.flush();
    let out = fx.output_json("p", "out.log");
    assert_eq!(ids(&out), expected);
    let seqs: Vec<u64> = out.iter().map(|v| v["seq"].as_u64().unwrap()).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "journal order: {seqs:?}");
    assert_eq!(service.shutdown().handlers[0].received, 40);
}

#[test]
fn an_init_failure_disables_only_that_handler_and_dead_letters_its_events() {
    let fx = Fixture::new();
    let picky = probe_handler("picky", json!({"config": {"fail_init": true}}));
    let trapping = probe_handler("trapping", json!({"config": {"trap_init": true}}));
    let healthy = probe_handler("healthy", json!({}));
    let service = AuditService::from_config_file(fx.config(&[picky, trapping, healthy])).expect("the service starts");
    service.publish("access", json!({"_id": "e1"})).unwrap();
    service.flush();
    assert_eq!(ids(&fx.output_json("healthy", "out.log")), ["e1"]);
    let summary = service.shutdown();
    let picky = summary.handler("picky").unwrap();
    assert_eq!(picky.state, HandlerState::Disabled);
    assert_eq!(picky.disabled_reason.as_deref(), Some("init returned an error: init refused: fail_init is set"));
    assert_eq!((picky.received, picky.dead_lettered), (1, 1));
    assert_eq!(picky.faults.get("init"), Some(&1));
    let trapping = summary.handler("trapping").unwrap();
    assert_eq!(trapping.state, HandlerState::Disabled);
    let reason = trapping.disabled_reason.as_deref().unwrap();
    assert!(reason.starts_with("init faulted (panic)") && reason.contains("trap_init"), "{reason}");
    assert_eq!(summary.handler("healthy").unwrap().state, HandlerState::Running);
}

#[test]
fn a_handler_that_is_not_a_handler_is_refused_at_build() {
    let fx = Fixture::new();
    let mut handler = probe_handler("cmd", json!({}));
    handler["component"] = json!(guests::NOT_A_HANDLER);
    let err = AuditService::from_config_file(fx.config(&[handler])).err().expect("must not build");
    let message = err.to_string();
    assert!(message.starts_with("handler `cmd`:") && message.contains("does not fit the WASP sandbox"), "{message}");
}

#[test]
fn an_instance_is_recycled_after_recycle_after_events_and_keeps_state() {
    let fx = Fixture::new();
    let handler = probe_handler("p", json!({"budgets": {"recycleAfter": 3}, "batch": {"maxSize": 1}}));
    let service = AuditService::from_config_file(fx.config(&[handler])).unwrap();
    for n in 0..7 {
        service.publish("access", json!({"_id": format!("e{n}"), "action": if n == 4 { "count" } else { "echo" }})).unwrap();
    }
    service.flush();
    let out = fx.output_json("p", "out.log");
    let per_instance: Vec<u64> = out.iter().filter_map(|v| v["instance_events"].as_u64()).collect();
    assert_eq!(per_instance, [1, 2, 3, 1, 3, 1], "a fresh instance every 3 events (e4 is a count record)");
    let h = &service.shutdown().handlers[0];
    assert_eq!((h.delivered, h.recycled, h.instances), (7, 2, 3), "{h:?}");
}
