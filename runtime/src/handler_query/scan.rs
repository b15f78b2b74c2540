//! Scanning a JSON handler's files for a query: each file is read in
//! chunks of whole lines by two threads (a chunk is read under a lock, then
//! scanned outside it, so reading, UTF-8 checks and scanning all run on
//! both cores), every record read slim ([`crate::query::slim`]), and the
//! matches gathered by a [`Collector`] per thread, merged at the end. No
//! file is held in memory whole: a query over a million events needs two
//! chunk buffers and the page's candidates.
//!
//! Invariants: a record is a line ending in `\n` (a last line without one
//! is being written and is skipped, as the other readers do); a record's
//! [`Position`] is its file's index in storage order, its byte offset in
//! the file's text (decompressed, for a `.gz` archive) and its length, so
//! positions order records in storage order whatever thread read them.

use std::collections::BTreeSet;
use std::io::Read;
use std::path::Path;
use std::sync::Mutex;

use serde_json::Value;

use super::QueryFailure;
use crate::outputs::log_file::codec::{INTEGRITY_MEMBER, SIGNATURE_MEMBER};
use crate::query::Collector;

/// Where a record is: its file's index (storage order), byte offset and
/// length in the file's text.
pub(super) type Position = (usize, u64, usize);

/// How many bytes a thread reads at a time (a chunk grows past it only to
/// hold a longer line).
const CHUNK: usize = 4 << 20;

/// Files smaller than this are scanned by one thread.
const TWO_THREADS_FROM: u64 = 8 << 20;

/// A file's text, handed out in chunks of whole lines.
struct Chunks {
    state: Mutex<ChunkState>,
    /// How many bytes a chunk reads ([`CHUNK`]; small in tests).
    size: usize,
}

struct ChunkState {
    source: Box<dyn Read + Send>,
    /// Offset of the next byte `source` gives.
    offset: u64,
    /// The start of a line the previous chunk ended inside.
    carry: Vec<u8>,
    done: bool,
}

