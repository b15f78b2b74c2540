//! Rotation and retention policy for file outputs, following ForgeRock's
//! common audit file handlers (`fileRotation`, `fileRetention` and
//! `rotationRetentionCheckInterval` in a `JsonAuditEventHandler` or
//! `CsvAuditEventHandler` configuration).
//!
//! This module decides; it does not write records. A file sink uses it to
//! ask *when* to rotate ([`due`], [`size_due`], [`next_time_rotation`]),
//! *what* to call the rotated file ([`archive_name`]), *which* earlier
//! archives exist ([`list_archives`]) and *which* of them to delete
//! ([`select_for_deletion`], with [`free_space`]); [`gzip_archive`]
//! compresses an archive in place when the suffix ends with `.gz`.
//!
//! Invariants:
//! - A policy built by [`RotationPolicy::from_settings`] or
//!   [`RetentionPolicy::from_settings`] is valid: the suffix pattern is
//!   supported, no rotation time reaches 24 hours, the interval is not zero,
//!   and archive names never contain a path separator. A typo in a setting's
//!   name is an error, never silently ignored.
//! - Times are UTC; the suffix is formatted and parsed back without any
//!   local time zone, so archive names sort the same on every machine.
//! - An archive name never equals the live file's name, and rotation never
//!   replaces an existing archive (a collision gets a `.1`, `.2`, … counter).
//! - Retention deletes archives only, oldest first; the live file is never
//!   selected.
//! - Nothing here panics on user input or on the clock.

mod naming;
mod retention;
mod schedule;
pub(crate) mod settings;
#[cfg(test)]
mod tests;

use std::time::Duration;

pub use naming::{Archive, archive_name, format_suffix, list_archives, validate_suffix};
pub use retention::{free_space, gzip_archive, select_for_deletion};
pub use schedule::{Clock, ManualClock, SystemClock, due, next_time_rotation, size_due};

/// The suffix used when `rotationFileSuffix` is not set.
pub const DEFAULT_SUFFIX: &str = "-yyyy.MM.dd-HH.mm.ss";

/// How often rotation and retention are checked when
/// `rotationRetentionCheckInterval` is not set.
pub const DEFAULT_CHECK_INTERVAL: Duration = Duration::from_secs(5);

/// When a file output starts a new file (the `fileRotation` settings, plus
/// `rotationRetentionCheckInterval`).
///
/// ```json
/// "fileRotation": {
///   "rotationEnabled": true,
///   "maxFileSize": 1048576,
///   "rotationFileSuffix": "-yyyy.MM.dd-HH.mm.ss",
///   "rotationTimes": ["0 hours"]
/// }
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct RotationPolicy {
    /// `rotationEnabled`: whether the file is rotated at all (`true`,
    /// `false`, or the strings `"true"`, `"false"`). Default: `false`.
    pub enabled: bool,
    /// `maxFileSize`: rotate before a record would make the file larger
    /// than this many bytes (a number, or a string such as `"1048576"` or
    /// `"64 MiB"`). A record is never split: one larger than the limit goes
    /// alone into a fresh file. `0` or less turns size rotation off (the
    /// default).
    pub max_file_size: Option<u64>,
    /// `rotationFilePrefix`: put in front of the file's name when it is
    /// rotated (`"old-"` turns `access.audit.json` into
    /// `old-access.audit.json-2026.11.22-06.00.00`). Must not contain `/`.
    /// Default: none.
    pub prefix: String,
    /// `rotationFileSuffix`: appended to the file's name when it is
    /// rotated, a Java `SimpleDateFormat` pattern formatted in UTC. Supported
    /// fields: `yyyy` (year), `yy` (year in the century), `MM` (month),
    /// `dd` (day), `HH` (hour 00-23), `mm` (minute), `ss` (second), `SSS`
    /// (millisecond); text between single quotes is copied as is (`''` is one
    /// quote); other letters are refused; other characters are copied.
    /// Ending the suffix with `.gz` compresses archives with gzip. Default:
    /// `-yyyy.MM.dd-HH.mm.ss`.
    pub suffix: String,
    /// `rotationInterval`: rotate this long after the file was started (a
    /// duration such as `"6 hours"`, `"10 seconds"`, `"100 ms"`, `"1 m"`;
    /// a bare number is milliseconds). Must not be zero; `"disabled"` or no
    /// value turns interval rotation off.
    pub interval: Option<Duration>,
    /// `rotationTimes`: rotate at these times of day, each a duration after
    /// midnight UTC (`["6 hours", "12 hours"]` rotates at 06:00 and 12:00
    /// UTC; `["0 hours"]` at midnight). Each must be less than 24 hours.
    /// Kept sorted, without duplicates. Default: none.
    pub times: Vec<Duration>,
    /// `rotationRetentionCheckInterval` (at the top level of the handler's
    /// `config`, or inside `fileRetention`): how often the time-based
    /// rotation and the retention policies are checked. Must not be zero.
    /// Default: 5 seconds.
    pub check_interval: Duration,
}

