use std::fs;
use std::path::{Path, PathBuf};

use proptest::prelude::*;
use tempfile::TempDir;

use super::*;

/// A payload that differs per seq, so misplaced records are noticed.
fn payload(seq: u64, len: usize) -> Vec<u8> {
    (0..len).map(|i| (seq as usize * 31 + i * 7) as u8).collect()
}

/// The `.seg` files of `dir`, sorted, with their lengths.
fn seg_files(dir: &Path) -> Vec<(String, u64)> {
    let mut files: Vec<_> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.file_name().to_str().unwrap().ends_with(".seg"))
        .map(|e| {
            let name = e.file_name().into_string().unwrap();
            (name, e.metadata().unwrap().len())
        })
        .collect();
    files.sort();
    files
}

fn copy_segments(from: &Path, to: &Path) {
    for (name, _) in seg_files(from) {
        fs::copy(from.join(&name), to.join(&name)).unwrap();
    }
}

fn open(dir: &Path, max: u64, from: u64) -> (SegmentLog, Recovered) {
    SegmentLog::open(dir, max, from).unwrap()
}

/// Appends seq `first..=last` with payload lengths from `len`.
fn append_range(log: &mut SegmentLog, first: u64, last: u64, len: impl Fn(u64) -> usize) {
    for seq in first..=last {
        log.append(seq, &payload(seq, len(seq))).unwrap();
    }
}

fn expected(first: u64, last: u64, len: impl Fn(u64) -> usize) -> Vec<(u64, Vec<u8>)> {
    (first..=last).map(|s| (s, payload(s, len(s)))).collect()
}

fn flip_byte(path: &Path, offset: u64) {
    let mut data = fs::read(path).unwrap();
    data[offset as usize] ^= 0x5a;
    fs::write(path, data).unwrap();
}

#[test]
fn crc32c_check_value() {
    assert_eq!(crc32c::crc32c(b"123456789"), 0xE306_9283);
    let mut joined = 7u64.to_le_bytes().to_vec();
    joined.extend_from_slice(b"abc");
    assert_eq!(record_crc(7, b"abc"), crc32c::crc32c(&joined));
}

#[test]
fn segment_names_are_padded_first_seqs() {
    assert_eq!(segment_name(1), "00000000000000000001.seg");
    assert_eq!(parse_name(&segment_name(u64::MAX)), Some(u64::MAX));
    assert_eq!(parse_name("00000000000000000042.seg"), Some(42));
    for bad in ["42.seg", "0000000000000000004x.seg", "00000000000000000042.tmp", "segments.lock"] {
        assert_eq!(parse_name(bad), None, "{bad}");
    }
}

#[test]
fn empty_log() {
    let dir = TempDir::new().unwrap();
    let (mut log, rec) = open(dir.path(), 256, 0);
    let want = Recovered { records: vec![], first_seq: 1, last_seq: 0, truncated_bytes: 0 };
    assert_eq!(rec, want);
    assert_eq!((log.segments(), log.disk_bytes()), (0, 0));
    assert_eq!(log.remove_through(10).unwrap(), 0);
    log.sync().unwrap();
    drop(log);
    let (_, rec) = open(dir.path(), 256, 0);
    assert_eq!(rec, want);
}

#[test]
fn round_trip_across_rolls() {
    let dir = TempDir::new().unwrap();
    let len = |s: u64| (s as usize * 13) % 90;
    let (mut log, _) = open(dir.path(), 256, 0);
    append_range(&mut log, 1, 50, len);
    log.sync().unwrap();
    assert!(log.segments() >= 5, "{} segments", log.segments());
    let files = seg_files(dir.path());
    assert_eq!(files.len(), log.segments());
    assert_eq!(log.disk_bytes(), files.iter().map(|(_, n)| n).sum::<u64>());
    assert!(files.iter().all(|(_, n)| *n <= 256));
    drop(log);

    for from in [0, 1, 17, 49, 50, 51, 1000] {
        let (log, rec) = open(dir.path(), 256, from);
        assert_eq!(rec.records, expected(from + 1, 50, len), "from {from}");
        assert_eq!((rec.first_seq, rec.last_seq, rec.truncated_bytes), (1, 50, 0));
        assert_eq!(log.segments(), files.len());
    }

    // Appending continues after a reopen, and each file's name is its first seq.
    let (mut log, _) = open(dir.path(), 256, 50);
    append_range(&mut log, 51, 60, len);
    drop(log);
    let (_, rec) = open(dir.path(), 256, 0);
    assert_eq!(rec.records, expected(1, 60, len));
    for (name, _) in seg_files(dir.path()) {
        let first = parse_name(&name).unwrap();
        let data = fs::read(dir.path().join(&name)).unwrap();
        assert_eq!(u64::from_le_bytes(data[8..16].try_into().unwrap()), first);
    }
}

