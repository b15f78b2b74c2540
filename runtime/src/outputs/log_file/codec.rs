//! How records become lines of a log file, and lines become records again
//! (for recovery at open and for `wasp verify`): JSON lines, sealed JSON
//! lines, CSV rows, and raw lines.

use crate::integrity::verify::Entry;
use crate::integrity::{Chain, SignedRecord};
use crate::outputs::csv::codec::CsvFormat;

/// A line format.
pub trait LineCodec: Send + std::fmt::Debug {
    /// What every new file begins with (the CSV header), if anything.
    fn header(&self) -> Option<Vec<u8>> {
        None
    }
    /// The line (with its end) for one record; sealed (sequence number and
    /// MAC) when `chain` is given.
    fn data_line(&self, record: &[u8], chain: Option<&mut Chain>) -> std::io::Result<Vec<u8>>;
    /// The line for a signed record.
    fn signed_line(&self, record: &SignedRecord) -> Vec<u8>;
    /// Whether an unsealed record is written as it is, plus `\n` if it has
    /// none (lets the writer skip a copy).
    fn passes_records_through(&self) -> bool {
        false
    }
    /// Parses one record's text (without its line end). `Ok(None)`: a line
    /// without integrity data (a header).
    fn parse(&self, text: &str) -> Result<Option<Entry>, String>;
    /// Splits a file's text into records: (line number, text without its
    /// end, complete). The default: one record per `\n`-ended line.
    fn split<'t>(&self, text: &'t str) -> Result<Vec<(usize, &'t str, bool)>, String> {
        let mut out = Vec::new();
        let mut rest = text;
        let mut line = 1;
        while !rest.is_empty() {
            match rest.find('\n') {
                Some(end) => {
                    out.push((line, &rest[..end], true));
                    rest = &rest[end + 1..];
                }
                None => {
                    out.push((line, rest, false));
                    rest = "";
                }
            }
            line += 1;
        }
        Ok(out)
    }
}

/// Records written as they are, one per line (a WASM handler's `file`
/// output); no tamper evidence.
#[derive(Debug, Default)]
pub struct RawLines;

impl LineCodec for RawLines {
    fn passes_records_through(&self) -> bool {
        true
    }
    fn data_line(&self, record: &[u8], _chain: Option<&mut Chain>) -> std::io::Result<Vec<u8>> {
        let mut line = record.to_vec();
        if !line.ends_with(b"\n") {
            line.push(b'\n');
        }
        Ok(line)
    }
    fn signed_line(&self, record: &SignedRecord) -> Vec<u8> {
        format!("{{\"_signature\":{}}}\n", record.to_json()).into_bytes()
    }
    fn parse(&self, _text: &str) -> Result<Option<Entry>, String> {
        Ok(None)
    }
}

/// JSON lines; sealed records end with `"_integrity":{"seq":"N","mac":"<hex>"}`
/// and the MAC covers the record's other members (name, raw JSON text),
/// in order. Signed records are `{"_signature":{…}}` lines.
#[derive(Debug, Default)]
pub struct JsonLines;

/// The member sealed JSON lines end with.
pub const INTEGRITY_MEMBER: &str = "_integrity";
/// The member of a signed record's line.
pub const SIGNATURE_MEMBER: &str = "_signature";

impl LineCodec for JsonLines {
    fn passes_records_through(&self) -> bool {
        true
    }
    fn data_line(&self, record: &[u8], chain: Option<&mut Chain>) -> std::io::Result<Vec<u8>> {
        let Some(chain) = chain else { return RawLines.data_line(record, None) };
        let text = std::str::from_utf8(record).map_err(std::io::Error::other)?.trim_end();
        let members =
            crate::integrity::members(text).map_err(|e| std::io::Error::other(format!("a sealed record must be a JSON object: {e}")))?;
        let fields: Vec<(&str, &[u8])> = members.iter().map(|(n, v)| (n.as_str(), v.get().as_bytes())).collect();
        let (seq, mac) = chain.seal(&fields);
        let body = text.strip_suffix('}').unwrap_or(text).trim_end();
        let comma = if members.is_empty() { "" } else { "," };
        Ok(format!("{body}{comma}\"{INTEGRITY_MEMBER}\":{{\"seq\":\"{seq}\",\"mac\":\"{}\"}}}}\n", hex::encode(mac)).into_bytes())
    }

    fn signed_line(&self, record: &SignedRecord) -> Vec<u8> {
        RawLines.signed_line(record)
    }

    fn parse(&self, text: &str) -> Result<Option<Entry>, String> {
        let members = crate::integrity::members(text).map_err(|e| format!("not a JSON object: {e}"))?;
        if let [(name, raw)] = members.as_slice()
            && name == SIGNATURE_MEMBER
        {
            return SignedRecord::from_json(raw.get()).map(|r| Some(Entry::Signed(r))).map_err(|e| e.to_string());
        }
        let Some(((last, integrity), rest)) = members.split_last() else { return Err("an empty object: no integrity data".into()) };
        if last != INTEGRITY_MEMBER {
            return Err(format!("the record has no `{INTEGRITY_MEMBER}` member last (it was not sealed by WASP, or was changed)"));
        }
        #[derive(serde::Deserialize)]
        struct Seal {
            seq: String,
            mac: String,
        }
        let seal: Seal = serde_json::from_str(integrity.get()).map_err(|e| format!("`{INTEGRITY_MEMBER}`: {e}"))?;
        let seq = seal.seq.parse().map_err(|_| format!("`{INTEGRITY_MEMBER}.seq` is not a number: {}", seal.seq))?;
        let mac = hex::decode(&seal.mac).ok().and_then(|m| m.try_into().ok()).ok_or("`_integrity.mac` is not 32 hex bytes")?;
        let fields = rest.iter().map(|(n, v)| (n.clone(), v.get().as_bytes().to_vec())).collect();
        Ok(Some(Entry::Data { seq, mac, fields }))
    }
}

