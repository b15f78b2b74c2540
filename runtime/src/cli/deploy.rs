//! `wasp deploy`, `wasp versions`, `wasp rollback`, `wasp promote`, `wasp
//! shadow report`: versioned handler deploys (docs/deploys.md). With
//! `--url` they ask a running sidecar (admin token); with `--config` they
//! work on the version store in the data directory, for the next start
//! (shadows, canaries and promotion need the running sidecar).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use clap::{Args, Subcommand};
use serde_json::Value;

use super::client::{self, Remote};
use super::write_stdout;
use wasp::config::Config;
use wasp::deploy::{CanarySettings, DeployMode, DeployRequest, VersionRecord, VersionStore};

/// Where the versions are: a running sidecar, or a configuration's data
/// directory.
#[derive(Args, Debug, Clone)]
#[group(required = true, multiple = false)]
pub struct Target {
    /// The configuration file: work on the version store in its
    /// `dataDirectory` (the change runs at the next start; refused for
    /// shadows, canaries and promotion, which need a running sidecar).
    #[arg(long, short)]
    config: Option<PathBuf>,
    /// A running sidecar's base URL (`http://127.0.0.1:8080`): the change
    /// is applied live, between two batches. Needs the admin token.
    #[arg(long)]
    url: Option<String>,
}

/// How to reach the sidecar (with `--url`).
#[derive(Args, Debug, Clone)]
pub struct Access {
    /// With `--url`: the admin token (default: the `WASP_TOKEN`
    /// environment variable).
    #[arg(long, env = "WASP_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// With `--url` over HTTPS: a PEM file of the CA to trust.
    #[arg(long)]
    cacert: Option<PathBuf>,
}

#[derive(Subcommand)]
pub enum ShadowCommand {
    /// What the handler's shadow (or canary) did: events compared,
    /// identical, differing (the first ones with their event ids), faults
    /// and fuel per event for each version.
    Report {
        /// The handler (`name`, or `tenant/name`).
        handler: String,
        /// The sidecar's base URL.
        #[arg(long)]
        url: String,
        #[command(flatten)]
        access: Access,
        /// As JSON.
        #[arg(long)]
        json: bool,
    },
}

/// `wasp deploy`'s options.
#[derive(Args, Debug)]
pub struct DeployArgs {
    /// The handler (`name`, or `tenant/name`).
    handler: String,
    /// The new component (`.wasm`).
    component: PathBuf,
    #[command(flatten)]
    target: Target,
    #[command(flatten)]
    access: Access,
    /// The handler `config` object this version runs with (JSON text, or
    /// `@FILE`); default: the one in the configuration file.
    #[arg(long, value_name = "JSON")]
    handler_config: Option<String>,
    /// Run it as a shadow: it receives the live version's events, its
    /// records go to `<dataDirectory>/shadow/<handler>/v<N>/` and are
    /// compared with the live ones (`wasp shadow report`); `wasp promote`
    /// makes it live.
    #[arg(long, conflicts_with = "canary")]
    shadow: bool,
    /// Run it as a canary on this share of the events (`10%`), chosen by a
    /// stable hash of `_id` (or of `--canary-field`); it is rolled back
    /// automatically when it does worse than the live version.
    #[arg(long, value_name = "PERCENT")]
    canary: Option<String>,
    /// With `--canary`: hash this field (a JSON pointer, `/userId`) instead
    /// of `_id`, so that all of a user's events go to the same version.
    #[arg(long, requires = "canary", value_name = "POINTER")]
    canary_field: Option<String>,
    /// With `--canary`: roll back when its fault rate exceeds the live
    /// version's by more than this many percentage points.
    #[arg(long, requires = "canary", default_value = "5", value_name = "POINTS")]
    max_fault_rate_increase: f64,
    /// With `--canary`: roll back when its fuel per event exceeds the live
    /// version's times this.
    #[arg(long, requires = "canary", default_value = "2", value_name = "RATIO")]
    max_fuel_ratio: f64,
    /// With `--canary`: judge it only after it handled this many events.
    #[arg(long, requires = "canary", default_value = "20", value_name = "N")]
    min_events: u64,
    /// Print the new version as JSON.
    #[arg(long)]
    json: bool,
}

fn remote<'a>(url: &'a str, access: &'a Access) -> Remote<'a> {
    Remote { url, token: access.token.clone(), cacert: access.cacert.as_deref() }
}

/// Who a deploy from the command line is recorded as.
fn cli_user() -> String {
    format!("cli ({})", std::env::var("USER").or_else(|_| std::env::var("USERNAME")).unwrap_or_else(|_| "unknown user".into()))
}

