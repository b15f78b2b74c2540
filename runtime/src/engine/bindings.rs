//! The `bindgen!`s: the `handler` world, and the `filter` world (sharing its
//! types and logging). Host interfaces implement the generated `Host`
//! traits in their own files; nothing here is public.

wasmtime::component::bindgen!({
    path: "../wit",
    world: "wasp:handler/handler@0.1.0",
    // Going over a budget traps the call (the fault names the budget).
    imports: {
        "wasp:handler/output.emit": trappable,
        "wasp:handler/logging.log": trappable,
        "wasp:handler/state.set": trappable,
    },
});

pub mod filter {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "wasp:handler/filter@0.1.0",
        with: {
            "wasp:handler/types": super::wasp::handler::types,
            "wasp:handler/logging": super::wasp::handler::logging,
        },
    });
}

/// The WIT `event` record lowered straight from the journal's
/// [`HostEvent`](crate::event::HostEvent): its strings are borrowed, so
/// the only copy per event is the one into the guest's memory (the
/// generated `Event` owns every string, which cost eight allocations per
/// event per call). `handle-batch` and `filter-batch` are called with a
/// list of these; the type is checked against the component's export once,
/// when the instance is created.
#[derive(wasmtime::component::ComponentType, wasmtime::component::Lower)]
#[component(record)]
pub struct EventRef<'a> {
    pub id: &'a str,
    pub topic: &'a str,
    pub sequence: u64,
    pub timestamp: &'a str,
    #[component(name = "event-name")]
    pub event_name: Option<&'a str>,
    #[component(name = "transaction-id")]
    pub transaction_id: Option<&'a str>,
    #[component(name = "user-id")]
    pub user_id: Option<&'a str>,
    pub json: &'a str,
}

impl<'a> EventRef<'a> {
    /// The record for `event`, borrowing its strings.
    pub fn new(event: &'a crate::event::HostEvent) -> Self {
        EventRef {
            id: &event.id,
            topic: &event.topic,
            sequence: event.sequence,
            timestamp: &event.timestamp,
            event_name: event.event_name.as_deref(),
            transaction_id: event.transaction_id.as_deref(),
            user_id: event.user_id.as_deref(),
            json: &event.json,
        }
    }
}

/// A typed `list<event> -> R` export (`handle-batch`, `filter-batch`),
/// called with [`EventRef`]s of any lifetime (a `TypedFunc` is covariant in
/// its parameters: wasmtime copies them into the guest during the call).
pub type BatchExport<R> = wasmtime::component::TypedFunc<(&'static [EventRef<'static>],), (R,)>;
