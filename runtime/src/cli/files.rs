//! `wasp keygen`, `wasp verify` and `wasp query`: the file outputs' tools.

use std::path::Path;
use std::process::ExitCode;

use super::{EXIT_INCOMPLETE, write_stdout};
use wasp::integrity::IntegrityKeys;
use wasp::outputs::csv::codec::CsvFormat;
use wasp::outputs::log_file::codec::{CsvRows, JsonLines, LineCodec};
use wasp::outputs::log_file::verify::{csv_columns, files_in_order, verify_files};
use wasp::outputs::rotation::RotationPolicy;

/// `wasp keygen --out FILE`.
pub(super) fn keygen(out: &Path) -> anyhow::Result<ExitCode> {
    let keys = IntegrityKeys::generate()?;
    keys.save(out)?;
    write_stdout(&format!("wrote {} (verifying key {})\n", out.display(), keys.verifying_key_base64()))?;
    Ok(ExitCode::SUCCESS)
}

/// `wasp journal verify DIR`: one line per stream; exit code 3 when the
/// journal is damaged (the message names the file, offset or handler).
pub(super) fn verify_journal(dir: &Path) -> anyhow::Result<ExitCode> {
    match wasp::journal::verify::verify(dir) {
        Ok(streams) => {
            let mut out = String::new();
            for s in &streams {
                let cursors: Vec<String> = s
                    .cursors
                    .iter()
                    .map(|(handler, at)| match at {
                        Some(at) => format!("{handler}@{at}"),
                        None => format!("{handler}@unreadable"),
                    })
                    .collect();
                let torn =
                    if s.torn_tail > 0 { format!(", a torn tail of {} bytes (cut at the next start)", s.torn_tail) } else { String::new() };
                out.push_str(&format!(
                    "OK {}: {} records {}..{} in {} segments{torn}; cursors {}; {} gap records\n",
                    s.dir.display(),
                    s.records,
                    s.first_seq,
                    s.last_seq,
                    s.segments,
                    if cursors.is_empty() { "none".to_owned() } else { cursors.join(", ") },
                    s.gaps
                ));
            }
            write_stdout(&out)?;
            Ok(ExitCode::SUCCESS)
        }
        Err(e @ wasp::journal::verify::VerifyError::NotAJournal(_)) => Err(e.into()),
        Err(e) => {
            write_stdout(&format!("FAIL {e}\n"))?;
            Ok(ExitCode::from(3))
        }
    }
}

/// What `wasp verify` was asked.
pub(super) struct VerifyArgs<'a> {
    pub dir: &'a Path,
    pub topic: &'a str,
    pub key: Option<&'a Path>,
    /// A ForgeRock log: the handler's keystore and its password.
    pub keystore: Option<(&'a Path, &'a str)>,
    pub prefix: &'a str,
    pub suffix: &'a str,
    pub quote: char,
    pub delimiter: char,
    pub open: bool,
}

/// `wasp verify DIR --topic T --key FILE`.
pub(super) fn verify(args: &VerifyArgs<'_>) -> anyhow::Result<ExitCode> {
    let naming = RotationPolicy { prefix: args.prefix.to_owned(), suffix: args.suffix.to_owned(), ..RotationPolicy::default() };
    let key = match (args.key, args.keystore) {
        (_, Some((keystore, password))) => {
            let format = CsvFormat { quote: args.quote, delimiter: args.delimiter, ..CsvFormat::default() };
            return super::forgerock::verify((args.dir, args.topic), format, (keystore, password), &naming);
        }
        (Some(key), None) => key,
        (None, None) => anyhow::bail!("--key or --keystore is required"),
    };
    let keys = IntegrityKeys::load(key)?;
    let json = format!("{}.audit.json", args.topic);
    let csv = format!("{}.csv", args.topic);
    let (live, codec): (String, Box<dyn LineCodec>) = if !files_in_order(args.dir, &json, &naming)?.is_empty() {
        (json, Box::new(JsonLines))
    } else if !files_in_order(args.dir, &csv, &naming)?.is_empty() {
        let format = CsvFormat { quote: args.quote, delimiter: args.delimiter, ..CsvFormat::default() };
        let columns = csv_columns(args.dir, &csv, &naming, &format)?;
        (csv, Box::new(CsvRows { format, columns, secure: true }))
    } else {
        anyhow::bail!("no `{json}` or `{csv}` (nor archives of them) in {}", args.dir.display());
    };
    let total: u64 = files_in_order(args.dir, &live, &naming)?.iter().map(|(_, size)| size).sum();
    let bar = indicatif::ProgressBar::with_draw_target(Some(total), indicatif::ProgressDrawTarget::stderr());
    bar.set_style(
        indicatif::ProgressStyle::with_template("{spinner} verifying [{bar:30}] {bytes}/{total_bytes} ({eta})")
            .map_err(anyhow::Error::msg)?
            .progress_chars("=> "),
    );
    if total < 64 << 20 {
        bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    let reports = verify_files(args.dir, &live, &*codec, &naming, &keys, args.open, |size| bar.inc(size))?;
    bar.finish_and_clear();
    let mut out = String::new();
    for report in &reports {
        match &report.result {
            Ok(note) => {
                out.push_str(&format!("PASS {} ({} records)", report.name, report.records));
                if let Some(note) = note {
                    out.push_str(&format!(": {note}"));
                }
                out.push('\n');
            }
            Err((0, why)) => out.push_str(&format!("FAIL {}: {why}\n", report.name)),
            Err((line, why)) => out.push_str(&format!("FAIL {} line {line}: {why}\n", report.name)),
        }
    }
    write_stdout(&out)?;
    Ok(if reports.iter().all(|r| r.passed()) { ExitCode::SUCCESS } else { ExitCode::from(EXIT_INCOMPLETE) })
}

/// `wasp query --config C [--tenant N] --topic T --filter F`.
pub(super) fn query(config: &Path, tenant: Option<&str>, topic: &str, request: &wasp::query::QueryRequest) -> anyhow::Result<ExitCode> {
    let config = wasp::Config::from_file(config)?;
    let page = wasp::handler_query::query(&config, tenant, topic, request)?;
    write_stdout(&format!("{}\n", serde_json::to_string_pretty(&page.to_json())?))?;
    Ok(ExitCode::SUCCESS)
}

/// `wasp query --config C [--tenant N] --topic T --id ID`.
pub(super) fn read(config: &Path, tenant: Option<&str>, topic: &str, id: &str) -> anyhow::Result<ExitCode> {
    let config = wasp::Config::from_file(config)?;
    match wasp::handler_query::read(&config, tenant, topic, id)? {
        Some(event) => {
            write_stdout(&format!("{}\n", serde_json::to_string_pretty(&event)?))?;
            Ok(ExitCode::SUCCESS)
        }
        None => {
            eprintln!("wasp: no `{topic}` event with _id `{id}`");
            Ok(ExitCode::from(EXIT_INCOMPLETE))
        }
    }
}
