//! `/metrics` in the Prometheus text format (version 0.0.4): the sidecar's
//! own counters (events accepted and refused per topic and tenant, a
//! publish latency histogram), and the service's, read at each scrape from
//! [`AuditService::summary`] and [`AuditService::backlog`].
//!
//! Label cardinality is bounded: a refused event whose topic is unknown is
//! counted under `topic="_unknown"`, so that callers cannot grow the series.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::delivery::HandlerState;
use crate::event::PublishError;
use crate::service::AuditService;

/// Upper bounds of the publish latency buckets, in seconds.
pub const LATENCY_BUCKETS: [f64; 12] = [0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 1.0];

/// A per-handler counter: name, help, and how to read it from a summary.
type Series = (&'static str, &'static str, fn(&crate::delivery::HandlerSummary) -> u64);

/// The sidecar's own counters.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Per (topic, tenant): accepted, and refused by reason.
    publishes: Mutex<BTreeMap<(String, String), Counts>>,
    /// Per bucket of [`LATENCY_BUCKETS`] (not cumulative), then +Inf.
    latency: [AtomicU64; LATENCY_BUCKETS.len() + 1],
    latency_sum_ns: AtomicU64,
}

#[derive(Debug, Default)]
struct Counts {
    accepted: u64,
    rejected: BTreeMap<&'static str, u64>,
}

impl Metrics {
    /// Counts one publish: its outcome and how long it took.
    pub fn record(&self, topic: &str, tenant: Option<&str>, outcome: Result<(), &PublishError>, took: Duration) {
        let reason = match outcome {
            Ok(()) | Err(PublishError::NotYetDurable { .. }) => None,
            Err(e) => Some(super::errors::publish_reason(e)),
        };
        let topic = match outcome {
            Err(PublishError::UnknownTopic { .. }) => "_unknown",
            _ => topic,
        };
        self.count(topic, tenant, u64::from(reason.is_none()), reason.map(|r| (r, 1)));
        self.latency(took);
    }

