//! Crash safety. `wasp pipe` (`process` durability, the default) is killed
//! with SIGKILL at random points under load, ten times, and restarted each
//! time; and `wasp run` under HTTP load from two clients is killed 20 times
//! in a row on the same data directory, in `process` and in `fsync`
//! durability. Every event whose publish was acknowledged (a printed
//! receipt; a 201 or 202 line of an NDJSON answer) must be delivered by
//! every handler at least once (duplicates are counted and reported), no
//! output may hold a torn record, and a tamper-evident log must verify.

use std::collections::BTreeSet;
use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};
use wasp_tests::{Fixture, probe_handler, run_wasp, wasp_bin};

/// A small deterministic generator (the seed is printed to rerun a failure).
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }
}

fn ids_in(fx: &Fixture, handler: &str) -> BTreeSet<String> {
    let path = fx.path().join("wasp-data").join(handler).join("out.log");
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(text.is_empty() || text.ends_with('\n'), "{handler}: the file ends with a whole line");
    text.lines()
        .map(|line| {
            let record: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{handler}: torn record {line:?}: {e}"));
            record["id"].as_str().unwrap().to_owned()
        })
        .collect()
}

#[test]
fn kill_9_at_random_points_loses_no_acknowledged_event() {
    let seed = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos() as u64;
    eprintln!("crash test seed {seed}");
    let mut rng = Lcg(seed);
    let fx = Fixture::new();
    let config = fx.config(&[
        probe_handler("a", json!({"batch": {"maxSize": 64, "maxWait": "1 ms"}})),
        probe_handler("b", json!({"batch": {"maxSize": 7, "maxWait": "1 ms"}})),
    ]);
    let config = config.to_str().unwrap();
    // Warm the compiled-component cache, so that every round spends its
    // time publishing rather than compiling.
    let warm = run_wasp(&["pipe", "--config", config, "--input", "/dev/null"], None, fx.path());
    assert!(warm.status.success(), "{}", String::from_utf8_lossy(&warm.stderr));
    let mut accepted = BTreeSet::new();
    for round in 0..10 {
        let input = fx.path().join(format!("round{round}.ndjson"));
        let lines: Vec<String> =
            (0..5000).map(|n| json!({"topic": "access", "_id": format!("r{round}-{n}"), "userId": "bjensen"}).to_string()).collect();
        std::fs::write(&input, lines.join("\n")).unwrap();
        let mut child = Command::new(wasp_bin())
            .args(["pipe", "--config", config, "--receipts", "--input", input.to_str().unwrap()])
            .current_dir(fx.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(50 + rng.below(1500)));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        let mut stdout = String::new();
        child.stdout.take().unwrap().read_to_string(&mut stdout).unwrap();
        // Only whole receipt lines: a receipt cut by the kill proves nothing.
        for line in stdout.split_inclusive('\n').filter(|l| l.ends_with('\n')) {
            let receipt: Value = serde_json::from_str(line).unwrap();
            accepted.insert(receipt["id"].as_str().unwrap().to_owned());
        }
    }
    assert!(!accepted.is_empty(), "some publishes returned before the kills");
    // Restart once more with no input: the handlers resume from their cursors.
    let out = run_wasp(&["pipe", "--config", config, "--input", "/dev/null"], None, fx.path());
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    for handler in ["a", "b"] {
        let delivered = ids_in(&fx, handler);
        let missing: Vec<&String> = accepted.difference(&delivered).collect();
        assert!(
            missing.is_empty(),
            "seed {seed}: handler {handler} never delivered {} accepted events, e.g. {:?}",
            missing.len(),
            &missing[..missing.len().min(5)]
        );
    }
    wasp_tests::figure(&format!("crash test (wasp pipe, process): 10 SIGKILLs, {} events acknowledged, 0 lost", accepted.len()));
}

/// Posts NDJSON batches of 10 events (`_id` `<prefix>-<n>`) until the
/// server stops answering; returns the `_id`s it acknowledged (201, or 202
/// `durable: false` in fsync mode: accepted, and in the journal).
fn http_publisher(address: &str, token: &str, prefix: &str) -> Vec<String> {
    http_publisher_durable(address, token, prefix).1
}

