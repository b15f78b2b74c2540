//! Crash safety (`process` durability, the default): `wasp pipe` is killed
//! with SIGKILL at random points under load, ten times, and restarted each
//! time. Every event whose publish returned (its receipt was printed) must
//! be delivered by every handler at least once, and no output may hold a
//! torn record.

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
        assert!(missing.is_empty(), "seed {seed}: handler {handler} never delivered {} accepted events, e.g. {:?}", missing.len(), &missing[..missing.len().min(5)]);
    }
    eprintln!("crash test: {} events acknowledged across 10 kills, all delivered by both handlers", accepted.len());
}
