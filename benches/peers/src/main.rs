//! The peer benchmark (issue 20): the same audit-handler logic in native Rust
//! (typed serde and `serde_json::Value`), VRL, LuaJIT, Rhai and WASP's own
//! path, in one process, alternating engines round by round, with
//! byte-identical outputs asserted before any timing.
//!
//! `bash scripts/bench-peers.sh` (or `just bench-peers`) builds the guest
//! and this binary (release) and runs it. Arguments: the peer guest's
//! `.wasm` (required), then optionally the number of rounds. It prints a
//! Markdown table: median ns/event over the rounds and the ratio of each
//! engine's time to native typed Rust. With `BENCH_PEERS_PROFILE=N` it runs
//! only WASP's path, N rounds, and prints nothing (for `perf record`).
//! `BENCH_PEERS_EXTRA=label=path.wasm,…` adds rows: other builds of the
//! peer guest through the same path (e.g. one built with an earlier SDK),
//! checked for the same bytes and timed in the same rounds.

mod engines;
mod wasp_path;

use std::path::PathBuf;
use std::time::Instant;

use engines::{Engine, Lua, NativeTyped, NativeValue, Rhai, Vrl};

/// Distinct events (each round runs every one of them `REPEAT` times).
const EVENTS: usize = 256;
/// Passes over the events per engine per round.
const REPEAT: usize = 8;

/// A ~400-byte access event; `n` varies the ids, users, actions, sessions.
fn event(n: usize) -> String {
    let actions = ["GET", "PUT", "DELETE", "PATCH"];
    serde_json::json!({
        "_id": format!("4b9d6f2e-8a1c-4e57-b3f0-{n:012}"),
        "topic": "access",
        "timestamp": format!("2026-12-05T09:{:02}:{:02}.{:03}Z", n / 60 % 60, n % 60, n % 1000),
        "transactionId": format!("tx-{n}"),
        "eventName": "AM-ACCESS-OUTCOME",
        "action": actions[n % actions.len()],
        "actor": {"user": format!("user{}", n % 50), "session": format!("s-{:016x}", n as u64 * 0x9e37_79b9_7f4a_7c15), "roles": ["reader", "auditor"]},
        "client": {"ip": format!("203.0.113.{}", n % 250), "port": 44321},
        "request": {"protocol": "HTTP", "operation": "GET", "detail": {"path": format!("/files/report-{n}.pdf")}},
        "response": {"status": "SUCCESSFUL", "statusCode": "200", "elapsedTime": 12, "elapsedTimeUnits": "MILLISECONDS"}
    })
    .to_string()
}

fn main() {
    let mut args = std::env::args().skip(1);
    let component = PathBuf::from(args.next().expect("usage: bench-peers PEER_GUEST.wasm [ROUNDS]"));
    let rounds: usize = args.next().map_or(11, |r| r.parse().expect("ROUNDS is a number"));
    let texts: Vec<String> = (0..EVENTS).map(event).collect();
    let mean_bytes = texts.iter().map(String::len).sum::<usize>() / texts.len();

    let mut engines: Vec<Box<dyn Engine>> = vec![
        Box::new(NativeTyped),
        Box::new(NativeValue),
        Box::new(Vrl::new()),
        Box::new(Lua::new()),
        Box::new(Rhai::new()),
        Box::new(wasp_path::Wasp::new(&component, &texts, None)),
    ];
    for extra in std::env::var("BENCH_PEERS_EXTRA").unwrap_or_default().split(',').filter(|e| !e.is_empty()) {
        let (label, path) = extra.split_once('=').expect("BENCH_PEERS_EXTRA is label=path.wasm,…");
        let label: &'static str = Box::leak(format!("WASP, {label}").into_boxed_str());
        engines.push(Box::new(wasp_path::Wasp::new(std::path::Path::new(path), &texts, Some(label))));
    }

    // Byte-identical outputs, before any timing (and a warm-up).
    let mut reference = Vec::new();
    engines[0].run(&texts, &mut reference);
    for engine in &mut engines[1..] {
        let mut out = Vec::new();
        engine.run(&texts, &mut out);
        assert_eq!(out.len(), reference.len(), "{}", engine.name());
        for (i, (a, b)) in out.iter().zip(&reference).enumerate() {
            assert_eq!(a, b, "{} differs from native typed on event {i}", engine.name());
        }
    }
    eprintln!("outputs identical for {} engines over {EVENTS} events (e.g. `{}`)", engines.len(), reference[0]);

    // `BENCH_PEERS_PROFILE=N`: run only WASP's path (the given guest) N rounds (for `perf
    // record`), then stop.
    if let Some(n) = std::env::var("BENCH_PEERS_PROFILE").ok().and_then(|n| n.parse::<usize>().ok()) {
        let wasp = &mut engines[5];
        let mut out = Vec::with_capacity(EVENTS);
        for _ in 0..n * REPEAT {
            out.clear();
            wasp.run(&texts, &mut out);
        }
        return;
    }

    // Rounds: every engine once per round, the order rotating each round.
    let mut samples: Vec<Vec<f64>> = vec![Vec::new(); engines.len()];
    let mut out = Vec::with_capacity(EVENTS);
    for round in 0..rounds {
        for k in 0..engines.len() {
            let i = (k + round) % engines.len();
            let started = Instant::now();
            for _ in 0..REPEAT {
                out.clear();
                engines[i].run(&texts, &mut out);
            }
            samples[i].push(started.elapsed().as_nanos() as f64 / (EVENTS * REPEAT) as f64);
        }
    }
    let medians: Vec<(f64, f64, f64)> = samples
        .iter_mut()
        .map(|s| {
            s.sort_by(f64::total_cmp);
            (s[s.len() / 2], s[0], s[s.len() - 1])
        })
        .collect();
    let native = medians[0].0;
    println!("events: {EVENTS} distinct, {mean_bytes} bytes of JSON on average; {rounds} rounds of {} events per engine", EVENTS * REPEAT);
    println!();
    println!("| engine | ns/event (median) | min–max | × native typed time | throughput vs native typed |");
    println!("|---|---|---|---|---|");
    for (engine, (median, min, max)) in engines.iter().zip(&medians) {
        println!("| {} | {median:.0} | {min:.0}–{max:.0} | {:.2} | {:.2}× |", engine.name(), median / native, native / median);
    }
}
