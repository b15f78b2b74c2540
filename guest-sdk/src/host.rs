//! The host capabilities a handler calls: emit, log, state.

use crate::__private::{bindings::wasp::handler as wit, current_sequence};

/// Stages `data` as one record for the output named `output`, on behalf of
/// the event being handled.
///
/// The record is written only if [`Handler::handle`](crate::Handler::handle)
/// returns `Ok` for this event. `Err` names the problem: the output is not
/// declared in the handler's configuration, the record does not fit the
/// output (line-oriented outputs take one line per record), or `emit` was
/// called outside `handle`.
pub fn emit(output: &str, data: impl AsRef<[u8]>) -> Result<(), String> {
    let Some(sequence) = current_sequence() else {
        return Err(format!("emit to `{output}` outside of `handle`: records belong to an event"));
    };
    wit::output::emit(sequence, output, data.as_ref())
}

/// Writes to the host log (within the handler's log budget).
pub mod log {
    use super::wit::{logging, types::Level};

    /// Logs at trace level.
    pub fn trace(message: &str) {
        logging::log(Level::Trace, message);
    }
    /// Logs at debug level.
    pub fn debug(message: &str) {
        logging::log(Level::Debug, message);
    }
    /// Logs at info level.
    pub fn info(message: &str) {
        logging::log(Level::Info, message);
    }
    /// Logs at warn level.
    pub fn warn(message: &str) {
        logging::log(Level::Warn, message);
    }
    /// Logs at error level.
    pub fn error(message: &str) {
        logging::log(Level::Error, message);
    }
}

/// Small per-handler key/value state that survives instance recycling.
pub mod state {
    use super::wit::state;

    /// The value stored under `key`, if any.
    pub fn get(key: &str) -> Option<Vec<u8>> {
        state::get(key)
    }

    /// Stores `value` under `key`; `Err` when the handler's state budget
    /// would be exceeded.
    pub fn set(key: &str, value: impl AsRef<[u8]>) -> Result<(), String> {
        state::set(key, value.as_ref())
    }

    /// Removes `key` (a missing key is not an error).
    pub fn remove(key: &str) {
        state::remove(key);
    }

    /// The `u64` stored under `key` (0 when absent or not 8 bytes).
    pub fn get_u64(key: &str) -> u64 {
        get(key).and_then(|v| <[u8; 8]>::try_from(v.as_slice()).ok()).map_or(0, u64::from_le_bytes)
    }

    /// Stores a `u64` under `key`.
    pub fn set_u64(key: &str, value: u64) -> Result<(), String> {
        set(key, value.to_le_bytes())
    }
}
