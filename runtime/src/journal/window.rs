//! The journal's window: the events not yet acknowledged by every cursor,
//! in memory, with the cursors, the bound and the overflow policy. What it
//! persists through is its [`Backing`]: nothing ([`MemoryJournal`]) or the
//! segment log and cursor files of the durable journal.
//!
//! Invariants (besides the journal's, in `journal/mod.rs`):
//! - the backing sees every appended event, in sequence order, under the
//!   same lock that assigns the sequence, before `append` returns;
//! - the window never holds more than `max_events` events or `max_bytes`
//!   bytes of event JSON: past it, `reject` refuses the append
//!   (`Overloaded`), `block` waits up to its timeout for acknowledgements
//!   and then refuses, `drop-oldest` moves every lagging cursor past the
//!   oldest event and counts it as dropped for each of them;
//! - a parked cursor (a quarantined handler) never makes the overflow
//!   policy speak: when the window is full and the oldest event is held
//!   only for parked cursors, `append` first asks their readers to spill
//!   (see [`Journal::spill_due`]: they move their backlog to the
//!   dead-letter store and acknowledge it) and waits up to [`SPILL_WAIT`]
//!   for the room; their readers also spill on their own once the window
//!   is half full. Only a spill that does not come in time falls back to
//!   the policy (logged);
//! - a cursor's acknowledged position reaches the backing before `ack`
//!   returns, and `released(n)` is called only once every cursor has
//!   acknowledged `n`.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::{Bounds, CursorId, Journal, JournalError, Overflow};
use crate::event::HostEvent;

/// How long an `append` into a full window waits for quarantined handlers
/// to spill the events they hold before the overflow policy applies.
pub const SPILL_WAIT: Duration = Duration::from_secs(2);

/// What a window persists through.
pub trait Backing: Send + 'static {
    /// Persists an appended event (its sequence is assigned).
    fn append(&mut self, event: &HostEvent) -> Result<(), JournalError>;
    /// Persists events with consecutive sequences, the first one's next;
    /// on an error, those before the returned index are persisted and none
    /// from it on.
    fn append_many(&mut self, events: &[HostEvent]) -> Result<(), (usize, JournalError)> {
        for (i, event) in events.iter().enumerate() {
            self.append(event).map_err(|e| (i, e))?;
        }
        Ok(())
    }
    /// Persists that `cursor` acknowledged `sequence`.
    fn acked(&mut self, cursor: &str, sequence: u64);
    /// Every cursor acknowledged `sequence`: what holds it may be reclaimed.
    fn released(&mut self, sequence: u64);
    /// Records that `cursor` will never see event `sequence` (dropped by
    /// the `drop-oldest` policy), so that integrity checks can show the gap.
    fn gap(&mut self, _cursor: &str, _sequence: u64) {}
    /// Forgets `cursor` (its handler was removed): a reader registering
    /// under its name later starts afresh.
    fn retire(&mut self, _cursor: &str) {}
    /// Flushes what was appended to stable storage (`fsync` mode).
    fn sync(&mut self) -> Result<(), JournalError> {
        Ok(())
    }
}

/// No persistence: the memory journal.
#[derive(Debug, Default)]
pub struct InMemory;

impl Backing for InMemory {
    fn append(&mut self, _event: &HostEvent) -> Result<(), JournalError> {
        Ok(())
    }
    fn acked(&mut self, _cursor: &str, _sequence: u64) {}
    fn released(&mut self, _sequence: u64) {}
}

/// A journal held in memory: nothing survives the process.
pub type MemoryJournal = Window<InMemory>;

/// The in-memory window of a journal over backing `B`.
pub struct Window<B: Backing> {
    inner: Mutex<Inner<B>>,
    appended: Condvar,
    acked: Condvar,
    /// `fsync` mode: the highest sequence flushed to disk, and its signal.
    synced: Mutex<u64>,
    durable: Condvar,
    syncs: bool,
}

