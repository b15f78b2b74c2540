//! Fleet mode (`wasp run --role edge|worker`) against nats-server
//! processes of the tests' own (a free port, a store directory of their
//! own, started and stopped by the test; the machine's NATS on 4222 is not
//! touched): events published through an edge are delivered by every
//! handler on the workers; a worker killed with SIGKILL mid-way and
//! restarted: every accepted event delivered, duplicates counted; NATS
//! unreachable when the edge starts: the edge accepts (its journal keeps
//! the events) and forwards once NATS is there; an `fsync` edge answers
//! after the PubAck; `wasp config check` against the stream; a 3-node
//! cluster losing a node; tenants; a WebAssembly handler on a worker;
//! throughput with 1 and 2 workers.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use wasp_tests::{Fixture, figure, in_ci, wait_for};

const NATS_SERVER: &str = "/usr/sbin/nats-server";
const TOKEN: &str = "fleet-admin-token";

/// A nats-server with JetStream on a free port; killed when dropped.
struct Nats {
    child: Child,
    port: u16,
    _store: tempfile::TempDir,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

impl Nats {
    /// `None` (the test is skipped) when nats-server is not installed,
    /// outside CI; under `CI=true` that fails the test.
    fn available() -> bool {
        if Path::new(NATS_SERVER).exists() {
            return true;
        }
        assert!(!in_ci(), "{NATS_SERVER} is not installed (CI must run the fleet tests)");
        eprintln!("skipped: {NATS_SERVER} is not installed");
        false
    }

    fn start(port: u16) -> Nats {
        let store = tempfile::tempdir().unwrap();
        let child = Command::new(NATS_SERVER)
            .args(["-js", "-a", "127.0.0.1", "-p", &port.to_string(), "-sd"])
            .arg(store.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        wait_for("nats-server listening", || std::net::TcpStream::connect(("127.0.0.1", port)).is_ok());
        Nats { child, port, _store: store }
    }

    /// A node of a 3-node JetStream cluster `wasp` on loopback.
    fn node(index: usize, ports: &[(u16, u16)]) -> Nats {
        Nats::node_in(index, ports, tempfile::tempdir().unwrap())
    }

    /// `kill -9` of this node, then the same node again on its ports and
    /// store (it catches up with the cluster).
    fn kill9_and_restart(&mut self, index: usize, ports: &[(u16, u16)]) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let store = std::mem::replace(&mut self._store, tempfile::tempdir().unwrap());
        let restarted = Nats::node_in(index, ports, store);
        // The old one (its process already gone, its store moved) is dropped.
        drop(std::mem::replace(self, restarted));
    }

    fn node_in(index: usize, ports: &[(u16, u16)], store: tempfile::TempDir) -> Nats {
        let (port, cluster) = ports[index];
        let routes: Vec<String> =
            ports.iter().enumerate().filter(|(i, _)| *i != index).map(|(_, (_, c))| format!("nats://127.0.0.1:{c}")).collect();
        let child = Command::new(NATS_SERVER)
            .args(["-js", "-a", "127.0.0.1", "-p", &port.to_string(), "-n", &format!("n{index}"), "--cluster_name", "wasp"])
            .args(["--cluster", &format!("nats://127.0.0.1:{cluster}"), "--routes", &routes.join(",")])
            .arg("-sd")
            .arg(store.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        wait_for("nats-server listening", || std::net::TcpStream::connect(("127.0.0.1", port)).is_ok());
        Nats { child, port, _store: store }
    }

    fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }
}

impl Drop for Nats {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A fleet configuration: `role`, the server, JSON file handlers `names`
/// on `access` (each writes `wasp-data/<name>/access.audit.json` under the process's
/// directory).
fn fleet_doc(role: &str, url: &str, names: &[&str]) -> Value {
    let handlers: Vec<Value> = names
        .iter()
        .map(|n| json!({"class": "JsonAuditEventHandler", "config": {"name": n, "topics": ["access"], "logDirectory": n}}))
        .collect();
    json!({
        "eventHandlers": handlers,
        "wasp": {
            "sidecar": {"adminToken": wasp::sidecar::hash_token(TOKEN)},
            "fleet": {"role": role, "servers": [url], "ackWait": 2, "duplicateWindow": 600}
        }
    })
}

/// A worker process (`wasp run --role worker`) in its own directory.
struct Worker {
    child: Child,
    dir: PathBuf,
}

impl Worker {
    fn start(dir: &Path) -> Worker {
        let log = std::fs::File::create(dir.join("worker.log")).unwrap();
        let child = Command::new(wasp_tests::wasp_bin())
            .args(["run", "--config", "audit.json", "--role", "worker"])
            .current_dir(dir)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        Worker { child, dir: dir.to_owned() }
    }

