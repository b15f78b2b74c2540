//! A quarantined handler's backlog is its own problem: it never fills the
//! journal for the producer or its neighbours (it is spilled to the
//! dead-letter store as `quarantined`, replayable), and every event of
//! every handler is accounted for — delivered, dead-lettered, spilled or
//! dropped with a gap record, exactly once.

use std::collections::BTreeSet;

use serde_json::{Value, json};
use wasp::AuditService;
use wasp_tests::{Fixture, healthy_probe, probe_handler, run_wasp};

fn config_with(fx: &Fixture, handlers: &[Value], wasp: Value) -> std::path::PathBuf {
    let entries: Vec<Value> = handlers.iter().map(|h| json!({"class": "wasm", "config": h})).collect();
    fx.config_doc(&json!({"eventHandlers": entries, "wasp": wasp}))
}

/// A handler that panics on every event and whose breaker, once open,
/// stays open for the whole test.
fn faulty() -> Value {
    probe_handler("faulty", json!({"batch": {"maxSize": 1}, "circuitBreaker": {"failures": 3, "backoff": "1 hour"}}))
}

fn kind(letter: &wasp::dead_letter::DeadLetter) -> String {
    serde_json::to_value(letter.fault.kind).unwrap().as_str().unwrap().to_owned()
}

#[test]
fn a_quarantined_handler_does_not_fill_the_journal_for_its_neighbour() {
    let fx = Fixture::new();
    let config = config_with(&fx, &[faulty(), healthy_probe()], json!({"journal": {"maxEvents": 5, "overflow": "reject"}}));
    let service = AuditService::from_config_file(config).unwrap();
    // The healthy neighbour keeps up (we wait for it after each event): the
    // only thing that could fill the journal is the quarantined handler.
    for n in 0..20 {
        service.publish("access", json!({"_id": format!("e{n}"), "action": "panic"})).unwrap_or_else(|e| panic!("event {n} refused: {e}"));
        service.flush_handler("healthy").unwrap();
    }
    let held = service.backlog().streams.iter().map(|s| s.events).max().unwrap_or_default();
    assert!(held <= 5, "the journal stays within its bound: {held}");
    let summary = service.shutdown();
    let healthy = summary.handler("healthy").unwrap();
    assert_eq!(healthy.delivered, 20, "{healthy:?}");
    let h = summary.handler("faulty").unwrap();
    assert_eq!((h.received, h.delivered, h.dead_lettered, h.dropped, h.lost), (20, 0, 20, 0, 0), "{h:?}");
    assert!(h.spilled > 0, "the journal needed the room: {h:?}");
    assert_eq!(h.faults.get("panic"), Some(&3), "{h:?}");
    assert_eq!(h.faults.get("quarantined"), Some(&17), "{h:?}");
    // Every one of its events is in the dead-letter store once, in order.
    let letters = fx.dead_letters("faulty");
    let ids: Vec<&str> = letters.iter().map(|l| l.event.id.as_str()).collect();
    let expected: Vec<String> = (0..20).map(|n| format!("e{n}")).collect();
    assert_eq!(ids, expected, "every event of the faulty handler dead-lettered once, oldest first");
    assert_eq!(letters.iter().filter(|l| kind(l) == "quarantined").count(), 17);
    // Bundled: far fewer files than letters.
    let files = std::fs::read_dir(fx.path().join("wasp-data/dead-letters/handlers/faulty")).unwrap().count();
    assert!(files < 17, "{files} files");

    // Once the handler is fixed, replay delivers every one, in order.
    let fixed = json!({"class": "wasm", "config": probe_handler("faulty", json!({"config": {"healthy": true}}))});
    let doc = json!({"eventHandlers": [fixed, {"class": "wasm", "config": healthy_probe()}], "wasp": {"journal": {"maxEvents": 5}}});
    let config = fx.config_doc(&doc);
    let out = run_wasp(&["dlq", "replay", "--config", config.to_str().unwrap(), "--handler", "faulty"], None, fx.path());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("20 recovered, 0 still failing"), "{stdout}");
    let replayed: Vec<String> = fx.output_json("faulty", "out.log").iter().map(|v| v["id"].as_str().unwrap().to_owned()).collect();
    assert_eq!(replayed, expected);
    assert!(fx.dead_letters("faulty").is_empty());
    assert_eq!(std::fs::read_dir(fx.path().join("wasp-data/dead-letters/handlers/faulty")).unwrap().count(), 0, "emptied bundles are gone");
}

