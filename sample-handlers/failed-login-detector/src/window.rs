//! The sliding window of failures per key, kept in host state so that it
//! survives instance recycling (and fault recovery: a faulted call's state
//! changes are discarded by the host, so nothing is counted twice).
//!
//! # State layout
//!
//! | key | value |
//! |---|---|
//! | `user:<name>`, `ip:<address>` | 8 bytes: time of the last alert for this key (`i64::MIN`: none); then the times of the most recent failures inside the window, ascending, 8 bytes each (little-endian milliseconds since the epoch), at most `threshold + 1` |
//! | `idx` | the numbers of the time buckets that have an index, 8 bytes each |
//! | `b:<n>` | the keys that had a failure in bucket `n` (`time / window`), one per line |
//!
//! # Invariants
//!
//! - A failure at time `f` counts for an event at time `t` iff
//!   `t - window < f <= t`: the window is `window` long and ends at the
//!   event being handled. Times are the events' own timestamps.
//! - Only the newest `threshold + 1` failures of a key are kept: that is
//!   all "more than `threshold` in the window" needs, and it bounds a key's
//!   value to `8 × (threshold + 2)` bytes.
//! - A key alerts when its count goes over `threshold` and it has not
//!   alerted during the last `window`: a continuing attack gives one alert
//!   per window per key, not one per failure.
//! - Every key with a failure is listed in the bucket index of that
//!   failure's time. A bucket `n ≤ bucket(t) - 2` lies entirely before
//!   `t - window`; sweeping it removes each listed key whose newest failure
//!   is outside the window (a key with a newer failure is also listed in a
//!   newer bucket), so state holds only keys active in about the last two
//!   windows, however many users and addresses have ever failed.

/// Where the window keeps its values: the host's `state` interface in the
/// component, a map in unit tests.
pub trait Store {
    /// The value under `key`.
    fn get(&mut self, key: &str) -> Option<Vec<u8>>;
    /// Stores `value` under `key`.
    fn set(&mut self, key: &str, value: Vec<u8>) -> Result<(), String>;
    /// Removes `key`.
    fn remove(&mut self, key: &str);
}

/// What the window reports when a key goes over the threshold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Crossing {
    /// Failures in the window, this one included.
    pub count: usize,
    /// The oldest of them (ms since the epoch).
    pub first: i64,
    /// The newest of them (ms since the epoch).
    pub last: i64,
}

/// The sliding-window counter.
#[derive(Debug, Clone)]
pub struct Window {
    /// Length of the window, in ms (> 0).
    pub window: i64,
    /// More failures than this in the window alert (≥ 1).
    pub threshold: usize,
}

const NO_ALERT: i64 = i64::MIN;
/// Longest key kept (bytes): longer names are cut (at a character boundary).
const MAX_KEY: usize = 256;

impl Window {
    /// Records a failure of `dimension` (`user`, `ip`) `key` at time `t`
    /// and returns the crossing if this failure makes the key alert.
    pub fn failure(&self, store: &mut impl Store, dimension: &str, key: &str, t: i64) -> Result<Option<Crossing>, String> {
        self.sweep(store, t)?;
        let state_key = state_key(dimension, key);
        let (mut alerted_at, mut times) = decode(store.get(&state_key).as_deref());
        times.retain(|&f| f > t - self.window);
        let at = times.partition_point(|&f| f <= t);
        times.insert(at, t);
        if times.len() > self.threshold + 1 {
            let excess = times.len() - (self.threshold + 1);
            times.drain(..excess);
        }
        let crossing = if times.len() > self.threshold && (alerted_at == NO_ALERT || t - alerted_at >= self.window) {
            alerted_at = t;
            Some(Crossing { count: times.len(), first: times[0], last: times[times.len() - 1] })
        } else {
            None
        };
        store.set(&state_key, encode(alerted_at, &times))?;
        self.index(store, &state_key, t)?;
        Ok(crossing)
    }

    fn bucket(&self, t: i64) -> i64 {
        t.div_euclid(self.window)
    }

    /// Lists `state_key` in the bucket of `t`.
    fn index(&self, store: &mut impl Store, state_key: &str, t: i64) -> Result<(), String> {
        let bucket = self.bucket(t);
        let mut buckets = decode_i64s(store.get("idx").as_deref().unwrap_or_default());
        if !buckets.contains(&bucket) {
            buckets.push(bucket);
            store.set("idx", encode_i64s(&buckets))?;
        }
        let name = format!("b:{bucket}");
        let mut listed = store.get(&name).unwrap_or_default();
        if !listed.split(|&c| c == b'\n').any(|line| line == state_key.as_bytes()) {
            if !listed.is_empty() {
                listed.push(b'\n');
            }
            listed.extend_from_slice(state_key.as_bytes());
            store.set(&name, listed)?;
        }
        Ok(())
    }

