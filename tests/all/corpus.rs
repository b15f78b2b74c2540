//! The hostile-guest corpus: one test per way a handler can misbehave
//! (`tests/guests/probe` actions, `tests/guests/miscount`). For each:
//! `publish` never fails; the healthy handler configured beside it gets every
//! event; for every handler `received = delivered + dead-lettered`; the
//! hostile event's dead letter names the right fault kind, and its healthy
//! neighbours in the same batch are delivered.

use serde_json::{Value, json};
use wasp::AuditService;
use wasp::dead_letter::DeadLetter;
use wasp_tests::{Fixture, guests, healthy_probe, probe_handler};

/// Runs `before`, the hostile event, `after` through a probe handler
/// `hostile` (with `extra` merged into its config) and a healthy probe
/// beside it; checks the invariants and returns the hostile event's dead
/// letter, if any, and the hostile handler's delivered records.
fn run_hostile(extra: Value, hostile_event: Value) -> (Option<DeadLetter>, Vec<Value>) {
    let fx = Fixture::new();
    let hostile = probe_handler("hostile", extra);
    let healthy = healthy_probe();
    let service = AuditService::from_config_file(fx.config(&[hostile, healthy])).unwrap();
    let mut event = hostile_event;
    event["_id"] = json!("bad");
    for e in [json!({"_id": "before"}), event, json!({"_id": "after"})] {
        service.publish("access", e).expect("publish never fails because of a handler");
    }
    service.flush();
    let summary = service.shutdown();
    for h in &summary.handlers {
        assert_eq!(h.received, 3, "{h:?}");
        assert_eq!(h.received, h.delivered + h.dead_lettered, "every event accounted for: {h:?}");
        assert_eq!(h.lost, 0, "{h:?}");
    }
    let healthy: Vec<String> = fx.output_json("healthy", "out.log").iter().map(|v| v["id"].as_str().unwrap().to_owned()).collect();
    assert_eq!(healthy, ["before", "bad", "after"], "the healthy neighbour got every event");
    let delivered = fx.data_json("hostile/out.log");
    let ids: Vec<&str> = delivered.iter().filter_map(|v| v["id"].as_str()).collect();
    assert!(ids.contains(&"before") && ids.contains(&"after"), "the hostile event's neighbours are delivered: {ids:?}");
    let mut letters = fx.dead_letters("hostile");
    assert!(letters.len() <= 1, "{letters:?}");
    let letter = letters.pop();
    if let Some(l) = &letter {
        assert_eq!(l.event.id, "bad");
        assert_eq!(l.handler, "hostile");
        assert_eq!(l.version.len(), 64, "the component's SHA-256");
        assert_eq!((l.event.topic.as_str(), &l.event.document["_id"]), ("access", &json!("bad")), "the original event is kept");
    }
    (letter, delivered)
}

fn dead_letter(extra: Value, event: Value, kind: &str) -> DeadLetter {
    let (letter, _) = run_hostile(extra, event);
    let letter = letter.expect("the hostile event is dead-lettered");
    assert_eq!(serde_json::to_value(letter.fault.kind).unwrap(), kind, "{letter:#?}");
    letter
}

#[test]
fn infinite_loop_runs_out_of_fuel() {
    let l = dead_letter(json!({}), json!({"action": "loop"}), "fuel");
    assert!(l.fault.fuel_used >= 10_000_000, "{l:?}");
}

#[test]
fn unbounded_recursion_is_a_stack_overflow_trap() {
    let l = dead_letter(json!({}), json!({"action": "recurse"}), "trap");
    let code = l.fault.trap_code.as_deref().unwrap_or_default();
    assert!(code.contains("stack") || l.fault.message.contains("stack"), "{l:#?}");
}

#[test]
fn memory_bomb_hits_the_memory_budget() {
    let l = dead_letter(json!({"budgets": {"memory": "32 MiB"}}), json!({"action": "membomb"}), "memory");
    assert!(l.fault.peak_memory <= 32 << 20 && l.fault.peak_memory > 16 << 20, "{l:?}");
}

#[test]
fn unreachable_is_a_trap_with_its_code() {
    let l = dead_letter(json!({}), json!({"action": "unreachable"}), "trap");
    assert!(l.fault.trap_code.as_deref().unwrap_or_default().contains("unreachable"), "{l:#?}");
}

#[test]
fn rust_panic_is_a_panic_with_the_message() {
    let l = dead_letter(json!({}), json!({"action": "panic"}), "panic");
    assert!(l.fault.message.contains("probe: poisoned event bad"), "{l:#?}");
}

#[test]
fn output_flood_is_an_output_limit() {
    let l = dead_letter(json!({}), json!({"action": "output-flood"}), "output-limit");
    assert!(l.fault.message.contains("limit 1048576 per event"), "{l:#?}");
}

