//! `wasp verify-export`: checks an export (NDJSON or CSV, as its signed
//! manifest says) against the handler's public key alone, and says which
//! record or proof fails and why.

use std::collections::HashMap;

use serde::Deserialize;
use serde_json::value::RawValue;

use super::{EXPORT_MEMBER, ExportError, FORMAT, Manifest, Proof, SIGNING_DOMAIN};
use crate::integrity::merkle::{MerkleTree, leaf_hash, verify_inclusion};
use crate::integrity::{PublicKey, SignedRecord, encode_fields};

/// The outcome: what was checked, notes, and every failure.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct VerifyReport {
    /// The manifest, when its signature is valid.
    pub manifest: Option<Manifest>,
    /// Records in the file.
    pub records: u64,
    /// Remarks that are not failures.
    pub notes: Vec<String>,
    /// Each failure, naming the record, proof or checkpoint.
    pub failures: Vec<String>,
}

impl VerifyReport {
    /// Whether everything checked.
    pub fn passed(&self) -> bool {
        self.failures.is_empty() && self.manifest.is_some()
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Trailer<'a> {
    #[serde(borrow)]
    manifest: &'a RawValue,
    signature: String,
    proofs: Vec<Proof>,
}

#[derive(Deserialize)]
struct Line<'a> {
    #[serde(rename = "_export", borrow)]
    export: Trailer<'a>,
}

fn hex32(text: &str) -> Option<[u8; 32]> {
    hex::decode(text).ok()?.try_into().ok()
}

/// The records of an export (its text before the trailer line): each
/// record's text without its end of line, with the line it starts on.
/// NDJSON: one per line. CSV: decoded with the manifest's format; the
/// first record must be the signed header. Problems are failures.
fn split_records<'t>(records: &'t str, manifest: &Manifest, fail: &mut Vec<String>) -> Vec<(usize, &'t str)> {
    let Some(csv) = &manifest.csv else {
        return if records.is_empty() { Vec::new() } else { records.split('\n').enumerate().map(|(i, r)| (i + 1, r)).collect() };
    };
    // `records` lost its last `\n` with the trailer: put back what the end
    // of line had, or drop the separator line break.
    let mut text = records.to_owned();
    if csv.end_of_line.ends_with('\n') {
        text.push('\n');
    }
    let decoded = match csv.format().decode(&text) {
        Ok(decoded) => decoded,
        Err(e) => {
            fail.push(format!("the records are not CSV of the manifest's format ({e}): the file was changed"));
            return Vec::new();
        }
    };
    let eol = csv.end_of_line.len();
    let mut out = Vec::new();
    for (i, record) in decoded.iter().enumerate() {
        let end = if record.complete { record.range.end - eol } else { record.range.end };
        // Slices of `records` (`text` only adds a last line break).
        let body = &records[record.range.start..end.min(records.len())];
        if !record.complete {
            fail.push(format!("line {}: a record without its end of line (the file was cut or changed)", record.line));
        }
        if i == 0 {
            if body != csv.header {
                fail.push("line 1: the header is not the signed one (it was changed or removed)".into());
            } else {
                continue;
            }
        }
        out.push((record.line, body));
    }
    if decoded.is_empty() {
        fail.push("the header line is missing".into());
    }
    out
}

