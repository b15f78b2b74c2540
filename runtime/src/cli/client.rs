//! The sidecar's command-line client: `wasp send` posts NDJSON events in
//! batches, `wasp query --url` runs a CREST query or reads one event. HTTPS
//! trusts the usual web roots, or a private CA with `--cacert` (whose file
//! may also hold the server's own self-signed certificate: see
//! `pinned_tls`).

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context as _, bail};
use serde_json::Value;

use super::{EXIT_INCOMPLETE, write_stdout};

/// How often lines refused with a `Retry-After` (journal full, tenant over
/// quota) are sent again before they count as rejected.
const RETRIES: u32 = 10;

/// Where and how to reach the sidecar.
pub(super) struct Remote<'a> {
    /// Base URL, e.g. `https://audit.internal:8443`.
    pub url: &'a str,
    /// Bearer token (`--token`, else `WASP_TOKEN`).
    pub token: Option<String>,
    /// PEM file of a CA to trust for HTTPS.
    pub cacert: Option<&'a Path>,
}

impl Remote<'_> {
    pub(super) fn agent(&self) -> anyhow::Result<ureq::Agent> {
        use ureq::unversioned::transport::{Connector as _, TcpConnector};
        let config = ureq::Agent::config_builder().http_status_as_error(false).timeout_global(Some(Duration::from_secs(300))).build();
        let Some(path) = self.cacert else {
            // The usual web roots.
            return Ok(config.into());
        };
        let pem = std::fs::read(path).with_context(|| format!("--cacert {}", path.display()))?;
        let certs: Vec<rustls_pki_types::CertificateDer<'static>> = ureq::tls::parse_pem(&pem)
            .filter_map(|item| match item {
                Ok(ureq::tls::PemItem::Certificate(c)) => Some(Ok(rustls_pki_types::CertificateDer::from(c.der().to_vec()))),
                Ok(_) => None,
                Err(e) => Some(Err(e)),
            })
            .collect::<Result<_, _>>()
            .with_context(|| format!("--cacert {}: not a PEM certificate file", path.display()))?;
        anyhow::ensure!(!certs.is_empty(), "--cacert {}: no CERTIFICATE in the file", path.display());
        let tls = super::pinned_tls::PinnedTls(super::pinned_tls::client_config(certs)?);
        let connector = ().chain(TcpConnector::default()).chain(tls);
        Ok(ureq::Agent::with_parts(config, connector, ureq::unversioned::resolver::DefaultResolver::default()))
    }

    pub(super) fn endpoint(&self, path: &str) -> String {
        format!("{}{path}", self.url.trim_end_matches('/'))
    }

    pub(super) fn authorization(&self) -> Option<String> {
        self.token.as_ref().map(|t| format!("Bearer {t}"))
    }
}

/// An answer: status, `Retry-After` seconds, body.
pub(super) struct Answer {
    pub(super) status: u16,
    retry_after: Option<u64>,
    pub(super) body: String,
}

pub(super) fn answer(response: Result<ureq::http::Response<ureq::Body>, ureq::Error>, url: &str) -> anyhow::Result<Answer> {
    let mut response = response.with_context(|| format!("cannot reach {url}"))?;
    let status = response.status().as_u16();
    let retry_after = response.headers().get("retry-after").and_then(|v| v.to_str().ok()).and_then(|v| v.parse().ok());
    let body = response.body_mut().read_to_string().with_context(|| format!("reading the answer of {url}"))?;
    Ok(Answer { status, retry_after, body })
}

/// The CREST message of an error answer, or its body.
pub(super) fn message(body: &str) -> String {
    serde_json::from_str::<Value>(body)
        .ok()
        .and_then(|v| v.get("message").and_then(Value::as_str).map(str::to_owned))
        .unwrap_or_else(|| body.trim().to_owned())
}