#[test]
fn log_flood_is_a_log_limit() {
    let l = dead_letter(json!({}), json!({"action": "log-flood"}), "log-limit");
    assert!(l.fault.message.contains("log budget exceeded"), "{l:#?}");
}

#[test]
fn stdout_flood_is_bounded_and_not_a_fault() {
    // Printing 10 MiB takes more than the default fuel: give it enough.
    let (letter, delivered) = run_hostile(json!({"budgets": {"fuelPerEvent": 2_000_000_000u64}}), json!({"action": "stdout-flood"}));
    assert!(letter.is_none(), "{letter:?}");
    assert!(delivered.iter().any(|v| v["id"] == "bad"));
}

#[test]
fn state_flood_is_a_state_limit() {
    let l = dead_letter(json!({"budgets": {"state": "256 KiB"}}), json!({"action": "state-flood"}), "state-limit");
    assert!(l.fault.message.contains("state budget exceeded") && l.fault.message.contains("limit 262144"), "{l:#?}");
}

#[test]
fn slow_but_finite_just_over_the_deadline() {
    let extra = json!({"budgets": {"fuelPerEvent": 1_000_000_000_000u64, "deadline": "100 ms"}});
    dead_letter(extra, json!({"action": "slow", "ms": 150}), "deadline");
}

fn refused(action: &str) {
    let l = dead_letter(json!({}), json!({"action": action}), "guest-error");
    assert!(l.fault.message.starts_with(&format!("{action} refused")), "{l:#?}");
}

#[test]
fn wasi_cannot_open_a_file() {
    refused("wasi-file");
}

#[test]
fn wasi_cannot_list_a_directory() {
    refused("wasi-readdir");
}

#[test]
fn wasi_has_no_environment() {
    refused("wasi-env");
}

#[test]
fn wasi_cannot_open_a_socket() {
    refused("wasi-socket");
}

#[test]
fn wasi_cannot_resolve_a_name() {
    refused("wasi-dns");
}

#[test]
fn emit_to_an_undeclared_output_is_a_guest_error() {
    let l = dead_letter(json!({}), json!({"action": "emit-other", "output": "undeclared.log"}), "guest-error");
    assert!(l.fault.message.contains("output `undeclared.log` is not declared for this handler"), "{l:#?}");
}

fn miscount(mode: &str) -> DeadLetter {
    let fx = Fixture::new();
    let mut bad = probe_handler("miscount", json!({"config": {"mode": mode}}));
    bad["component"] = json!(guests::MISCOUNT);
    let healthy = healthy_probe();
    let service = AuditService::from_config_file(fx.config(&[bad, healthy])).unwrap();
    service.publish("access", json!({"_id": "only"})).unwrap();
    service.flush();
    let summary = service.shutdown();
    let h = summary.handler("miscount").unwrap();
    assert_eq!((h.received, h.delivered, h.dead_lettered), (1, 0, 1));
    assert_eq!(summary.handler("healthy").unwrap().delivered, 1);
    let letter = fx.dead_letters("miscount").pop().unwrap();
    assert_eq!(letter.fault.trap_code.as_deref(), Some("wrong result count"));
    letter
}

#[test]
fn handle_batch_returning_too_few_results() {
    assert_eq!(miscount("few").fault.message, "handle-batch returned 0 results for 1 events");
}

#[test]
fn handle_batch_returning_too_many_results() {
    assert_eq!(miscount("many").fault.message, "handle-batch returned 2 results for 1 events");
}

#[test]
fn a_guest_that_faults_on_every_tenth_event_loses_only_those() {
    let fx = Fixture::new();
    let handler = probe_handler("tenth", json!({"batch": {"maxSize": 16, "maxWait": "20 ms"}}));
    let service = AuditService::from_config_file(fx.config(&[handler, healthy_probe()])).unwrap();
    for n in 1..=40 {
        service.publish("access", json!({"_id": format!("e{n}"), "action": "every-10th"})).unwrap();
    }
    service.flush();
    let summary = service.shutdown();
    let h = summary.handler("tenth").unwrap();
    assert_eq!((h.received, h.delivered, h.dead_lettered), (40, 36, 4), "{h:?}");
    assert_eq!(h.faults.get("panic"), Some(&4));
    let letters: Vec<u64> = fx.dead_letters("tenth").iter().map(|l| l.event.sequence).collect();
    assert_eq!(letters, [10, 20, 30, 40]);
    assert_eq!(fx.output_json("tenth", "out.log").len(), 36);
    assert_eq!(summary.handler("healthy").unwrap().delivered, 40);
}

// Issue 25: a guest blocked in a host call (a WASI sleep or wait) was not
// stopped by its deadline (epoch interruption only reaches running
// WebAssembly code); stdin must not block either.

