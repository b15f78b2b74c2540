//! Test guest: a handler whose behaviour each event chooses with its
//! `action` field, so that one component exercises every host path.
//!
//! | `action` | behaviour |
//! |---|---|
//! | absent / `echo` | emits `{"id", "seq", "topic"}` to output `out` |
//! | `panic` | panics (a trap: the host must recycle the instance) |
//! | `loop` | loops forever (runs out of fuel) |
//! | `err` | returns `Err("refused <id>")` after emitting (the record must be discarded) |
//! | `emit-undeclared` | emits to `undeclared`, then reports the host's answer to `out` |
//! | `log` | logs `message` at info level, then echoes |
//! | `count` | increments state `count`, emits `{"count": n}` |
//!
//! `init` fails when the config has `"fail_init": true`.

use wasp_guest::{Config, Event, Handler, emit, export_handler, log, serde_json::json, state};

struct Probe {
    instance_events: u64,
}

impl Handler for Probe {
    fn init(config: Config) -> Result<Self, String> {
        if config.get("/fail_init").and_then(|v| v.as_bool()) == Some(true) {
            return Err("init refused: fail_init is set".into());
        }
        Ok(Probe { instance_events: 0 })
    }

    fn handle(&mut self, event: &Event) -> Result<(), String> {
        self.instance_events += 1;
        let echo = || json!({"id": event.id(), "seq": event.sequence(), "topic": event.topic(), "instance_events": self.instance_events}).to_string();
        match event.get_str("/action").unwrap_or("echo") {
            "echo" => emit("out", echo()),
            "panic" => panic!("probe: poisoned event {}", event.id()),
            "loop" => {
                let mut x: u64 = 0;
                loop {
                    x = std::hint::black_box(x.wrapping_add(1));
                }
            }
            "err" => {
                emit("out", echo())?;
                Err(format!("refused {}", event.id()))
            }
            "emit-undeclared" => {
                let answer = emit("undeclared", "x");
                emit("out", json!({"id": event.id(), "undeclared": answer.err()}).to_string())
            }
            "log" => {
                log::info(event.get_str("/message").unwrap_or(""));
                emit("out", echo())
            }
            "count" => {
                let n = state::get_u64("count") + 1;
                state::set_u64("count", n)?;
                emit("out", json!({"id": event.id(), "count": n}).to_string())
            }
            other => Err(format!("unknown action {other}")),
        }
    }
}

export_handler!(Probe);
