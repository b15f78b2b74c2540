//! Names of rotated files: the `rotationFileSuffix` pattern (a subset of
//! Java's `SimpleDateFormat`, always in UTC), ForgeRock's
//! `<prefix><file name><suffix>` archive names, and finding the archives of
//! a file again by parsing those names back.
//!
//! Invariants: [`format_suffix`] and the parser read the same tokens, so
//! every name [`archive_name`] makes is listed by [`list_archives`] with the
//! time it was made (to the precision of the pattern); an archive name is
//! never the live file's name; `.gz` always stays last, after any `.N`
//! collision counter.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use cap_std::fs::Dir;

use super::RotationPolicy;

/// A date field of the pattern, with its fixed width in digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Year4,
    Year2,
    Month,
    Day,
    Hour,
    Minute,
    Second,
    Millis,
}

impl Field {
    fn from_run(letter: char, count: usize) -> Option<Field> {
        Some(match (letter, count) {
            ('y', 4) => Field::Year4,
            ('y', 2) => Field::Year2,
            ('M', 2) => Field::Month,
            ('d', 2) => Field::Day,
            ('H', 2) => Field::Hour,
            ('m', 2) => Field::Minute,
            ('s', 2) => Field::Second,
            ('S', 3) => Field::Millis,
            _ => return None,
        })
    }

    fn width(self) -> usize {
        match self {
            Field::Year4 => 4,
            Field::Millis => 3,
            _ => 2,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Literal(String),
    Field(Field),
}

const SUPPORTED: &str = "use yyyy, yy, MM, dd, HH, mm, ss, SSS, and quote text as in 'log'";

/// Splits a pattern into tokens. `strict` refuses what `validate_suffix`
/// refuses; otherwise unsupported letters and an unterminated quote are
/// copied as text. An unquoted `.gz` at the very end is text (`g` and `z`
/// would otherwise be pattern letters).
fn tokenize(pattern: &str, strict: bool) -> Result<Vec<Token>, String> {
    let (head, gz) = match pattern.strip_suffix(".gz") {
        Some(head) => (head, true),
        None => (pattern, false),
    };
    let mut tokens = Vec::new();
    let mut text = String::new();
    let chars: Vec<char> = head.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\'' {
            if chars.get(i + 1) == Some(&'\'') {
                text.push('\'');
                i += 2;
                continue;
            }
            // A quoted run: up to the next lone quote; `''` inside is one quote.
            let mut j = i + 1;
            let mut closed = false;
            while j < chars.len() {
                if chars[j] == '\'' {
                    if chars.get(j + 1) == Some(&'\'') {
                        text.push('\'');
                        j += 2;
                        continue;
                    }
                    closed = true;
                    break;
                }
                text.push(chars[j]);
                j += 1;
            }
            if !closed && strict {
                return Err(format!("`{pattern}`: unterminated quote"));
            }
            i = j + 1;
        } else if c.is_ascii_alphabetic() {
            let count = chars[i..].iter().take_while(|&&d| d == c).count();
            match Field::from_run(c, count) {
                Some(field) => {
                    if !text.is_empty() {
                        tokens.push(Token::Literal(std::mem::take(&mut text)));
                    }
                    tokens.push(Token::Field(field));
                }
                None if strict => {
                    let run: String = chars[i..i + count].iter().collect();
                    return Err(format!("`{pattern}`: unsupported pattern letters `{run}` ({SUPPORTED})"));
                }
                None => text.extend(&chars[i..i + count]),
            }
            i += count;
        } else {
            text.push(c);
            i += 1;
        }
    }
    if gz {
        text.push_str(".gz");
    }
    if !text.is_empty() {
        tokens.push(Token::Literal(text));
    }
    if strict && tokens.iter().any(|t| matches!(t, Token::Literal(l) if l.contains(['/', '\0']))) {
        return Err(format!("`{pattern}`: must not contain `/` (archives stay next to the file)"));
    }
    Ok(tokens)
}

fn tokens(pattern: &str) -> Vec<Token> {
    tokenize(pattern, false).unwrap_or_default()
}

/// Whether the formatted pattern ends with `.gz`.
pub(super) fn suffix_is_gzip(pattern: &str) -> bool {
    matches!(tokens(pattern).last(), Some(Token::Literal(l)) if l.ends_with(".gz"))
}

/// Checks a `rotationFileSuffix` pattern: only `yyyy`, `yy`, `MM`, `dd`,
/// `HH`, `mm`, `ss` and `SSS` as fields, quotes closed, no `/`. The message
/// names what is wrong (for example the unsupported letters).
pub fn validate_suffix(pattern: &str) -> Result<(), String> {
    tokenize(pattern, true).map(drop)
}

/// A moment split into UTC calendar fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Civil {
    year: i64,
    month: u32,
    day: u32,
    hour: u32,
    minute: u32,
    second: u32,
    millis: u32,
}

const MS_PER_DAY: i128 = 86_400_000;

