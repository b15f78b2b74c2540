//! The sidecar over TLS and its command-line client, end to end: `wasp run`
//! serving HTTPS with a self-signed certificate, `wasp send` posting an
//! NDJSON file with a bad line (reported by line number, the rest
//! delivered), `wasp query --url` reading it back; plain HTTP and an
//! untrusted client refused; unusable TLS files named.

use std::io::{Read, Write};
use std::path::Path;

use serde_json::{Value, json};
use wasp_tests::{Fixture, WaspRun, run_wasp};

const TOKEN: &str = "client-token";

/// Writes `cert.pem` and `key.pem` for `localhost`/`127.0.0.1` into `dir`.
fn self_signed(dir: &Path) {
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned(), "127.0.0.1".to_owned()]).unwrap();
    std::fs::write(dir.join("cert.pem"), certified.cert.pem()).unwrap();
    std::fs::write(dir.join("key.pem"), certified.signing_key.serialize_pem()).unwrap();
}

fn config(fx: &Fixture, tls: Option<Value>) {
    let mut sidecar = json!({"adminToken": wasp::sidecar::hash_token(TOKEN)});
    if let Some(tls) = tls {
        sidecar["tls"] = tls;
    }
    fx.config_doc(&json!({
        "config": {"handlerForQueries": "json"},
        "eventHandlers": [{"class": "JsonAuditEventHandler",
                           "config": {"name": "json", "logDirectory": "logs", "topics": ["access"], "buffering": {"writeInterval": "20 ms"}}}],
        "wasp": {"sidecar": sidecar}
    }));
}

