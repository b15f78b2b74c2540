//! The `wasp` command line. `anyhow` lives here, at the binary's edge.
//!
//! Exit codes (also in `wasp --help`):
//! - 0: success (every event delivered; the component fits);
//! - 1: could not run (configuration, input or component unreadable, …);
//! - 2: usage error (unknown flag, missing argument);
//! - 3: ran, but not everything succeeded (`pipe`: an input line was
//!   rejected or an event was dead-lettered; `check`: the component does
//!   not fit; `dlq replay`: some dead letters still fail; `send`: a line
//!   was rejected; `query --id`: no such event).

mod client;
mod config_check;
mod db;
mod deploy;
mod dlq;
mod export;
pub(crate) mod files;
mod forgerock;
mod new;
mod pinned_tls;
mod pipe;
mod run;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Parser, Subcommand};

use wasp::engine::{WaspEngine, check};

/// Exit code: ran, but not everything succeeded.
pub const EXIT_INCOMPLETE: u8 = 3;

#[derive(Parser)]
#[command(
    name = "wasp",
    version,
    about = "WASP, the WebAssembly Audit Stream Processor: routes audit events to sandboxed WebAssembly handlers.",
    after_help = "Exit codes: 0 success; 1 could not run (bad configuration, unreadable input or component); \
                  2 usage error; 3 ran but not everything succeeded (pipe: a line rejected or an event dead-lettered; \
                  check: the component does not fit; dlq replay: some dead letters still fail).\n\nLogging: RUST_LOG (e.g. RUST_LOG=wasp=debug) to stderr."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// A Java `.properties` file for the configuration's `&{name}`
    /// references (repeatable; later files win; `WASP_PROPERTIES` names
    /// more, `:`-separated). See docs/configuration.md.
    #[arg(long = "properties", global = true, value_name = "FILE")]
    properties: Vec<PathBuf>,
    /// How logs are written to stderr: `text` (coloured only on a
    /// terminal) or `json` (one object per line).
    #[arg(long = "log-format", global = true, env = "WASP_LOG_FORMAT", default_value = "text", value_name = "FORMAT")]
    log_format: LogFormat,
}

