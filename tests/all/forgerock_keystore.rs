//! `wasp verify --keystore`: a CSV log in ForgeRock's tamper-evident format
//! (written by an independent Java writer, tests/fixtures/jceks/
//! MakeForgeRockLog.java, with the keytool-made `forgerock.jceks`) passes,
//! and changed, removed or cut rows, a wrong password and a missing file
//! keystore each fail, with the password never printed. The CSV handler
//! with that keystore as `security.filename` writes the same format: a
//! fresh log, a log continued after a restart, the Java-written log
//! continued, and rotated files all verify.

use std::path::{Path, PathBuf};
use std::process::Command;

use wasp_tests::{Fixture, wasp_bin};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/jceks")
}

/// A copy of the fixture log in a fresh directory.
fn log_copy(fx: &Fixture) -> PathBuf {
    let dir = fx.path().join("logs");
    std::fs::create_dir_all(&dir).unwrap();
    for f in ["access.csv", "access.csv.keystore"] {
        std::fs::copy(fixtures().join("forgerock-log").join(f), dir.join(f)).unwrap();
    }
    dir
}

/// Runs `wasp verify DIR --topic access --keystore forgerock.jceks` with
/// the password from the environment.
fn verify(dir: &Path, password: &str) -> (Option<i32>, String) {
    let out = Command::new(wasp_bin())
        .args(["verify", dir.to_str().unwrap(), "--topic", "access", "--keystore"])
        .arg(fixtures().join("forgerock.jceks"))
        .env("WASP_KEYSTORE_PASSWORD", password)
        .output()
        .unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(!text.contains(password), "the password is printed: {text}");
    (out.status.code(), text)
}

fn edit(dir: &Path, f: impl FnOnce(&mut Vec<String>)) {
    let path = dir.join("access.csv");
    let mut lines: Vec<String> = std::fs::read_to_string(&path).unwrap().lines().map(str::to_string).collect();
    f(&mut lines);
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
}

#[test]
fn a_forgerock_signed_csv_log_verifies_with_its_jceks_keystore() {
    let fx = Fixture::new();
    let dir = log_copy(&fx);
    let (code, out) = verify(&dir, "changeit");
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(out.trim(), "PASS access.csv (3 records, 2 signatures)");
}

/// A change made to a log's lines.
type Edit = fn(&mut Vec<String>);

#[test]
fn tampering_with_a_forgerock_csv_log_is_caught() {
    let fx = Fixture::new();
    let cases: [(&str, Edit, &str); 3] = [
        ("changed", |l| l[1] = l[1].replace("bjensen", "bjensem"), "row 2: the HMAC is not correct"),
        ("removed", |l| drop(l.remove(2)), "row 3: the signature is not correct"),
        ("cut", |l| l.truncate(4), "CurrentKey"),
    ];
    for (what, change, expected) in cases {
        let dir = log_copy(&fx);
        edit(&dir, change);
        let (code, out) = verify(&dir, "changeit");
        assert_eq!(code, Some(3), "{what}: {out}");
        assert!(out.starts_with("FAIL access.csv: ") && out.contains(expected), "{what}: {out}");
    }
    let dir = log_copy(&fx);
    let (code, out) = verify(&dir, "wrong-password");
    assert_ne!(code, Some(0));
    assert!(out.contains("forgerock.jceks: integrity check failed: the keystore password is wrong, or the file was altered"), "{out}");
    std::fs::remove_file(dir.join("access.csv.keystore")).unwrap();
    let (code, out) = verify(&dir, "changeit");
    assert_eq!(code, Some(3), "{out}");
    assert!(out.contains("access.csv.keystore"), "{out}");
}

// ---- The CSV handler writing ForgeRock's format ----

