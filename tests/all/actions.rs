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
    assert!(archived[0].contains("out.log-2"), "{archived:?}");
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

#[test]
fn wasp_rotate_and_wasp_flush_from_the_command_line() {
    let fx = Fixture::new();
    let config = fx.config(&[probe_handler("p", json!({}))]);
    let config = config.to_str().unwrap();
    let input = "{\"topic\":\"access\",\"_id\":\"a\"}\n{\"topic\":\"access\",\"_id\":\"b\"}\n";
    let out = wasp_tests::run_wasp(&["pipe", "--config", config], Some(input), fx.path());
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = wasp_tests::run_wasp(&["rotate", "--config", config, "--handler", "p"], None, fx.path());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let archived = stdout.trim().strip_prefix("rotated: ").expect("one archive").to_owned();
    assert_eq!(std::fs::read_to_string(&archived).unwrap().lines().count(), 2);
    assert_eq!(std::fs::read_to_string(fx.path().join("wasp-data/p/out.log")).unwrap(), "", "a new, empty file");
    let out = wasp_tests::run_wasp(&["flush", "--config", config, "--handler", "p"], None, fx.path());
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "p: 0 delivered, 0 dead-lettered");
    let out = wasp_tests::run_wasp(&["rotate", "--config", config, "--handler", "nope"], None, fx.path());
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no running handler `nope`"));
}