/// [`http_publisher`], telling apart the `_id`s acknowledged as durable
/// (201: in fsync mode, on disk) from all those acknowledged (201 or 202).
fn http_publisher_durable(address: &str, token: &str, prefix: &str) -> (Vec<String>, Vec<String>) {
    let mut durable = Vec::new();
    use std::io::Write;
    let mut acknowledged = Vec::new();
    for batch in 0.. {
        let body: String = (0..10).map(|n| format!("{}\n", json!({"_id": format!("{prefix}-{batch}-{n}"), "userId": "bjensen"}))).collect();
        let Ok(mut stream) = std::net::TcpStream::connect(address) else { break };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
        let request = format!(
            "POST /audit/access HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {token}\r\nContent-Type: application/x-ndjson\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        if stream.write_all(request.as_bytes()).is_err() {
            break;
        }
        let mut response = String::new();
        // A kill in the middle of the answer: nothing in it counts.
        if stream.read_to_string(&mut response).is_err() || !response.starts_with("HTTP/1.1 200") {
            break;
        }
        let Some((_, json)) = response.split_once("\r\n\r\n") else { break };
        let Ok(report) = serde_json::from_str::<Value>(json) else { break };
        for result in report["results"].as_array().into_iter().flatten() {
            if result["status"] == 201 {
                acknowledged.push(result["_id"].as_str().unwrap().to_owned());
                durable.push(result["_id"].as_str().unwrap().to_owned());
            } else if result["status"] == 202 {
                let line = result["line"].as_u64().unwrap();
                acknowledged.push(format!("{prefix}-{batch}-{}", line - 1));
            }
        }
    }
    (durable, acknowledged)
}

/// Every `_id` of a JSON handler's live file, in order (duplicates kept);
/// fails on a torn or unparsable line.
fn json_ids(path: &std::path::Path) -> Vec<String> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    assert!(text.is_empty() || text.ends_with('\n'), "{}: the file ends with a whole line", path.display());
    text.lines()
        .map(|line| serde_json::from_str::<Value>(line).unwrap_or_else(|e| panic!("{}: torn record {line:?}: {e}", path.display())))
        .filter_map(|record| record["_id"].as_str().map(str::to_owned))
        .collect()
}

/// A fixture with two JSON handlers of `access` — `sealed` (tamper-evident,
/// key `keys/audit.key`) and `plain` — in `durability`, the sidecar's admin
/// token `token`.
fn two_json_handlers(durability: &str, token: &str) -> Fixture {
    let fx = Fixture::new();
    std::fs::create_dir_all(fx.path().join("keys")).unwrap();
    let out = run_wasp(&["keygen", "--out", "keys/audit.key"], None, fx.path());
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    fx.config_doc(&json!({
        "eventHandlers": [
            {"class": "JsonAuditEventHandler", "config": {"name": "sealed", "logDirectory": "sealed", "topics": ["access"],
                "buffering": {"writeInterval": "5 ms"},
                "security": {"enabled": "true", "filename": "keys/audit.key", "signatureInterval": "100 ms"}}},
            {"class": "JsonAuditEventHandler", "config": {"name": "plain", "logDirectory": "plain", "topics": ["access"],
                "buffering": {"writeInterval": "50 ms"}}}
        ],
        "wasp": {"journal": {"durability": durability, "segmentSize": "64 KiB"},
                 "sidecar": {"adminToken": wasp::sidecar::hash_token(token), "shutdownDeadline": "30 seconds"}}
    }));
    fx
}

/// Starts `wasp run` once more without load, so that the handlers resume
/// from their cursors, drains it, and checks that every event of
/// `acknowledged` is in both handlers' files and that the sealed log
/// verifies (`context` names the run in failures). Returns the duplicates
/// counted over both handlers.
fn drain_and_check(fx: &Fixture, token: &str, acknowledged: &BTreeSet<String>, context: &str) -> usize {
    let run = wasp_tests::WaspRun::start(fx.path());
    let (status, body) = wasp_tests::http(&run.address, token, "POST", "/audit/access?_action=flush", "application/json", "");
    assert_eq!(status, 200, "{body}");
    let (code, stderr) = run.terminate();
    assert_eq!(code, Some(0), "{stderr}");
    let mut duplicated = 0;
    for handler in ["sealed", "plain"] {
        let ids = json_ids(&fx.path().join(format!("wasp-data/{handler}/access.audit.json")));
        let delivered: BTreeSet<String> = ids.iter().cloned().collect();
        let missing: Vec<&String> = acknowledged.difference(&delivered).collect();
        assert!(
            missing.is_empty(),
            "{context}: {handler} lost {} acknowledged events, e.g. {:?}",
            missing.len(),
            &missing[..missing.len().min(5)]
        );
        duplicated += ids.len() - delivered.len();
    }
    let verified = run_wasp(&["verify", "wasp-data/sealed", "--topic", "access", "--key", "keys/audit.key"], None, fx.path());
    let report = String::from_utf8_lossy(&verified.stdout);
    assert!(verified.status.success(), "{context}: the sealed log does not verify:\n{report}{}", String::from_utf8_lossy(&verified.stderr));
    check_journal(fx, context);
    duplicated
}

