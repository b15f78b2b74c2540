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
//! Start with [`AuditService`]; the configuration format is in [`config`].

pub mod builtin;
pub mod cli;
pub mod config;
pub mod dead_letter;
pub mod delivery;
pub mod deploy;
pub mod engine;
pub mod event;
pub mod export;
pub mod fleet;
#[cfg(any(test, feature = "fuzzing"))]
#[doc(hidden)]
pub mod fuzzing;
pub mod integrity;
pub mod journal;
pub mod outputs;
pub mod query;
pub mod quota;
mod replay;
pub mod schema;
mod service;
pub mod sidecar;

pub use config::Config;
pub use delivery::{HandlerState, HandlerSummary, OutputSummary};
pub use event::{IntoEvent, PublishError};
pub use replay::{ReplayError, ReplayReport, replay};
pub use service::{
    ActionError, AuditService, Backlog, BuildError, HandlerLag, Receipt, RefusedChange, ReloadReport, StreamBacklog, Summary,
    TenantSummary, Watcher,
};
