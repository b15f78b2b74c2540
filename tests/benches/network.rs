//! Throughput of the Elasticsearch and Splunk outputs to local receivers,
//! and `publish` latency while a receiver is down.
//!
//! `cargo bench -p wasp-tests --bench network`. Elasticsearch and Splunk are
//! not installable here: the receivers are minimal in-process HTTP/1.1
//! servers (keep-alive, one thread per connection) that read each request
//! whole and answer as the real ones do — a bulk answer with one `201` item
//! per document, HEC's `{"text":"Success","code":0}` — and count what they
//! received. Each round publishes 200,000 access events (about 300 bytes of
//! JSON each) into the `memory` journal through the built-in
//! `ElasticsearchAuditEventHandler` / `SplunkAuditEventHandler` (batches of
//! 500) and prints events/s until every event was acknowledged.
//!
//! The outage part, for each output, publishes 20,000 events (default
//! `process` journal) to warm up, 20,000 with the receiver up, 20,000 with
//! it answering 503 (the handler retrying in the background), and 20,000
//! with it back, and prints `publish`'s p50/p99 for each phase. Results
//! are in `docs/benchmarks.md`.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

const EVENTS: usize = 200_000;
const ROUNDS: usize = 3;

/// A local receiver: `bulk` answers Elasticsearch bulk requests, else HEC.
struct Receiver {
    port: u16,
    received: Arc<AtomicU64>,
    busy: Arc<AtomicBool>,
}

impl Receiver {
    fn start(bulk: bool) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let received = Arc::new(AtomicU64::new(0));
        let busy = Arc::new(AtomicBool::new(false));
        let (r, b) = (received.clone(), busy.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let (r, b) = (r.clone(), b.clone());
                std::thread::spawn(move || serve(stream, bulk, &r, &b));
            }
        });
        Receiver { port, received, busy }
    }
}

