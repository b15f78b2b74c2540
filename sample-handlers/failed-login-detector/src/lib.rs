//! Failed-login detector: the intrusion-detection use of an audit stream
//! (seed `000`: "process the audit logs in real time by external systems
//! e.g. intrusion detection systems"), as a WASP handler.
//!
//! It counts FAILED `authentication` events (ForgeRock's authentication
//! topic: `"result": "FAILED"`) per user and per client IP address in a
//! sliding window, and emits an alert record to its `alerts` output when a
//! count goes over a threshold. The counts live in host state (the `state`
//! interface), so they survive instance recycling and fault recovery.
//!
//! # Configuration (the handler's `config`)
//!
//! | setting | default | meaning |
//! |---|---|---|
//! | `threshold` | `5` | more failures than this inside the window alert (≥ 1) |
//! | `window` | `"5 minutes"` | length of the sliding window: milliseconds or `"<n> <unit>"` (`ms`, `s`, `m`, `h`, `d`) |
//! | `output` | `"alerts"` | the output alerts are emitted to |
//! | `userFields` | `["/principal/0", "/userId"]` | JSON pointers tried in order for the user |
//! | `ipFields` | `["/client/ip", "/ip"]` | JSON pointers tried in order for the client IP address |
//!
//! # What counts
//!
//! An event of topic `authentication` whose `/result` is `"FAILED"`, at its
//! own `timestamp` (never the wall clock: a replay gives the same alerts).
//! The window ending at an event covers `(timestamp - window, timestamp]`.
//! Every other event is accepted and ignored. A failure without a user (or
//! without an address) is counted only for the other. A FAILED event whose
//! timestamp is not ISO-8601 fails (it is dead-lettered with the reason).
//!
//! # The alert
//!
//! One JSON line per key that goes over the threshold, at most one per key
//! per window (a continuing attack alerts again once a window has passed):
//!
//! ```json
//! {"alert":"failed-logins","by":"ip","key":"198.51.100.9","failures":6,"threshold":5,
//!  "window":"300000 ms","firstFailure":"2026-11-22T06:00:00.000Z","lastFailure":"2026-11-22T06:02:30.000Z",
//!  "eventId":"e6","transactionId":"t6","user":"alice","ip":"198.51.100.9"}
//! ```
//!
//! `failures` is the number of failures in the window when the alert fired
//! (`threshold + 1`); `user` and `ip` are those of the event that crossed.
//! See `window.rs` for the state layout and its bounds.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use wasp_guest::{Config, Event, Handler, emit, export_handler, state};

mod time;
mod window;

use window::{Store, Window};

/// The handler's `config` object.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Settings {
    #[serde(default = "default_threshold")]
    threshold: usize,
    #[serde(default = "default_window")]
    window: Value,
    #[serde(default = "default_output")]
    output: String,
    #[serde(default = "default_user_fields")]
    user_fields: Vec<String>,
    #[serde(default = "default_ip_fields")]
    ip_fields: Vec<String>,
}

fn default_threshold() -> usize {
    5
}
fn default_window() -> Value {
    json!("5 minutes")
}
fn default_output() -> String {
    "alerts".into()
}
fn default_user_fields() -> Vec<String> {
    vec!["/principal/0".into(), "/userId".into()]
}
fn default_ip_fields() -> Vec<String> {
    vec!["/client/ip".into(), "/ip".into()]
}

/// One alert record (fields in this order).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Alert<'a> {
    alert: &'static str,
    by: &'static str,
    key: &'a str,
    failures: usize,
    threshold: usize,
    window: String,
    first_failure: String,
    last_failure: String,
    event_id: &'a str,
    transaction_id: Option<&'a str>,
    user: Option<&'a str>,
    ip: Option<&'a str>,
}

struct FailedLoginDetector {
    window: Window,
    output: String,
    user_fields: Vec<String>,
    ip_fields: Vec<String>,
}

/// The host's state, for the window.
struct HostState;

impl Store for HostState {
    fn get(&mut self, key: &str) -> Option<Vec<u8>> {
        state::get(key)
    }
    fn set(&mut self, key: &str, value: Vec<u8>) -> Result<(), String> {
        state::set(key, value)
    }
    fn remove(&mut self, key: &str) {
        state::remove(key);
    }
}

impl Handler for FailedLoginDetector {
    fn init(config: Config) -> Result<Self, String> {
        let s: Settings = config.parse_into()?;
        if s.threshold < 1 {
            return Err("handler config: `threshold` must be at least 1".into());
        }
        let window = time::parse_duration(&s.window).map_err(|e| format!("handler config: `window`: {e}"))?;
        if window <= 0 {
            return Err("handler config: `window` must be longer than 0 ms".into());
        }
        for pointer in s.user_fields.iter().chain(&s.ip_fields) {
            if !pointer.is_empty() && !pointer.starts_with('/') {
                return Err(format!("handler config: `{pointer}` is not a JSON pointer (it must start with `/`)"));
            }
        }
        Ok(FailedLoginDetector {
            window: Window { window, threshold: s.threshold },
            output: s.output,
            user_fields: s.user_fields,
            ip_fields: s.ip_fields,
        })
    }

    fn handle(&mut self, event: &Event) -> Result<(), String> {
        if event.topic() != "authentication" || event.get_str("/result") != Some("FAILED") {
            return Ok(());
        }
        let t = time::parse_millis(event.timestamp())
            .ok_or_else(|| format!("timestamp `{}` is not ISO-8601: cannot place the failure in the window", event.timestamp()))?;
        let first = |pointers: &[String]| pointers.iter().find_map(|p| event.get_str(p)).map(str::to_owned);
        let user = first(&self.user_fields);
        let ip = first(&self.ip_fields);
        for (by, key) in [("user", &user), ("ip", &ip)] {
            let Some(key) = key else { continue };
            let Some(crossing) = self.window.failure(&mut HostState, by, key, t)? else {
                continue;
            };
            let alert = Alert {
                alert: "failed-logins",
                by,
                key,
                failures: crossing.count,
                threshold: self.window.threshold,
                window: format!("{} ms", self.window.window),
                first_failure: time::format_millis(crossing.first),
                last_failure: time::format_millis(crossing.last),
                event_id: event.id(),
                transaction_id: event.transaction_id(),
                user: user.as_deref(),
                ip: ip.as_deref(),
            };
            let alert = serde_json::to_string(&alert).map_err(|e| format!("alert: {e}"))?;
            emit(&self.output, alert)?;
        }
        Ok(())
    }
}

export_handler!(FailedLoginDetector);