#[test]
fn wasp_pipe_accepts_every_event_beside_a_quarantined_handler() {
    let fx = Fixture::new();
    // The neighbour is a built-in JSON handler: it writes each batch at once.
    let doc = json!({
        "eventHandlers": [
            {"class": "wasm", "config": faulty()},
            {"class": "org.forgerock.audit.handlers.json.JsonAuditEventHandler",
             "config": {"name": "json", "topics": ["access"], "logDirectory": fx.path().join("logs"),
                        "buffering": {"writeInterval": "1 ms"}}}
        ],
        "wasp": {"journal": {"maxEvents": 5, "overflow": "block", "blockTimeout": "30 s"}}
    });
    let config = fx.config_doc(&doc);
    let input: String = (0..20).map(|n| format!("{}\n", json!({"_id": format!("e{n}"), "action": "panic"}))).collect();
    let out = run_wasp(&["pipe", "--config", config.to_str().unwrap(), "--topic", "access", "--json"], Some(&input), fx.path());
    let stderr = String::from_utf8_lossy(&out.stderr);
    let summary: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {stderr}"));
    assert_eq!(summary["input"]["accepted"], 20, "{summary:#}\n{stderr}");
    let logged = std::fs::read_to_string(fx.path().join("logs/access.audit.json")).unwrap();
    assert_eq!(logged.lines().count(), 20, "the neighbour got every event");
    let faulty = summary["handlers"].as_array().unwrap().iter().find(|h| h["name"] == "faulty").unwrap();
    assert_eq!(faulty["received"], 20, "{faulty:#}");
    assert_eq!(faulty["deadLettered"], 20, "{faulty:#}");
    let ids: BTreeSet<String> = fx.dead_letters("faulty").iter().map(|l| l.event.id.clone()).collect();
    assert_eq!(ids.len(), 20);
}

/// A tiny deterministic generator (xorshift64*), so a failing run can be
/// repeated from its seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

/// Each handler's events, by journal sequence: the ones its output holds,
/// the ones in its dead-letter store and the ones its gap records name.
fn fates(fx: &Fixture, handler: &str) -> (BTreeSet<u64>, BTreeSet<u64>, Vec<u64>) {
    let delivered = fx.output_json(handler, "out.log").iter().map(|r| r["seq"].as_u64().unwrap()).collect();
    let dead = fx.dead_letters(handler).iter().map(|l| l.event.sequence).collect();
    let gaps = fx
        .data_json("journal/default/gaps.ndjson")
        .iter()
        .filter(|g| g["handler"] == handler)
        .map(|g| g["sequence"].as_u64().unwrap())
        .collect();
    (delivered, dead, gaps)
}

#[test]
fn drop_oldest_accounts_for_every_event_exactly_once_under_random_overflow() {
    for seed in [0x5EED_u64, 0xC0FFEE, 0xBADC0DE] {
        let fx = Fixture::new();
        let slow = probe_handler(
            "slow",
            json!({"batch": {"maxSize": 4, "maxWait": "1 ms"}, "circuitBreaker": {"failures": 4, "backoff": "30 ms"}}),
        );
        let config = config_with(&fx, &[slow, healthy_probe()], json!({"journal": {"maxEvents": 8, "overflow": "drop-oldest"}}));
        let service = AuditService::from_config_file(config).unwrap();
        const EVENTS: u64 = 300;
        std::thread::scope(|s| {
            for producer in 0..2u64 {
                let service = &service;
                s.spawn(move || {
                    let mut rng = Rng(seed + producer);
                    for n in 0..EVENTS / 2 {
                        let roll = rng.next() % 100;
                        // Mostly slow events, some that fault (so batches are
                        // split and the breaker opens now and then).
                        let event = if roll < 12 {
                            json!({"_id": format!("p{producer}-{n}"), "action": "panic"})
                        } else {
                            json!({"_id": format!("p{producer}-{n}"), "action": "slow", "ms": roll % 3})
                        };
                        service.publish("access", event).expect("drop-oldest never refuses");
                        if roll.is_multiple_of(7) {
                            std::thread::sleep(std::time::Duration::from_millis(rng.next() % 4));
                        }
                    }
                });
            }
        });
        let summary = service.shutdown();
        for h in &summary.handlers {
            let (delivered, dead, gaps) = fates(&fx, &h.name);
            let gap_set: BTreeSet<u64> = gaps.iter().copied().collect();
            assert_eq!(gap_set.len(), gaps.len(), "seed {seed:#x}, {}: an event dropped twice: {gaps:?}", h.name);
            assert_eq!(gaps.len() as u64, h.dropped, "seed {seed:#x}, {}: counter = gap records: {h:?}", h.name);
            assert_eq!(delivered.len() as u64, h.delivered, "seed {seed:#x}, {}: {h:?}", h.name);
            assert_eq!(dead.len() as u64, h.dead_lettered, "seed {seed:#x}, {}: {h:?}", h.name);
            assert!(
                delivered.is_disjoint(&dead) && delivered.is_disjoint(&gap_set) && dead.is_disjoint(&gap_set),
                "seed {seed:#x}, {}: an event has two fates",
                h.name
            );
            let all: BTreeSet<u64> = delivered.iter().chain(&dead).chain(&gap_set).copied().collect();
            let missing: Vec<u64> = (1..=EVENTS).filter(|s| !all.contains(s)).collect();
            assert!(missing.is_empty(), "seed {seed:#x}, {}: events with no fate: {missing:?} ({h:?})", h.name);
            assert_eq!(h.received + h.dropped, EVENTS, "seed {seed:#x}: {h:?}");
        }
        assert!(summary.handler("slow").unwrap().dropped > 0, "seed {seed:#x}: the bound was reached");
    }
}