#[test]
fn runs_appended_together_lay_out_the_files_as_one_by_one_appends() {
    let len = |s: u64| (s as usize * 13) % 90 + if s.is_multiple_of(17) { 300 } else { 0 };
    let one_by_one = TempDir::new().unwrap();
    let (mut log, _) = open(one_by_one.path(), 256, 0);
    append_range(&mut log, 1, 80, len);
    drop(log);
    let together = TempDir::new().unwrap();
    let (mut log, _) = open(together.path(), 256, 0);
    // Runs of several sizes, some crossing segment limits, some holding a
    // record larger than the limit.
    let mut seq = 1;
    for run in [1_u64, 7, 30, 2, 40] {
        let payloads: Vec<Vec<u8>> = (seq..seq + run).map(|s| payload(s, len(s))).collect();
        log.append_many(seq, &payloads).unwrap();
        seq += run;
    }
    assert_eq!(log.last_seq, 80);
    drop(log);
    let files = seg_files(together.path());
    assert_eq!(files, seg_files(one_by_one.path()));
    for (name, _) in &files {
        assert_eq!(fs::read(together.path().join(name)).unwrap(), fs::read(one_by_one.path().join(name)).unwrap(), "{name}");
    }
    let (_, rec) = open(together.path(), 256, 0);
    assert_eq!(rec.records, expected(1, 80, len));
}

#[test]
fn a_run_out_of_order_is_refused_whole() {
    let dir = TempDir::new().unwrap();
    let (mut log, _) = open(dir.path(), 1024, 0);
    let (done, err) = log.append_many(2, &[b"x", b"y"]).unwrap_err();
    assert_eq!(done, 0);
    assert!(matches!(err, SegmentError::OutOfOrder { expected: 1, got: 2, .. }), "{err}");
    log.append_many(1, &[b"x", b"y"]).unwrap();
    assert_eq!(log.last_seq, 2);
    log.append_many::<&[u8]>(3, &[]).unwrap();
    assert_eq!(log.last_seq, 2);
}

#[test]
fn a_record_larger_than_the_limit_gets_its_own_segment() {
    let dir = TempDir::new().unwrap();
    let (mut log, _) = open(dir.path(), 64, 0);
    log.append(1, &[1; 10]).unwrap(); // 26 bytes
    log.append(2, &[2; 10]).unwrap(); // 52 bytes: still fits
    log.append(3, &[3; 100]).unwrap(); // 116 bytes: a new segment
    log.append(4, &[4; 0]).unwrap(); // past the limit already: a new segment
    log.append(5, &[5; 0]).unwrap();
    let names: Vec<_> = seg_files(dir.path()).into_iter().collect();
    let want = [(segment_name(1), 52), (segment_name(3), 116), (segment_name(4), 32)];
    assert_eq!(names, want);
    assert_eq!((log.segments(), log.disk_bytes()), (3, 200));
}

#[test]
fn append_rejects_a_seq_out_of_order() {
    let dir = TempDir::new().unwrap();
    let (mut log, _) = open(dir.path(), 1024, 0);
    let err = log.append(2, b"x").unwrap_err();
    assert!(matches!(err, SegmentError::OutOfOrder { expected: 1, got: 2, .. }), "{err}");
    log.append(1, b"x").unwrap();
    let err = log.append(1, b"x").unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains(&segment_name(1)) && msg.contains("offset 17"), "{msg}");
    log.append(2, b"y").unwrap();
    assert_eq!(log.last_seq, 2);
}

