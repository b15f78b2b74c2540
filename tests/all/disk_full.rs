//! A disk that fills under a file output: the events wait in the journal
//! (nothing dead-lettered — the dead-letter store would be on a full disk
//! too — nothing lost), the handler shows the cause (`outputError`, so
//! `/health` answers degraded), and once space returns every event is
//! written once, with the tamper-evident chain intact.
//!
//! The small disk is a real filesystem: a 64 KiB tmpfs mounted for the
//! test (needs root, as CI runs; elsewhere the test says so and skips).

use serde_json::json;
use wasp::AuditService;
use wasp_tests::{Fixture, SmallDisk, run_wasp, wait_for};

#[test]
fn a_full_disk_under_a_file_output_holds_events_until_space_returns() {
    let fx = Fixture::new();
    let Some(disk) = SmallDisk::mount(&fx.path().join("small"), "64k") else { return };
    std::fs::create_dir_all(fx.path().join("keys")).unwrap();
    let out = run_wasp(&["keygen", "--out", "keys/audit.key"], None, fx.path());
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let config = fx.config_doc(&json!({"eventHandlers": [{
        "class": "org.forgerock.audit.handlers.json.JsonAuditEventHandler",
        "config": {"name": "full", "logDirectory": fx.path().join("small/logs"), "topics": ["access"],
                   "buffering": {"writeInterval": "5 ms"},
                   "security": {"enabled": true, "filename": "keys/audit.key", "signatureInterval": "1 second"}}
    }]}));
    let audit = AuditService::from_config_file(&config).unwrap();
    const EVENTS: usize = 600;
    for n in 0..EVENTS {
        let padding = "x".repeat(200);
        audit.publish("access", json!({"_id": format!("full-{n}"), "userId": "bjensen", "note": padding})).unwrap();
    }
    wait_for("the full disk to show", || audit.summary().handlers[0].output_error.as_deref().is_some_and(|e| e.contains("No space left")));
    let h = audit.summary().handlers[0].clone();
    assert_eq!((h.dead_lettered, h.lost), (0, 0), "waiting, not failing: {h:?}");
    assert!(h.delivered < EVENTS as u64, "{h:?}");
    assert!(h.retries >= 1, "{h:?}");

    disk.grow("8m");
    audit.flush();
    let h = audit.shutdown().handlers[0].clone();
    assert_eq!((h.delivered, h.dead_lettered, h.lost), (EVENTS as u64, 0, 0), "{h:?}");
    assert!(h.output_error.is_none(), "{h:?}");

    // Each event once, every line whole, and the chain verifies.
    let text = std::fs::read_to_string(fx.path().join("small/logs/access.audit.json")).unwrap();
    let mut ids = Vec::new();
    for line in text.lines() {
        let record: serde_json::Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("a torn line {line:?}: {e}"));
        if let Some(id) = record["_id"].as_str() {
            ids.push(id.to_owned());
        }
    }
    let unique: std::collections::BTreeSet<&String> = ids.iter().collect();
    assert_eq!((ids.len(), unique.len()), (EVENTS, EVENTS), "each event exactly once");
    let out = run_wasp(
        &["verify", fx.path().join("small/logs").to_str().unwrap(), "--topic", "access", "--key", "keys/audit.key"],
        None,
        fx.path(),
    );
    assert!(out.status.success(), "{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    wasp_tests::figure(&format!(
        "disk full under a JSON output: {EVENTS} events, {} retries while full, 0 dead-lettered, 0 lost, chain verified",
        h.retries
    ));
}