#[test]
fn drop_oldest_spills_a_quarantined_handlers_backlog_rather_than_dropping_it() {
    let fx = Fixture::new();
    let config = config_with(&fx, &[faulty(), healthy_probe()], json!({"journal": {"maxEvents": 5, "overflow": "drop-oldest"}}));
    let service = AuditService::from_config_file(config).unwrap();
    for n in 0..20 {
        service.publish("access", json!({"_id": format!("e{n}"), "action": "panic"})).unwrap();
        service.flush_handler("healthy").unwrap();
    }
    let summary = service.shutdown();
    let h = summary.handler("faulty").unwrap();
    assert_eq!((h.received, h.dead_lettered, h.dropped), (20, 20, 0), "{h:?}");
    let (delivered, dead, gaps) = fates(&fx, "faulty");
    assert!(delivered.is_empty() && gaps.is_empty());
    assert_eq!(dead, (1..=20).collect::<BTreeSet<u64>>());
}

#[test]
fn a_tamper_evident_log_declares_what_drop_oldest_dropped_in_signed_records() {
    let fx = Fixture::new();
    std::fs::create_dir_all(fx.path().join("keys")).unwrap();
    let out = run_wasp(&["keygen", "--out", "keys/audit.key"], None, fx.path());
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    // A signed JSON handler that waits 300 ms to fill its batches, beside a
    // 4-event journal with drop-oldest: bursts overflow it.
    let config = fx.config_doc(&json!({
        "eventHandlers": [{"class": "org.forgerock.audit.handlers.json.JsonAuditEventHandler", "config": {
            "name": "signed", "logDirectory": "logs", "topics": ["access"],
            "buffering": {"writeInterval": "300 ms", "maxSize": 1000},
            "security": {"enabled": true, "filename": "keys/audit.key", "signatureInterval": "1 s"}
        }}],
        "wasp": {"journal": {"maxEvents": 4, "overflow": "drop-oldest"}}
    }));
    let audit = AuditService::from_config_file(&config).unwrap();
    for n in 0..30 {
        audit.publish("access", json!({"_id": format!("e{n}"), "n": n})).unwrap();
        if n % 10 == 9 {
            std::thread::sleep(std::time::Duration::from_millis(400));
        }
    }
    let summary = audit.shutdown();
    let h = summary.handler("signed").unwrap();
    assert!(h.dropped > 0, "{h:?}");
    assert_eq!(h.delivered + h.dropped, 30, "{h:?}");
    // The log holds the delivered events and, signed, one `dropped` record
    // per run of dropped sequences: together, every sequence once.
    let text = std::fs::read_to_string(fx.path().join("wasp-data/logs/access.audit.json")).unwrap();
    let lines: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let delivered: BTreeSet<u64> = lines.iter().filter_map(|l| l["n"].as_u64()).map(|n| n + 1).collect();
    let mut declared = BTreeSet::new();
    for record in lines.iter().filter_map(|l| l.get("_signature")).filter(|s| s["type"] == "dropped") {
        let from: u64 = record["journalFrom"].as_str().unwrap().parse().unwrap();
        let to: u64 = record["journalTo"].as_str().unwrap().parse().unwrap();
        assert_eq!(record["count"].as_str().unwrap().parse::<u64>().unwrap(), to - from + 1);
        for s in from..=to {
            assert!(declared.insert(s), "sequence {s} declared twice");
        }
    }
    assert_eq!(declared.len() as u64, h.dropped, "every drop declared once: {declared:?}");
    assert!(declared.is_disjoint(&delivered));
    assert_eq!(declared.union(&delivered).count(), 30);
    // The gap log of the journal says the same.
    let gaps: BTreeSet<u64> = fx.data_json("journal/default/gaps.ndjson").iter().map(|g| g["sequence"].as_u64().unwrap()).collect();
    assert_eq!(gaps, declared);
    // `wasp verify` passes the log and reports the declared drops.
    let out = run_wasp(
        &["verify", fx.path().join("wasp-data/logs").to_str().unwrap(), "--topic", "access", "--key", "keys/audit.key"],
        None,
        fx.path(),
    );
    let report = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{report}");
    assert!(report.contains("declared dropped"), "{report}");
    // Taking a `dropped` record out breaks the chain: the drop cannot be hidden.
    let tampered: String = text.lines().filter(|l| !l.contains("\"type\":\"dropped\"")).map(|l| format!("{l}\n")).collect();
    std::fs::write(fx.path().join("wasp-data/logs/access.audit.json"), tampered).unwrap();
    let out = run_wasp(
        &["verify", fx.path().join("wasp-data/logs").to_str().unwrap(), "--topic", "access", "--key", "keys/audit.key"],
        None,
        fx.path(),
    );
    assert_eq!(out.status.code(), Some(3), "{}", String::from_utf8_lossy(&out.stdout));
}

