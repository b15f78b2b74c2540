use super::verify::{Entry, Verifier};
use super::*;

fn keys() -> IntegrityKeys {
    IntegrityKeys::generate().unwrap()
}

fn data(chain: &mut Chain, value: &str) -> Entry {
    let fields = vec![("userId".to_owned(), value.as_bytes().to_vec())];
    let (seq, mac) = chain.seal(&[("userId", value.as_bytes())]);
    Entry::Data { seq, mac, fields }
}

fn start(keys: &IntegrityKeys, state: ChainState, previous: &str) -> Entry {
    Entry::Signed(SignedRecord::new(keys, RecordKind::Start, state, &[("previous", previous.to_owned())]))
}

fn signature(keys: &IntegrityKeys, chain: &Chain, reason: &str) -> Entry {
    Entry::Signed(SignedRecord::new(keys, RecordKind::Signature, chain.state(), &[("reason", reason.into())]))
}

#[test]
fn the_encoding_is_length_prefixed() {
    assert_ne!(encode_fields(&[("ab", "c")]), encode_fields(&[("a", "bc")]));
    assert_eq!(encode_fields(&[("a", "bc")]), b"\0\0\0\x01a\0\0\0\x02bc");
}

#[test]
fn hmac_matches_rfc_4231() {
    assert_eq!(
        hex::encode(hmac_sha256(b"Jefe", b"what do ya want for nothing?")),
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    );
}

#[test]
fn the_key_evolves_and_a_resumed_chain_agrees() {
    let keys = keys();
    let mut a = Chain::resume(keys.hmac_key(), ChainState::GENESIS);
    let (_, first) = a.seal(&[("f", b"x")]);
    let (_, second) = a.seal(&[("f", b"x")]);
    assert_ne!(first, second, "same content, another key and head");
    let mut b = Chain::resume(keys.hmac_key(), ChainState { seq: 1, head: first });
    assert_eq!(b.seal(&[("f", b"x")]), (2, second));
}

#[test]
fn signed_records_round_trip_and_detect_changes() {
    let keys = keys();
    let record = SignedRecord::new(&keys, RecordKind::Gap, ChainState { seq: 9, head: [7; 32] }, &[("from", "5".into())]);
    let parsed = SignedRecord::from_json(&record.to_json()).unwrap();
    assert_eq!(parsed, record);
    assert!(parsed.verify(&keys));
    let forged = record.to_json().replace("\"from\":\"5\"", "\"from\":\"6\"");
    assert!(!SignedRecord::from_json(&forged).unwrap().verify(&keys));
    assert!(!parsed.verify(&IntegrityKeys::generate().unwrap()), "another key");
}

#[test]
fn key_files_round_trip_and_are_never_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.key");
    let keys = keys();
    keys.save(&path).unwrap();
    let loaded = IntegrityKeys::load(&path).unwrap();
    assert_eq!(loaded.hmac_key(), keys.hmac_key());
    assert!(loaded.verify(b"m", &keys.sign(b"m")));
    assert!(IntegrityKeys::generate().unwrap().save(&path).is_err());
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
    std::fs::write(dir.path().join("other"), "{}").unwrap();
    let err = IntegrityKeys::load(&dir.path().join("other")).unwrap_err().to_string();
    assert!(err.contains("not a WASP key file"), "{err}");
}

/// Two files: three records, rotation, two records, close.
fn two_files(keys: &IntegrityKeys) -> Vec<(String, Vec<Entry>)> {
    let mut chain = Chain::resume(keys.hmac_key(), ChainState::GENESIS);
    let mut first = vec![start(keys, ChainState::GENESIS, "")];
    for v in ["a", "b", "c"] {
        first.push(data(&mut chain, v));
    }
    first.push(signature(keys, &chain, "rotate"));
    let mut second = vec![start(keys, chain.state(), "one")];
    for v in ["d", "e"] {
        second.push(data(&mut chain, v));
    }
    second.push(signature(keys, &chain, "close"));
    vec![("one".into(), first), ("two".into(), second)]
}