fn millis_since_epoch(t: SystemTime) -> i128 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_millis() as i128,
        Err(before) => -(before.duration().as_millis() as i128),
    }
}

fn from_millis_since_epoch(ms: i128) -> Option<SystemTime> {
    let abs = Duration::from_millis(u64::try_from(ms.unsigned_abs()).ok()?);
    if ms >= 0 { UNIX_EPOCH.checked_add(abs) } else { UNIX_EPOCH.checked_sub(abs) }
}

/// Days since 1970-01-01 of the UTC day holding `t`, and the milliseconds
/// into that day.
fn day_and_millis(t: SystemTime) -> (i64, u64) {
    let ms = millis_since_epoch(t);
    (ms.div_euclid(MS_PER_DAY) as i64, ms.rem_euclid(MS_PER_DAY) as u64)
}

/// (year, month, day) of a day counted from 1970-01-01 (proleptic Gregorian;
/// H. Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(month <= 2), month, day)
}

/// Days from 1970-01-01 to (year, month, day); the inverse of
/// [`civil_from_days`].
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = year - i64::from(month <= 2);
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = i64::from((month + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        4 | 6 | 9 | 11 => 30,
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        _ => 31,
    }
}

fn civil(t: SystemTime) -> Civil {
    let (days, ms) = day_and_millis(t);
    let (year, month, day) = civil_from_days(days);
    let secs = (ms / 1000) as u32;
    Civil { year, month, day, hour: secs / 3600, minute: secs / 60 % 60, second: secs % 60, millis: (ms % 1000) as u32 }
}

/// Formats `t` in UTC with a `rotationFileSuffix` pattern
/// (`-yyyy.MM.dd-HH.mm.ss` gives `-2026.11.22-06.05.04`). Check the pattern
/// with [`validate_suffix`] first: here, unsupported letters are copied as
/// they are.
pub fn format_suffix(pattern: &str, t: SystemTime) -> String {
    let c = civil(t);
    let mut out = String::new();
    for token in tokens(pattern) {
        match token {
            Token::Literal(text) => out.push_str(&text),
            Token::Field(Field::Year4) => out.push_str(&format!("{:04}", c.year)),
            Token::Field(Field::Year2) => out.push_str(&format!("{:02}", c.year.rem_euclid(100))),
            Token::Field(f) => {
                let value = match f {
                    Field::Month => c.month,
                    Field::Day => c.day,
                    Field::Hour => c.hour,
                    Field::Minute => c.minute,
                    Field::Second => c.second,
                    _ => c.millis,
                };
                out.push_str(&format!("{value:0width$}", width = f.width()));
            }
        }
    }
    out
}

/// `live` split into its directory part (with the trailing `/`, or empty)
/// and its file name.
fn split_live(live: &str) -> (&str, &str) {
    match live.rfind('/') {
        Some(i) => live.split_at(i + 1),
        None => ("", live),
    }
}

/// The name the live file gets when it is rotated at `t`:
/// `<prefix><file name><suffix formatted at t>`, in the live file's
/// directory (`live` may be a path such as `logs/access.audit.json`; the
/// prefix goes in front of the file name). When the suffix ends with `.gz`
/// the `.gz` stays last. If that name is taken (`exists` says so) or would
/// be the live file's own name, `.1`, `.2`, … is added before any `.gz`:
/// `access.audit.json-2026.11.22-10.00.00.1.gz`.
///
/// Names are never reused and always sort after `after`, the previous
/// archive (the newest one on disk, or the one made last, even if
/// retention deleted it since): a second rotation within the suffix's
/// resolution gets the next counter, not a name retention freed, and a
/// clock that stepped back reuses `after`'s time with the next counter.
/// So archives sort in the order they were made, and a chain's `start`
/// and `retention` records name each file unambiguously.
pub fn archive_name(live: &str, policy: &RotationPolicy, t: SystemTime, after: Option<&str>, exists: impl Fn(&str) -> bool) -> String {
    let (parent, file) = split_live(live);
    let stem = stem_tokens(policy);
    let key = |name: &str| parse_archive(split_live(name).1, file, policy, &stem);
    let after = after.and_then(key);
    let name = |t: SystemTime, n: u64| {
        let formatted = format_suffix(&policy.suffix, t);
        let (stem, ext) = match formatted.strip_suffix(".gz") {
            Some(stem) if policy.gzip() => (stem.to_owned(), ".gz"),
            _ => (formatted.clone(), ""),
        };
        let base = format!("{parent}{}{file}{stem}", policy.prefix);
        if n == 0 { format!("{base}{ext}") } else { format!("{base}.{n}{ext}") }
    };
    let mut t = t;
    if let (Some((before, _)), Some((now, _))) = (after, key(&name(t, 0)))
        && now < before
    {
        tracing::warn!("the clock is behind the newest archive: the next archive takes that archive's time with a higher counter");
        t = before;
    }
    let mut n: u64 = 0;
    loop {
        let candidate = name(t, n);
        let sorts_after = match (after, key(&candidate)) {
            (Some(after), Some(this)) => this > after,
            _ => true,
        };
        if candidate != live && sorts_after && !exists(&candidate) {
            return candidate;
        }
        n += 1;
    }
}