    /// Forgets the keys whose failures all lie before `t - window`.
    fn sweep(&self, store: &mut impl Store, t: i64) -> Result<(), String> {
        let cutoff = self.bucket(t) - 2;
        let buckets = decode_i64s(store.get("idx").as_deref().unwrap_or_default());
        if buckets.iter().all(|&b| b > cutoff) {
            return Ok(());
        }
        for &bucket in buckets.iter().filter(|&&b| b <= cutoff) {
            let name = format!("b:{bucket}");
            let listed = store.get(&name).unwrap_or_default();
            for line in listed.split(|&c| c == b'\n').filter(|l| !l.is_empty()) {
                let key = String::from_utf8_lossy(line);
                let (_, times) = decode(store.get(&key).as_deref());
                if times.last().is_none_or(|&newest| newest <= t - self.window) {
                    store.remove(&key);
                }
            }
            store.remove(&name);
        }
        let kept: Vec<i64> = buckets.into_iter().filter(|&b| b > cutoff).collect();
        if kept.is_empty() {
            store.remove("idx")
        } else {
            store.set("idx", encode_i64s(&kept))?
        }
        Ok(())
    }
}

/// `user:alice`; a line break in the name is escaped (the bucket index is
/// one key per line) and a name past `MAX_KEY` bytes is cut.
fn state_key(dimension: &str, key: &str) -> String {
    let mut cut = key.len().min(MAX_KEY);
    while !key.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{dimension}:{}", key[..cut].replace('\\', "\\\\").replace('\n', "\\n").replace('\r', "\\r"))
}

fn decode(value: Option<&[u8]>) -> (i64, Vec<i64>) {
    match value {
        Some(bytes) if bytes.len() >= 8 => {
            let all = decode_i64s(bytes);
            (all[0], all[1..].to_vec())
        }
        _ => (NO_ALERT, Vec::new()),
    }
}

fn encode(alerted_at: i64, times: &[i64]) -> Vec<u8> {
    let mut out = Vec::with_capacity(8 * (times.len() + 1));
    out.extend_from_slice(&alerted_at.to_le_bytes());
    out.extend(times.iter().flat_map(|t| t.to_le_bytes()));
    out
}

fn decode_i64s(bytes: &[u8]) -> Vec<i64> {
    bytes.chunks_exact(8).map(|c| i64::from_le_bytes(c.try_into().expect("8 bytes"))).collect()
}

fn encode_i64s(values: &[i64]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    #[derive(Default)]
    struct Map(BTreeMap<String, Vec<u8>>);

    impl Store for Map {
        fn get(&mut self, key: &str) -> Option<Vec<u8>> {
            self.0.get(key).cloned()
        }
        fn set(&mut self, key: &str, value: Vec<u8>) -> Result<(), String> {
            self.0.insert(key.to_owned(), value);
            Ok(())
        }
        fn remove(&mut self, key: &str) {
            self.0.remove(key);
        }
    }

    const MIN: i64 = 60_000;

    #[test]
    fn alerts_once_when_the_count_goes_over_the_threshold() {
        let w = Window { window: 5 * MIN, threshold: 3 };
        let mut s = Map::default();
        let alerts: Vec<_> = (0..6).map(|i| w.failure(&mut s, "user", "alice", i * MIN / 2).unwrap()).collect();
        assert_eq!(alerts[..3], [None, None, None]);
        assert_eq!(alerts[3], Some(Crossing { count: 4, first: 0, last: 3 * MIN / 2 }));
        assert_eq!(alerts[4..], [None, None], "one alert per window");
    }

    #[test]
    fn failures_outside_the_window_no_longer_count() {
        let w = Window { window: 5 * MIN, threshold: 2 };
        let mut s = Map::default();
        assert_eq!(w.failure(&mut s, "ip", "192.0.2.1", 0).unwrap(), None);
        assert_eq!(w.failure(&mut s, "ip", "192.0.2.1", MIN).unwrap(), None);
        // t = 5 min: the failure at 0 is exactly a window old, out.
        assert_eq!(w.failure(&mut s, "ip", "192.0.2.1", 5 * MIN).unwrap(), None);
        assert!(w.failure(&mut s, "ip", "192.0.2.1", 5 * MIN + 1).unwrap().is_some());
    }

    #[test]
    fn a_continuing_attack_alerts_again_after_a_window() {
        let w = Window { window: 5 * MIN, threshold: 1 };
        let mut s = Map::default();
        let alerted: Vec<i64> = (0..30).map(|i| i * MIN / 2).filter(|&t| w.failure(&mut s, "user", "bob", t).unwrap().is_some()).collect();
        assert_eq!(alerted, [MIN / 2, MIN / 2 + 5 * MIN, MIN / 2 + 10 * MIN]);
    }

    #[test]
    fn old_keys_are_swept_from_state() {
        let w = Window { window: MIN, threshold: 5 };
        let mut s = Map::default();
        for i in 0..100 {
            w.failure(&mut s, "ip", &format!("10.0.0.{i}"), i * 1000).unwrap();
        }
        assert!(s.0.len() > 100);
        w.failure(&mut s, "ip", "10.9.9.9", 10 * MIN).unwrap();
        let keys: Vec<&String> = s.0.keys().collect();
        assert_eq!(keys, ["b:10", "idx", "ip:10.9.9.9"], "only the active key and its index remain");
    }

    #[test]
    fn keys_with_line_breaks_stay_one_index_line() {
        assert_eq!(state_key("user", "a\nb"), "user:a\\nb");
        assert_eq!(state_key("user", &"é".repeat(200)).len(), 5 + 256);
    }
}