struct Inner<B> {
    /// Events not yet acknowledged by every cursor; `entries[0]` has
    /// sequence `base`.
    entries: VecDeque<Arc<HostEvent>>,
    bytes: usize,
    base: u64,
    last: u64,
    cursors: Vec<Cursor>,
    closed: bool,
    bounds: Bounds,
    backing: B,
    /// Acknowledged positions read back from the backing at start-up, by
    /// cursor name: a cursor registering under one of these names resumes.
    resume: std::collections::BTreeMap<String, u64>,
    /// A producer waits for parked cursors to spill the oldest events.
    spill_wanted: bool,
}

#[derive(Debug)]
struct Cursor {
    name: String,
    /// Next sequence to read.
    read: u64,
    /// Highest acknowledged sequence.
    acked: u64,
    /// A parked cursor (a quarantined handler) still holds its events but
    /// is not waited for by `wait_acked`.
    parked: bool,
    /// Events dropped under it by the `drop-oldest` policy.
    dropped: u64,
    /// The sequences of those not yet taken by its reader
    /// ([`Journal::take_dropped`]), in the order they were dropped.
    undeclared: Vec<u64>,
    /// A run of sequences dropped after events the reader has read but not
    /// yet acknowledged (first, last): `acked` cannot move over them until
    /// those are acknowledged (or rewound), or it would claim the in-flight
    /// events handled.
    skipped: Option<(u64, u64)>,
    /// `wake` was called: the next (or current) read returns at once.
    woken: bool,
    /// `retire` was called (its handler was removed): it holds nothing
    /// and is waited for by nobody. Its slot stays so ids remain stable.
    retired: bool,
}

impl<B: Backing> Inner<B> {
    /// Takes `event`, just persisted with the next sequence: held for the
    /// cursors, or released at once when nobody reads.
    fn admit(&mut self, event: &Arc<HostEvent>) {
        self.last += 1;
        if self.live().next().is_none() {
            self.base = self.last + 1;
            let last = self.last;
            self.backing.released(last);
        } else {
            self.bytes += event.json.len();
            self.entries.push_back(event.clone());
        }
    }

    /// The cursors that were not retired.
    fn live(&self) -> impl Iterator<Item = &Cursor> {
        self.cursors.iter().filter(|c| !c.retired)
    }

    fn min_acked(&self) -> u64 {
        self.live().map(|c| c.acked).min().unwrap_or(self.last)
    }

    /// The lowest acknowledged position among cursors that are not parked.
    fn min_acked_active(&self) -> u64 {
        self.live().filter(|c| !c.parked).map(|c| c.acked).min().unwrap_or(self.last)
    }

    fn release(&mut self) {
        let upto = self.min_acked();
        let before = self.base;
        while self.base <= upto && !self.entries.is_empty() {
            let event = self.entries.pop_front().expect("not empty");
            self.bytes -= event.json.len();
            self.base += 1;
        }
        if self.base > before {
            self.backing.released(self.base - 1);
        }
    }

    /// Whether the oldest held event is held (also) for a parked cursor.
    fn pinned_by_parked(&self) -> bool {
        !self.entries.is_empty() && self.live().any(|c| c.parked && c.acked < self.base)
    }

    /// Whether the window is at least half full.
    fn half_full(&self) -> bool {
        self.entries.len().saturating_mul(2) >= self.bounds.max_events || self.bytes.saturating_mul(2) >= self.bounds.max_bytes
    }

    /// Whether the parked cursor `c` should move its backlog out: a producer
    /// waits for it, or the window is half full while it holds the oldest
    /// event.
    fn spill_due(&self, c: &Cursor) -> bool {
        c.parked && !c.retired && c.acked < self.last && c.acked < self.base && (self.spill_wanted || self.half_full())
    }

    fn available(&self, from: u64) -> usize {
        (self.last + 1).saturating_sub(from) as usize
    }

    fn full(&self, extra_bytes: usize) -> bool {
        !self.entries.is_empty() && (self.entries.len() >= self.bounds.max_events || self.bytes + extra_bytes > self.bounds.max_bytes)
    }