#[test]
fn sleeping_in_a_host_call_is_cut_at_the_deadline() {
    let started = std::time::Instant::now();
    let l = dead_letter(json!({"budgets": {"deadline": "200 ms"}}), json!({"action": "sleep"}), "deadline");
    assert!(l.fault.message.contains("blocked in the host call `wasi:io/poll"), "{l:#?}");
    // An hour asked for; the batch call and the event's own call each end
    // at the deadline.
    assert!(started.elapsed() < std::time::Duration::from_secs(30), "took {:?}", started.elapsed());
}

#[test]
fn blocking_on_a_pollable_is_cut_at_the_deadline() {
    let l = dead_letter(json!({"budgets": {"deadline": "200 ms"}}), json!({"action": "block-pollable"}), "deadline");
    assert!(l.fault.message.contains("blocked in the host call `wasi:io/poll#[method]pollable.block`"), "{l:#?}");
}

#[test]
fn a_short_sleep_within_the_deadline_is_not_a_fault() {
    let (letter, delivered) = run_hostile(json!({"budgets": {"deadline": "2 seconds"}}), json!({"action": "sleep", "ms": 20}));
    assert!(letter.is_none(), "{letter:#?}");
    assert!(delivered.iter().any(|r| r["id"] == "bad"), "{delivered:?}");
}

#[test]
fn stdin_is_closed_and_does_not_block() {
    let (letter, delivered) = run_hostile(json!({"budgets": {"deadline": "2 seconds"}}), json!({"action": "read-stdin"}));
    assert!(letter.is_none(), "{letter:#?}");
    let record = delivered.iter().find(|r| r["id"] == "bad").unwrap();
    assert_eq!(record["stdin"], "Ok(0)", "{record}");
}

// Issue 25: a guest's `err` message had no size limit (1 MiB per dead
// letter and per log line).

#[test]
fn a_huge_error_message_is_cut_and_counted() {
    let l = dead_letter(json!({}), json!({"action": "huge-err", "bytes": 1 << 20}), "guest-error");
    // 349,525 `€` (3 bytes each): cut at the last character boundary
    // within the default 16 KiB.
    let kept = 16384 / 3 * 3;
    let total = (1 << 20) / 3 * 3;
    assert_eq!(l.fault.truncated_bytes, (total - kept) as u64, "{:?}", l.fault.message.len());
    assert!(l.fault.message.starts_with(&"€".repeat(kept / 3)), "{}", &l.fault.message[..64]);
    assert!(l.fault.message.ends_with(&format!("… [truncated: {} more bytes]", total - kept)), "{}", &l.fault.message[kept - 8..]);
    // A short message is kept whole and nothing is counted.
    let l = dead_letter(json!({}), json!({"action": "huge-err", "bytes": 30}), "guest-error");
    assert_eq!((l.fault.message.as_str(), l.fault.truncated_bytes), ("€€€€€€€€€€", 0));
}

#[test]
fn the_error_budget_is_configurable_and_bounds_an_init_error() {
    let l = dead_letter(json!({"budgets": {"errorPerEvent": 100}}), json!({"action": "huge-err", "bytes": 3000}), "guest-error");
    assert_eq!(l.fault.truncated_bytes, 3000 - 99, "{l:#?}");
    assert_eq!(l.fault.message, format!("{}… [truncated: 2901 more bytes]", "€".repeat(33)));

    let fx = Fixture::new();
    let handler = probe_handler("p", json!({"config": {"fail_init": true, "fail_init_bytes": 1 << 20}}));
    let service = AuditService::from_config_file(fx.config(&[handler])).unwrap();
    service.publish("access", json!({"_id": "x"})).unwrap();
    service.flush();
    let summary = service.shutdown();
    let reason = summary.handlers[0].disabled_reason.clone().unwrap();
    assert!(reason.len() < 17 << 10 && reason.starts_with("init returned an error: €€€"), "{} bytes", reason.len());
    let letter = fx.dead_letters("p").pop().unwrap();
    assert_eq!(serde_json::to_value(letter.fault.kind).unwrap(), "init");
    assert_eq!(letter.fault.truncated_bytes, ((1 << 20) / 3 * 3 - 16383) as u64, "{}", letter.fault.message.len());
}

