//! Per-tenant rate quotas: a token bucket refilled continuously at `rate`
//! per second, holding at most one second's worth.
//!
//! Events use it strictly (`try_take`: an event over the quota is refused at
//! publish); fuel is charged after the fact (`charge`: a call's fuel is known
//! only when it returns), and the tenant's next call waits until the bucket
//! is out of debt (`wait_for_credit`).

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A token bucket.
#[derive(Debug)]
pub struct TokenBucket {
    rate: f64,
    state: Mutex<(f64, Instant)>,
}

impl TokenBucket {
    /// A full bucket refilled at `per_second`.
    pub fn new(per_second: u64) -> Self {
        TokenBucket { rate: per_second as f64, state: Mutex::new((per_second as f64, Instant::now())) }
    }

    fn refill(&self, state: &mut (f64, Instant)) {
        let now = Instant::now();
        state.0 = (state.0 + now.duration_since(state.1).as_secs_f64() * self.rate).min(self.rate);
        state.1 = now;
    }

    /// Takes `n` tokens if the bucket holds them.
    pub fn try_take(&self, n: u64) -> bool {
        let mut state = self.state.lock().unwrap();
        self.refill(&mut state);
        if state.0 >= n as f64 {
            state.0 -= n as f64;
            true
        } else {
            false
        }
    }

    /// Takes `n` tokens, going into debt if needed.
    pub fn charge(&self, n: u64) {
        let mut state = self.state.lock().unwrap();
        self.refill(&mut state);
        state.0 -= n as f64;
    }

    /// Sleeps until the bucket is out of debt; returns how long it slept.
    pub fn wait_for_credit(&self) -> Duration {
        let wait = {
            let mut state = self.state.lock().unwrap();
            self.refill(&mut state);
            if state.0 >= 0.0 { Duration::ZERO } else { Duration::from_secs_f64(-state.0 / self.rate) }
        };
        if !wait.is_zero() {
            std::thread::sleep(wait);
        }
        wait
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_bucket_allows_one_seconds_worth_then_refuses() {
        let bucket = TokenBucket::new(10);
        assert!((0..10).all(|_| bucket.try_take(1)));
        assert!(!bucket.try_take(1));
    }

    #[test]
    fn debt_is_waited_out_at_the_refill_rate() {
        let bucket = TokenBucket::new(1000);
        bucket.charge(1050); // 50 tokens of debt: 50 ms at 1000/s
        let waited = bucket.wait_for_credit();
        assert!(waited >= Duration::from_millis(40) && waited <= Duration::from_millis(60), "{waited:?}");
        assert_eq!(bucket.wait_for_credit(), Duration::ZERO);
    }
}
