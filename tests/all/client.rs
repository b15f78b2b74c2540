//! The sidecar over TLS and its command-line client, end to end: `wasp run`
//! serving HTTPS with a self-signed certificate, `wasp send` posting an
//! NDJSON file with a bad line (reported by line number, the rest
//! delivered), `wasp query --url` reading it back; plain HTTP and an
//! untrusted client refused; unusable TLS files named.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};
use wasp_tests::{Fixture, WaspRun, run_wasp};

const TOKEN: &str = "client-token";

/// Writes a self-signed `cert.pem` and its `key.pem` for
/// `localhost`/`127.0.0.1` into `dir`; with `is_ca`, the certificate is also
/// marked as a CA (what `openssl req -x509` makes by default).
fn self_signed(dir: &Path, is_ca: bool) {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()]).unwrap();
    if is_ca {
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    }
    let cert = params.self_signed(&key).unwrap();
    std::fs::write(dir.join("cert.pem"), cert.pem()).unwrap();
    std::fs::write(dir.join("key.pem"), key.serialize_pem()).unwrap();
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
    self_signed(fx.path(), false);
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
        &[
            "query",
            "--url",
            &run.url,
            "--topic",
            "access",
            "--filter",
            "userId eq \"bjensen\"",
            "--page-size",
            "100",
            "--cacert",
            "cert.pem",
            "--token",
            TOKEN,
        ],
        None,
        fx.path(),
    );
    assert!(queried.status.success(), "{}", String::from_utf8_lossy(&queried.stderr));
    let page: Value = serde_json::from_slice(&queried.stdout).unwrap();
    assert_eq!(page["resultCount"], 23, "{page}");
    let one = run_wasp(
        &["query", "--url", &run.url, "--topic", "access", "--id", "s3", "--cacert", "cert.pem", "--token", TOKEN],
        Some(""),
        fx.path(),
    );
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

    self_signed(fx.path(), false);
    std::fs::remove_file(fx.path().join("key.pem")).unwrap();
    let out = run_wasp(&["run", "--config", "audit.json", "--listen", "127.0.0.1:0"], None, fx.path());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("wasp.sidecar.tls.keyFile") && stderr.contains("key.pem"), "{stderr}");

    // `wasp config check` reads the files too.
    let out = run_wasp(&["config", "check", "audit.json"], None, fx.path());
    let said = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(3), "{said}");
    assert!(said.contains("sidecar: https") && said.contains("error: wasp.sidecar.tls.keyFile: ") && said.contains("key.pem"), "{said}");

    config(&fx, Some(json!({"certFile": "cert.pem"})));
    let out = run_wasp(&["config", "check", "audit.json"], None, fx.path());
    let said = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(said.contains("wasp.sidecar.tls.keyFile") && said.contains("required"), "{said}");
}

/// A scripted stand-in for the sidecar: answers the requests in order with
/// `answers` (status, extra header, body), one connection each, and returns
/// the bodies it received.
fn fake_sidecar(answers: Vec<(u16, &'static str, String)>) -> (String, std::thread::JoinHandle<Vec<String>>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let server = std::thread::spawn(move || {
        let mut bodies = Vec::new();
        for (status, header, body) in answers {
            let (mut stream, _) = listener.accept().unwrap();
            stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut length = 0usize;
            loop {
                let mut line = String::new();
                reader.read_line(&mut line).unwrap();
                if line == "\r\n" || line.is_empty() {
                    break;
                }
                if let Some((name, value)) = line.split_once(':')
                    && name.eq_ignore_ascii_case("content-length")
                {
                    length = value.trim().parse().unwrap();
                }
            }
            let mut received = vec![0; length];
            reader.read_exact(&mut received).unwrap();
            bodies.push(String::from_utf8(received).unwrap());
            let reason = match status {
                200 => "OK",
                413 => "Payload Too Large",
                _ => "Service Unavailable",
            };
            let response = format!(
                "HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\n{header}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            stream.write_all(response.as_bytes()).unwrap();
        }
        bodies
    });
    (url, server)
}