impl Default for RotationPolicy {
    /// Rotation off, with ForgeRock's defaults for everything else.
    fn default() -> Self {
        RotationPolicy {
            enabled: false,
            max_file_size: None,
            prefix: String::new(),
            suffix: DEFAULT_SUFFIX.to_owned(),
            interval: None,
            times: Vec::new(),
            check_interval: DEFAULT_CHECK_INTERVAL,
        }
    }
}

impl RotationPolicy {
    /// Whether rotated files are compressed with gzip: the suffix ends with
    /// `.gz` (quoted or not).
    pub fn gzip(&self) -> bool {
        naming::suffix_is_gzip(&self.suffix)
    }

    /// Whether the file rotates on a schedule (an interval or times of day),
    /// so that a sink must check [`due`] every
    /// [`check_interval`](Self::check_interval).
    pub fn is_time_based(&self) -> bool {
        self.enabled && (self.interval.is_some() || !self.times.is_empty())
    }
}

/// Which rotated files (archives) are deleted (the `fileRetention`
/// settings). The policies add up: an archive is deleted when any of them
/// asks for it, oldest first. The live file is never deleted.
///
/// ```json
/// "fileRetention": {
///   "maxNumberOfHistoryFiles": 60,
///   "maxDiskSpaceToUse": "1 GiB",
///   "minFreeSpaceRequired": 104857600
/// }
/// ```
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RetentionPolicy {
    /// `maxNumberOfHistoryFiles`: keep at most this many archives. `-1`
    /// keeps them all; so does `0`, ForgeRock's default (no count policy).
    pub max_history_files: Option<u64>,
    /// `maxDiskSpaceToUse`: the archives and the live file together may take
    /// at most this many bytes (a number, or a string such as `"1 GiB"`);
    /// the oldest archives are deleted until they fit. `0` or less turns the
    /// policy off (the default).
    pub max_disk_space: Option<u64>,
    /// `minFreeSpaceRequired`: when the file system holding the files has
    /// less than this many bytes free, the oldest archives are deleted until
    /// it has enough (or none is left). `0` or less turns the policy off
    /// (the default).
    pub min_free_space: Option<u64>,
}

impl RetentionPolicy {
    /// Whether any retention policy is set (otherwise archives are kept
    /// forever).
    pub fn is_enabled(&self) -> bool {
        self.max_history_files.is_some() || self.max_disk_space.is_some() || self.min_free_space.is_some()
    }
}

/// A setting that cannot be used: `path` names it as written
/// (`fileRotation.rotationTimes[1]`), `message` says what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct SettingsError {
    /// Where the setting is, as a JSON path from the handler's `config`.
    pub path: String,
    /// What is wrong with it.
    pub message: String,
}

impl SettingsError {
    pub(crate) fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        SettingsError { path: path.into(), message: message.into() }
    }
}