    /// `drop-oldest`: every cursor still behind the oldest event loses it.
    fn drop_oldest(&mut self) {
        let Some(event) = self.entries.pop_front() else {
            return;
        };
        self.bytes -= event.json.len();
        let sequence = self.base;
        self.base += 1;
        for c in self.cursors.iter_mut().filter(|c| !c.retired) {
            // Dropped only for a cursor that has not read it; one that has
            // is handling it and acknowledges it itself (a rewind before it
            // counts it as dropped then).
            if c.acked < sequence && c.read <= sequence {
                tracing::warn!(cursor = %c.name, sequence, "journal full (drop-oldest): event dropped for this handler");
                // The gap record first, then the acknowledgement it explains.
                self.backing.gap(&c.name, sequence);
                c.read = sequence + 1;
                c.dropped += 1;
                c.undeclared.push(sequence);
                if c.acked + 1 == sequence {
                    c.acked = sequence;
                    self.backing.acked(&c.name, sequence);
                } else {
                    // Events before it are in flight: their reader
                    // acknowledges (or rewinds) them, then `acked` moves
                    // over this run.
                    let from = c.skipped.map_or(sequence, |(from, _)| from);
                    c.skipped = Some((from, sequence));
                }
            }
        }
        // What a cursor still handles stays on disk until it acknowledges it.
        let releasable = self.live().map(|c| c.acked).min().unwrap_or(sequence).min(sequence);
        self.backing.released(releasable);
    }
}

impl MemoryJournal {
    /// An empty memory journal without a bound.
    pub fn new() -> Self {
        Self::bounded(Bounds::default())
    }

    /// An empty memory journal with a bound.
    pub fn bounded(bounds: Bounds) -> Self {
        Window::with_backing(InMemory, bounds, 0, Default::default(), VecDeque::new())
    }
}

impl Default for MemoryJournal {
    fn default() -> Self {
        Self::new()
    }
}

impl<B: Backing> Window<B> {
    /// A window over `backing` whose last assigned sequence is `last`, with
    /// the cursors' persisted positions in `resume` and the events after the
    /// lowest of them in `tail` (recovered from the backing).
    pub fn with_backing(
        backing: B,
        bounds: Bounds,
        last: u64,
        resume: std::collections::BTreeMap<String, u64>,
        tail: VecDeque<Arc<HostEvent>>,
    ) -> Self {
        let base = tail.front().map_or(last + 1, |e| e.sequence);
        let bytes = tail.iter().map(|e| e.json.len()).sum();
        Window {
            inner: Mutex::new(Inner {
                entries: tail,
                bytes,
                base,
                last,
                cursors: Vec::new(),
                closed: false,
                bounds,
                backing,
                resume,
                spill_wanted: false,
            }),
            appended: Condvar::new(),
            acked: Condvar::new(),
            synced: Mutex::new(last),
            durable: Condvar::new(),
            syncs: false,
        }
    }

    /// `fsync` mode: `wait_durable` waits for [`sync_loop`](Self::sync_loop).
    pub fn syncing(mut self) -> Self {
        self.syncs = true;
        self
    }

    /// `fsync` mode's group commit: flushes whatever was appended since the
    /// last flush, wakes the publishers it covers, until the journal is
    /// closed and everything is flushed. Run it on its own thread.
    pub fn sync_loop(&self) {
        loop {
            let mut inner = self.inner.lock().unwrap();
            let synced = *self.synced.lock().unwrap();
            while inner.last <= synced && !inner.closed {
                inner = self.appended.wait(inner).unwrap();
            }
            if inner.last <= synced {
                return;
            }
            let target = inner.last;
            if let Err(e) = inner.backing.sync() {
                tracing::error!("journal flush to disk failed (publishers waiting for it time out): {e}");
                if inner.closed {
                    // Shutting down: do not retry forever.
                    return;
                }
                drop(inner);
                std::thread::sleep(Duration::from_millis(100));
                continue;
            }
            drop(inner);
            *self.synced.lock().unwrap() = target;
            self.durable.notify_all();
        }
    }

