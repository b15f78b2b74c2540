//! The circuit breaker of one handler.
//!
//! Closed: events are handled; each faulted event (not a guest error) adds
//! one to a count that any success resets. At `failures` consecutive faults
//! the breaker opens: the handler is quarantined for `backoff`, its events
//! waiting in the journal. Then it is half-open: one event is tried. Success
//! closes the breaker (and resets the backoff); a fault opens it again for
//! twice as long, up to `max_backoff`.

use std::time::{Duration, Instant};

/// The breaker's position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Position {
    /// Handling events; `consecutive` faults so far.
    Closed { consecutive: u32 },
    /// Quarantined until `until`.
    Open { until: Instant },
    /// The next event is a probe.
    HalfOpen,
}

/// One handler's circuit breaker.
#[derive(Debug)]
pub struct Breaker {
    config: BreakerConfig,
    position: Position,
    backoff: Duration,
}

/// What a recorded result changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    /// Nothing visible.
    None,
    /// The breaker opened (the handler is now quarantined).
    Opened,
    /// A probe succeeded: the breaker closed.
    Closed,
}

impl Breaker {
    /// A closed breaker.
    pub fn new(config: BreakerConfig) -> Self {
        let backoff = config.backoff;
        Breaker { config, position: Position::Closed { consecutive: 0 }, backoff }
    }

    /// Where it stands.
    pub fn position(&self) -> Position {
        self.position
    }

    /// Whether events must wait (open, or open and due for a probe).
    pub fn is_open(&self) -> bool {
        !matches!(self.position, Position::Closed { .. })
    }

    /// Called when the wait is over: the next event is a probe.
    pub fn half_open(&mut self) {
        self.position = Position::HalfOpen;
    }

    /// Records a delivered event (or a guest error: the guest ran fine).
    pub fn success(&mut self) -> Transition {
        let was_probe = self.position == Position::HalfOpen;
        self.position = Position::Closed { consecutive: 0 };
        self.backoff = self.config.backoff;
        if was_probe { Transition::Closed } else { Transition::None }
    }

    /// Records a faulted event.
    pub fn fault(&mut self) -> Transition {
        match self.position {
            _ if self.config.failures == 0 => Transition::None,
            Position::Closed { consecutive } if consecutive + 1 < self.config.failures => {
                self.position = Position::Closed { consecutive: consecutive + 1 };
                Transition::None
            }
            Position::Closed { .. } => {
                self.position = Position::Open { until: Instant::now() + self.backoff };
                Transition::Opened
            }
            Position::HalfOpen | Position::Open { .. } => {
                self.backoff = (self.backoff * 2).min(self.config.max_backoff);
                self.position = Position::Open { until: Instant::now() + self.backoff };
                Transition::Opened
            }
        }
    }

    /// Closes the breaker and forgets past faults (a new version of the
    /// handler was swapped in).
    pub fn reset(&mut self) {
        self.position = Position::Closed { consecutive: 0 };
        self.backoff = self.config.backoff;
    }

    /// The current backoff.
    pub fn backoff(&self) -> Duration {
        self.backoff
    }
}

/// When a handler is quarantined (see `circuitBreaker` in the docs).
#[derive(Debug, Clone, PartialEq)]
pub struct BreakerConfig {
    /// Consecutive faulted events that open the breaker (0: never).
    pub failures: u32,
    /// First wait before a probe.
    pub backoff: Duration,
    /// Longest wait between probes.
    pub max_backoff: Duration,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn breaker(failures: u32) -> Breaker {
        Breaker::new(BreakerConfig { failures, backoff: Duration::from_secs(1), max_backoff: Duration::from_secs(3) })
    }

    #[test]
    fn opens_after_n_consecutive_faults_and_a_success_resets_the_count() {
        let mut b = breaker(3);
        assert_eq!(b.fault(), Transition::None);
        assert_eq!(b.fault(), Transition::None);
        b.success();
        assert_eq!(b.fault(), Transition::None);
        assert_eq!(b.fault(), Transition::None);
        assert!(!b.is_open());
        assert_eq!(b.fault(), Transition::Opened);
        assert!(matches!(b.position(), Position::Open { .. }));
    }

    #[test]
    fn a_failed_probe_doubles_the_backoff_up_to_the_maximum_and_a_good_one_closes() {
        let mut b = breaker(1);
        assert_eq!(b.fault(), Transition::Opened);
        assert_eq!(b.backoff(), Duration::from_secs(1));
        b.half_open();
        assert_eq!(b.fault(), Transition::Opened);
        assert_eq!(b.backoff(), Duration::from_secs(2));
        b.half_open();
        b.fault();
        assert_eq!(b.backoff(), Duration::from_secs(3), "capped at maxBackoff");
        b.half_open();
        assert_eq!(b.success(), Transition::Closed);
        assert_eq!(b.backoff(), Duration::from_secs(1));
        assert!(!b.is_open());
    }

    #[test]
    fn zero_failures_disables_the_breaker() {
        let mut b = breaker(0);
        for _ in 0..100 {
            assert_eq!(b.fault(), Transition::None);
        }
        assert!(!b.is_open());
    }
}
