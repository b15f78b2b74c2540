use super::*;
use crate::outputs::{OutputConfig, Sink};

#[test]
fn appends_one_line_per_record_and_keeps_earlier_content() {
    let dir = tempfile::tempdir().unwrap();
    let config = FileConfig { path: "nested/audit.log".into() };
    let mut sink = FileSink::open(&config, dir.path()).unwrap();
    sink.write(br#"{"a":1}"#).unwrap();
    sink.write(b"{\"b\":2}\n").unwrap();
    sink.flush().unwrap();
    drop(sink);
    let mut sink = FileSink::open(&config, dir.path()).unwrap();
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
        assert!(err.starts_with("path:"), "{bad}: {err}");
    }
    assert!(OutputConfig::File(FileConfig { path: "./ok/audit.log".into() }).validate().is_ok());
}