#[test]
fn remove_through_deletes_only_covered_segments() {
    let dir = TempDir::new().unwrap();
    // 16-byte payloads make 32-byte records: three per 96-byte segment.
    let (mut log, _) = open(dir.path(), 96, 0);
    append_range(&mut log, 1, 10, |_| 16);
    let names = |d: &Path| seg_files(d).into_iter().map(|(n, _)| n).collect::<Vec<_>>();
    let all: Vec<_> = [1, 4, 7, 10].map(segment_name).into();
    assert_eq!(names(dir.path()), all);

    assert_eq!(log.remove_through(0).unwrap(), 0);
    assert_eq!(log.remove_through(2).unwrap(), 0);
    assert_eq!(log.remove_through(3).unwrap(), 1);
    assert_eq!(log.remove_through(8).unwrap(), 1); // 7..=9 is not covered
    assert_eq!(names(dir.path()), all[2..]);
    assert_eq!(log.first_seq(), 7);
    assert_eq!(log.remove_through(100).unwrap(), 1); // never the active one
    assert_eq!(log.remove_through(100).unwrap(), 0);
    assert_eq!(names(dir.path()), all[3..]);
    assert_eq!((log.segments(), log.disk_bytes()), (1, 32));
    log.sync().unwrap();
    drop(log);

    let (mut log, rec) = open(dir.path(), 96, 0);
    assert_eq!(rec.records, expected(10, 10, |_| 16));
    assert_eq!((rec.first_seq, rec.last_seq), (10, 10));
    append_range(&mut log, 11, 13, |_| 16);
    assert_eq!(log.remove_through(13).unwrap(), 1);
    drop(log);
    let (_, rec) = open(dir.path(), 96, 3);
    assert_eq!(rec.records, expected(13, 13, |_| 16));
    assert_eq!(rec.first_seq, 13);
}

#[test]
fn a_second_open_of_the_same_directory_is_refused() {
    let dir = TempDir::new().unwrap();
    let (log, _) = open(dir.path(), 256, 0);
    let err = SegmentLog::open(dir.path(), 256, 0).unwrap_err();
    assert!(matches!(err, SegmentError::Locked { .. }), "{err}");
    drop(log);
    open(dir.path(), 256, 0);
}

#[test]
fn sync_covers_segments_rolled_away_from() {
    let dir = TempDir::new().unwrap();
    let (mut log, _) = open(dir.path(), 64, 0);
    append_range(&mut log, 1, 9, |_| 20);
    assert_eq!(log.unsynced.len(), log.segments() - 1);
    log.sync().unwrap();
    assert!(log.unsynced.is_empty() && !log.active_dirty && !log.dir_dirty);
    log.sync().unwrap();
}

/// A template log of `n` records; returns its dir, the last segment's path
/// and where the last record starts in it.
fn template(n: u64, max: u64, len: impl Fn(u64) -> usize) -> (TempDir, PathBuf, u64) {
    let dir = TempDir::new().unwrap();
    let (mut log, _) = open(dir.path(), max, 0);
    append_range(&mut log, 1, n, &len);
    let last = log.segments.back().unwrap();
    let start = last.bytes - HEADER_LEN - len(n) as u64;
    let path = dir.path().join(last.path.file_name().unwrap());
    (dir, path, start)
}

