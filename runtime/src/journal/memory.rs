//! The memory journal: events in a queue, released once every cursor has
//! acknowledged them. Nothing survives the process; the bound on its size is
//! the durable journal's work (until then it grows with the slowest handler's
//! lag).

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use super::{CursorId, Journal, JournalError};
use crate::event::HostEvent;

/// A journal held in memory.
#[derive(Debug, Default)]
pub struct MemoryJournal {
    inner: Mutex<Inner>,
    appended: Condvar,
    acked: Condvar,
}

#[derive(Debug, Default)]
struct Inner {
    /// Events not yet acknowledged by every cursor; `entries[0]` has
    /// sequence `base`.
    entries: VecDeque<Arc<HostEvent>>,
    base: u64,
    last: u64,
    cursors: Vec<Cursor>,
    closed: bool,
}

#[derive(Debug)]
struct Cursor {
    /// Next sequence to read.
    read: u64,
    /// Highest acknowledged sequence.
    acked: u64,
    /// A parked cursor (a quarantined handler) still holds its events but
    /// is not waited for by `wait_acked`.
    parked: bool,
}

impl Inner {
    fn min_acked(&self) -> u64 {
        self.cursors.iter().map(|c| c.acked).min().unwrap_or(self.last)
    }

    /// The lowest acknowledged position among cursors that are not parked.
    fn min_acked_active(&self) -> u64 {
        self.cursors.iter().filter(|c| !c.parked).map(|c| c.acked).min().unwrap_or(self.last)
    }

    fn release(&mut self) {
        let upto = self.min_acked();
        while self.base <= upto && !self.entries.is_empty() {
            self.entries.pop_front();
            self.base += 1;
        }
    }

    fn available(&self, from: u64) -> usize {
        (self.last + 1).saturating_sub(from) as usize
    }
}

impl MemoryJournal {
    /// An empty journal.
    pub fn new() -> Self {
        MemoryJournal { inner: Mutex::new(Inner { base: 1, ..Default::default() }), ..Default::default() }
    }

    /// Events held (appended, not yet acknowledged by every cursor).
    pub fn len(&self) -> usize {
        self.inner.lock().unwrap().entries.len()
    }

    /// Whether no event is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Journal for MemoryJournal {
    fn append(&self, mut event: HostEvent) -> Result<Arc<HostEvent>, JournalError> {
        let mut inner = self.inner.lock().unwrap();
        if inner.closed {
            return Err(JournalError::Closed);
        }
        inner.last += 1;
        event.sequence = inner.last;
        let event = Arc::new(event);
        if inner.cursors.is_empty() {
            // Nobody reads: released at once.
            inner.base = inner.last + 1;
        } else {
            inner.entries.push_back(event.clone());
        }
        drop(inner);
        self.appended.notify_all();
        Ok(event)
    }

    fn register_cursor(&self, _name: &str) -> CursorId {
        let mut inner = self.inner.lock().unwrap();
        let last = inner.last;
        inner.cursors.push(Cursor { read: last + 1, acked: last, parked: false });
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
            inner = self.appended.wait(inner).unwrap();
        }
        let deadline = Instant::now() + max_wait;
        loop {
            let from = inner.cursors[cursor.0].read;
            if inner.available(from) >= max || inner.closed {
                break;
            }
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            inner = self.appended.wait_timeout(inner, deadline - now).unwrap().0;
        }
        let from = inner.cursors[cursor.0].read;
        let take = inner.available(from).min(max);
        let start = (from - inner.base) as usize;
        let batch: Vec<_> = inner.entries.range(start..start + take).cloned().collect();
        inner.cursors[cursor.0].read = from + take as u64;
        batch
    }

    fn ack(&self, cursor: CursorId, sequence: u64) {
        let mut inner = self.inner.lock().unwrap();
        let c = &mut inner.cursors[cursor.0];
        c.acked = c.acked.max(sequence);
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
        let c = &mut inner.cursors[cursor.0];
        assert!(next > c.acked && next <= c.read, "rewind to {next} outside ({}, {}]", c.acked, c.read);
        c.read = next;
    }

    fn park(&self, cursor: CursorId, parked: bool) {
        self.inner.lock().unwrap().cursors[cursor.0].parked = parked;
        self.acked.notify_all();
    }

    fn is_closed(&self) -> bool {
        self.inner.lock().unwrap().closed
    }

    fn close(&self) {
        self.inner.lock().unwrap().closed = true;
        self.appended.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(n: u32) -> HostEvent {
        let doc = serde_json::json!({"n": n}).as_object().unwrap().clone();
        HostEvent::from_document("access", doc, 1 << 20).unwrap()
    }

    #[test]
    fn cursors_read_in_order_and_release_after_every_ack() {
        let journal = MemoryJournal::new();
        let a = journal.register_cursor("a");
        let b = journal.register_cursor("b");
        for n in 0..5 {
            journal.append(event(n)).unwrap();
        }
        let batch = journal.read(a, 3, Duration::ZERO);
        assert_eq!(batch.iter().map(|e| e.sequence).collect::<Vec<_>>(), [1, 2, 3]);
        let batch = journal.read(a, 10, Duration::ZERO);
        assert_eq!(batch.iter().map(|e| e.sequence).collect::<Vec<_>>(), [4, 5]);
        journal.ack(a, 5);
        assert_eq!(journal.len(), 5, "b has not acknowledged anything");
        assert_eq!(journal.read(b, 10, Duration::ZERO).len(), 5);
        journal.ack(b, 2);
        assert_eq!(journal.len(), 3);
        journal.ack(b, 5);
        assert!(journal.is_empty());
    }

    #[test]
    fn close_drains_then_returns_empty() {
        let journal = MemoryJournal::new();
        let a = journal.register_cursor("a");
        journal.append(event(1)).unwrap();
        journal.close();
        assert_eq!(journal.append(event(2)), Err(JournalError::Closed));
        assert_eq!(journal.read(a, 10, Duration::from_secs(10)).len(), 1);
        assert!(journal.read(a, 10, Duration::from_secs(10)).is_empty());
    }

    #[test]
    fn read_waits_for_a_batch_to_fill_until_max_wait() {
        let journal = Arc::new(MemoryJournal::new());
        let a = journal.register_cursor("a");
        journal.append(event(1)).unwrap();
        let producer = {
            let journal = journal.clone();
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(50));
                journal.append(event(2)).unwrap();
            })
        };
        // The batch wants 2 and may wait 10 s: the second event arrives first.
        let batch = journal.read(a, 2, Duration::from_secs(10));
        producer.join().unwrap();
        assert_eq!(batch.len(), 2);
    }

    #[test]
    fn rewind_rereads_and_a_parked_cursor_does_not_hold_flushes() {
        let j = MemoryJournal::new();
        let a = j.register_cursor("a");
        let b = j.register_cursor("b");
        for n in 1..=4 {
            j.append(event(n)).unwrap();
        }
        let first: Vec<u64> = j.read(a, 4, Duration::ZERO).iter().map(|e| e.sequence).collect();
        assert_eq!(first, [1, 2, 3, 4]);
        j.ack(a, 2);
        j.rewind(a, 3);
        let again: Vec<u64> = j.read(a, 4, Duration::ZERO).iter().map(|e| e.sequence).collect();
        assert_eq!(again, [3, 4]);
        j.ack(a, 4);
        // `b` has acknowledged nothing: parked, it no longer holds a flush,
        // but its events stay in the journal.
        j.park(b, true);
        j.wait_acked(4);
        assert_eq!(j.len(), 4);
        j.park(b, false);
        j.ack(b, 4);
        assert!(j.is_empty());
    }
}
