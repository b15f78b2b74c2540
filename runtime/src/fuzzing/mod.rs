//! Entry points of the fuzz targets in `fuzz/` (not a public API: built
//! only with the `fuzzing` feature and for this crate's own tests).
//!
//! Each function takes the fuzzer's bytes, drives one parser or recovery
//! path with them, and panics only when an invariant breaks; any other
//! panic is a bug in the code under test. The unit tests (`tests.rs`) run
//! every file of `fuzz/corpus/<target>/` (the seeds) and
//! `fuzz/regressions/<target>/` (every crash a fuzzer ever found) through
//! the same functions, so a fixed crash stays fixed in `cargo test`.
//!
//! | target | what | invariants beyond "no panic" |
//! |---|---|---|
//! | [`ingest`] | `POST /audit/{topic}` bodies (one JSON event, NDJSON batches) through the sidecar's router | never a 5xx; the answer is JSON; a batch answers one result per non-blank line |
//! | [`config`] | `Config::from_json` | — |
//! | [`query`] | `_queryFilter`, `_pageSize`, `_pagedResultsCookie`, `_sortKeys` | the canonical filter and sort keys parse back to themselves; a page's cookie is accepted by the same query |
//! | [`csv`] | the CSV codec | decoded ranges tile the text; encode → decode gives the cells back |
//! | [`segment`] | a journal segment file of arbitrary bytes | recovery returns exactly the CRC-valid prefix (never an invented event), cuts only the tail after it, is idempotent, and leaves a log that appends |
//! | [`log_recovery`] | a log file's torn tail when a file output opens it | a file ending with a complete line is never cut |
//! | [`verify`] | `wasp verify` on an arbitrary live file (JSON lines or CSV) | — |

mod targets;
#[cfg(test)]
mod tests;

pub use targets::{TARGETS, config, csv, ingest, log_recovery, query, segment, verify};