#[test]
fn torn_final_record_at_every_byte_offset() {
    let len = |s: u64| 20 + (s as usize % 5) * 9;
    // The last record shares its segment (max 4096), or is alone in its
    // segment, so that a cut can leave the last segment empty (max 64).
    for max in [4096, 64] {
        let n = 12;
        let (tpl, last_path, start) = template(n, max, len);
        let full = fs::metadata(&last_path).unwrap().len();
        assert_eq!(start == 0, max == 64);
        for cut in start..full {
            let dir = TempDir::new().unwrap();
            copy_segments(tpl.path(), dir.path());
            let path = dir.path().join(last_path.file_name().unwrap());
            fs::OpenOptions::new().write(true).open(&path).unwrap().set_len(cut).unwrap();

            let (mut log, rec) = open(dir.path(), max, 0);
            assert_eq!(rec.records, expected(1, n - 1, len), "max {max} cut {cut}");
            assert_eq!(rec.truncated_bytes, cut - start, "max {max} cut {cut}");
            assert_eq!(rec.last_seq, n - 1);
            assert_eq!(fs::metadata(&path).unwrap().len(), start);
            log.append(n, &payload(n, len(n))).unwrap();
            drop(log);
            let (_, rec) = open(dir.path(), max, n - 2);
            assert_eq!(rec.records, expected(n - 1, n, len), "max {max} cut {cut}");
            assert_eq!(rec.truncated_bytes, 0);
            assert_eq!(seg_files(dir.path()), seg_files(tpl.path()));
        }
    }
}

#[test]
fn a_flipped_byte_in_the_last_record_is_truncated() {
    let len = |_| 40;
    let n = 6;
    let (tpl, last_path, start) = template(n, 4096, len);
    let full = fs::metadata(&last_path).unwrap().len();
    for offset in start..full {
        let dir = TempDir::new().unwrap();
        copy_segments(tpl.path(), dir.path());
        let path = dir.path().join(last_path.file_name().unwrap());
        flip_byte(&path, offset);
        let (mut log, rec) = open(dir.path(), 4096, 0);
        assert_eq!(rec.records, expected(1, n - 1, len), "offset {offset}");
        assert_eq!(rec.truncated_bytes, full - start, "offset {offset}");
        log.append(n, &payload(n, 40)).unwrap();
    }
}

#[test]
fn corruption_before_the_tail_of_the_last_segment_drops_the_rest() {
    let (dir, path, _) = template(5, 4096, |_| 10);
    flip_byte(&path, 26 + HEADER_LEN + 3); // the payload of seq 2
    let (_, rec) = open(dir.path(), 4096, 0);
    assert_eq!(rec.records, expected(1, 1, |_| 10));
    assert_eq!(rec.truncated_bytes, 4 * 26);
}

#[test]
fn corruption_in_an_earlier_segment_is_an_error() {
    // Three 26-byte records per segment: 1..=3, 4..=6, 7..=9, 10.
    let (tpl, _, _) = template(10, 80, |_| 10);
    let second = segment_name(4);
    let corrupt = |prepare: &dyn Fn(&Path)| {
        let dir = TempDir::new().unwrap();
        copy_segments(tpl.path(), dir.path());
        prepare(dir.path());
        let err = SegmentLog::open(dir.path(), 80, 0).unwrap_err();
        let SegmentError::Corrupt { path, offset, .. } = &err else { panic!("{err}") };
        let msg = err.to_string();
        assert!(msg.contains(&path.file_name().unwrap().to_string_lossy().to_string()));
        assert!(msg.contains(&format!("offset {offset}")), "{msg}");
        (path.file_name().unwrap().to_string_lossy().into_owned(), *offset, msg)
    };

    let (file, offset, msg) = corrupt(&|d| flip_byte(&d.join(&second), 26 + 20));
    assert_eq!((file.as_str(), offset), (second.as_str(), 26), "{msg}");
    assert!(msg.contains("CRC"), "{msg}");

    let (file, offset, msg) = corrupt(&|d| {
        let f = fs::OpenOptions::new().write(true).open(d.join(&second)).unwrap();
        f.set_len(77).unwrap();
    });
    assert_eq!((file.as_str(), offset), (second.as_str(), 52), "{msg}");
    assert!(msg.contains("torn"), "{msg}");

    // A missing segment in the middle: a gap in the sequence.
    let (file, offset, msg) = corrupt(&|d| fs::remove_file(d.join(&second)).unwrap());
    assert_eq!((file, offset), (segment_name(7), 0), "{msg}");

    // A CRC-valid record with the wrong seq (the file renamed).
    let (file, offset, _) = corrupt(&|d| {
        fs::rename(d.join(segment_name(10)), d.join(segment_name(11))).unwrap();
        fs::rename(d.join(segment_name(7)), d.join(segment_name(10))).unwrap();
        fs::remove_file(d.join(segment_name(11))).unwrap();
        fs::remove_file(d.join(segment_name(1))).unwrap();
        fs::remove_file(d.join(&second)).unwrap();
    });
    assert_eq!((file, offset), (segment_name(10), 0));
}

