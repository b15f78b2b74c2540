//! Host interface `wasp:handler/logging`: guest log messages into the host's
//! `tracing` log, bounded per event: a call may log the per-event budget
//! times its batch size; going over traps the call (`log-limit`).

use wasmtime::component::{HasSelf, Linker};

use super::bindings::wasp::handler::{logging, types::Level};
use super::fault::FaultKind;
use super::host::HostInterface;

/// Per-instance logging state.
#[derive(Debug)]
pub struct LoggingState {
    /// The handler the messages belong to.
    pub handler: String,
    /// Bytes an event may log.
    pub budget_per_event: usize,
    /// Bytes the current call may log (per-event budget × batch size).
    budget: usize,
    /// Bytes logged in the current call.
    used: usize,
    /// Set when the guest went over its budget: the call traps.
    over_budget: bool,
}

impl LoggingState {
    pub fn new(handler: &str, budget_per_event: usize) -> Self {
        LoggingState { handler: handler.to_owned(), budget_per_event, budget: budget_per_event, used: 0, over_budget: false }
    }
}

impl HostInterface for LoggingState {
    fn begin(&mut self, _batch: &[u64], events: usize) {
        self.budget = self.budget_per_event.saturating_mul(events.max(1));
        self.used = 0;
        self.over_budget = false;
    }

    fn over_budget(&self) -> Option<FaultKind> {
        self.over_budget.then_some(FaultKind::LogLimit)
    }

    /// What was logged stays logged, whatever the call's fate.
    fn commit(&mut self) {}

    fn discard(&mut self) {}
}

impl logging::Host for LoggingState {
    fn log(&mut self, level: Level, message: String) -> wasmtime::Result<()> {
        if self.used + message.len() > self.budget {
            self.over_budget = true;
            return Err(wasmtime::Error::msg(format!(
                "log budget exceeded: {} bytes logged in this call, limit {} ({} per event)",
                self.used + message.len(),
                self.budget,
                self.budget_per_event
            )));
        }
        self.used += message.len();
        let handler = self.handler.as_str();
        match level {
            Level::Trace => tracing::trace!(handler, "{message}"),
            Level::Debug => tracing::debug!(handler, "{message}"),
            Level::Info => tracing::info!(handler, "{message}"),
            Level::Warn => tracing::warn!(handler, "{message}"),
            Level::Error => tracing::error!(handler, "{message}"),
        }
        Ok(())
    }
}

/// Adds `wasp:handler/logging` to the linker; `get` finds this interface's
/// state in the store's data.
pub fn add_to_linker<T: 'static>(linker: &mut Linker<T>, get: fn(&mut T) -> &mut LoggingState) -> wasmtime::Result<()> {
    logging::add_to_linker::<T, HasSelf<LoggingState>>(linker, get)
}
