//! `wasp new` scaffolds a handler project in Rust, Python and JavaScript
//! that builds and passes its own test (`test.sh`: build the component, run
//! it with `wasp pipe`, compare with `expected.log`) out of the box.
//!
//! Python and JavaScript use the pinned tools `scripts/build-guests.sh`
//! installs (under `CI=true` they must be there; otherwise the test is
//! skipped with the reason).

use std::path::PathBuf;
use std::process::Command;

use wasp_tests::{in_ci, repo_root, run_wasp, wasp_bin};

/// The environment naming a tool `scripts/build-guests.sh` installed, or
/// `None` (skipped outside CI) when it is missing.
fn tool(variable: &str, path: PathBuf) -> Option<(&str, PathBuf)> {
    if path.exists() {
        return Some((variable, path));
    }
    let reason = format!("{} is missing: run scripts/build-guests.sh (scripts/test.sh does)", path.display());
    assert!(!in_ci(), "{reason}");
    eprintln!("skipped: {reason}");
    None
}

fn scaffold_and_test(name: &str, lang: &str, env: &[(&str, PathBuf)]) {
    let dir = tempfile::tempdir().unwrap();
    // This checkout's SDK: the published crate is not what is under test.
    let sdk = wasp_tests::repo_root().join("guest-sdk");
    let created = run_wasp(&["new", name, "--lang", lang, "--sdk", sdk.to_str().unwrap()], None, dir.path());
    assert!(created.status.success(), "{}", String::from_utf8_lossy(&created.stderr));
    let project = dir.path().join(name);
    let mut test = Command::new("bash");
    test.arg(project.join("test.sh")).env("WASP", wasp_bin());
    for (k, v) in env {
        test.env(k, v);
    }
    let out = test.output().unwrap();
    let said = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{name}/test.sh failed:\n{said}");
    assert!(said.contains(&format!("PASS: {name}")), "{said}");
    assert!(project.join(format!("{name}.wasm")).exists());

    // Without --sdk a Rust scaffold names the published crate, never a path
    // of the machine `wasp` was built on.
    if lang == "rust" {
        let plain = dir.path().join("plain");
        let created = run_wasp(&["new", name, "--lang", lang, "--dir", plain.to_str().unwrap()], None, dir.path());
        assert!(created.status.success());
        let manifest = std::fs::read_to_string(plain.join("Cargo.toml")).unwrap();
        assert!(manifest.contains(&format!("wasp-guest = \"{}\"", env!("CARGO_PKG_VERSION"))), "{manifest}");
        assert!(!manifest.contains("path ="), "{manifest}");
    }

    // The scaffold refuses to overwrite a project.
    let again = run_wasp(&["new", name, "--lang", lang], None, dir.path());
    assert_eq!(again.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&again.stderr).contains("is not empty"));
}

#[test]
fn wasp_new_rust_builds_and_passes_its_own_test() {
    // A shared target directory keeps the dependencies' build across runs.
    scaffold_and_test("hello-rust", "rust", &[("CARGO_TARGET_DIR", repo_root().join("target/new-scaffold"))]);
}

#[test]
fn wasp_new_python_builds_and_passes_its_own_test() {
    let Some(tool) = tool("COMPONENTIZE_PY", repo_root().join("target/guest-tools/venv/bin/componentize-py")) else {
        return;
    };
    scaffold_and_test("hello-python", "python", &[tool]);
}

#[test]
fn wasp_new_js_builds_and_passes_its_own_test() {
    let Some(tool) = tool("COMPONENTIZE_JS", repo_root().join("guest-sdk-js/node_modules/@bytecodealliance/componentize-js/src/cli.js"))
    else {
        return;
    };
    scaffold_and_test("hello-js", "js", &[tool]);
}

#[test]
fn wasp_new_refuses_a_bad_name() {
    let dir = tempfile::tempdir().unwrap();
    let out = run_wasp(&["new", "Bad Name", "--lang", "rust"], None, dir.path());
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("NAME `Bad Name`: use lowercase letters"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
