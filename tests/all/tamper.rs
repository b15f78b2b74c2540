//! Tamper evidence end to end: a JSON and a CSV handler with `security`
//! enabled write chained, signed files across rotations; `wasp verify`
//! passes them, and fails each kind of tampering, naming the file and line.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use wasp::AuditService;
use wasp_tests::{Fixture, run_wasp};

/// Writes 40 access events through a tamper-evident handler of `class`
/// rotating every ~1500 bytes; returns the log directory and key file.
fn signed_logs(fx: &Fixture, class: &str, suffix: &str) -> (PathBuf, PathBuf) {
    std::fs::create_dir_all(fx.path().join("keys")).unwrap();
    let out = run_wasp(&["keygen", "--out", "keys/audit.key"], None, fx.path());
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let config = fx.config_doc(&json!({"eventHandlers": [{"class": class, "config": {
        "name": "signed", "logDirectory": "logs", "topics": ["access"],
        "fileRotation": {"rotationEnabled": true, "maxFileSize": 1500, "rotationFileSuffix": suffix},
        "security": {"enabled": "true", "filename": "keys/audit.key", "password": "ignored", "signatureInterval": "50 ms"}
    }}]}));
    let audit = AuditService::from_config_file(&config).unwrap();
    for n in 0..40 {
        audit
            .publish(
                "access",
                json!({"_id": format!("e{n}"), "userId": format!("user-{n}"), "eventName": "access", "response": {"status": "SUCCESSFUL"}}),
            )
            .unwrap();
        if n % 10 == 0 {
            audit.flush();
        }
    }
    audit.flush();
    let summary = audit.shutdown();
    assert_eq!(summary.handler("signed").unwrap().delivered, 40);
    (fx.path().join("wasp-data/logs"), fx.path().join("keys/audit.key"))
}

