//! The failed-login-detector sample through the runtime: alerts per user and
//! per client IP over the threshold, the window measured on event time, and
//! its state surviving instance recycling.

use serde_json::{Value, json};
use wasp::{AuditService, HandlerState};
use wasp_tests::{Fixture, guests};

/// The detector `name`, threshold 3 in 5 minutes, alerts to a file, one
/// event per call and a fresh instance every `recycle_after` events.
fn detector(name: &str, recycle_after: u64) -> Value {
    json!({
        "name": name,
        "topics": ["authentication", "access"],
        "component": guests::FAILED_LOGIN_DETECTOR,
        "outputs": {"alerts": {"type": "file", "path": "alerts.json"}},
        "config": {"threshold": 3, "window": "5 minutes"},
        "batch": {"maxSize": 1},
        "budgets": {"recycleAfter": recycle_after}
    })
}

fn login(id: &str, time: &str, user: &str, ip: &str, result: &str) -> Value {
    json!({"_id": id, "timestamp": format!("2026-11-22T{time}Z"), "transactionId": format!("tx-{id}"),
           "eventName": "AM-LOGIN-COMPLETED", "principal": [user], "result": result, "client": {"ip": ip}})
}

/// Events whose alerts are known: alice fails four times from two
/// addresses, then once more; bob fails three times, pauses past the
/// window, and fails three more times.
fn events() -> Vec<(&'static str, Value)> {
    let a = "198.51.100.7";
    let b = "203.0.113.9";
    let c = "192.0.2.33";
    vec![
        ("authentication", login("a1", "06:00:00", "alice", a, "FAILED")),
        ("authentication", login("a2", "06:01:00", "alice", a, "FAILED")),
        (
            "access",
            json!({"_id": "x1", "timestamp": "2026-11-22T06:01:30Z", "transactionId": "tx", "result": "FAILED", "userId": "alice", "client": {"ip": a}}),
        ),
        ("authentication", login("a3", "06:02:00", "alice", a, "FAILED")),
        ("authentication", login("ok", "06:02:30", "alice", a, "SUCCESSFUL")),
        // alice's fourth failure in 5 minutes (from another address): alert by user.
        ("authentication", login("a4", "06:03:00", "alice", b, "FAILED")),
        // The fourth from address a: alert by ip; alice already alerted in this window.
        ("authentication", login("a5", "06:04:00", "alice", a, "FAILED")),
        // bob: three failures, then three more after 07:02:30, when his
        // first ones have left the window: never more than three in it.
        ("authentication", login("b1", "07:00:00", "bob", c, "FAILED")),
        ("authentication", login("b2", "07:01:00", "bob", c, "FAILED")),
        ("authentication", login("b3", "07:02:00", "bob", c, "FAILED")),
        ("authentication", login("b4", "07:07:30", "bob", c, "FAILED")),
        ("authentication", login("b5", "07:08:00", "bob", c, "FAILED")),
        ("authentication", login("b6", "07:09:00", "bob", c, "FAILED")),
    ]
}

fn expected_alerts() -> Vec<Value> {
    vec![
        json!({"alert": "failed-logins", "by": "user", "key": "alice", "failures": 4, "threshold": 3, "window": "300000 ms",
               "firstFailure": "2026-11-22T06:00:00.000Z", "lastFailure": "2026-11-22T06:03:00.000Z",
               "eventId": "a4", "transactionId": "tx-a4", "user": "alice", "ip": "203.0.113.9"}),
        json!({"alert": "failed-logins", "by": "ip", "key": "198.51.100.7", "failures": 4, "threshold": 3, "window": "300000 ms",
               "firstFailure": "2026-11-22T06:00:00.000Z", "lastFailure": "2026-11-22T06:04:00.000Z",
               "eventId": "a5", "transactionId": "tx-a5", "user": "alice", "ip": "198.51.100.7"}),
    ]
}

#[test]
fn failed_login_detector_alerts_per_user_and_ip_and_its_state_survives_recycling() {
    let fx = Fixture::new();
    // The same detector twice: one instance for everything, and a fresh
    // instance every second event. Only state carries the counts across.
    let config = fx.config(&[detector("steady", 0), detector("recycled", 2)]);
    let service = AuditService::from_config_file(config).unwrap();
    for (topic, event) in events() {
        service.publish(topic, event).unwrap();
    }
    service.flush();

    let expected = expected_alerts();
    assert_eq!(fx.output_json("steady", "alerts.json"), expected);
    assert_eq!(fx.output_json("recycled", "alerts.json"), expected, "the counts survive recycling");
    // Alert lines keep the documented field order.
    assert!(fx.output_lines("steady", "alerts.json")[0].starts_with(r#"{"alert":"failed-logins","by":"user","key":"alice","failures":4"#));

    let summary = service.shutdown();
    for h in &summary.handlers {
        assert_eq!(h.state, HandlerState::Running);
        assert_eq!((h.received, h.delivered, h.dead_lettered), (13, 13, 0), "{h:?}");
    }
    let steady = summary.handlers.iter().find(|h| h.name == "steady").unwrap();
    let recycled = summary.handlers.iter().find(|h| h.name == "recycled").unwrap();
    assert_eq!((steady.instances, steady.recycled), (1, 0), "{steady:?}");
    assert_eq!(recycled.recycled, 6, "13 events, a fresh instance after every second one: {recycled:?}");
    assert_eq!(recycled.instances, 7, "{recycled:?}");
}

#[test]
fn failed_login_detector_bad_config_disables_it_with_the_reason() {
    let fx = Fixture::new();
    let mut handler = detector("picky", 0);
    handler["config"] = json!({"threshold": 0});
    let mut other = detector("window", 0);
    other["config"] = json!({"window": "soon"});
    let service = AuditService::from_config_file(fx.config(&[handler, other])).unwrap();
    let summary = service.shutdown();
    let reasons: Vec<&str> = summary.handlers.iter().map(|h| h.disabled_reason.as_deref().unwrap()).collect();
    assert!(reasons[0].contains("`threshold` must be at least 1"), "{reasons:?}");
    assert!(reasons[1].contains("`window`: `\"soon\"` is not a duration"), "{reasons:?}");
}
