//! `wasi:io/poll` under the call's wall-clock deadline.
//!
//! Epoch interruption stops a guest only while it runs WebAssembly code: a
//! guest waiting inside a host call (`std::thread::sleep`, which is a
//! `monotonic-clock` pollable, or any `poll`/`pollable.block`) would wait
//! for as long as it asked. Every blocking wait of the sandbox goes through
//! `poll` or `pollable.block` (stdin is closed, stdout and stderr are always
//! ready, files and sockets are refused), so this module replaces those two
//! functions of wasmtime-wasi's synchronous bindings (linker shadowing) with
//! the same waits bounded by the deadline `arm` set for the call. A wait
//! that reaches it returns a [`BlockedPastDeadline`] error, which traps the
//! guest and is classified as a `deadline` fault.
//!
//! Invariant: no host function of the sandbox waits past the call's
//! deadline (plus the scheduling delay of one timer).

use std::time::Instant;

use wasmtime::component::{HasData, Linker, Resource, ResourceTable};
use wasmtime_wasi::p2::DynPollable;
use wasmtime_wasi::p2::bindings::sync::io::poll as sync_poll;
use wasmtime_wasi::runtime::in_tokio;
use wasmtime_wasi_io::bindings::wasi::io::poll as async_poll;

/// A WASI wait cut at the call's deadline: it traps the guest, and the call
/// is a `deadline` fault.
#[derive(Debug, thiserror::Error)]
#[error("passed its wall-clock deadline while blocked in the host call `wasi:io/poll#{0}` (a sleep or a wait)")]
pub struct BlockedPastDeadline(pub &'static str);

/// What the replaced functions see: the resource table and the deadline of
/// the call in progress (`None` outside calls).
pub struct DeadlinePoll<'a> {
    pub table: &'a mut ResourceTable,
    pub deadline: Option<Instant>,
}

struct HasDeadlinePoll;

impl HasData for HasDeadlinePoll {
    type Data<'a> = DeadlinePoll<'a>;
}

/// Replaces `wasi:io/poll`'s `poll` and `pollable.block` (already linked by
/// `wasmtime_wasi::p2::add_to_linker_sync`) with the deadline-bounded ones.
/// `view` gives the resource table and the deadline from the store's data.
pub fn add_to_linker<T: 'static>(linker: &mut Linker<T>, view: fn(&mut T) -> DeadlinePoll<'_>) -> wasmtime::Result<()> {
    linker.allow_shadowing(true);
    let added = sync_poll::add_to_linker::<T, HasDeadlinePoll>(linker, view);
    linker.allow_shadowing(false);
    added
}

/// Runs `wait` until it ends or `deadline` passes.
async fn bounded<T>(deadline: Option<Instant>, call: &'static str, wait: impl Future<Output = wasmtime::Result<T>>) -> wasmtime::Result<T> {
    let Some(at) = deadline else { return wait.await };
    match tokio::time::timeout_at(tokio::time::Instant::from_std(at), wait).await {
        Ok(result) => result,
        Err(_elapsed) => Err(wasmtime::Error::new(BlockedPastDeadline(call))),
    }
}

impl sync_poll::Host for DeadlinePoll<'_> {
    fn poll(&mut self, pollables: Vec<Resource<DynPollable>>) -> wasmtime::Result<Vec<u32>> {
        let (deadline, table) = (self.deadline, &mut *self.table);
        in_tokio(bounded(deadline, "poll", async_poll::Host::poll(table, pollables)))
    }
}

impl sync_poll::HostPollable for DeadlinePoll<'_> {
    fn ready(&mut self, pollable: Resource<DynPollable>) -> wasmtime::Result<bool> {
        sync_poll::HostPollable::ready(&mut *self.table, pollable)
    }

    fn block(&mut self, pollable: Resource<DynPollable>) -> wasmtime::Result<()> {
        let (deadline, table) = (self.deadline, &mut *self.table);
        in_tokio(bounded(deadline, "[method]pollable.block", async_poll::HostPollable::block(table, pollable)))
    }

    fn drop(&mut self, pollable: Resource<DynPollable>) -> wasmtime::Result<()> {
        sync_poll::HostPollable::drop(&mut *self.table, pollable)
    }
}
