//! Publish latency and throughput per journal durability mode, with one
//! handler attached (the probe guest echoing to a file).
//!
//! `cargo bench -p wasp-tests --bench publish`. Prints p50/p99/p999 of
//! single publishes per mode (measured one by one, after a warm-up), then
//! criterion's throughput figures. Results are in `docs/benchmarks.md`.

use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::json;
use wasp::AuditService;
use wasp_tests::{Fixture, probe_handler};

fn service(fx: &Fixture, durability: &str) -> AuditService {
    let handler = json!({"class": "wasm", "config": probe_handler("p", json!({}))});
    let config = fx.config_doc(&json!({
        "eventHandlers": [handler],
        "wasp": {"journal": {"durability": durability, "maxEvents": 10_000_000, "maxBytes": "4 GiB"}}
    }));
    AuditService::from_config_file(config).unwrap()
}

fn event(n: u64) -> serde_json::Value {
    json!({"_id": format!("e{n}"), "timestamp": "2026-11-22T06:00:00Z", "transactionId": "tx-1", "userId": "bjensen",
           "eventName": "AM-ACCESS-OUTCOME", "client": {"ip": "203.0.113.7"}, "http": {"request": {"method": "GET", "path": "/x"}}})
}

fn percentiles(durability: &str, samples: usize) {
    let fx = Fixture::new();
    let service = service(&fx, durability);
    for n in 0..1000 {
        service.publish("access", event(n)).unwrap();
    }
    service.flush();
    let mut latencies: Vec<Duration> = (0..samples as u64)
        .map(|n| {
            let event = event(n);
            let started = Instant::now();
            service.publish("access", event).unwrap();
            started.elapsed()
        })
        .collect();
    latencies.sort();
    let at = |q: f64| latencies[((latencies.len() as f64 * q) as usize).min(latencies.len() - 1)];
    println!(
        "publish latency [{durability:>7}] n={samples}: p50 {:?}  p99 {:?}  p999 {:?}  max {:?}",
        at(0.50),
        at(0.99),
        at(0.999),
        latencies[latencies.len() - 1]
    );
    service.flush();
}

fn benches(c: &mut Criterion) {
    percentiles("memory", 50_000);
    percentiles("process", 50_000);
    percentiles("fsync", 2_000);
    let mut group = c.benchmark_group("publish");
    for durability in ["memory", "process", "fsync"] {
        let fx = Fixture::new();
        let service = service(&fx, durability);
        let mut n = 0;
        group.bench_function(durability, |b| {
            b.iter(|| {
                n += 1;
                service.publish("access", event(n)).unwrap()
            })
        });
        service.flush();
    }
    group.finish();
}

criterion_group! {
    name = publish;
    config = Criterion::default().measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1)).sample_size(30);
    targets = benches
}
criterion_main!(publish);
