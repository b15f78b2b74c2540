//! Shared helpers of the WASP integration tests (`tests/all/`).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{Value, json};

/// Paths of the test guests and samples, built by `build.rs`.
pub mod guests {
    include!(concat!(env!("OUT_DIR"), "/guests.rs"));
}

/// A temporary directory holding a configuration and the service's data.
pub struct Fixture {
    dir: tempfile::TempDir,
}

impl Default for Fixture {
    fn default() -> Self {
        Self::new()
    }
}

impl Fixture {
    /// A fresh directory.
    pub fn new() -> Self {
        Fixture { dir: tempfile::tempdir().expect("create a temporary directory") }
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes `audit.json` with one `wasm` handler entry per element of
    /// `handlers` (each the handler's `config` object) and returns its path.
    /// Like [`config_doc`](Self::config_doc), it does not require
    /// `transactionId` and `timestamp` of test events.
    pub fn config(&self, handlers: &[Value]) -> PathBuf {
        let entries: Vec<Value> = handlers.iter().map(|h| json!({"class": "wasm", "config": h})).collect();
        self.config_doc(&json!({"eventHandlers": entries}))
    }

    /// Writes `audit.json` with this whole configuration document. Test
    /// events are minimal: unless the document sets `wasp.validation`
    /// itself, the fixture sets `requiredFields` to `[]` (the validation
    /// tests set it to exercise the default).
    pub fn config_doc(&self, doc: &Value) -> PathBuf {
        let mut doc = doc.clone();
        let inner = if doc.get("type").is_some() { &mut doc["config"] } else { &mut doc };
        if inner.get("wasp").and_then(|w| w.get("validation")).is_none() {
            inner["wasp"]["validation"] = json!({"requiredFields": []});
        }
        let path = self.dir.path().join("audit.json");
        std::fs::write(&path, serde_json::to_string_pretty(&doc).unwrap()).unwrap();
        path
    }

    /// The dead letters of `handler` (`name` or `tenant/name`), oldest first.
    pub fn dead_letters(&self, handler: &str) -> Vec<wasp::dead_letter::DeadLetter> {
        wasp::dead_letter::DeadLetterStore::new(&self.dir.path().join("wasp-data")).list(Some(handler)).unwrap()
    }

    /// The lines of a handler's output file (`wasp-data/<handler>/<file>`).
    pub fn output_lines(&self, handler: &str, file: &str) -> Vec<String> {
        let path = self.dir.path().join("wasp-data").join(handler).join(file);
        std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
            .lines()
            .map(str::to_owned)
            .collect()
    }

    /// The output lines parsed as JSON.
    pub fn output_json(&self, handler: &str, file: &str) -> Vec<Value> {
        self.output_lines(handler, file).iter().map(|l| serde_json::from_str(l).unwrap()).collect()
    }

    /// The output lines of a file under the data directory, parsed as JSON
    /// (none when the file does not exist).
    pub fn data_json(&self, relative: &str) -> Vec<Value> {
        match std::fs::read_to_string(self.dir.path().join("wasp-data").join(relative)) {
            Ok(text) => text.lines().map(|l| serde_json::from_str(l).unwrap()).collect(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => panic!("read {relative}: {e}"),
        }
    }
}

/// A probe handler (see `tests/guests/probe`) with output `out`, batching
/// up to 64 events for up to 50 ms, plus `extra` merged into its config.
pub fn probe_handler(name: &str, extra: Value) -> Value {
    let mut handler = json!({
        "name": name,
        "topics": ["access", "authentication"],
        "component": guests::PROBE,
        "outputs": {"out": {"type": "file", "path": "out.log"}},
        "batch": {"maxSize": 64, "maxWait": "50 ms"}
    });
    if let (Some(h), Some(extra)) = (handler.as_object_mut(), extra.as_object()) {
        for (k, v) in extra {
            h.insert(k.clone(), v.clone());
        }
    }
    handler
}

/// A probe handler named `healthy` that ignores `action` and echoes every
/// event: the well-behaved neighbour of a hostile handler.
pub fn healthy_probe() -> Value {
    probe_handler("healthy", json!({"config": {"healthy": true}}))
}

/// Polls `done` every 5 ms until it holds; fails the test after a minute,
/// naming `what` it waited for.
pub fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !done() {
        assert!(std::time::Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

/// The `wasp` binary of this build (`target/<profile>/wasp`). The test
/// command (`scripts/test.sh`) builds it before the tests run.
pub fn wasp_bin() -> PathBuf {
    let exe = std::env::current_exe().expect("the test executable's path");
    // target/<profile>/deps/all-<hash> → target/<profile>/wasp
    let bin = exe.parent().and_then(Path::parent).expect("target/<profile>").join("wasp");
    assert!(bin.exists(), "{} is missing: build it first with `cargo build -p wasp` (scripts/test.sh does)", bin.display());
    bin
}

/// Runs `wasp` with `args` (and `stdin` as standard input).
pub fn run_wasp(args: &[&str], stdin: Option<&str>, cwd: &Path) -> Output {
    use std::io::Write;
    let mut child = Command::new(wasp_bin())
        .args(args)
        .current_dir(cwd)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn wasp");
    let mut input = child.stdin.take().unwrap();
    if let Some(text) = stdin {
        input.write_all(text.as_bytes()).unwrap();
    }
    drop(input);
    child.wait_with_output().expect("wait for wasp")
}
