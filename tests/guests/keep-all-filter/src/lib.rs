//! Test guest: a filter whose verdict each event chooses.
//!
//! | event field | verdict |
//! |---|---|
//! | `"drop": true` | drop |
//! | `"secret"` present | replace the event with a copy whose `secret` is `"***"` |
//! | `"filter_panic": true` | panic (a filter fault) |
//! | otherwise | keep |

use wasp_guest::{Config, Event, Filter, Verdict, export_filter, serde_json::Value};

struct KeepAll;

impl Filter for KeepAll {
    fn init(_config: Config) -> Result<Self, String> {
        Ok(KeepAll)
    }

    fn filter(&mut self, event: &Event) -> Verdict {
        if event.get("/filter_panic").and_then(|v| v.as_bool()) == Some(true) {
            panic!("keep-all-filter: told to fault on {}", event.id());
        }
        if event.get("/drop").and_then(|v| v.as_bool()) == Some(true) {
            return Verdict::Drop;
        }
        if event.get("/secret").is_some() {
            let Ok(document) = event.json() else {
                return Verdict::Keep;
            };
            let mut document: Value = document.clone();
            document["secret"] = Value::String("***".into());
            return Verdict::Replace(document.to_string());
        }
        Verdict::Keep
    }
}

export_filter!(KeepAll);
