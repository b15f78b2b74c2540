//! The fuzz targets' bodies (see the module documentation of
//! [`crate::fuzzing`] for what each checks).

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use cap_std::ambient_authority;
use cap_std::fs::Dir;
use serde_json::Value;

use crate::integrity::IntegrityKeys;
use crate::journal::segment::{SegmentLog, record_crc, segment_name};
use crate::outputs::Sink as _;
use crate::outputs::csv::codec::CsvFormat;
use crate::outputs::log_file::codec::{CSV_INTEGRITY_COLUMNS, CsvRows, JsonLines, LineCodec, RawLines};
use crate::outputs::log_file::verify::verify_files;
use crate::outputs::log_file::{Integrity, LogFile, LogOptions};
use crate::outputs::rotation::RotationPolicy;
use crate::query::{QueryFilter, QueryRequest, parse_sort_keys};

/// A fuzz target: takes the fuzzer's bytes, panics on a defect.
pub type Target = fn(&[u8]);

/// Every target by name, as `fuzz/fuzz_targets/<name>.rs` and the corpus
/// directories name it.
pub const TARGETS: &[(&str, Target)] = &[
    ("ingest", ingest),
    ("config", config),
    ("query", query),
    ("csv", csv),
    ("segment", segment),
    ("log_recovery", log_recovery),
    ("verify", verify),
];

/// A fresh temporary directory, in memory (`/dev/shm`) where there is one:
/// the file targets create one per input.
fn scratch() -> tempfile::TempDir {
    let shm = Path::new("/dev/shm");
    let builder = {
        let mut b = tempfile::Builder::new();
        b.prefix("wasp-fuzz-");
        b
    };
    if shm.is_dir()
        && let Ok(dir) = builder.tempdir_in(shm)
    {
        return dir;
    }
    builder.tempdir().expect("a temporary directory")
}

/// Fixed integrity keys (a key file with known bytes), so that committed
/// seeds of sealed logs verify.
pub(super) fn keys() -> Arc<IntegrityKeys> {
    static KEYS: OnceLock<Arc<IntegrityKeys>> = OnceLock::new();
    KEYS.get_or_init(|| {
        use base64::Engine as _;
        let b64 = |byte: u8| base64::engine::general_purpose::STANDARD.encode([byte; 32]);
        let dir = scratch();
        let path = dir.path().join("fuzz.key");
        let doc = serde_json::json!({"format": "wasp-integrity-key/1", "hmacKey": b64(7), "signingKey": b64(9)});
        std::fs::write(&path, doc.to_string()).expect("write the key file");
        Arc::new(IntegrityKeys::load(&path).expect("the fixed key file loads"))
    })
    .clone()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

// ---------------------------------------------------------------- ingest

struct Ingest {
    runtime: tokio::runtime::Runtime,
    app: axum::Router,
    _dir: tempfile::TempDir,
}

fn ingest_app() -> &'static Ingest {
    static APP: OnceLock<Ingest> = OnceLock::new();
    APP.get_or_init(|| {
        let dir = scratch();
        let doc = serde_json::json!({
            "eventHandlers": [],
            "tenants": {"acme": {"quotas": {"eventsPerSecond": 1_000_000}}},
            "wasp": {
                "journal": {"durability": "memory"},
                "validation": {"requiredFields": ["transactionId"], "maxDepth": 8, "mode": "reject"},
                "maxEventSize": "16 KiB",
                "sidecar": {"auth": "none", "maxBatchEvents": 64, "maxBodyBytes": "64 KiB"}
            }
        });
        let config = crate::config::Config::from_json(&doc.to_string(), dir.path(), "<fuzz>").expect("the ingest target's configuration");
        let service = Arc::new(crate::service::AuditService::new(config.clone()).expect("the ingest target's service"));
        let state = crate::sidecar::AppState::new(service, Arc::new(config.clone()), config.sidecar.clone()).expect("the sidecar state");
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a tokio runtime");
        Ingest { runtime, app: crate::sidecar::app(state), _dir: dir }
    })
}