#[test]
fn wasp_send_splits_a_batch_over_the_limit_resends_after_retry_after_and_counts_unanswered_lines() {
    let fx = Fixture::new();
    let lines: Vec<String> = (1..=6).map(|n| json!({"n": n}).to_string()).collect();
    std::fs::write(fx.path().join("events.ndjson"), lines.join("\n")).unwrap();
    let ok = |line: u64| json!({"line": line, "status": 201, "_id": format!("id-{line}"), "sequence": line});
    let crest = |code: u16, reason: &str, message: &str| json!({"code": code, "reason": reason, "message": message});
    let (url, server) = fake_sidecar(vec![
        // All six: too large → halves [1, 2, 3] and [4, 5, 6].
        (413, "", crest(413, "Payload Too Large", "the batch holds 6 events, more than maxBatchEvents (3)").to_string()),
        // [1, 2, 3]: overloaded as a whole → again after Retry-After.
        (503, "Retry-After: 1\r\n", crest(503, "Service Unavailable", "journal full").to_string()),
        // [1, 2, 3]: line 2 refused with 503 → only line 2 again; line 3
        // missing from the answer → counted as rejected, not dropped.
        (
            200,
            "Retry-After: 1\r\n",
            json!({"results": [ok(1), {"line": 2, "status": 503, "error": crest(503, "Service Unavailable", "journal full")}],
                   "accepted": 1, "rejected": 1})
            .to_string(),
        ),
        (200, "", json!({"results": [ok(1)], "accepted": 1, "rejected": 0}).to_string()),
        // [4, 5, 6]: the middle one is refused for good.
        (
            200,
            "",
            json!({"results": [ok(1), {"line": 2, "status": 400, "error": crest(400, "Bad Request", "no such field")}, ok(3)],
                   "accepted": 2, "rejected": 1})
            .to_string(),
        ),
    ]);
    let out = run_wasp(&["send", "--url", &url, "--topic", "access", "--batch", "6", "events.ndjson"], None, fx.path());
    let stderr = String::from_utf8_lossy(&out.stderr);
    let bodies = server.join().unwrap();
    let sent = |numbers: &[usize]| numbers.iter().map(|n| lines[n - 1].clone()).collect::<Vec<_>>().join("\n");
    assert_eq!(bodies, [sent(&[1, 2, 3, 4, 5, 6]), sent(&[1, 2, 3]), sent(&[1, 2, 3]), sent(&[2]), sent(&[4, 5, 6])]);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("line 3: the sidecar's answer has no result for it"), "{stderr}");
    assert!(stderr.contains("line 5: 400: no such field"), "the input's line number: {stderr}");
    assert!(stderr.contains("wasp send: 6 events: 4 accepted, 2 rejected"), "{stderr}");
}