    /// A full window whose oldest event is held for parked cursors: asks
    /// their readers to spill and waits up to [`SPILL_WAIT`] for room.
    fn wait_for_spill<'a>(&'a self, mut inner: MutexGuard<'a, Inner<B>>, size: usize) -> MutexGuard<'a, Inner<B>> {
        let deadline = Instant::now() + SPILL_WAIT;
        while inner.full(size) && inner.pinned_by_parked() && !inner.closed {
            inner.spill_wanted = true;
            self.appended.notify_all();
            let now = Instant::now();
            if now >= deadline {
                let parked: Vec<String> = inner.live().filter(|c| c.parked && c.acked < inner.base).map(|c| c.name.clone()).collect();
                tracing::error!(
                    ?parked,
                    "journal full: quarantined handlers did not spill their backlog within {SPILL_WAIT:?}; the overflow policy applies"
                );
                break;
            }
            inner = self.acked.wait_timeout(inner, deadline - now).unwrap().0;
        }
        inner.spill_wanted = false;
        inner
    }

    /// Events held (appended, not yet acknowledged by every cursor).
    pub fn len(&self) -> usize {
        self.inner.lock().unwrap().entries.len()
    }

    /// Whether no event is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes of event JSON held.
    pub fn bytes(&self) -> usize {
        self.inner.lock().unwrap().bytes
    }

    /// Runs `f` on the backing, under the journal's lock.
    pub fn with_backing_mut<T>(&self, f: impl FnOnce(&mut B) -> T) -> T {
        f(&mut self.inner.lock().unwrap().backing)
    }
}

impl<B: Backing> Journal for Window<B> {
    fn append(&self, mut event: HostEvent) -> Result<Arc<HostEvent>, JournalError> {
        let mut inner = self.inner.lock().unwrap();
        if inner.closed {
            return Err(JournalError::Closed);
        }
        let size = event.json.len();
        if inner.live().next().is_some() && inner.full(size) && inner.pinned_by_parked() {
            inner = self.wait_for_spill(inner, size);
            if inner.closed {
                return Err(JournalError::Closed);
            }
        }
        if inner.live().next().is_some() && inner.full(size) {
            match inner.bounds.overflow {
                Overflow::Reject => return Err(overloaded(&inner.bounds)),
                Overflow::Block(max_wait) => {
                    let deadline = Instant::now() + max_wait;
                    while inner.full(size) && !inner.closed {
                        let now = Instant::now();
                        if now >= deadline {
                            return Err(overloaded(&inner.bounds));
                        }
                        inner = self.acked.wait_timeout(inner, deadline - now).unwrap().0;
                    }
                    if inner.closed {
                        return Err(JournalError::Closed);
                    }
                }
                Overflow::DropOldest => {
                    while inner.full(size) {
                        inner.drop_oldest();
                    }
                }
            }
        }
        event.sequence = inner.last + 1;
        inner.backing.append(&event)?;
        let event = Arc::new(event);
        inner.admit(&event);
        drop(inner);
        self.appended.notify_all();
        Ok(event)
    }

    fn append_batch(&self, mut events: Vec<HostEvent>) -> Vec<Result<Arc<HostEvent>, JournalError>> {
        let bytes: usize = events.iter().map(|e| e.json.len()).sum();
        let mut inner = self.inner.lock().unwrap();
        let reading = inner.live().next().is_some();
        // Only a batch that fits as it is goes in at once; one that meets
        // the bound takes the overflow policy event by event.
        let fits = !reading
            || (inner.entries.len().saturating_add(events.len()) <= inner.bounds.max_events
                && inner.bytes.saturating_add(bytes) <= inner.bounds.max_bytes);
        if inner.closed || !fits {
            drop(inner);
            return events.into_iter().map(|e| self.append(e)).collect();
        }
        for (i, event) in events.iter_mut().enumerate() {
            event.sequence = inner.last + 1 + i as u64;
        }
        let (stored, failure) = match inner.backing.append_many(&events) {
            Ok(()) => (events.len(), None),
            Err((stored, e)) => (stored, Some(e)),
        };
        let mut results = Vec::with_capacity(events.len());
        for event in events.drain(..stored) {
            let event = Arc::new(event);
            inner.admit(&event);
            results.push(Ok(event));
        }
        drop(inner);
        if stored > 0 {
            self.appended.notify_all();
        }
        if let Some(e) = failure {
            results.extend(events.iter().map(|_| Err(e.clone())));
        }
        results
    }