/// A CSV handler whose `security.filename` is the keytool-made JCEKS
/// keystore (as the seeds write it: `filename`, `password`,
/// `signatureInterval`), rotating at `max_file_size` bytes when given.
fn forgerock_config(fx: &Fixture, max_file_size: Option<u64>) -> PathBuf {
    std::fs::create_dir_all(fx.path().join("keys")).unwrap();
    std::fs::copy(fixtures().join("forgerock.jceks"), fx.path().join("keys/audit.jceks")).unwrap();
    let rotation = match max_file_size {
        Some(n) => serde_json::json!({"rotationEnabled": true, "maxFileSize": n, "rotationFileSuffix": "-yyyy.MM.dd-HH.mm.ss.SSS"}),
        None => serde_json::json!({"rotationEnabled": false}),
    };
    fx.config_doc(&serde_json::json!({"eventHandlers": [{"class": "org.forgerock.audit.handlers.csv.CsvAuditEventHandler", "config": {
        "name": "csv", "logDirectory": "logs", "topics": ["access"], "fileRotation": rotation,
        "security": {"enabled": true, "filename": "keys/audit.jceks", "password": "changeit", "signatureInterval": "50 milliseconds"}
    }}]}))
}

/// Publishes events `from..to` through the handler and shuts it down.
fn publish(config: &Path, from: usize, to: usize) {
    let audit = wasp::AuditService::from_config_file(config).unwrap();
    for n in from..to {
        let event = serde_json::json!({"_id": format!("e{n}"), "userId": format!("user-{n}"), "eventName": "access", "response": {"status": "SUCCESSFUL"}});
        audit.publish("access", event).unwrap();
        if n % 4 == 0 {
            audit.flush();
        }
    }
    audit.flush();
    let summary = audit.shutdown();
    assert_eq!(summary.handler("csv").unwrap().delivered, (to - from) as u64);
}

