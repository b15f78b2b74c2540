//! The ticker: one thread that wakes the handlers whose outputs have
//! time-driven work (rotation by time, retention, periodic signatures) at
//! their interval, so that a handler with no events still rotates on time.
//!
//! Handlers come and go with hot reload: the set of ticks is shared and
//! changed while the thread runs. [`Ticker::stop`] ends the thread at once.

use std::collections::BTreeMap;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::journal::{CursorId, Journal};

struct Tick {
    interval: Duration,
    journal: Arc<dyn Journal>,
    cursor: CursorId,
    due: Instant,
}

#[derive(Default)]
struct Ticks {
    by_handler: BTreeMap<String, Tick>,
    stopped: bool,
}

/// The shared set of ticks and the thread serving it.
#[derive(Default)]
pub(super) struct Ticker {
    ticks: Mutex<Ticks>,
    changed: Condvar,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl Ticker {
    /// Wakes `handler`'s cursor every `interval` from now on (replacing any
    /// earlier tick of that handler); starts the thread on first use.
    pub(super) fn add(self: &Arc<Self>, handler: &str, interval: Duration, journal: Arc<dyn Journal>, cursor: CursorId) {
        let mut ticks = self.ticks.lock().unwrap();
        if ticks.stopped {
            return;
        }
        ticks.by_handler.insert(handler.to_owned(), Tick { interval, journal, cursor, due: Instant::now() + interval });
        drop(ticks);
        self.changed.notify_all();
        let mut thread = self.thread.lock().unwrap();
        if thread.is_none() {
            let ticker = self.clone();
            *thread =
                Some(std::thread::Builder::new().name("wasp-ticker".into()).spawn(move || ticker.run()).expect("spawn the ticker thread"));
        }
    }

    /// Stops waking `handler`.
    pub(super) fn remove(&self, handler: &str) {
        self.ticks.lock().unwrap().by_handler.remove(handler);
    }

    /// Ends the thread and waits for it.
    pub(super) fn stop(&self) {
        self.ticks.lock().unwrap().stopped = true;
        self.changed.notify_all();
        if let Some(thread) = self.thread.lock().unwrap().take() {
            let _ = thread.join();
        }
    }

    fn run(&self) {
        let mut ticks = self.ticks.lock().unwrap();
        while !ticks.stopped {
            let now = Instant::now();
            for tick in ticks.by_handler.values_mut() {
                if now >= tick.due {
                    tick.journal.wake(tick.cursor);
                    tick.due = now + tick.interval;
                }
            }
            let next = ticks.by_handler.values().map(|t| t.due).min();
            let wait = next.map_or(Duration::from_secs(3600), |due| due.saturating_duration_since(now)).max(Duration::from_millis(10));
            ticks = self.changed.wait_timeout(ticks, wait).unwrap().0;
        }
    }
}
