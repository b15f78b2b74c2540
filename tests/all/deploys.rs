//! Versioned deploys (docs/deploys.md): a shadow that differs on 1 event
//! in 100 is reported on exactly those events and promoted at an exact
//! journal position; a canary that traps on a fifth of its events is
//! rolled back automatically with nothing lost; broken components are
//! refused with the live version untouched; versions survive a restart of
//! `wasp run` and can be rolled back after it; a hot reload is a version;
//! every change is a `config` event in the tamper-evident path.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use serde_json::{Value, json};
use wasp::deploy::{CanarySettings, DeployMode, DeployRequest, VersionState};
use wasp::{AuditService, Config};
use wasp_tests::{Fixture, WaspRun, guests, run_wasp, wait_for};

use super::reload::probe_build;

const TOKEN: &str = "deploy-admin-token";

/// A probe handler `p` (`plain` echo; `extra` merged into its config) and
/// a ForgeRock JSON handler `configlog` of the `config` topic.
fn setup(fx: &Fixture, extra: Value) -> std::path::PathBuf {
    let mut config = json!({"plain": true});
    for (k, v) in extra.as_object().unwrap() {
        config[k] = v.clone();
    }
    fx.config_doc(&json!({
        "eventHandlers": [
            {"class": "wasm", "config": {
                "name": "p", "topics": ["access"], "component": guests::PROBE,
                "outputs": {"out": {"type": "file", "path": "out.log"}},
                "batch": {"maxSize": 16, "maxWait": "2 ms"},
                "config": config}},
            {"class": "JsonAuditEventHandler",
             "config": {"name": "configlog", "logDirectory": "logs", "topics": ["config"], "buffering": {"writeInterval": "10 ms"}}}
        ],
        "wasp": {"sidecar": {"adminToken": wasp::sidecar::hash_token(TOKEN), "tokens": [
            {"hash": wasp::sidecar::hash_token("top-level-token")},
            {"hash": wasp::sidecar::hash_token("alice-admin-token"), "name": "alice", "admin": true}]}}
    }))
}

fn sha256_hex(bytes: &[u8]) -> String {
    wasp::deploy::sha256_hex(bytes)
}

/// `out.log` of `p`: (sequence, id, record) in file order.
fn written(fx: &Fixture) -> Vec<(u64, String, Value)> {
    fx.output_json("p", "out.log").into_iter().map(|r| (r["seq"].as_u64().unwrap(), r["id"].as_str().unwrap().to_owned(), r)).collect()
}

/// The `config` events the JSON handler wrote.
fn config_events(fx: &Fixture) -> Vec<Value> {
    fx.data_json("logs/config.audit.json")
}

