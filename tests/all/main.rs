//! WASP integration tests: one binary, one module per area.

mod cache;
mod check;
mod faults;
mod publish;
mod sample;