    fn kill9(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM and wait; its stderr.
    fn terminate(mut self) -> String {
        let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        let deadline = Instant::now() + Duration::from_secs(60);
        while self.child.try_wait().unwrap().is_none() {
            assert!(Instant::now() < deadline, "the worker did not stop after SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        }
        std::fs::read_to_string(self.dir.join("worker.log")).unwrap_or_default()
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `_id`s written by handler `name` in these worker directories, with how
/// many times each was written.
fn delivered(dirs: &[&Path], name: &str) -> BTreeMap<String, u32> {
    let roots: Vec<PathBuf> = dirs.iter().map(|d| d.join("wasp-data")).collect();
    delivered_under(&roots, name)
}

/// `_id`s in `<root>/<name>/access.audit.json` of each root.
fn delivered_under(roots: &[PathBuf], name: &str) -> BTreeMap<String, u32> {
    let mut ids = BTreeMap::new();
    for root in roots {
        let text = std::fs::read_to_string(root.join(name).join("access.audit.json")).unwrap_or_default();
        for line in text.lines() {
            if let Some(id) = serde_json::from_str::<Value>(line).ok().and_then(|v| v["_id"].as_str().map(str::to_owned)) {
                *ids.entry(id).or_insert(0) += 1;
            }
        }
    }
    ids
}

/// Publishes events `from..to` through the edge as NDJSON batches of 100.
fn publish(edge: &wasp_tests::WaspRun, prefix: &str, from: usize, to: usize) {
    for start in (from..to).step_by(100) {
        let body: String =
            (start..(start + 100).min(to)).map(|i| format!("{}\n", json!({"_id": format!("{prefix}-{i}"), "n": i}))).collect();
        let (status, text) = wasp_tests::http(&edge.address, TOKEN, "POST", "/audit/access", "application/x-ndjson", &body);
        assert!((200..300).contains(&status), "{status} {text}");
    }
}

/// [`fleet_doc`] with the test probe beside the JSON handlers, as
/// WebAssembly handler `probe`.
fn fleet_doc_with_probe(role: &str, url: &str, names: &[&str], probe: &str) -> Value {
    let mut doc = fleet_doc(role, url, names);
    doc["eventHandlers"].as_array_mut().unwrap().push(json!({"class": "wasm", "config": wasp_tests::probe_handler(probe, json!({}))}));
    doc
}

/// Sends events `<prefix>-<from>` to `<prefix>-<to - 1>` through the edge,
/// each asking the probe to count it in its state (`action: count`).
fn send_counted(edge: &wasp_tests::WaspRun, prefix: &str, from: usize, to: usize) {
    let body: String = (from..to).map(|i| format!("{}\n", json!({"_id": format!("{prefix}-{i}"), "action": "count"}))).collect();
    let (status, text) = wasp_tests::http(&edge.address, TOKEN, "POST", "/audit/access", "application/x-ndjson", &body);
    assert!((200..300).contains(&status), "{status} {text}");
}

fn start_edge(fx: &Fixture, url: &str) -> wasp_tests::WaspRun {
    fx.config_doc(&fleet_doc("edge", url, &["files", "copy"]));
    wasp_tests::WaspRun::start(fx.path())
}

fn start_worker(fx: &Fixture, url: &str, names: &[&str]) -> Worker {
    fx.config_doc(&fleet_doc("worker", url, names));
    Worker::start(fx.path())
}

/// Two workers, two handlers each; one worker is killed (SIGKILL) mid-way
/// and restarted: every event accepted by the edge is delivered by both
/// handlers; duplicates are counted.
#[test]
fn every_event_reaches_every_handler_through_a_worker_kill() {
    if !Nats::available() {
        return;
    }
    let nats = Nats::start(free_port());
    let (edge_fx, a_fx, b_fx) = (Fixture::new(), Fixture::new(), Fixture::new());
    let edge = start_edge(&edge_fx, &nats.url());
    let a = start_worker(&a_fx, &nats.url(), &["files", "copy"]);
    let b = start_worker(&b_fx, &nats.url(), &["files", "copy"]);
    const N: usize = 3000;
    publish(&edge, "k", 0, N / 3);
    wait_for("some events delivered by worker a", || !delivered(&[a_fx.path()], "files").is_empty());
    a.kill9();
    publish(&edge, "k", N / 3, 2 * N / 3);
    let a = start_worker(&a_fx, &nats.url(), &["files", "copy"]);
    publish(&edge, "k", 2 * N / 3, N);
    let dirs = [a_fx.path(), b_fx.path()];
    for name in ["files", "copy"] {
        let deadline = Instant::now() + Duration::from_secs(90);
        while delivered(&dirs, name).len() < N {
            assert!(Instant::now() < deadline, "handler {name}: {} of {N} delivered", delivered(&dirs, name).len());
            std::thread::sleep(Duration::from_millis(50));
        }
        let ids = delivered(&dirs, name);
        assert!((0..N).all(|i| ids.contains_key(&format!("k-{i}"))), "handler {name}: an event is missing");
        let duplicates: u32 = ids.values().map(|c| c - 1).sum();
        let on_a = delivered(&[a_fx.path()], name).len();
        figure(&format!(
            "fleet kill -9: handler {name}: {N} of {N} delivered, {duplicates} duplicates, {on_a} on worker a (killed and restarted)"
        ));
        assert!(duplicates as usize <= 2 * 256, "at most the killed worker's unacknowledged batches again: {duplicates}");
    }
    let (code, stderr) = edge.terminate();
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stderr.contains(&format!("edge: {N} forwarded")), "{stderr}");
    let log = b.terminate();
    assert!(log.contains("events handled"), "{log}");
    drop(a);
}

/// NATS is not there when the edge starts: the edge accepts (its journal
/// keeps the events); once NATS runs, it forwards them, and a worker
/// delivers every one.
#[test]
fn an_edge_accepts_while_nats_is_unreachable_and_forwards_later() {
    if !Nats::available() {
        return;
    }
    let port = free_port();
    let url = format!("nats://127.0.0.1:{port}");
    let (edge_fx, w_fx) = (Fixture::new(), Fixture::new());
    let edge = start_edge(&edge_fx, &url);
    publish(&edge, "u", 0, 500);
    std::thread::sleep(Duration::from_millis(500));
    let _nats = Nats::start(port);
    let worker = start_worker(&w_fx, &url, &["files"]);
    wait_for("every event forwarded and delivered", || delivered(&[w_fx.path()], "files").len() == 500);
    let (code, stderr) = edge.terminate();
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stderr.contains("edge: 500 forwarded") && !stderr.contains("0 failed attempts"), "{stderr}");
    assert!(stderr.contains("cannot connect") || stderr.contains("no answer"), "the outage is named: {stderr}");
    let ids = delivered(&[w_fx.path()], "files");
    assert_eq!(ids.values().map(|c| c - 1).sum::<u32>(), 0, "no duplicates");
    worker.terminate();
}

/// Events handled per second by one worker, then by two (a fresh
/// consumer each time, the stream filled beforehand through an edge).
#[test]
fn throughput_with_one_and_two_workers() {
    if !Nats::available() {
        return;
    }
    let nats = Nats::start(free_port());
    let edge_fx = Fixture::new();
    let edge = start_edge(&edge_fx, &nats.url());
    const N: usize = 20_000;
    publish(&edge, "t", 0, N);
    let (code, stderr) = edge.terminate();
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stderr.contains(&format!("edge: {N} forwarded")), "{stderr}");
    for (workers, handler) in [(1, "one"), (2, "two")] {
        let fxs: Vec<Fixture> = (0..workers).map(|_| Fixture::new()).collect();
        let started = Instant::now();
        let running: Vec<Worker> = fxs.iter().map(|fx| start_worker(fx, &nats.url(), &[handler])).collect();
        let dirs: Vec<&Path> = fxs.iter().map(Fixture::path).collect();
        let deadline = Instant::now() + Duration::from_secs(120);
        while delivered(&dirs, handler).len() < N {
            assert!(Instant::now() < deadline, "{workers} workers: {} of {N}", delivered(&dirs, handler).len());
            std::thread::sleep(Duration::from_millis(20));
        }
        let seconds = started.elapsed().as_secs_f64();
        let shares: Vec<usize> = dirs.iter().map(|d| delivered(&[d], handler).len()).collect();
        figure(&format!(
            "fleet throughput: {workers} worker(s), {N} events in {seconds:.2}s (start included) = {:.0} events/s; per worker {shares:?}",
            N as f64 / seconds
        ));
        for w in running {
            w.terminate();
        }
    }
}

/// Messages in the stream `AUDIT` of the server at `port` (0 while it
/// does not exist).
fn stream_messages(port: u16) -> u64 {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let js = async_nats::jetstream::new(async_nats::connect(format!("127.0.0.1:{port}")).await.unwrap());
        match js.get_stream("AUDIT").await {
            Ok(mut stream) => stream.info().await.unwrap().state.messages,
            Err(_) => 0,
        }
    })
}

/// In `fsync` mode an edge answers 201 only once JetStream acknowledged
/// the event (it is in the stream when the answer arrives), and 202 (not
/// yet durable, kept in the journal) while NATS is down; `wasp config
/// check` compares the stream with `wasp.fleet` and names what differs.
#[test]
fn a_durable_edge_answers_after_the_puback_and_config_check_reads_the_stream() {
    if !Nats::available() {
        return;
    }
    let nats = Nats::start(free_port());
    let fx = Fixture::new();
    let mut doc = fleet_doc("edge", &nats.url(), &["files"]);
    doc["wasp"]["journal"] = json!({"durability": "fsync", "fsyncTimeout": "1 s"});
    fx.config_doc(&doc);
    let edge = wasp_tests::WaspRun::start(fx.path());
    for i in 0..5 {
        let (status, body) = wasp_tests::http(
            &edge.address,
            TOKEN,
            "POST",
            "/audit/access",
            "application/json",
            &json!({"_id": format!("d-{i}")}).to_string(),
        );
        assert_eq!(status, 201, "{body}");
        assert_eq!(stream_messages(nats.port), i + 1, "in the stream when the producer has its answer");
    }
    let check = wasp_tests::run_wasp(&["config", "check", "audit.json"], None, fx.path());
    let text = String::from_utf8_lossy(&check.stdout);
    assert!(check.status.success() && text.contains("stream AUDIT: as configured"), "{text}");
    doc["wasp"]["fleet"]["maxAge"] = json!(3600);
    fx.config_doc(&doc);
    let check = wasp_tests::run_wasp(&["config", "check", "audit.json"], None, fx.path());
    let text = String::from_utf8_lossy(&check.stdout);
    assert!(!check.status.success() && text.contains("wasp.fleet.maxAge: configured 3600s"), "{text}");
    let port = nats.port;
    drop(nats);
    let (status, body) =
        wasp_tests::http(&edge.address, TOKEN, "POST", "/audit/access", "application/json", &json!({"_id": "d-down"}).to_string());
    assert_eq!(status, 202, "accepted, not yet in JetStream: {body}");
    let (code, stderr) = edge.terminate();
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stderr.contains("stays in the journal"), "{stderr}");
    // The event is forwarded by the next start of the edge (its disk
    // journal kept it), NATS back (a new server: the stream is created).
    let _nats = Nats::start(port);
    let edge = wasp_tests::WaspRun::start(fx.path());
    wait_for("the kept event forwarded", || stream_messages(port) >= 1);
    let (code, stderr) = edge.terminate();
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stderr.contains("edge: 1 forwarded"), "{stderr}");
}

