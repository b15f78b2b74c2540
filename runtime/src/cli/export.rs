//! `wasp export` and `wasp verify-export`.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context as _;

use super::{EXIT_INCOMPLETE, write_stdout};
use wasp::integrity::PublicKey;

/// `wasp export --config C --topic T [--filter F] [--format F] --out FILE`.
pub(super) fn export(
    config: &Path,
    tenant: Option<&str>,
    topic: &str,
    filter: &str,
    format: wasp::export::ExportFormat,
    out: &Path,
) -> anyhow::Result<ExitCode> {
    let config = wasp::Config::from_file(config)?;
    let partial = out.with_extension("partial");
    let mut file = std::fs::File::create(&partial).with_context(|| format!("{}", partial.display()))?;
    let started = std::time::Instant::now();
    let summary = match wasp::export::export(&config, tenant, topic, filter, Some(format), &mut file) {
        Ok(summary) => summary,
        Err(e) => {
            let _ = std::fs::remove_file(&partial);
            return Err(e.into());
        }
    };
    file.sync_all()?;
    std::fs::rename(&partial, out)?;
    write_stdout(&format!(
        "exported {} of {} records from {} files to {} in {:.2} s (root {})\n",
        summary.count,
        summary.scanned,
        summary.files,
        out.display(),
        started.elapsed().as_secs_f64(),
        summary.root
    ))?;
    Ok(ExitCode::SUCCESS)
}

/// The public key: base64, or a file with the base64 or a key file.
fn public_key(key: &str) -> anyhow::Result<PublicKey> {
    let path = Path::new(key);
    if path.is_file() {
        let text = std::fs::read_to_string(path).with_context(|| key.to_owned())?;
        let text = match serde_json::from_str::<serde_json::Value>(&text) {
            Ok(doc) => doc.get("verifyingKey").and_then(|v| v.as_str()).context("the key file has no `verifyingKey`")?.to_owned(),
            Err(_) => text,
        };
        return Ok(PublicKey::from_base64(&text)?);
    }
    Ok(PublicKey::from_base64(key)?)
}

/// `wasp verify-export FILE --key PUB`.
pub(super) fn verify(file: &Path, key: &str) -> anyhow::Result<ExitCode> {
    let key = public_key(key)?;
    let text = std::fs::read_to_string(file).with_context(|| format!("{}", file.display()))?;
    let report = match wasp::export::verify_export(&text, &key) {
        Ok(report) => report,
        Err(e) => {
            write_stdout(&format!("FAIL {}: {e}\n", file.display()))?;
            return Ok(ExitCode::from(EXIT_INCOMPLETE));
        }
    };
    let mut out = String::new();
    for note in &report.notes {
        out.push_str(&format!("note: {note}\n"));
    }
    for failure in &report.failures {
        out.push_str(&format!("FAIL {failure}\n"));
    }
    if report.passed() {
        let m = report.manifest.as_ref().expect("passed");
        out.push_str(&format!(
            "PASS {}: {} records ({}) of `{}` from {} (query `{}`, exported {}), each proven in its log file's signed tree\n",
            file.display(),
            m.count,
            if m.csv.is_some() { "CSV" } else { "NDJSON" },
            m.topic,
            m.handler,
            m.query,
            m.time
        ));
    }
    write_stdout(&out)?;
    Ok(if report.passed() { ExitCode::SUCCESS } else { ExitCode::from(EXIT_INCOMPLETE) })
}