#[test]
fn wasp_query_tenant_reads_a_tenants_events_through_the_sidecar_and_from_the_files() {
    const ACME: &str = "acme-token";
    let fx = Fixture::new();
    let json_handler = json!({"class": "JsonAuditEventHandler",
                              "config": {"name": "json", "logDirectory": "logs", "topics": ["access"], "buffering": {"writeInterval": "20 ms"}}});
    fx.config_doc(&json!({
        "config": {"handlerForQueries": "json"},
        "eventHandlers": [json_handler],
        "tenants": {"acme": {"handlerForQueries": "json", "eventHandlers": [json_handler]}},
        "wasp": {"sidecar": {
            "adminToken": wasp::sidecar::hash_token(TOKEN),
            "tokens": [{"tenant": "acme", "hash": wasp::sidecar::hash_token(ACME)}]
        }}
    }));
    let run = WaspRun::start(fx.path());
    std::fs::write(fx.path().join("acme.ndjson"), "{\"_id\": \"a1\"}\n{\"_id\": \"a2\"}\n").unwrap();
    std::fs::write(fx.path().join("top.ndjson"), "{\"_id\": \"t1\"}\n").unwrap();
    let send = |extra: &[&str], file: &str| {
        let mut argv = vec!["send", "--url", &run.url, "--topic", "access", "--token", TOKEN, file];
        argv.extend(extra);
        run_wasp(&argv, None, fx.path())
    };
    for sent in [send(&["--tenant", "acme"], "acme.ndjson"), send(&[], "top.ndjson")] {
        assert!(sent.status.success(), "{}", String::from_utf8_lossy(&sent.stderr));
    }
    let acme_log = fx.path().join("wasp-data/tenants/acme/logs/access.audit.json");
    wasp_tests::wait_for("acme's events in its file", || std::fs::read_to_string(&acme_log).is_ok_and(|t| t.lines().count() == 2));
    wasp_tests::wait_for("the top-level event", || written_ids(&fx).len() == 1);

    let ids = |out: &std::process::Output| -> Vec<String> {
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let page: Value = serde_json::from_slice(&out.stdout).unwrap();
        page["result"].as_array().unwrap().iter().map(|e| e["_id"].as_str().unwrap().to_owned()).collect()
    };
    // The admin names the tenant; the tenant's own token needs not.
    let admin = run_wasp(&["query", "--url", &run.url, "--topic", "access", "--tenant", "acme", "--token", TOKEN], None, fx.path());
    assert_eq!(ids(&admin), ["a1", "a2"]);
    let own = run_wasp(&["query", "--url", &run.url, "--topic", "access", "--token", ACME], None, fx.path());
    assert_eq!(ids(&own), ["a1", "a2"]);
    let one =
        run_wasp(&["query", "--url", &run.url, "--topic", "access", "--tenant", "acme", "--id", "a2", "--token", ACME], None, fx.path());
    assert_eq!(serde_json::from_slice::<Value>(&one.stdout).unwrap()["_id"], "a2");
    let top = run_wasp(&["query", "--url", &run.url, "--topic", "access", "--token", TOKEN], None, fx.path());
    assert_eq!(ids(&top), ["t1"]);
    // A tenant's token may not name the top level's events, or another tenant.
    let other = run_wasp(&["query", "--url", &run.url, "--topic", "access", "--tenant", "globex", "--token", ACME], None, fx.path());
    assert_eq!(other.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&other.stderr);
    assert!(stderr.contains("(403)") && stderr.contains("may not query the events of tenant `globex`"), "{stderr}");

    let (code, stderr) = run.terminate();
    assert_eq!(code, Some(0), "{stderr}");
    // Without a sidecar, from the files.
    let local = run_wasp(
        &["query", "--config", "audit.json", "--topic", "access", "--tenant", "acme", "--filter", "_id eq \"a1\""],
        None,
        fx.path(),
    );
    assert_eq!(ids(&local), ["a1"]);
    let unknown = run_wasp(&["query", "--config", "audit.json", "--topic", "access", "--tenant", "initech"], None, fx.path());
    assert!(
        String::from_utf8_lossy(&unknown.stderr).contains("no tenant `initech` is configured"),
        "{}",
        String::from_utf8_lossy(&unknown.stderr)
    );
}

#[test]
fn wasp_send_trusts_a_self_signed_certificate_that_is_its_own_ca_and_nothing_else() {
    let fx = Fixture::new();
    self_signed(fx.path(), true);
    config(&fx, Some(json!({"certFile": "cert.pem", "keyFile": "key.pem"})));
    let run = WaspRun::start(fx.path());
    std::fs::write(fx.path().join("events.ndjson"), json!({"_id": "ca1", "userId": "bjensen"}).to_string() + "\n").unwrap();
    let sent = run_wasp(
        &["send", "--url", &run.url, "--topic", "access", "--token", TOKEN, "--cacert", "cert.pem", "events.ndjson"],
        None,
        fx.path(),
    );
    let stderr = String::from_utf8_lossy(&sent.stderr);
    assert!(sent.status.success(), "{stderr}");
    assert!(stderr.contains("1 events: 1 accepted"), "{stderr}");
    // Another self-signed certificate in --cacert: the server is not trusted.
    let other = Fixture::new();
    self_signed(other.path(), true);
    let other_cert = other.path().join("cert.pem");
    let refused = run_wasp(
        &["send", "--url", &run.url, "--topic", "access", "--token", TOKEN, "--cacert", other_cert.to_str().unwrap(), "events.ndjson"],
        None,
        fx.path(),
    );
    assert_ne!(refused.status.code(), Some(0), "{}", String::from_utf8_lossy(&refused.stderr));
    assert!(written_ids(&fx).len() <= 1);
}