/// Calls an admin endpoint; the answer's JSON, or the sidecar's message.
fn call(remote: &Remote<'_>, method: &str, path: &str, body: Option<Vec<u8>>) -> anyhow::Result<Value> {
    let agent = remote.agent()?;
    let url = remote.endpoint(path);
    let response = match (method, body) {
        ("GET", _) => {
            let mut request = agent.get(&url);
            if let Some(auth) = remote.authorization() {
                request = request.header("Authorization", auth);
            }
            request.call()
        }
        (_, body) => {
            let mut request = agent.post(&url).header("Content-Type", "application/wasm");
            if let Some(auth) = remote.authorization() {
                request = request.header("Authorization", auth);
            }
            request.send(body.unwrap_or_default().as_slice())
        }
    };
    let answer = client::answer(response, &url)?;
    if !(200..300).contains(&answer.status) {
        bail!("the sidecar refused ({}): {}", answer.status, client::message(&answer.body));
    }
    serde_json::from_str(&answer.body).with_context(|| format!("the sidecar's answer is not JSON: {}", answer.body))
}

fn print_record(record: &VersionRecord, verb: &str, json: bool) -> anyhow::Result<()> {
    if json {
        return Ok(write_stdout(&format!("{}\n", serde_json::to_string_pretty(record)?))?);
    }
    let position = record.position.map_or_else(|| "at the next start".to_owned(), |p| format!("after journal position {p}"));
    write_stdout(&format!(
        "{verb}: version {} ({}) of component {}, {position}\n",
        record.version,
        record.state.as_str(),
        &record.component[..12.min(record.component.len())]
    ))?;
    Ok(())
}

/// `wasp deploy`.
pub fn deploy(args: DeployArgs) -> anyhow::Result<ExitCode> {
    let component = std::fs::read(&args.component).with_context(|| format!("reading the component {}", args.component.display()))?;
    let config: Option<Value> = match &args.handler_config {
        None => None,
        Some(text) => {
            let text = match text.strip_prefix('@') {
                Some(file) => std::fs::read_to_string(file).with_context(|| format!("--handler-config @{file}"))?,
                None => text.clone(),
            };
            Some(serde_json::from_str(&text).context("--handler-config is not JSON")?)
        }
    };
    let mode = match (&args.canary, args.shadow) {
        (Some(percent), _) => DeployMode::Canary(CanarySettings {
            percent: CanarySettings::parse_percent(percent).context("--canary")?,
            field: args.canary_field.clone(),
            max_fault_rate_increase: args.max_fault_rate_increase / 100.0,
            max_fuel_ratio: args.max_fuel_ratio,
            min_events: args.min_events,
        }),
        (None, true) => DeployMode::Shadow,
        (None, false) => DeployMode::Live,
    };
    let record = deploy_to(&args, component, config, mode).with_context(|| format!("deploying {}", args.component.display()))?;
    print_record(&record, &format!("{}: deployed", args.handler), args.json)?;
    Ok(ExitCode::SUCCESS)
}

fn deploy_to(args: &DeployArgs, component: Vec<u8>, config: Option<Value>, mode: DeployMode) -> anyhow::Result<VersionRecord> {
    Ok(match (&args.target.url, &args.target.config) {
        (Some(url), _) => {
            let mut query = vec![format!("handler={}", client::encode(&args.handler))];
            match &mode {
                DeployMode::Live => {}
                DeployMode::Shadow => query.push("mode=shadow".into()),
                DeployMode::Canary(c) => {
                    query.push("mode=canary".into());
                    query.push(format!("percent={}", c.percent));
                    if let Some(field) = &c.field {
                        query.push(format!("field={}", client::encode(field)));
                    }
                    query.push(format!("maxFaultRateIncrease={}", c.max_fault_rate_increase));
                    query.push(format!("maxFuelRatio={}", c.max_fuel_ratio));
                    query.push(format!("minEvents={}", c.min_events));
                }
            }
            if let Some(config) = &config {
                query.push(format!("config={}", client::encode(&config.to_string())));
            }
            let answer = call(&remote(url, &args.access), "POST", &format!("/admin/deploy?{}", query.join("&")), Some(component))?;
            serde_json::from_value(answer).context("the sidecar's answer is not a version")?
        }
        (None, Some(file)) => {
            let cfg = Config::from_file(file)?;
            let request = DeployRequest { handler: args.handler.clone(), component, config, mode, by: cli_user() };
            wasp::deploy::offline::deploy(&cfg, &request)?
        }
        (None, None) => unreachable!("clap requires one"),
    })
}

