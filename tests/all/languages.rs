//! The access-anywhere-file sample in Rust, Python and JavaScript: the three
//! components run through the real runtime (`wasp pipe`) with the same
//! events and must write the same bytes. Also: a Python or JavaScript
//! exception becomes the event's `err` (a `guest-error` dead letter, no
//! trap), and the default budgets recycle a JavaScript instance before its
//! memory growth (~0.5 KiB per call) hurts.
//!
//! The Python and JavaScript components come from `scripts/build-guests.sh`
//! (`target/guests/{py,js}/`); under `CI=true` a missing one fails the test.

use serde_json::{Value, json};
use wasp_tests::{Fixture, guests, language_guest, run_wasp, shared_compile_cache};

/// Events exercising every mapping rule and the JSON writer: nested objects
/// with unsorted, non-ASCII and empty keys, escapes, floats in both
/// notations, big integers, present `null`s, every date rule (offsets that
/// cross a day and a year, fractions, a leap second, impossible dates,
/// non-ASCII text).
const EVENTS: &str = r#"{"topic":"access","_id":"e1","timestamp":"2026-11-22T04:44:00.123Z","transactionId":"t1","eventName":"AM-ACCESS-OUTCOME","userId":"bjensen","client":{"ip":"203.0.113.7"},"request":{"operation":"GET","detail":{"path":"/files/q3.pdf"}}}
{"topic":"authentication","_id":"e2","timestamp":"2026-11-22T05:00:00+01:00","transactionId":"t2","eventName":"AM-LOGIN-COMPLETED","principal":["alice"],"result":"FAILED","client":{"ip":"198.51.100.2"}}
{"topic":"activity","_id":"e3","timestamp":"2026-02-29T10:00:00Z","transactionId":"t3","eventName":"AM-IDENTITY-CHANGE","userId":"admin","objectId":"managed/user/42","operation":"PATCH","changedFields":["mail"]}
{"topic":"access","_id":"e4","timestamp":"2000-01-01T00:30:00+01:00","userId":null,"principal":["bob"],"ip":"10.0.0.1","log":"x","name":"svc","objid":7,"params":{"z":1,"a":[2.5,-7,1.5e-7,1e21,100000000000000000000,0.1,0.00001,1e-6,12345678901234,123456.75,true,null],"é":"ü\u0001\"\\/\u007f😀\t\n","Z":{"b":{},"a":[]},"😀":0,"":"empty","\uffff":1}}
{"topic":"access","_id":"e5","timestamp":"2016-12-31T23:59:60Z","actor":{"kind":"robot"},"eventType":"tick","component":"cron","request":{"detail":"plain"}}
{"topic":"access","_id":"e6","timestamp":"2026-11-22T04:44:00.5-09:30","userId":"ü","result":false}
{"topic":"access","_id":"e7","timestamp":"2026-1x-22T04:44:00Z","userId":"n"}
{"topic":"access","_id":"e8","timestamp":"2026-11-22T04:44:00+0100","userId":"n"}
{"topic":"access","_id":"e9","timestamp":"2026-11-22T04:44:00Z ","userId":"n"}
{"topic":"access","_id":"e10","timestamp":"2026-11-22T04:44:00.Z","userId":"n"}
{"topic":"access","_id":"e11","timestamp":"2026-11-22T04:44é00Z","userId":"n"}
{"topic":"access","_id":"e12","timestamp":"1900-02-29T00:00:00Z","userId":"n"}
{"topic":"access","_id":"e13","timestamp":"2400-02-29T23:59:59-00:01","userId":"n"}
{"topic":"access","_id":"e14","timestamp":"0001-01-01t00:00:00+00:30","userId":"n","principal":[]}
"#;

fn aaf(name: &str, component: &str, config: Value) -> Value {
    json!({
        "name": name,
        "topics": ["access", "activity", "authentication"],
        "component": component,
        "config": config,
        "outputs": {"audit.log": {"type": "file", "path": "audit.log"}}
    })
}

fn config_with(fx: &Fixture, handlers: Vec<Value>) -> std::path::PathBuf {
    let entries: Vec<Value> = handlers.into_iter().map(|h| json!({"class": "wasm", "config": h})).collect();
    fx.config_doc(&json!({
        "eventHandlers": entries,
        "wasp": {"cacheDirectory": shared_compile_cache()}
    }))
}

fn pipe(fx: &Fixture, config: &std::path::Path, input: &str) -> Value {
    let out = run_wasp(&["pipe", "--config", config.to_str().unwrap(), "--json"], Some(input), fx.path());
    assert!(out.stdout.starts_with(b"{"), "wasp pipe printed no summary: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

fn handler<'a>(summary: &'a Value, name: &str) -> &'a Value {
    summary["handlers"].as_array().unwrap().iter().find(|h| h["name"] == name).unwrap()
}

