//! `wasp config check CONFIG`: validates a configuration without running
//! it. Prints what it resolved (streams and their topics, handlers with
//! their components and outputs) and every problem found, each naming the
//! handler or JSON path it concerns.

use std::fmt::Write as _;
use std::path::Path;
use std::process::ExitCode;

use super::{EXIT_INCOMPLETE, write_stdout};
use wasp::config::Config;
use wasp::engine::{WaspEngine, check};

pub fn run(path: &Path) -> anyhow::Result<ExitCode> {
    let config = match Config::from_file(path) {
        Ok(config) => config,
        Err(e) => {
            write_stdout(&format!("{}: invalid\n  error: {e}\n", path.display()))?;
            return Ok(ExitCode::FAILURE);
        }
    };
    let mut out = String::new();
    let mut problems = Vec::new();
    writeln!(out, "{}: parsed", path.display())?;
    if let Some(name) = &config.name {
        writeln!(out, "  audit service: {name}")?;
    }
    writeln!(out, "  data directory: {}", config.data_dir.display())?;
    writeln!(
        out,
        "  journal: {:?} durability, at most {} events / {} bytes per stream",
        config.journal.durability, config.journal.bounds.max_events, config.journal.bounds.max_bytes
    )?;
    let streams = std::iter::once(None).chain(config.tenants.keys().map(|t| Some(t.as_str())));
    for stream in streams {
        let topics: Vec<String> = config.known_topics_for(stream).into_iter().collect();
        writeln!(out, "  topics ({}): {}", stream.map_or("without a tenant".to_owned(), |t| format!("tenant {t}")), topics.join(", "))?;
    }
    let engine = WaspEngine::global()?;
    for h in &config.handlers {
        let name = h.qualified_name();
        writeln!(
            out,
            "  handler {name} (wasm{}): topics {}",
            if h.enabled { "" } else { ", disabled" },
            h.topics.iter().cloned().collect::<Vec<_>>().join(", ")
        )?;
        match check::check(engine, &h.component) {
            Ok(report) if report.fits() => writeln!(out, "    component {}: {}", h.component.display(), report.world.unwrap_or_default())?,
            Ok(report) => {
                writeln!(out, "    component {}: does not fit", h.component.display())?;
                for p in report.problems {
                    problems.push(format!("handler `{name}`: component {}: {p}", h.component.display()));
                }
                if report.world.is_none() {
                    problems.push(format!("handler `{name}`: component {} is not a WASP handler", h.component.display()));
                }
            }
            Err(e) => {
                writeln!(out, "    component {}: unusable", h.component.display())?;
                problems.push(format!("handler `{name}`: {e}"));
            }
        }
        for (output, o) in &h.outputs {
            writeln!(out, "    output {output} ({})", o.kind())?;
            if h.enabled
                && let Err(e) = o.check_network()
            {
                problems.push(format!("handler `{}`: output `{output}`: {e}", h.qualified_name()));
            }
        }
    }
    for h in &config.forgerock_handlers {
        let name = h.qualified_name();
        writeln!(
            out,
            "  handler {name} ({}{}): topics {}",
            h.class.name(),
            if h.enabled { "" } else { ", disabled" },
            h.topics.join(", ")
        )?;
        if let Some(builtin) = &h.builtin {
            let checked = builtin.check(&h.topics, h.enabled);
            for line in checked.lines {
                writeln!(out, "    {line}")?;
            }
            problems.extend(checked.problems.into_iter().map(|p| format!("handler `{name}`: {p}")));
        }
        if let Some(security) = h.builtin.as_ref().and_then(|b| b.security())
            && h.enabled
            && let Err(e) = check_keys(h, security)
        {
            problems.push(format!("handler `{name}`: {e}"));
        }
        if h.enabled && h.builtin.is_none() {
            problems.push(format!(
                "handler `{name}`: class `{}` is recognised but not supported yet (it arrives with {})",
                h.class.name(),
                h.class.planned_output()
            ));
        }
    }
    if let Some(fleet) = &config.fleet {
        let role = fleet.role.map_or("single".to_owned(), |r| format!("{r:?}").to_lowercase());
        writeln!(out, "  fleet: role {role}, NATS {}, stream {}", fleet.server_list(), fleet.stream_name())?;
        match wasp::fleet::check(fleet) {
            Ok(None) => writeln!(out, "    stream {} does not exist yet (the first edge or worker creates it)", fleet.stream_name())?,
            Ok(Some(differences)) if differences.is_empty() => writeln!(out, "    stream {}: as configured", fleet.stream_name())?,
            Ok(Some(differences)) => problems.extend(differences),
            Err(e) => problems.push(e.to_string()),
        }
    }
    if let Some(tls) = &config.sidecar.tls {
        writeln!(out, "  sidecar: https (certificate {}, key {})", tls.cert_file.display(), tls.key_file.display())?;
        if let Err(e) = wasp::sidecar::tls::acceptor(tls) {
            problems.push(e.to_string());
        }
    }
    if problems.is_empty() {
        writeln!(out, "ok")?;
    } else {
        for p in &problems {
            writeln!(out, "  error: {p}")?;
        }
        writeln!(out, "{} problem(s)", problems.len())?;
    }
    write_stdout(&out)?;
    Ok(if problems.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(EXIT_INCOMPLETE) })
}

/// Loads the handler's keys: a WASP key file, or (CSV handler) a ForgeRock
/// JCEKS keystore with its password and its `Password` and `Signature` keys.
fn check_keys(h: &wasp::config::forgerock::ForgeRockHandlerConfig, security: &wasp::builtin::SecuritySettings) -> Result<(), String> {
    if matches!(h.builtin, Some(wasp::builtin::BuiltinSettings::Csv(_))) && security.is_jceks() {
        let password = security.password.as_deref().ok_or("security.password: required with a JCEKS keystore")?;
        let store = wasp::integrity::jceks::JceksKeyStore::open(&security.key_file, password).map_err(|e| e.to_string())?;
        return wasp::integrity::forgerock::ForgeRockKeys::from_keystore(&store, password).map(|_| ()).map_err(|e| e.to_string());
    }
    wasp::integrity::IntegrityKeys::load(&security.key_file).map(|_| ()).map_err(|e| e.to_string())
}