/// `wasp versions`.
pub fn versions(handler: &str, target: &Target, access: &Access, json: bool) -> anyhow::Result<ExitCode> {
    let history: Vec<VersionRecord> = match (&target.url, &target.config) {
        (Some(url), _) => {
            let answer = call(&remote(url, access), "GET", &format!("/admin/versions?handler={}", client::encode(handler)), None)?;
            serde_json::from_value(answer["versions"].clone()).context("the sidecar's answer is not a list of versions")?
        }
        (None, Some(file)) => {
            let cfg = Config::from_file(file)?;
            wasp::deploy::configured(&cfg, handler)?;
            VersionStore::new(&cfg.data_dir, handler)?.history()?
        }
        (None, None) => unreachable!("clap requires one"),
    };
    if json {
        write_stdout(&format!("{}\n", serde_json::to_string_pretty(&history)?))?;
    } else {
        write_stdout(&wasp::deploy::format_history(handler, &history))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// `wasp rollback`.
pub fn rollback(handler: &str, version: Option<u64>, target: &Target, access: &Access, json: bool) -> anyhow::Result<ExitCode> {
    let record: VersionRecord = match (&target.url, &target.config) {
        (Some(url), _) => {
            let mut path = format!("/admin/rollback?handler={}", client::encode(handler));
            if let Some(v) = version {
                path.push_str(&format!("&version={v}"));
            }
            serde_json::from_value(call(&remote(url, access), "POST", &path, None)?).context("the sidecar's answer is not a version")?
        }
        (None, Some(file)) => wasp::deploy::offline::rollback(&Config::from_file(file)?, handler, version)?,
        (None, None) => unreachable!("clap requires one"),
    };
    print_record(&record, &format!("{handler}: rolled back"), json)?;
    Ok(ExitCode::SUCCESS)
}

/// `wasp promote` (sidecar only).
pub fn promote(handler: &str, url: &str, access: &Access, json: bool) -> anyhow::Result<ExitCode> {
    let answer = call(&remote(url, access), "POST", &format!("/admin/promote?handler={}", client::encode(handler)), None)?;
    let record: VersionRecord = serde_json::from_value(answer).context("the sidecar's answer is not a version")?;
    print_record(&record, &format!("{handler}: promoted"), json)?;
    Ok(ExitCode::SUCCESS)
}

/// `wasp shadow report` (sidecar only).
pub fn shadow_report(handler: &str, url: &str, access: &Access, json: bool) -> anyhow::Result<ExitCode> {
    let report = call(&remote(url, access), "GET", &format!("/admin/shadow?handler={}", client::encode(handler)), None)?;
    if json {
        write_stdout(&format!("{}\n", serde_json::to_string_pretty(&report)?))?;
        return Ok(ExitCode::SUCCESS);
    }
    let report: wasp::delivery::candidate::CandidateReport =
        serde_json::from_value(report).context("the sidecar's answer is not a report")?;
    write_stdout(&format_report(&report))?;
    Ok(ExitCode::SUCCESS)
}

/// A shadow or canary report for people.
pub fn format_report(r: &wasp::delivery::candidate::CandidateReport) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let live = r.live_version.map_or_else(|| "?".into(), |v| v.to_string());
    let _ = writeln!(
        out,
        "{}: {} version {} against live version {live}: {} since journal position {}",
        r.handler, r.mode, r.version, r.state, r.since
    );
    if let Some(reason) = &r.reason {
        let _ = writeln!(out, "  rolled back: {reason}");
    }
    if r.mode == "shadow" {
        let _ = writeln!(out, "  compared {} events: {} identical, {} differing", r.compared, r.identical, r.differing);
    }
    for (side, s) in [("live", &r.live), (r.mode.as_str(), &r.candidate)] {
        let _ = writeln!(
            out,
            "  {side:<7} {} events, {} faults ({:.1}%), {:.0} fuel per event",
            s.events,
            s.faults,
            s.fault_rate() * 100.0,
            s.fuel_per_event()
        );
    }
    for d in &r.diffs {
        let _ =
            writeln!(out, "  differs at sequence {} (event {}):\n    live:   {}\n    shadow: {}", d.sequence, d.event_id, d.live, d.shadow);
    }
    if r.differing > r.diffs.len() as u64 {
        let _ = writeln!(out, "  … and {} more differing events", r.differing - r.diffs.len() as u64);
    }
    if let Some(dir) = &r.shadow_directory {
        let _ = writeln!(out, "  shadow records: {dir}");
    }
    out
}
