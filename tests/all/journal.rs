//! The durable journal in use: a slow handler does not slow publishing or
//! its neighbours until the bound is reached (then the overflow policy
//! speaks, never silently), and a full disk refuses new events clearly,
//! keeps every accepted one, and recovers when space returns.

use std::time::Duration;

use serde_json::{Value, json};
use wasp::{AuditService, PublishError};
use wasp_tests::{Fixture, healthy_probe, probe_handler, wait_for};

fn config_with(fx: &Fixture, handlers: &[Value], wasp: Value) -> std::path::PathBuf {
    let entries: Vec<Value> = handlers.iter().map(|h| json!({"class": "wasm", "config": h})).collect();
    fx.config_doc(&json!({"eventHandlers": entries, "wasp": wasp}))
}

#[test]
fn a_slow_handler_slows_neither_publish_nor_its_neighbour_until_the_bound() {
    let fx = Fixture::new();
    let slow = probe_handler("slow", json!({"batch": {"maxSize": 1}}));
    let config = config_with(&fx, &[slow, healthy_probe()], json!({"journal": {"maxEvents": 50, "overflow": "reject"}}));
    let service = AuditService::from_config_file(config).unwrap();
    let slow_delivered = || service.summary().handler("slow").unwrap().delivered;
    // Each event takes the slow handler 20 ms. Publishing does not wait for
    // it: the journal takes events until it holds 50 the slow handler has
    // not acknowledged, and then `reject` refuses, with a clear error.
    let mut accepted = 0;
    let err = loop {
        match service.publish("access", json!({"_id": format!("e{accepted}"), "action": "slow", "ms": 20})) {
            Ok(_) => accepted += 1,
            Err(e) => break e,
        }
        assert!(accepted < 1000, "the bound was never reached");
    };
    assert!(matches!(err, PublishError::Overloaded { max_events: 50, .. }), "{err}");
    assert!(err.to_string().contains("the journal is full"), "{err}");
    assert!(accepted >= 50, "{accepted}");
    assert!(slow_delivered() < 25, "publish never waited for the slow handler");
    // Meanwhile the healthy neighbour kept up with every accepted event.
    wait_for("the healthy neighbour", || service.summary().handler("healthy").unwrap().delivered == accepted);
    assert!(slow_delivered() < accepted, "the neighbour finished first");
    // Once it catches up, events are accepted again.
    wait_for("the slow handler", || slow_delivered() == accepted);
    service.publish("access", json!({"_id": "after"})).unwrap();
    let summary = service.shutdown();
    assert_eq!(summary.handler("slow").unwrap().delivered, accepted + 1);
    assert_eq!(summary.handler("healthy").unwrap().delivered, accepted + 1);
}

#[test]
fn drop_oldest_counts_what_a_lagging_handler_lost() {
    let fx = Fixture::new();
    let slow = probe_handler("slow", json!({"batch": {"maxSize": 1}}));
    let config = config_with(&fx, &[slow, healthy_probe()], json!({"journal": {"maxEvents": 5, "overflow": "drop-oldest"}}));
    let service = AuditService::from_config_file(config).unwrap();
    for n in 0..30 {
        service.publish("access", json!({"_id": format!("e{n}"), "action": "slow", "ms": 20})).expect("drop-oldest never refuses");
    }
    service.flush();
    let summary = service.shutdown();
    let slow = summary.handler("slow").unwrap();
    assert!(slow.dropped > 0, "{slow:?}");
    assert_eq!(slow.received + slow.dropped, 30, "every event either reached it or is counted as dropped: {slow:?}");
    assert_eq!(slow.delivered, slow.received);
    // Each drop left a gap record naming the handler and the sequence.
    let gaps = fx.data_json("journal/default/gaps.ndjson");
    for h in &summary.handlers {
        let mine = gaps.iter().filter(|g| g["handler"] == h.name.as_str() && g["sequence"].as_u64().is_some()).count();
        assert_eq!(mine as u64, h.dropped, "{}: {gaps:?}", h.name);
        assert_eq!(h.received + h.dropped, 30, "{h:?}");
    }
}

