//! Unit tests of the export file's forms: a CSV export with each kind of
//! end of line (`\n`, `\r\n`, and one without a line break, which needs a
//! separator before the trailer), rows holding line breaks, and what
//! `verify_export` names when the header or a row changes.

use super::build::trailer;
use super::{Checkpoint, CsvLayout, ExportFormat, FORMAT, Manifest, Proof, verify_export};
use crate::integrity::IntegrityKeys;
use crate::integrity::merkle::{MerkleTree, leaf_hash};

/// A CSV export of `rows` (each a record's text without its end of line)
/// from one log file holding exactly those rows.
fn csv_export(keys: &IntegrityKeys, end_of_line: &str, rows: &[&str]) -> String {
    let header = r#""_id","userId","SEQ","HMAC","SIGNATURE""#;
    let tree = MerkleTree::new(rows.iter().map(|r| leaf_hash(r.as_bytes())).collect());
    let proofs: Vec<Proof> = (0..rows.len())
        .map(|i| Proof {
            file: 0,
            leaf: i as u64,
            hash: hex::encode(leaf_hash(rows[i].as_bytes())),
            path: tree.proof(i).iter().map(hex::encode).collect(),
        })
        .collect();
    let manifest = Manifest {
        format: FORMAT.into(),
        handler: "csv".into(),
        tenant: None,
        topic: "access".into(),
        query: "true".into(),
        time: "2026-12-05T00:00:00.000Z".into(),
        count: rows.len() as u64,
        root: hex::encode(tree.root()),
        checkpoints: vec![Checkpoint {
            file: "access.csv".into(),
            leaves: rows.len() as u64,
            root: hex::encode(tree.root()),
            last_seq: rows.len() as u64,
            head: "00".repeat(32),
            log_signature: None,
        }],
        csv: Some(CsvLayout { header: header.into(), quote: '"', delimiter: ',', end_of_line: end_of_line.into() }),
    };
    let mut text = format!("{header}{end_of_line}");
    for row in rows {
        text.push_str(row);
        text.push_str(end_of_line);
    }
    if !end_of_line.ends_with('\n') {
        text.push('\n');
    }
    text + &trailer(keys, &manifest, &proofs)
}

const ROWS: [&str; 3] = [r#""e1","alice","1","aa","#, "\"e2\",\"two\nlines\",\"2\",\"bb\",", r#""e3","carol","3","cc","#];

#[test]
fn csv_exports_verify_with_every_end_of_line() {
    let keys = IntegrityKeys::generate().unwrap();
    for eol in ["\n", "\r\n", ";"] {
        let text = csv_export(&keys, eol, &ROWS);
        let report = verify_export(&text, &keys.public_key()).unwrap();
        assert!(report.passed(), "{eol:?}: {:?}\n{text}", report.failures);
        assert_eq!(report.records, 3);
        assert!(report.manifest.unwrap().csv.is_some());
    }
}

#[test]
fn csv_tampering_is_named_with_the_record_and_its_line() {
    let keys = IntegrityKeys::generate().unwrap();
    let key = keys.public_key();
    let text = csv_export(&keys, "\r\n", &ROWS);
    let failures = |text: &str| verify_export(text, &key).unwrap().failures.join("\n");
    // A changed cell of the third row (line 5: the second row spans lines 3 and 4).
    let changed = failures(&text.replacen("carol", "carel", 1));
    assert!(changed.contains("record 3 (line 5): it is in no proof"), "{changed}");
    let header = failures(&text.replacen("\"userId\"", "\"user\"", 1));
    assert!(header.contains("line 1: the header is not the signed one"), "{header}");
    // A quote removed: the rest no longer decodes as the signed format.
    let broken = failures(&text.replacen("\"e3\"", "\"e3", 1));
    assert!(!broken.is_empty(), "a broken row is a failure");
    // A row moved after the trailer is no longer a row: the trailer must be last.
    assert!(verify_export(&format!("{text}\"e9\"\n"), &key).is_err());
}

#[test]
fn formats_parse_by_name() {
    assert_eq!("CSV".parse::<ExportFormat>(), Ok(ExportFormat::Csv));
    assert_eq!("ndjson".parse::<ExportFormat>(), Ok(ExportFormat::Ndjson));
    assert!("xml".parse::<ExportFormat>().unwrap_err().contains("expected ndjson or csv"));
    assert_eq!(ExportFormat::Csv.content_type(), "text/csv; charset=utf-8");
}
