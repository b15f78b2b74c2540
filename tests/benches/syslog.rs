//! Syslog output throughput to a real rsyslog on loopback: the built-in
//! `SyslogAuditEventHandler` over TCP (octet counting), end to end —
//! `publish` into the memory journal, the handler formats RFC 5424 messages
//! and writes them in batches, rsyslog (Debian's `rsyslogd`, started here,
//! writing each message to a file) receives them.
//!
//! `cargo bench -p wasp-tests --bench syslog`. Each round publishes
//! 200,000 access events (about 300 bytes of JSON each); it prints events/s
//! until the handler acknowledged them all (the contract: written and
//! flushed to the connection), and until rsyslog's file held them all.
//! Results are in `docs/benchmarks.md`. Needs `/usr/sbin/rsyslogd`.

use std::process::{Child, Command};
use std::time::{Duration, Instant};

use serde_json::json;

const EVENTS: usize = 200_000;
const ROUNDS: usize = 3;

struct Rsyslog {
    child: Child,
    dir: tempfile::TempDir,
    port: u16,
}

impl Rsyslog {
    fn start() -> Rsyslog {
        let dir = tempfile::tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let conf = format!(
            "global(workDirectory=\"{d}\")\nmodule(load=\"imtcp\")\ninput(type=\"imtcp\" port=\"{port}\" address=\"127.0.0.1\")\n\
             action(type=\"omfile\" file=\"{d}/received.log\" template=\"RSYSLOG_SyslogProtocol23Format\")\n",
            d = dir.path().display()
        );
        std::fs::write(dir.path().join("rsyslog.conf"), conf).unwrap();
        let child = Command::new("/usr/sbin/rsyslogd")
            .args(["-n", "-f"])
            .arg(dir.path().join("rsyslog.conf"))
            .arg("-i")
            .arg(dir.path().join("pid"))
            .spawn()
            .expect("rsyslogd (apt-get install rsyslog)");
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "rsyslogd did not listen");
            std::thread::sleep(Duration::from_millis(20));
        }
        Rsyslog { child, dir, port }
    }

    fn lines(&self) -> usize {
        std::fs::read(self.dir.path().join("received.log")).map(|b| b.iter().filter(|c| **c == b'\n').count()).unwrap_or(0)
    }
}

impl Drop for Rsyslog {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn main() {
    let events: Vec<serde_json::Value> = (0..EVENTS)
        .map(|n| {
            json!({"_id": format!("0419-{n:08}"), "timestamp": "2026-11-22T06:00:00.000Z", "transactionId": format!("tx-{n}"),
                "eventName": "AM-ACCESS-OUTCOME", "userId": "bjensen", "client": {"ip": "203.0.113.7", "port": 443},
                "http": {"request": {"method": "GET", "path": "/am/json/realms/root/authenticate"}},
                "response": {"status": "SUCCESSFUL", "statusCode": "200", "elapsedTime": n % 100, "elapsedTimeUnits": "MILLISECONDS"}})
        })
        .collect();
    let mut acked = Vec::new();
    let mut received = Vec::new();
    for round in 0..ROUNDS {
        let rsyslog = Rsyslog::start();
        let fx = wasp_tests::Fixture::new();
        let config = fx.config_doc(&json!({
            "eventHandlers": [{"class": "org.forgerock.audit.handlers.syslog.SyslogAuditEventHandler", "config": {
                "name": "syslog", "topics": ["access"], "protocol": "TCP", "host": "127.0.0.1", "port": rsyslog.port,
                "facility": "local0", "buffering": {"enabled": true, "maxSize": 5000}}}],
            "wasp": {"journal": {"durability": "memory", "maxEvents": 1_000_000}, "safelist": true}
        }));
        let audit = wasp::AuditService::from_config_file(&config).unwrap();
        let started = Instant::now();
        for event in &events {
            audit.publish("access", event.clone()).unwrap();
        }
        audit.flush();
        let all_acked = started.elapsed();
        while rsyslog.lines() < EVENTS {
            assert!(started.elapsed() < Duration::from_secs(300), "rsyslog received {} of {EVENTS}", rsyslog.lines());
            std::thread::sleep(Duration::from_millis(10));
        }
        let all_received = started.elapsed();
        let summary = audit.shutdown();
        assert_eq!(summary.handlers[0].delivered as usize, EVENTS);
        let rate = |d: Duration| EVENTS as f64 / d.as_secs_f64();
        println!(
            "round {round}: acknowledged {:.0} events/s ({all_acked:.2?}), received by rsyslog {:.0} events/s ({all_received:.2?})",
            rate(all_acked),
            rate(all_received)
        );
        acked.push(rate(all_acked));
        received.push(rate(all_received));
    }
    acked.sort_by(f64::total_cmp);
    received.sort_by(f64::total_cmp);
    println!(
        "syslog TCP to rsyslog, {EVENTS} events: median {:.0} events/s acknowledged, {:.0} events/s received (min {:.0}, max {:.0})",
        acked[ROUNDS / 2],
        received[ROUNDS / 2],
        received[0],
        received[ROUNDS - 1]
    );
}