    /// Counts `accepted` events of `topic` and `tenant`, and `rejected`
    /// ones with their reason (an NDJSON batch counts once per outcome).
    pub(crate) fn count(&self, topic: &str, tenant: Option<&str>, accepted: u64, rejected: impl IntoIterator<Item = (&'static str, u64)>) {
        let key = (topic.to_owned(), tenant.unwrap_or_default().to_owned());
        let mut map = self.publishes.lock().unwrap();
        let counts = map.entry(key).or_default();
        counts.accepted += accepted;
        for (reason, n) in rejected {
            *counts.rejected.entry(reason).or_default() += n;
        }
    }

    /// Counts one publish's latency.
    pub(crate) fn latency(&self, took: Duration) {
        self.latencies(took, 1);
    }

    /// Records `count` publishes that took `each` (a batch's share per
    /// event).
    pub(crate) fn latencies(&self, each: Duration, count: u64) {
        let secs = each.as_secs_f64();
        let bucket = LATENCY_BUCKETS.iter().position(|le| secs <= *le).unwrap_or(LATENCY_BUCKETS.len());
        self.latency[bucket].fetch_add(count, Ordering::Relaxed);
        let nanos = u64::try_from(each.as_nanos()).unwrap_or(u64::MAX);
        self.latency_sum_ns.fetch_add(nanos.saturating_mul(count), Ordering::Relaxed);
    }

    /// The whole exposition, with the service's counters as they are now.
    pub fn render(&self, service: &AuditService) -> String {
        let mut out = String::new();
        let publishes = self.publishes.lock().unwrap();
        header(&mut out, "wasp_events_accepted_total", "counter", "Events accepted by the sidecar, by topic and tenant (\"\": none).");
        for ((topic, tenant), c) in publishes.iter() {
            line(&mut out, "wasp_events_accepted_total", &[("topic", topic), ("tenant", tenant)], c.accepted);
        }
        header(&mut out, "wasp_events_rejected_total", "counter", "Events the sidecar refused, by topic, tenant and reason.");
        for ((topic, tenant), c) in publishes.iter() {
            for (reason, n) in &c.rejected {
                line(&mut out, "wasp_events_rejected_total", &[("topic", topic), ("tenant", tenant), ("reason", reason)], *n);
            }
        }
        drop(publishes);

        header(&mut out, "wasp_publish_latency_seconds", "histogram", "Time publish took, per event.");
        let mut cumulative = 0;
        for (i, le) in LATENCY_BUCKETS.iter().enumerate() {
            cumulative += self.latency[i].load(Ordering::Relaxed);
            line(&mut out, "wasp_publish_latency_seconds_bucket", &[("le", &le.to_string())], cumulative);
        }
        cumulative += self.latency[LATENCY_BUCKETS.len()].load(Ordering::Relaxed);
        line(&mut out, "wasp_publish_latency_seconds_bucket", &[("le", "+Inf")], cumulative);
        let sum = self.latency_sum_ns.load(Ordering::Relaxed) as f64 / 1e9;
        let _ = writeln!(out, "wasp_publish_latency_seconds_sum {sum}");
        let _ = writeln!(out, "wasp_publish_latency_seconds_count {cumulative}");

        let summary = service.summary();
        let backlog = service.backlog();
        let handler_series: [Series; 11] = [
            ("wasp_handler_received_total", "Events a handler took from the journal.", |h| h.received),
            ("wasp_handler_delivered_total", "Events whose records reached the handler's outputs.", |h| h.delivered),
            ("wasp_handler_dead_lettered_total", "Events kept in the dead-letter store.", |h| h.dead_lettered),
            ("wasp_handler_lost_total", "Events neither delivered nor dead-lettered.", |h| h.lost),
            ("wasp_handler_dropped_total", "Events the drop-oldest policy dropped before the handler read them.", |h| h.dropped),
            (
                "wasp_handler_spilled_total",
                "Events moved untried to the dead-letter store while the handler was quarantined and the journal needed the room (also in dead_lettered).",
                |h| h.spilled,
            ),
            ("wasp_handler_fuel_used_total", "Fuel the handler's calls consumed.", |h| h.fuel_used),
            ("wasp_handler_calls_total", "Handler calls made.", |h| h.calls),
            ("wasp_handler_quarantines_total", "Times the handler's circuit breaker opened.", |h| h.quarantines),
            (
                "wasp_handler_output_retries_total",
                "Batches tried again because a network output (syslog, …) was down; their events waited in the journal.",
                |h| h.retries,
            ),
            ("wasp_handler_busy_nanoseconds_total", "Time spent in handler calls and output writes.", |h| h.busy_ns),
        ];
        for (name, help, value) in handler_series {
            header(&mut out, name, "counter", help);
            for h in &summary.handlers {
                line(&mut out, name, &[("handler", &h.name), ("tenant", h.tenant.as_deref().unwrap_or(""))], value(h));
            }
        }
        type OutputSeries = (&'static str, &'static str, fn(&crate::delivery::OutputCounts) -> u64);
        let output_series: [OutputSeries; 4] = [
            ("wasp_output_records_sent_total", "Records handed to an output (a retried batch counts again).", |c| c.sent),
            ("wasp_output_records_acknowledged_total", "Records an output acknowledged (a network receiver: its acknowledgement).", |c| {
                c.acknowledged
            }),
            ("wasp_output_retries_total", "Attempts of an output that failed transiently and were tried again later.", |c| c.retried),
            ("wasp_output_records_rejected_total", "Records a receiver refused for good (their events dead-lettered).", |c| c.rejected),
        ];
        for (name, help, value) in output_series {
            header(&mut out, name, "counter", help);
            for h in &summary.handlers {
                for o in &h.outputs {
                    let labels = [
                        ("handler", h.name.as_str()),
                        ("tenant", h.tenant.as_deref().unwrap_or("")),
                        ("output", &o.name),
                        ("type", &o.kind),
                    ];
                    line(&mut out, name, &labels, value(&o.counts));
                }
            }
        }
        header(&mut out, "wasp_handler_faults_total", "counter", "Dead letters by fault kind.");
        for h in &summary.handlers {
            for (kind, n) in &h.faults {
                line(
                    &mut out,
                    "wasp_handler_faults_total",
                    &[("handler", &h.name), ("tenant", h.tenant.as_deref().unwrap_or("")), ("kind", kind)],
                    *n,
                );
            }
        }
        header(
            &mut out,
            "wasp_handler_state",
            "gauge",
            "1 for the handler's state (circuit closed: running; open: quarantined; disabled).",
        );
        for h in &summary.handlers {
            for (state, label) in
                [(HandlerState::Running, "running"), (HandlerState::Quarantined, "quarantined"), (HandlerState::Disabled, "disabled")]
            {
                let labels = [("handler", h.name.as_str()), ("tenant", h.tenant.as_deref().unwrap_or("")), ("state", label)];
                line(&mut out, "wasp_handler_state", &labels, u64::from(h.state == state));
            }
        }
        header(
            &mut out,
            "wasp_handler_output_down",
            "gauge",
            "1 while an output of the handler fails (a receiver down, a full disk under a file output): its events wait in the journal.",
        );
        for h in &summary.handlers {
            line(
                &mut out,
                "wasp_handler_output_down",
                &[("handler", &h.name), ("tenant", h.tenant.as_deref().unwrap_or(""))],
                u64::from(h.output_error.is_some()),
            );
        }
        header(
            &mut out,
            "wasp_journal_storage_failing",
            "gauge",
            "1 while the journal cannot store events (its disk is full): publish is refused with 507.",
        );
        line(&mut out, "wasp_journal_storage_failing", &[], u64::from(service.storage_alarm().is_some()));
        header(&mut out, "wasp_handler_lag_events", "gauge", "Events of its stream the handler has not acknowledged yet.");
        for lag in &backlog.handlers {
            line(&mut out, "wasp_handler_lag_events", &[("handler", &lag.name)], lag.lag);
        }
        header(&mut out, "wasp_journal_events", "gauge", "Events the journal holds for handlers, per stream (tenant \"\": none).");
        for s in &backlog.streams {
            line(&mut out, "wasp_journal_events", &[("tenant", s.tenant.as_deref().unwrap_or(""))], s.events as u64);
        }
        header(&mut out, "wasp_journal_bytes", "gauge", "Bytes of event JSON the journal holds, per stream.");
        for s in &backlog.streams {
            line(&mut out, "wasp_journal_bytes", &[("tenant", s.tenant.as_deref().unwrap_or(""))], s.bytes as u64);
        }
        header(&mut out, "wasp_journal_head_sequence", "gauge", "The last sequence number assigned, per stream.");
        for s in &backlog.streams {
            line(&mut out, "wasp_journal_head_sequence", &[("tenant", s.tenant.as_deref().unwrap_or(""))], s.head);
        }
        candidate_series(&mut out, &service.candidate_reports());
        header(
            &mut out,
            "wasp_tenant_over_quota_total",
            "counter",
            "Events refused because the tenant was over its eventsPerSecond quota.",
        );
        for t in &summary.tenants {
            line(&mut out, "wasp_tenant_over_quota_total", &[("tenant", &t.name)], t.over_quota);
        }
        out
    }
}

/// The shadow and canary reports (`wasp shadow report`) as series.
fn candidate_series(out: &mut String, reports: &[crate::delivery::candidate::CandidateReport]) {
    type Candidate = fn(&crate::delivery::candidate::CandidateReport) -> u64;
    let series: [(&str, &str, Candidate); 4] = [
        ("wasp_shadow_compared_total", "Events a shadow and the live version both handled, compared record by record.", |r| r.compared),
        ("wasp_shadow_identical_total", "Compared events with the same records (or the same fault kind).", |r| r.identical),
        ("wasp_shadow_differing_total", "Compared events with other records or another outcome.", |r| r.differing),
        ("wasp_candidate_running", "1 while the shadow or canary runs (0: promoted or rolled back).", |r| u64::from(r.state == "running")),
    ];
    for (name, help, value) in series {
        header(out, name, if name.ends_with("_total") { "counter" } else { "gauge" }, help);
        for r in reports {
            let version = r.version.to_string();
            line(out, name, &[("handler", &r.handler), ("mode", &r.mode), ("version", &version)], value(r));
        }
    }
    type Side = fn(&crate::delivery::candidate::SideStats) -> u64;
    let sides: [(&str, &str, Side); 3] = [
        ("wasp_candidate_events_total", "Events handled since the shadow or canary started, by side (live, candidate).", |s| s.events),
        ("wasp_candidate_faults_total", "Faulted events since the shadow or canary started, by side.", |s| s.faults),
        ("wasp_candidate_fuel_total", "Fuel used since the shadow or canary started, by side (divide by events: fuel per event).", |s| {
            s.fuel
        }),
    ];
    for (name, help, value) in sides {
        header(out, name, "counter", help);
        for r in reports {
            let version = r.version.to_string();
            for (side, stats) in [("live", &r.live), ("candidate", &r.candidate)] {
                line(out, name, &[("handler", &r.handler), ("mode", &r.mode), ("version", &version), ("side", side)], value(stats));
            }
        }
    }
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

fn line(out: &mut String, name: &str, labels: &[(&str, &str)], value: u64) {
    if labels.is_empty() {
        let _ = writeln!(out, "{name} {value}");
        return;
    }
    let labels: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{}\"", escape(v))).collect();
    let _ = writeln!(out, "{name}{{{}}} {value}", labels.join(","));
}

/// A label value as the text format needs it: `\`, `"` and newlines escaped.
fn escape(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}