#[test]
fn a_shadow_that_differs_on_one_event_in_a_hundred_is_reported_exactly_and_promoted_at_an_exact_position() {
    let fx = Fixture::new();
    let service = Arc::new(AuditService::new(Config::from_file(setup(&fx, json!({}))).unwrap()).unwrap());
    let mut sequence_of: BTreeMap<String, u64> = BTreeMap::new();
    let mut publish = |service: &AuditService, n: u64| {
        let receipt = service.publish("access", json!({"_id": format!("e{n}")})).unwrap();
        sequence_of.insert(receipt.id, receipt.sequence);
    };
    for n in 0..40 {
        publish(&service, n);
    }
    service.flush();
    let v2 = probe_build(b'B');
    let shadow = service
        .deploy(DeployRequest {
            handler: "p".into(),
            component: v2.clone(),
            config: Some(json!({"plain": true, "differ_every": 100})),
            mode: DeployMode::Shadow,
            by: "test".into(),
        })
        .unwrap();
    assert_eq!((shadow.version, shadow.state, shadow.position), (2, VersionState::Shadow, Some(40)));
    for n in 40..540 {
        publish(&service, n);
    }
    service.flush();

    // The report names exactly the events at sequences 100, 200, … 500.
    let report = service.candidate_report("p").unwrap().expect("a shadow report");
    assert_eq!((report.since, report.compared, report.differing, report.identical), (40, 500, 5, 495), "{report:#?}");
    let differing: BTreeSet<String> = report.diffs.iter().map(|d| d.event_id.clone()).collect();
    let expected: BTreeSet<String> = sequence_of.iter().filter(|(_, s)| **s > 40 && **s % 100 == 0).map(|(id, _)| id.clone()).collect();
    assert_eq!(differing, expected);
    assert!(report.diffs.iter().all(|d| d.shadow.contains("\"differs\":true") && !d.live.contains("differs")), "{:#?}", report.diffs);
    assert_eq!((report.live.faults, report.candidate.faults), (0, 0));
    assert!(report.live.fuel > 0 && report.candidate.fuel > 0);
    // The shadow wrote only to its own directory: 500 records there, none
    // marked in the real output.
    let shadow_dir = Path::new(report.shadow_directory.as_deref().unwrap());
    assert_eq!(std::fs::read_to_string(shadow_dir.join("out")).unwrap().lines().count(), 500);
    assert!(written(&fx).iter().all(|(_, _, r)| r.get("differs").is_none()), "the shadow never writes to the outputs");

    // Promote while events keep arriving: every event is handled by exactly
    // one version, the old one up to the position, the new one after it.
    let stop = Arc::new(AtomicBool::new(false));
    let load = {
        let (service, stop) = (service.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut ids = Vec::new();
            let mut n = 540;
            // At least 1000 events, and 300 more after the promotion.
            let mut until = None;
            loop {
                if until.is_none() && stop.load(Ordering::Relaxed) {
                    until = Some((n + 300).max(1540));
                }
                if until.is_some_and(|u| n >= u) {
                    break;
                }
                let receipt = service.publish("access", json!({"_id": format!("e{n}")})).unwrap();
                ids.push((receipt.id, receipt.sequence));
                n += 1;
            }
            ids
        })
    };
    wait_for("events under load", || service.backlog().streams[0].head > 700);
    let live = service.promote("p", "test").unwrap();
    stop.store(true, Ordering::Relaxed);
    sequence_of.extend(load.join().unwrap());
    service.flush();
    let position = live.position.unwrap();
    assert_eq!((live.version, live.state), (2, VersionState::Live));
    // 540 events and the deploy's `config` event were handled before the
    // load started; where the switch lands depends on the timing, what
    // matters is that it is exact (below).
    assert!(position >= 541, "promoted after what was flushed, at {position}");

    let records = written(&fx);
    let ids: Vec<&String> = records.iter().map(|(_, id, _)| id).collect();
    assert_eq!(ids.len(), sequence_of.len(), "every event written once");
    assert_eq!(ids.iter().copied().cloned().collect::<BTreeSet<_>>(), sequence_of.keys().cloned().collect::<BTreeSet<_>>());
    for (seq, id, record) in &records {
        assert_eq!(sequence_of[id], *seq);
        let marked = record.get("differs").is_some();
        // Only version 2 marks, and it marks every 100th sequence.
        assert_eq!(marked, *seq > position && seq % 100 == 0, "event {id} at {seq} (switch after {position})");
    }
    assert!(records.iter().any(|(s, _, _)| *s > position && s % 100 == 0), "the new version handled a marked sequence");
    assert_eq!(service.summary().handler("p").unwrap().version, sha256_hex(&v2));

    // The history and the `config` events say the same.
    let history = service.versions("p").unwrap();
    let states: Vec<(u64, VersionState)> = history.iter().map(|v| (v.version, v.state)).collect();
    assert_eq!(states, [(1, VersionState::Retired), (2, VersionState::Live)]);
    assert_eq!(history[1].position, Some(position));
    assert_eq!(history[1].deployed_by, "test");
    let summary = Arc::into_inner(service).expect("the load thread is done").shutdown();
    assert_eq!(summary.handler("p").unwrap().dead_lettered, 0);
    let events = config_events(&fx);
    let operations: Vec<&str> = events.iter().map(|e| e["operation"].as_str().unwrap()).collect();
    assert_eq!(operations, ["shadow", "promote"]);
    assert_eq!(events[1]["after"]["position"], json!(position));
    assert_eq!(events[1]["after"]["component"], json!(sha256_hex(&v2)));
    assert_eq!(events[1]["objectId"], "wasp/handlers/p");
}