/// Runs `wasp pipe --json` over `input` in `fx`, killing it (and failing
/// the test) if it has not exited within `limit`; returns the exit code, the
/// summary and stderr.
fn pipe_within(fx: &Fixture, input: &str, limit: std::time::Duration) -> (Option<i32>, Value, String) {
    use std::io::Read;
    std::fs::write(fx.path().join("events.ndjson"), input).unwrap();
    let mut child = std::process::Command::new(wasp_tests::wasp_bin())
        .args(["pipe", "--config", "audit.json", "--topic", "access", "--input", "events.ndjson", "--json"])
        .current_dir(fx.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let drain = std::thread::spawn(move || {
        let mut text = Vec::new();
        let _ = stderr.read_to_end(&mut text);
        text
    });
    let started = std::time::Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("wasp pipe did not exit within {limit:?}: {}", String::from_utf8_lossy(&drain.join().unwrap()));
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    let mut stdout = String::new();
    child.stdout.take().unwrap().read_to_string(&mut stdout).unwrap();
    let stderr = String::from_utf8_lossy(&drain.join().unwrap()).into_owned();
    let summary = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}\n{stderr}"));
    (status.code(), summary, stderr)
}

#[test]
fn wasp_pipe_ends_when_a_guest_sleeps_for_an_hour_and_the_breaker_opens() {
    // The case: `handle` sleeps an hour; `wasp pipe` never exited.
    let fx = Fixture::new();
    let sleeper = probe_handler("sleeper", json!({"budgets": {"deadline": "300 ms"}}));
    fx.config(&[sleeper, healthy_probe()]);
    let input: String = (0..10).map(|n| format!("{}\n", json!({"_id": format!("e{n}"), "action": "sleep"}))).collect();
    let started = std::time::Instant::now();
    let (code, summary, stderr) = pipe_within(&fx, &input, std::time::Duration::from_secs(90));
    let took = started.elapsed();
    assert_eq!(code, Some(3), "{stderr}");
    let handlers = summary["handlers"].as_array().unwrap();
    let sleeper = handlers.iter().find(|h| h["name"] == "sleeper").unwrap();
    assert_eq!(
        (sleeper["received"].as_u64(), sleeper["deadLettered"].as_u64(), sleeper["lost"].as_u64()),
        (Some(10), Some(10), Some(0)),
        "{sleeper}"
    );
    // Each call ended at its deadline: the breaker opened after 5 of them.
    let deadline = sleeper["faults"]["deadline"].as_u64().unwrap_or(0);
    let quarantined = sleeper["faults"]["quarantined"].as_u64().unwrap_or(0);
    assert!(deadline >= 5 && deadline + quarantined == 10, "{sleeper}");
    assert!(sleeper["quarantines"].as_u64().unwrap() >= 1, "{sleeper}");
    let healthy = handlers.iter().find(|h| h["name"] == "healthy").unwrap();
    assert_eq!(healthy["delivered"].as_u64(), Some(10), "{healthy}");
    // A few calls of 300 ms (a batch, then five events alone), not hours.
    assert!(took < std::time::Duration::from_secs(30), "took {took:?}");
    let letter = fx.dead_letters("sleeper").into_iter().find(|l| serde_json::to_value(l.fault.kind).unwrap() == "deadline").unwrap();
    assert!(letter.fault.message.contains("blocked in the host call"), "{letter:#?}");
}

#[test]
fn wasp_pipe_keeps_huge_error_messages_out_of_dead_letters_and_logs() {
    // The case: 1 MiB of error per event went to every dead letter
    // and to stderr (100 MiB for 100 events).
    let fx = Fixture::new();
    fx.config(&[probe_handler("errs", json!({}))]);
    let input: String = (0..40).map(|n| format!("{}\n", json!({"_id": format!("e{n}"), "action": "huge-err"}))).collect();
    let (code, summary, stderr) = pipe_within(&fx, &input, std::time::Duration::from_secs(120));
    assert_eq!(code, Some(3), "{}", &stderr[..stderr.len().min(2000)]);
    assert_eq!(summary["handlers"][0]["faults"]["guest-error"].as_u64(), Some(40), "{summary}");
    // 40 × 1 MiB before; now at most 16 KiB (+ the mark) per event, twice
    // (the dead-letter warning and the summary's last failure).
    assert!(stderr.len() < 40 * 2 * (17 << 10), "{} bytes on stderr", stderr.len());
    let letters = fx.dead_letters("errs");
    assert_eq!(letters.len(), 40);
    for l in &letters {
        assert_eq!(l.fault.truncated_bytes, ((1 << 20) / 3 * 3 - 16383) as u64);
    }
    let dir = fx.path().join("wasp-data/dead-letters/handlers/errs");
    for entry in std::fs::read_dir(&dir).unwrap() {
        let entry = entry.unwrap();
        let size = entry.metadata().unwrap().len();
        assert!(size < 20 << 10, "{}: {size} bytes", entry.path().display());
        let text = std::fs::read_to_string(entry.path()).unwrap();
        assert!(
            text.contains("\"truncatedBytes\": 1032192") || text.contains("\"truncatedBytes\":1032192"),
            "{}",
            &text[text.len() - 300..]
        );
    }
}