fn run(keys: &IntegrityKeys, files: Vec<(String, Vec<Entry>)>) -> Vec<Result<(), String>> {
    let mut verifier = Verifier::new(keys);
    let mut results = Vec::new();
    let count = files.len();
    for (i, (name, entries)) in files.into_iter().enumerate() {
        verifier.begin_file();
        let mut result = Ok(());
        for entry in entries {
            if let Err(e) = verifier.entry(&name, entry) {
                result = Err(e);
                break;
            }
        }
        if result.is_ok() {
            result = verifier.end_file(i + 1 == count, false).map(|_| ());
        }
        results.push(result.map_err(|e| e.to_string()));
    }
    if let Err((_, why)) = verifier.finish() {
        results[0] = Err(why.to_string());
    }
    results
}

#[test]
fn an_intact_chain_passes() {
    let keys = keys();
    assert_eq!(run(&keys, two_files(&keys)), [Ok(()), Ok(())]);
}

#[test]
fn removed_reordered_and_truncated_records_fail() {
    let keys = keys();
    let mut files = two_files(&keys);
    files[0].1.remove(2);
    assert!(run(&keys, files)[0].as_ref().unwrap_err().contains("jumps from 1 to 3"));
    let mut files = two_files(&keys);
    files[0].1.swap(1, 2);
    assert!(run(&keys, files)[0].as_ref().unwrap_err().contains("jumps from 0 to 2"));
    let mut files = two_files(&keys);
    files[1].1.pop();
    assert!(run(&keys, files)[1].as_ref().unwrap_err().contains("without the `close` signature"));
    let mut files = two_files(&keys);
    files.swap(0, 1);
    let results = run(&keys, files);
    assert!(results[0].as_ref().unwrap_err().contains("`one`, is missing"), "{results:?}");
}

#[test]
fn a_signed_gap_and_a_retention_record_are_accepted() {
    let keys = keys();
    let mut chain = Chain::resume(keys.hmac_key(), ChainState::GENESIS);
    let mut entries = vec![start(&keys, ChainState::GENESIS, "")];
    entries.push(data(&mut chain, "a"));
    // Records 2..=4 were lost in a crash; the writer declares them.
    let mut lost = chain.clone();
    for v in ["b", "c", "d"] {
        data(&mut lost, v);
    }
    entries.push(Entry::Signed(SignedRecord::new(&keys, RecordKind::Gap, lost.state(), &[("from", "2".into())])));
    entries.push(data(&mut lost, "e"));
    entries.push(signature(&keys, &lost, "close"));
    assert_eq!(run(&keys, vec![("live".into(), entries.clone())]), [Ok(())]);
    // The same file, but its predecessor was deleted: only a retention
    // record makes that acceptable.
    let mut chain = Chain::resume(keys.hmac_key(), ChainState::GENESIS);
    data(&mut chain, "old");
    let deleted = chain.state();
    let mut entries = vec![start(&keys, deleted, "old-archive")];
    entries.push(data(&mut chain, "x"));
    let unvouched = run(&keys, vec![("live".into(), [entries.clone(), vec![signature(&keys, &chain, "close")]].concat())]);
    assert!(unvouched[0].as_ref().unwrap_err().contains("no retention record"), "{unvouched:?}");
    entries.push(Entry::Signed(SignedRecord::new(
        &keys,
        RecordKind::Retention,
        chain.state(),
        &[("file", "old-archive".into()), ("fileSeq", deleted.seq.to_string()), ("fileHead", deleted.head_hex())],
    )));
    entries.push(signature(&keys, &chain, "close"));
    assert_eq!(run(&keys, vec![("live".into(), entries)]), [Ok(())]);
}

#[test]
fn a_jceks_keystore_given_as_key_file_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keystore.jceks");
    std::fs::write(&path, include_bytes!("../../../tests/fixtures/jceks/forgerock.jceks")).unwrap();
    let err = IntegrityKeys::load(&path).unwrap_err().to_string();
    assert!(err.contains("a ForgeRock JCEKS keystore") && err.contains("only the CSV handler writes with one"), "{err}");
}
