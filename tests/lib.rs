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
    /// `transactionId` and `timestamp` of test events, and keeps every
    /// field of `access` events (no safelist).
    pub fn config(&self, handlers: &[Value]) -> PathBuf {
        let entries: Vec<Value> = handlers.iter().map(|h| json!({"class": "wasm", "config": h})).collect();
        self.config_doc(&json!({"eventHandlers": entries}))
    }

    /// Writes `audit.json` with this whole configuration document. Test
    /// events are minimal: unless the document sets `wasp.validation`
    /// itself, the fixture sets `requiredFields` to `[]` (the validation
    /// tests set it to exercise the default); unless it sets
    /// `wasp.safelist`, the `access` safelist is off.
    pub fn config_doc(&self, doc: &Value) -> PathBuf {
        let mut doc = doc.clone();
        let inner = if doc.get("type").is_some() { &mut doc["config"] } else { &mut doc };
        if inner.get("wasp").and_then(|w| w.get("validation")).is_none() {
            inner["wasp"]["validation"] = json!({"requiredFields": []});
        }
        // Test events carry the probe's own fields (`action`, `ms`, …) on
        // the `access` topic: the safelist (tested on its own) stays off
        // unless the document sets it.
        if inner.get("wasp").and_then(|w| w.get("safelist")).is_none() {
            inner["wasp"]["safelist"] = json!(false);
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
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display())).lines().map(str::to_owned).collect()
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

/// One plain HTTP/1.1 request over a fresh connection, with a bearer
/// `token`; returns the status and the body.
pub fn http(address: &str, token: &str, method: &str, path: &str, content_type: &str, body: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(address).unwrap();
    stream.set_read_timeout(Some(std::time::Duration::from_secs(30))).unwrap();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {token}\r\nContent-Type: {content_type}\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or_else(|| panic!("no status in {response:?}"));
    let body = response.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or_default();
    (status, body)
}

/// A `wasp run` child process serving on a free port.
pub struct WaspRun {
    /// The process.
    pub child: std::process::Child,
    /// `host:port` it listens on.
    pub address: String,
    /// `http://host:port` or `https://host:port`.
    pub url: String,
    stderr: Option<std::thread::JoinHandle<String>>,
}

impl WaspRun {
    /// Starts `wasp run --config audit.json --listen 127.0.0.1:0` in `dir`
    /// and waits until it listens.
    pub fn start(dir: &Path) -> WaspRun {
        let mut command = Command::new(wasp_bin());
        command.args(["run", "--config", "audit.json", "--listen", "127.0.0.1:0"]);
        Self::start_command(command, dir)
    }

    /// Like [`start`](Self::start), with these environment variables set.
    pub fn start_with_env(dir: &Path, env: &[(&str, &std::ffi::OsStr)]) -> WaspRun {
        let mut command = Command::new(wasp_bin());
        command.args(["run", "--config", "audit.json", "--listen", "127.0.0.1:0"]);
        for (name, value) in env {
            command.env(name, value);
        }
        Self::start_command(command, dir)
    }

    /// Like [`start`](Self::start), with the process's limit of open file
    /// descriptors set to `max_fds` (`ulimit -n`).
    pub fn start_with_fd_limit(dir: &Path, max_fds: u32) -> WaspRun {
        let mut command = Command::new("sh");
        command.args(["-c", &format!("ulimit -n {max_fds} && exec \"$0\" run --config audit.json --listen 127.0.0.1:0")]).arg(wasp_bin());
        Self::start_command(command, dir)
    }

    fn start_command(mut command: Command, dir: &Path) -> WaspRun {
        use std::io::{BufRead, Read};
        let mut child = command.current_dir(dir).stdout(std::process::Stdio::null()).stderr(std::process::Stdio::piped()).spawn().unwrap();
        let mut stderr = std::io::BufReader::new(child.stderr.take().unwrap());
        let mut seen = String::new();
        let url = loop {
            let mut line = String::new();
            if stderr.read_line(&mut line).unwrap() == 0 {
                let _ = child.kill();
                panic!("wasp run exited before listening: {seen}");
            }
            seen.push_str(&line);
            if let Some(url) = line.trim().strip_prefix("wasp run: listening on ") {
                break url.to_owned();
            }
        };
        let address = url.split_once("://").map_or(url.as_str(), |(_, a)| a).to_owned();
        let rest = std::thread::spawn(move || {
            let mut text = seen;
            let _ = stderr.read_to_string(&mut text);
            text
        });
        WaspRun { child, address, url, stderr: Some(rest) }
    }

