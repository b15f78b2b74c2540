//! Tests of the window: reading, acknowledging, rewinding, bounds and
//! `drop-oldest` accounting.

use super::*;

fn event(n: u32) -> HostEvent {
    let doc = serde_json::json!({"n": n}).as_object().unwrap().clone();
    HostEvent::from_document("access", doc, 1 << 20).unwrap()
}

#[test]
fn a_retired_cursor_holds_nothing_and_is_waited_for_by_nobody() {
    let journal = MemoryJournal::bounded(Bounds { max_events: 3, max_bytes: usize::MAX, overflow: Overflow::Reject });
    let a = journal.register_cursor("a");
    let b = journal.register_cursor("b");
    for n in 0..3 {
        journal.append(event(n)).unwrap();
    }
    journal.ack(a, 3);
    assert_eq!(journal.len(), 3, "b holds them");
    assert!(matches!(journal.append(event(3)), Err(JournalError::Overloaded { .. })), "full because of b");
    journal.retire(b);
    assert!(journal.is_empty(), "released once b is retired");
    journal.append(event(3)).unwrap();
    journal.ack(a, 4);
    journal.wait_acked(4); // returns: b is not waited for
    assert!(journal.is_empty());
    // With every cursor retired, appends are released at once.
    journal.retire(a);
    journal.append(event(4)).unwrap();
    assert!(journal.is_empty());
    // A new reader under a retired name starts afresh, after the head.
    let again = journal.register_cursor("b");
    journal.append(event(5)).unwrap();
    assert_eq!(journal.read(again, 10, Duration::ZERO).iter().map(|e| e.sequence).collect::<Vec<_>>(), [6]);
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

fn bounded(max_events: usize, overflow: Overflow) -> MemoryJournal {
    Window::with_backing(InMemory, Bounds { max_events, max_bytes: usize::MAX, overflow }, 0, Default::default(), VecDeque::new())
}

#[test]
fn reject_refuses_past_the_bound_and_accepts_again_after_acks() {
    let j = bounded(2, Overflow::Reject);
    let a = j.register_cursor("a");
    j.append(event(1)).unwrap();
    j.append(event(2)).unwrap();
    assert!(matches!(j.append(event(3)), Err(JournalError::Overloaded { max_events: 2, .. })));
    j.read(a, 1, Duration::ZERO);
    j.ack(a, 1);
    assert_eq!(j.append(event(3)).unwrap().sequence, 3, "a refused append assigns no sequence");
}

#[test]
fn block_waits_for_room_up_to_its_timeout() {
    let j = Arc::new(bounded(1, Overflow::Block(Duration::from_secs(10))));
    let a = j.register_cursor("a");
    j.append(event(1)).unwrap();
    let reader = {
        let j = j.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            j.read(a, 1, Duration::ZERO);
            j.ack(a, 1);
        })
    };
    assert_eq!(j.append(event(2)).unwrap().sequence, 2, "admitted once the reader acknowledged");
    reader.join().unwrap();
    let j = bounded(1, Overflow::Block(Duration::from_millis(20)));
    j.register_cursor("a");
    j.append(event(1)).unwrap();
    assert!(matches!(j.append(event(2)), Err(JournalError::Overloaded { .. })), "nobody acknowledges: refused after the wait");
}

#[test]
fn drop_oldest_moves_lagging_cursors_and_counts() {
    let j = bounded(2, Overflow::DropOldest);
    let slow = j.register_cursor("slow");
    let fast = j.register_cursor("fast");
    for n in 1..=2 {
        j.append(event(n)).unwrap();
    }
    j.read(fast, 2, Duration::ZERO);
    j.ack(fast, 2);
    j.append(event(3)).unwrap();
    j.append(event(4)).unwrap();
    assert_eq!((j.dropped(slow), j.dropped(fast)), (2, 0));
    let seqs: Vec<u64> = j.read(slow, 10, Duration::ZERO).iter().map(|e| e.sequence).collect();
    assert_eq!(seqs, [3, 4], "the slow cursor skips what was dropped");
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

/// A tiny deterministic generator (xorshift64*), so a failing run can be
/// repeated from its seed.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % n.max(1)
    }
}