/// `wasp journal verify wasp-data` passes: records intact and in sequence
/// (a torn tail allowed), no cursor past the end of its stream.
fn check_journal(fx: &Fixture, context: &str) {
    let out = run_wasp(&["journal", "verify", "wasp-data"], None, fx.path());
    let report = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success() && report.starts_with("OK "), "{context}: the journal does not verify:\n{report}");
}

/// `wasp run` under HTTP load, killed with SIGKILL at a random moment,
/// `KILLS` times in a row on the same data directory, in `durability`;
/// then started once more and drained. Every acknowledged event must be in
/// both handlers' outputs (duplicates are counted, not refused), the
/// tamper-evident one must pass `wasp verify`, and the journal must open
/// (it did: the last start). Prints the figures.
fn crash_loop(durability: &str) {
    const KILLS: usize = 20;
    const TOKEN: &str = "crash-loop-token";
    let seed = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos() as u64;
    eprintln!("crash loop ({durability}) seed {seed}");
    let mut rng = Lcg(seed);
    let fx = two_json_handlers(durability, TOKEN);
    let mut acknowledged = BTreeSet::new();
    for _ in 0..KILLS {
        let mut run = wasp_tests::WaspRun::start(fx.path());
        let clients: Vec<_> = ["a", "b"]
            .into_iter()
            .map(|client| {
                let address = run.address.clone();
                let prefix = format!("{client}{}", rng.below(1 << 40));
                std::thread::spawn(move || http_publisher(&address, TOKEN, &prefix))
            })
            .collect();
        std::thread::sleep(Duration::from_millis(100 + rng.below(700)));
        run.child.kill().unwrap(); // SIGKILL
        run.child.wait().unwrap();
        for client in clients {
            acknowledged.extend(client.join().unwrap());
        }
        check_journal(&fx, &format!("seed {seed}, after a kill"));
    }
    assert!(acknowledged.len() > 100 * KILLS / 10, "the load ran: {} events acknowledged", acknowledged.len());
    let duplicated = drain_and_check(&fx, TOKEN, &acknowledged, &format!("seed {seed}, after {KILLS} kills"));
    wasp_tests::figure(&format!(
        "crash loop ({durability}): {KILLS} SIGKILLs of wasp run under load, {} events acknowledged, 0 lost, {duplicated} duplicated (over 2 handlers), sealed log verifies",
        acknowledged.len()
    ));
}

#[test]
fn kill_9_of_wasp_run_under_http_load_20_times_loses_nothing_in_process_mode() {
    crash_loop("process");
}

#[test]
fn kill_9_of_wasp_run_under_http_load_20_times_loses_nothing_in_fsync_mode() {
    crash_loop("fsync");
}