#[test]
fn a_canary_that_traps_on_a_fifth_of_its_events_is_rolled_back_automatically_and_nothing_is_lost() {
    let fx = Fixture::new();
    let service = AuditService::new(Config::from_file(setup(&fx, json!({}))).unwrap()).unwrap();
    let v2 = probe_build(b'C');
    let settings = CanarySettings { percent: 50, ..CanarySettings::default() };
    let canary = service
        .deploy(DeployRequest {
            handler: "p".into(),
            component: v2.clone(),
            config: Some(json!({"plain": true, "trap_every": 5})),
            mode: DeployMode::Canary(settings.clone()),
            by: "test".into(),
        })
        .unwrap();
    assert_eq!((canary.version, canary.state), (2, VersionState::Canary));
    let mut published = BTreeMap::new();
    for n in 0..400 {
        let receipt = service.publish("access", json!({"_id": format!("c{n}")})).unwrap();
        published.insert(receipt.id, receipt.sequence);
    }
    service.flush();

    let history = service.versions("p").unwrap();
    let rolled_back = &history[1];
    assert_eq!(rolled_back.state, VersionState::RolledBack, "{history:#?}");
    let note = rolled_back.note.as_deref().unwrap();
    assert!(note.contains("rolled back automatically: fault rate"), "{note}");
    let position = rolled_back.position.unwrap();
    assert!(position < 200, "rolled back early (after {position})");
    assert_eq!(history[0].state, VersionState::Live);

    // Nothing lost: each event delivered or dead-lettered, once.
    let delivered: Vec<String> = written(&fx).into_iter().map(|(_, id, _)| id).collect();
    let letters = fx.dead_letters("p");
    let mut seen: Vec<String> = delivered.clone();
    seen.extend(letters.iter().map(|l| l.event.id.clone()));
    seen.sort();
    let mut all: Vec<String> = published.keys().cloned().collect();
    all.sort();
    assert_eq!(seen, all, "every event exactly once, delivered or dead-lettered");
    // The dead letters are exactly the canary's events at sequences that
    // are multiples of 5, up to the rollback, with the canary's version.
    let probe =
        |id: &str| wasp::event::HostEvent::from_document("access", json!({"_id": id}).as_object().unwrap().clone(), 1 << 20).unwrap();
    let expected: BTreeSet<String> = published
        .iter()
        .filter(|(id, s)| **s <= position && **s % 5 == 0 && settings.routes(&probe(id)))
        .map(|(id, _)| id.clone())
        .collect();
    let lettered: BTreeSet<String> = letters.iter().map(|l| l.event.id.clone()).collect();
    assert_eq!(lettered, expected);
    assert!(!expected.is_empty());
    for letter in &letters {
        assert_eq!(letter.version, sha256_hex(&v2), "dead-lettered with the version that faulted");
    }
    let report = service.candidate_report("p").unwrap().unwrap();
    assert_eq!(report.state, "rolled-back");
    assert!(report.candidate.faults > 0 && report.live.faults == 0, "{report:#?}");
    let summary = service.shutdown();
    assert_eq!(summary.handler("p").unwrap().lost, 0);
    let operations: Vec<String> = config_events(&fx).iter().map(|e| e["operation"].as_str().unwrap().to_owned()).collect();
    assert_eq!(operations, ["canary", "auto-rollback"]);
}