fn serve(stream: std::net::TcpStream, bulk: bool, received: &AtomicU64, busy: &AtomicBool) {
    let mut reader = BufReader::with_capacity(1 << 20, stream.try_clone().unwrap());
    let mut writer = stream;
    let mut body = Vec::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let mut length = 0;
        loop {
            line.clear();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            let header = line.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse().unwrap();
            }
        }
        body.resize(length, 0);
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let answer = if busy.load(Ordering::Relaxed) {
            ("503 Service Unavailable", r#"{"text":"Server is busy","code":9}"#.to_owned())
        } else if bulk {
            let documents = body.iter().filter(|b| **b == b'\n').count() / 2;
            received.fetch_add(documents as u64, Ordering::Relaxed);
            let item = r#"{"index":{"status":201,"result":"created"}}"#;
            let mut items = String::with_capacity(documents * (item.len() + 1) + 40);
            items.push_str(r#"{"took":1,"errors":false,"items":["#);
            for i in 0..documents {
                if i > 0 {
                    items.push(',');
                }
                items.push_str(item);
            }
            items.push_str("]}");
            ("200 OK", items)
        } else {
            received.fetch_add(body.iter().filter(|b| **b == b'\n').count() as u64, Ordering::Relaxed);
            ("200 OK", r#"{"text":"Success","code":0}"#.to_owned())
        };
        let response =
            format!("HTTP/1.1 {}\r\nContent-Length: {}\r\nContent-Type: application/json\r\n\r\n{}", answer.0, answer.1.len(), answer.1);
        if writer.write_all(response.as_bytes()).is_err() {
            return;
        }
    }
}

fn events(n: usize) -> Vec<Value> {
    (0..n)
        .map(|n| {
            json!({"_id": format!("0419-{n:08}"), "timestamp": "2026-11-22T06:00:00.000Z", "transactionId": format!("tx-{n}"),
                "eventName": "AM-ACCESS-OUTCOME", "userId": "bjensen", "client": {"ip": "203.0.113.7", "port": 443},
                "http": {"request": {"method": "GET", "path": "/am/json/realms/root/authenticate"}},
                "response": {"status": "SUCCESSFUL", "statusCode": "200", "elapsedTime": n % 100, "elapsedTimeUnits": "MILLISECONDS"}})
        })
        .collect()
}

fn handler(bulk: bool, port: u16) -> Value {
    if bulk {
        json!({"class": "org.forgerock.audit.handlers.elasticsearch.ElasticsearchAuditEventHandler", "config": {
            "name": "es", "topics": ["access"], "connection": {"host": "127.0.0.1", "port": port},
            "buffering": {"enabled": true, "writeInterval": "5 ms", "maxBatchedEvents": 500}}})
    } else {
        json!({"class": "org.forgerock.audit.handlers.splunk.SplunkAuditEventHandler", "config": {
            "name": "splunk", "topics": ["access"], "authzToken": "bench", "connection": {"host": "127.0.0.1", "port": port},
            "buffering": {"maxBatchedEvents": 500, "writeInterval": "5 ms"}}})
    }
}

fn throughput(bulk: bool, events: &[Value]) {
    let name = if bulk { "Elasticsearch bulk" } else { "Splunk HEC" };
    let mut rates = Vec::new();
    for round in 0..ROUNDS {
        let receiver = Receiver::start(bulk);
        let fx = wasp_tests::Fixture::new();
        let config = fx.config_doc(&json!({
            "eventHandlers": [handler(bulk, receiver.port)],
            "wasp": {"journal": {"durability": "memory", "maxEvents": 1_000_000}, "safelist": true}
        }));
        let audit = wasp::AuditService::from_config_file(&config).unwrap();
        let started = Instant::now();
        for event in events {
            audit.publish("access", event.clone()).unwrap();
        }
        audit.flush();
        let elapsed = started.elapsed();
        let summary = audit.shutdown();
        assert_eq!(summary.handlers[0].delivered as usize, events.len(), "{:?}", summary.handlers[0]);
        assert_eq!(receiver.received.load(Ordering::Relaxed) as usize, events.len());
        let rate = events.len() as f64 / elapsed.as_secs_f64();
        println!("{name} round {round}: {rate:.0} events/s acknowledged ({elapsed:.2?})");
        rates.push(rate);
    }
    rates.sort_by(f64::total_cmp);
    println!(
        "{name}, {} events: median {:.0} events/s acknowledged (min {:.0}, max {:.0})",
        events.len(),
        rates[ROUNDS / 2],
        rates[0],
        rates[ROUNDS - 1]
    );
}

/// p50 and p99 of `publish` over `events`, in microseconds.
fn publish_latency(audit: &wasp::AuditService, events: &[Value]) -> (f64, f64) {
    let mut times: Vec<Duration> = events
        .iter()
        .map(|e| {
            let started = Instant::now();
            audit.publish("access", e.clone()).unwrap();
            started.elapsed()
        })
        .collect();
    times.sort();
    let at = |q: f64| times[((times.len() as f64 * q) as usize).min(times.len() - 1)].as_secs_f64() * 1e6;
    (at(0.5), at(0.99))
}

/// `publish` latency with the receiver up, then answering 503 (the handler
/// retrying in the background, the events waiting in the journal), then
/// up again; a first part of `events` warms the service up unmeasured.
fn outage(bulk: bool, events: &[Value]) {
    let name = if bulk { "Elasticsearch" } else { "Splunk HEC" };
    let receiver = Receiver::start(bulk);
    let fx = wasp_tests::Fixture::new();
    let config = fx.config_doc(&json!({"eventHandlers": [handler(bulk, receiver.port)], "wasp": {"safelist": true}}));
    let audit = wasp::AuditService::from_config_file(&config).unwrap();
    let quarter = events.len() / 4;
    publish_latency(&audit, &events[..quarter]);
    audit.flush();
    let (up50, up99) = publish_latency(&audit, &events[quarter..2 * quarter]);
    audit.flush();
    receiver.busy.store(true, Ordering::Relaxed);
    let (down50, down99) = publish_latency(&audit, &events[2 * quarter..3 * quarter]);
    let retries = audit.summary().handlers[0].retries;
    receiver.busy.store(false, Ordering::Relaxed);
    let (back50, back99) = publish_latency(&audit, &events[3 * quarter..]);
    audit.flush();
    let summary = audit.shutdown();
    assert_eq!(summary.handlers[0].delivered as usize, events.len());
    println!(
        "publish (process journal), {name} up: p50 {up50:.1} µs, p99 {up99:.1} µs; answering 503 ({retries} retries meanwhile): \
         p50 {down50:.1} µs, p99 {down99:.1} µs ({:.2}x the p99 up); back: p50 {back50:.1} µs, p99 {back99:.1} µs",
        down99 / up99
    );
}

fn main() {
    let events = events(EVENTS);
    throughput(true, &events);
    throughput(false, &events);
    outage(true, &events[..80_000]);
    outage(false, &events[..80_000]);
}
