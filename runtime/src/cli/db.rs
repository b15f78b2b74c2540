//! `wasp db init --config FILE`: creates the tables of the configuration's
//! JDBC handlers (`tableMappings`) and of the WASM handlers' `sql` outputs,
//! where missing, and checks the ones that exist
//! ([`wasp::outputs::sql::schema`]). Running it again changes nothing.

use std::fmt::Write as _;
use std::path::Path;
use std::process::ExitCode;

use super::{EXIT_INCOMPLETE, write_stdout};
use wasp::config::Config;
use wasp::outputs::sql::{SqlClient, SqlTarget, TableMapping, schema};

pub fn init(path: &Path) -> anyhow::Result<ExitCode> {
    let config = Config::from_file(path)?;
    // (handler, target, mappings)
    let mut databases: Vec<(String, SqlTarget, Vec<TableMapping>)> = Vec::new();
    for h in config.forgerock_handlers.iter().filter(|h| h.enabled) {
        if let Some(wasp::builtin::BuiltinSettings::Jdbc(s)) = &h.builtin {
            let target = s.target().map_err(|m| anyhow::anyhow!("handler `{}`: {m}", h.qualified_name()))?;
            databases.push((h.qualified_name(), target.clone(), s.mappings.clone()));
        }
    }
    for h in config.handlers.iter().filter(|h| h.enabled) {
        for (name, output) in &h.outputs {
            if let wasp::outputs::OutputConfig::Sql(c) = output {
                let target = c
                    .target(&config.output_directory(h))
                    .map_err(|m| anyhow::anyhow!("handler `{}`: output `{name}`: {m}", h.qualified_name()))?;
                let mapping = c.mapping().map_err(|m| anyhow::anyhow!("handler `{}`: output `{name}`: {m}", h.qualified_name()))?;
                databases.push((format!("{} output {name}", h.qualified_name()), target, vec![mapping]));
            }
        }
    }
    let mut out = String::new();
    let mut failed = 0;
    if databases.is_empty() {
        writeln!(out, "{}: no JDBC handler or sql output", path.display())?;
    }
    for (handler, target, mappings) in databases {
        let client = SqlClient::new(target)?;
        for mapping in &mappings {
            let shown = format!("handler `{handler}`: {} table {}", client.target().shown(), mapping.table);
            match schema::init_table(&client, mapping) {
                Ok(()) => writeln!(out, "{shown}: ready ({} columns, key {})", mapping.columns.len(), mapping.key_column())?,
                Err(e) => {
                    failed += 1;
                    writeln!(out, "{shown}: error: {e}")?;
                }
            }
        }
    }
    write_stdout(&out)?;
    Ok(if failed == 0 { ExitCode::SUCCESS } else { ExitCode::from(EXIT_INCOMPLETE) })
}
