//! `wasp verify --keystore`: a CSV log in ForgeRock's tamper-evident format
//! (written by an independent Java writer, tests/fixtures/jceks/
//! MakeForgeRockLog.java, with the keytool-made `forgerock.jceks`) passes,
//! and changed, removed or cut rows, a wrong password and a missing file
//! keystore each fail, with the password never printed.

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