/// A 3-node JetStream cluster, the stream with 3 replicas: events through
/// an edge reach a worker's handler while one node (not the one either
/// process was given first) is killed mid-way.
#[test]
fn a_three_node_cluster_keeps_delivering_when_a_node_dies() {
    if !Nats::available() {
        return;
    }
    let ports: Vec<(u16, u16)> = (0..3).map(|_| (free_port(), free_port())).collect();
    let mut nodes: Vec<Option<Nats>> = (0..3).map(|i| Some(Nats::node(i, &ports))).collect();
    let urls: Vec<String> = ports.iter().map(|(p, _)| format!("nats://127.0.0.1:{p}")).collect();
    let doc = |role: &str| {
        let mut doc = fleet_doc(role, &urls[0], &["files"]);
        doc["wasp"]["fleet"]["servers"] = json!(urls);
        doc["wasp"]["fleet"]["replicas"] = json!(3);
        doc
    };
    let (edge_fx, w_fx) = (Fixture::new(), Fixture::new());
    edge_fx.config_doc(&doc("edge"));
    let edge = wasp_tests::WaspRun::start(edge_fx.path());
    w_fx.config_doc(&doc("worker"));
    let worker = Worker::start(w_fx.path());
    const N: usize = 2000;
    publish(&edge, "c", 0, N / 2);
    wait_for("half delivered", || delivered(&[w_fx.path()], "files").len() >= N / 4);
    nodes[2].take();
    publish(&edge, "c", N / 2, N);
    let deadline = Instant::now() + Duration::from_secs(120);
    while delivered(&[w_fx.path()], "files").len() < N {
        assert!(Instant::now() < deadline, "{} of {N} delivered", delivered(&[w_fx.path()], "files").len());
        std::thread::sleep(Duration::from_millis(50));
    }
    let ids = delivered(&[w_fx.path()], "files");
    let duplicates: u32 = ids.values().map(|c| c - 1).sum();
    figure(&format!("fleet cluster: 3 nodes, replicas 3, one node killed mid-way: {N} of {N} delivered, {duplicates} duplicates"));
    assert!(duplicates as usize <= 2 * 256, "at most the batches whose acknowledgements the dead node lost: {duplicates}");
    let (code, stderr) = edge.terminate();
    assert_eq!(code, Some(0), "{stderr}");
    worker.terminate();
    drop(nodes);
}

