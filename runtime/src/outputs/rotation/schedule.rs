//! When a file rotates: on a schedule (`rotationInterval` after the file was
//! started, or at `rotationTimes` of the UTC day) and by size
//! (`maxFileSize`), plus the clock the schedule is read from.
//!
//! Invariants: a schedule instant is always strictly after the moment the
//! file was started, so a fresh file never rotates at once; a disabled
//! policy is never due; size rotation never splits a record and never
//! leaves an empty file behind.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::RotationPolicy;

/// The time source of rotation (tests inject a [`ManualClock`]).
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// The current time.
    fn now(&self) -> SystemTime;
}

/// The system's wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
}

/// A clock that moves only when told to; clones share the same time.
#[derive(Debug, Clone)]
pub struct ManualClock(Arc<Mutex<SystemTime>>);

impl ManualClock {
    /// A clock showing `start`.
    pub fn new(start: SystemTime) -> Self {
        ManualClock(Arc::new(Mutex::new(start)))
    }

    /// Sets the time (it may go backwards).
    pub fn set(&self, t: SystemTime) {
        *self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = t;
    }

    /// Moves the time forward by `d` (saturating at the latest time the
    /// system can represent).
    pub fn advance(&self, d: Duration) {
        let mut now = self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(later) = now.checked_add(d) {
            *now = later;
        }
    }
}

impl Clock for ManualClock {
    fn now(&self) -> SystemTime {
        *self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

const DAY_NS: i128 = 86_400_000_000_000;

fn nanos_since_epoch(t: SystemTime) -> i128 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_nanos() as i128,
        Err(before) => -(before.duration().as_nanos() as i128),
    }
}

fn from_nanos_since_epoch(ns: i128) -> Option<SystemTime> {
    let abs = u64::try_from(ns.unsigned_abs() / 1_000_000_000).ok()?;
    let d = Duration::new(abs, (ns.unsigned_abs() % 1_000_000_000) as u32);
    if ns >= 0 { UNIX_EPOCH.checked_add(d) } else { UNIX_EPOCH.checked_sub(d) }
}

/// The first `rotationTimes` instant strictly after `after` (in any order;
/// `from_settings` keeps them sorted and under a day).
fn next_daily(times: &[Duration], after: SystemTime) -> Option<SystemTime> {
    let after = nanos_since_epoch(after);
    let midnight = after.div_euclid(DAY_NS) * DAY_NS;
    let today = times.iter().map(|t| midnight + t.as_nanos() as i128).filter(|&at| at > after).min();
    let at = match today {
        Some(at) => at,
        None => midnight + DAY_NS + times.iter().min()?.as_nanos() as i128,
    };
    from_nanos_since_epoch(at)
}

/// The earliest instant after `opened_at` (when the live file was started)
/// at which the file must rotate: `opened_at + rotationInterval`, or the
/// next `rotationTimes` instant (midnight UTC plus the duration, on the day
/// of `opened_at` or the next) after `opened_at`, whichever comes first.
/// `None` when rotation is disabled or neither is set.
///
/// `now` does not move the answer: a file started "in the future" because
/// the clock was stepped back still rotates at its own schedule, and a
/// process that slept past the instant finds it [`due`] at once.
pub fn next_time_rotation(policy: &RotationPolicy, opened_at: SystemTime, now: SystemTime) -> Option<SystemTime> {
    let _ = now;
    if !policy.enabled {
        return None;
    }
    let by_interval = policy.interval.filter(|d| !d.is_zero()).and_then(|d| opened_at.checked_add(d));
    let by_time = next_daily(&policy.times, opened_at);
    match (by_interval, by_time) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// Whether the file started at `opened_at` must rotate now, by time
/// (interval or times of day); see [`next_time_rotation`].
pub fn due(policy: &RotationPolicy, opened_at: SystemTime, now: SystemTime) -> bool {
    next_time_rotation(policy, opened_at, now).is_some_and(|at| now >= at)
}

/// Whether the file must rotate *before* a record of `record_len` bytes (as
/// it will be written, newline included) is appended to a file of
/// `current_len` bytes: rotation is enabled, `maxFileSize` is set, the file
/// is not empty, and the record would take it past the maximum. A record
/// larger than the maximum therefore goes alone into a fresh file.
pub fn size_due(policy: &RotationPolicy, current_len: u64, record_len: u64) -> bool {
    policy.enabled && current_len > 0 && policy.max_file_size.is_some_and(|max| current_len.saturating_add(record_len) > max)
}
