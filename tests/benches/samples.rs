//! Cost of each sample handler and filter per event: fuel (exact, from the
//! engine) and wall-clock nanoseconds, measured the same way for every
//! sample so that languages compare.
//!
//! `cargo bench -p wasp-tests --bench samples` (add `-- NAME` to run the
//! samples whose name contains NAME). For each sample: one instance
//! (`init` once), default budgets, batches of 64 events, after a warm-up;
//! fuel per event is exact, time per event is the median of
//! `ROUNDS` rounds of `BATCHES` batches, measured around the guest call
//! only (no journal, no output writes: the records are staged and dropped).
//! Results are in `docs/benchmarks.md`.
//!
//! To add a sample (another language, another sample): one more entry in
//! `samples()` — its name, `Kind`, the component's path (a `guests::`
//! constant), its `config`, its declared outputs and the events it gets.
//!
//! To compare other builds of access-anywhere-file (an earlier version,
//! another opt-level, a stripped-down handler emitting to `audit.log`) in
//! the same run: `WASP_SAMPLES_EXTRA=before=/tmp/old.wasm,o3=/tmp/o3.wasm`
//! adds one row per `label=path`, language `Rust (label)`.

use std::sync::Arc;
use std::time::Instant;

use serde_json::{Map, Value, json};
use wasp::engine::{Budgets, OutputSpec, StateStore, WaspEngine};
use wasp::event::HostEvent;
use wasp_tests::guests;

const BATCH: usize = 64;
const BATCHES: usize = 50;
const ROUNDS: usize = 7;

enum Kind {
    Handler { outputs: &'static [&'static str] },
    Filter,
}

struct Sample {
    name: &'static str,
    language: &'static str,
    kind: Kind,
    component: &'static str,
    config: Value,
    /// The events, cycled.
    events: Vec<(&'static str, Value)>,
}

fn access(n: u64, extra: Value) -> Value {
    let mut event = json!({
        "_id": format!("e{n}"), "timestamp": "2026-11-22T06:00:00.123Z", "transactionId": format!("tx-{n}"),
        "eventName": "AM-ACCESS-OUTCOME", "userId": "bjensen", "client": {"ip": "203.0.113.7", "port": 44321},
        "request": {"protocol": "HTTP", "operation": "GET", "detail": {"path": "/files/q3.pdf"}},
        "response": {"status": "SUCCESSFUL", "statusCode": "200", "elapsedTime": 12, "elapsedTimeUnits": "MILLISECONDS"}
    });
    event.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    event
}

/// `target/guests/<lang>/access_anywhere_file.wasm` (empty when not built:
/// the sample is skipped).
fn language_build(lang: &str) -> &'static str {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../target/guests/{lang}/access_anywhere_file.wasm"));
    if path.exists() { Box::leak(path.display().to_string().into_boxed_str()) } else { "" }
}

/// The `WASP_SAMPLES_EXTRA` builds of access-anywhere-file.
fn extra_builds() -> Vec<Sample> {
    let Ok(list) = std::env::var("WASP_SAMPLES_EXTRA") else {
        return Vec::new();
    };
    list.split(',')
        .filter(|entry| !entry.is_empty())
        .map(|entry| {
            let (label, path) = entry.split_once('=').expect("WASP_SAMPLES_EXTRA: label=path[,label=path]");
            Sample {
                name: "access-anywhere-file",
                language: Box::leak(format!("Rust ({label})").into_boxed_str()),
                kind: Kind::Handler { outputs: &["audit.log"] },
                component: Box::leak(path.to_owned().into_boxed_str()),
                config: json!({}),
                events: (0..8).map(|n| ("access", access(n, json!({})))).collect(),
            }
        })
        .collect()
}