/// A handler quarantined for the whole run: the journal stays within its
/// bound however many events pass (20,000 here; `WASP_SOAK_EVENTS` sets
/// more, e.g. 1,000,000 as in `docs/sandbox.md`), and every event of the
/// quarantined handler is in the dead-letter store.
#[test]
fn a_handler_quarantined_for_a_long_run_keeps_the_journal_bounded() {
    let events: u64 = std::env::var("WASP_SOAK_EVENTS").ok().and_then(|v| v.parse().ok()).unwrap_or(20_000);
    let fx = Fixture::new();
    let doc = json!({
        "eventHandlers": [
            {"class": "wasm", "config": faulty()},
            {"class": "org.forgerock.audit.handlers.json.JsonAuditEventHandler",
             "config": {"name": "json", "topics": ["access"], "logDirectory": fx.path().join("logs"), "buffering": {"writeInterval": "5 ms"}}}
        ],
        "wasp": {"journal": {"maxEvents": 2000, "overflow": "block", "blockTimeout": "60 s"}}
    });
    let service = AuditService::from_config_file(fx.config_doc(&doc)).unwrap();
    let started = std::time::Instant::now();
    let mut most_held = 0;
    for n in 0..events {
        // The first events fault (and open the breaker); the rest wait.
        service.publish("access", json!({"_id": format!("e{n}"), "action": "panic", "n": n})).unwrap();
        if n % 500 == 0 {
            most_held = most_held.max(service.backlog().streams.iter().map(|s| s.events).max().unwrap_or_default());
        }
    }
    let published = started.elapsed();
    let summary = service.shutdown();
    let h = summary.handler("faulty").unwrap();
    assert_eq!((h.received, h.dead_lettered, h.lost), (events, events, 0), "{h:?}");
    assert!(most_held <= 2000, "the journal held {most_held} events");
    assert_eq!(summary.handler("json").unwrap().delivered, events);
    let dir = fx.path().join("wasp-data/dead-letters/handlers/faulty");
    let (files, bytes) = std::fs::read_dir(&dir).unwrap().fold((0u64, 0u64), |(n, b), e| (n + 1, b + e.unwrap().metadata().unwrap().len()));
    eprintln!(
        "soak: {events} events in {published:?} with a quarantined handler; journal held at most {most_held}; \
         {} spilled; dead letters: {files} files, {bytes} bytes ({} bytes per event)",
        h.spilled,
        bytes / events
    );
    assert!(files < events / 100, "spilled in bundles: {files} files for {events} events");
}
