//! Which archives to delete (`maxNumberOfHistoryFiles`,
//! `maxDiskSpaceToUse`, `minFreeSpaceRequired`), the free space they are
//! measured against, and compressing an archive with gzip.
//!
//! Invariants: deletion is always of the oldest archives first, never of
//! the live file, and never of more archives than there are; the policies
//! add up (an archive goes when any policy wants it gone). Compression never
//! loses data: until the compressed file is complete, synced and in place,
//! the uncompressed archive is untouched, and on failure the temporary file
//! is removed.

use std::io::{self, BufWriter, Write};

use cap_std::fs::{Dir, File, OpenOptions};
use flate2::Compression;
use flate2::write::GzEncoder;

use super::{Archive, RetentionPolicy};

/// The archives to delete, oldest first, given the archives of one live
/// file (`archives`, oldest first as [`list_archives`](super::list_archives)
/// returns them), the live file's length, and the free space of the file
/// system (`None` when unknown: the minimum-free-space policy then deletes
/// nothing).
///
/// - `maxNumberOfHistoryFiles`: at most that many archives are kept.
/// - `maxDiskSpaceToUse`: the oldest archives go until the archives left
///   and the live file fit in the limit (or none is left).
/// - `minFreeSpaceRequired`: the oldest archives go until the free space
///   plus the space they free reaches the minimum (or none is left).
pub fn select_for_deletion(archives: &[Archive], live_len: u64, policy: &RetentionPolicy, free_space: Option<u64>) -> Vec<String> {
    // Every policy deletes a run of the oldest archives; their union is the
    // longest run.
    let by_count = policy.max_history_files.map_or(0, |keep| archives.len().saturating_sub(usize::try_from(keep).unwrap_or(usize::MAX)));
    let by_disk = policy.max_disk_space.map_or(0, |max| {
        let mut used = archives.iter().fold(live_len, |sum, a| sum.saturating_add(a.len));
        archives
            .iter()
            .take_while(|a| {
                let over = used > max;
                used -= a.len.min(used);
                over
            })
            .count()
    });
    let by_free = match (policy.min_free_space, free_space) {
        (Some(min), Some(free)) => {
            let mut free = free;
            archives
                .iter()
                .take_while(|a| {
                    let short = free < min;
                    free = free.saturating_add(a.len);
                    short
                })
                .count()
        }
        _ => 0,
    };
    let n = by_count.max(by_disk).max(by_free).min(archives.len());
    archives[..n].iter().map(|a| a.name.clone()).collect()
}

/// The space available to this process on the file system holding `dir`,
/// in bytes (available blocks × fragment size, as `df` shows it).
pub fn free_space(dir: &Dir) -> io::Result<u64> {
    let stat = rustix::fs::fstatvfs(dir)?;
    Ok(stat.f_bavail.saturating_mul(stat.f_frsize))
}

/// Compresses the file `from` into `to` (both in `dir`) with gzip and
/// returns the compressed length. The data goes to a temporary file next to
/// `to`, which is synced to disk and then renamed to `to`; only then is
/// `from` removed. `to` must not exist (an earlier archive is never
/// replaced). On any error `from` is left as it was and the temporary file
/// is removed.
pub fn gzip_archive(dir: &Dir, from: &str, to: &str) -> io::Result<u64> {
    if from == to {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, format!("cannot compress `{from}` into itself")));
    }
    if dir.try_exists(to)? {
        return Err(io::Error::new(io::ErrorKind::AlreadyExists, format!("`{to}` already exists")));
    }
    let mut source = dir.open(from)?;
    let (temp_name, temp) = create_temp(dir, to)?;
    let compressed = compress(&mut source, temp).and_then(|len| {
        if dir.try_exists(to)? {
            return Err(io::Error::new(io::ErrorKind::AlreadyExists, format!("`{to}` already exists")));
        }
        dir.rename(&temp_name, dir, to)?;
        Ok(len)
    });
    let len = match compressed {
        Ok(len) => len,
        Err(e) => {
            // Best effort: the error that matters is `e`.
            let _ = dir.remove_file(&temp_name);
            return Err(e);
        }
    };
    drop(source);
    if let Err(e) = dir.remove_file(from) {
        // Keep one copy only: the uncompressed one, as it was.
        let _ = dir.remove_file(to);
        return Err(e);
    }
    // Make the rename and the removal durable; some file systems cannot
    // sync a directory, and the data itself is already synced.
    let _ = rustix::fs::fsync(dir);
    Ok(len)
}

/// Writes `source` gzip-compressed into `out`, syncs it, and returns the
/// compressed length.
fn compress(source: &mut File, out: File) -> io::Result<u64> {
    let mut encoder = GzEncoder::new(BufWriter::new(out), Compression::default());
    io::copy(source, &mut encoder)?;
    let mut buffered = encoder.finish()?;
    buffered.flush()?;
    let out = buffered.into_inner().map_err(|e| e.into_error())?;
    out.sync_all()?;
    Ok(out.metadata()?.len())
}

/// A new, empty temporary file next to `to`, named so that no archive
/// listing mistakes it for an archive (`.<name>.<n>.tmp`).
fn create_temp(dir: &Dir, to: &str) -> io::Result<(String, File)> {
    let (parent, file) = match to.rfind('/') {
        Some(i) => to.split_at(i + 1),
        None => ("", to),
    };
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    for n in 0..1000u32 {
        let name = format!("{parent}.{file}.{n}.tmp");
        match dir.open_with(&name, &options) {
            Ok(f) => return Ok((name, f)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::new(io::ErrorKind::AlreadyExists, format!("no free temporary name for `{to}`")))
}
