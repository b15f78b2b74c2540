//! The browser console (`/console`) in a real browser: a `wasp run` on
//! loopback with top-level events, two tenants and a handler that
//! dead-letters, driven by `tests/console/console.spec.mjs` (playwright-core
//! and Debian's Chromium): sign-in, search, filters, paging, sorting, an
//! event's detail, bad input, dead letters `show` and `replay`, `wasp verify`
//! of a signed log (and of a tampered one), an export downloaded with the
//! Export button (checked here with `wasp verify-export`), the live tail, and a tenant
//! token refused another tenant's events through the page and the API. The
//! tenant isolation of the console's routes is checked here over plain HTTP
//! too. Screenshots land in `target/console-screenshots/`.
//!
//! Needs `node`, Chromium (`/usr/bin/chromium`, or `CHROMIUM`) and `npm ci`
//! in `tests/console` (scripts/test.sh does all three): without them the
//! test skips, and fails under `CI=true`.

use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};
use wasp::sidecar::hash_token;
use wasp_tests::{Fixture, WaspRun, http, in_ci, probe_handler, repo_root};

const ADMIN: &str = "console-admin-token";
const ACME: &str = "console-acme-token";
const GLOBEX: &str = "console-globex-token";

fn json_handler() -> Value {
    json!({"class": "JsonAuditEventHandler",
           "config": {"name": "json", "logDirectory": "logs", "topics": ["access"], "buffering": {"writeInterval": "10 ms"}}})
}

/// What the browser test needs, or why it cannot run.
fn browser_tools() -> Result<(PathBuf, PathBuf), String> {
    let chromium = std::env::var_os("CHROMIUM").map_or_else(|| PathBuf::from("/usr/bin/chromium"), PathBuf::from);
    if !chromium.exists() {
        return Err(format!("{} is missing: `apt-get install chromium` (scripts/test.sh does)", chromium.display()));
    }
    if Command::new("node").arg("--version").output().is_err() {
        return Err("node is missing (Debian: `apt-get install nodejs npm`)".into());
    }
    let dir = repo_root().join("tests/console");
    if !dir.join("node_modules/playwright-core/package.json").exists() {
        return Err(format!("playwright-core is missing: run `npm ci` in {} (scripts/test.sh does)", dir.display()));
    }
    Ok((chromium, dir))
}

/// The 26 top-level `access` events the browser searches (see the spec).
fn top_level_events() -> Vec<Value> {
    let mut events: Vec<Value> = (0..25)
        .map(|n| {
            let failed = n >= 20;
            let mut event = json!({
                "_id": format!("ev-{n}"),
                "timestamp": format!("2026-01-01T00:00:{n:02}.000Z"),
                "userId": if n < 10 { "alice" } else { "bob" },
                "eventName": if n % 5 == 0 && n < 15 { "AM-LOGIN" } else { "AM-ACCESS-OUTCOME" },
                "transactionId": format!("tx-{n}"),
                "response": {"status": if failed { "FAILED" } else { "SUCCESSFUL" }, "statusCode": if failed { "401" } else { "200" }},
            });
            // Handler `h` refuses these: three dead letters.
            if (1..=3).contains(&n) {
                event["action"] = json!("err");
            }
            event
        })
        .collect();
    events.push(json!({"_id": "ev-xss", "timestamp": "2026-01-01T00:01:00.000Z", "userId": "<img src=x onerror=\"window.__pwned=1\">",
                       "eventName": "<script>window.__pwned=4</script>", "response": {"status": "SUCCESSFUL"}}));
    events
}

fn get(address: &str, token: &str, path: &str) -> (u16, Value) {
    let (status, body) = http(address, token, "GET", path, "application/json", "");
    (status, serde_json::from_str(&body).unwrap_or(Value::Null))
}

fn start(fx: &Fixture) -> WaspRun {
    std::fs::create_dir_all(fx.path().join("keys")).unwrap();
    let keygen = wasp_tests::run_wasp(&["keygen", "--out", "keys/audit.key"], None, fx.path());
    assert!(keygen.status.success(), "{}", String::from_utf8_lossy(&keygen.stderr));
    let signed = json!({"class": "JsonAuditEventHandler",
                        "config": {"name": "signed", "logDirectory": "signed", "topics": ["access"], "buffering": {"writeInterval": "10 ms"},
                                   "security": {"enabled": true, "filename": "keys/audit.key", "signatureInterval": "50 ms"}}});
    let mut h = probe_handler("h", json!({"topics": ["access"], "circuitBreaker": {"failures": 0}}));
    h["config"] = json!({});
    // A handler whose `init` fails: disabled, with the reason.
    let broken = probe_handler("broken", json!({"topics": ["authentication"], "config": {"fail_init": true}}));
    fx.config_doc(&json!({
        // The signed handler answers top-level queries: its events can be
        // exported with proofs (the tenants' cannot: no `security`).
        "config": {"handlerForQueries": "signed"},
        "eventHandlers": [json_handler(), signed, {"class": "wasm", "config": h}, {"class": "wasm", "config": broken}],
        "tenants": {
            "acme": {"handlerForQueries": "json", "eventHandlers": [json_handler()]},
            "globex": {"handlerForQueries": "json", "eventHandlers": [json_handler()]}
        },
        "wasp": {
            "safelist": false,
            "sidecar": {
                "adminToken": hash_token(ADMIN),
                "watchInterval": "0 s",
                "tokens": [{"tenant": "acme", "hash": hash_token(ACME)}, {"tenant": "globex", "hash": hash_token(GLOBEX)}]
            }
        }
    }));
    let run = WaspRun::start(fx.path());
    for event in top_level_events() {
        let (status, body) = http(&run.address, ADMIN, "POST", "/audit/access", "application/json", &event.to_string());
        assert_eq!(status, 201, "{body}");
    }
    for (token, id) in [(ACME, "a1"), (GLOBEX, "g1")] {
        let (status, body) =
            http(&run.address, token, "POST", "/audit/access", "application/json", &json!({"_id": id, "userId": "secret"}).to_string());
        assert_eq!(status, 201, "{body}");
    }
    let (status, body) = http(&run.address, ADMIN, "POST", "/audit/access?_action=flush", "application/json", "");
    assert_eq!(status, 200, "{body}");
    run
}