/// `--log-format`.
#[derive(Clone, Copy, clap::ValueEnum)]
enum LogFormat {
    /// Human-readable lines; colour only when stderr is a terminal.
    Text,
    /// One JSON object per line (`timestamp`, `level`, `fields`, `target`, spans).
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Run NDJSON events through the configured handlers, drain, print a
    /// per-handler summary.
    ///
    /// Each input line is one JSON event. Its topic is `--topic`, or else the
    /// event's own `topic` field (which is then removed from the event).
    /// Rejected lines are reported on stderr with their line number. The
    /// summary goes to stderr, or with `--json` to stdout as one JSON object:
    /// {"input": {"lines", "accepted", "rejected"}, "wallTimeNs", "allocator",
    /// "deadLetters", "tenants": [{"name", "published", "overQuota"}],
    /// "handlers": [{"name", "tenant", "version", "state", "disabledReason",
    /// "received", "delivered", "deadLettered", "lost", "dropped",
    /// "spilled", "filtered", "fuelUsed",
    /// "fuelPerEvent", "busyNs", "throttledNs", "calls", "instances",
    /// "recycled", "quarantines", "faults" (dead letters by fault kind),
    /// "lastFault", "outputs": [{"name", "type", "location"}]}]}.
    Pipe {
        /// The configuration file (JSON, ForgeRock AuditService shape).
        #[arg(long, short)]
        config: PathBuf,
        /// NDJSON input file; `-` (the default) reads standard input.
        #[arg(long, short, default_value = "-")]
        input: PathBuf,
        /// Topic of every event (otherwise each event's `topic` field).
        #[arg(long, short)]
        topic: Option<String>,
        /// Publish every event on behalf of this tenant (only its handlers
        /// receive them).
        #[arg(long)]
        tenant: Option<String>,
        /// Print a receipt line on stdout for each accepted event, as soon
        /// as `publish` returned: {"line", "id", "sequence"}.
        #[arg(long)]
        receipts: bool,
        /// Print the summary as JSON on stdout.
        #[arg(long)]
        json: bool,
    },
    /// Serve the HTTP sidecar (see docs/sidecar.md) until SIGTERM or SIGINT:
    /// `POST /audit/{topic}` (one JSON event, or NDJSON), queries, handler
    /// actions, `/health`, `/metrics`. Prints `listening on http://ADDR` to
    /// stderr once ready. On the signal it stops accepting, lets requests in
    /// flight finish and the handlers drain, within
    /// `wasp.sidecar.shutdownDeadline`, prints the summary to stderr and
    /// exits 0 (3 if the deadline cut the drain short).
    Run {
        /// The configuration file (its `wasp.sidecar` section configures the
        /// sidecar: tokens, limits).
        #[arg(long, short)]
        config: PathBuf,
        /// Listen here instead of `wasp.sidecar.listen` (`host:port`; port
        /// 0 picks a free one).
        #[arg(long)]
        listen: Option<String>,
        /// The fleet role (`single`, `edge`, `worker`), overriding
        /// `wasp.fleet.role`: an edge accepts events and forwards them to
        /// NATS JetStream, a worker runs the handlers on them
        /// (`docs/fleet.md`).
        #[arg(long)]
        role: Option<wasp::fleet::Role>,
    },
    /// Sidecar helpers.
    Sidecar {
        #[command(subcommand)]
        command: SidecarCommand,
    },
    /// Inspect and replay dead letters: events a handler did not deliver,
    /// kept with their fault in `<dataDirectory>/dead-letters`.
    Dlq {
        #[command(subcommand)]
        command: dlq::DlqCommand,
    },
    /// Print the `hashIf` digest of a value (`hmac-sha256:<hex>`), so that an
    /// investigator can search pseudonymised audit records for a known
    /// value. The key is read like `filterPolicies.hashKey`.
    Hash {
        /// A file holding the key (one trailing newline is ignored).
        #[arg(long, conflicts_with = "key_env", required_unless_present = "key_env")]
        key_file: Option<PathBuf>,
        /// An environment variable holding the key.
        #[arg(long)]
        key_env: Option<String>,
        /// The value, as the event holds it (a string's text; other values
        /// as JSON text).
        value: String,
    },
    /// Rotate one handler's file outputs now: each file is renamed to
    /// `<file>.<UTC time>` and a new one started. Runs the configured service
    /// (so events still in the journal are delivered first, into the old
    /// file); refused while another process runs on the same data directory.
    Rotate {
        /// The configuration file.
        #[arg(long, short)]
        config: PathBuf,
        /// The handler (`name`, or `tenant/name`).
        #[arg(long)]
        handler: String,
    },
    /// Deliver what the journal still holds for one handler (or all), then
    /// stop: e.g. after a crash, or after a handler was quarantined.
    Flush {
        /// The configuration file.
        #[arg(long, short)]
        config: PathBuf,
        /// Only wait for this handler (`name`, or `tenant/name`).
        #[arg(long)]
        handler: Option<String>,
    },
    /// Create a key file for tamper-evident JSON/CSV outputs (`security.filename`):
    /// the chain's HMAC key and an Ed25519 signing key, mode 0600. Keep it
    /// outside the log directory; `wasp verify` needs it.
    Keygen {
        /// The key file to create (never overwritten).
        #[arg(long, short)]
        out: PathBuf,
    },
    /// Verify a tamper-evident JSON or CSV output: the live file and every
    /// archive (gzipped too), in order. Prints PASS or FAIL per file, with the
    /// first bad line and why; exit code 3 if any file fails.
    Verify {
        /// The log directory.
        dir: PathBuf,
        /// The topic (`<topic>.audit.json` or `<topic>.csv`).
        #[arg(long, short)]
        topic: String,
        /// The key file (`wasp keygen`).
        #[arg(long, short, required_unless_present = "keystore")]
        key: Option<PathBuf>,
        /// A ForgeRock CSV log instead: the handler's JCEKS keystore
        /// (`security.filename`); each file's `<file>.keystore` lies beside it.
        #[arg(long, conflicts_with = "key", requires = "password")]
        keystore: Option<PathBuf>,
        /// The keystore's password (`security.password`); never printed.
        #[arg(long, env = "WASP_KEYSTORE_PASSWORD", hide_env_values = true)]
        password: Option<String>,
        /// `fileRotation.rotationFilePrefix` of the output.
        #[arg(long, default_value = "", allow_hyphen_values = true)]
        prefix: String,
        /// `fileRotation.rotationFileSuffix` of the output.
        #[arg(long, default_value = "-yyyy.MM.dd-HH.mm.ss", allow_hyphen_values = true)]
        suffix: String,
        /// CSV `formatting.quoteChar`.
        #[arg(long, default_value = "\"")]
        quote: char,
        /// CSV `formatting.delimiterChar`.
        #[arg(long, default_value = ",")]
        delimiter: char,
        /// The output is still being written: accept records after the last
        /// signature in the live file.
        #[arg(long)]
        open: bool,
    },
    /// Journal tools.
    Journal {
        #[command(subcommand)]
        command: JournalCommand,
    },
    /// Query the records kept by the configuration's `handlerForQueries` (a
    /// JSON or CSV file handler), over the live file and the archives. Prints
    /// the CREST result: {"result", "resultCount", "pagedResultsCookie",
    /// "totalPagedResults", "remainingPagedResults"}.
    ///
    /// With `--url` it asks a running sidecar (`wasp run`) instead, with a
    /// bearer token (`--token` or `WASP_TOKEN`).
    Query {
        /// The configuration file (run the query here, on the files).
        #[arg(long, short, required_unless_present = "url", conflicts_with = "url")]
        config: Option<PathBuf>,
        /// A sidecar's base URL (`https://audit.internal:8443`): ask it.
        #[arg(long)]
        url: Option<String>,
        /// With `--url`: the bearer token (default: the `WASP_TOKEN`
        /// environment variable).
        #[arg(long, env = "WASP_TOKEN", hide_env_values = true, requires = "url")]
        token: Option<String>,
        /// With `--url` over HTTPS: a PEM file of the CA to trust (default:
        /// the usual web roots).
        #[arg(long, requires = "url")]
        cacert: Option<PathBuf>,
        /// The topic.
        #[arg(long, short)]
        topic: String,
        /// Query this tenant's events (its `handlerForQueries`). With
        /// `--url`: an admin token may name any tenant, a tenant's token
        /// only its own, which is the default for it.
        #[arg(long)]
        tenant: Option<String>,
        /// Read the one event with this `_id`.
        #[arg(long, conflicts_with = "filter")]
        id: Option<String>,
        /// CREST `_queryFilter` (`userId eq "bjensen" and timestamp gt "2026"`).
        #[arg(long, short, default_value = "true")]
        filter: String,
        /// `_pageSize` (0: everything).
        #[arg(long)]
        page_size: Option<String>,
        /// `_pagedResultsCookie` from the previous page.
        #[arg(long)]
        cookie: Option<String>,
        /// `_sortKeys` (`-timestamp,userId`; `--sort-keys -timestamp`
        /// works as well as `--sort-keys=-timestamp`).
        #[arg(long, allow_hyphen_values = true)]
        sort_keys: Option<String>,
    },
    /// Export the events matching a query from the `handlerForQueries` (a
    /// tamper-evident JSON handler as NDJSON, or CSV handler as CSV) with a
    /// signed manifest and an inclusion proof per record (see
    /// docs/exports.md).
    Export {
        /// The configuration file.
        #[arg(long, short)]
        config: PathBuf,
        /// The topic.
        #[arg(long, short)]
        topic: String,
        /// Export this tenant's events (its `handlerForQueries`).
        #[arg(long)]
        tenant: Option<String>,
        /// CREST `_queryFilter` selecting the events.
        #[arg(long, short, default_value = "true")]
        filter: String,
        /// The export file to write.
        #[arg(long, short)]
        out: PathBuf,
        /// `ndjson` (a JSON handler's log) or `csv` (a CSV handler's log):
        /// records are exported as the log stores them, so this must be
        /// the query handler's own format.
        #[arg(long, default_value = "ndjson")]
        format: wasp::export::ExportFormat,
    },
    /// Check an export made by `wasp export` with the handler's public key
    /// alone: the manifest signature, every proof, every record, the count.
    /// Exit 3 when anything fails (each failure is named).
    VerifyExport {
        /// The export file.
        file: PathBuf,
        /// The Ed25519 public key: base64, or a file holding it (or a key
        /// file, whose `verifyingKey` is used).
        #[arg(long, short)]
        key: String,
    },
    /// Send NDJSON events (one JSON event per line) to a sidecar
    /// (`wasp run`) in batches. Each rejected line is reported with its line
    /// number and the sidecar's message; lines refused for a while (journal
    /// full, tenant over quota) are sent again after the sidecar's
    /// `Retry-After`. Exit 0 when every event was accepted, 3 otherwise.
    Send {
        /// The sidecar's base URL (`http://127.0.0.1:8080`).
        #[arg(long)]
        url: String,
        /// The topic of every event.
        #[arg(long, short)]
        topic: String,
        /// The bearer token (default: the `WASP_TOKEN` environment variable).
        #[arg(long, env = "WASP_TOKEN", hide_env_values = true)]
        token: Option<String>,
        /// Publish for this tenant (an admin token may name any; a tenant's
        /// token only its own, which is the default for it).
        #[arg(long)]
        tenant: Option<String>,
        /// Events per request (at most the sidecar's `maxBatchEvents`).
        #[arg(long, default_value_t = 1000)]
        batch: usize,
        /// Over HTTPS: a PEM file of the CA to trust (default: the usual web
        /// roots).
        #[arg(long)]
        cacert: Option<PathBuf>,
        /// The NDJSON file (`-` or none: standard input). A progress bar
        /// shows for files over 4 MiB when stderr is a terminal.
        input: Option<PathBuf>,
    },
    /// Scaffold a handler project that builds and passes its own test out
    /// of the box: `bash NAME/test.sh` builds the component and runs it with
    /// `wasp pipe` (set WASP to this binary if it is not on PATH).
    New {
        /// The handler's name (lowercase letters, digits, `-`, `_`).
        name: String,
        /// The language.
        #[arg(long, value_enum)]
        lang: new::Lang,
        /// Where to create it (default: ./NAME); must not exist or be empty.
        #[arg(long)]
        dir: Option<PathBuf>,
        /// Rust: depend on the `wasp-guest` crate in this directory
        /// instead of the published crate of this version.
        #[arg(long)]
        sdk: Option<PathBuf>,
    },
    /// Deploy a new version of a WASM handler (docs/deploys.md): it is
    /// validated first (`wasp check`, then `init` with its config in a
    /// scratch instance) and kept by its SHA-256 in the data directory;
    /// refused versions change nothing. Live at once, or `--shadow`, or
    /// `--canary 10%`.
    Deploy(deploy::DeployArgs),
    /// List a handler's versions: number, state, component, when, who,
    /// journal position.
    Versions {
        /// The handler (`name`, or `tenant/name`).
        handler: String,
        #[command(flatten)]
        target: deploy::Target,
        #[command(flatten)]
        access: deploy::Access,
        /// As JSON.
        #[arg(long)]
        json: bool,
    },
    /// Roll a handler back: withdraw its shadow or canary, or go back to
    /// the version live before (or to VERSION).
    Rollback {
        /// The handler (`name`, or `tenant/name`).
        handler: String,
        /// The version to go back to (default: the previous one).
        version: Option<u64>,
        #[command(flatten)]
        target: deploy::Target,
        #[command(flatten)]
        access: deploy::Access,
        /// As JSON.
        #[arg(long)]
        json: bool,
    },
    /// Make a handler's shadow or canary its live version, at one journal
    /// position (every event before it handled by the old version, every
    /// event after it by the new one). Needs the running sidecar.
    Promote {
        /// The handler (`name`, or `tenant/name`).
        handler: String,
        /// The sidecar's base URL.
        #[arg(long)]
        url: String,
        #[command(flatten)]
        access: deploy::Access,
        /// As JSON.
        #[arg(long)]
        json: bool,
    },
    /// Shadow runs.
    Shadow {
        #[command(subcommand)]
        command: deploy::ShadowCommand,
    },
    /// Check configurations.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// Prepare the databases of the JDBC handlers and `sql` outputs.
    Db {
        #[command(subcommand)]
        command: DbCommand,
    },
    /// Say which WASP world (and WIT version) a component implements and what
    /// it imports, or exactly why it does not fit.
    Check {
        /// The component (`.wasm`).
        component: PathBuf,
        /// Print the report as JSON on stdout:
        /// {"world", "imports", "exports", "problems"}.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum JournalCommand {
    /// Check a durable journal on disk without changing it: every record's
    /// CRC and sequence, every payload, every cursor (none past the end of
    /// its stream), the gap log. A torn record at the very end is reported
    /// (the next start cuts it), not failed. Prints one line per stream;
    /// exit code 3 when the journal is damaged. Refused while a running
    /// WASP holds the journal.
    Verify {
        /// The data directory (`wasp.dataDirectory`), its `journal/`, or
        /// one stream's directory.
        dir: PathBuf,
    },
}

#[derive(Subcommand)]
enum SidecarCommand {
    /// Print the hash (`sha256:<hex>`) of a bearer token, for
    /// `wasp.sidecar.adminToken` or `wasp.sidecar.tokens[].hash`. The token
    /// is read from the first line of stdin unless given (an argument stays
    /// in the shell's history).
    HashToken {
        /// The token (default: the first line of stdin).
        token: Option<String>,
        /// Generate a new random token and print it with its hash.
        #[arg(long, conflicts_with = "token")]
        generate: bool,
    },
}

#[derive(Subcommand)]
enum DbCommand {
    /// Create the tables the JDBC handlers' `tableMappings` and the WASM
    /// handlers' `sql` outputs describe (and their schema or database),
    /// where missing; check that existing ones have every mapped column.
    /// Idempotent. Exit code 3 if a database cannot be prepared.
    Init {
        /// The configuration file.
        #[arg(long, short)]
        config: PathBuf,
    },
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Validate a configuration without running it: print the resolved
    /// topics, handlers, components and outputs, and every problem (exit
    /// code 1 if it does not parse, 3 if a handler cannot run).
    Check {
        /// The configuration file.
        config: PathBuf,
    },
}

/// Runs the command line; returns the process exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.log_format);
    wasp::config::expr::set_properties_files(cli.properties.clone());
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("wasp: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn init_logging(format: LogFormat) {
    use std::io::IsTerminal;
    let filter =
        tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn,wasp=info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Text => builder.with_ansi(std::io::stderr().is_terminal()).try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Pipe { config, input, topic, tenant, receipts, json } => {
            pipe::run(&config, &input, &pipe::Options { topic: topic.as_deref(), tenant: tenant.as_deref(), receipts, json })
        }
        Command::Dlq { command } => dlq::run(command),
        Command::Run { config, listen, role } => run::run(&config, listen, role),
        Command::Sidecar { command: SidecarCommand::HashToken { token, generate } } => run::hash_token(token, generate),
        Command::Rotate { config, handler } => {
            let service = wasp::AuditService::from_config_file(&config)?;
            service.flush_handler(&handler)?;
            let archived = service.rotate(&handler)?;
            service.shutdown();
            let mut out = String::new();
            for file in &archived {
                out.push_str(&format!("rotated: {file}\n"));
            }
            if archived.is_empty() {
                out.push_str(&format!("handler `{handler}` has no file output to rotate\n"));
            }
            write_stdout(&out)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Flush { config, handler } => {
            let service = wasp::AuditService::from_config_file(&config)?;
            match &handler {
                Some(h) => service.flush_handler(h)?,
                None => service.flush(),
            }
            let summary = service.shutdown();
            let mut out = String::new();
            for h in summary.handlers.iter().filter(|h| handler.as_deref().is_none_or(|n| n == h.name)) {
                out.push_str(&format!("{}: {} delivered, {} dead-lettered\n", h.name, h.delivered, h.dead_lettered));
            }
            write_stdout(&out)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Hash { key_file, key_env, value } => {
            use wasp::config::forgerock::{RawHashKey, hmac_sha256, read_hash_key};
            let key = match (key_file, key_env) {
                (Some(file), _) => RawHashKey::File(file),
                (None, Some(var)) => RawHashKey::Env(var),
                (None, None) => unreachable!("clap requires one"),
            };
            let key = read_hash_key(&key, std::path::Path::new("."))?;
            write_stdout(&format!("{}\n", hmac_sha256(&key, value.as_bytes())))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Config { command: ConfigCommand::Check { config } } => config_check::run(&config),
        Command::Db { command: DbCommand::Init { config } } => db::init(&config),
        Command::Keygen { out } => files::keygen(&out),
        Command::Journal { command: JournalCommand::Verify { dir } } => files::verify_journal(&dir),
        Command::Verify { dir, topic, key, keystore, password, prefix, suffix, quote, delimiter, open } => {
            files::verify(&files::VerifyArgs {
                dir: &dir,
                topic: &topic,
                key: key.as_deref(),
                keystore: keystore.as_deref().zip(password.as_deref()),
                prefix: &prefix,
                suffix: &suffix,
                quote,
                delimiter,
                open,
            })
        }
        Command::Query { config: None, url: Some(url), token, cacert, topic, tenant, id, filter, page_size, cookie, sort_keys } => {
            let remote = client::Remote { url: &url, token, cacert: cacert.as_deref() };
            let params = [
                ("_queryFilter", Some(filter.as_str())),
                ("_pageSize", page_size.as_deref()),
                ("_pagedResultsCookie", cookie.as_deref()),
                ("_sortKeys", sort_keys.as_deref()),
            ];
            client::query(&remote, &topic, tenant.as_deref(), id.as_deref(), &params)
        }
        Command::Query { config, topic, tenant, id, filter, page_size, cookie, sort_keys, .. } => {
            let config = config.context("--config or --url is required")?;
            match id {
                Some(id) => files::read(&config, tenant.as_deref(), &topic, &id),
                None => {
                    let request =
                        wasp::query::QueryRequest::from_params(&filter, page_size.as_deref(), cookie.as_deref(), sort_keys.as_deref())?;
                    files::query(&config, tenant.as_deref(), &topic, &request)
                }
            }
        }
        Command::Export { config, topic, tenant, filter, out, format } => {
            export::export(&config, tenant.as_deref(), &topic, &filter, format, &out)
        }
        Command::VerifyExport { file, key } => export::verify(&file, &key),
        Command::New { name, lang, dir, sdk } => new::run(&name, lang, dir.as_deref(), sdk.as_deref()),
        Command::Send { url, topic, token, tenant, batch, cacert, input } => {
            let remote = client::Remote { url: &url, token, cacert: cacert.as_deref() };
            client::send(&remote, &topic, tenant.as_deref(), batch, input.as_deref())
        }
        Command::Check { component, json } => run_check(&component, json),
        Command::Deploy(args) => deploy::deploy(args),
        Command::Versions { handler, target, access, json } => deploy::versions(&handler, &target, &access, json),
        Command::Rollback { handler, version, target, access, json } => deploy::rollback(&handler, version, &target, &access, json),
        Command::Promote { handler, url, access, json } => deploy::promote(&handler, &url, &access, json),
        Command::Shadow { command: deploy::ShadowCommand::Report { handler, url, access, json } } => {
            deploy::shadow_report(&handler, &url, &access, json)
        }
    }
}

fn run_check(path: &std::path::Path, json: bool) -> anyhow::Result<ExitCode> {
    use std::fmt::Write as _;
    let engine = WaspEngine::global()?;
    let report = check::check(engine, path)?;
    let mut out = String::new();
    if json {
        writeln!(out, "{}", serde_json::to_string_pretty(&report)?)?;
    } else {
        match &report.world {
            Some(world) if report.fits() => writeln!(out, "{}: implements {world}", path.display())?,
            Some(world) => writeln!(out, "{}: looks like {world} but does not fit", path.display())?,
            None => writeln!(out, "{}: not a WASP handler or filter", path.display())?,
        }
        for problem in &report.problems {
            writeln!(out, "  problem: {problem}")?;
        }
        let list = |items: &[String]| {
            if items.is_empty() { "nothing".to_owned() } else { items.join(", ") }
        };
        writeln!(out, "  imports: {}", list(&report.imports))?;
        writeln!(out, "  exports: {}", list(&report.exports))?;
    }
    write_stdout(&out)?;
    Ok(if report.fits() { ExitCode::SUCCESS } else { ExitCode::from(EXIT_INCOMPLETE) })
}

/// Writes `text` to stdout. A reader that closed the pipe early (`wasp check | head -1`)
/// is not an error: the command's result is its exit code, not whether all output was read.
pub(crate) fn write_stdout(text: &str) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(text.as_bytes()).and_then(|()| stdout.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other,
    }
}
