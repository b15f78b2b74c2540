//! `wasp verify DIR --topic T --keystore FILE --password P`: verifies a CSV
//! log written by ForgeRock's tamper-evident CSV handler
//! ([`wasp::integrity::forgerock`]), each file with its `<file>.keystore`,
//! as ForgeRock's own verifier does. The password is never printed.

use std::path::Path;
use std::process::ExitCode;

use super::{EXIT_INCOMPLETE, write_stdout};
use wasp::integrity::forgerock::{FileKeys, ForgeRockKeys, verify as verify_rows};
use wasp::integrity::jceks::JceksKeyStore;
use wasp::outputs::csv::codec::CsvFormat;
use wasp::outputs::log_file::verify::files_in_order;
use wasp::outputs::rotation::RotationPolicy;

/// Verifies `<topic>.csv` and its archives in `dir` (rows in `format`);
/// PASS or FAIL per file, exit code 3 when any fails.
pub(super) fn verify(
    (dir, topic): (&Path, &str),
    format: CsvFormat,
    (keystore, password): (&Path, &str),
    naming: &RotationPolicy,
) -> anyhow::Result<ExitCode> {
    let keys = ForgeRockKeys::from_keystore(&JceksKeyStore::open(keystore, password)?, password)?;
    let public = keys.public_key();
    let live = format!("{}.csv", topic);
    let files = files_in_order(dir, &live, naming)?;
    if files.is_empty() {
        anyhow::bail!("no `{live}` (nor archives of it) in {}", dir.display());
    }
    let handle = cap_std::fs::Dir::open_ambient_dir(dir, cap_std::ambient_authority())?;
    let mut out = String::new();
    let mut all = true;
    for (name, _) in files {
        let result = (|| -> Result<String, String> {
            let file_keys = FileKeys::open(&dir.join(format!("{name}.keystore")), &keys).map_err(|e| e.to_string())?;
            let text = wasp::outputs::log_file::read_text(&handle, &name).map_err(|e| e.to_string())?;
            let rows: Vec<Vec<String>> = format.decode(&text).map_err(|e| e.to_string())?.into_iter().map(|r| r.cells).collect();
            let v = verify_rows(&rows, &file_keys, &public).map_err(|e| e.to_string())?;
            Ok(format!("{} records, {} signatures", v.rows, v.signatures))
        })();
        match result {
            Ok(summary) => out.push_str(&format!("PASS {name} ({summary})\n")),
            Err(why) => {
                all = false;
                out.push_str(&format!("FAIL {name}: {why}\n"));
            }
        }
    }
    write_stdout(&out)?;
    Ok(if all { ExitCode::SUCCESS } else { ExitCode::from(EXIT_INCOMPLETE) })
}
