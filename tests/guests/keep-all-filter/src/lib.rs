//! Test guest: a filter that keeps every event except those with
//! `"drop": true`. Used to show `wasp check` recognising the `filter` world.

use wasp_guest::{Config, Event, Filter, Verdict, export_filter};

struct KeepAll;

impl Filter for KeepAll {
    fn init(_config: Config) -> Result<Self, String> {
        Ok(KeepAll)
    }

    fn filter(&mut self, event: &Event) -> Verdict {
        if event.get("/drop").and_then(|v| v.as_bool()) == Some(true) { Verdict::Drop } else { Verdict::Keep }
    }
}

export_filter!(KeepAll);
