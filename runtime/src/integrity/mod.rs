//! Tamper evidence for the JSON and CSV file outputs: a keyed hash chain
//! over every record, Ed25519 signatures over the chain head, and the
//! verifier behind `wasp verify`.
//!
//! # The chain
//! Every data record `i` (sequence numbers start at 1 and continue across
//! rotated files) carries `mac_i = HMAC-SHA256(k_i, enc(fields) ‖ be64(i) ‖
//! head_{i-1})`, where `enc` is a length-prefixed encoding of the record's
//! field names and values (`be32(len) name be32(len) value`, each field in
//! order: unlike a plain concatenation, `"ab","c"` and `"a","bc"` differ),
//! `head_0` is 32 zero bytes and `head_i = mac_i`. The key evolves with
//! every record: `k_1` is the key file's HMAC key and `k_{i+1} =
//! SHA-256(k_i)`.
//!
//! # Signed records
//! Besides data records a file holds signed records ([`SignedRecord`],
//! Ed25519 over `enc` of their fields):
//! - `start`, the first record of every file: the name of the file before
//!   it (empty for the first file ever) and the chain state it continues
//!   from, so files cannot be removed, swapped or reordered unnoticed;
//! - `signature`, over the chain head: every `signatureInterval`, before a
//!   rotation (`rotate`) and when the output closes (`close`);
//! - `gap`: sequence numbers the writer had to skip (records it had signed
//!   are no longer in the file after a crash), declared, not hidden;
//! - `retention`: written to the live file when retention deletes an
//!   archive, holding that archive's final chain state, so that the oldest
//!   remaining file still verifies;
//! - `dropped`: journal events the handler never received because the
//!   journal's `drop-oldest` policy dropped them (`journalFrom`,
//!   `journalTo`, `count`). Unlike the others it is also a link of the
//!   chain: its three fields are sealed as record `i` (the same MAC
//!   construction as a data record), and the signature covers that new
//!   state, so removing the declaration breaks the chain.
//!
//! # Invariants
//! - a data record's sequence number is one more than the previous one, or
//!   a signed `gap` record stands between them;
//! - every signed record's `seq`/`head` equal the chain state where it is
//!   (for `dropped`, the state after its own link);
//! - every file starts with a `start` record; an archive ends with a
//!   signature over its final state.
//!
//! Keys live in a key file outside the log directory ([`IntegrityKeys`]);
//! verification needs the same file.

mod chain;
pub mod forgerock;
#[cfg(test)]
mod forgerock_tests;
pub mod jceks;
mod keys;
pub mod merkle;
mod record;
#[cfg(test)]
mod tests;
pub mod verify;

pub use chain::{Chain, ChainState, encode_fields, hmac_sha256};
pub use keys::{IntegrityKeys, PublicKey};
pub(crate) use record::members;
pub use record::{RecordKind, SignedRecord};

/// What can go wrong with keys and signed records.
#[derive(Debug, thiserror::Error)]
pub enum IntegrityError {
    /// The key file cannot be read or written.
    #[error("key file {path}: {message}")]
    KeyFile {
        /// The key file.
        path: std::path::PathBuf,
        /// What was wrong.
        message: String,
    },
    /// A signed record that does not parse.
    #[error("not a signed record: {0}")]
    Record(String),
}

/// The fields a `dropped` declaration seals into the chain and signs:
/// journal events `from..=to` never reached the handler (`drop-oldest`).
pub fn dropped_fields(from: u64, to: u64) -> [(&'static str, String); 3] {
    [("journalFrom", from.to_string()), ("journalTo", to.to_string()), ("count", (to - from + 1).to_string())]
}