/// `POST /audit/{topic}` with the bytes after the first as the body. The
/// first byte picks the form (bits 0–1: `application/json`,
/// `application/x-ndjson`, no `Content-Type`, `?_action=batch`), the tenant
/// (bit 2) and the topic (bits 3–4, one of them unknown).
pub fn ingest(data: &[u8]) {
    use tower::ServiceExt as _;
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    let ingest = ingest_app();
    let topic = ["access", "authentication", "activity", "no-such-topic"][usize::from(selector >> 3 & 3)];
    let mut query = Vec::new();
    let content_type = match selector & 3 {
        0 => Some("application/json"),
        1 => Some("application/x-ndjson"),
        2 => None,
        _ => {
            query.push("_action=batch");
            Some("application/json")
        }
    };
    if selector & 4 != 0 {
        query.push("tenant=acme");
    }
    let uri = if query.is_empty() { format!("/audit/{topic}") } else { format!("/audit/{topic}?{}", query.join("&")) };
    let mut request = axum::http::Request::builder().method("POST").uri(uri);
    if let Some(content_type) = content_type {
        request = request.header("content-type", content_type);
    }
    let request = request.body(axum::body::Body::from(body.to_vec())).expect("a request");
    let batch = selector & 3 == 1 || selector & 3 == 3;
    let (status, answer) = ingest.runtime.block_on(async {
        let response = ingest.app.clone().oneshot(request).await.expect("the router is infallible");
        let status = response.status();
        (status, axum::body::to_bytes(response.into_body(), usize::MAX).await.expect("the answer's body"))
    });
    assert!(status.as_u16() < 500, "a request body made a server error {status}: {}", String::from_utf8_lossy(&answer));
    let answer: Value =
        serde_json::from_slice(&answer).unwrap_or_else(|e| panic!("the answer is not JSON ({e}): {}", String::from_utf8_lossy(&answer)));
    if batch && status == 200 {
        // Lines are decoded one by one (a line that is not UTF-8 is
        // rejected alone), so count them on the bytes.
        let lines = body
            .split(|&b| b == b'\n')
            .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
            .filter(|l| !String::from_utf8_lossy(l).trim().is_empty())
            .count();
        let results = answer["results"].as_array().expect("a batch answer has results").len();
        assert_eq!(results, lines, "one result per non-blank line");
        let counted = answer["accepted"].as_u64().unwrap_or(0) + answer["rejected"].as_u64().unwrap_or(0);
        assert_eq!(counted, lines as u64, "accepted + rejected = lines");
    }
}

// ---------------------------------------------------------------- config

/// `Config::from_json` on the bytes (as UTF-8), relative paths resolving in
/// an empty directory.
pub fn config(data: &[u8]) {
    static BASE: OnceLock<tempfile::TempDir> = OnceLock::new();
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let base = BASE.get_or_init(scratch);
    let _ = crate::config::Config::from_json(text, base.path(), "<fuzz>");
}

// ---------------------------------------------------------------- query

const QUERY_EVENTS: &[&str] = &[
    r#"{"_id":"a","userId":"bjensen","n":1,"ok":true,"tags":["x","y"],"http":{"status":200}}"#,
    r#"{"_id":"b","userId":"Scarter","n":2.5,"ok":false,"tags":[],"http":{"status":404}}"#,
    r#"{"_id":"c","n":-3,"note":null,"http":{"status":"500"}}"#,
    r#"{"_id":"d","userId":"bjensen","n":1e3,"a/b":"slash","~":"tilde"}"#,
];

/// The query parameters: the bytes split at NUL into `_queryFilter`,
/// `_pageSize`, `_pagedResultsCookie`, `_sortKeys` and NDJSON events (added
/// to a few fixed ones) to run the query over.
pub fn query(data: &[u8]) {
    let parts: Vec<String> = data.splitn(5, |&b| b == 0).map(text).collect();
    let part = |i: usize| parts.get(i).map(String::as_str);
    let filter_text = part(0).unwrap_or("");
    if let Ok(filter) = QueryFilter::parse(filter_text) {
        let canonical = filter.to_string();
        let again = QueryFilter::parse(&canonical)
            .unwrap_or_else(|e| panic!("the canonical filter `{canonical}` of `{filter_text}` does not parse: {e}"));
        assert_eq!(again.to_string(), canonical, "the canonical filter is not a fixed point (of `{filter_text}`)");
    }
    if let Some(keys_text) = part(3)
        && let Ok(keys) = parse_sort_keys(keys_text)
    {
        let canonical: Vec<String> = keys.iter().map(ToString::to_string).collect();
        let again = parse_sort_keys(&canonical.join(",")).unwrap_or_else(|e| panic!("canonical sort keys {canonical:?} do not parse: {e}"));
        assert_eq!(again, keys, "sort keys do not survive their canonical text");
    }
    let Ok(request) = QueryRequest::from_params(filter_text, part(1), part(2), part(3)) else {
        return;
    };
    let mut events: Vec<Value> = QUERY_EVENTS.iter().map(|e| serde_json::from_str(e).expect("a fixed event")).collect();
    events.extend(part(4).unwrap_or("").lines().filter_map(|l| serde_json::from_str(l).ok()));
    let offset = request.offset().expect("from_params checked the cookie");
    let page = crate::query::run(&request, events.iter().cloned().map(Ok::<_, std::convert::Infallible>)).unwrap_or_else(|e| match e {});
    assert_eq!(page.result_count, page.result.len());
    if let Some(cookie) = &page.paged_results_cookie {
        let next = QueryRequest::from_params(filter_text, part(1), Some(cookie), part(3))
            .unwrap_or_else(|e| panic!("the query refuses its own cookie {cookie}: {e}"));
        assert_eq!(next.offset().expect("checked"), offset + page.result_count, "the cookie points past this page");
    }
}