#[test]
fn a_full_disk_refuses_new_events_keeps_accepted_ones_and_recovers() {
    let fx = Fixture::new();
    let Some(disk) = wasp_tests::SmallDisk::mount(&fx.path().join("small-disk"), "1m") else { return };
    let mut handler = probe_handler("p", json!({}));
    // The output lives outside the small disk: only the journal fills it.
    handler["directory"] = json!(fx.path().join("out").to_str().unwrap());
    let wasp = json!({"dataDirectory": disk.path.to_str().unwrap(), "cacheDirectory": fx.path().join("cache").to_str().unwrap(),
                      "journal": {"segmentSize": "64 KiB"}});
    let service = AuditService::from_config_file(config_with(&fx, &[handler], wasp)).unwrap();
    let mut accepted = Vec::new();
    for n in 0..10 {
        accepted.push(service.publish("access", json!({"_id": format!("before{n}")})).unwrap().id);
    }
    // Another process fills the disk.
    let ballast = disk.path.join("ballast");
    {
        use std::io::Write;
        let mut file = std::fs::File::create(&ballast).unwrap();
        while file.write_all(&[0u8; 4096]).is_ok() {}
    }
    let mut refused = None;
    for n in 0..2000 {
        match service.publish("access", json!({"_id": format!("full{n}"), "pad": "x".repeat(200)})) {
            Ok(receipt) => accepted.push(receipt.id),
            Err(e) => {
                refused = Some(e);
                break;
            }
        }
    }
    let refused = refused.expect("a full disk refuses events");
    assert!(matches!(refused, PublishError::Storage(_)), "{refused:?}");
    assert!(refused.to_string().contains("No space left on device"), "{refused}");
    let alarm = service.storage_alarm().expect("/health shows the full disk");
    assert!(alarm.contains("No space left on device"), "{alarm}");
    // Space returns: events are accepted again.
    std::fs::remove_file(&ballast).unwrap();
    for n in 0..10 {
        accepted.push(service.publish("access", json!({"_id": format!("after{n}")})).unwrap().id);
    }
    assert_eq!(service.storage_alarm(), None, "cleared once an event is stored again");
    service.flush();
    drop(service);
    let text = std::fs::read_to_string(fx.path().join("out/out.log")).unwrap();
    let delivered: Vec<String> =
        text.lines().map(|l| serde_json::from_str::<Value>(l).unwrap()["id"].as_str().unwrap().to_owned()).collect();
    assert_eq!(delivered, accepted, "every accepted event delivered once, in order; nothing refused slipped in");
    wasp_tests::figure(&format!(
        "disk full under the journal: {} events accepted and delivered once, the rest refused (507), 0 lost",
        accepted.len()
    ));
    drop(disk);
}

#[test]
fn fsync_mode_publishes_durably_and_survives_a_restart() {
    let fx = Fixture::new();
    let config = config_with(&fx, &[probe_handler("p", json!({}))], json!({"journal": {"durability": "fsync"}}));
    let service = AuditService::from_config_file(&config).unwrap();
    let receipts: Vec<_> = (0..20).map(|n| service.publish("access", json!({"_id": format!("e{n}")})).unwrap()).collect();
    assert!(receipts.iter().all(|r| service.wait_durable(r, Duration::from_secs(5))));
    assert_eq!(receipts.last().unwrap().sequence, 20);
    drop(service);
    // A restart continues the stream's sequence from the log.
    let service = AuditService::from_config_file(&config).unwrap();
    assert_eq!(service.publish("access", json!({"_id": "again"})).unwrap().sequence, 21);
    drop(service);
    assert_eq!(fx.output_json("p", "out.log").len(), 21);
}