/// The suffix pattern's tokens as an archive name holds them (without a
/// trailing `.gz`, which [`parse_archive`] strips itself).
fn stem_tokens(policy: &RotationPolicy) -> Vec<Token> {
    let mut stem = tokens(&policy.suffix);
    if policy.gzip()
        && let Some(Token::Literal(last)) = stem.last_mut()
    {
        last.truncate(last.len() - ".gz".len());
        if last.is_empty() {
            stem.pop();
        }
    }
    stem
}

/// A rotated file of a live file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Archive {
    /// Its name, usable with the same `Dir` as the live file (with the live
    /// file's directory part, if `live` had one).
    pub name: String,
    /// Its size in bytes.
    pub len: u64,
    /// When it was rotated, read back from its name (fields the suffix
    /// pattern lacks count as their smallest value: with `-yyyy.MM.dd`,
    /// midnight UTC).
    pub time: SystemTime,
}

/// The time in `name`'s suffix part and the `.N` counter, if `name` is an
/// archive of the file named `file` (without directory).
fn parse_archive(name: &str, file: &str, policy: &RotationPolicy, stem: &[Token]) -> Option<(SystemTime, u64)> {
    if name == file {
        return None;
    }
    let mut rest = name.strip_prefix(policy.prefix.as_str())?.strip_prefix(file)?;
    let mut c = Civil { year: 1970, month: 1, day: 1, hour: 0, minute: 0, second: 0, millis: 0 };
    for token in stem {
        match token {
            Token::Literal(text) => rest = rest.strip_prefix(text.as_str())?,
            Token::Field(field) => {
                let digits = rest.get(..field.width()).filter(|d| d.bytes().all(|b| b.is_ascii_digit()))?;
                rest = &rest[field.width()..];
                let value: u32 = digits.parse().ok()?;
                match field {
                    Field::Year4 => c.year = i64::from(value),
                    Field::Year2 => c.year = 2000 + i64::from(value),
                    Field::Month => c.month = value,
                    Field::Day => c.day = value,
                    Field::Hour => c.hour = value,
                    Field::Minute => c.minute = value,
                    Field::Second => c.second = value,
                    Field::Millis => c.millis = value,
                }
            }
        }
    }
    let rest = rest.strip_suffix(".gz").unwrap_or(rest);
    let counter = match rest {
        "" => 0,
        _ => {
            let digits = rest.strip_prefix('.')?;
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            digits.parse().ok()?
        }
    };
    let valid = (1..=12).contains(&c.month)
        && (1..=days_in_month(c.year, c.month)).contains(&c.day)
        && c.hour < 24
        && c.minute < 60
        && c.second < 60;
    if !valid {
        return None;
    }
    let secs = i128::from(c.hour * 3600 + c.minute * 60 + c.second);
    let ms = i128::from(days_from_civil(c.year, c.month, c.day)) * MS_PER_DAY + secs * 1000 + i128::from(c.millis);
    Some((from_millis_since_epoch(ms)?, counter))
}

/// The archives of `live` in `dir`: every regular file whose name is
/// `<prefix><live><suffix>`, with the suffix's date fields where the
/// pattern puts them, optionally followed by a `.N` counter and `.gz` (an
/// archive of a `.gz` suffix not yet compressed counts too). Sorted oldest
/// first, by the time in the name, then the counter. The live file and
/// names that do not match are left out. If `live` is a path, its directory
/// is listed and the names keep that directory part.
pub fn list_archives(dir: &Dir, live: &str, policy: &RotationPolicy) -> std::io::Result<Vec<Archive>> {
    let (parent, file) = split_live(live);
    let stem = stem_tokens(policy);
    let sub;
    let listed = if parent.is_empty() {
        dir
    } else {
        sub = dir.open_dir(parent.trim_end_matches('/'))?;
        &sub
    };
    let mut found = Vec::new();
    for entry in listed.entries()? {
        let entry = entry?;
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
        let Some((time, counter)) = parse_archive(&name, file, policy, &stem) else {
            continue;
        };
        let metadata = match entry.metadata() {
            Ok(m) => m,
            // Deleted while we were listing: no longer an archive.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        if !metadata.is_file() {
            continue;
        }
        found.push((time, counter, Archive { name: format!("{parent}{name}"), len: metadata.len(), time }));
    }
    found.sort_by(|a, b| (a.0, a.1, &a.2.name).cmp(&(b.0, b.1, &b.2.name)));
    Ok(found.into_iter().map(|(_, _, archive)| archive).collect())
}

#[cfg(test)]
pub(super) fn civil_roundtrip(days: i64) -> i64 {
    let (y, m, d) = civil_from_days(days);
    days_from_civil(y, m, d)
}
