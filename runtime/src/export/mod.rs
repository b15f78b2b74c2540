//! Exports with proofs (`wasp export`, `wasp verify-export`): the events
//! of a query, as the tamper-evident log stores them, with a signed
//! manifest and an RFC 6962 inclusion proof for each (see
//! `docs/exports.md`).
//!
//! # The file
//! NDJSON (a JSON handler): one exported record per line, byte for byte
//! the line of the log file it came from (its `_integrity` member
//! included), in storage order; then one last line
//! `{"_export":{"manifest":{…},"signature":"…","proofs":[…]}}`.
//!
//! CSV (a CSV handler with a WASP key file): the log's header record, then
//! the exported rows byte for byte (their `SEQ`, `HMAC` and empty
//! `SIGNATURE` cells included), each with the log's end of line; then the
//! same trailer line, always after a `\n` and ending with one. WASP quotes
//! every non-empty cell, so a row starts with the quote character, the
//! delimiter or the end of line, never with `{` (a format whose quote or
//! delimiter is `{` is refused): the trailer cannot be taken for a row.
//! The manifest's `csv` member names the format and the header, so both
//! are signed.
//!
//! # What is signed and proven
//! - For every log file of the topic, the exporter (holding the key file)
//!   checks the file's keyed hash chain as `wasp verify` does, then builds
//!   a Merkle tree over *all* its data records (leaf data: the record's
//!   line without its `\n`). Its checkpoint (file name, leaf count, root,
//!   the chain state at the file's end, and the last record the log itself
//!   signed there) goes into the manifest.
//! - The manifest (handler, topic, query, time, count, the root of a tree
//!   over the exported records in export order, the checkpoints) is signed
//!   with the handler's Ed25519 key over `wasp-export-manifest/1\n` ‖ its
//!   exact JSON text.
//! - Each proof names a checkpoint, the leaf index and the leaf hash, and
//!   carries the audit path to that checkpoint's root.
//!
//! # Invariants the verifier checks
//! - the manifest signature, and each checkpoint's log signature (made when
//!   the log was written);
//! - every proof reaches its checkpoint's root at its index; proofs are in
//!   strictly increasing (checkpoint, leaf) order (no leaf twice);
//! - record `j` hashes to proof `j`'s leaf; the records make the signed
//!   export root; the count matches.

mod build;
mod verify;

pub use build::{ExportSummary, export, handler_format};
pub use verify::{VerifyReport, verify_export};

use serde::{Deserialize, Serialize};

/// The manifest's `format`, and the prefix of the message its signature
/// covers.
pub const FORMAT: &str = "wasp-export/1";
/// The signature covers this, then the manifest's JSON text.
pub const SIGNING_DOMAIN: &str = "wasp-export-manifest/1\n";
/// The member of the export's last line.
pub const EXPORT_MEMBER: &str = "_export";

/// How the exported records are written: the query handler's own format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    /// One JSON record per line (a JSON handler's log).
    Ndjson,
    /// The CSV rows with a header (a CSV handler's log).
    Csv,
}

impl ExportFormat {
    /// `ndjson` or `csv`.
    pub fn name(self) -> &'static str {
        match self {
            ExportFormat::Ndjson => "ndjson",
            ExportFormat::Csv => "csv",
        }
    }

    /// The HTTP media type of such a file.
    pub fn content_type(self) -> &'static str {
        match self {
            ExportFormat::Ndjson => "application/x-ndjson",
            ExportFormat::Csv => "text/csv; charset=utf-8",
        }
    }
}

impl std::fmt::Display for ExportFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for ExportFormat {
    type Err = String;
    fn from_str(text: &str) -> Result<ExportFormat, String> {
        match text.to_ascii_lowercase().as_str() {
            "ndjson" | "json" => Ok(ExportFormat::Ndjson),
            "csv" => Ok(ExportFormat::Csv),
            _ => Err(format!("`{text}` is not an export format (expected ndjson or csv)")),
        }
    }
}

