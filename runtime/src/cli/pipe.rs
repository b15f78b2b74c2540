//! `wasp pipe`: NDJSON in, handlers run, summary out.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use serde::Serialize;
use serde_json::Value;

use super::EXIT_INCOMPLETE;
use wasp::{AuditService, Receipt, Summary};

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PipeSummary {
    input: InputCounts,
    wall_time_ns: u64,
    #[serde(flatten)]
    service: Summary,
}

#[derive(Serialize, Default)]
struct InputCounts {
    lines: u64,
    accepted: u64,
    rejected: u64,
}

/// How `wasp pipe` publishes and reports.
pub struct Options<'a> {
    pub topic: Option<&'a str>,
    pub tenant: Option<&'a str>,
    pub receipts: bool,
    pub json: bool,
}

pub fn run(config: &Path, input: &Path, options: &Options<'_>) -> anyhow::Result<ExitCode> {
    let (topic, tenant, json) = (options.topic, options.tenant, options.json);
    let started = Instant::now();
    let service = AuditService::from_config_file(config)?;
    let reader: Box<dyn Read> = if input == Path::new("-") {
        Box::new(std::io::stdin())
    } else {
        Box::new(std::fs::File::open(input).with_context(|| format!("cannot open input {}", input.display()))?)
    };
    let mut counts = InputCounts::default();
    let mut reader = BufReader::new(reader);
    let mut bytes = Vec::new();
    for index in 0usize.. {
        bytes.clear();
        let read = reader.read_until(b'\n', &mut bytes).with_context(|| format!("reading {} line {}", input.display(), index + 1))?;
        if read == 0 {
            break;
        }
        let raw = bytes.strip_suffix(b"\n").unwrap_or(&bytes);
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        // Each line is decoded on its own: one that is not UTF-8 is
        // rejected like any bad event, and the next lines are read.
        let line = std::str::from_utf8(raw);
        if line.is_ok_and(|l| l.trim().is_empty()) {
            continue;
        }
        counts.lines += 1;
        let published =
            line.map_err(|e| format!("the line is not UTF-8: {e}")).and_then(|line| publish_line(&service, line, topic, tenant));
        match published {
            Ok(receipt) => {
                counts.accepted += 1;
                if options.receipts {
                    let line = serde_json::json!({"line": index + 1, "id": receipt.id, "sequence": receipt.sequence});
                    super::write_stdout(&format!("{line}\n"))?;
                }
            }
            Err(reason) => {
                counts.rejected += 1;
                eprintln!("wasp pipe: {} line {}: rejected: {reason}", input.display(), index + 1);
            }
        }
    }
    let service = service.shutdown();
    let summary = PipeSummary { input: counts, wall_time_ns: started.elapsed().as_nanos() as u64, service };
    if json {
        super::write_stdout(&format!("{}\n", serde_json::to_string(&summary)?))?;
    } else {
        eprint!("{}", render(&summary));
    }
    let undelivered: u64 = summary.service.handlers.iter().map(|h| h.dead_lettered + h.lost).sum();
    Ok(if summary.input.rejected > 0 || undelivered > 0 { ExitCode::from(EXIT_INCOMPLETE) } else { ExitCode::SUCCESS })
}

fn publish_line(service: &AuditService, line: &str, topic: Option<&str>, tenant: Option<&str>) -> Result<Receipt, String> {
    let publish = |topic: &str, event: Value| match tenant {
        Some(tenant) => service.publish_as(tenant, topic, event).map_err(|e| e.to_string()),
        None => service.publish(topic, event).map_err(|e| e.to_string()),
    };
    if let Some(topic) = topic {
        let value: Value = serde_json::from_str(line).map_err(|e| format!("event is not valid JSON: {e}"))?;
        return publish(topic, value);
    }
    let mut value: Value = serde_json::from_str(line).map_err(|e| format!("event is not valid JSON: {e}"))?;
    let topic = match value.as_object_mut().map(|o| o.remove("topic")) {
        Some(Some(Value::String(topic))) => topic,
        Some(Some(_)) => return Err("the event's `topic` field must be a string".into()),
        Some(None) => return Err("no topic: give --topic or a `topic` field in the event".into()),
        None => return Err("event must be a JSON object".into()),
    };
    publish(&topic, value)
}

fn render(s: &PipeSummary) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "wasp pipe: {} events read, {} accepted, {} rejected in {:.1} ms ({} allocator)",
        s.input.lines,
        s.input.accepted,
        s.input.rejected,
        s.wall_time_ns as f64 / 1e6,
        s.service.allocator
    );
    let _ = writeln!(
        out,
        "{:<24} {:>11} {:>9} {:>9} {:>13} {:>12} {:>14} {:>11} {:>9}",
        "handler", "state", "received", "delivered", "dead-lettered", "fuel/event", "fuel total", "busy", "instances"
    );
    for h in &s.service.handlers {
        let state = serde_json::to_value(h.state).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default();
        let _ = writeln!(
            out,
            "{:<24} {:>11} {:>9} {:>9} {:>13} {:>12} {:>14} {:>8.2} ms {:>9}",
            h.name,
            state,
            h.received,
            h.delivered,
            h.dead_lettered,
            h.fuel_per_event,
            h.fuel_used,
            h.busy_ns as f64 / 1e6,
            h.instances
        );
        let _ = writeln!(out, "  events: {}", h.fates());
        if let Some(reason) = &h.disabled_reason {
            let _ = writeln!(out, "  disabled: {reason}");
        }
        for (kind, n) in &h.faults {
            let _ = writeln!(out, "  dead letters ({kind}): {n}");
        }
        if h.lost > 0 {
            let _ = writeln!(out, "  LOST (the dead-letter store could not be written): {}", h.lost);
        }
        if h.quarantines > 0 {
            let _ = writeln!(out, "  quarantined by its circuit breaker {} time(s)", h.quarantines);
        }
        if let Some(last) = &h.last_fault {
            let _ = writeln!(out, "  last failure: {last}");
        }
        for o in &h.outputs {
            let _ = writeln!(out, "  output {} ({}) -> {}", o.name, o.kind, o.location);
        }
    }
    for t in &s.service.tenants {
        let _ = writeln!(out, "tenant {}: {} published, {} over quota", t.name, t.published, t.over_quota);
    }
    if s.service.handlers.iter().any(|h| h.dead_lettered > 0) {
        let _ = writeln!(out, "dead letters: {} (see `wasp dlq list`)", s.service.dead_letters.display());
    }
    out
}