fn written_ids(fx: &Fixture) -> Vec<String> {
    std::fs::read_to_string(fx.path().join("wasp-data/logs/access.audit.json"))
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap()["_id"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn wasp_send_and_query_over_https_with_a_private_ca() {
    let fx = Fixture::new();
    self_signed(fx.path());
    config(&fx, Some(json!({"certFile": "cert.pem", "keyFile": "key.pem"})));
    let run = WaspRun::start(fx.path());
    assert!(run.url.starts_with("https://"), "{}", run.url);

    // 25 events, line 7 is not JSON and line 12 is blank.
    let mut lines: Vec<String> = (0..25).map(|n| json!({"_id": format!("s{n}"), "userId": "bjensen"}).to_string()).collect();
    lines[6] = "{not json".into();
    lines[11] = String::new();
    std::fs::write(fx.path().join("events.ndjson"), lines.join("\n") + "\n").unwrap();
    let sent = run_wasp(
        &["send", "--url", &run.url, "--topic", "access", "--token", TOKEN, "--cacert", "cert.pem", "--batch", "10", "events.ndjson"],
        None,
        fx.path(),
    );
    let stderr = String::from_utf8_lossy(&sent.stderr);
    assert_eq!(sent.status.code(), Some(3), "a rejected line: exit 3\n{stderr}");
    assert!(stderr.contains("wasp send: line 7: 400:"), "{stderr}");
    assert!(stderr.contains("24 events: 23 accepted, 1 rejected"), "the blank line is skipped, not counted\n{stderr}");

    // Read back through the sidecar's query API.
    wasp_tests::wait_for("the events in the JSON file", || written_ids(&fx).len() == 23);
    let queried = run_wasp(
        &["query", "--url", &run.url, "--topic", "access", "--filter", "userId eq \"bjensen\"", "--page-size", "100", "--cacert", "cert.pem", "--token", TOKEN],
        None,
        fx.path(),
    );
    assert!(queried.status.success(), "{}", String::from_utf8_lossy(&queried.stderr));
    let page: Value = serde_json::from_slice(&queried.stdout).unwrap();
    assert_eq!(page["resultCount"], 23, "{page}");
    let one = run_wasp(&["query", "--url", &run.url, "--topic", "access", "--id", "s3", "--cacert", "cert.pem", "--token", TOKEN], Some(""), fx.path());
    assert!(one.status.success(), "{}", String::from_utf8_lossy(&one.stderr));
    assert_eq!(serde_json::from_slice::<Value>(&one.stdout).unwrap()["_id"], "s3");

    // Without the CA the client refuses the certificate.
    let untrusted = run_wasp(&["send", "--url", &run.url, "--topic", "access", "--token", TOKEN, "events.ndjson"], None, fx.path());
    assert_eq!(untrusted.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&untrusted.stderr).contains("cannot reach"), "{}", String::from_utf8_lossy(&untrusted.stderr));

    // Plain HTTP to the TLS port gets no HTTP answer.
    let mut plain = std::net::TcpStream::connect(&run.address).unwrap();
    plain.set_read_timeout(Some(std::time::Duration::from_secs(15))).unwrap();
    plain.write_all(format!("GET /health HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n", run.address).as_bytes()).unwrap();
    let mut answer = Vec::new();
    let _ = plain.read_to_end(&mut answer);
    assert!(!answer.starts_with(b"HTTP/"), "plain HTTP was answered: {:?}", String::from_utf8_lossy(&answer));

    let (code, stderr) = run.terminate();
    assert_eq!(code, Some(0), "{stderr}");
    let ids = written_ids(&fx);
    let mut expected: Vec<String> = (0..25).filter(|n| *n != 6 && *n != 11).map(|n| format!("s{n}")).collect();
    expected.sort();
    let mut got = ids.clone();
    got.sort();
    assert_eq!(got, expected, "every accepted event once");
}

#[test]
fn wasp_send_over_plain_http_reports_a_refused_token() {
    let fx = Fixture::new();
    config(&fx, None);
    let run = WaspRun::start(fx.path());
    std::fs::write(fx.path().join("events.ndjson"), "{\"_id\": \"a\"}\n{\"_id\": \"b\"}\n").unwrap();
    let ok = run_wasp(&["send", "--url", &run.url, "--topic", "access", "-"], Some("{\"_id\": \"c\"}\n"), fx.path());
    // No token: the sidecar refuses the request itself.
    assert_eq!(ok.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&ok.stderr).contains("refused the batch (401)"), "{}", String::from_utf8_lossy(&ok.stderr));
    let sent = run_wasp(&["send", "--url", &run.url, "--topic", "access", "--token", TOKEN, "events.ndjson"], None, fx.path());
    assert!(sent.status.success(), "{}", String::from_utf8_lossy(&sent.stderr));
    assert!(String::from_utf8_lossy(&sent.stderr).contains("2 events: 2 accepted, 0 rejected"));
    let (code, _) = run.terminate();
    assert_eq!(code, Some(0));
    let mut ids = written_ids(&fx);
    ids.sort();
    assert_eq!(ids, ["a", "b"]);
}

#[test]
fn unusable_tls_files_are_named_and_wasp_run_does_not_start() {
    let fx = Fixture::new();
    std::fs::write(fx.path().join("cert.pem"), "not a certificate").unwrap();
    std::fs::write(fx.path().join("key.pem"), "not a key").unwrap();
    config(&fx, Some(json!({"certFile": "cert.pem", "keyFile": "key.pem"})));
    let out = run_wasp(&["run", "--config", "audit.json", "--listen", "127.0.0.1:0"], None, fx.path());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("wasp.sidecar.tls.certFile") && stderr.contains("cert.pem") && stderr.contains("no CERTIFICATE"), "{stderr}");

    self_signed(fx.path());
    std::fs::remove_file(fx.path().join("key.pem")).unwrap();
    let out = run_wasp(&["run", "--config", "audit.json", "--listen", "127.0.0.1:0"], None, fx.path());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("wasp.sidecar.tls.keyFile") && stderr.contains("key.pem"), "{stderr}");

    config(&fx, Some(json!({"certFile": "cert.pem"})));
    let out = run_wasp(&["config", "check", "audit.json"], None, fx.path());
    let said = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(said.contains("wasp.sidecar.tls.keyFile") && said.contains("required"), "{said}");
}
