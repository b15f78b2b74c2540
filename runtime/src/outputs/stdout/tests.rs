use super::*;
use crate::outputs::Sink;

#[test]
fn buffers_whole_lines_until_flush() {
    let mut sink = StdoutSink::new(&StdoutConfig::default());
    sink.write(b"one").unwrap();
    sink.write(b"two\n").unwrap();
    let mut out = Vec::new();
    sink.flush_into(&mut out).unwrap();
    assert_eq!(out, b"one\ntwo\n");
    let mut again = Vec::new();
    sink.flush_into(&mut again).unwrap();
    assert!(again.is_empty(), "a flush delivers each line once");
}
