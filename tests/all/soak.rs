//! Soak: a million access events through the Access Anywhere sample in
//! Rust, Python and JavaScript at once (instances recycled every 10,000
//! events, the default), sampling the process's resident memory, its open
//! file descriptors and each handler's fuel per event every two seconds.
//!
//! Too long for the test suite (about 20 minutes here, the JavaScript
//! handler setting the pace): run it by hand with
//! `cargo test -p wasp-tests --test all soak -- --ignored --nocapture`
//! (`WASP_SOAK_EVENTS` changes the count). It fails when memory grows
//! (the last quarter's mean RSS more than 25% above the second quarter's),
//! when descriptors leak (more than 8 open at the end than after the
//! start), when fuel per event drifts (more than 5% between quarters), or
//! when an event is lost. It writes `target/soak/samples.csv` and
//! `target/soak/soak.svg` (the picture in `docs/benchmarks.md`).

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use serde_json::json;
use wasp::AuditService;
use wasp_tests::{Fixture, guests, language_guest};

/// One sample: seconds since the start, RSS in KiB, open descriptors, and
/// per handler (Rust, Python, JavaScript) events delivered and fuel used.
#[derive(Clone, Copy)]
struct Sample {
    at: f64,
    rss_kib: u64,
    fds: usize,
    delivered: [u64; 3],
    fuel: [u64; 3],
}

fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status.lines().find_map(|l| l.strip_prefix("VmRSS:")).and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok()).unwrap()
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

fn event(n: u64) -> serde_json::Value {
    json!({
        "_id": format!("soak-{n}"), "timestamp": "2026-11-22T06:00:00.123Z", "transactionId": format!("tx-{n}"),
        "eventName": "AM-ACCESS-OUTCOME", "userId": format!("user-{}", n % 1000), "client": {"ip": "203.0.113.7", "port": 44321},
        "request": {"protocol": "HTTP", "operation": "GET", "detail": {"path": format!("/files/{}.pdf", n % 97)}},
        "response": {"status": "SUCCESSFUL", "statusCode": "200", "elapsedTime": n % 100, "elapsedTimeUnits": "MILLISECONDS"}
    })
}

#[test]
#[ignore = "a million events through three languages (~20 min): run by hand, see the module docs"]
fn soak_a_million_events_through_rust_python_and_javascript() {
    let events: u64 = std::env::var("WASP_SOAK_EVENTS").ok().and_then(|v| v.parse().ok()).unwrap_or(1_000_000);
    let (Some(py), Some(js)) = (language_guest("py", "access_anywhere_file"), language_guest("js", "access_anywhere_file")) else { return };
    let fx = Fixture::new();
    let handler = |name: &str, component: &str| {
        json!({"class": "wasm", "config": {"name": name, "topics": ["access"], "component": component,
               "outputs": {"audit.log": {"type": "file", "path": "audit.log"}},
               "batch": {"maxSize": 64, "maxWait": "10 ms"}, "budgets": {"recycleAfter": 10000}}})
    };
    let config = fx.config_doc(&json!({
        "eventHandlers": [handler("rust", guests::ACCESS_ANYWHERE_FILE), handler("python", py.to_str().unwrap()), handler("javascript", js.to_str().unwrap())],
        "wasp": {"journal": {"maxEvents": 20000, "overflow": "block", "blockTimeout": "10 minutes"},
                 "cacheDirectory": wasp_tests::shared_compile_cache().to_str().unwrap(), "safelist": false}
    }));
    let audit = AuditService::from_config_file(&config).unwrap();
    let started = Instant::now();
    let sample = |audit: &AuditService| {
        let summary = audit.summary();
        let get = |name: &str| summary.handler(name).map(|h| (h.delivered, h.fuel_used)).unwrap();
        let (r, p, j) = (get("rust"), get("python"), get("javascript"));
        Sample {
            at: started.elapsed().as_secs_f64(),
            rss_kib: rss_kib(),
            fds: open_fds(),
            delivered: [r.0, p.0, j.0],
            fuel: [r.1, p.1, j.1],
        }
    };
    let mut samples = vec![sample(&audit)];
    let mut next = Instant::now() + Duration::from_secs(2);
    for n in 0..events {
        audit.publish("access", event(n)).unwrap();
        if Instant::now() >= next {
            samples.push(sample(&audit));
            next += Duration::from_secs(2);
        }
    }
    loop {
        let s = sample(&audit);
        let done = s.delivered.iter().all(|d| *d == events);
        samples.push(s);
        if done {
            break;
        }
        std::thread::sleep(Duration::from_secs(2));
    }
    let summary = audit.shutdown();
    for h in &summary.handlers {
        assert_eq!((h.delivered, h.dead_lettered, h.lost), (events, 0, 0), "{h:?}");
    }
    report(&samples, events);
}