/// CSV rows. A record is a JSON array of cell texts (the data columns);
/// sealed rows add `SEQ` and `HMAC` cells (the MAC covers column name and
/// cell of every data column) and an empty `SIGNATURE` cell; signed
/// records are rows whose only non-empty cell is `SIGNATURE` (the signed
/// record's JSON).
#[derive(Debug)]
pub struct CsvRows {
    /// The format.
    pub format: CsvFormat,
    /// The data columns.
    pub columns: Vec<String>,
    /// Whether rows are sealed (adds the integrity columns).
    pub secure: bool,
}

/// The columns a sealed CSV file adds after the data columns.
pub const CSV_INTEGRITY_COLUMNS: [&str; 3] = ["SEQ", "HMAC", "SIGNATURE"];

impl CsvRows {
    fn all_columns(&self) -> Vec<&str> {
        let mut all: Vec<&str> = self.columns.iter().map(String::as_str).collect();
        if self.secure {
            all.extend(CSV_INTEGRITY_COLUMNS);
        }
        all
    }
}

impl LineCodec for CsvRows {
    fn header(&self) -> Option<Vec<u8>> {
        Some(self.format.encode(&self.all_columns()).into_bytes())
    }

    fn data_line(&self, record: &[u8], chain: Option<&mut Chain>) -> std::io::Result<Vec<u8>> {
        let cells: Vec<String> = serde_json::from_slice(record)
            .map_err(|e| std::io::Error::other(format!("a CSV record must be a JSON array of strings: {e}")))?;
        if cells.len() != self.columns.len() {
            return Err(std::io::Error::other(format!("a CSV record has {} cells for {} columns", cells.len(), self.columns.len())));
        }
        let mut row: Vec<&str> = cells.iter().map(String::as_str).collect();
        let sealed;
        if let Some(chain) = chain {
            let fields: Vec<(&str, &[u8])> = self.columns.iter().zip(&cells).map(|(c, v)| (c.as_str(), v.as_bytes())).collect();
            let (seq, mac) = chain.seal(&fields);
            sealed = [seq.to_string(), hex::encode(mac)];
            row.extend(sealed.iter().map(String::as_str));
            row.push("");
        } else if self.secure {
            return Err(std::io::Error::other("a secure CSV file needs a chain"));
        }
        Ok(self.format.encode(&row).into_bytes())
    }

    fn signed_line(&self, record: &SignedRecord) -> Vec<u8> {
        let json = record.to_json();
        let mut row = vec![""; self.columns.len() + 2];
        row.push(&json);
        self.format.encode(&row).into_bytes()
    }

    fn parse(&self, text: &str) -> Result<Option<Entry>, String> {
        let mut with_end = text.to_owned();
        with_end.push_str(&self.format.end_of_line);
        let records = self.format.decode(&with_end).map_err(|e| e.to_string())?;
        let [record] = records.as_slice() else { return Err("not one CSV record".into()) };
        let cells = &record.cells;
        let all = self.all_columns();
        if cells.len() != all.len() {
            return Err(format!("{} cells where the header has {} columns", cells.len(), all.len()));
        }
        if cells.iter().zip(&all).all(|(c, h)| c == h) {
            return Ok(None);
        }
        let n = self.columns.len();
        let (data, integrity) = cells.split_at(n);
        if !integrity[2].is_empty() {
            if data.iter().chain(&integrity[..2]).any(|c| !c.is_empty()) {
                return Err("a signature row with other cells filled in".into());
            }
            return SignedRecord::from_json(&integrity[2]).map(|r| Some(Entry::Signed(r))).map_err(|e| e.to_string());
        }
        let seq = integrity[0].parse().map_err(|_| format!("SEQ is not a number: `{}`", integrity[0]))?;
        let mac = hex::decode(&integrity[1]).ok().and_then(|m| m.try_into().ok()).ok_or("HMAC is not 32 hex bytes")?;
        let fields = self.columns.iter().zip(data).map(|(c, v)| (c.clone(), v.as_bytes().to_vec())).collect();
        Ok(Some(Entry::Data { seq, mac, fields }))
    }

    fn split<'t>(&self, text: &'t str) -> Result<Vec<(usize, &'t str, bool)>, String> {
        let records = self.format.decode(text).map_err(|e| e.to_string())?;
        let eol = self.format.end_of_line.len();
        Ok(records
            .into_iter()
            .map(|r| {
                let end = if r.complete { r.range.end - eol } else { r.range.end };
                (r.line, &text[r.range.start..end], r.complete)
            })
            .collect())
    }
}
