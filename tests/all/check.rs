//! `wasp check`: names the world a component implements, or why it does not
//! fit.

use wasp_tests::{Fixture, guests, run_wasp};

fn check(path: &str) -> (Option<i32>, String, String) {
    let fx = Fixture::new();
    let out = run_wasp(&["check", path], None, fx.path());
    (out.status.code(), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn the_rust_sample_implements_the_packed_handler_world() {
    let (code, stdout, _) = check(guests::ACCESS_ANYWHERE_FILE);
    assert_eq!(code, Some(0), "{stdout}");
    assert!(stdout.contains("implements wasp:handler/packed-handler@0.1.0"), "{stdout}");
    assert!(stdout.contains("exports: init, handle-batch, handle-packed"), "{stdout}");
    assert!(stdout.contains("wasp:handler/output@0.1.0"), "lists its imports: {stdout}");
}

#[test]
fn a_handler_without_packed_batches_implements_the_handler_world() {
    // Built with wit-bindgen alone (world `handler`), not the SDK.
    let (code, stdout, _) = check(guests::MISCOUNT);
    assert_eq!(code, Some(0), "{stdout}");
    assert!(stdout.contains("implements wasp:handler/handler@0.1.0"), "{stdout}");
    assert!(!stdout.contains("handle-packed"), "{stdout}");
}

#[test]
fn a_filter_is_recognised() {
    let (code, stdout, _) = check(guests::KEEP_ALL_FILTER);
    assert_eq!(code, Some(0), "{stdout}");
    assert!(stdout.contains("implements wasp:handler/packed-filter@0.1.0"), "{stdout}");
}

#[test]
fn a_command_component_is_explained() {
    let (code, stdout, _) = check(guests::NOT_A_HANDLER);
    assert_eq!(code, Some(3));
    assert!(stdout.contains("not a WASP handler or filter"), "{stdout}");
    assert!(stdout.contains("this component exports `wasi:cli/run@0.2.0`"), "{stdout}");
    assert!(stdout.contains("a handler exports `init` and `handle-batch`"), "{stdout}");
}

#[test]
fn json_report() {
    let fx = Fixture::new();
    let out = run_wasp(&["check", "--json", guests::PROBE], None, fx.path());
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["world"], "wasp:handler/packed-handler@0.1.0");
    assert_eq!(report["problems"], serde_json::json!([]));
    assert!(report["imports"].as_array().unwrap().iter().any(|i| i == "wasp:handler/state@0.1.0"));
}

#[test]
fn a_core_module_or_a_missing_file_is_an_error() {
    let fx = Fixture::new();
    let core = fx.path().join("core.wasm");
    std::fs::write(&core, b"\0asm\x01\0\0\0").unwrap();
    let (code, _, stderr) = check(core.to_str().unwrap());
    assert_eq!(code, Some(1));
    assert!(stderr.contains("core WebAssembly module, not a component"), "{stderr}");

    let (code, _, stderr) = check("/nonexistent/handler.wasm");
    assert_eq!(code, Some(1));
    assert!(stderr.contains("cannot read component /nonexistent/handler.wasm"), "{stderr}");
}

/// `wasp check x.wasm | head -1`: a reader that stops early must not turn a
/// passing check into a panic (the shell sees the exit code, not a backtrace).
#[test]
fn a_closed_stdout_is_not_a_crash() {
    let fx = Fixture::new();
    let mut child = std::process::Command::new(wasp_tests::wasp_bin())
        .args(["check", guests::PROBE])
        .current_dir(fx.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Close the read end before wasp has loaded the component and printed.
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}