    /// Sends `signal` (e.g. `-HUP`, `-TERM`) to the process.
    pub fn signal(&self, signal: &str) {
        let sent = Command::new("kill").args([signal, &self.child.id().to_string()]).status().unwrap();
        assert!(sent.success(), "kill {signal}");
    }

    /// SIGTERM, then waits (at most a minute) for the exit; returns the
    /// exit code and everything it wrote to stderr.
    pub fn terminate(mut self) -> (Option<i32>, String) {
        self.signal("-TERM");
        let started = std::time::Instant::now();
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            if started.elapsed() > std::time::Duration::from_secs(60) {
                let _ = self.child.kill();
                panic!("wasp run did not exit after SIGTERM");
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        };
        (status.code(), self.stderr.take().unwrap().join().unwrap())
    }
}

impl Drop for WaspRun {
    fn drop(&mut self) {
        let _ = self.child.kill();
    }
}

/// The repository's root (the parent of `tests/`).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("tests/ has a parent").to_path_buf()
}

/// Whether this is a CI run (`CI=true`): tests that need something the
/// build provides must fail, not skip, when it is missing.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// A Python (`lang` = `py`) or JavaScript (`js`) guest built by
/// `scripts/build-guests.sh` into `target/guests/<lang>/<name>.wasm`. When it
/// is missing: under `CI=true` the test fails; otherwise it is skipped with
/// the reason printed (`None`).
pub fn language_guest(lang: &str, name: &str) -> Option<PathBuf> {
    let path = repo_root().join("target/guests").join(lang).join(format!("{name}.wasm"));
    if path.exists() {
        return Some(path);
    }
    let reason = format!("{} is missing: build it with `scripts/build-guests.sh` (scripts/test.sh does)", path.display());
    assert!(!in_ci(), "{reason}");
    eprintln!("skipped: {reason}");
    None
}

/// The directory of compiled components shared by the tests that run
/// Python or JavaScript guests (`wasp.cacheDirectory`): compiling one takes
/// 5–12 s, loading it from the cache milliseconds.
pub fn shared_compile_cache() -> PathBuf {
    repo_root().join("target/guests/compiled-cache")
}

/// Reports a figure a test measured (events acknowledged and lost, attacks
/// refused, …): printed, and appended as a line to the file named by
/// `WASP_FIGURES` when that is set (`.ci/run` sets it and prints the file
/// after the suite, whose output captures what passing tests print).
pub fn figure(line: &str) {
    println!("{line}");
    if let Some(path) = std::env::var_os("WASP_FIGURES") {
        use std::io::Write;
        let written = std::fs::OpenOptions::new().create(true).append(true).open(&path).and_then(|mut f| writeln!(f, "{line}"));
        if let Err(e) = written {
            eprintln!("cannot append to WASP_FIGURES {}: {e}", std::path::Path::new(&path).display());
        }
    }
}

/// A small real filesystem for disk-full tests: a tmpfs of `size` (`64k`,
/// `1m`) mounted at `path`, unmounted when dropped. `None` where mounting
/// is not allowed (not root); under CI, which runs as root, that fails the
/// test instead.
pub struct SmallDisk {
    /// Where it is mounted.
    pub path: PathBuf,
}

impl SmallDisk {
    /// Mounts it (see the type).
    pub fn mount(path: &Path, size: &str) -> Option<SmallDisk> {
        std::fs::create_dir_all(path).unwrap();
        let ok = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(path)
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            assert!(!in_ci(), "CI runs as root and must be able to mount a tmpfs for the disk-full tests");
            eprintln!("skipping: cannot mount a tmpfs here (not root?)");
            return None;
        }
        Some(SmallDisk { path: path.to_owned() })
    }

    /// Gives it more room (`remount,size=`).
    pub fn grow(&self, size: &str) {
        let status = std::process::Command::new("mount").args(["-o", &format!("remount,size={size}")]).arg(&self.path).status().unwrap();
        assert!(status.success(), "remount {}", self.path.display());
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg("-l").arg(&self.path).status();
    }
}
