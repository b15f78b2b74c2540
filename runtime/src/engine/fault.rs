//! The kinds of fault a guest call (or a handler around it) can end in:
//! named in summaries, dead letters, logs and `/metrics`, and told apart by
//! the circuit breaker. Defined apart from the call machinery so that every
//! host interface can name the fault its budget causes.

use serde::Serialize;

/// What went wrong with an event. Every kind but `guest-error` is a fault
/// of the instance (it is replaced); all of them dead-letter the event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, serde::Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "kebab-case")]
pub enum FaultKind {
    /// The call ran out of fuel.
    Fuel,
    /// The call passed its wall-clock deadline.
    Deadline,
    /// The instance asked for more memory than its budget.
    Memory,
    /// The guest trapped (`trap_code` names the trap).
    Trap,
    /// The guest panicked (the message is its captured stderr).
    Panic,
    /// The guest returned `err` for the event (the instance is kept).
    GuestError,
    /// The guest emitted more bytes than its output budget.
    OutputLimit,
    /// The guest logged more bytes than its log budget.
    LogLimit,
    /// The guest stored more state than its state budget.
    StateLimit,
    /// The handler could not start: `init` failed or trapped, or its
    /// outputs could not be opened.
    Init,
    /// The handler's output could not take its records.
    Output,
    /// The handler was quarantined by its circuit breaker when the service
    /// shut down; the event was not attempted.
    Quarantined,
    /// A filter before the handler faulted on the event, and that filter
    /// fails closed.
    Filter,
}

impl FaultKind {
    /// Every kind, in order.
    pub const ALL: [FaultKind; 13] = [
        FaultKind::Fuel,
        FaultKind::Deadline,
        FaultKind::Memory,
        FaultKind::Trap,
        FaultKind::Panic,
        FaultKind::GuestError,
        FaultKind::OutputLimit,
        FaultKind::LogLimit,
        FaultKind::StateLimit,
        FaultKind::Init,
        FaultKind::Output,
        FaultKind::Quarantined,
        FaultKind::Filter,
    ];

    /// The kebab-case name used in summaries, dead letters and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            FaultKind::Fuel => "fuel",
            FaultKind::Deadline => "deadline",
            FaultKind::Memory => "memory",
            FaultKind::Trap => "trap",
            FaultKind::Panic => "panic",
            FaultKind::GuestError => "guest-error",
            FaultKind::OutputLimit => "output-limit",
            FaultKind::LogLimit => "log-limit",
            FaultKind::StateLimit => "state-limit",
            FaultKind::Init => "init",
            FaultKind::Output => "output",
            FaultKind::Quarantined => "quarantined",
            FaultKind::Filter => "filter",
        }
    }

    /// Whether this kind counts toward the circuit breaker: faults of the
    /// handler, not an event the guest chose to refuse.
    pub fn trips_breaker(self) -> bool {
        !matches!(self, FaultKind::GuestError | FaultKind::Quarantined | FaultKind::Filter)
    }
}
