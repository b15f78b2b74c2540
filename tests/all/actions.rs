//! Actions on one handler from the embedded API: `flush_handler` and
//! `rotate` (its file outputs start anew; the old file is kept).

use serde_json::json;
use wasp::{ActionError, AuditService};
use wasp_tests::{Fixture, healthy_probe, probe_handler};

#[test]
fn rotate_keeps_the_old_file_and_flush_handler_waits_for_one_handler() {
    let fx = Fixture::new();
    let service = AuditService::from_config_file(fx.config(&[probe_handler("p", json!({})), healthy_probe()])).unwrap();
    for n in 0..3 {
        service.publish("access", json!({"_id": format!("before{n}")})).unwrap();
    }
    service.flush_handler("p").unwrap();
    let archived = service.rotate("p").unwrap();
    assert_eq!(archived.len(), 1, "{archived:?}");
    assert!(archived[0].contains("out.log.2"), "{archived:?}");
    let old = std::fs::read_to_string(&archived[0]).unwrap();
    assert_eq!(old.lines().count(), 3);
    for n in 0..2 {
        service.publish("access", json!({"_id": format!("after{n}")})).unwrap();
    }
    service.flush_handler("p").unwrap();
    let ids: Vec<String> = fx.output_json("p", "out.log").iter().map(|v| v["id"].as_str().unwrap().to_owned()).collect();
    assert_eq!(ids, ["after0", "after1"]);
    let err = service.rotate("nope").unwrap_err();
    assert!(matches!(err, ActionError::UnknownHandler { .. }), "{err}");
    assert_eq!(err.to_string(), "no running handler `nope` (handlers: p, healthy)");
    service.shutdown();
}
