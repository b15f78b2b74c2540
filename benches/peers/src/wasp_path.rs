//! WASP's own path: the peer guest (`benches/peers/guest`, built with
//! `wasp-guest`) run through WASP's engine as a handler runs in production,
//! with every budget on (fuel, epoch deadline, memory, output) and batches of
//! [`BATCH`] events. The events are accepted host events (`HostEvent`, as
//! the journal holds them); the time covers the batch call: lowering the
//! events, the guest's work, and taking the staged records.

use std::path::Path;
use std::sync::Arc;

use wasp::engine::{Budgets, HandlerInstance, OutputSpec, StateStore, WaspEngine};
use wasp::event::HostEvent;

use crate::engines::Engine;

/// Events per `handle-batch` call.
pub const BATCH: usize = 64;

/// The guest handler in one long-lived instance.
pub struct Wasp {
    instance: HandlerInstance,
    /// The texts given to `new` as host events, in order (`run` is given
    /// the same texts).
    events: Vec<Arc<HostEvent>>,
    /// The row's name: `None` for the guest given on the command line.
    label: Option<&'static str>,
}

impl Wasp {
    /// Loads `component` and instantiates it with the default budgets; its
    /// row is named `label` (default: the main WASP row).
    pub fn new(component: &Path, texts: &[String], label: Option<&'static str>) -> Self {
        let engine = WaspEngine::global().expect("engine");
        let loaded = engine.load(component, None).unwrap_or_else(|e| panic!("{e}"));
        let pre = engine.prepare_handler(&loaded, component).unwrap_or_else(|e| panic!("{e}"));
        let budgets = Budgets::default();
        let outputs: Arc<[OutputSpec]> = Arc::new([OutputSpec { name: "out".into(), line_oriented: true }]);
        let instance =
            pre.instantiate("peer", &budgets, outputs, StateStore::new(1 << 20), "{}").unwrap_or_else(|f| panic!("init: {}", f.message));
        let events = texts
            .iter()
            .enumerate()
            .map(|(i, text)| {
                let doc = serde_json::from_str(text).expect("event is a JSON object");
                let mut event = HostEvent::from_document("access", doc, 1 << 20).expect("a valid event");
                event.sequence = i as u64 + 1;
                Arc::new(event)
            })
            .collect();
        Wasp { instance, events, label }
    }
}

impl Engine for Wasp {
    fn name(&self) -> &'static str {
        self.label.unwrap_or("WASP (wasp-guest, all budgets, batch 64)")
    }
    fn run(&mut self, events: &[String], out: &mut Vec<String>) {
        assert_eq!(events.len(), self.events.len(), "run is given the texts given to new");
        for batch in self.events.chunks(BATCH) {
            let outcome = self.instance.handle_batch(batch).unwrap_or_else(|f| panic!("{:?}: {}", f.kind, f.message));
            assert!(outcome.results.iter().all(Result::is_ok), "{:?}", outcome.results);
            assert_eq!(outcome.staged.len(), batch.len());
            out.extend(outcome.staged.into_iter().map(|r| String::from_utf8(r.data).expect("UTF-8")));
        }
    }
}
