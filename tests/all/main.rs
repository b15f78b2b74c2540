//! WASP integration tests: one binary, one module per area.

mod actions;
mod breaker;
mod cache;
mod check;
mod client;
mod crash;
mod corpus;
mod dlq;
mod ezpublish;
mod failed_logins;
mod faults;
mod file_outputs;
mod filters;
mod forgerock;
mod journal;
mod pii;
mod publish;
mod reload;
mod sample;
mod sidecar;
mod seeds;
mod severity;
mod shutdown;
mod tamper;
mod tenants;
mod validation;
