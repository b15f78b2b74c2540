//! WASP, the WebAssembly Audit Stream Processor.
//!
//! Applications publish audit events (who did what, when, from where) by
//! topic; WASP appends them to a journal and delivers them, in order and in
//! batches, to handlers: WebAssembly components written in any language
//! against the `wasp:handler` WIT world, each running sandboxed under fuel,
//! deadline and memory budgets. A handler that traps, loops or errs never
//! fails or slows the publisher: its faulty events are dead-lettered (see
//! [`dead_letter`]) and a fresh instance takes over; a handler that keeps
//! faulting is quarantined by its circuit breaker. Tenants get their own
//! handlers, budgets, quotas and output root.
//!
//! # The API
//!
//! Start with [`AuditService`]: build it from a [`Config`] (the format is in
//! [`config`]), [`publish`](AuditService::publish) events and get a
//! [`Receipt`] or a [`PublishError`], read what the handlers did from a
//! [`Summary`], deploy handler versions ([`deploy`]), reload with a
//! [`Watcher`] and read dead letters ([`dead_letter`]). An application can
//! also serve the HTTP sidecar's routes itself ([`sidecar::app`]) or run as
//! a fleet edge ([`fleet::edge::Forwarder`]). That, and the types those
//! items name, is the library's API.
//!
//! The other modules are the runtime's internals. They are public only so
//! that the `wasp` binary, the benchmarks and the fuzz targets can reach
//! them; they are hidden from the documentation and may change at any time.

#![deny(missing_docs)]

pub mod config;
pub mod dead_letter;
pub mod deploy;
pub mod fleet;
mod replay;
mod service;
pub mod sidecar;

#[doc(hidden)]
pub mod builtin;
#[doc(hidden)]
pub mod delivery;
#[doc(hidden)]
pub mod engine;
#[doc(hidden)]
pub mod event;
#[doc(hidden)]
pub mod export;
#[cfg(any(test, feature = "fuzzing"))]
#[doc(hidden)]
pub mod fuzzing;
#[doc(hidden)]
pub mod handler_query;
#[doc(hidden)]
pub mod integrity;
#[doc(hidden)]
pub mod journal;
#[cfg(test)]
mod layers_tests;
#[doc(hidden)]
pub mod outputs;
#[doc(hidden)]
pub mod query;
#[doc(hidden)]
pub mod quota;
#[doc(hidden)]
pub mod schema;
#[doc(hidden)]
pub mod units;

pub use config::Config;
pub use delivery::candidate::CandidateReport;
pub use delivery::{HandlerState, HandlerSummary, OutputSummary};
pub use event::{IntoEvent, PublishError};
pub use replay::{ReplayError, ReplayReport, replay};
pub use service::{
    ActionError, AuditService, Backlog, BuildError, HandlerLag, Receipt, RefusedChange, ReloadReport, StreamBacklog, Summary,
    TenantSummary, Watcher,
};
