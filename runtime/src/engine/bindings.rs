//! The `bindgen!`s: the `handler` world, and the `filter` world (sharing its
//! types and logging); and the borrowed forms of the events a call lowers
//! (one record per event, or a packed batch for `packed-handler`s). Host interfaces implement the generated `Host`
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

/// The WIT package version this host implements.
pub const WIT_VERSION: &str = "0.1.0";

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

/// The WIT `span`: where a string of a [`PackedBatch`] lies in its text.
#[derive(wasmtime::component::ComponentType, wasmtime::component::Lower, Clone, Copy, Debug)]
#[component(record)]
pub struct Span {
    pub offset: u32,
    pub len: u32,
}

/// The WIT `packed-event`: an event's fields as spans of its batch's text.
#[derive(wasmtime::component::ComponentType, wasmtime::component::Lower, Clone, Copy, Debug)]
#[component(record)]
pub struct PackedEvent {
    pub id: Span,
    pub topic: Span,
    pub sequence: u64,
    pub timestamp: Span,
    #[component(name = "event-name")]
    pub event_name: Option<Span>,
    #[component(name = "transaction-id")]
    pub transaction_id: Option<Span>,
    #[component(name = "user-id")]
    pub user_id: Option<Span>,
    pub json: Span,
}

/// The WIT `packed-batch` (world `packed-handler`), borrowing the buffers
/// a [`Packer`] filled: lowered as one string and one list per call.
#[derive(wasmtime::component::ComponentType, wasmtime::component::Lower)]
#[component(record)]
pub struct PackedBatch<'a> {
    pub text: &'a str,
    pub events: &'a [PackedEvent],
}

/// Packs batches of events into one text and a list of spans, reusing its
/// buffers from call to call. A topic equal to the previous event's is
/// stored once.
#[derive(Default)]
pub struct Packer {
    text: String,
    events: Vec<PackedEvent>,
}

impl Packer {
    /// The packed form of `events`, valid until the next call; `None` when
    /// their strings pass 4 GiB (spans are 32-bit), which the guest's
    /// memory budget would refuse anyway.
    pub fn pack(&mut self, events: &[std::sync::Arc<crate::event::HostEvent>]) -> Option<PackedBatch<'_>> {
        self.text.clear();
        self.events.clear();
        let mut last_topic: Option<(&str, Span)> = None;
        for event in events {
            let topic = match last_topic {
                Some((text, span)) if text == event.topic => span,
                _ => {
                    let span = push(&mut self.text, &event.topic);
                    last_topic = Some((&event.topic, span));
                    span
                }
            };
            let id = push(&mut self.text, &event.id);
            let timestamp = push(&mut self.text, &event.timestamp);
            let event_name = event.event_name.as_deref().map(|s| push(&mut self.text, s));
            let transaction_id = event.transaction_id.as_deref().map(|s| push(&mut self.text, s));
            let user_id = event.user_id.as_deref().map(|s| push(&mut self.text, s));
            let json = push(&mut self.text, &event.json);
            self.events.push(PackedEvent { id, topic, sequence: event.sequence, timestamp, event_name, transaction_id, user_id, json });
        }
        // An offset past u32::MAX would have wrapped: refuse the whole batch.
        u32::try_from(self.text.len()).ok()?;
        Some(PackedBatch { text: &self.text, events: &self.events })
    }
}

/// Appends `s` to `text`; returns where it lies (wrapped past 4 GiB, which
/// `pack` then refuses).
fn push(text: &mut String, s: &str) -> Span {
    let offset = text.len() as u32;
    text.push_str(s);
    Span { offset, len: s.len() as u32 }
}

/// A typed `list<event> -> R` export (`handle-batch`, `filter-batch`),
/// called with [`EventRef`]s of any lifetime (a `TypedFunc` is covariant in
/// its parameters: wasmtime copies them into the guest during the call).
pub type BatchExport<R> = wasmtime::component::TypedFunc<(&'static [EventRef<'static>],), (R,)>;