/// Writes the CSV and the picture, prints the figures, checks the bounds.
fn report(samples: &[Sample], events: u64) {
    let dir = wasp_tests::repo_root().join("target/soak");
    std::fs::create_dir_all(&dir).unwrap();
    let mut csv =
        String::from("seconds,rss_kib,fds,rust_delivered,python_delivered,javascript_delivered,rust_fuel,python_fuel,javascript_fuel\n");
    for s in samples {
        let _ = writeln!(
            csv,
            "{:.1},{},{},{},{},{},{},{},{}",
            s.at, s.rss_kib, s.fds, s.delivered[0], s.delivered[1], s.delivered[2], s.fuel[0], s.fuel[1], s.fuel[2]
        );
    }
    std::fs::write(dir.join("samples.csv"), csv).unwrap();
    std::fs::write(dir.join("soak.svg"), svg(samples, events)).unwrap();

    let quarter = |q: usize| &samples[samples.len() * q / 4..samples.len() * (q + 1) / 4];
    let mean_rss = |s: &[Sample]| s.iter().map(|s| s.rss_kib as f64).sum::<f64>() / s.len().max(1) as f64;
    let (second, last) = (mean_rss(quarter(1)), mean_rss(quarter(3)));
    // Fuel per event of each handler over a quarter (by the events it delivered then).
    let fuel_per_event = |s: &[Sample], h: usize| {
        let (first, end) = (s.first().unwrap(), s.last().unwrap());
        (end.fuel[h] - first.fuel[h]) as f64 / (end.delivered[h] - first.delivered[h]).max(1) as f64
    };
    let (first_fds, end_fds) = (samples[1.min(samples.len() - 1)].fds, samples.last().unwrap().fds);
    let peak = samples.iter().map(|s| s.rss_kib).max().unwrap();
    let seconds = samples.last().unwrap().at;
    let mut line = format!(
        "soak: {events} events through Rust, Python and JavaScript in {seconds:.0} s; RSS mean {:.0} MiB (2nd quarter) → {:.0} MiB (last), peak {} MiB; fds {first_fds} → {end_fds}; fuel/event",
        second / 1024.0,
        last / 1024.0,
        peak / 1024
    );
    for (h, name) in ["Rust", "Python", "JavaScript"].iter().enumerate() {
        let _ = write!(line, " {name} {:.0} → {:.0}", fuel_per_event(quarter(1), h), fuel_per_event(quarter(3), h));
    }
    wasp_tests::figure(&line);
    assert!(last <= second * 1.25, "resident memory grew: {line}");
    assert!(end_fds <= first_fds + 8, "file descriptors leak: {line}");
    for h in 0..3 {
        let (a, b) = (fuel_per_event(quarter(1), h), fuel_per_event(quarter(3), h));
        assert!((b - a).abs() <= a * 0.05, "fuel per event drifts: {line}");
    }
}

/// A line chart of RSS (MiB) and events delivered (% of all, per handler)
/// against time, as SVG.
fn svg(samples: &[Sample], events: u64) -> String {
    let (w, h, left, bottom) = (760.0, 360.0, 60.0, 40.0);
    let t_max = samples.last().map_or(1.0, |s| s.at).max(1.0);
    let rss_max = (samples.iter().map(|s| s.rss_kib).max().unwrap_or(1) as f64 / 1024.0 * 1.2).max(1.0);
    let x = |t: f64| left + t / t_max * (w - left - 20.0);
    let y = |v: f64, max: f64| (h - bottom) - v / max * (h - bottom - 20.0);
    let path = |points: Vec<(f64, f64)>| {
        points.iter().enumerate().map(|(i, (px, py))| format!("{}{px:.1},{py:.1}", if i == 0 { "M" } else { " L" })).collect::<String>()
    };
    let mut out = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" font-family=\"sans-serif\" font-size=\"12\">\n\
         <rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n\
         <line x1=\"{left}\" y1=\"{b}\" x2=\"{r}\" y2=\"{b}\" stroke=\"black\"/><line x1=\"{left}\" y1=\"20\" x2=\"{left}\" y2=\"{b}\" stroke=\"black\"/>\n\
         <text x=\"{left}\" y=\"14\">RSS (MiB, black; axis max {rss_max:.0}) and events delivered (% of {events}, colours) over {t_max:.0} s</text>\n",
        b = h - bottom,
        r = w - 20.0
    );
    let rss: Vec<(f64, f64)> = samples.iter().map(|s| (x(s.at), y(s.rss_kib as f64 / 1024.0, rss_max))).collect();
    let _ = writeln!(out, "<path d=\"{}\" fill=\"none\" stroke=\"black\" stroke-width=\"2\"/>", path(rss));
    for (i, (name, colour)) in [("Rust", "#d9480f"), ("Python", "#1c7ed6"), ("JavaScript", "#f59f00")].iter().enumerate() {
        let line: Vec<(f64, f64)> = samples.iter().map(|s| (x(s.at), y(s.delivered[i] as f64 / events as f64 * 100.0, 100.0))).collect();
        let _ = writeln!(out, "<path d=\"{}\" fill=\"none\" stroke=\"{colour}\" stroke-width=\"1.5\"/>", path(line));
        let _ = writeln!(out, "<text x=\"{}\" y=\"{}\" fill=\"{colour}\">{name}</text>", w - 110.0, 40.0 + 16.0 * i as f64);
    }
    for k in 0..=4 {
        let t = t_max * k as f64 / 4.0;
        let _ = writeln!(out, "<text x=\"{:.0}\" y=\"{}\" text-anchor=\"middle\">{t:.0} s</text>", x(t), h - bottom + 16.0);
        let v = rss_max * k as f64 / 4.0;
        let _ = writeln!(out, "<text x=\"{}\" y=\"{:.0}\" text-anchor=\"end\">{v:.0}</text>", left - 6.0, y(v, rss_max) + 4.0);
    }
    out.push_str("</svg>\n");
    out
}
