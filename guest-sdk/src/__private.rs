//! Glue used by the code `export_handler!` / `export_filter!` expand to. Not
//! a public API: names here change without notice.

use std::cell::{Cell, RefCell};

pub use wit_bindgen;

use crate::{Config, Event, Filter, Handler, Verdict};

/// Import bindings for every host interface (the `imports` world). The
/// export bindings are generated in the author's crate by the export macro,
/// for exactly one world, reusing these types.
#[allow(missing_docs)]
pub mod bindings {
    wit_bindgen::generate!({
        // Not `wit/`: wit-bindgen also loads a `wit/` folder of the crate
        // it expands in by default, so the doctests would see it twice.
        path: "world",
        world: "wasp:handler/imports@0.1.0",
        runtime_path: "::wasp_guest::__private::wit_bindgen::rt",
        generate_all,
    });
}

pub use bindings::wasp::handler::types::{Event as RawEvent, Verdict as RawVerdict};

thread_local! {
    /// The sequence of the event being handled, for `emit`.
    static CURRENT: Cell<Option<u64>> = const { Cell::new(None) };
    /// The handler or filter instance (`Box<dyn Any>` keeps this generic).
    static INSTANCE: RefCell<Option<Box<dyn std::any::Any>>> = const { RefCell::new(None) };
}

pub(crate) fn current_sequence() -> Option<u64> {
    CURRENT.with(Cell::get)
}

fn init_instance<T: 'static>(build: impl FnOnce(Config) -> Result<T, String>, config: String) -> Result<(), String> {
    let value = build(Config::parse(config)?)?;
    INSTANCE.with(|slot| *slot.borrow_mut() = Some(Box::new(value)));
    Ok(())
}

fn with_instance<T: 'static, R>(f: impl FnOnce(&mut T) -> R) -> Result<R, String> {
    INSTANCE.with(|slot| {
        let mut slot = slot.borrow_mut();
        match slot.as_mut().and_then(|b| b.downcast_mut::<T>()) {
            Some(instance) => Ok(f(instance)),
            None => Err("handler called before a successful init".to_owned()),
        }
    })
}

/// `init` export of the handler world.
pub fn handler_init<H: Handler>(config: String) -> Result<(), String> {
    init_instance(H::init, config)
}

/// `handle-batch` export of the handler world: one result per event.
pub fn handler_batch<H: Handler>(events: Vec<RawEvent>) -> Vec<Result<(), String>> {
    let count = events.len();
    let result = with_instance::<H, _>(|handler| {
        events
            .into_iter()
            .map(|raw| {
                let event = Event::new(raw);
                CURRENT.with(|c| c.set(Some(event.sequence())));
                let result = handler.handle(&event);
                CURRENT.with(|c| c.set(None));
                result
            })
            .collect::<Vec<_>>()
    });
    match result {
        Ok(results) => results,
        Err(message) => vec![Err(message); count],
    }
}

/// `init` export of the filter world.
pub fn filter_init<F: Filter>(config: String) -> Result<(), String> {
    init_instance(F::init, config)
}

/// `filter-batch` export of the filter world: one verdict per event.
pub fn filter_batch<F: Filter>(events: Vec<RawEvent>) -> Vec<RawVerdict> {
    let count = events.len();
    with_instance::<F, _>(|filter| {
        events
            .into_iter()
            .map(|raw| {
                let event = Event::new(raw);
                match filter.filter(&event) {
                    Verdict::Keep => RawVerdict::Keep,
                    Verdict::Drop => RawVerdict::Drop,
                    Verdict::Replace(json) => RawVerdict::Replace(json),
                }
            })
            .collect()
    })
    // Without an instance there is nothing sensible to decide: keep the
    // events (a filter must never lose data by failing).
    .unwrap_or_else(|_| vec![RawVerdict::Keep; count])
}