/// A tenant's events travel on `audit.<tenant>.<topic>` and reach only
/// the tenant's handler on the worker; top-level events only the
/// top-level one.
#[test]
fn tenants_keep_their_events_apart_across_the_fleet() {
    if !Nats::available() {
        return;
    }
    let nats = Nats::start(free_port());
    let doc = |role: &str| {
        let mut doc = fleet_doc(role, &nats.url(), &["files"]);
        doc["tenants"] = json!({"acme": {"eventHandlers": [
            {"class": "JsonAuditEventHandler", "config": {"name": "files", "topics": ["access"], "logDirectory": "files"}}
        ]}});
        doc
    };
    let (edge_fx, w_fx) = (Fixture::new(), Fixture::new());
    edge_fx.config_doc(&doc("edge"));
    let edge = wasp_tests::WaspRun::start(edge_fx.path());
    w_fx.config_doc(&doc("worker"));
    let worker = Worker::start(w_fx.path());
    for i in 0..10 {
        let (status, body) = wasp_tests::http(
            &edge.address,
            TOKEN,
            "POST",
            "/audit/access?tenant=acme",
            "application/json",
            &json!({"_id": format!("acme-{i}")}).to_string(),
        );
        assert_eq!(status, 201, "{body}");
    }
    publish(&edge, "top", 0, 10);
    let acme = [w_fx.path().join("wasp-data/tenants/acme")];
    wait_for("both streams delivered", || delivered_under(&acme, "files").len() == 10 && delivered(&[w_fx.path()], "files").len() == 10);
    assert!(delivered_under(&acme, "files").keys().all(|id| id.starts_with("acme-")));
    assert!(delivered(&[w_fx.path()], "files").keys().all(|id| id.starts_with("top-")));
    edge.terminate();
    worker.terminate();
}

