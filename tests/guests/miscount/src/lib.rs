//! Test guest: a raw `wasp:handler/handler@0.1.0` component (written against
//! the WIT with `wit-bindgen`, not with the WASP guest SDK, which cannot get
//! this wrong) whose `handle-batch` returns the wrong number of results.
//!
//! The WIT says a result list of the wrong length fails the whole batch; this
//! guest lets the host's check for that be tested.
//!
//! | config `mode` | `handle-batch` returns |
//! |---|---|
//! | absent / `"few"` | one result fewer than there are events (none for a single event) |
//! | `"many"` | one result more than there are events |
//!
//! Every result it does return is `ok`, and it emits nothing. Any other
//! `mode`, a `mode` that is not a string, or a config that is not JSON fails
//! `init`.

use std::sync::atomic::{AtomicBool, Ordering};

wit_bindgen::generate!({
    path: "../../../wit",
    world: "wasp:handler/handler@0.1.0",
});

/// Whether `init` chose `"many"` (the default is `"few"`).
static MANY: AtomicBool = AtomicBool::new(false);

struct Miscount;

impl Guest for Miscount {
    fn init(config: String) -> Result<(), String> {
        let many = match mode(&config)?.as_deref() {
            None | Some("few") => false,
            Some("many") => true,
            Some(other) => {
                return Err(format!("miscount: unknown mode {other:?} (want \"few\" or \"many\")"));
            }
        };
        MANY.store(many, Ordering::Relaxed);
        Ok(())
    }

    fn handle_batch(events: Vec<Event>) -> Vec<Result<(), String>> {
        let count = if MANY.load(Ordering::Relaxed) { events.len() + 1 } else { events.len().saturating_sub(1) };
        vec![Ok(()); count]
    }
}

/// The config's `mode` (`None` when absent).
fn mode(config: &str) -> Result<Option<String>, String> {
    let config: serde_json::Value = if config.trim().is_empty() {
        serde_json::Value::Null
    } else {
        serde_json::from_str(config).map_err(|e| format!("miscount: config is not JSON: {e}"))?
    };
    match config.get("mode") {
        None => Ok(None),
        Some(serde_json::Value::String(mode)) => Ok(Some(mode.clone())),
        Some(other) => Err(format!("miscount: `mode` must be a string, not {other}")),
    }
}

export!(Miscount);