fn samples() -> Vec<Sample> {
    let mut samples = vec![
        Sample {
            name: "access-anywhere-file",
            language: "Rust",
            kind: Kind::Handler { outputs: &["audit.log"] },
            component: guests::ACCESS_ANYWHERE_FILE,
            config: json!({}),
            events: (0..8).map(|n| ("access", access(n, json!({})))).collect(),
        },
        // The same handler in Python and JavaScript, when
        // `scripts/build-guests.sh` has built them.
        Sample {
            name: "access-anywhere-file",
            language: "Python",
            kind: Kind::Handler { outputs: &["audit.log"] },
            component: language_build("py"),
            config: json!({}),
            events: (0..8).map(|n| ("access", access(n, json!({})))).collect(),
        },
        Sample {
            name: "access-anywhere-file",
            language: "JavaScript",
            kind: Kind::Handler { outputs: &["audit.log"] },
            component: language_build("js"),
            config: json!({}),
            events: (0..8).map(|n| ("access", access(n, json!({})))).collect(),
        },
        Sample {
            name: "failed-login-detector",
            language: "Rust",
            kind: Kind::Handler { outputs: &["alerts"] },
            component: guests::FAILED_LOGIN_DETECTOR,
            config: json!({"threshold": 5, "window": "5 minutes"}),
            // Two of three failed, over 50 users and 20 addresses, a second
            // apart (the timestamps repeat when the events are cycled: the
            // window still slides, only back and forth).
            events: (0..600u64)
                .map(|n| {
                    let result = if n % 3 == 2 { "SUCCESSFUL" } else { "FAILED" };
                    ("authentication", json!({
                        "_id": format!("a{n}"), "timestamp": format!("2026-11-22T06:{:02}:{:02}Z", n / 60, n % 60),
                        "transactionId": format!("tx-{n}"), "eventName": "AM-LOGIN-COMPLETED",
                        "principal": [format!("user{}", n % 50)], "result": result,
                        "client": {"ip": format!("198.51.100.{}", n % 20)}
                    }))
                })
                .collect(),
        },
        Sample {
            name: "severity-router",
            language: "Rust",
            kind: Kind::Handler { outputs: &["error", "warning", "informational"] },
            component: guests::SEVERITY_ROUTER,
            config: json!({"severityFieldMappings": [
                {"topic": "access", "field": "response/statusCode", "valueMappings": {"500": "ERROR"}},
                {"topic": "access", "field": "response/status", "valueMappings": {"FAILED": "WARNING", "SUCCESSFUL": "INFORMATIONAL"}}
            ]}),
            events: (0..8)
                .map(|n| {
                    let response = match n % 4 {
                        0 => json!({"status": "FAILED", "statusCode": "500"}),
                        1 => json!({"status": "FAILED", "statusCode": "403"}),
                        _ => json!({"status": "SUCCESSFUL", "statusCode": "200"}),
                    };
                    ("access", access(n, json!({"response": response})))
                })
                .collect(),
        },
        Sample {
            name: "pii-redactor",
            language: "Rust",
            kind: Kind::Filter,
            component: guests::PII_REDACTOR,
            config: json!({}),
            // Half with something to mask, half without.
            events: (0..8)
                .map(|n| {
                    let extra = if n % 2 == 0 {
                        json!({"userId": "bjensen@example.com", "http": {"request": {"headers": {"authorization": ["Bearer 8f4c2a91d7e3b6c5a0f1e2d3"]}}},
                               "response": {"status": "SUCCESSFUL", "detail": {"note": "paid with 4111 1111 1111 1111, order 1234567890123456"}}})
                    } else {
                        json!({})
                    };
                    ("access", access(n, extra))
                })
                .collect(),
        },
    ];
    samples.extend(extra_builds());
    samples
}

fn host_events(sample: &Sample) -> Vec<Arc<HostEvent>> {
    (0..BATCH * 4)
        .map(|i| {
            let (topic, doc) = &sample.events[i % sample.events.len()];
            let doc: Map<String, Value> = doc.as_object().unwrap().clone();
            let mut event = HostEvent::from_document(topic, doc, 1 << 20).unwrap();
            event.sequence = i as u64 + 1;
            Arc::new(event)
        })
        .collect()
}

/// Fuel per event and the median ns per event over `ROUNDS` rounds.
fn measure(sample: &Sample) -> (u64, f64) {
    let engine = WaspEngine::global().unwrap();
    let path = std::path::Path::new(sample.component);
    let loaded = engine.load(path, None).unwrap();
    let budgets = Budgets::default();
    let config = sample.config.to_string();
    let events = host_events(sample);
    let batches: Vec<&[Arc<HostEvent>]> = events.chunks(BATCH).collect();
    // One call of a batch: fuel used.
    type Call<'s> = Box<dyn FnMut(&[Arc<HostEvent>]) -> u64 + 's>;
    let mut call: Call<'_> = match sample.kind {
        Kind::Handler { outputs } => {
            let pre = engine.prepare_handler(&loaded, path).unwrap();
            let specs: Arc<[OutputSpec]> = outputs.iter().map(|o| OutputSpec { name: (*o).into(), line_oriented: true }).collect();
            let mut instance = pre.instantiate(sample.name, &budgets, specs, StateStore::new(1 << 20), &config).unwrap();
            Box::new(move |batch| {
                let outcome = instance.handle_batch(batch).unwrap();
                assert!(outcome.results.iter().all(Result::is_ok), "{}: {:?}", sample.name, outcome.results);
                outcome.fuel_used
            })
        }
        Kind::Filter => {
            let pre = engine.prepare_filter(&loaded, path).unwrap();
            let mut instance = pre.instantiate(sample.name, &budgets, &config).unwrap();
            Box::new(move |batch| {
                instance.filter_batch(batch).unwrap();
                instance.last_fuel()
            })
        }
    };
    // Warm-up, and the fuel of one pass over the batches.
    let fuel: u64 = batches.iter().map(|b| call(b)).sum();
    let fuel_per_event = fuel / events.len() as u64;
    let mut rounds: Vec<f64> = (0..ROUNDS)
        .map(|_| {
            let started = Instant::now();
            for i in 0..BATCHES {
                call(batches[i % batches.len()]);
            }
            started.elapsed().as_nanos() as f64 / (BATCHES * BATCH) as f64
        })
        .collect();
    rounds.sort_by(f64::total_cmp);
    (fuel_per_event, rounds[ROUNDS / 2])
}

fn main() {
    // `cargo bench` passes `--bench`; anything else is a name filter.
    let filter: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with('-')).collect();
    println!("| sample | language | kind | fuel/event | ns/event (median of {ROUNDS}) |");
    println!("|---|---|---|---|---|");
    for sample in samples() {
        if !filter.is_empty() && !filter.iter().any(|f| sample.name.contains(f.as_str()) || sample.language.eq_ignore_ascii_case(f)) {
            continue;
        }
        if sample.component.is_empty() {
            eprintln!("skipped: {} in {} is not built (scripts/build-guests.sh)", sample.name, sample.language);
            continue;
        }
        let (fuel, ns) = measure(&sample);
        let kind = match sample.kind {
            Kind::Handler { .. } => "handler",
            Kind::Filter => "filter",
        };
        println!("| {} | {} | {kind} | {fuel} | {ns:.0} |", sample.name, sample.language);
    }
}