/// A typed `packed-batch -> R` export (`handle-packed`), covariant like
/// [`BatchExport`].
pub type PackedExport<R> = wasmtime::component::TypedFunc<(PackedBatch<'static>,), (R,)>;

/// A world's batch export (`handle-batch`, `filter-batch`) and its packed
/// form (`handle-packed`, `filter-packed`) when the component has it, with
/// the buffers batches are packed into.
pub struct BatchCall<R> {
    batch: BatchExport<R>,
    packed: Option<(PackedExport<R>, Packer)>,
}

impl<R: wasmtime::component::Lift + 'static> BatchCall<R> {
    pub fn new(batch: BatchExport<R>, packed: Option<PackedExport<R>>) -> Self {
        BatchCall { batch, packed: packed.map(|export| (export, Packer::default())) }
    }

    /// Calls the packed export when there is one (and the batch packs),
    /// otherwise the batch export, with `events`.
    pub fn call<T: 'static>(
        &mut self,
        store: &mut wasmtime::Store<T>,
        events: &[std::sync::Arc<crate::event::HostEvent>],
    ) -> wasmtime::Result<R> {
        let packed = self.packed.as_mut().and_then(|(export, packer)| Some((export, packer.pack(events)?)));
        let (result,) = match packed {
            Some((export, batch)) => export.call(store, (batch,))?,
            None => {
                let params: Vec<EventRef<'_>> = events.iter().map(|e| EventRef::new(e)).collect();
                self.batch.call(store, (&params,))?
            }
        };
        Ok(result)
    }
}

/// The export `name` of world `world` (`handle-packed`, `filter-packed`),
/// if the component has it, type-checked: the host calls it instead of the
/// unpacked one. `Err` names what does not fit.
pub(super) fn packed_export<T, R>(
    pre: &wasmtime::component::InstancePre<T>,
    name: &str,
    world: &str,
) -> Result<Option<wasmtime::component::ComponentExportIndex>, String>
where
    R: wasmtime::component::ComponentNamedList + wasmtime::component::Lift,
{
    let Some((item, index)) = pre.component().get_export(None, name) else {
        return Ok(None);
    };
    let expected = || format!("world wasp:handler/{world}@{}", WIT_VERSION);
    let wasmtime::component::types::ComponentItem::ComponentFunc(func) = item else {
        return Err(format!("its export `{name}` is not a function as in {}", expected()));
    };
    func.typecheck::<(PackedBatch<'static>,), R>(&pre.instance_type())
        .map_err(|e| format!("its export `{name}` does not have the type it has in {}: {e:#}", expected()))?;
    Ok(Some(index))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use serde_json::json;

    use super::{Packer, Span};
    use crate::event::HostEvent;

    fn event(topic: &str, doc: serde_json::Value, sequence: u64) -> Arc<HostEvent> {
        let mut event = HostEvent::from_document(topic, doc.as_object().unwrap().clone(), 1 << 20).unwrap();
        event.sequence = sequence;
        Arc::new(event)
    }

    fn text(text: &str, span: Span) -> &str {
        &text[span.offset as usize..(span.offset + span.len) as usize]
    }

    #[test]
    fn every_field_of_every_event_is_the_span_it_names() {
        let events = [
            event(
                "access",
                json!({"_id": "a1", "timestamp": "2026-12-06T06:00:00Z", "eventName": "AM-ACCESS-OUTCOME", "userId": "bjensen"}),
                7,
            ),
            event("access", json!({"_id": "é2", "timestamp": "2026-12-06T06:00:01Z", "transactionId": "tx-✓"}), 8),
            event("activity", json!({"_id": "a3", "timestamp": "2026-12-06T06:00:02Z"}), 9),
            event("access", json!({"_id": "a4", "timestamp": "2026-12-06T06:00:03Z", "userId": ""}), 10),
        ];
        let mut packer = Packer::default();
        // Twice: the buffers are reused, the second batch must not see the first.
        for batch in [&events[..], &events[1..]] {
            let packed = packer.pack(batch).unwrap();
            assert_eq!(packed.events.len(), batch.len());
            for (host, packed_event) in batch.iter().zip(packed.events) {
                let field = |span| text(packed.text, span);
                assert_eq!(field(packed_event.id), host.id);
                assert_eq!(field(packed_event.topic), host.topic);
                assert_eq!(packed_event.sequence, host.sequence);
                assert_eq!(field(packed_event.timestamp), host.timestamp);
                assert_eq!(packed_event.event_name.map(field), host.event_name.as_deref());
                assert_eq!(packed_event.transaction_id.map(field), host.transaction_id.as_deref());
                assert_eq!(packed_event.user_id.map(field), host.user_id.as_deref());
                assert_eq!(field(packed_event.json), host.json);
            }
        }
    }

    #[test]
    fn a_topic_the_previous_event_shares_is_packed_once() {
        let events: Vec<_> = (0..3).map(|n| event("access", json!({"_id": format!("e{n}"), "timestamp": "t"}), n)).collect();
        let mut packer = Packer::default();
        let packed = packer.pack(&events).unwrap();
        let topics: Vec<u32> = packed.events.iter().map(|e| e.topic.offset).collect();
        assert_eq!(topics, [topics[0]; 3]);
        let in_documents: usize = events.iter().map(|e| e.json.matches("access").count()).sum();
        assert_eq!(packed.text.matches("access").count(), 1 + in_documents, "the topic once, besides the documents");
    }
}