#[test]
fn broken_components_are_refused_and_the_live_version_is_untouched() {
    let fx = Fixture::new();
    let config = setup(&fx, json!({}));
    let junk = fx.path().join("junk.wasm");
    std::fs::write(&junk, b"\0asm this is not a component").unwrap();
    let cases: [(&str, &[&str], &str); 4] = [
        ("not a component", &[junk.to_str().unwrap()], "the component is not a usable WebAssembly component"),
        ("the filter world", &[guests::KEEP_ALL_FILTER], "not a handler component (it implements wasp:handler/packed-filter"),
        ("no WASP world", &[guests::NOT_A_HANDLER], "not a handler component"),
        (
            "init fails",
            &[guests::PROBE, "--handler-config", r#"{"fail_init": true}"#],
            "init returned an error: init refused: fail_init is set",
        ),
    ];
    for (what, args, why) in cases {
        let mut argv = vec!["deploy", "p"];
        argv.extend_from_slice(args);
        argv.extend(["--config", config.to_str().unwrap()]);
        let out = run_wasp(&argv, None, fx.path());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{what}: {stderr}");
        assert!(
            stderr.contains("deploying ")
                && stderr.contains("handler `p`: version refused, the live version is untouched")
                && stderr.contains(why),
            "{what}: {stderr}"
        );
    }
    let out = run_wasp(&["versions", "p", "--config", config.to_str().unwrap(), "--json"], None, fx.path());
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let history: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(history.len(), 1, "only the configured version: {history:?}");
    assert_eq!(
        (history[0]["state"].as_str(), history[0]["component"].as_str()),
        (Some("live"), Some(sha256_hex(&std::fs::read(guests::PROBE).unwrap()).as_str()))
    );

    // On a running service: refused, and the live version keeps handling.
    let service = AuditService::new(Config::from_file(&config).unwrap()).unwrap();
    let before = service.summary().handler("p").unwrap().version.clone();
    let refused = service
        .deploy(DeployRequest {
            handler: "p".into(),
            component: probe_build(b'D'),
            config: Some(json!({"trap_init": true})),
            mode: DeployMode::Live,
            by: "test".into(),
        })
        .unwrap_err();
    assert!(refused.to_string().contains("a scratch instance failed to start (init)"), "{refused}");
    let refused = service
        .deploy(DeployRequest {
            handler: "nope".into(),
            component: probe_build(b'D'),
            config: None,
            mode: DeployMode::Shadow,
            by: "test".into(),
        })
        .unwrap_err();
    assert!(refused.to_string().contains("no WASM handler `nope` (handlers: p)"), "{refused}");
    service.publish("access", json!({"_id": "after"})).unwrap();
    service.flush();
    assert_eq!(service.summary().handler("p").unwrap().version, before);
    assert_eq!(service.versions("p").unwrap().len(), 1);
    assert_eq!(written(&fx).last().unwrap().1, "after");
    service.shutdown();
    assert!(config_events(&fx).is_empty(), "nothing changed, nothing announced");
}

/// `wasp <args> --url <run> --token TOKEN`, successful; stdout.
fn wasp_ok(fx: &Fixture, run: &WaspRun, args: &[&str]) -> String {
    wasp_ok_as(fx, run, TOKEN, args)
}

/// [`wasp_ok`] with another token.
fn wasp_ok_as(fx: &Fixture, run: &WaspRun, token: &str, args: &[&str]) -> String {
    let mut argv = args.to_vec();
    argv.extend(["--url", &run.url, "--token", token]);
    let out = run_wasp(&argv, None, fx.path());
    assert!(out.status.success(), "wasp {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// Posts `{"_id": id, "action": "build"}` and waits for its record; returns
/// the build marker of the version that handled it.
fn build_of(fx: &Fixture, run: &WaspRun, id: &str) -> String {
    let (status, body) = wasp_tests::http(
        &run.address,
        TOKEN,
        "POST",
        "/audit/access",
        "application/json",
        &json!({"_id": id, "action": "build"}).to_string(),
    );
    assert_eq!(status, 201, "{body}");
    let mut build = None;
    wait_for(&format!("the record of {id}"), || {
        build = fx.output_json("p", "out.log").iter().find(|r| r["id"] == id).map(|r| r["build"].as_str().unwrap().to_owned());
        build.is_some()
    });
    build.unwrap()
}

#[test]
fn versions_survive_a_restart_of_wasp_run_and_roll_back_after_it() {
    let fx = Fixture::new();
    setup(&fx, json!({}));
    let b = fx.path().join("probe-b.wasm");
    std::fs::write(&b, probe_build(b'B')).unwrap();

    let run = WaspRun::start(fx.path());
    assert_eq!(build_of(&fx, &run, "one"), "wasp-probe-build:A");
    // Only the admin token may deploy.
    let (status, body) = wasp_tests::http(&run.address, "not-the-token", "GET", "/admin/versions?handler=p", "application/json", "");
    assert_eq!(status, 401, "{body}");
    let (status, body) = wasp_tests::http(&run.address, "top-level-token", "POST", "/admin/deploy?handler=p", "application/wasm", "");
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("a top-level token may not deploy handler versions: it needs the admin token"), "{body}");
    let deployed = wasp_ok(&fx, &run, &["deploy", "p", b.to_str().unwrap()]);
    assert!(deployed.starts_with("p: deployed: version 2 (live) of component"), "{deployed}");
    assert_eq!(build_of(&fx, &run, "two"), "wasp-probe-build:B");
    // A shadow runs only in its process: the restart withdraws it.
    let c = fx.path().join("probe-c.wasm");
    std::fs::write(&c, probe_build(b'C')).unwrap();
    let shadow = wasp_ok(&fx, &run, &["deploy", "p", c.to_str().unwrap(), "--shadow"]);
    assert!(shadow.starts_with("p: deployed: version 3 (shadow)"), "{shadow}");
    let (code, stderr) = run.terminate();
    assert_eq!(code, Some(0), "{stderr}");

    // A new process runs version 2, lists both, and rolls back to 1.
    let run = WaspRun::start(fx.path());
    assert_eq!(build_of(&fx, &run, "three"), "wasp-probe-build:B");
    let listed = wasp_ok(&fx, &run, &["versions", "p"]);
    assert!(listed.starts_with("p: 3 version(s)"), "{listed}");
    let lines: Vec<&str> = listed.lines().collect();
    assert!(lines[2].contains(" 1  retired") && lines[2].contains("configuration file"), "{listed}");
    assert!(lines[3].contains(" 2  live") && lines[3].contains("token `adminToken`"), "{listed}");
    assert!(lines[4].contains(" 3  rolled-back") && lines[4].contains("withdrawn: the handler restarted"), "{listed}");
    // A named admin token: the history says who.
    let rolled = wasp_ok_as(&fx, &run, "alice-admin-token", &["rollback", "p"]);
    assert!(rolled.starts_with("p: rolled back: version 1 (live)"), "{rolled}");
    assert_eq!(build_of(&fx, &run, "four"), "wasp-probe-build:A");
    let (code, stderr) = run.terminate();
    assert_eq!(code, Some(0), "{stderr}");

    let out = run_wasp(&["versions", "p", "--config", "audit.json", "--json"], None, fx.path());
    let history: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    let states: Vec<&str> = history.iter().map(|v| v["state"].as_str().unwrap()).collect();
    assert_eq!(states, ["live", "retired", "rolled-back"]);
    let operations: Vec<String> =
        config_events(&fx).iter().map(|e| format!("{} {}", e["operation"].as_str().unwrap(), e["runAs"].as_str().unwrap())).collect();
    assert_eq!(operations, ["deploy token `adminToken`", "shadow token `adminToken`", "rollback token `alice`"]);
}

#[test]
fn a_hot_reload_of_the_component_file_is_a_version_and_a_deploy_survives_reloads() {
    let fx = Fixture::new();
    let config_path = setup(&fx, json!({}));
    let component = fx.path().join("p.wasm");
    std::fs::write(&component, std::fs::read(guests::PROBE).unwrap()).unwrap();
    let mut doc: Value = serde_json::from_str(&std::fs::read_to_string(&config_path).unwrap()).unwrap();
    doc["eventHandlers"][0]["config"]["component"] = json!(component);
    std::fs::write(&config_path, doc.to_string()).unwrap();
    let service = AuditService::new(Config::from_file(&config_path).unwrap()).unwrap();
    super::reload::replace(&component, &probe_build(b'B'));
    let report = service.reload(Config::from_file(&config_path).unwrap());
    assert_eq!(report.swapped, ["p"]);
    let history = service.versions("p").unwrap();
    assert_eq!(history.len(), 2);
    assert_eq!((history[1].state, history[1].deployed_by.as_str(), history[1].source.as_str()), (VersionState::Live, "file watch", "file"));
    // A version deployed since is not undone by a reload of an unchanged file.
    service
        .deploy(DeployRequest {
            handler: "p".into(),
            component: probe_build(b'E'),
            config: None,
            mode: DeployMode::Live,
            by: "test".into(),
        })
        .unwrap();
    let report = service.reload(Config::from_file(&config_path).unwrap());
    assert!(report.swapped.is_empty(), "{report:?}");
    assert_eq!(service.summary().handler("p").unwrap().version, sha256_hex(&probe_build(b'E')));
    service.shutdown();
    let operations: Vec<String> = config_events(&fx).iter().map(|e| e["operation"].as_str().unwrap().to_owned()).collect();
    assert_eq!(operations, ["deploy", "deploy"]);
}

#[test]
fn a_shadow_through_the_cli_shows_in_its_report_and_in_metrics_and_is_promoted() {
    let fx = Fixture::new();
    setup(&fx, json!({}));
    let b = fx.path().join("probe-b.wasm");
    std::fs::write(&b, probe_build(b'B')).unwrap();
    let run = WaspRun::start(fx.path());
    let post = |ids: std::ops::Range<u32>| {
        let batch: Vec<String> = ids.map(|n| json!({"_id": format!("s{n}")}).to_string()).collect();
        let (status, body) = wasp_tests::http(&run.address, TOKEN, "POST", "/audit/access", "application/x-ndjson", &batch.join("\n"));
        assert_eq!(status, 200, "{body}");
    };
    post(0..20);
    wait_for("the first events", || fx.output_json("p", "out.log").len() == 20);
    let deployed =
        wasp_ok(&fx, &run, &["deploy", "p", b.to_str().unwrap(), "--shadow", "--handler-config", r#"{"plain": true, "differ_every": 10}"#]);
    assert!(deployed.starts_with("p: deployed: version 2 (shadow)"), "{deployed}");
    post(20..60);
    let mut report = Value::Null;
    wait_for("the shadow to see 40 events", || {
        report = serde_json::from_str(&wasp_ok(&fx, &run, &["shadow", "report", "p", "--json"])).unwrap();
        report["compared"] == 40
    });
    // Sequences 22..=61 (the `config` event of the deploy took 21): the
    // multiples of 10 differ.
    assert_eq!((report["differing"].as_u64(), report["identical"].as_u64()), (Some(4), Some(36)), "{report:#}");
    let text = wasp_ok(&fx, &run, &["shadow", "report", "p"]);
    assert!(text.contains("compared 40 events: 36 identical, 4 differing"), "{text}");
    let (status, metrics) = wasp_tests::http(&run.address, TOKEN, "GET", "/metrics", "text/plain", "");
    assert_eq!(status, 200);
    assert!(metrics.contains(r#"wasp_shadow_differing_total{handler="p",mode="shadow",version="2"} 4"#), "{metrics}");
    let promoted = wasp_ok(&fx, &run, &["promote", "p"]);
    assert!(promoted.starts_with("p: promoted: version 2 (live) of component"), "{promoted}");
    post(60..70);
    wait_for("the events after the promotion", || fx.output_json("p", "out.log").len() == 70);
    let marked: Vec<u64> =
        fx.output_json("p", "out.log").iter().filter(|r| r.get("differs").is_some()).map(|r| r["seq"].as_u64().unwrap()).collect();
    assert_eq!(marked, [70], "only the promoted version marks, after the switch");
    let (code, stderr) = run.terminate();
    assert_eq!(code, Some(0), "{stderr}");
}