impl Chunks {
    /// Fills `buf` with the next lines and returns the offset of its first
    /// byte; `None` once the text is read. `buf` ends with `\n`, except for
    /// the file's last chunk, whose last line may be incomplete.
    fn next(&self, buf: &mut Vec<u8>) -> std::io::Result<Option<u64>> {
        let mut state = self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let state = &mut *state;
        if state.done {
            return Ok(None);
        }
        buf.clear();
        buf.append(&mut state.carry);
        let start = state.offset - buf.len() as u64;
        loop {
            let filled = buf.len();
            let step = (self.size / 8).max(1);
            let wanted = filled.max(self.size - step) + step;
            buf.resize(wanted, 0);
            let mut at = filled;
            while at < wanted {
                match state.source.read(&mut buf[at..]) {
                    Ok(0) => break,
                    Ok(n) => at += n,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            }
            buf.truncate(at);
            state.offset += (at - filled) as u64;
            if at < wanted {
                state.done = true;
                return Ok(Some(start));
            }
            if let Some(last) = memchr::memrchr(b'\n', &buf[filled..]) {
                state.carry.extend_from_slice(&buf[filled + last + 1..]);
                buf.truncate(filled + last + 1);
                return Ok(Some(start));
            }
            // A line longer than the chunk: read on.
        }
    }
}

/// Opens a file's text: a `.gz` archive decompressed as it is read.
fn open_text(dir: &cap_std::fs::Dir, name: &str) -> std::io::Result<(Box<dyn Read + Send>, u64)> {
    let file = dir.open(name)?.into_std();
    let len = file.metadata()?.len();
    Ok(if name.ends_with(".gz") {
        (Box::new(flate2::read::MultiGzDecoder::new(std::io::BufReader::new(file))), len.saturating_mul(8))
    } else {
        (Box::new(file), len)
    })
}

/// The line (from 1) the byte at `offset` of a file's text is on: for an
/// error message, so counted only then.
fn line_at(dir: &cap_std::fs::Dir, name: &str, offset: u64) -> usize {
    let Ok((source, _)) = open_text(dir, name) else { return 0 };
    let mut prefix = Vec::new();
    if source.take(offset).read_to_end(&mut prefix).is_err() {
        return 0;
    }
    memchr::memchr_iter(b'\n', &prefix).count() + 1
}

/// Chunks of [`CHUNK`] bytes, two threads from files of
/// [`TWO_THREADS_FROM`] bytes: what [`scan`] is called with, but in tests.
pub(super) const SIZES: (usize, u64) = (CHUNK, TWO_THREADS_FROM);

/// Scans the files `files` of `dir` (shown as `path`), in storage order,
/// and offers to `collector` every record that `keep` accepts, read slim
/// with the `wanted` members (and without its integrity member), in chunks
/// of `sizes.0` bytes, by two threads from files of `sizes.1` bytes
/// ([`SIZES`]). Lines holding only a signature are not events and are
/// passed over.
pub(super) fn scan(
    dir: &cap_std::fs::Dir,
    path: &Path,
    files: &[String],
    wanted: &BTreeSet<String>,
    keep: &(dyn Fn(&Value) -> bool + Sync),
    collector: &mut Collector<'_, Position>,
    sizes: (usize, u64),
) -> Result<(), QueryFailure> {
    for (index, name) in files.iter().enumerate() {
        let file = path.join(name);
        let (source, size) = open_text(dir, name).map_err(|error| QueryFailure::Io { file: file.clone(), error })?;
        let chunks = Chunks { state: Mutex::new(ChunkState { source, offset: 0, carry: Vec::new(), done: false }), size: sizes.0 };
        let request = collector.request();
        let part = || scan_part(&chunks, index, wanted, keep, Collector::new(request));
        let result = if size < sizes.1 {
            part()
        } else {
            std::thread::scope(|scope| {
                let other = scope.spawn(part);
                let mine = part();
                let other = other.join().unwrap_or_else(|_| Err(Failed::Io(std::io::Error::other("a query thread panicked"))));
                let (mut mine, other) = (mine?, other?);
                mine.merge(other);
                Ok(mine)
            })
        };
        match result {
            Ok(part) => collector.merge(part),
            Err(Failed::Io(error)) => return Err(QueryFailure::Io { file, error }),
            Err(Failed::Corrupt { offset, message }) => {
                return Err(QueryFailure::Corrupt { line: line_at(dir, name, offset), file, message });
            }
        }
    }
    Ok(())
}

/// Why one thread's part of a scan stopped.
enum Failed {
    Io(std::io::Error),
    /// A record (at this byte offset) that does not read.
    Corrupt {
        offset: u64,
        message: String,
    },
}

/// One thread's part of a file: chunks until none is left.
fn scan_part<'q>(
    chunks: &Chunks,
    index: usize,
    wanted: &BTreeSet<String>,
    keep: &(dyn Fn(&Value) -> bool + Sync),
    mut part: Collector<'q, Position>,
) -> Result<Collector<'q, Position>, Failed> {
    let mut buf = Vec::with_capacity(chunks.size + chunks.size / 8);
    while let Some(start) = chunks.next(&mut buf).map_err(Failed::Io)? {
        // Only whole lines: the file's last line may be being written.
        let whole = memchr::memrchr(b'\n', &buf).map_or(0, |at| at + 1);
        let text = std::str::from_utf8(&buf[..whole])
            .map_err(|e| Failed::Corrupt { offset: start + e.valid_up_to() as u64, message: "not UTF-8 text".to_owned() })?;
        let mut line_start = 0;
        for line_end in memchr::memchr_iter(b'\n', text.as_bytes()) {
            let record = &text[line_start..line_end];
            let offset = start + line_start as u64;
            line_start = line_end + 1;
            if record.trim().is_empty() {
                continue;
            }
            let slim = crate::query::slim::read(record, wanted, SIGNATURE_MEMBER).map_err(|message| Failed::Corrupt { offset, message })?;
            if slim.flagged && slim.member_count == 1 {
                continue;
            }
            let mut event = slim.event;
            event.remove(INTEGRITY_MEMBER);
            let event = Value::Object(event);
            if keep(&event) {
                part.offer((index, offset, record.len()), event);
            }
        }
    }
    Ok(part)
}

