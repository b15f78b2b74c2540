//! Hot reload of a running service: a component swapped under continuous
//! load (every event handled once, by one version, old before new), a
//! broken version refused while the old one keeps running, handlers added,
//! rebuilt and removed without losing events, changes that need a restart
//! refused whole, and the file watcher.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use serde_json::{Value, json};
use wasp::{AuditService, Config, Watcher};
use wasp_tests::{Fixture, guests, wait_for};

const MARK_A: &[u8] = b"wasp-probe-build:A";

/// The probe component with its build marker turned into `letter`: the
/// same handler, another version (other bytes, other hash).
pub fn probe_build(letter: u8) -> Vec<u8> {
    let mut bytes = std::fs::read(guests::PROBE).unwrap();
    let at: Vec<usize> = bytes.windows(MARK_A.len()).enumerate().filter(|(_, w)| *w == MARK_A).map(|(i, _)| i).collect();
    assert_eq!(at.len(), 1, "the probe holds its build marker exactly once");
    bytes[at[0] + MARK_A.len() - 1] = letter;
    bytes
}

/// Replaces a file the way deployments do: write aside, then rename.
pub fn replace(path: &Path, bytes: &[u8]) {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

/// A probe handler named `name` running the component at `component`.
fn handler(name: &str, component: &Path, out: &str) -> Value {
    json!({
        "name": name,
        "topics": ["access"],
        "component": component,
        "outputs": {"out": {"type": "file", "path": out}},
        "batch": {"maxSize": 16, "maxWait": "2 ms"}
    })
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(bytes))
}

/// Publishes `{"action": "build"}` events `e0`, `e1`, … until stopped;
/// returns how many.
struct Load {
    stop: Arc<AtomicBool>,
    sent: Arc<AtomicU64>,
    thread: Option<std::thread::JoinHandle<u64>>,
}

impl Load {
    fn start(service: Arc<AuditService>) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let sent = Arc::new(AtomicU64::new(0));
        let (s, n) = (stop.clone(), sent.clone());
        let thread = std::thread::spawn(move || {
            let mut i = 0;
            while !s.load(Ordering::Relaxed) {
                service.publish("access", json!({"_id": format!("e{i}"), "action": "build"})).unwrap();
                i += 1;
                n.store(i, Ordering::Relaxed);
                if i % 64 == 0 {
                    std::thread::sleep(Duration::from_millis(1));
                }
            }
            i
        });
        Load { stop, sent, thread: Some(thread) }
    }

    fn wait_sent(&self, at_least: u64) {
        wait_for(&format!("{at_least} events published"), || self.sent.load(Ordering::Relaxed) >= at_least);
    }

    fn finish(mut self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.take().unwrap().join().unwrap()
    }
}

/// The `id`s and `build`s of the records in a probe output file.
fn records(fx: &Fixture, handler: &str, file: &str) -> Vec<(String, String)> {
    fx.output_json(handler, file)
        .into_iter()
        .map(|r| (r["id"].as_str().unwrap().to_owned(), r["build"].as_str().unwrap_or_default().to_owned()))
        .collect()
}

fn expected_ids(n: u64) -> Vec<String> {
    (0..n).map(|i| format!("e{i}")).collect()
}

fn setup(fx: &Fixture) -> PathBuf {
    let component = fx.path().join("probe.wasm");
    std::fs::write(&component, probe_build(b'A')).unwrap();
    component
}

#[test]
fn a_component_swapped_under_load_handles_every_event_once_old_version_then_new() {
    let fx = Fixture::new();
    let component = setup(&fx);
    let config_path = fx.config(&[handler("p", &component, "out.log")]);
    let service = Arc::new(AuditService::from_config_file(&config_path).unwrap());
    let load = Load::start(service.clone());
    load.wait_sent(1500);

    let v2 = probe_build(b'B');
    replace(&component, &v2);
    let report = service.reload(Config::from_file(&config_path).unwrap());
    assert!(report.ok(), "{report:?}");
    assert_eq!(report.swapped, ["p"], "{report:?}");
    assert!(report.restarted.is_empty() && report.added.is_empty() && report.removed.is_empty(), "{report:?}");

    let sent = load.sent.load(Ordering::Relaxed);
    load.wait_sent(sent + 1500);
    let total = load.finish();
    service.flush();

    let written = records(&fx, "p", "out.log");
    let ids: Vec<String> = written.iter().map(|(id, _)| id.clone()).collect();
    assert_eq!(ids, expected_ids(total), "every event exactly once, in order");
    let first_b = written.iter().position(|(_, b)| b == "wasp-probe-build:B").expect("the new version handled events");
    assert!(first_b > 0, "the old version handled the events before the swap");
    assert!(written[..first_b].iter().all(|(_, b)| b == "wasp-probe-build:A"));
    assert!(written[first_b..].iter().all(|(_, b)| b == "wasp-probe-build:B"), "no event went back to the old version");

    let summary = service.summary();
    let p = summary.handler("p").unwrap();
    assert_eq!(p.version, sha256_hex(&v2));
    assert_eq!((p.received, p.delivered, p.dead_lettered), (total, total, 0));
    assert_eq!(p.reload_error, None);
}

