//! Start-up with a cold and a warm compiled-component cache: the time
//! `AuditService::new` takes to load a handler's component (compile it, or
//! load the cached machine code), instantiate it and run its `init`, and to
//! shut down again. A Rust handler (the test probe) always; every other
//! component named in `WASP_START_COMPONENTS` (`label=path.wasm`,
//! comma-separated) too, e.g. a Python or JavaScript build.
//!
//! `cargo bench -p wasp-tests --bench start`. Results are in
//! `docs/benchmarks.md`.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::json;
use wasp::{AuditService, Config};
use wasp_tests::guests;

const COLD_RUNS: usize = 3;
const WARM_RUNS: usize = 10;

/// One start and stop of a service running `component`, with its compiled
/// cache in `cache`.
fn start(dir: &Path, component: &Path, cache: &Path) -> Duration {
    let doc = json!({"eventHandlers": [{"class": "wasm", "config": {
        "name": "h", "topics": ["access"], "component": component,
        "outputs": {"out": {"type": "file", "path": "out.log"}}
    }}], "wasp": {"cacheDirectory": cache, "journal": {"durability": "memory"}, "validation": {"requiredFields": []}}});
    let config = Config::from_json(&doc.to_string(), dir, "<bench>").unwrap();
    let started = Instant::now();
    let service = AuditService::new(config).unwrap();
    let took = started.elapsed();
    let summary = service.shutdown();
    assert_eq!(summary.handlers[0].state, wasp::HandlerState::Running, "{:?}", summary.handlers[0].disabled_reason);
    took
}

fn median(mut xs: Vec<Duration>) -> Duration {
    xs.sort();
    xs[xs.len() / 2]
}

fn main() {
    // `cargo bench` passes `--bench`; a plain `cargo test` run of benches
    // passes nothing and should not spend minutes here.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let mut components: Vec<(String, PathBuf)> = vec![("rust (probe)".into(), PathBuf::from(guests::PROBE))];
    if let Ok(more) = std::env::var("WASP_START_COMPONENTS") {
        for item in more.split(',').filter(|s| !s.is_empty()) {
            let (label, path) = item.split_once('=').expect("WASP_START_COMPONENTS: label=path.wasm,…");
            components.push((label.to_owned(), PathBuf::from(path)));
        }
    }
    let dir = tempfile::tempdir().unwrap();
    // The engine (process-wide) is created once, before any measurement.
    let _ = AuditService::new(Config::from_json(r#"{"wasp": {"journal": {"durability": "memory"}}}"#, dir.path(), "<bench>").unwrap())
        .unwrap()
        .shutdown();
    println!("| component | size | cold start (compile) | warm start (cached) | ratio |");
    println!("|---|---|---|---|---|");
    for (label, path) in components {
        let size = std::fs::metadata(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())).len();
        let cold = median(
            (0..COLD_RUNS)
                .map(|i| {
                    let cache = dir.path().join(format!("cold-{label}-{i}"));
                    start(dir.path(), &path, &cache)
                })
                .collect(),
        );
        let cache = dir.path().join(format!("warm-{label}"));
        start(dir.path(), &path, &cache);
        let warm = median((0..WARM_RUNS).map(|_| start(dir.path(), &path, &cache)).collect());
        println!(
            "| {label} | {:.1} MB | {:.0} ms | {:.1} ms | {:.0}× |",
            size as f64 / 1e6,
            cold.as_secs_f64() * 1e3,
            warm.as_secs_f64() * 1e3,
            cold.as_secs_f64() / warm.as_secs_f64()
        );
    }
}