/// `wasp verify` of the handler's log directory with the keystore.
fn verify_logs(fx: &Fixture, extra: &[&str]) -> (Option<i32>, String) {
    let out = Command::new(wasp_bin())
        .args(["verify", fx.path().join("wasp-data/logs").to_str().unwrap(), "--topic", "access", "--keystore"])
        .arg(fx.path().join("keys/audit.jceks"))
        .args(extra)
        .env("WASP_KEYSTORE_PASSWORD", "changeit")
        .output()
        .unwrap();
    (out.status.code(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

#[test]
fn the_csv_handler_writes_forgerocks_format_with_a_jceks_keystore() {
    let fx = Fixture::new();
    let config = forgerock_config(&fx, None);
    let check = wasp_tests::run_wasp(&["config", "check", config.to_str().unwrap()], None, fx.path());
    let text = format!("{}{}", String::from_utf8_lossy(&check.stdout), String::from_utf8_lossy(&check.stderr));
    assert!(check.status.success() && !text.contains("changeit"), "{text}");
    publish(&config, 0, 10);
    let logs = fx.path().join("wasp-data/logs");
    assert!(logs.join("access.csv.keystore").exists());
    let text = std::fs::read_to_string(logs.join("access.csv")).unwrap();
    assert!(text.lines().next().unwrap().ends_with(",\"HMAC\",\"SIGNATURE\""), "{text}");
    let (code, out) = verify_logs(&fx, &[]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.starts_with("PASS access.csv (10 records, ") && !out.contains("FAIL"), "{out}");
    // One changed byte in a row fails.
    std::fs::write(logs.join("access.csv"), text.replacen("user-3", "user-8", 1)).unwrap();
    let (code, out) = verify_logs(&fx, &[]);
    assert_eq!(code, Some(3), "{out}");
    assert!(out.contains("FAIL access.csv: row ") && out.contains("the HMAC is not correct"), "{out}");
}

#[test]
fn the_csv_handler_continues_its_forgerock_log_after_a_restart() {
    let fx = Fixture::new();
    let config = forgerock_config(&fx, None);
    publish(&config, 0, 5);
    assert_eq!(verify_logs(&fx, &[]).0, Some(0));
    publish(&config, 5, 12);
    let (code, out) = verify_logs(&fx, &[]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.starts_with("PASS access.csv (12 records, "), "the whole file verifies as one: {out}");
}

#[test]
fn the_csv_handler_rotates_forgerock_files_that_each_verify() {
    let fx = Fixture::new();
    let config = forgerock_config(&fx, Some(1200));
    publish(&config, 0, 12);
    let logs = fx.path().join("wasp-data/logs");
    let archives: Vec<String> = std::fs::read_dir(&logs)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("access.csv-") && !n.ends_with(".keystore"))
        .collect();
    assert!(!archives.is_empty(), "rotated: {archives:?}");
    for a in &archives {
        assert!(logs.join(format!("{a}.keystore")).exists(), "{a} keeps its keystore beside it");
    }
    let (code, out) = verify_logs(&fx, &["--suffix", "-yyyy.MM.dd-HH.mm.ss.SSS"]);
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(out.matches("PASS").count(), archives.len() + 1, "{out}");
    let records: usize = out.lines().map(|l| l.split(" (").nth(1).unwrap().split(' ').next().unwrap().parse::<usize>().unwrap()).sum();
    assert_eq!(records, 12, "{out}");
}

#[test]
fn the_csv_handler_continues_a_log_written_by_java() {
    // `forgerock-log-logins/`: written by the independent Java writer
    // (MakeForgeRockLog.java) for a custom topic `logins` whose columns are
    // `_id`, `status`, `userId`.
    let fx = Fixture::new();
    std::fs::create_dir_all(fx.path().join("keys")).unwrap();
    std::fs::copy(fixtures().join("forgerock.jceks"), fx.path().join("keys/audit.jceks")).unwrap();
    let logs = fx.path().join("wasp-data/logs");
    std::fs::create_dir_all(&logs).unwrap();
    for f in ["logins.csv", "logins.csv.keystore"] {
        std::fs::copy(fixtures().join("forgerock-log-logins").join(f), logs.join(f)).unwrap();
    }
    std::fs::create_dir_all(fx.path().join("schemas")).unwrap();
    let schema = serde_json::json!({"schema": {"type": "object", "properties": {
        "_id": {"type": "string"}, "status": {"type": "string"}, "userId": {"type": "string"}}}});
    std::fs::write(fx.path().join("schemas/logins.json"), schema.to_string()).unwrap();
    let config = fx.config_doc(
        &serde_json::json!({"topicsSchemasDirectory": "schemas", "eventHandlers": [{"class": "CsvAuditEventHandler", "config": {
            "name": "csv", "logDirectory": "logs", "topics": ["logins"],
            "security": {"enabled": true, "filename": "keys/audit.jceks", "password": "changeit", "signatureInterval": "50 milliseconds"}
        }}]}),
    );
    let verify = || {
        let out = Command::new(wasp_bin())
            .args(["verify", logs.to_str().unwrap(), "--topic", "logins", "--keystore"])
            .arg(fx.path().join("keys/audit.jceks"))
            .env("WASP_KEYSTORE_PASSWORD", "changeit")
            .output()
            .unwrap();
        (out.status.code(), String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr))
    };
    assert_eq!(verify(), (Some(0), "PASS logins.csv (3 records, 2 signatures)\n".to_string()));
    let audit = wasp::AuditService::from_config_file(&config).unwrap();
    for n in 4..7 {
        audit.publish("logins", serde_json::json!({"_id": format!("0419-{n}"), "userId": "bjensen", "status": "FAILED"})).unwrap();
    }
    audit.flush();
    assert_eq!(audit.shutdown().handler("csv").unwrap().delivered, 3);
    let text = std::fs::read_to_string(logs.join("logins.csv")).unwrap();
    assert!(text.starts_with("_id,status,userId,HMAC,SIGNATURE\n0419-1,SUCCESSFUL,bjensen,"), "Java's rows are kept: {text}");
    assert!(text.contains("\"0419-6\",\"FAILED\",\"bjensen\","), "{text}");
    let (code, out) = verify();
    assert_eq!(code, Some(0), "{out}");
    assert!(out.starts_with("PASS logins.csv (6 records, "), "Java's rows and WASP's verify as one file: {out}");
}
