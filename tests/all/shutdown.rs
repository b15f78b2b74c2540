//! SIGTERM while clients are publishing: every event the sidecar
//! acknowledged (201) is in the output after the drain; what it refused
//! during the drain was never acknowledged.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use serde_json::{Value, json};
use wasp_tests::{Fixture, WaspRun};

const TOKEN: &str = "shutdown-token";

/// Posts single events as fast as one connection per request allows until
/// the server stops answering; returns the `_id`s it acknowledged.
fn publisher(address: String, prefix: &'static str, stop: Arc<AtomicBool>) -> Vec<String> {
    let mut acknowledged = Vec::new();
    let mut n = 0;
    while !stop.load(Ordering::Relaxed) {
        let id = format!("{prefix}-{n}");
        n += 1;
        let request = std::panic::catch_unwind(|| {
            wasp_tests::http(&address, TOKEN, "POST", "/audit/access", "application/json", &json!({"_id": id}).to_string())
        });
        match request {
            Ok((201, _)) => acknowledged.push(id),
            Ok((503, _)) => {} // draining: refused, not acknowledged
            Ok((status, body)) => panic!("unexpected {status}: {body}"),
            Err(_) => break, // the listener is gone
        }
    }
    acknowledged
}

#[test]
fn sigterm_under_load_loses_no_acknowledged_event() {
    let fx = Fixture::new();
    fx.config_doc(&json!({
        "eventHandlers": [{"class": "JsonAuditEventHandler",
                           "config": {"name": "json", "logDirectory": "logs", "topics": ["access"], "buffering": {"writeInterval": "5 seconds"}}}],
        "wasp": {"sidecar": {"adminToken": wasp::sidecar::hash_token(TOKEN), "shutdownDeadline": "30 seconds"}}
    }));
    let run = WaspRun::start(fx.path());
    let stop = Arc::new(AtomicBool::new(false));
    let publishers: Vec<_> = ["a", "b", "c"]
        .into_iter()
        .map(|prefix| {
            let (address, stop) = (run.address.clone(), stop.clone());
            std::thread::spawn(move || publisher(address, prefix, stop))
        })
        .collect();
    // Let them publish for a while, then SIGTERM in the middle of it.
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let (code, stderr) = run.terminate();
    stop.store(true, Ordering::Relaxed);
    let acknowledged: Vec<String> = publishers.into_iter().flat_map(|p| p.join().unwrap()).collect();
    assert_eq!(code, Some(0), "{stderr}");
    assert!(acknowledged.len() > 100, "the load ran: {} events", acknowledged.len());

    let written: std::collections::BTreeSet<String> = std::fs::read_to_string(fx.path().join("wasp-data/logs/access.audit.json"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap()["_id"].as_str().unwrap().to_owned())
        .collect();
    let missing: Vec<&String> = acknowledged.iter().filter(|id| !written.contains(*id)).collect();
    assert!(missing.is_empty(), "{} acknowledged events missing, e.g. {:?}", missing.len(), &missing[..missing.len().min(5)]);
}
