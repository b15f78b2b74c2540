//! Verifying the files of one tamper-evident output, in order: the
//! archives oldest first (gzipped ones too), then the live file.

use std::path::Path;

use cap_std::ambient_authority;
use cap_std::fs::Dir;

use super::codec::LineCodec;
use crate::integrity::IntegrityKeys;
use crate::integrity::verify::Verifier;
use crate::outputs::rotation::RotationPolicy;
use crate::outputs::rotation::list_archives;

/// What became of one file.
#[derive(Debug, Clone, PartialEq)]
pub struct FileReport {
    /// The file's name.
    pub name: String,
    /// Data records checked.
    pub records: u64,
    /// `Ok` with an optional note, or the first bad line (1-based; 0: the
    /// file as a whole) and why.
    pub result: Result<Option<String>, (usize, String)>,
}

impl FileReport {
    /// Whether the file passed.
    pub fn passed(&self) -> bool {
        self.result.is_ok()
    }
}

/// Why the columns of a sealed CSV output could not be read.
#[derive(Debug, thiserror::Error)]
pub enum CsvColumnsError {
    /// The directory or a file could not be read.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// The output has no file yet.
    #[error("no file")]
    NoFile,
    /// The first file is not a tamper-evident CSV file.
    #[error("{file}: {reason}")]
    NotSealed {
        /// The file's name.
        file: String,
        /// What is wrong with it.
        reason: String,
    },
}

/// The data columns of a sealed CSV output (without the integrity columns),
/// from the header of its first file.
pub fn csv_columns(
    dir: &Path,
    live: &str,
    naming: &RotationPolicy,
    format: &crate::outputs::csv::CsvFormat,
) -> Result<Vec<String>, CsvColumnsError> {
    use super::codec::CSV_INTEGRITY_COLUMNS;
    let handle = Dir::open_ambient_dir(dir, ambient_authority())?;
    let files = files_in(&handle, live, naming)?;
    let (first, _) = files.first().ok_or(CsvColumnsError::NoFile)?;
    let not_sealed = |reason: String| CsvColumnsError::NotSealed { file: first.clone(), reason };
    let text = super::read_text(&handle, first)?;
    let records = format.decode(&text).map_err(|e| not_sealed(e.to_string()))?;
    let header = records.first().ok_or_else(|| not_sealed("the file is empty".into()))?;
    let columns = &header.cells;
    if !columns.ends_with(&CSV_INTEGRITY_COLUMNS.map(String::from)) {
        let expected = CSV_INTEGRITY_COLUMNS.join(", ");
        return Err(not_sealed(format!("the header does not end with {expected} (not a tamper-evident CSV file)")));
    }
    Ok(columns[..columns.len() - CSV_INTEGRITY_COLUMNS.len()].to_vec())
}

/// The files of the output whose live file is `live` in `dir`, in chain
/// order (archives oldest first, then the live file if it exists), with
/// their sizes.
pub fn files_in_order(dir: &Path, live: &str, naming: &RotationPolicy) -> std::io::Result<Vec<(String, u64)>> {
    files_in(&Dir::open_ambient_dir(dir, ambient_authority())?, live, naming)
}

/// [`files_in_order`] in an opened directory (a capability, such as a
/// tenant's log directory opened through its output root).
pub fn files_in(handle: &Dir, live: &str, naming: &RotationPolicy) -> std::io::Result<Vec<(String, u64)>> {
    let mut files: Vec<(String, u64)> = list_archives(handle, live, naming)?.into_iter().map(|a| (a.name, a.len)).collect();
    if let Ok(meta) = handle.metadata(live) {
        files.push((live.to_owned(), meta.len()));
    }
    Ok(files)
}

/// Verifies every file of the output (see [`files_in_order`]). `open`
/// accepts an unsigned tail in the live file (a service still writing it).
/// `progress` is told each file's size once it is checked.
pub fn verify_files(
    dir: &Path,
    live: &str,
    codec: &dyn LineCodec,
    naming: &RotationPolicy,
    keys: &IntegrityKeys,
    open: bool,
    mut progress: impl FnMut(u64),
) -> std::io::Result<Vec<FileReport>> {
    let handle = Dir::open_ambient_dir(dir, ambient_authority())?;
    let files = files_in_order(dir, live, naming)?;
    let mut verifier = Verifier::new(keys);
    let mut reports = Vec::new();
    for (name, size) in files {
        verifier.begin_file();
        let text = super::recover::read_text(&handle, &name)?;
        let result = check_file(&mut verifier, &name, &text, codec, name == live, open);
        reports.push(FileReport { name, records: verifier.records, result });
        progress(size);
    }
    if let Err((first, why)) = verifier.finish()
        && let Some(report) = reports.iter_mut().find(|r| r.name == first)
        && report.result.is_ok()
    {
        report.result = Err((0, why.to_string()));
    }
    Ok(reports)
}

fn check_file(
    verifier: &mut Verifier<'_>,
    name: &str,
    text: &str,
    codec: &dyn LineCodec,
    live: bool,
    open: bool,
) -> Result<Option<String>, (usize, String)> {
    let records = codec.split(text).map_err(|e| (0, e))?;
    for (line, record, complete) in records {
        if !complete {
            if live && open {
                break; // being written right now
            }
            return Err((line, "a partial last record (the file was cut in the middle of a record)".into()));
        }
        let entry = match codec.parse(record) {
            Ok(Some(entry)) => entry,
            Ok(None) => continue,
            Err(e) => {
                verifier.fail();
                return Err((line, e));
            }
        };
        verifier.entry(name, entry).map_err(|e| (line, e.to_string()))?;
    }
    verifier.end_file(live, open).map_err(|e| (0, e.to_string()))
}
