//! Every seed (`fuzz/corpus/<target>/`) and every crash a fuzzer found
//! (`fuzz/regressions/<target>/`, named after what it broke) replayed
//! through its target: a fixed crash stays fixed.

use std::path::PathBuf;

use super::TARGETS;

fn fuzz_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fuzz")
}

/// Runs every file of `fuzz/<kind>/<target>/` through its target; returns
/// how many ran.
fn replay(kind: &str) -> usize {
    let mut ran = 0;
    for (name, target) in TARGETS {
        let dir = fuzz_dir().join(kind).join(name);
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        let mut files: Vec<PathBuf> = entries.map(|e| e.unwrap().path()).filter(|p| p.is_file()).collect();
        files.sort();
        for file in files {
            let data = std::fs::read(&file).unwrap();
            let outcome = std::panic::catch_unwind(|| target(&data));
            assert!(outcome.is_ok(), "{name}: {} panicked", file.display());
            ran += 1;
        }
    }
    ran
}

#[test]
fn every_seed_passes_its_target() {
    for (name, _) in TARGETS {
        let dir = fuzz_dir().join("corpus").join(name);
        let seeds = std::fs::read_dir(&dir).map(|d| d.count()).unwrap_or(0);
        assert!(seeds > 0, "fuzz/corpus/{name}/ holds no seed");
    }
    assert!(replay("corpus") >= TARGETS.len());
}

#[test]
fn every_crash_found_stays_fixed() {
    replay("regressions");
}

/// The committed seeds of sealed logs are real ones: they verify with the
/// fuzz targets' fixed keys (so the fuzzer starts from valid chains).
#[test]
fn the_sealed_seeds_verify() {
    use crate::outputs::log_file::codec::JsonLines;
    use crate::outputs::log_file::verify::verify_files;
    use crate::outputs::rotation::RotationPolicy;
    let seed = std::fs::read(fuzz_dir().join("corpus/verify/sealed-json")).unwrap();
    assert_eq!(seed[0] & 1, 0, "a JSON-lines seed");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("access.audit.json"), &seed[1..]).unwrap();
    let reports =
        verify_files(dir.path(), "access.audit.json", &JsonLines, &RotationPolicy::default(), &super::targets::keys(), false, |_| {})
            .unwrap();
    assert!(reports.iter().all(|r| r.passed()) && reports[0].records > 0, "{reports:?}");
}

/// Writes the seeds that are whole files made by WASP itself (sealed JSON
/// and CSV logs, journal segments). Run by hand when a format changes:
/// `cargo test -p wasp --lib fuzzing::tests::write_file_seeds -- --ignored`.
#[test]
#[ignore = "writes fuzz/corpus seeds; run by hand"]
fn write_file_seeds() {
    use cap_std::fs::Dir;

    use crate::journal::segment::SegmentLog;
    use crate::outputs::Sink as _;
    use crate::outputs::csv::codec::CsvFormat;
    use crate::outputs::log_file::codec::{CsvRows, JsonLines, LineCodec};
    use crate::outputs::log_file::{Integrity, LogFile, LogOptions};

    let write_seed = |target: &str, name: &str, selector: u8, bytes: &[u8]| {
        let dir = fuzz_dir().join("corpus").join(target);
        std::fs::create_dir_all(&dir).unwrap();
        let mut data = vec![selector];
        data.extend_from_slice(bytes);
        std::fs::write(dir.join(name), data).unwrap();
    };
    let sealed_log = |codec: Box<dyn LineCodec>, live: &str, csv: bool| {
        let dir = tempfile::tempdir().unwrap();
        let options = LogOptions {
            integrity: Some(Integrity { keys: super::targets::keys(), signature_interval: std::time::Duration::from_secs(3600) }),
            ..LogOptions::default()
        };
        let handle = Dir::open_ambient_dir(dir.path(), cap_std::ambient_authority()).unwrap();
        let mut log = LogFile::open(&handle, live.into(), dir.path().join(live), codec, options).unwrap();
        for n in 0..3 {
            let record = if csv { format!(r#"["e{n}","user-{n}"]"#) } else { format!(r#"{{"_id":"e{n}","userId":"user-{n}"}}"#) };
            log.write(record.as_bytes()).unwrap();
        }
        log.close().unwrap();
        std::fs::read(dir.path().join(live)).unwrap()
    };
    let json = sealed_log(Box::new(JsonLines), "access.audit.json", false);
    let csv_codec = || Box::new(CsvRows { format: CsvFormat::default(), columns: vec!["_id".into(), "userId".into()], secure: true });
    let csv = sealed_log(csv_codec(), "access.csv", true);
    write_seed("verify", "sealed-json", 0, &json);
    write_seed("verify", "sealed-csv", 1, &csv);
    write_seed("log_recovery", "sealed-json", 4, &json);
    write_seed("log_recovery", "sealed-json-torn", 4, &json[..json.len() - 7]);
    write_seed("log_recovery", "sealed-csv-torn", 5, &csv[..csv.len() - 5]);

    let dir = tempfile::tempdir().unwrap();
    let (mut log, _) = SegmentLog::open(dir.path(), 1 << 20, 0).unwrap();
    for seq in 1..=3 {
        log.append(seq, format!(r#"{{"_id":"e{seq}"}}"#).as_bytes()).unwrap();
    }
    drop(log);
    let segment = std::fs::read(dir.path().join(crate::journal::segment::segment_name(1))).unwrap();
    write_seed("segment", "three-records", 0, &segment);
    write_seed("segment", "three-records-torn", 0, &segment[..segment.len() - 3]);
}