    fn register_cursor(&self, name: &str) -> CursorId {
        let mut inner = self.inner.lock().unwrap();
        let acked = match inner.resume.remove(name) {
            // Resume after what it acknowledged, but never before what the
            // window still holds (older events were dropped by drop-oldest:
            // counted and recorded below).
            Some(acked) => acked.min(inner.last),
            // A new reader starts with what the window holds (after a
            // restart: events no reader had acknowledged yet).
            None => inner.base - 1,
        };
        let lost = (acked + 1)..inner.base;
        for sequence in lost.clone() {
            inner.backing.gap(name, sequence);
        }
        let dropped = lost.end.saturating_sub(lost.start);
        if dropped > 0 {
            tracing::warn!(cursor = name, dropped, "events this handler had not acknowledged are no longer in the journal (drop-oldest)");
        }
        let acked = acked.max(inner.base - 1);
        inner.backing.acked(name, acked);
        inner.cursors.push(Cursor {
            name: name.to_owned(),
            read: acked + 1,
            acked,
            parked: false,
            dropped,
            undeclared: lost.collect(),
            skipped: None,
            woken: false,
            retired: false,
        });
        CursorId(inner.cursors.len() - 1)
    }

    fn read(&self, cursor: CursorId, max: usize, max_wait: Duration) -> Vec<Arc<HostEvent>> {
        let max = max.max(1);
        let mut inner = self.inner.lock().unwrap();
        loop {
            let from = inner.cursors[cursor.0].read;
            if inner.available(from) > 0 || inner.closed {
                break;
            }
            if std::mem::take(&mut inner.cursors[cursor.0].woken) {
                return Vec::new();
            }
            inner = self.appended.wait(inner).unwrap();
        }
        let deadline = Instant::now() + max_wait;
        loop {
            let from = inner.cursors[cursor.0].read;
            if inner.available(from) >= max || inner.closed || std::mem::take(&mut inner.cursors[cursor.0].woken) {
                break;
            }
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            inner = self.appended.wait_timeout(inner, deadline - now).unwrap().0;
        }
        let from = inner.cursors[cursor.0].read.max(inner.base);
        let take = inner.available(from).min(max);
        let start = (from - inner.base) as usize;
        let batch: Vec<_> = inner.entries.range(start..start + take).cloned().collect();
        inner.cursors[cursor.0].read = from + take as u64;
        batch
    }

    fn ack(&self, cursor: CursorId, sequence: u64) {
        let mut inner = self.inner.lock().unwrap();
        let c = &mut inner.cursors[cursor.0];
        let mut sequence = sequence;
        if let Some((from, to)) = c.skipped
            && sequence + 1 >= from
        {
            // Everything before the dropped run is handled now.
            sequence = sequence.max(to);
            c.skipped = None;
        }
        if sequence > c.acked {
            c.acked = sequence;
            let name = c.name.clone();
            inner.backing.acked(&name, sequence);
        }
        inner.release();
        drop(inner);
        self.acked.notify_all();
    }

    fn head(&self) -> u64 {
        self.inner.lock().unwrap().last
    }

    fn wait_acked(&self, sequence: u64) {
        let mut inner = self.inner.lock().unwrap();
        while inner.min_acked_active() < sequence {
            inner = self.acked.wait(inner).unwrap();
        }
    }

