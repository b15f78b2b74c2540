//! Host interface `wasp:handler/logging`: guest log messages into the host's
//! `tracing` log, bounded per call.

use wasmtime::component::{HasSelf, Linker};

use super::bindings::wasp::handler::{logging, types::Level};
use super::store::StoreData;

/// Per-instance logging state.
#[derive(Debug)]
pub struct LoggingState {
    /// The handler the messages belong to.
    pub handler: String,
    /// Bytes a call may log; the rest is dropped and counted.
    pub budget_per_call: usize,
    /// Bytes logged in the current call.
    pub used: usize,
    /// Messages dropped over the budget (all time).
    pub dropped: u64,
}

impl LoggingState {
    pub fn new(handler: &str, budget_per_call: usize) -> Self {
        LoggingState { handler: handler.to_owned(), budget_per_call, used: 0, dropped: 0 }
    }
}

impl logging::Host for LoggingState {
    fn log(&mut self, level: Level, message: String) {
        if self.used + message.len() > self.budget_per_call {
            self.dropped += 1;
            return;
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
    }
}

/// Adds `wasp:handler/logging` to the linker.
pub fn add_to_linker(linker: &mut Linker<StoreData>) -> wasmtime::Result<()> {
    logging::add_to_linker::<StoreData, HasSelf<LoggingState>>(linker, |data| &mut data.logging)
}