/// A WebAssembly handler runs on a worker like a built-in one.
#[test]
fn a_wasm_handler_runs_on_a_worker() {
    if !Nats::available() {
        return;
    }
    let nats = Nats::start(free_port());
    let doc = |role: &str| fleet_doc_with_probe(role, &nats.url(), &["files"], "probe");
    let (edge_fx, w_fx) = (Fixture::new(), Fixture::new());
    edge_fx.config_doc(&doc("edge"));
    let edge = wasp_tests::WaspRun::start(edge_fx.path());
    w_fx.config_doc(&doc("worker"));
    let worker = Worker::start(w_fx.path());
    publish(&edge, "w", 0, 200);
    wait_for("the probe delivered every event", || w_fx.data_json("probe/out.log").len() >= 200);
    let ids: std::collections::BTreeSet<String> =
        w_fx.data_json("probe/out.log").iter().filter_map(|v| v["id"].as_str().map(str::to_owned)).collect();
    assert_eq!(ids.len(), 200, "every event once");
    // The JSON handler runs beside the probe, at its own pace.
    wait_for("the JSON handler delivered every event", || delivered(&[w_fx.path()], "files").len() >= 200);
    assert_eq!(delivered(&[w_fx.path()], "files").len(), 200);
    edge.terminate();
    worker.terminate();
}