#[test]
fn a_version_that_cannot_compile_or_init_is_refused_and_the_old_one_keeps_running() {
    let fx = Fixture::new();
    let component = setup(&fx);
    let config_path = fx.config(&[handler("p", &component, "out.log")]);
    let service = AuditService::from_config_file(&config_path).unwrap();
    let v1 = sha256_hex(&std::fs::read(&component).unwrap());

    // Not a component at all.
    replace(&component, b"\0asm garbage");
    let report = service.reload(Config::from_file(&config_path).unwrap());
    assert_eq!(report.refused.len(), 1, "{report:?}");
    assert_eq!(report.refused[0].handler, "p");
    assert!(report.refused[0].reason.contains("probe.wasm"), "{report:?}");
    service.publish("access", json!({"_id": "after-garbage", "action": "build"})).unwrap();
    service.flush();
    assert_eq!(records(&fx, "p", "out.log"), [("after-garbage".into(), "wasp-probe-build:A".into())]);
    let p = service.summary().handler("p").unwrap().clone();
    assert_eq!(p.version, v1);
    assert!(p.reload_error.as_deref().unwrap_or_default().contains("probe.wasm"), "{p:?}");
    assert_eq!(service.last_reload().unwrap(), report);

    // A version whose `init` fails (new settings): refused before the old
    // one stops.
    replace(&component, &probe_build(b'A'));
    let mut failing = handler("p", &component, "out.log");
    failing["config"] = json!({"fail_init": true});
    let config_path = fx.config(&[failing]);
    let report = service.reload(Config::from_file(&config_path).unwrap());
    assert_eq!(report.refused.len(), 1, "{report:?}");
    assert!(report.refused[0].reason.contains("init refused: fail_init is set"), "{report:?}");
    service.publish("access", json!({"_id": "after-init-failure", "action": "build"})).unwrap();
    service.flush();
    assert_eq!(records(&fx, "p", "out.log").len(), 2, "the old version still runs");

    // Fixed: the next reload applies and clears the error.
    let config_path = fx.config(&[handler("p", &component, "out.log")]);
    replace(&component, &probe_build(b'B'));
    let report = service.reload(Config::from_file(&config_path).unwrap());
    assert!(report.ok() && report.swapped == ["p"], "{report:?}");
    assert_eq!(service.summary().handler("p").unwrap().reload_error, None);
    service.publish("access", json!({"_id": "fixed", "action": "build"})).unwrap();
    service.flush();
    assert_eq!(records(&fx, "p", "out.log").last().unwrap(), &("fixed".to_owned(), "wasp-probe-build:B".to_owned()));
}

#[test]
fn handlers_added_rebuilt_and_removed_under_load_lose_no_event() {
    let fx = Fixture::new();
    let component = setup(&fx);
    let config_path = fx.config(&[handler("a", &component, "out.log")]);
    let service = Arc::new(AuditService::from_config_file(&config_path).unwrap());
    let load = Load::start(service.clone());
    load.wait_sent(500);

    // Added: `b` sees events from (at the latest) the reload on.
    let config_path = fx.config(&[handler("a", &component, "out.log"), handler("b", &component, "b.log")]);
    let report = service.reload(Config::from_file(&config_path).unwrap());
    assert!(report.ok() && report.added == ["b"], "{report:?}");
    let published_before_b = load.sent.load(Ordering::Relaxed);
    load.wait_sent(published_before_b + 500);

    // Rebuilt: `a` writes to another file from now on.
    let config_path = fx.config(&[handler("a", &component, "next.log"), handler("b", &component, "b.log")]);
    let report = service.reload(Config::from_file(&config_path).unwrap());
    assert!(report.ok() && report.restarted == ["a"], "{report:?}");
    let sent = load.sent.load(Ordering::Relaxed);
    load.wait_sent(sent + 500);

    // Removed: `b` stops; the journal keeps nothing for it.
    let config_path = fx.config(&[handler("a", &component, "next.log")]);
    let report = service.reload(Config::from_file(&config_path).unwrap());
    assert!(report.ok() && report.removed == ["b"], "{report:?}");
    let sent = load.sent.load(Ordering::Relaxed);
    load.wait_sent(sent + 500);
    let total = load.finish();
    service.flush();

    let mut a: Vec<String> = records(&fx, "a", "out.log").into_iter().map(|(id, _)| id).collect();
    let before_rebuild = a.len();
    a.extend(records(&fx, "a", "next.log").into_iter().map(|(id, _)| id));
    assert!(before_rebuild > 0 && a.len() > before_rebuild, "both files have events");
    assert_eq!(a, expected_ids(total), "across the rebuild: every event once, in order");

    let b: Vec<u64> = records(&fx, "b", "b.log").iter().map(|(id, _)| id[1..].parse().unwrap()).collect();
    assert!(!b.is_empty());
    assert!(b.windows(2).all(|w| w[1] == w[0] + 1), "b saw a contiguous run of events");
    assert!(b[0] <= published_before_b, "b received every event from its reload on");

    let summary = service.summary();
    assert!(summary.handler("b").is_none());
    assert_eq!(summary.handler("a").unwrap().received, total, "the counters carry on across the rebuild");
    let backlog = service.backlog();
    assert!(backlog.handlers.iter().all(|h| h.name != "b"));
    assert_eq!(backlog.streams[0].events, 0, "nothing is held for the removed handler");
}

