//! JSON file output throughput against a raw write of the same bytes, in one
//! run: the cost of WASP's log file writer (buffering, length tracking,
//! rotation checks, and with `security` the hash chain) over `write(2)` of
//! identical lines through a 64 KiB `BufWriter`.
//!
//! `cargo bench -p wasp-tests --bench file_output`. Each round writes
//! 200,000 access events (about 300 bytes a line) in flushed batches of
//! 1,000, alternating the variants; the medians of 7 rounds are printed with
//! their ratio to raw. Results are in `docs/benchmarks.md`.

use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};

use wasp::integrity::IntegrityKeys;
use wasp::outputs::Sink;
use wasp::outputs::log_file::codec::JsonLines;
use wasp::outputs::log_file::{Integrity, LogFile, LogOptions};

const EVENTS: usize = 200_000;
const BATCH: usize = 1_000;
const ROUNDS: usize = 7;

fn records() -> Vec<Vec<u8>> {
    (0..EVENTS)
        .map(|n| {
            serde_json::json!({"_id": format!("0419-{n:08}"), "timestamp": "2026-11-22T06:00:00.000Z", "transactionId": format!("tx-{n}"),
                "eventName": "AM-ACCESS-OUTCOME", "userId": "bjensen", "client": {"ip": "203.0.113.7", "port": 443},
                "http": {"request": {"method": "GET", "path": "/am/json/realms/root/authenticate", "headers": {"accept": ["*/*"]}}},
                "response": {"status": "SUCCESSFUL", "statusCode": "200", "elapsedTime": n % 100, "elapsedTimeUnits": "MILLISECONDS"}})
            .to_string()
            .into_bytes()
        })
        .collect()
}

fn raw(dir: &std::path::Path, records: &[Vec<u8>]) -> Duration {
    let file = std::fs::OpenOptions::new().create(true).append(true).open(dir.join("raw.json")).unwrap();
    let mut out = std::io::BufWriter::with_capacity(64 << 10, file);
    let started = Instant::now();
    for batch in records.chunks(BATCH) {
        for record in batch {
            out.write_all(record).unwrap();
            out.write_all(b"\n").unwrap();
        }
        out.flush().unwrap();
    }
    started.elapsed()
}

fn log_file(dir: &std::path::Path, name: &str, records: &[Vec<u8>], integrity: Option<Integrity>) -> Duration {
    let handle = cap_std::fs::Dir::open_ambient_dir(dir, cap_std::ambient_authority()).unwrap();
    let options = LogOptions { integrity, ..LogOptions::default() };
    let mut log = LogFile::open(&handle, name.into(), dir.join(name), Box::new(JsonLines), options).unwrap();
    let started = Instant::now();
    for batch in records.chunks(BATCH) {
        log.mark();
        for record in batch {
            log.write(record).unwrap();
        }
        log.flush().unwrap();
    }
    started.elapsed()
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn main() {
    let records = records();
    let bytes: usize = records.iter().map(|r| r.len() + 1).sum();
    let keys = Arc::new(IntegrityKeys::generate().unwrap());
    let (mut raws, mut jsons, mut sealed) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        let dir = tempfile::tempdir().unwrap();
        raws.push(raw(dir.path(), &records));
        jsons.push(log_file(dir.path(), "access.audit.json", &records, None));
        let integrity = Integrity { keys: keys.clone(), signature_interval: Duration::from_secs(10) };
        sealed.push(log_file(dir.path(), "sealed.audit.json", &records, Some(integrity)));
    }
    let report = |what: &str, d: Duration, base: Duration| {
        let per_sec = EVENTS as f64 / d.as_secs_f64();
        println!(
            "{what:<28} {:>8.1} ms  {:>10.0} events/s  {:>7.1} MB/s  ratio to raw {:.2}",
            d.as_secs_f64() * 1e3,
            per_sec,
            bytes as f64 / d.as_secs_f64() / 1e6,
            d.as_secs_f64() / base.as_secs_f64()
        );
    };
    let base = median(raws);
    println!("{EVENTS} events, {bytes} bytes, batches of {BATCH}, median of {ROUNDS} rounds");
    report("raw BufWriter", base, base);
    report("JSON file output", median(jsons), base);
    report("JSON file output, sealed", median(sealed), base);
}
