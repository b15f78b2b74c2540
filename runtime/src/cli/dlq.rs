//! `wasp dlq list|show|replay`: the dead-letter store from the command line.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;

use super::{EXIT_INCOMPLETE, write_stdout};
use wasp::config::Config;
use wasp::dead_letter::DeadLetterStore;

#[derive(Subcommand)]
pub enum DlqCommand {
    /// List dead letters, oldest first: id, handler, fault kind, attempts,
    /// event id and topic, message.
    List {
        /// The configuration file (its `dataDirectory` holds the store).
        #[arg(long, short)]
        config: PathBuf,
        /// Only this handler's (`name`, or `tenant/name`).
        #[arg(long)]
        handler: Option<String>,
        /// One JSON array of dead letters on stdout.
        #[arg(long)]
        json: bool,
    },
    /// Print one dead letter as JSON: the event and its fault record.
    Show {
        /// The configuration file.
        #[arg(long, short)]
        config: PathBuf,
        /// The dead letter's id (from `wasp dlq list`).
        id: String,
    },
    /// Re-deliver a handler's dead letters; those delivered now are removed,
    /// the rest kept with their new fault. Exit code 3 if any still fails.
    Replay {
        /// The configuration file.
        #[arg(long, short)]
        config: PathBuf,
        /// The handler (`name`, or `tenant/name`).
        #[arg(long)]
        handler: String,
        /// Use this component instead of the configured one (e.g. the fixed
        /// build, before it is deployed).
        #[arg(long)]
        component: Option<PathBuf>,
        /// The report as JSON on stdout.
        #[arg(long)]
        json: bool,
    },
}

pub fn run(command: DlqCommand) -> anyhow::Result<ExitCode> {
    match command {
        DlqCommand::List { config, handler, json } => {
            let config = Config::from_file(&config)?;
            let letters = DeadLetterStore::new(&config.data_dir).list(handler.as_deref())?;
            let mut out = String::new();
            if json {
                writeln!(out, "{}", serde_json::to_string_pretty(&letters)?)?;
            } else if letters.is_empty() {
                writeln!(out, "no dead letters")?;
            } else {
                writeln!(out, "{:<32} {:<20} {:<13} {:>8}  {:<24} message", "id", "handler", "fault", "attempts", "event")?;
                for l in &letters {
                    let message: String = l.fault.message.lines().next().unwrap_or("").chars().take(100).collect();
                    writeln!(
                        out,
                        "{:<32} {:<20} {:<13} {:>8}  {:<24} {}",
                        l.id,
                        l.handler,
                        l.fault.kind.as_str(),
                        l.attempts,
                        format!("{} ({})", l.event.id, l.event.topic),
                        message
                    )?;
                }
            }
            write_stdout(&out)?;
            Ok(ExitCode::SUCCESS)
        }
        DlqCommand::Show { config, id } => {
            let config = Config::from_file(&config)?;
            let letter = DeadLetterStore::new(&config.data_dir).get(&id)?;
            write_stdout(&format!("{}\n", serde_json::to_string_pretty(&letter)?))?;
            Ok(ExitCode::SUCCESS)
        }
        DlqCommand::Replay { config, handler, component, json } => {
            let config = Config::from_file(&config)?;
            let report = wasp::replay(&config, &handler, component.as_deref())?;
            let mut out = String::new();
            if json {
                writeln!(out, "{}", serde_json::to_string(&report)?)?;
            } else {
                writeln!(
                    out,
                    "replayed {} dead letter(s) of `{}` with component {}: {} recovered, {} still failing",
                    report.attempted,
                    report.handler,
                    &report.version[..12.min(report.version.len())],
                    report.recovered,
                    report.still_failing
                )?;
                for (kind, n) in &report.faults {
                    writeln!(out, "  still failing ({kind}): {n}")?;
                }
            }
            write_stdout(&out)?;
            Ok(if report.still_failing > 0 { ExitCode::from(EXIT_INCOMPLETE) } else { ExitCode::SUCCESS })
        }
    }
}