// ---------------------------------------------------------------- csv

/// The CSV codec: the first byte picks the format (quote, delimiter, end of
/// line, formula neutralisation); the rest is decoded as a file's text, and
/// split at U+0001 into cells that must survive encode → decode.
pub fn csv(data: &[u8]) {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let format = CsvFormat {
        quote: ['"', '\'', '|', 'é'][usize::from(selector & 3)],
        delimiter: [',', ';', '\t', '"'][usize::from(selector >> 2 & 3)],
        end_of_line: ["\n", "\r\n", "\r", "é\n"][usize::from(selector >> 4 & 3)].to_owned(),
        neutralise_formulas: selector & 0x40 != 0,
    };
    let text = text(rest);
    if let Ok(records) = format.decode(&text) {
        let mut at = 0;
        for (i, record) in records.iter().enumerate() {
            assert_eq!(record.range.start, at, "records tile the text");
            assert!(record.range.end > record.range.start, "no empty record");
            assert!(record.complete || i + 1 == records.len(), "only the last record may be incomplete");
            at = record.range.end;
        }
        assert_eq!(at, text.len(), "records cover the text");
    }
    if format.validate().is_err() || format.neutralise_formulas {
        return;
    }
    let cells: Vec<&str> = text.split('\u{1}').collect();
    let line = format.encode(&cells);
    let decoded = format.decode(&line).unwrap_or_else(|e| panic!("an encoded record does not decode ({e}): {line:?}"));
    assert_eq!(decoded.len(), 1, "one record: {line:?}");
    assert!(decoded[0].complete);
    assert_eq!(decoded[0].cells, cells, "cells survive encode → decode: {line:?}");
}

// ---------------------------------------------------------------- segment

/// The bytes (after the first) as the only segment file of a journal; the
/// first byte picks its first sequence number (1, 42, u64::MAX - 1 or
/// u64::MAX).
pub fn segment(data: &[u8]) {
    let Some((&selector, bytes)) = data.split_first() else {
        return;
    };
    let first_seq = [1, 42, u64::MAX - 1, u64::MAX][usize::from(selector & 3)];
    let dir = scratch();
    let file = dir.path().join(segment_name(first_seq));
    std::fs::write(&file, bytes).expect("write the segment");
    let Ok((log, recovered)) = SegmentLog::open(dir.path(), 1 << 20, 0) else {
        return;
    };
    // Never an invented event: the records are exactly the file's intact
    // prefix, in sequence from the file's name.
    let mut intact = Vec::new();
    for (i, (seq, payload)) in recovered.records.iter().enumerate() {
        assert_eq!(Some(*seq), first_seq.checked_add(i as u64), "records are in sequence from the segment's name");
        intact.extend_from_slice(&(payload.len() as u32).to_le_bytes());
        intact.extend_from_slice(&record_crc(*seq, payload).to_le_bytes());
        intact.extend_from_slice(&seq.to_le_bytes());
        intact.extend_from_slice(payload);
    }
    assert!(bytes.starts_with(&intact), "a recovered record is not in the file");
    assert_eq!(recovered.truncated_bytes, (bytes.len() - intact.len()) as u64, "only the tail after the intact records is cut");
    assert_eq!(std::fs::read(&file).expect("read the segment"), intact, "the file keeps exactly the intact records");
    let expected_last = first_seq - 1 + recovered.records.len() as u64;
    assert_eq!(recovered.last_seq, expected_last);
    drop(log);
    // Recovery is idempotent.
    let (mut log, again) = SegmentLog::open(dir.path(), 1 << 20, 0).expect("a recovered log opens again");
    assert_eq!(again.records, recovered.records, "a second recovery finds the same records");
    assert_eq!(again.truncated_bytes, 0, "a second recovery cuts nothing");
    // And the log takes the next record.
    let Some(next) = recovered.last_seq.checked_add(1) else {
        return;
    };
    log.append(next, b"{\"_id\":\"next\"}").expect("a recovered log appends");
    drop(log);
    let (_log, after) = SegmentLog::open(dir.path(), 1 << 20, 0).expect("the log opens after an append");
    assert_eq!(after.records.len(), recovered.records.len() + 1);
    assert_eq!(after.records.last().map(|(s, p)| (*s, p.as_slice())), Some((next, &b"{\"_id\":\"next\"}"[..])));
}

