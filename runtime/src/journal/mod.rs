//! The journal: the one buffer between `publish` and the handlers.
//!
//! Every accepted event is appended once and gets the next sequence number;
//! each handler reads through its own cursor and acknowledges after its
//! outputs took the records. This module defines the interface and the
//! memory journal; the durable (disk) journal implements the same trait.
//!
//! Invariants:
//! - sequence numbers start at 1 and increase by one per appended event;
//! - a cursor reads every event exactly once, in sequence order, and its
//!   acknowledged position only moves forward;
//! - an event is released only when every cursor has acknowledged it
//!   (parked cursors included: parking excuses a cursor from flushes, and
//!   a parked cursor's reader spills what it holds when the journal needs
//!   the room, so a quarantined handler never fills the journal);
//! - after `close`, reads return what is left and then an empty batch, so
//!   readers drain everything that was appended before they stop.

pub mod disk;
pub(crate) mod segment;
pub mod verify;
mod window;

use std::sync::Arc;
use std::time::Duration;

pub use window::{Backing, InMemory, MemoryJournal, SPILL_WAIT, Window};

use crate::event::HostEvent;

/// Identifies one reader of a journal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CursorId(pub(crate) usize);

/// Why an append was refused.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum JournalError {
    /// The journal was closed.
    #[error("the journal is closed")]
    Closed,
    /// The journal is at its bound and its overflow policy refused the event.
    #[error("the journal is full ({max_events} events or {max_bytes} bytes held for handlers that have not caught up)")]
    Overloaded {
        /// `maxEvents`.
        max_events: usize,
        /// `maxBytes`.
        max_bytes: usize,
    },
    /// The journal's storage failed (e.g. the disk is full); the event was
    /// not accepted.
    #[error("the journal cannot store the event: {0}")]
    Storage(String),
}

/// What the journal does when it is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overflow {
    /// Refuse the event (`Overloaded`).
    Reject,
    /// Wait up to this long for handlers to catch up, then refuse.
    Block(Duration),
    /// Drop the oldest event for every handler that has not read it yet
    /// (counted per handler).
    DropOldest,
}

/// The bound of a journal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bounds {
    /// Most events held.
    pub max_events: usize,
    /// Most bytes of event JSON held.
    pub max_bytes: usize,
    /// What happens past them.
    pub overflow: Overflow,
}

impl Default for Bounds {
    /// No bound (the memory journal of the embedded API before issue 5).
    fn default() -> Self {
        Bounds { max_events: usize::MAX, max_bytes: usize::MAX, overflow: Overflow::Reject }
    }
}

/// The buffer between producers and handlers.
pub trait Journal: Send + Sync {
    /// Appends an event, assigning its sequence number.
    fn append(&self, event: HostEvent) -> Result<Arc<HostEvent>, JournalError>;

    /// Appends events in order, each as [`append`](Journal::append) would,
    /// with a result per event. A batch that fits the journal's bound is
    /// taken under one lock and, on disk, written in one `write(2)` per
    /// segment it lands in; one that meets the bound goes event by event
    /// through the overflow policy.
    fn append_batch(&self, events: Vec<HostEvent>) -> Vec<Result<Arc<HostEvent>, JournalError>> {
        events.into_iter().map(|e| self.append(e)).collect()
    }

    /// Adds a reader that starts after the events appended so far.
    fn register_cursor(&self, name: &str) -> CursorId;

    /// Up to `max` events after the cursor's read position, in order. Waits
    /// for a first event; then up to `max_wait` for the batch to fill. After
    /// [`close`](Journal::close), returns without waiting, and an empty batch
    /// once the cursor has read everything. [`wake`](Journal::wake) makes a
    /// waiting read return an empty batch while the journal is open.
    fn read(&self, cursor: CursorId, max: usize, max_wait: Duration) -> Vec<Arc<HostEvent>>;

    /// Acknowledges every event up to and including `sequence`.
    fn ack(&self, cursor: CursorId, sequence: u64);

    /// The last sequence number assigned (0 when empty).
    fn head(&self) -> u64;

    /// Blocks until every cursor that is not parked has acknowledged
    /// `sequence`.
    fn wait_acked(&self, sequence: u64);

    /// Moves the cursor's read position back to `next` (an event it read
    /// but did not acknowledge), so that the events from `next` on are read
    /// again.
    fn rewind(&self, cursor: CursorId, next: u64);

    /// Parks or unparks a cursor: a parked cursor (a quarantined handler)
    /// keeps its events in the journal but `wait_acked` does not wait for it.
    fn park(&self, cursor: CursorId, parked: bool);

    /// Whether `close` was called.
    fn is_closed(&self) -> bool;

    /// Removes a reader for good (its handler was removed from the
    /// configuration): the journal no longer keeps events for it, and a
    /// reader registered later under the same name starts afresh. The
    /// caller stops reading through it first.
    fn retire(&self, cursor: CursorId);

    /// Makes the cursor's reader return from a waiting `read` (with an
    /// empty batch when nothing is there), so it can see a request.
    fn wake(&self, cursor: CursorId);

    /// Blocks until `cursor` has acknowledged `sequence`.
    fn wait_acked_by(&self, cursor: CursorId, sequence: u64);

    /// Events the `drop-oldest` policy dropped under this cursor.
    fn dropped(&self, cursor: CursorId) -> u64;

    /// The sequences dropped under this cursor since the last call, so
    /// that its reader can declare them in its outputs (a signed `dropped`
    /// record in a tamper-evident log).
    fn take_dropped(&self, cursor: CursorId) -> Vec<u64>;

    /// Waits up to `timeout` until the journal needs the parked `cursor` to
    /// spill: to move the events it holds out of the journal (its reader
    /// dead-letters them as `quarantined`) and acknowledge them, because
    /// the journal is half full or a producer waits for room. `false` on
    /// timeout, when the cursor is not parked, or once the journal closed.
    fn spill_due(&self, cursor: CursorId, timeout: Duration) -> bool;

    /// Waits up to `timeout` until the event `sequence` is as durable as the
    /// journal promises (`fsync` mode: flushed to disk); `false` on timeout.
    fn wait_durable(&self, sequence: u64, timeout: Duration) -> bool;

    /// Refuses further appends and lets readers drain.
    fn close(&self);

    /// Events held now (appended, not yet acknowledged by every cursor) and
    /// the bytes of their JSON.
    fn held(&self) -> (usize, usize);

    /// The highest sequence `cursor` acknowledged.
    fn acked(&self, cursor: CursorId) -> u64;
}

/// How durable a published event is when `publish` returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// Held in memory only.
    Memory,
    /// Written to the operating system: survives the process being killed.
    Process,
    /// Flushed to the disk: survives a power loss.
    Fsync,
}

/// `wasp.journal`, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct JournalConfig {
    /// How durable an accepted event is.
    pub durability: Durability,
    /// The bound and the overflow policy (per tenant).
    pub bounds: Bounds,
    /// Size of one segment file.
    pub segment_bytes: u64,
    /// Longest wait for the disk flush in `fsync` mode.
    pub fsync_timeout: Duration,
}