#[test]
fn access_anywhere_file_writes_the_same_bytes_in_rust_python_and_javascript() {
    let (Some(py), Some(js)) = (language_guest("py", "access_anywhere_file"), language_guest("js", "access_anywhere_file")) else {
        return;
    };
    let fx = Fixture::new();
    let config = config_with(
        &fx,
        vec![
            aaf("rust", guests::ACCESS_ANYWHERE_FILE, json!({})),
            aaf("python", py.to_str().unwrap(), json!({})),
            aaf("js", js.to_str().unwrap(), json!({})),
        ],
    );
    let summary = pipe(&fx, &config, EVENTS);
    let events = EVENTS.lines().count() as u64;
    for name in ["rust", "python", "js"] {
        let h = handler(&summary, name);
        assert_eq!((h["delivered"].as_u64(), h["deadLettered"].as_u64()), (Some(events), Some(0)), "{name}: {h:#}");
        eprintln!(
            "{name}: {} fuel/event, busy {} µs, {} instance(s)",
            h["fuelPerEvent"],
            h["busyNs"].as_u64().unwrap() / 1000,
            h["instances"]
        );
    }
    let read = |name: &str| std::fs::read(fx.path().join("wasp-data").join(name).join("audit.log")).unwrap();
    let rust = read("rust");
    assert_eq!(String::from_utf8_lossy(&rust).lines().count() as u64, events);
    for name in ["python", "js"] {
        let other = read(name);
        if other != rust {
            let (r, o) = (String::from_utf8_lossy(&rust), String::from_utf8_lossy(&other));
            for (i, (a, b)) in r.lines().zip(o.lines()).enumerate() {
                assert_eq!(b, a, "{name} differs from rust on line {}", i + 1);
            }
            panic!("{name} differs from rust in length: {} vs {} bytes", other.len(), rust.len());
        }
    }
    // Spot checks of the rules themselves (the Rust sample's unit tests
    // cover the date arithmetic).
    let lines: Vec<&str> = std::str::from_utf8(&rust).unwrap().lines().collect();
    assert!(lines[3].starts_with(r#"{"actor":null,"eventType":null,"ip":"10.0.0.1","date":"Fri, 31 Dec 99 23:30:00 +0000","log_str":"x","name":"svc","objid":7,"params":{"":"empty","Z":{"a":[],"b":{}},"a":[2.5,-7,1.5e-7,1e+21,1e+20,0.1,0.00001,1e-6,12345678901234,123456.75,true,null]"#), "{}", lines[3]);
    assert!(lines[4].contains(r#""date":"Sun, 01 Jan 17 00:00:00 +0000""#), "{}", lines[4]);
}

#[test]
fn python_and_javascript_exceptions_become_errors_not_traps() {
    let (Some(py), Some(js)) = (language_guest("py", "access_anywhere_file"), language_guest("js", "access_anywhere_file")) else {
        return;
    };
    let fx = Fixture::new();
    // Emitting to an output the configuration does not declare raises in
    // the guest; the SDK turns it into the event's `err`.
    let config = config_with(
        &fx,
        vec![
            aaf("python", py.to_str().unwrap(), json!({"output": "undeclared"})),
            aaf("js", js.to_str().unwrap(), json!({"output": "undeclared"})),
        ],
    );
    let input: String = EVENTS.lines().take(3).map(|l| format!("{l}\n")).collect();
    let summary = pipe(&fx, &config, &input);
    for name in ["python", "js"] {
        let h = handler(&summary, name);
        assert_eq!(h["deadLettered"].as_u64(), Some(3), "{name}: {h:#}");
        assert_eq!(h["faults"], json!({"guest-error": 3}), "{name}: {h:#}");
        assert_eq!(h["instances"].as_u64(), Some(1), "{name}: an err must not cost the instance: {h:#}");
        let letters = fx.dead_letters(name);
        let message = &letters[0].fault.message;
        assert!(message.contains("undeclared"), "{name}: {message}");
    }

    // An unknown config field is init's `err`: the handler is disabled with
    // the message, nothing traps.
    let fx = Fixture::new();
    let config = config_with(
        &fx,
        vec![
            aaf("python", py.to_str().unwrap(), json!({"mapping": {"colour": ["/x"]}})),
            aaf("js", js.to_str().unwrap(), json!({"mapping": {"colour": ["/x"]}})),
        ],
    );
    let summary = pipe(&fx, &config, "");
    for name in ["python", "js"] {
        let h = handler(&summary, name);
        assert_eq!(h["state"], "disabled", "{name}: {h:#}");
        let reason = h["disabledReason"].as_str().unwrap();
        assert!(reason.contains("config.mapping.colour: not a field of the output line"), "{name}: {reason}");
    }
}

#[test]
fn default_budgets_recycle_a_javascript_instance_before_its_memory_grows_too_far() {
    let Some(js) = language_guest("js", "access_anywhere_file") else {
        return;
    };
    let fx = Fixture::new();
    let config = config_with(&fx, vec![aaf("js", js.to_str().unwrap(), json!({}))]);
    // A bit more than the default `recycleAfter` (10,000 events).
    let line = EVENTS.lines().next().unwrap();
    let input: String = (0..10_500).map(|_| format!("{line}\n")).collect();
    let summary = pipe(&fx, &config, &input);
    let h = handler(&summary, "js");
    assert_eq!((h["delivered"].as_u64(), h["deadLettered"].as_u64()), (Some(10_500), Some(0)), "{h:#}");
    assert!(h["recycled"].as_u64().unwrap() >= 1, "the default recycles after 10,000 events: {h:#}");
    eprintln!("js: {} fuel/event over {} calls, {} µs busy", h["fuelPerEvent"], h["calls"], h["busyNs"].as_u64().unwrap() / 1000);
}