/// What a power loss leaves of the files under `root`, from the log of the
/// `tests/powerloss` recorder: each file cut back to its size at its last
/// sync (renames followed), a file never synced removed. The log is then
/// rewritten as the state left (every surviving byte counts as synced), for
/// the next round. Returns (files cut, files removed).
fn lose_power(log: &std::path::Path, root: &std::path::Path) -> (usize, usize) {
    use std::collections::BTreeMap;
    use std::path::PathBuf;
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let mut synced: BTreeMap<PathBuf, u64> = BTreeMap::new();
    for line in text.lines() {
        match line.split('\t').collect::<Vec<_>>()[..] {
            ["sync", path, size] => {
                if let Ok(size) = size.parse() {
                    synced.insert(PathBuf::from(path), size);
                }
            }
            ["rename", old, new] => match synced.remove(std::path::Path::new(old)) {
                Some(size) => {
                    synced.insert(PathBuf::from(new), size);
                }
                None => {
                    synced.remove(std::path::Path::new(new));
                }
            },
            _ => {} // a line torn by the kill: its sync was not relied on
        }
    }
    let (mut cut, mut removed, mut state) = (0, 0, String::new());
    let mut pending = vec![root.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let meta = std::fs::symlink_metadata(&path).unwrap();
            if meta.is_dir() {
                pending.push(path);
                continue;
            }
            match synced.get(&path) {
                Some(&size) => {
                    if meta.len() > size {
                        std::fs::OpenOptions::new().write(true).open(&path).unwrap().set_len(size).unwrap();
                        cut += 1;
                    }
                    state.push_str(&format!("sync\t{}\t{}\n", path.display(), meta.len().min(size)));
                }
                None => {
                    std::fs::remove_file(&path).unwrap();
                    removed += 1;
                }
            }
        }
    }
    std::fs::write(log, state).unwrap();
    (cut, removed)
}

/// Power loss in `fsync` mode, simulated: `wasp run` under HTTP load runs
/// with the `tests/powerloss` recorder (LD_PRELOAD), is killed with SIGKILL,
/// and its files are made what a power loss would leave (unsynced data
/// lost); ten times in a row on the same data directory. Every event
/// acknowledged as durable (201) must then be in both handlers' outputs,
/// the tamper-evident log must verify, and after every round `wasp journal
/// verify` must pass (no handler's cursor past the end of the journal).
#[test]
fn power_loss_in_fsync_mode_loses_no_durable_event() {
    const ROUNDS: usize = 10;
    const TOKEN: &str = "power-loss-token";
    let seed = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos() as u64;
    eprintln!("power loss seed {seed}");
    let mut rng = Lcg(seed);
    let fx = two_json_handlers("fsync", TOKEN);
    let recorder = fx.path().join("powerloss.so");
    let source = wasp_tests::repo_root().join("tests/powerloss/powerloss.c");
    let built = Command::new("cc").args(["-shared", "-fPIC", "-O2", "-o"]).arg(&recorder).arg(&source).args(["-ldl", "-lpthread"]).status();
    if !built.as_ref().is_ok_and(|s| s.success()) {
        assert!(!wasp_tests::in_ci(), "CI must build the power-loss recorder with cc: {built:?}");
        eprintln!("skipping: no C compiler to build the power-loss recorder");
        return;
    }
    let log = fx.path().join("powerloss.log");
    let root = fx.path().join("wasp-data");
    let (mut durable, mut cut, mut removed) = (BTreeSet::new(), 0, 0);
    for _ in 0..ROUNDS {
        let env = [("LD_PRELOAD", recorder.as_os_str()), ("WASP_POWERLOSS_LOG", log.as_os_str())];
        let mut run = wasp_tests::WaspRun::start_with_env(fx.path(), &env);
        let clients: Vec<_> = ["a", "b"]
            .into_iter()
            .map(|client| {
                let address = run.address.clone();
                let prefix = format!("{client}{}", rng.below(1 << 40));
                std::thread::spawn(move || http_publisher_durable(&address, TOKEN, &prefix).0)
            })
            .collect();
        std::thread::sleep(Duration::from_millis(200 + rng.below(600)));
        run.child.kill().unwrap(); // SIGKILL, then the power goes
        run.child.wait().unwrap();
        for client in clients {
            durable.extend(client.join().unwrap());
        }
        let (c, r) = lose_power(&log, &root.canonicalize().unwrap());
        cut += c;
        removed += r;
        check_journal(&fx, &format!("seed {seed}, after a power loss"));
    }
    assert!(durable.len() > 100, "the load ran: {} durable events", durable.len());
    assert!(cut > 0, "the simulation took back unsynced data");
    let duplicated = drain_and_check(&fx, TOKEN, &durable, &format!("seed {seed}, after {ROUNDS} power losses"));
    wasp_tests::figure(&format!(
        "power loss (fsync, simulated): {ROUNDS} rounds, {} durable events, 0 lost, {duplicated} duplicated (over 2 handlers), {cut} files cut back and {removed} unsynced files dropped, sealed log verifies",
        durable.len()
    ));
}