/// A WebAssembly handler's `state` is shared by the workers (a JetStream
/// key-value bucket): a counter the handler keeps goes on from where the
/// previous worker left it, instead of starting again on each worker.
#[test]
fn handler_state_is_shared_by_the_workers() {
    if !Nats::available() {
        return;
    }
    let nats = Nats::start(free_port());
    let doc = |role: &str| fleet_doc_with_probe(role, &nats.url(), &[], "counter");
    let counts = |fx: &Fixture| -> Vec<u64> {
        let mut counts: Vec<u64> = fx.data_json("counter/out.log").iter().filter_map(|v| v["count"].as_u64()).collect();
        counts.sort_unstable();
        counts
    };
    let send = |edge: &wasp_tests::WaspRun, from: usize, to: usize| send_counted(edge, "c", from, to);
    let (edge_fx, a_fx, b_fx) = (Fixture::new(), Fixture::new(), Fixture::new());
    edge_fx.config_doc(&doc("edge"));
    let edge = wasp_tests::WaspRun::start(edge_fx.path());

    a_fx.config_doc(&doc("worker"));
    let a = Worker::start(a_fx.path());
    send(&edge, 0, 100);
    let deadline = Instant::now() + Duration::from_secs(60);
    while counts(&a_fx).len() < 100 {
        assert!(
            Instant::now() < deadline,
            "worker a counted {} of 100 events; its log:\n{}",
            counts(&a_fx).len(),
            std::fs::read_to_string(a_fx.path().join("worker.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    a.terminate();
    assert_eq!(counts(&a_fx), (1..=100).collect::<Vec<u64>>());

    // Another worker, another data directory: the count goes on.
    b_fx.config_doc(&doc("worker"));
    let b = Worker::start(b_fx.path());
    send(&edge, 100, 200);
    wait_for("worker b counted 100 events", || counts(&b_fx).len() >= 100);
    let log = b.terminate();
    assert_eq!(counts(&b_fx), (101..=200).collect::<Vec<u64>>(), "worker b did not see worker a's state; its log:\n{log}");
    edge.terminate();
}

/// An ordered handler (`wasp.fleet.ordered`) sees the stream in order
/// across the fleet: of two workers one runs it and the other stands by;
/// when the first stops mid-stream the second takes over where it left
/// off. With its state shared, the count the handler keeps matches each
/// event's position exactly (no batch ran beside another, none was lost).
#[test]
fn an_ordered_handler_sees_the_stream_in_order_across_two_workers() {
    if !Nats::available() {
        return;
    }
    let nats = Nats::start(free_port());
    let doc = |role: &str| {
        let mut doc = fleet_doc_with_probe(role, &nats.url(), &[], "counter");
        doc["wasp"]["fleet"]["ordered"] = json!(["counter"]);
        doc["wasp"]["fleet"]["batch"] = json!(50);
        doc
    };
    let records = |fx: &Fixture| fx.data_json("counter/out.log");
    let send = |edge: &wasp_tests::WaspRun, from: usize, to: usize| {
        for start in (from..to).step_by(100) {
            send_counted(edge, "o", start, start + 100);
        }
    };
    let (edge_fx, a_fx, b_fx) = (Fixture::new(), Fixture::new(), Fixture::new());
    edge_fx.config_doc(&doc("edge"));
    let edge = wasp_tests::WaspRun::start(edge_fx.path());
    a_fx.config_doc(&doc("worker"));
    b_fx.config_doc(&doc("worker"));
    let (a, b) = (Worker::start(a_fx.path()), Worker::start(b_fx.path()));
    let total = 1000;
    send(&edge, 0, total / 2);
    wait_for("the first half handled", || records(&a_fx).len() + records(&b_fx).len() >= total / 2);
    let (first, second) = if records(&a_fx).is_empty() { (b, a) } else { (a, b) };
    let first_log = first.terminate();
    send(&edge, total / 2, total);
    wait_for("every event handled", || records(&a_fx).len() + records(&b_fx).len() >= total);
    let second_log = second.terminate();
    let (from_a, from_b) = (records(&a_fx), records(&b_fx));
    assert!(!from_a.is_empty() && !from_b.is_empty(), "the standby took over: {} and {} records", from_a.len(), from_b.len());
    let mut counts = Vec::new();
    for record in from_a.iter().chain(&from_b) {
        let n: u64 = record["id"].as_str().unwrap().trim_start_matches("o-").parse().unwrap();
        assert_eq!(record["count"].as_u64(), Some(n + 1), "event o-{n} was not handled in stream order; logs:\n{first_log}\n{second_log}");
        counts.push(n + 1);
    }
    counts.sort_unstable();
    assert_eq!(counts, (1..=total as u64).collect::<Vec<_>>());
    edge.terminate();
}

#[test]
fn an_ordered_handler_must_exist() {
    let fx = Fixture::new();
    let mut doc = fleet_doc("worker", "nats://127.0.0.1:4222", &["files"]);
    doc["wasp"]["fleet"]["ordered"] = json!(["nope"]);
    fx.config_doc(&doc);
    let out = wasp_tests::run_wasp(&["config", "check", "audit.json"], None, fx.path());
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(!out.status.success(), "{text}");
    assert!(text.contains("wasp.fleet.ordered[0]") && text.contains("no handler `nope`") && text.contains("files"), "{text}");
}

/// The scale test: a 3-node JetStream cluster, two edges, two
/// workers, 100,000 events; mid-way one NATS node and one worker are
/// killed with SIGKILL and restarted. Every event accepted by an edge is
/// delivered; duplicates are counted.
#[test]
fn a_hundred_thousand_events_through_two_edges_and_two_workers_survive_a_node_and_a_worker_kill() {
    if !Nats::available() {
        return;
    }
    const N: usize = 100_000;
    let ports: Vec<(u16, u16)> = (0..3).map(|_| (free_port(), free_port())).collect();
    let mut nodes: Vec<Nats> = (0..3).map(|i| Nats::node(i, &ports)).collect();
    let urls: Vec<String> = ports.iter().map(|(p, _)| format!("nats://127.0.0.1:{p}")).collect();
    let doc = |role: &str| {
        let mut doc = fleet_doc(role, &urls[0], &["files"]);
        doc["wasp"]["fleet"]["servers"] = json!(urls);
        doc["wasp"]["fleet"]["replicas"] = json!(3);
        doc["wasp"]["journal"] = json!({"durability": "process"});
        doc
    };
    let (e1_fx, e2_fx, a_fx, b_fx) = (Fixture::new(), Fixture::new(), Fixture::new(), Fixture::new());
    e1_fx.config_doc(&doc("edge"));
    e2_fx.config_doc(&doc("edge"));
    let (e1, e2) = (wasp_tests::WaspRun::start(e1_fx.path()), wasp_tests::WaspRun::start(e2_fx.path()));
    a_fx.config_doc(&doc("worker"));
    b_fx.config_doc(&doc("worker"));
    let (a, b) = (Worker::start(a_fx.path()), Worker::start(b_fx.path()));
    let started = Instant::now();
    // Each edge takes every other thousand, from two threads at once.
    let send = |edge: &wasp_tests::WaspRun, part: usize, from: usize, to: usize| {
        for block in (from..to).step_by(1000).filter(|b| (b / 1000) % 2 == part) {
            publish(edge, "big", block, (block + 1000).min(to));
        }
    };
    std::thread::scope(|scope| {
        scope.spawn(|| send(&e1, 0, 0, N / 2));
        scope.spawn(|| send(&e2, 1, 0, N / 2));
    });
    wait_for("some events delivered", || delivered(&[a_fx.path(), b_fx.path()], "files").len() >= N / 10);
    a.kill9();
    nodes[2].kill9_and_restart(2, &ports);
    let a = Worker::start(a_fx.path());
    std::thread::scope(|scope| {
        scope.spawn(|| send(&e1, 0, N / 2, N));
        scope.spawn(|| send(&e2, 1, N / 2, N));
    });
    let dirs = [a_fx.path(), b_fx.path()];
    let deadline = Instant::now() + Duration::from_secs(600);
    while delivered(&dirs, "files").len() < N {
        assert!(Instant::now() < deadline, "{} of {N} delivered", delivered(&dirs, "files").len());
        std::thread::sleep(Duration::from_millis(200));
    }
    let elapsed = started.elapsed();
    let ids = delivered(&dirs, "files");
    assert!((0..N).all(|i| ids.contains_key(&format!("big-{i}"))), "an event is missing");
    let duplicates: u32 = ids.values().map(|c| c - 1).sum();
    figure(&format!(
        "fleet at scale: 3 nodes (replicas 3), 2 edges, 2 workers, a node and a worker killed and restarted mid-way: {N} of {N} delivered in {:.1} s, {duplicates} duplicates",
        elapsed.as_secs_f64()
    ));
    assert!(duplicates as usize <= 4 * 256, "at most the batches in flight at the kills: {duplicates}");
    for edge in [e1, e2] {
        let (code, stderr) = edge.terminate();
        assert_eq!(code, Some(0), "{stderr}");
    }
    a.terminate();
    b.terminate();
    drop(nodes);
}