#[test]
fn a_change_that_needs_a_restart_is_refused_whole() {
    let fx = Fixture::new();
    let component = setup(&fx);
    fx.config(&[handler("a", &component, "out.log")]);
    let service = AuditService::from_config_file(fx.path().join("audit.json")).unwrap();
    let config_path = fx.config_doc(&json!({
        "eventHandlers": [{"class": "wasm", "config": handler("a", &component, "other.log")},
                          {"class": "wasm", "config": handler("b", &component, "b.log")}],
        "wasp": {"journal": {"durability": "memory", "maxEvents": 5}}
    }));
    let report = service.reload(Config::from_file(&config_path).unwrap());
    let error = report.error.clone().unwrap_or_default();
    assert!(error.contains("wasp.journal changed") && error.contains("needs a restart"), "{report:?}");
    assert!(!report.changed(), "nothing applied: {report:?}");
    assert_eq!(service.handler_names(), ["a"]);
}

#[test]
fn the_watcher_reloads_on_a_changed_component_and_reports_an_invalid_configuration() {
    let fx = Fixture::new();
    let component = setup(&fx);
    let config_path = fx.config(&[handler("p", &component, "out.log")]);
    let service = Arc::new(AuditService::from_config_file(&config_path).unwrap());
    let watcher = Watcher::start(service.clone(), config_path.clone(), Some(Duration::from_millis(50)), |_, _| {});

    let v2 = probe_build(b'B');
    replace(&component, &v2);
    // The reload's report is recorded after the swap shows in the summary:
    // wait for the report.
    wait_for("the watcher to swap the component", || service.last_reload().is_some_and(|r| r.swapped == ["p"]));
    assert_eq!(service.summary().handler("p").unwrap().version, sha256_hex(&v2));

    std::fs::write(&config_path, "{ not json").unwrap();
    wait_for("the watcher to report the invalid configuration", || {
        service.last_reload().and_then(|r| r.error).is_some_and(|e| e.contains("audit.json"))
    });
    // The running configuration stays.
    service.publish("access", json!({"_id": "still", "action": "build"})).unwrap();
    service.flush();
    assert_eq!(records(&fx, "p", "out.log"), [("still".to_owned(), "wasp-probe-build:B".to_owned())]);

    // SIGHUP's path: a trigger reloads even when nothing changed.
    fx.config(&[handler("p", &component, "out.log")]);
    watcher.trigger();
    wait_for("the triggered reload", || service.last_reload().is_some_and(|r| r.error.is_none()));
    watcher.stop();
}

#[test]
fn wasp_run_reloads_on_sighup_and_health_shows_a_refused_version() {
    const TOKEN: &str = "reload-token";
    let fx = Fixture::new();
    let component = setup(&fx);
    fx.config_doc(&json!({
        "eventHandlers": [{"class": "wasm", "config": handler("p", &component, "out.log")}],
        // Not watched: only SIGHUP reloads here.
        "wasp": {"sidecar": {"adminToken": wasp::sidecar::hash_token(TOKEN), "watchInterval": 0}}
    }));
    let run = wasp_tests::WaspRun::start(fx.path());
    let post = |id: &str| {
        let (status, body) = wasp_tests::http(
            &run.address,
            TOKEN,
            "POST",
            "/audit/access",
            "application/json",
            &json!({"_id": id, "action": "build"}).to_string(),
        );
        assert_eq!(status, 201, "{body}");
    };
    let health = || -> Value {
        let (status, body) = wasp_tests::http(&run.address, TOKEN, "GET", "/health", "application/json", "");
        assert_eq!(status, 200, "{body}");
        serde_json::from_str(&body).unwrap()
    };
    post("before");

    replace(&component, &probe_build(b'B'));
    run.signal("-HUP");
    wait_for("the SIGHUP reload", || health()["lastReload"]["swapped"] == json!(["p"]));
    post("after");

    replace(&component, b"not a component");
    run.signal("-HUP");
    wait_for("the refused reload in /health", || health()["handlers"][0]["reloadError"].is_string());
    let h = health();
    assert_eq!(h["status"], "ready", "the old version runs: {h}");
    assert_eq!(h["lastReload"]["refused"][0]["handler"], "p", "{h}");
    post("still");

    let (code, stderr) = run.terminate();
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stderr.contains("wasp run: reload: swapped p"), "{stderr}");
    assert!(stderr.contains("wasp run: reload: refused p:"), "{stderr}");
    let builds: Vec<(String, String)> = records(&fx, "p", "out.log");
    assert_eq!(
        builds,
        [("before", "wasp-probe-build:A"), ("after", "wasp-probe-build:B"), ("still", "wasp-probe-build:B")]
            .map(|(i, b)| (i.to_owned(), b.to_owned()))
    );
}