#[cfg(test)]
mod tests {
    use std::io::Write as _;

    use serde_json::json;

    use super::*;
    use crate::query::QueryRequest;

    /// Records of many lengths (some longer than a chunk), a signature
    /// line, a blank line and an unfinished last line, in a plain file and
    /// a gzipped archive: every chunk size and thread count finds the same
    /// events at the same positions as reading the lines one by one.
    #[test]
    fn chunks_of_any_size_find_every_record_at_its_position() {
        let temp = tempfile::tempdir().unwrap();
        let mut text = String::new();
        for n in 0..400 {
            let padding = "x".repeat((n * 37) % 300);
            text.push_str(&json!({"_id": format!("e{n}"), "userId": format!("u{}", n % 7), "pad": padding}).to_string());
            text.push('\n');
            if n == 100 {
                text.push_str("{\"_signature\": {\"seq\": 1}}\n\n");
            }
        }
        let archive = text.clone();
        text.push_str("{\"_id\": \"unfinished\", \"userId\": \"u3\"");
        std::fs::write(temp.path().join("a.json"), &text).unwrap();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(archive.as_bytes()).unwrap();
        std::fs::write(temp.path().join("b.json.gz"), gz.finish().unwrap()).unwrap();
        let dir = cap_std::fs::Dir::open_ambient_dir(temp.path(), cap_std::ambient_authority()).unwrap();
        let files = vec!["b.json.gz".to_owned(), "a.json".to_owned()];

        // Expected: every record of user u3, line by line.
        let mut expected = Vec::new();
        for (index, file_text) in [&archive, &text].into_iter().enumerate() {
            let mut offset = 0;
            for line in file_text.split_inclusive('\n') {
                let record = line.trim_end_matches('\n');
                if line.ends_with('\n') && record.contains("\"u3\"") {
                    expected.push((index, offset as u64, record.len()));
                }
                offset += line.len();
            }
        }
        assert_eq!(expected.len(), 2 * 57);

        let request = QueryRequest::from_params("userId eq \"U3\"", None, None, None).unwrap();
        let wanted = crate::query::slim::members(&request).unwrap();
        for sizes in [(16, u64::MAX), (64, 0), (1000, 0), (1 << 20, 0), SIZES] {
            let mut collector = Collector::new(&request);
            scan(&dir, temp.path(), &files, &wanted, &|e| request.filter.matches(e), &mut collector, sizes).unwrap();
            let (page, positions) = collector.finish();
            assert_eq!(positions, expected, "chunks of {} bytes", sizes.0);
            assert_eq!(page.total_paged_results, 114);
            assert!(page.result.iter().all(|e| e == &json!({"userId": "u3"})));
        }
    }

    /// A record that does not read is reported with its file and line.
    #[test]
    fn a_bad_record_names_its_line() {
        let temp = tempfile::tempdir().unwrap();
        let good = json!({"_id": "a", "userId": "u"}).to_string();
        std::fs::write(temp.path().join("a.json"), format!("{good}\n{good}\n{{\"_id\": \n{good}\n")).unwrap();
        let dir = cap_std::fs::Dir::open_ambient_dir(temp.path(), cap_std::ambient_authority()).unwrap();
        let request = QueryRequest::from_params("true", None, None, None).unwrap();
        let mut collector = Collector::new(&request);
        let wanted = BTreeSet::new();
        let error = scan(&dir, temp.path(), &["a.json".to_owned()], &wanted, &|_| true, &mut collector, (8, 0)).unwrap_err();
        match error {
            QueryFailure::Corrupt { line, file, .. } => {
                assert_eq!(line, 3);
                assert!(file.ends_with("a.json"));
            }
            other => panic!("{other}"),
        }
    }
}