fn verify(dir: &Path, key: &Path, cwd: &Path) -> (Option<i32>, String) {
    let out = run_wasp(
        &["verify", dir.to_str().unwrap(), "--topic", "access", "--key", key.to_str().unwrap(), "--suffix", "-yyyy.MM.dd-HH.mm.ss.SSS"],
        None,
        cwd,
    );
    (out.status.code(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

/// The files of the output, archives oldest first, then the live file.
fn files(dir: &Path, live: &str) -> Vec<PathBuf> {
    let mut archives: Vec<PathBuf> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).filter(|p| !p.ends_with(live)).collect();
    archives.sort();
    archives.push(dir.join(live));
    archives
}

/// A copy of the logs to tamper with.
fn copy(dir: &Path, to: &Path) -> PathBuf {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
    }
    to.to_owned()
}

fn edit_lines(path: &Path, f: impl FnOnce(&mut Vec<String>)) {
    let mut lines: Vec<String> = std::fs::read_to_string(path).unwrap().lines().map(str::to_owned).collect();
    f(&mut lines);
    std::fs::write(path, lines.iter().map(|l| format!("{l}\n")).collect::<String>()).unwrap();
}

/// Index of the `nth` data line (not a signed record) of a JSON log.
fn data_line(lines: &[String], nth: usize) -> usize {
    lines.iter().enumerate().filter(|(_, l)| !l.starts_with("{\"_signature\"")).nth(nth).map(|(i, _)| i).expect("enough data lines")
}

/// What is done, how, and what `wasp verify` must say.
type Case = (&'static str, Box<dyn Fn(&[PathBuf])>, &'static str);

#[test]
fn every_kind_of_tampering_with_a_json_log_is_detected() {
    let fx = Fixture::new();
    let (logs, key) = signed_logs(&fx, "JsonAuditEventHandler", "-yyyy.MM.dd-HH.mm.ss.SSS");
    let live = "access.audit.json";
    let all = files(&logs, live);
    assert!(all.len() >= 4, "several archives: {all:?}");
    let (code, report) = verify(&logs, &key, fx.path());
    assert_eq!(code, Some(0), "{report}");
    assert_eq!(report.matches("PASS").count(), all.len(), "{report}");
    // Each sealed line carries its sequence number and MAC.
    let first: Value = serde_json::from_str(std::fs::read_to_string(&all[0]).unwrap().lines().nth(1).unwrap()).unwrap();
    assert_eq!(first["_integrity"]["seq"], "1");

    let cases: Vec<Case> = vec![
        (
            "one byte changed",
            Box::new(|f: &[PathBuf]| {
                edit_lines(&f[1], |l| {
                    let i = data_line(l, 1);
                    l[i] = l[i].replacen("user-", "usEr-", 1);
                })
            }),
            "MAC does not match",
        ),
        (
            "a line deleted",
            Box::new(|f: &[PathBuf]| {
                edit_lines(&f[1], |l| {
                    let i = data_line(l, 1);
                    l.remove(i);
                })
            }),
            "with no signed gap record",
        ),
        (
            "a line inserted",
            Box::new(|f: &[PathBuf]| {
                edit_lines(&f[1], |l| {
                    let i = data_line(l, 1);
                    let copy = l[i].clone();
                    l.insert(i, copy);
                })
            }),
            "goes back",
        ),
        (
            "lines reordered",
            Box::new(|f: &[PathBuf]| {
                edit_lines(&f[2], |l| {
                    let (a, b) = (data_line(l, 0), data_line(l, 1));
                    l.swap(a, b);
                })
            }),
            "jumps",
        ),
        (
            "the tail truncated",
            Box::new(|f: &[PathBuf]| {
                edit_lines(f.last().unwrap(), |l| {
                    l.pop();
                })
            }),
            "without the `close` signature",
        ),
        ("an archive removed", Box::new(|f: &[PathBuf]| std::fs::remove_file(&f[1]).unwrap()), "files were removed, renamed or swapped"),
        (
            "two archives swapped",
            Box::new(|f: &[PathBuf]| {
                let tmp = f[1].with_extension("tmp");
                std::fs::rename(&f[1], &tmp).unwrap();
                std::fs::rename(&f[2], &f[1]).unwrap();
                std::fs::rename(&tmp, &f[2]).unwrap();
            }),
            "files were removed, renamed or swapped",
        ),
        (
            "a sequence gap",
            Box::new(|f: &[PathBuf]| {
                edit_lines(&f[2], |l| {
                    let i = data_line(l, 0);
                    let j = data_line(l, 1);
                    let seq: Value = serde_json::from_str(&l[i]).unwrap();
                    let s: u64 = seq["_integrity"]["seq"].as_str().unwrap().parse().unwrap();
                    l[j] = l[j].replace(&format!("\"seq\":\"{}\"", s + 1), &format!("\"seq\":\"{}\"", s + 5));
                })
            }),
            "jumps",
        ),
    ];
    for (n, (what, tamper, expected)) in cases.iter().enumerate() {
        let dir = copy(&logs, &fx.path().join(format!("case-{n}")));
        tamper(&files(&dir, live));
        let (code, report) = verify(&dir, &key, fx.path());
        assert_eq!(code, Some(3), "{what}: must fail\n{report}");
        assert!(report.contains("FAIL") && report.contains(expected), "{what}: expected `{expected}`\n{report}");
    }
}

#[test]
fn a_csv_log_is_sealed_per_row_and_tampering_is_detected() {
    let fx = Fixture::new();
    let (logs, key) = signed_logs(&fx, "org.forgerock.audit.handlers.csv.CsvAuditEventHandler", "-yyyy.MM.dd-HH.mm.ss.SSS");
    let all = files(&logs, "access.csv");
    let header = std::fs::read_to_string(&all[0]).unwrap().lines().next().unwrap().to_owned();
    assert!(header.starts_with("\"_id\",") && header.ends_with("\"SEQ\",\"HMAC\",\"SIGNATURE\""), "{header}");
    let (code, report) = verify(&logs, &key, fx.path());
    assert_eq!(code, Some(0), "{report}");
    let dir = copy(&logs, &fx.path().join("tampered"));
    edit_lines(&files(&dir, "access.csv")[1], |l| {
        let i = l.iter().position(|r| r.contains("user-")).unwrap();
        l[i] = l[i].replacen("user-", "admin-", 1);
    });
    let (code, report) = verify(&dir, &key, fx.path());
    assert_eq!(code, Some(3), "{report}");
    assert!(report.contains("MAC does not match"), "{report}");
}

#[test]
fn gzipped_archives_verify_and_another_key_fails() {
    let fx = Fixture::new();
    let (logs, key) = signed_logs(&fx, "JsonAuditEventHandler", "-yyyy.MM.dd-HH.mm.ss.SSS.gz");
    let all = files(&logs, "access.audit.json");
    assert!(all[0].to_string_lossy().ends_with(".gz"), "{all:?}");
    let out = run_wasp(
        &["verify", logs.to_str().unwrap(), "--topic", "access", "--key", key.to_str().unwrap(), "--suffix", "-yyyy.MM.dd-HH.mm.ss.SSS.gz"],
        None,
        fx.path(),
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
    run_wasp(&["keygen", "--out", "keys/other.key"], None, fx.path());
    let out = run_wasp(
        &["verify", logs.to_str().unwrap(), "--topic", "access", "--key", "keys/other.key", "--suffix", "-yyyy.MM.dd-HH.mm.ss.SSS.gz"],
        None,
        fx.path(),
    );
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stdout).contains("signature is not valid"), "{}", String::from_utf8_lossy(&out.stdout));
}
