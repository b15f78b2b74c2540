//! Write WASP audit handlers and filters in Rust.
//!
//! A handler is a type that implements [`Handler`]; one call to
//! [`export_handler!`] turns the crate into a WebAssembly component
//! implementing the `wasp:handler/packed-handler@0.1.0` world (the
//! `handler` world plus `handle-packed`, which takes a batch in one
//! buffer). The host calls [`Handler::init`] once per instance with the
//! handler's `config` object and then [`Handler::handle`] for every event
//! of the handler's topics, in journal order (the batch exports the host
//! actually calls are generated).
//!
//! Inside `handle` the host capabilities are plain functions:
//! [`emit`] stages a record for one of the handler's declared outputs (it is
//! written only if `handle` returns `Ok`), [`log`] writes to the host log, and
//! [`state`] keeps small values that survive instance recycling.
//!
//! ```no_run
//! use wasp_guest::{Config, Event, Handler, emit, export_handler};
//!
//! /// Writes `user did what` lines to the `audit.log` output.
//! struct WhoDidWhat {
//!     prefix: String,
//! }
//!
//! impl Handler for WhoDidWhat {
//!     fn init(config: Config) -> Result<Self, String> {
//!         // `{"prefix": "…"}` from the handler's `config` in the WASP configuration.
//!         let prefix = config.get("/prefix").and_then(|v| v.as_str()).unwrap_or("").to_owned();
//!         Ok(WhoDidWhat { prefix })
//!     }
//!
//!     fn handle(&mut self, event: &Event) -> Result<(), String> {
//!         let user = event.user_id().unwrap_or("anonymous");
//!         let what = event.event_name().unwrap_or("?");
//!         let line = serde_json::json!({ "line": format!("{}{user} did {what}", self.prefix) });
//!         emit("audit.log", line.to_string())
//!     }
//! }
//!
//! export_handler!(WhoDidWhat);
//! # fn main() {}
//! ```
//!
//! Build with `cargo build --target wasm32-wasip2 --release`; the `.wasm` in
//! `target/wasm32-wasip2/release/` is the component to deploy. A panic inside
//! `handle` is a fault the host isolates (the event counts as failed, the
//! instance is replaced); return `Err` for failures you expect.
#![deny(missing_docs)]

// The generated bindings name the SDK by its path, also from inside it.
extern crate self as wasp_guest;

#[doc(hidden)]
pub mod __private;
mod config;
mod event;
mod host;
pub mod json;
pub mod time;

pub use config::Config;
pub use event::Event;
pub use host::{emit, log, state};
pub use serde_json;

/// Exports a [`Handler`] type as the component's `handler` world.
///
/// Call it once, at the crate root of a `cdylib` crate:
/// `wasp_guest::export_handler!(MyHandler);`. The type must implement
/// [`Handler`]; anything else is a compile error pointing at the argument.
pub use wasp_guest_macros::export_handler;

/// Exports a [`Filter`] type as the component's `filter` world.
///
/// Call it once, at the crate root of a `cdylib` crate:
/// `wasp_guest::export_filter!(MyFilter);`. The type must implement
/// [`Filter`].
pub use wasp_guest_macros::export_filter;

/// An audit handler: receives the events of its topics, one at a time, in
/// journal order.
pub trait Handler: Sized + 'static {
    /// Builds the handler from its `config` object (called once per instance,
    /// before any event). An `Err` disables the handler and is shown to the
    /// operator.
    fn init(config: Config) -> Result<Self, String>;

    /// Handles one event. `Ok` commits the records [`emit`]ted for it; `Err`
    /// counts the event as failed with that message and discards them.
    fn handle(&mut self, event: &Event) -> Result<(), String>;
}

/// What a [`Filter`] decides for one event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Pass the event on unchanged.
    Keep,
    /// Drop the event (the host counts it).
    Drop,
    /// Pass on this JSON document instead (it must stay a JSON object).
    Replace(String),
}

/// An audit filter: sees every event of its topics before the handlers do.
pub trait Filter: Sized + 'static {
    /// Builds the filter from its `config` object (once per instance).
    fn init(config: Config) -> Result<Self, String>;

    /// Decides what happens to one event.
    fn filter(&mut self, event: &Event) -> Verdict;
}

#[cfg(test)]
mod tests {
    /// The SDK and its macros carry their own copies of the WIT (so that
    /// they can be published); in the repository they must be the host's.
    #[test]
    fn the_sdk_carries_the_repositorys_wit() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let Ok(host) = std::fs::read_to_string(root.join("../wit/wasp.wit")) else {
            return;
        };
        for copy in ["world/wasp.wit", "macros/world/wasp.wit"] {
            let text = std::fs::read_to_string(root.join(copy)).unwrap();
            assert!(text == host, "guest-sdk/{copy} differs from wit/wasp.wit: copy it over (cp wit/wasp.wit guest-sdk/{copy})");
        }
    }
}