    fn rewind(&self, cursor: CursorId, next: u64) {
        let mut inner = self.inner.lock().unwrap();
        let base = inner.base;
        let c = &mut inner.cursors[cursor.0];
        let next = next.max(c.acked + 1).min(c.read);
        // Events it had read but drop-oldest released meanwhile are gone:
        // counted and recorded, never silent. A run dropped after them was
        // counted when it was dropped.
        let skipped = c.skipped.take();
        let lost = next..base.min(c.read).min(skipped.map_or(u64::MAX, |(from, _)| from));
        c.dropped += lost.end.saturating_sub(lost.start);
        c.undeclared.extend(lost.clone());
        c.read = next.max(base);
        // Everything up to the lost events and the skipped run is accounted
        // for: the acknowledgement moves over them (after their gap records).
        let through = skipped.map(|(_, to)| to).or((!lost.is_empty()).then(|| lost.end - 1));
        let acked = c.acked;
        let name = c.name.clone();
        for sequence in lost {
            tracing::warn!(cursor = %name, sequence, "journal full (drop-oldest): event dropped for this handler");
            inner.backing.gap(&name, sequence);
        }
        if let Some(through) = through
            && acked + 1 >= next
            && through > acked
        {
            inner.cursors[cursor.0].acked = through;
            inner.backing.acked(&name, through);
        }
    }

    fn park(&self, cursor: CursorId, parked: bool) {
        self.inner.lock().unwrap().cursors[cursor.0].parked = parked;
        self.acked.notify_all();
    }

    fn retire(&self, cursor: CursorId) {
        let mut inner = self.inner.lock().unwrap();
        let c = &mut inner.cursors[cursor.0];
        if c.retired {
            return;
        }
        c.retired = true;
        c.woken = true;
        let name = c.name.clone();
        inner.backing.retire(&name);
        inner.release();
        drop(inner);
        self.appended.notify_all();
        self.acked.notify_all();
    }

    fn wake(&self, cursor: CursorId) {
        self.inner.lock().unwrap().cursors[cursor.0].woken = true;
        self.appended.notify_all();
    }

    fn wait_acked_by(&self, cursor: CursorId, sequence: u64) {
        let mut inner = self.inner.lock().unwrap();
        while inner.cursors[cursor.0].acked < sequence && !(inner.closed && inner.cursors[cursor.0].read > inner.last) {
            inner = self.acked.wait(inner).unwrap();
        }
    }

    fn dropped(&self, cursor: CursorId) -> u64 {
        self.inner.lock().unwrap().cursors[cursor.0].dropped
    }

    fn take_dropped(&self, cursor: CursorId) -> Vec<u64> {
        std::mem::take(&mut self.inner.lock().unwrap().cursors[cursor.0].undeclared)
    }

    fn spill_due(&self, cursor: CursorId, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut inner = self.inner.lock().unwrap();
        loop {
            if inner.closed {
                return false;
            }
            if inner.spill_due(&inner.cursors[cursor.0]) {
                return true;
            }
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            inner = self.appended.wait_timeout(inner, deadline - now).unwrap().0;
        }
    }

    fn held(&self) -> (usize, usize) {
        let inner = self.inner.lock().unwrap();
        (inner.entries.len(), inner.bytes)
    }

    fn acked(&self, cursor: CursorId) -> u64 {
        self.inner.lock().unwrap().cursors[cursor.0].acked
    }

    fn is_closed(&self) -> bool {
        self.inner.lock().unwrap().closed
    }

    fn wait_durable(&self, sequence: u64, timeout: Duration) -> bool {
        if !self.syncs {
            return true;
        }
        let deadline = Instant::now() + timeout;
        let mut synced = self.synced.lock().unwrap();
        while *synced < sequence {
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            synced = self.durable.wait_timeout(synced, deadline - now).unwrap().0;
        }
        true
    }

    fn close(&self) {
        self.inner.lock().unwrap().closed = true;
        self.appended.notify_all();
        self.acked.notify_all();
    }
}

fn overloaded(bounds: &Bounds) -> JournalError {
    JournalError::Overloaded { max_events: bounds.max_events, max_bytes: bounds.max_bytes }
}

#[cfg(test)]
#[path = "window_tests.rs"]
mod tests;