#[derive(Debug, Clone)]
enum Op {
    Append(usize),
    /// Reopen with `from` = the value modulo `last_seq + 2`.
    Reopen(u64),
    /// Remove through the value modulo `last_seq + 2`.
    RemoveThrough(u64),
    Sync,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        8 => (0usize..300).prop_map(Op::Append),
        1 => any::<u64>().prop_map(Op::Reopen),
        2 => any::<u64>().prop_map(Op::RemoveThrough),
        1 => Just(Op::Sync),
    ]
}

/// What the log should hold: every record ever appended, and the segments
/// on disk as (first seq, last seq, bytes).
#[derive(Default)]
struct Model {
    records: Vec<(u64, Vec<u8>)>,
    segments: Vec<(u64, u64, u64)>,
}

impl Model {
    fn append(&mut self, seq: u64, len: usize, max: u64) {
        let record = HEADER_LEN + len as u64;
        match self.segments.last() {
            Some(&(_, _, bytes)) if bytes == 0 || bytes + record <= max => {}
            _ => self.segments.push((seq, seq - 1, 0)),
        }
        let last = self.segments.last_mut().unwrap();
        last.1 = seq;
        last.2 += record;
        self.records.push((seq, payload(seq, len)));
    }

    fn remove_through(&mut self, seq: u64) -> usize {
        let n = self.segments[..self.segments.len().saturating_sub(1)].iter().take_while(|s| s.1 <= seq).count();
        self.segments.drain(..n);
        n
    }

    fn last_seq(&self) -> u64 {
        self.records.len() as u64
    }

    fn on_disk_after(&self, from: u64) -> Vec<(u64, Vec<u8>)> {
        let first = self.segments.first().map_or(1, |s| s.0);
        self.records.iter().filter(|(s, _)| *s >= first && *s > from).cloned().collect()
    }

    fn check(&self, log: &SegmentLog) {
        assert_eq!(log.last_seq, self.last_seq());
        assert_eq!(log.segments(), self.segments.len());
        assert_eq!(log.disk_bytes(), self.segments.iter().map(|s| s.2).sum::<u64>());
        let files: Vec<_> = self.segments.iter().map(|s| (segment_name(s.0), s.2)).collect();
        assert_eq!(seg_files(&log.dir), files);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn matches_a_model(max in 256u64..2048, ops in prop::collection::vec(op(), 1..80)) {
        let dir = TempDir::new().unwrap();
        let mut model = Model::default();
        let (mut log, _) = open(dir.path(), max, 0);
        for op in ops {
            match op {
                Op::Append(len) => {
                    let seq = model.last_seq() + 1;
                    log.append(seq, &payload(seq, len)).unwrap();
                    model.append(seq, len, max);
                }
                Op::Reopen(x) => {
                    let from = x % (model.last_seq() + 2);
                    drop(log);
                    let rec;
                    (log, rec) = open(dir.path(), max, from);
                    prop_assert_eq!(rec.records, model.on_disk_after(from));
                    prop_assert_eq!(rec.last_seq, model.last_seq());
                    prop_assert_eq!(rec.first_seq, model.segments.first().map_or(1, |s| s.0));
                    prop_assert_eq!(rec.truncated_bytes, 0);
                }
                Op::RemoveThrough(x) => {
                    let seq = x % (model.last_seq() + 2);
                    prop_assert_eq!(log.remove_through(seq).unwrap(), model.remove_through(seq));
                }
                Op::Sync => log.sync().unwrap(),
            }
            model.check(&log);
        }
        drop(log);
        let (_, rec) = open(dir.path(), max, 0);
        prop_assert_eq!(rec.records, model.on_disk_after(0));
    }
}
