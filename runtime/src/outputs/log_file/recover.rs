//! Reading a log file back when it is opened: cutting a torn last record,
//! and finding the chain state (and the file before it) to continue from.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use cap_std::fs::Dir;

use super::codec::LineCodec;
use super::{Checkpoint, LogOptions};
use crate::integrity::verify::Entry;
use crate::integrity::{ChainState, RecordKind};
use crate::outputs::rotation::list_archives;

/// What an opened file continues from.
#[derive(Debug)]
pub(super) struct Recovered {
    /// The chain state at the end of the file (or of the newest archive,
    /// for a new file).
    pub state: ChainState,
    /// For a new file: the newest archive's name ("" if none).
    pub previous: String,
    /// Data records after the last signed record.
    pub unsigned: u64,
}

/// Cuts a torn last record and reads the state to continue from.
pub(super) fn open_state(
    file: &mut File,
    codec: &dyn LineCodec,
    dir: &Dir,
    name: &Path,
    options: &LogOptions,
) -> std::io::Result<Recovered> {
    let mut text = String::new();
    file.seek(SeekFrom::Start(0))?;
    file.read_to_string(&mut text).map_err(|e| std::io::Error::other(format!("{}: {e}", name.display())))?;
    let mut records = codec.split(&text).map_err(|e| std::io::Error::other(format!("{}: {e}", name.display())))?;
    if let Some((_, torn, false)) = records.last() {
        let keep = torn.as_ptr() as usize - text.as_ptr() as usize;
        tracing::warn!(file = %name.display(), "cutting a partial last record of {} bytes (its events will be delivered again)", text.len() - keep);
        file.set_len(keep as u64)?;
        records.pop();
    }
    if options.integrity.is_none() {
        return Ok(Recovered { state: ChainState::GENESIS, previous: String::new(), unsigned: 0 });
    }
    if !records.is_empty() {
        let (state, unsigned) = state_of(codec, &records)?.ok_or_else(|| {
            std::io::Error::other(format!(
                "{} has no integrity records: it was not written by a tamper-evident output (move it away to start a new chain)",
                name.display()
            ))
        })?;
        return Ok(Recovered { state, previous: String::new(), unsigned });
    }
    let live = name.to_string_lossy();
    let archives = list_archives(dir, &live, &options.rotation)?;
    match archives.last() {
        None => Ok(Recovered { state: ChainState::GENESIS, previous: String::new(), unsigned: 0 }),
        Some(newest) => {
            let text = read_text(dir, &newest.name)?;
            let (state, _) = last_state(codec, &text)?
                .ok_or_else(|| std::io::Error::other(format!("the archive {} has no integrity records", newest.name)))?;
            Ok(Recovered { state, previous: newest.name.clone(), unsigned: 0 })
        }
    }
}

/// The chain state at the end of `text`, and how many data records follow
/// the last signed one. `None`: no integrity records at all.
fn last_state(codec: &dyn LineCodec, text: &str) -> std::io::Result<Option<(ChainState, u64)>> {
    state_of(codec, &codec.split(text).map_err(std::io::Error::other)?)
}

/// [`last_state`] of records already split.
fn state_of(codec: &dyn LineCodec, records: &[(usize, &str, bool)]) -> std::io::Result<Option<(ChainState, u64)>> {
    let mut state = None;
    let mut unsigned = 0;
    for (line, record, _) in records.iter().rev() {
        match codec.parse(record).map_err(|e| std::io::Error::other(format!("line {line}: {e}")))? {
            Some(Entry::Data { seq, mac, .. }) => {
                state.get_or_insert(ChainState { seq, head: mac });
                unsigned += 1;
            }
            Some(Entry::Signed(signed)) if signed.kind != RecordKind::Retention => {
                if state.is_none() {
                    state = signed.state();
                }
                break;
            }
            _ => {}
        }
    }
    Ok(state.map(|s| (s, unsigned)))
}

/// A file's text (gunzipped when its name ends with `.gz`).
pub fn read_text(dir: &Dir, name: &str) -> std::io::Result<String> {
    let file = dir.open(name)?.into_std();
    let mut text = String::new();
    if name.ends_with(".gz") {
        flate2::read::MultiGzDecoder::new(file).read_to_string(&mut text)?;
    } else {
        std::io::BufReader::new(file).read_to_string(&mut text)?;
    }
    Ok(text)
}

/// The chain state an archive ends at (what a retention record keeps).
pub(super) fn final_state_of(dir: &Dir, name: &str, codec: &dyn LineCodec) -> std::io::Result<ChainState> {
    let text = read_text(dir, name)?;
    last_state(codec, &text)?.map(|(s, _)| s).ok_or_else(|| std::io::Error::other(format!("the archive {name} has no integrity records")))
}

/// Reads a checkpoint (`None` when there is none yet).
pub(super) fn read_checkpoint(checkpoint: &Checkpoint) -> std::io::Result<Option<ChainState>> {
    let text = match checkpoint.dir.read_to_string(&checkpoint.name) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let bad = || std::io::Error::other(format!("{}: not a checkpoint (`{{\"seq\": N, \"head\": \"<hex>\"}}`)", checkpoint.shown.display()));
    let doc: serde_json::Value = serde_json::from_str(&text).map_err(|_| bad())?;
    let seq = doc.get("seq").and_then(serde_json::Value::as_u64).ok_or_else(bad)?;
    let head =
        doc.get("head").and_then(|h| h.as_str()).and_then(|h| hex::decode(h).ok()).and_then(|h| h.try_into().ok()).ok_or_else(bad)?;
    Ok(Some(ChainState { seq, head }))
}

/// Saves a checkpoint atomically (temporary file, rename), inside its
/// directory capability.
pub(super) fn write_checkpoint(checkpoint: &Checkpoint, state: ChainState) -> std::io::Result<()> {
    let tmp = format!("{}.tmp", checkpoint.name.strip_suffix(".state").unwrap_or(&checkpoint.name));
    checkpoint.dir.write(&tmp, serde_json::json!({"seq": state.seq, "head": state.head_hex()}).to_string())?;
    checkpoint.dir.rename(&tmp, &checkpoint.dir, &checkpoint.name)
}