/// Readers that handle a random prefix of each batch and rewind to the
/// rest (as a worker does when its breaker opens), some of them parked now
/// and then, against producers overflowing a `drop-oldest` window: every
/// sequence is, for every reader, either handled or dropped (counted and
/// taken), exactly once.
#[test]
fn drop_oldest_under_concurrent_rewinds_accounts_for_every_event_once() {
    const EVENTS: u64 = 20_000;
    for seed in [1_u64, 0x5EED, 0xC0FFEE] {
        let j = Arc::new(bounded(6, Overflow::DropOldest));
        let readers: Vec<CursorId> = (0..3).map(|n| j.register_cursor(&format!("r{n}"))).collect();
        let results: Vec<_> = std::thread::scope(|s| {
            for p in 0..2u64 {
                let j = j.clone();
                s.spawn(move || {
                    let mut rng = Rng(seed ^ ((p + 1) * 0x9E37_79B9));
                    for n in 0..EVENTS / 2 {
                        j.append(event(n as u32)).unwrap();
                        if rng.below(50) == 0 {
                            std::thread::yield_now();
                        }
                    }
                });
            }
            let handles: Vec<_> = readers
                .iter()
                .enumerate()
                .map(|(r, &cursor)| {
                    let j = j.clone();
                    s.spawn(move || {
                        let mut rng = Rng(seed.wrapping_add(r as u64 * 7919 + 17));
                        let mut handled = Vec::new();
                        let mut dropped = Vec::new();
                        loop {
                            let batch = j.read(cursor, 1 + rng.below(8) as usize, Duration::from_micros(rng.below(200)));
                            dropped.extend(j.take_dropped(cursor));
                            let Some(last) = batch.last().map(|e| e.sequence) else {
                                if j.is_closed() {
                                    break;
                                }
                                continue;
                            };
                            let k = if rng.below(3) == 0 { rng.below(batch.len() as u64 + 1) as usize } else { batch.len() };
                            handled.extend(batch[..k].iter().map(|e| e.sequence));
                            if rng.below(4) == 0 {
                                std::thread::yield_now();
                            }
                            if k == batch.len() {
                                j.ack(cursor, last);
                            } else {
                                j.ack(cursor, batch[k].sequence - 1);
                                j.rewind(cursor, batch[k].sequence);
                            }
                            j.park(cursor, rng.below(5) == 0);
                        }
                        dropped.extend(j.take_dropped(cursor));
                        (handled, dropped)
                    })
                })
                .collect();
            // Close once both producers are done and every reader caught up
            // with the head.
            while j.head() < EVENTS {
                std::thread::sleep(Duration::from_millis(1));
            }
            j.close();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        for (r, (handled, dropped)) in results.into_iter().enumerate() {
            let mut seen = std::collections::BTreeMap::new();
            for s in handled.iter().chain(&dropped) {
                *seen.entry(*s).or_insert(0) += 1;
            }
            let twice: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).map(|(s, _)| *s).take(10).collect();
            assert!(twice.is_empty(), "seed {seed:#x}, reader {r}: sequences with two fates: {twice:?}");
            let missing: Vec<_> = (1..=EVENTS).filter(|s| !seen.contains_key(s)).take(10).collect();
            assert!(missing.is_empty(), "seed {seed:#x}, reader {r}: sequences with no fate: {missing:?}");
            assert_eq!(j.dropped(readers[r]), dropped.len() as u64, "seed {seed:#x}, reader {r}: counter = taken drops");
            assert_eq!(
                j.acked(readers[r]),
                EVENTS,
                "seed {seed:#x}, reader {r}: the acknowledgement covers every event (a flush would wait forever)"
            );
        }
    }
}

#[test]
fn a_batch_that_fits_goes_in_at_once_and_one_that_meets_the_bound_event_by_event() {
    let journal = bounded(10, Overflow::Reject);
    let a = journal.register_cursor("a");
    let sequences = |results: Vec<Result<Arc<HostEvent>, JournalError>>| -> Vec<Result<u64, JournalError>> {
        results.into_iter().map(|r| r.map(|e| e.sequence)).collect()
    };
    assert_eq!(sequences(journal.append_batch((0..6).map(event).collect())), (1..=6).map(Ok).collect::<Vec<_>>());
    // Four more fit; the fifth and sixth meet the bound: refused alone.
    let overloaded = JournalError::Overloaded { max_events: 10, max_bytes: usize::MAX };
    let mut want: Vec<Result<u64, JournalError>> = (7..=10).map(Ok).collect();
    want.extend([Err(overloaded.clone()), Err(overloaded)]);
    assert_eq!(sequences(journal.append_batch((6..12).map(event).collect())), want);
    let read = journal.read(a, 100, Duration::ZERO);
    assert_eq!(read.iter().map(|e| e.sequence).collect::<Vec<_>>(), (1..=10).collect::<Vec<_>>());
    assert!(read[9].json.contains("\"n\":9"), "in order: {}", read[9].json);
    journal.ack(a, 10);
    assert!(journal.is_empty());
    // Nobody reading: released at once, sequences still counted.
    journal.retire(a);
    assert_eq!(sequences(journal.append_batch((0..3).map(event).collect())), (11..=13).map(Ok).collect::<Vec<_>>());
    assert!(journal.is_empty());
    assert!(journal.append_batch(Vec::new()).is_empty());
    journal.close();
    assert_eq!(sequences(journal.append_batch(vec![event(0)])), vec![Err(JournalError::Closed)]);
}