/// The console's API over plain HTTP: what a tenant token is refused.
fn api_isolation(address: &str) {
    let (status, session) = get(address, ACME, "/console/api/session");
    assert_eq!(status, 200, "{session}");
    assert_eq!(session["role"], "tenant");
    assert_eq!(session["scopes"].as_object().unwrap().keys().collect::<Vec<_>>(), ["acme"], "{session}");
    let (_, handlers) = get(address, ACME, "/console/api/handlers");
    let names: Vec<&str> = handlers["handlers"].as_array().unwrap().iter().map(|h| h["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["acme/json"]);
    for path in [
        "/audit/access?_queryFilter=true&tenant=globex",
        "/audit/access/g1?tenant=globex",
        "/export/access?_queryFilter=true&tenant=globex",
        "/console/api/dead-letters?handler=h",
    ] {
        let (status, body) = get(address, ACME, path);
        assert_eq!(status, 403, "{path}: {body}");
    }
    let (status, body) = http(address, ACME, "POST", "/console/api/replay?handler=globex/json", "application/json", "");
    assert_eq!(status, 403, "{body}");
    let (status, _) = get(address, "wrong", "/console/api/handlers");
    assert_eq!(status, 401);
    // The page itself holds no data and needs no token; it forbids
    // inline scripts.
    let (status, page) = http(address, "", "GET", "/console", "", "");
    assert_eq!(status, 200);
    assert!(page.contains("<script src=\"/console/app.js\""), "{page}");
}

fn run_spec(dir: &Path, chromium: &Path, run: &WaspRun, config: &Path) {
    let shots = repo_root().join("target/console-screenshots");
    let _ = std::fs::remove_dir_all(&shots);
    let output = Command::new("node")
        .arg("console.spec.mjs")
        .current_dir(dir)
        .env("WASP_URL", &run.url)
        .env("ADMIN_TOKEN", ADMIN)
        .env("ACME_TOKEN", ACME)
        .env("WASP_CONFIG", config)
        .env("WASP_DATA", config.with_file_name("wasp-data"))
        .env("WASP_PID", run.child.id().to_string())
        .env("EXPORT_DIR", config.parent().unwrap())
        .env("SCREENSHOTS", &shots)
        .env("CHROMIUM", chromium)
        .env("TZ", "UTC")
        .output()
        .expect("run node");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("{stdout}");
    assert!(output.status.success(), "the browser test failed ({}):\n{stdout}\n{stderr}\nscreenshots: {}", output.status, shots.display());
    assert!(stdout.contains("all console checks passed"), "{stdout}");
}

#[test]
fn the_console_in_a_real_browser() {
    let (chromium, dir) = match browser_tools() {
        Ok(tools) => tools,
        Err(reason) => {
            assert!(!in_ci(), "{reason}");
            eprintln!("skipped: {reason}");
            return;
        }
    };
    let fx = Fixture::new();
    let run = start(&fx);
    api_isolation(&run.address);
    run_spec(&dir, &chromium, &run, &fx.path().join("audit.json"));
    // The file the Export button downloaded verifies with the public key.
    let verified = wasp_tests::run_wasp(&["verify-export", "alice.ndjson", "--key", "keys/audit.key"], None, fx.path());
    let report = format!("{}{}", String::from_utf8_lossy(&verified.stdout), String::from_utf8_lossy(&verified.stderr));
    assert_eq!(verified.status.code(), Some(0), "{report}");
    assert!(report.contains("PASS alice.ndjson: 10 records (NDJSON)") && report.contains("userId eq \"alice\""), "{report}");
    // An open live tail does not hold the shutdown up: SIGTERM ends it.
    let mut tail = std::net::TcpStream::connect(&run.address).unwrap();
    tail.write_all(format!("GET /console/api/tail HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {ADMIN}\r\n\r\n").as_bytes()).unwrap();
    let mut head = [0u8; 64];
    let n = tail.read(&mut head).unwrap();
    assert!(String::from_utf8_lossy(&head[..n]).starts_with("HTTP/1.1 200"), "{}", String::from_utf8_lossy(&head[..n]));
    let started = std::time::Instant::now();
    let (code, stderr) = run.terminate();
    assert_eq!(code, Some(0), "{stderr}");
    let took = started.elapsed();
    wasp_tests::figure(&format!("console: SIGTERM with an open live tail: exit 0 after {} ms", took.as_millis()));
    assert!(took < std::time::Duration::from_secs(5), "the shutdown waited {took:?} for the open tail");
}
