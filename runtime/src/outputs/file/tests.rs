use cap_std::ambient_authority;
use cap_std::fs::Dir;

use super::*;
use crate::outputs::{OutputConfig, Sink};

fn open_dir(path: &std::path::Path) -> Dir {
    Dir::open_ambient_dir(path, ambient_authority()).unwrap()
}

#[test]
fn appends_one_line_per_record_and_keeps_earlier_content() {
    let dir = tempfile::tempdir().unwrap();
    let config = FileConfig { path: "nested/audit.log".into() };
    let root = open_dir(dir.path());
    let mut sink = FileSink::open(&config, &root, dir.path(), false).unwrap();
    assert_eq!(sink.location(), dir.path().join("nested/audit.log").display().to_string());
    sink.write(br#"{"a":1}"#).unwrap();
    sink.write(b"{\"b\":2}\n").unwrap();
    sink.flush().unwrap();
    drop(sink);
    let mut sink = FileSink::open(&config, &root, dir.path(), false).unwrap();
    sink.write(br#"{"c":3}"#).unwrap();
    sink.flush().unwrap();
    let text = std::fs::read_to_string(dir.path().join("nested/audit.log")).unwrap();
    assert_eq!(text, "{\"a\":1}\n{\"b\":2}\n{\"c\":3}\n");
}

#[test]
fn refuses_paths_outside_the_handler_directory() {
    for bad in ["../escape.log", "/etc/passwd", "a/../../b", ""] {
        let config = OutputConfig::File(FileConfig { path: bad.into() });
        let err = config.validate().unwrap_err();
        assert_eq!(err.field, "path", "{bad}: {err}");
    }
    assert!(OutputConfig::File(FileConfig { path: "./ok/audit.log".into() }).validate().is_ok());
}

#[test]
fn a_symbolic_link_out_of_the_directory_is_not_followed() {
    let outside = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(outside.path(), dir.path().join("link")).unwrap();
    let config = FileConfig { path: "link/audit.log".into() };
    let err = FileSink::open(&config, &open_dir(dir.path()), dir.path(), false).expect_err("must not escape");
    assert!(!outside.path().join("audit.log").exists(), "{err}");
}

#[test]
fn a_partial_last_line_from_a_crash_is_cut_on_open() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("audit.log"), "{\"a\":1}\n{\"b\":").unwrap();
    let config = FileConfig { path: "audit.log".into() };
    let mut sink = FileSink::open(&config, &open_dir(dir.path()), dir.path(), false).unwrap();
    sink.write(br#"{"c":3}"#).unwrap();
    sink.flush().unwrap();
    assert_eq!(std::fs::read_to_string(dir.path().join("audit.log")).unwrap(), "{\"a\":1}\n{\"c\":3}\n");
    // A file that is one partial line is emptied.
    std::fs::write(dir.path().join("torn.log"), "{\"x\"").unwrap();
    FileSink::open(&FileConfig { path: "torn.log".into() }, &open_dir(dir.path()), dir.path(), false).unwrap();
    assert_eq!(std::fs::read_to_string(dir.path().join("torn.log")).unwrap(), "");
}

#[test]
fn rollback_takes_back_everything_since_the_mark_flushed_or_not() {
    let dir = tempfile::tempdir().unwrap();
    let config = FileConfig { path: "audit.log".into() };
    let mut sink = FileSink::open(&config, &open_dir(dir.path()), dir.path(), true).unwrap();
    sink.write(b"kept").unwrap();
    sink.flush().unwrap();
    sink.mark();
    sink.write(b"flushed then taken back").unwrap();
    sink.flush().unwrap();
    sink.write(b"buffered, never written").unwrap();
    sink.rollback().unwrap();
    sink.write(b"retried").unwrap();
    sink.flush().unwrap();
    assert_eq!(std::fs::read_to_string(dir.path().join("audit.log")).unwrap(), "kept\nretried\n");
}

#[test]
fn rotation_never_replaces_an_earlier_archive() {
    let dir = tempfile::tempdir().unwrap();
    let config = FileConfig { path: "audit.log".into() };
    let mut sink = FileSink::open(&config, &open_dir(dir.path()), dir.path(), false).unwrap();
    let mut archives = Vec::new();
    for n in 0..3 {
        sink.write(format!("r{n}").as_bytes()).unwrap();
        archives.push(sink.rotate().unwrap().unwrap());
    }
    let contents: Vec<String> = archives.iter().map(|a| std::fs::read_to_string(a).unwrap()).collect();
    assert_eq!(contents, ["r0\n", "r1\n", "r2\n"], "{archives:?}");
}
