//! WASM filters before the handlers: keep, drop, replace; a faulting filter
//! fails closed (dead letter, kind `filter`) or open (the event passes), and
//! publish never notices.

use serde_json::{Value, json};
use wasp::AuditService;
use wasp_tests::{Fixture, guests, probe_handler};

fn service(fx: &Fixture, on_fault: &str) -> AuditService {
    let config = fx.config_doc(&json!({
        "eventHandlers": [{"class": "wasm", "config": probe_handler("p", json!({}))}],
        "filters": [{"name": "f", "topics": ["access"], "component": guests::KEEP_ALL_FILTER, "onFault": on_fault}]
    }));
    AuditService::from_config_file(config).unwrap()
}

fn ids(values: &[Value]) -> Vec<&str> {
    values.iter().map(|v| v["id"].as_str().unwrap()).collect()
}

#[test]
fn a_filter_keeps_drops_and_replaces_before_the_handler() {
    let fx = Fixture::new();
    let s = service(&fx, "closed");
    s.publish("access", json!({"_id": "kept"})).unwrap();
    s.publish("access", json!({"_id": "dropped", "drop": true})).unwrap();
    // `err` dead-letters it in the probe, so the dead letter shows what the
    // handler received: the filter's replacement.
    s.publish("access", json!({"_id": "replaced", "secret": "hunter2", "action": "err"})).unwrap();
    // Other topics do not pass this filter.
    s.publish("authentication", json!({"_id": "other", "drop": true})).unwrap();
    s.flush();
    let summary = s.shutdown();
    assert_eq!(ids(&fx.output_json("p", "out.log")), ["kept", "other"]);
    let h = &summary.handlers[0];
    assert_eq!((h.received, h.delivered, h.filtered, h.dead_lettered), (4, 2, 1, 1), "{h:?}");
    let letter = fx.dead_letters("p").pop().unwrap();
    assert_eq!(letter.event.document["secret"], "***");
    assert_eq!(letter.event.id, "replaced", "a replacement keeps the event's id");
}

#[test]
fn a_faulting_filter_fails_closed_into_the_dead_letter_store() {
    let fx = Fixture::new();
    let s = service(&fx, "closed");
    for (id, extra) in [("a", json!({})), ("boom", json!({"filter_panic": true})), ("c", json!({}))] {
        let mut event = json!({"_id": id});
        event.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        s.publish("access", event).expect("a filter fault never reaches publish");
    }
    s.flush();
    drop(s);
    assert_eq!(ids(&fx.output_json("p", "out.log")), ["a", "c"]);
    let letter = fx.dead_letters("p").pop().unwrap();
    assert_eq!(letter.event.id, "boom");
    assert_eq!(serde_json::to_value(letter.fault.kind).unwrap(), "filter");
    assert!(letter.fault.message.contains("filter `f` faulted (panic)"), "{:?}", letter.fault);
}

#[test]
fn a_faulting_filter_fails_open_and_the_event_passes_unchanged() {
    let fx = Fixture::new();
    let s = service(&fx, "open");
    s.publish("access", json!({"_id": "boom", "filter_panic": true})).unwrap();
    s.publish("access", json!({"_id": "after"})).unwrap();
    s.flush();
    let summary = s.shutdown();
    assert_eq!(ids(&fx.output_json("p", "out.log")), ["boom", "after"]);
    assert_eq!(summary.handlers[0].dead_lettered, 0);
}
