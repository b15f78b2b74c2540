//! What a fault costs: a healthy call, instantiating a fresh instance, and
//! recovering from a fault (the faulting call, dropping its poisoned store,
//! instantiating and `init`ing a fresh instance, handling the next event).
//!
//! `cargo bench -p wasp-tests --bench fault_recovery`; with
//! `WASP_ALLOCATOR=on-demand` to compare with the pooling allocator.
//! Results are in `docs/benchmarks.md`.

use std::hint::black_box;
use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::json;
use wasp::engine::{Budgets, HandlerInstance, HandlerPre, OutputSpec, StateStore, WaspEngine};
use wasp::event::HostEvent;
use wasp_tests::guests;

fn event(action: &str, sequence: u64) -> Arc<HostEvent> {
    let doc = json!({"_id": "e", "action": action, "userId": "bjensen"}).as_object().unwrap().clone();
    let mut event = HostEvent::from_document("access", doc, 1 << 20).unwrap();
    event.sequence = sequence;
    Arc::new(event)
}

struct Handler {
    pre: HandlerPre,
    budgets: Budgets,
    outputs: Arc<[OutputSpec]>,
    state: StateStore,
}

impl Handler {
    fn new() -> Self {
        let engine = WaspEngine::global().unwrap();
        let path = std::path::Path::new(guests::PROBE);
        let loaded = engine.load(path, None).unwrap();
        Handler {
            pre: engine.prepare_handler(&loaded, path).unwrap(),
            budgets: Budgets::default(),
            outputs: Arc::from(vec![OutputSpec { name: "out".into(), line_oriented: true }]),
            state: StateStore::new(1 << 20),
        }
    }

    fn instance(&self) -> HandlerInstance {
        self.pre.instantiate("bench", &self.budgets, self.outputs.clone(), self.state.clone(), "{}").unwrap()
    }
}

fn benches(c: &mut Criterion) {
    let handler = Handler::new();
    let allocator = match WaspEngine::global().unwrap().allocator() {
        wasp::engine::Allocator::Pooling => "pooling",
        wasp::engine::Allocator::OnDemand => "on-demand",
    };
    let echo = [event("echo", 1)];
    let mut group = c.benchmark_group(format!("fault-recovery/{allocator}"));

    let mut live = handler.instance();
    group.bench_function("healthy call (1 event)", |b| {
        b.iter(|| black_box(live.handle_batch(&echo).unwrap()));
    });

    group.bench_function("instantiate + init", |b| {
        b.iter(|| black_box(handler.instance()));
    });

    for action in ["unreachable", "panic", "loop"] {
        let bad = [event(action, 1)];
        group.bench_function(format!("{action} then next event handled"), |b| {
            b.iter_batched(
                || handler.instance(),
                |mut poisoned| {
                    let fault = poisoned.handle_batch(&bad).unwrap_err();
                    drop(poisoned);
                    let mut fresh = handler.instance();
                    black_box((fault, fresh.handle_batch(&echo).unwrap()))
                },
                criterion::BatchSize::PerIteration,
            );
        });
    }
    group.finish();
}

criterion_group!(fault_recovery, benches);
criterion_main!(fault_recovery);