/// `wasp send`: reads NDJSON from `input` (a file, or stdin for `-`/none)
/// and posts it in batches of `batch` events. Exit 0 when every event was
/// accepted, 3 when a line was rejected (each is reported with its line
/// number and the sidecar's message); an error when the sidecar refuses the
/// request itself (a bad token, say).
pub(super) fn send(remote: &Remote<'_>, topic: &str, tenant: Option<&str>, batch: usize, input: Option<&Path>) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(batch > 0, "--batch must be greater than 0");
    let agent = remote.agent()?;
    let mut url = remote.endpoint(&format!("/audit/{}?_action=batch", encode(topic)));
    if let Some(tenant) = tenant {
        url.push_str(&format!("&tenant={}", encode(tenant)));
    }
    let (reader, size): (Box<dyn Read>, Option<u64>) = match input {
        None => (Box::new(std::io::stdin()), None),
        Some(p) if p == Path::new("-") => (Box::new(std::io::stdin()), None),
        Some(path) => {
            let file = std::fs::File::open(path).with_context(|| format!("{}", path.display()))?;
            let size = file.metadata().ok().map(|m| m.len());
            (Box::new(file), size)
        }
    };
    let progress = size.filter(|s| *s > 4 << 20).and_then(|s| {
        use std::io::IsTerminal as _;
        std::io::stderr().is_terminal().then(|| {
            let bar = indicatif::ProgressBar::new(s);
            bar.set_style(
                indicatif::ProgressStyle::with_template("{bar:40} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}")
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            bar
        })
    });
    let mut totals = Totals::default();
    let mut pending: Vec<(usize, String)> = Vec::with_capacity(batch);
    for (index, line) in BufReader::new(reader).lines().enumerate() {
        let line = line.with_context(|| format!("reading line {}", index + 1))?;
        if let Some(bar) = &progress {
            bar.inc(line.len() as u64 + 1);
        }
        if line.trim().is_empty() {
            continue;
        }
        pending.push((index + 1, line));
        if pending.len() == batch {
            post_batch(&agent, remote, &url, std::mem::take(&mut pending), &mut totals)?;
        }
    }
    if !pending.is_empty() {
        post_batch(&agent, remote, &url, pending, &mut totals)?;
    }
    if let Some(bar) = progress {
        bar.finish_and_clear();
    }
    eprintln!("wasp send: {} events: {} accepted, {} rejected", totals.accepted + totals.rejected, totals.accepted, totals.rejected);
    Ok(if totals.rejected == 0 { ExitCode::SUCCESS } else { ExitCode::from(EXIT_INCOMPLETE) })
}

#[derive(Default)]
struct Totals {
    accepted: u64,
    rejected: u64,
}

/// Posts one batch; lines refused with a `Retry-After` are sent again
/// after the wait, up to [`RETRIES`] times. A batch refused whole with 413
/// (over the sidecar's `maxBodyBytes` or `maxBatchEvents`) is sent again in
/// halves; a line the answer says nothing about is counted as rejected.
fn post_batch(
    agent: &ureq::Agent,
    remote: &Remote<'_>,
    url: &str,
    mut lines: Vec<(usize, String)>,
    totals: &mut Totals,
) -> anyhow::Result<()> {
    for attempt in 0..=RETRIES {
        let body = lines.iter().map(|(_, l)| l.as_str()).collect::<Vec<_>>().join("\n");
        let mut request = agent.post(url).header("Content-Type", "application/x-ndjson");
        if let Some(auth) = remote.authorization() {
            request = request.header("Authorization", auth);
        }
        let answer = answer(request.send(body.as_bytes()), url)?;
        if answer.status == 503 && attempt < RETRIES && !answer.body.contains("\"results\"") {
            // The whole sidecar is draining or overloaded: wait and resend.
            std::thread::sleep(Duration::from_secs(answer.retry_after.unwrap_or(1)));
            continue;
        }
        if answer.status == 413 && lines.len() > 1 {
            let second = lines.split_off(lines.len() / 2);
            post_batch(agent, remote, url, lines, totals)?;
            return post_batch(agent, remote, url, second, totals);
        }
        if answer.status == 413 {
            totals.rejected += 1;
            eprintln!("wasp send: line {}: 413: {}", lines[0].0, message(&answer.body));
            return Ok(());
        }
        if answer.status != 200 {
            bail!("the sidecar refused the batch ({}): {}", answer.status, message(&answer.body));
        }
        let report: Value =
            serde_json::from_str(&answer.body).with_context(|| format!("the sidecar's answer is not JSON: {}", answer.body))?;
        let results = report["results"].as_array().context("the sidecar's answer has no `results`")?;
        let mut again = Vec::new();
        let mut answered = vec![false; lines.len()];
        for result in results {
            let at = result["line"].as_u64().unwrap_or(0) as usize;
            let Some((line_no, line)) = at.checked_sub(1).and_then(|i| lines.get(i)) else {
                bail!("the sidecar answered for line {at} of a batch of {}", lines.len());
            };
            if std::mem::replace(&mut answered[at - 1], true) {
                continue;
            }
            match result["status"].as_u64().unwrap_or(0) {
                201 | 202 => totals.accepted += 1,
                429 | 503 if attempt < RETRIES => again.push((*line_no, line.clone())),
                status => {
                    totals.rejected += 1;
                    let why = result["error"]["message"].as_str().unwrap_or("rejected");
                    eprintln!("wasp send: line {line_no}: {status}: {why}");
                }
            }
        }
        for ((line_no, _), _) in lines.iter().zip(&answered).filter(|(_, answered)| !**answered) {
            totals.rejected += 1;
            eprintln!("wasp send: line {line_no}: the sidecar's answer has no result for it (not confirmed as published)");
        }
        if again.is_empty() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_secs(answer.retry_after.unwrap_or(1)));
        lines = again;
    }
    Ok(())
}

/// `wasp query --url`: one page of a CREST query (or one event with `id`),
/// printed as the sidecar answers it.
pub(super) fn query(
    remote: &Remote<'_>,
    topic: &str,
    tenant: Option<&str>,
    id: Option<&str>,
    params: &[(&str, Option<&str>)],
) -> anyhow::Result<ExitCode> {
    let agent = remote.agent()?;
    // Reading one event takes only the tenant; a query its parameters too.
    let mut pairs: Vec<(&str, Option<&str>)> = if id.is_some() { Vec::new() } else { params.to_vec() };
    pairs.push(("tenant", tenant));
    let query: Vec<String> = pairs.iter().filter_map(|(k, v)| Some(format!("{k}={}", encode((*v)?)))).collect();
    let path = match id {
        Some(id) => format!("/audit/{}/{}", encode(topic), encode(id)),
        None => format!("/audit/{}", encode(topic)),
    };
    let url = remote.endpoint(&if query.is_empty() { path } else { format!("{path}?{}", query.join("&")) });
    let mut request = agent.get(&url);
    if let Some(auth) = remote.authorization() {
        request = request.header("Authorization", auth);
    }
    let answer = answer(request.call(), &url)?;
    match answer.status {
        200 => {
            let value: Value =
                serde_json::from_str(&answer.body).with_context(|| format!("the sidecar's answer is not JSON: {}", answer.body))?;
            write_stdout(&format!("{}\n", serde_json::to_string_pretty(&value)?))?;
            Ok(ExitCode::SUCCESS)
        }
        404 if id.is_some() => {
            eprintln!("wasp: {}", message(&answer.body));
            Ok(ExitCode::from(EXIT_INCOMPLETE))
        }
        status => bail!("the sidecar refused the query ({status}): {}", message(&answer.body)),
    }
}

/// Percent-encodes a path segment or query value.
pub(super) fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
