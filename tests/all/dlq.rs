//! Dead letters on disk and `wasp dlq list|show|replay`: a broken handler's
//! events are kept with their fault, and replaying them with a fixed
//! component recovers every one.

use serde_json::{Value, json};
use wasp::AuditService;
use wasp_tests::{Fixture, guests, probe_handler, run_wasp};

/// A handler `h` whose component (`miscount`) faults on every event, with
/// the circuit breaker off so that every event is tried.
fn broken_handler() -> Value {
    let mut h = probe_handler("h", json!({"config": {"mode": "few"}, "circuitBreaker": {"failures": 0}}));
    h["component"] = json!(guests::MISCOUNT);
    h
}

fn wasp(fx: &Fixture, args: &[&str]) -> (Option<i32>, String, String) {
    let out = run_wasp(args, None, fx.path());
    (out.status.code(), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn replay_with_a_fixed_component_recovers_every_dead_letter() {
    let fx = Fixture::new();
    let config = fx.config(&[broken_handler()]);
    let service = AuditService::from_config_file(&config).unwrap();
    for n in 0..5 {
        service.publish("access", json!({"_id": format!("e{n}"), "userId": "bjensen"})).unwrap();
    }
    let summary = service.shutdown();
    assert_eq!(summary.handlers[0].dead_lettered, 5);
    let config = config.to_str().unwrap();

    // list: one line per dead letter, oldest first, with the fault kind.
    let (code, stdout, stderr) = wasp(&fx, &["dlq", "list", "--config", config]);
    assert_eq!(code, Some(0), "{stderr}");
    let lines: Vec<&str> = stdout.lines().skip(1).collect();
    assert_eq!(lines.len(), 5, "{stdout}");
    assert!(lines[0].contains(" h ") && lines[0].contains("trap") && lines[0].contains("e0 (access)"), "{stdout}");

    // show: the event as published and the structured fault.
    let id = lines[0].split_whitespace().next().unwrap();
    let (code, stdout, _) = wasp(&fx, &["dlq", "show", "--config", config, id]);
    assert_eq!(code, Some(0));
    let letter: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(letter["event"]["document"]["userId"], "bjensen");
    assert_eq!(letter["fault"]["kind"], "trap");
    assert_eq!(letter["fault"]["trapCode"], "wrong result count");
    assert_eq!(letter["attempts"], 1);

    // Replaying with the same broken component keeps them, one attempt more.
    let (code, stdout, _) = wasp(&fx, &["dlq", "replay", "--config", config, "--handler", "h", "--json"]);
    assert_eq!(code, Some(3), "still failing: {stdout}");
    let report: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!((report["attempted"].as_u64(), report["recovered"].as_u64(), report["stillFailing"].as_u64()), (Some(5), Some(0), Some(5)));
    assert!(fx.dead_letters("h").iter().all(|l| l.attempts == 2));

    // With the fixed component every one is delivered, in order, and removed.
    let (code, stdout, stderr) = wasp(&fx, &["dlq", "replay", "--config", config, "--handler", "h", "--component", guests::PROBE]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert!(stdout.contains("replayed 5 dead letter(s) of `h`") && stdout.contains("5 recovered, 0 still failing"), "{stdout}");
    let delivered: Vec<String> = fx.output_json("h", "out.log").iter().map(|v| v["id"].as_str().unwrap().to_owned()).collect();
    assert_eq!(delivered, ["e0", "e1", "e2", "e3", "e4"]);
    assert!(fx.dead_letters("h").is_empty());
    let (_, stdout, _) = wasp(&fx, &["dlq", "list", "--config", config]);
    assert_eq!(stdout.trim(), "no dead letters");
}

#[test]
fn replay_names_an_unknown_handler_and_show_an_unknown_id() {
    let fx = Fixture::new();
    let config = fx.config(&[broken_handler()]);
    let config = config.to_str().unwrap();
    let (code, _, stderr) = wasp(&fx, &["dlq", "replay", "--config", config, "--handler", "nope"]);
    assert_eq!(code, Some(1));
    assert!(stderr.contains("no handler `nope` in the configuration (handlers: h)"), "{stderr}");
    let (code, _, stderr) = wasp(&fx, &["dlq", "show", "--config", config, "0000-missing"]);
    assert_eq!(code, Some(1));
    assert!(stderr.contains("no dead letter with id `0000-missing`"), "{stderr}");
}

#[test]
fn pipe_json_reports_dead_letters_per_fault_kind() {
    let fx = Fixture::new();
    let config = fx.config(&[probe_handler("p", json!({}))]);
    let input = [
        r#"{"topic":"access","_id":"a","action":"panic"}"#,
        r#"{"topic":"access","_id":"b","action":"err"}"#,
        r#"{"topic":"access","_id":"c"}"#,
    ]
    .join("\n");
    let out = run_wasp(&["pipe", "--config", config.to_str().unwrap(), "--json"], Some(&input), fx.path());
    assert_eq!(out.status.code(), Some(3), "not everything was delivered");
    let summary: Value = serde_json::from_slice(&out.stdout).unwrap();
    let h = &summary["handlers"][0];
    assert_eq!((h["received"].as_u64(), h["delivered"].as_u64(), h["deadLettered"].as_u64()), (Some(3), Some(1), Some(2)));
    assert_eq!(h["faults"], json!({"panic": 1, "guest-error": 1}));
    assert_eq!(h["state"], "running");
    assert!(summary["deadLetters"].as_str().unwrap().ends_with("wasp-data/dead-letters"));
}
