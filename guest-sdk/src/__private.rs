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

pub use bindings::wasp::handler::types::{Event as RawEvent, PackedBatch as RawPackedBatch, Verdict as RawVerdict};

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
    handle_each::<H>(events.len(), events.into_iter().map(|raw| Ok(Event::new(raw))))
}

/// `handle-packed` export of the packed-handler world: one result per
/// event, as `handle-batch`.
pub fn handler_packed<H: Handler>(batch: RawPackedBatch) -> Vec<Result<(), String>> {
    let count = batch.events.len();
    let text = std::rc::Rc::new(batch.text);
    let events = batch.events.into_iter().map(|packed| {
        if Event::spans_fit(&text, &packed) {
            Ok(Event::packed(text.clone(), packed))
        } else {
            Err(format!("event {}: the host packed a field outside its batch's text", packed.sequence))
        }
    });
    handle_each::<H>(count, events)
}

/// Hands each event to the handler, the sequence of the one being handled
/// set for `emit`; one result per event (each an `Err` without a handler).
fn handle_each<H: Handler>(count: usize, events: impl Iterator<Item = Result<Event, String>>) -> Vec<Result<(), String>> {
    let result = with_instance::<H, _>(|handler| {
        events
            .map(|event| {
                let event = event?;
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
    filter_each::<F>(events.len(), events.into_iter().map(|raw| Some(Event::new(raw))))
}

/// `filter-packed` export of the packed-filter world: one verdict per
/// event, as `filter-batch`.
pub fn filter_packed<F: Filter>(batch: RawPackedBatch) -> Vec<RawVerdict> {
    let count = batch.events.len();
    let text = std::rc::Rc::new(batch.text);
    let events = batch.events.into_iter().map(|packed| Event::spans_fit(&text, &packed).then(|| Event::packed(text.clone(), packed)));
    filter_each::<F>(count, events)
}

/// Asks the filter about each event; an event the host packed wrongly
/// (`None`) is kept, as every event is without a filter instance: a filter
/// must never lose data by failing.
fn filter_each<F: Filter>(count: usize, events: impl Iterator<Item = Option<Event>>) -> Vec<RawVerdict> {
    with_instance::<F, _>(|filter| {
        events
            .map(|event| match event.map(|event| filter.filter(&event)) {
                None | Some(Verdict::Keep) => RawVerdict::Keep,
                Some(Verdict::Drop) => RawVerdict::Drop,
                Some(Verdict::Replace(json)) => RawVerdict::Replace(json),
            })
            .collect()
    })
    .unwrap_or_else(|_| vec![RawVerdict::Keep; count])
}
