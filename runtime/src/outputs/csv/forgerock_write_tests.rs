//! The ForgeRock CSV writer against ForgeRock's own verification, with the
//! keytool-made keystore of tests/fixtures/jceks: files it writes, rotates,
//! continues and rolls back verify; tampering fails.

use std::path::Path;

use super::codec::CsvFormat;
use super::forgerock_write::{ForgeRockCsvWriter, keystore_path};
use crate::integrity::forgerock::*;
use crate::integrity::jceks::JceksKeyStore;

const FIXTURE: &[u8] = include_bytes!("../../../../tests/fixtures/jceks/forgerock.jceks");

fn keys() -> ForgeRockKeys {
    let store = JceksKeyStore::parse(Path::new("forgerock.jceks"), FIXTURE, "changeit").unwrap();
    ForgeRockKeys::from_keystore(&store, "changeit").unwrap()
}

fn columns() -> Vec<String> {
    ["_id", "userId", "status"].map(String::from).to_vec()
}

/// `wasp verify --keystore`'s check of one file: its rows with its keystore.
fn verify_file(path: &Path, keys: &ForgeRockKeys) -> Result<Verified, String> {
    let text = std::fs::read_to_string(path).unwrap();
    let rows: Vec<Vec<String>> = CsvFormat::default().decode(&text).unwrap().into_iter().map(|r| r.cells).collect();
    let file_keys = FileKeys::open(&keystore_path(path), keys).map_err(|e| e.to_string())?;
    verify(&rows, &file_keys, &keys.public_key()).map_err(|e| e.to_string())
}

#[test]
fn forgerock_writer_writes_a_file_that_verifies_and_tampering_fails() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("access.csv");
    let mut w = ForgeRockCsvWriter::open(&path, columns(), CsvFormat::default(), keys()).unwrap();
    w.append(&["1", "bjensen", "SUCCESSFUL"]).unwrap();
    w.append(&["2", "scarter", "FAILED"]).unwrap();
    w.flush().unwrap();
    w.sign().unwrap();
    w.append(&["3", "", "a, \"quoted\" cell"]).unwrap();
    w.close().unwrap();
    let v = verify_file(&path, &keys()).unwrap();
    assert_eq!((v.rows, v.signatures), (3, 2));
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.starts_with("\"_id\",\"userId\",\"status\",\"HMAC\",\"SIGNATURE\"\n"), "{text}");
    std::fs::write(&path, text.replacen("scarter", "sCarter", 1)).unwrap();
    assert_eq!(verify_file(&path, &keys()).unwrap_err(), "row 3: the HMAC is not correct");
}

#[test]
fn forgerock_writer_continues_the_java_written_log() {
    let dir = tempfile::tempdir().unwrap();
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/jceks/forgerock-log");
    for f in ["access.csv", "access.csv.keystore"] {
        std::fs::copy(fixture.join(f), dir.path().join(f)).unwrap();
    }
    let path = dir.path().join("access.csv");
    assert_eq!(verify_file(&path, &keys()).unwrap().rows, 3, "the fixture verifies before");
    let mut w = ForgeRockCsvWriter::open(&path, columns(), CsvFormat::default(), keys()).unwrap();
    w.append(&["0419-4", "bjensen", "SUCCESSFUL"]).unwrap();
    w.append(&["0419-5", "scarter", "FAILED"]).unwrap();
    w.close().unwrap();
    drop(w);
    let v = verify_file(&path, &keys()).unwrap();
    assert_eq!((v.rows, v.signatures), (5, 3), "the Java rows and the continued ones verify as one file");
    // Another header is refused, naming both.
    let err = ForgeRockCsvWriter::open(&path, vec!["_id".into()], CsvFormat::default(), keys()).unwrap_err().to_string();
    assert!(err.contains("cannot continue it: its header is `_id,userId,status,HMAC,SIGNATURE`"), "{err}");
}

#[test]
fn forgerock_writer_rotates_into_files_that_each_verify() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("access.csv");
    let archive = dir.path().join("access.csv-2026.12.05-14.00.00");
    let mut w = ForgeRockCsvWriter::open(&path, columns(), CsvFormat::default(), keys()).unwrap();
    w.append(&["1", "bjensen", "SUCCESSFUL"]).unwrap();
    let mut w = w.rotate(&archive).unwrap();
    w.append(&["2", "scarter", "FAILED"]).unwrap();
    w.append(&["3", "bjensen", "FAILED"]).unwrap();
    w.close().unwrap();
    let a = verify_file(&archive, &keys()).unwrap();
    let live = verify_file(&path, &keys()).unwrap();
    assert_eq!((a.rows, a.signatures, live.rows, live.signatures), (1, 1, 2, 1));
    // The live file starts with a copy of the archive's last signature.
    let last_of_archive = std::fs::read_to_string(&archive).unwrap().lines().last().unwrap().to_string();
    assert_eq!(std::fs::read_to_string(&path).unwrap().lines().nth(1).unwrap(), last_of_archive);
}

#[test]
fn forgerock_writer_rollback_takes_back_rows_and_keys() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("access.csv");
    let mut w = ForgeRockCsvWriter::open(&path, columns(), CsvFormat::default(), keys()).unwrap();
    w.append(&["1", "bjensen", "SUCCESSFUL"]).unwrap();
    w.flush().unwrap();
    w.mark();
    w.append(&["2", "scarter", "FAILED"]).unwrap();
    w.sign().unwrap();
    w.append(&["3", "scarter", "FAILED"]).unwrap();
    w.rollback().unwrap();
    w.append(&["2", "bjensen", "FAILED"]).unwrap();
    w.close().unwrap();
    let v = verify_file(&path, &keys()).unwrap();
    assert_eq!((v.rows, v.signatures), (2, 1));
    assert!(!std::fs::read_to_string(&path).unwrap().contains("scarter"), "the rows after the mark are gone");
}