// ---------------------------------------------------------------- log files

fn log_codec(kind: u8, sealed: bool) -> (&'static str, Box<dyn LineCodec>) {
    match kind % 3 {
        0 => ("access.audit.json", Box::new(JsonLines)),
        1 => {
            ("access.csv", Box::new(CsvRows { format: CsvFormat::default(), columns: vec!["_id".into(), "userId".into()], secure: sealed }))
        }
        _ => ("out.log", Box::new(RawLines)),
    }
}

/// The bytes (after the first) as the live file of a file output that is
/// opened again (after a crash, say); the first byte picks the format (JSON
/// lines, CSV, raw lines) and tamper evidence. Then one record is written.
pub fn log_recovery(data: &[u8]) {
    let Some((&selector, bytes)) = data.split_first() else {
        return;
    };
    let sealed = selector & 4 != 0;
    let (name, codec) = log_codec(selector & 3, sealed);
    let line_based = selector & 3 != 1;
    let dir = scratch();
    std::fs::write(dir.path().join(name), bytes).expect("write the live file");
    let options = LogOptions {
        integrity: sealed.then(|| Integrity { keys: keys(), signature_interval: std::time::Duration::from_secs(3600) }),
        ..LogOptions::default()
    };
    let handle = Dir::open_ambient_dir(dir.path(), ambient_authority()).expect("open the directory");
    let Ok(mut log) = LogFile::open(&handle, PathBuf::from(name), dir.path().join(name), codec, options) else {
        return;
    };
    let after = std::fs::read(dir.path().join(name)).expect("read the live file");
    if line_based && (bytes.is_empty() || bytes.ends_with(b"\n")) {
        assert!(after.starts_with(bytes), "opening cut a file whose last line was complete");
    }
    if line_based && !after.starts_with(bytes) {
        let kept = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        assert!(after.starts_with(&bytes[..kept]), "opening cut more than the torn last line");
    }
    // A CSV output takes a row (a JSON array of cells), the others an event.
    let record: &[u8] = if line_based { br#"{"_id":"fuzz","userId":"bjensen"}"# } else { br#"["fuzz","bjensen"]"# };
    log.write(record).and_then(|()| log.flush()).expect("a recovered log file takes a record");
}

/// `wasp verify` on the bytes (after the first) as the live file of a
/// tamper-evident output; bit 0 of the first byte: JSON lines or CSV; bit
/// 1: `--open` (an unsigned tail is accepted).
pub fn verify(data: &[u8]) {
    let Some((&selector, bytes)) = data.split_first() else {
        return;
    };
    let open = selector & 2 != 0;
    let dir = scratch();
    let naming = RotationPolicy::default();
    let keys = keys();
    if selector & 1 == 0 {
        let live = "access.audit.json";
        std::fs::write(dir.path().join(live), bytes).expect("write the live file");
        let _ = verify_files(dir.path(), live, &JsonLines, &naming, &keys, open, |_| {});
    } else {
        let live = "access.csv";
        std::fs::write(dir.path().join(live), bytes).expect("write the live file");
        // The columns come from the header, as `wasp verify` reads them.
        let format = CsvFormat::default();
        let Ok(records) = format.decode(&text(bytes)) else {
            return;
        };
        let Some(header) = records.first() else {
            return;
        };
        let integrity = CSV_INTEGRITY_COLUMNS.map(String::from);
        if !header.cells.ends_with(&integrity) {
            return;
        }
        let columns = header.cells[..header.cells.len() - integrity.len()].to_vec();
        let codec = CsvRows { format, columns, secure: true };
        let _ = verify_files(dir.path(), live, &codec, &naming, &keys, open, |_| {});
    }
}