/// What the signature covers.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Manifest {
    /// [`FORMAT`].
    pub format: String,
    /// The handler whose log was read (`name` or `tenant/name`).
    pub handler: String,
    /// The tenant, if any.
    pub tenant: Option<String>,
    /// The topic.
    pub topic: String,
    /// The `_queryFilter` the records match.
    pub query: String,
    /// When the export was made (RFC 3339 UTC).
    pub time: String,
    /// How many records were exported.
    pub count: u64,
    /// The root (hex) of the tree over the exported records, in order.
    pub root: String,
    /// One checkpoint per log file read, in chain order.
    pub checkpoints: Vec<Checkpoint>,
    /// A CSV export's layout (absent: NDJSON).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub csv: Option<CsvLayout>,
}

/// How a CSV export's records are written, as the log wrote them.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CsvLayout {
    /// The header record, without its end of line (the first record of
    /// the file).
    pub header: String,
    /// The quote character.
    pub quote: char,
    /// The delimiter.
    pub delimiter: char,
    /// What ends every record.
    pub end_of_line: String,
}

impl CsvLayout {
    /// The format to decode the records with.
    pub fn format(&self) -> crate::outputs::csv::codec::CsvFormat {
        crate::outputs::csv::codec::CsvFormat {
            quote: self.quote,
            delimiter: self.delimiter,
            end_of_line: self.end_of_line.clone(),
            neutralise_formulas: false,
        }
    }
}

/// A log file's Merkle tree over all its data records, bound to its chain.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Checkpoint {
    /// The log file's name.
    pub file: String,
    /// How many data records it holds (the tree's size).
    pub leaves: u64,
    /// The tree's root (hex).
    pub root: String,
    /// The chain's sequence number after the file's last record.
    pub last_seq: u64,
    /// The chain head after it (hex).
    pub head: String,
    /// The last signed record the log wrote in this file (the JSON text
    /// of the log's `_signature` member, member order kept), if any.
    pub log_signature: Option<String>,
}

/// The proof of one exported record.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Proof {
    /// Index into the manifest's `checkpoints`.
    pub file: usize,
    /// The leaf index in that file's tree (0-based).
    pub leaf: u64,
    /// The leaf hash (hex) of the record it proves.
    pub hash: String,
    /// The audit path (hex), bottom up.
    pub path: Vec<String>,
}

/// What can go wrong making or reading an export.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// The query handler cannot be found (no `handlerForQueries`, unknown
    /// tenant or topic).
    #[error(transparent)]
    NoHandler(#[from] crate::handler_query::QueryFailure),
    /// The handler cannot be exported from (not a tamper-evident JSON or
    /// CSV handler with a WASP key file, another format asked for, …).
    #[error("{0}")]
    Handler(String),
    /// Another format than the handler's own was asked for.
    #[error(
        "handler `{handler}` is a {} handler: its records export as {own}, not {asked} (records are exported as the log stores them)",
        if *.own == ExportFormat::Csv { "CSV" } else { "JSON" }
    )]
    FormatMismatch {
        /// The query handler.
        handler: String,
        /// Its format.
        own: ExportFormat,
        /// The format asked for.
        asked: ExportFormat,
    },
    /// A bad `_queryFilter`.
    #[error(transparent)]
    Query(#[from] crate::query::QueryError),
    /// The log does not verify: nothing is exported from a broken chain.
    #[error("{file} line {line}: {message} (run `wasp verify`; nothing was exported)")]
    Chain {
        /// The log file.
        file: String,
        /// Its line (0: the file as a whole).
        line: usize,
        /// Why.
        message: String,
    },
    /// Reading the log or writing the export failed.
    #[error("{what}: {source}")]
    Io {
        /// The file.
        what: String,
        /// The error.
        source: std::io::Error,
    },
    /// The export file is not one (no manifest line, bad JSON…).
    #[error("not a WASP export: {0}")]
    Format(String),
}

#[cfg(test)]
mod tests;
