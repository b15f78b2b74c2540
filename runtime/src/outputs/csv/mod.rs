//! CSV for audit events, after ForgeRock's `CsvAuditEventHandler`: the
//! codec ([`codec`]) that turns events into CSV records and back. It does no
//! file I/O; the sink that appends records to a file builds on it.
//!
//! Invariants: every record [`CsvFormat::encode`] writes is decoded by
//! [`CsvFormat::decode`] into the same cells (formula neutralisation aside,
//! which [`row_to_event`] undoes); a record is complete only when it ends
//! with the format's end of line, so a torn write is always detectable.
//! See [`codec`] for what was confirmed of ForgeRock's behaviour and where
//! WASP differs.

pub mod codec;
pub mod forgerock_sink;
pub mod forgerock_write;
#[cfg(test)]
mod forgerock_write_tests;
#[cfg(test)]
mod tests;

pub use codec::{CsvError, CsvFormat, DecodedRecord, columns_for_schema, event_cells, row_to_event};