/// Checks the export `text` under `key`.
pub fn verify_export(text: &str, key: &PublicKey) -> Result<VerifyReport, ExportError> {
    let body = text.strip_suffix('\n').ok_or_else(|| ExportError::Format("the file does not end with a line break (cut?)".into()))?;
    let (records, last) = match body.rfind('\n') {
        Some(at) => (&body[..at], &body[at + 1..]),
        None => ("", body),
    };
    if !last.starts_with(&format!("{{\"{EXPORT_MEMBER}\"")) {
        return Err(ExportError::Format(format!(
            "the last line is not the `{EXPORT_MEMBER}` manifest line (the file was cut, or is not an export)"
        )));
    }
    let line: Line<'_> = serde_json::from_str(last).map_err(|e| ExportError::Format(format!("the manifest line: {e}")))?;
    let trailer = line.export;
    let mut report = VerifyReport::default();
    let signed = format!("{SIGNING_DOMAIN}{}", trailer.manifest.get());
    if !key.verify(signed.as_bytes(), &trailer.signature) {
        report
            .failures
            .push("the manifest's signature is not valid under this key (the manifest was changed, or another key signed it)".into());
        return Ok(report);
    }
    let manifest: Manifest = serde_json::from_str(trailer.manifest.get()).map_err(|e| ExportError::Format(format!("the manifest: {e}")))?;
    if manifest.format != FORMAT {
        report.failures.push(format!("the manifest's format is `{}`, not `{FORMAT}`", manifest.format));
    }
    let records = split_records(records, &manifest, &mut report.failures);
    report.records = records.len() as u64;
    let fail = &mut report.failures;
    let mut roots = Vec::new();
    for (i, c) in manifest.checkpoints.iter().enumerate() {
        roots.push(hex32(&c.root));
        if roots[i].is_none() {
            fail.push(format!("checkpoint {i} ({}): the root is not 32 hex bytes", c.file));
        }
        match &c.log_signature {
            None => report.notes.push(format!("{}: the log signed nothing in this file", c.file)),
            Some(value) => match SignedRecord::from_json(value) {
                Ok(record) if key.verify(&encode_fields(&record.fields), &record.sig) => {
                    if record.get("seq") != Some(&c.last_seq.to_string()) || record.get("head") != Some(c.head.as_str()) {
                        report.notes.push(format!(
                            "{}: the log's last signature there covers record {}; records after it up to {} are vouched for by the export's signature only",
                            c.file,
                            record.get("seq").unwrap_or("?"),
                            c.last_seq
                        ));
                    }
                }
                Ok(_) => fail.push(format!("checkpoint {i} ({}): the log's signed record does not verify under this key", c.file)),
                Err(e) => fail.push(format!("checkpoint {i} ({}): the log's signed record does not parse: {e}", c.file)),
            },
        }
    }
    let proofs = &trailer.proofs;
    if manifest.count != proofs.len() as u64 {
        fail.push(format!("the manifest counts {} records but the file holds {} proofs", manifest.count, proofs.len()));
    }
    if manifest.count != records.len() as u64 {
        fail.push(format!(
            "the manifest counts {} records but the file holds {} (records were dropped or added)",
            manifest.count,
            records.len()
        ));
    }
    let mut previous: Option<(usize, u64)> = None;
    for (j, p) in proofs.iter().enumerate() {
        let name = manifest.checkpoints.get(p.file).map_or("?", |c| c.file.as_str());
        let at = format!("proof {} ({name} leaf {})", j + 1, p.leaf);
        if previous.is_some_and(|before| before >= (p.file, p.leaf)) {
            fail.push(format!("{at}: out of order or repeated (proofs follow the log's order; proofs were moved or duplicated)"));
        }
        previous = Some((p.file, p.leaf));
        let (Some(checkpoint), Some(Some(root))) = (manifest.checkpoints.get(p.file), roots.get(p.file)) else {
            fail.push(format!("{at}: names no valid checkpoint"));
            continue;
        };
        let path: Option<Vec<[u8; 32]>> = p.path.iter().map(|h| hex32(h)).collect();
        let (Some(hash), Some(path)) = (hex32(&p.hash), path) else {
            fail.push(format!("{at}: a hash is not 32 hex bytes"));
            continue;
        };
        if !verify_inclusion(&hash, p.leaf, checkpoint.leaves, &path, root) {
            fail.push(format!(
                "{at}: its audit path does not lead to the signed root of {name} (the proof was changed or belongs to another leaf)"
            ));
        }
    }
    // Records against proofs, by leaf hash: says which record is changed,
    // added, moved or missing.
    let mut by_hash: HashMap<&str, Vec<usize>> = HashMap::new();
    for (j, p) in proofs.iter().enumerate() {
        by_hash.entry(p.hash.as_str()).or_default().push(j);
    }
    let hashes: Vec<[u8; 32]> = records.iter().map(|(_, r)| leaf_hash(r.as_bytes())).collect();
    let mut seen = vec![false; proofs.len()];
    for (j, hash) in hashes.iter().enumerate() {
        let hex = hex::encode(hash);
        let others = by_hash.get(hex.as_str());
        if let Some(others) = others {
            others.iter().for_each(|&k| seen[k] = true);
        }
        if proofs.get(j).is_some_and(|p| p.hash == hex) {
            continue;
        }
        let what = match others {
            Some(others) => format!("it is the record of proof {} (records or proofs were reordered)", others[0] + 1),
            None => "it is in no proof (the record was changed, or added)".to_owned(),
        };
        fail.push(format!("record {} (line {}): {what}", j + 1, records[j].0));
    }
    for (k, p) in proofs.iter().enumerate() {
        if !seen[k] {
            let name = manifest.checkpoints.get(p.file).map_or("?", |c| c.file.as_str());
            fail.push(format!("proof {} ({name} leaf {}): its record is not in the file (a record was dropped or changed)", k + 1, p.leaf));
        }
    }
    if hex::encode(MerkleTree::new(hashes).root()) != manifest.root {
        fail.push("the records do not make the signed export root (a record was changed, dropped, added or moved)".into());
    }
    report.manifest = Some(manifest);
    Ok(report)
}
