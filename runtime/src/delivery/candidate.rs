//! A candidate version on a handler's delivery thread: a *shadow* (it gets
//! every event the live version handles; its records go to files in the
//! shadow directory, never to the outputs; the two are compared record by
//! record) or a *canary* (a stable share of the events is handled by it,
//! into the real outputs, and it is rolled back automatically when its
//! fault rate or fuel per event exceeds the live version's by the
//! configured thresholds).
//!
//! Invariants (journal positions):
//! - the candidate is installed, promoted and withdrawn by the delivery
//!   thread between two batches, when every event it read is acknowledged:
//!   the position `S` it reports is the last event handled before the
//!   change, and the next batch (from `S+1`) is handled after it;
//! - a shadow never writes to the outputs, the dead-letter store, the
//!   handler's state or its counters: a shadow that traps changes nothing
//!   the live version does;
//! - a canary's events are handled exactly like the live version's (same
//!   filters, outputs, dead letters, cursor): each event by exactly one of
//!   the two, in journal order, and its dead letters name its component.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

use std::sync::atomic::Ordering;
use std::time::Instant;

use super::{Breaker, EventResult, Worker};
use crate::deploy::CanarySettings;
use crate::engine::FaultKind;
use crate::engine::{HandlerInstance, HandlerPre, OutputSpec, StateStore};
use crate::event::HostEvent;

/// The records of delivered events, per output index, by sequence.
pub type Captured = BTreeMap<u64, Vec<(usize, Vec<u8>)>>;

/// How many differing events a shadow report keeps (the count goes on).
pub const KEPT_DIFFS: usize = 20;

/// Called once when a canary is rolled back automatically: the reason and
/// the journal position after which the live version handles everything.
pub type RollbackHook = Box<dyn FnOnce(String, u64) + Send>;

/// How a candidate runs.
pub enum CandidateMode {
    /// Beside the live version; records appended to files in `dir` (one
    /// per declared output, named like it).
    Shadow {
        /// The shadow directory of this version.
        dir: PathBuf,
    },
    /// On a share of the events.
    Canary(CanarySettings),
}

/// A version running beside the live one on its thread.
pub struct Candidate {
    /// Its version number.
    pub version: u64,
    /// Its component.
    pub pre: Option<HandlerPre>,
    /// Its component's SHA-256 (dead letters name it).
    pub hash: String,
    /// Its `init` config.
    pub config: String,
    /// Its own state (never the live version's).
    pub state: StateStore,
    /// Its instance.
    pub instance: Option<HandlerInstance>,
    /// A breaker that never opens (a canary is judged by its rates instead).
    pub breaker: Breaker,
    /// Shadow or canary.
    pub mode: CandidateMode,
    /// What it did so far, shared with the service.
    pub report: Arc<Mutex<CandidateReport>>,
    /// Automatic rollback's callback (canaries).
    pub on_rollback: Option<RollbackHook>,
}

/// Events, faults and fuel of one side.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SideStats {
    /// Events handled.
    pub events: u64,
    /// Events that faulted (trap, fuel, deadline, guest error, …).
    pub faults: u64,
    /// Fuel consumed.
    pub fuel: u64,
}

impl SideStats {
    /// Faulted events per event.
    pub fn fault_rate(&self) -> f64 {
        if self.events == 0 { 0.0 } else { self.faults as f64 / self.events as f64 }
    }

    /// Fuel per event.
    pub fn fuel_per_event(&self) -> f64 {
        if self.events == 0 { 0.0 } else { self.fuel as f64 / self.events as f64 }
    }
}

/// One event on which the shadow and the live version differed.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Diff {
    /// The event's journal sequence.
    pub sequence: u64,
    /// The event's `_id`.
    pub event_id: String,
    /// What the live version did (its records, or its fault).
    pub live: String,
    /// What the shadow did.
    pub shadow: String,
}

/// What a shadow or canary did (`wasp shadow report`, `/metrics`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct CandidateReport {
    /// The handler.
    pub handler: String,
    /// `shadow` or `canary`.
    pub mode: String,
    /// The candidate's version number.
    pub version: u64,
    /// The live version's number it is compared with.
    pub live_version: Option<u64>,
    /// `running`, `promoted` or `rolled-back`.
    pub state: String,
    /// Journal position when it started: it saw the events after it.
    pub since: u64,
    /// Events both versions handled and that were compared (shadow).
    pub compared: u64,
    /// Of those, with the same records (or the same fault kind).
    pub identical: u64,
    /// Of those, with other records or another outcome.
    pub differing: u64,
    /// The first differing events.
    pub diffs: Vec<Diff>,
    /// The live version's side.
    pub live: SideStats,
    /// The candidate's side.
    pub candidate: SideStats,
    /// Where a shadow's records go.
    pub shadow_directory: Option<String>,
    /// Why it was rolled back, if it was.
    pub reason: Option<String>,
}

/// What one version did with one event.
#[derive(Debug, Clone)]
pub(super) enum Observation {
    /// Its records, per output index.
    Records(Vec<(usize, Vec<u8>)>),
    /// It faulted.
    Fault {
        /// The fault kind (what is compared).
        kind: &'static str,
        /// The message (shown).
        message: String,
    },
}

impl Observation {
    fn same(&self, other: &Observation) -> bool {
        match (self, other) {
            (Observation::Records(a), Observation::Records(b)) => a == b,
            (Observation::Fault { kind: a, .. }, Observation::Fault { kind: b, .. }) => a == b,
            _ => false,
        }
    }

    fn describe(&self, specs: &[OutputSpec]) -> String {
        let text = match self {
            Observation::Records(records) if records.is_empty() => "no records".to_owned(),
            Observation::Records(records) => records
                .iter()
                .map(|(output, data)| format!("{}: {}", specs.get(*output).map_or("?", |s| s.name.as_str()), String::from_utf8_lossy(data)))
                .collect::<Vec<_>>()
                .join(" | "),
            Observation::Fault { kind, message } => format!("fault {kind}: {message}"),
        };
        if text.len() > 400 {
            let mut cut = 400;
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
            format!("{}…", &text[..cut])
        } else {
            text
        }
    }
}

impl Candidate {
    /// Whether it is a canary.
    pub fn is_canary(&self) -> bool {
        matches!(self.mode, CandidateMode::Canary(_))
    }

    /// Runs the shadow on `events` (what the live version just handled,
    /// with what it did and the fuel it used), writes its records to the
    /// shadow files and compares.
    pub(super) fn shadow(
        &mut self,
        handler: &str,
        budgets: &crate::engine::Budgets,
        specs: &Arc<[OutputSpec]>,
        live: Vec<(Arc<HostEvent>, Observation)>,
        live_fuel: u64,
    ) {
        if live.is_empty() {
            return;
        }
        let events: Vec<Arc<HostEvent>> = live.iter().map(|(e, _)| e.clone()).collect();
        let (observed, fuel) = self.call_isolated(handler, budgets, specs, &events);
        if let CandidateMode::Shadow { dir } = &self.mode
            && let Err(e) = write_shadow(dir, specs, &observed)
        {
            tracing::warn!(handler, dir = %dir.display(), "cannot write the shadow's records: {e}");
        }
        let mut report = self.report.lock().unwrap_or_else(|e| e.into_inner());
        report.live.events += live.len() as u64;
        report.live.fuel += live_fuel;
        report.candidate.events += events.len() as u64;
        report.candidate.fuel += fuel;
        for ((event, mine), theirs) in live.iter().zip(&observed) {
            report.live.faults += u64::from(matches!(mine, Observation::Fault { .. }));
            report.candidate.faults += u64::from(matches!(theirs, Observation::Fault { .. }));
            report.compared += 1;
            if mine.same(theirs) {
                report.identical += 1;
            } else {
                report.differing += 1;
                if report.diffs.len() < KEPT_DIFFS {
                    report.diffs.push(Diff {
                        sequence: event.sequence,
                        event_id: event.id.clone(),
                        live: mine.describe(specs),
                        shadow: theirs.describe(specs),
                    });
                }
            }
        }
    }

    /// Calls the candidate on `events` as one batch; when the batch faults,
    /// again one event at a time on fresh instances, so that each event has
    /// its own outcome. Returns one observation per event and the fuel.
    fn call_isolated(
        &mut self,
        handler: &str,
        budgets: &crate::engine::Budgets,
        specs: &Arc<[OutputSpec]>,
        events: &[Arc<HostEvent>],
    ) -> (Vec<Observation>, u64) {
        let mut fuel = 0;
        match self.call(handler, budgets, specs, events) {
            Ok((observed, used)) => (observed, used),
            Err((fault, used)) if events.len() == 1 => (vec![fault], used),
            Err((_, used)) => {
                fuel += used;
                let mut observed = Vec::with_capacity(events.len());
                for event in events {
                    match self.call(handler, budgets, specs, std::slice::from_ref(event)) {
                        Ok((mut one, used)) => {
                            fuel += used;
                            observed.append(&mut one);
                        }
                        Err((fault, used)) => {
                            fuel += used;
                            observed.push(fault);
                        }
                    }
                }
                (observed, fuel)
            }
        }
    }

    fn call(
        &mut self,
        handler: &str,
        budgets: &crate::engine::Budgets,
        specs: &Arc<[OutputSpec]>,
        events: &[Arc<HostEvent>],
    ) -> Result<(Vec<Observation>, u64), (Observation, u64)> {
        let fault = |f: crate::engine::Fault| (Observation::Fault { kind: f.kind.as_str(), message: f.message }, f.fuel_used);
        if self.instance.is_none() {
            let pre = self.pre.as_ref().expect("a candidate has a component");
            self.instance = Some(pre.instantiate(handler, budgets, specs.clone(), self.state.clone(), &self.config).map_err(fault)?);
        }
        let instance = self.instance.as_mut().expect("just set");
        match instance.handle_batch(events) {
            Err(f) => {
                self.instance = None;
                Err(fault(f))
            }
            Ok(outcome) => {
                let mut by_sequence: BTreeMap<u64, Vec<(usize, Vec<u8>)>> = BTreeMap::new();
                for record in outcome.staged {
                    by_sequence.entry(record.sequence).or_default().push((record.output, record.data));
                }
                let observed = events
                    .iter()
                    .zip(outcome.results)
                    .map(|(event, result)| match result {
                        Ok(()) => Observation::Records(by_sequence.remove(&event.sequence).unwrap_or_default()),
                        Err(e) => Observation::Fault { kind: "guest-error", message: e.message },
                    })
                    .collect();
                Ok((observed, outcome.fuel_used))
            }
        }
    }
}

/// Appends a shadow's records to `dir/<output>` (a line per record for
/// line-oriented outputs).
fn write_shadow(dir: &std::path::Path, specs: &[OutputSpec], observed: &[Observation]) -> std::io::Result<()> {
    let mut files: BTreeMap<usize, std::fs::File> = BTreeMap::new();
    for observation in observed {
        let Observation::Records(records) = observation else { continue };
        for (output, data) in records {
            let Some(spec) = specs.get(*output) else { continue };
            let file = match files.entry(*output) {
                std::collections::btree_map::Entry::Occupied(f) => f.into_mut(),
                std::collections::btree_map::Entry::Vacant(slot) => {
                    std::fs::create_dir_all(dir)?;
                    let name = spec.name.replace(['/', '\\'], "_");
                    slot.insert(std::fs::OpenOptions::new().create(true).append(true).open(dir.join(name))?)
                }
            };
            file.write_all(data)?;
            if spec.line_oriented && !data.ends_with(b"\n") {
                file.write_all(b"\n")?;
            }
        }
    }
    for file in files.values_mut() {
        file.flush()?;
    }
    Ok(())
}

impl Worker {
    /// Installs a shadow or canary, its first instance `init`ed first.
    pub(super) fn start_candidate(&mut self, mut candidate: Candidate) -> Result<u64, String> {
        let pre = candidate.pre.as_ref().ok_or("a candidate needs a component")?;
        let instance = pre
            .instantiate(&self.name, &self.budgets, self.output_specs.clone(), candidate.state.clone(), &candidate.config)
            .map_err(|fault| format!("the new version failed to start ({}): {}", fault.kind.as_str(), fault.message))?;
        candidate.instance = Some(instance);
        candidate.report.lock().unwrap_or_else(|e| e.into_inner()).since = self.acked;
        tracing::info!(handler = %self.name, version = candidate.version, position = self.acked, canary = candidate.is_canary(), "candidate version started");
        self.candidate = Some(candidate);
        Ok(self.acked)
    }

    /// Makes the candidate live, keeping the handler's state.
    pub(super) fn promote(&mut self) -> Result<u64, String> {
        let mut candidate = self.candidate.take().ok_or("no shadow or canary runs")?;
        self.exchange(&mut candidate);
        // The live state and breaker carry on (the candidate's were its
        // own; its breaker never opens).
        std::mem::swap(&mut self.state, &mut candidate.state);
        std::mem::swap(&mut self.breaker, &mut candidate.breaker);
        self.instance = None;
        self.breaker.reset();
        tracing::info!(handler = %self.name, version = candidate.version, position = self.acked, "candidate promoted");
        candidate.report.lock().unwrap_or_else(|e| e.into_inner()).state = "promoted".into();
        Ok(self.acked)
    }

    /// Delivers, then runs the shadow on what the live version handled.
    pub(super) fn deliver_shadowed(&mut self, events: &[Arc<HostEvent>]) -> Option<u64> {
        let fuel_before = self.stats.fuel_used.load(Ordering::Relaxed);
        self.captured = Some(Default::default());
        let started = Instant::now();
        let (results, stopped_at) = self.handle(events);
        let mut captured = self.captured.take().unwrap_or_default();
        let live: Vec<(Arc<HostEvent>, Observation)> = results
            .iter()
            .filter_map(|(event, result)| match result {
                EventResult::Delivered => Some((event.clone(), Observation::Records(captured.remove(&event.sequence).unwrap_or_default()))),
                EventResult::Failed(r) if r.kind != FaultKind::Init => {
                    Some((event.clone(), Observation::Fault { kind: r.kind.as_str(), message: r.message.clone() }))
                }
                _ => None,
            })
            .collect();
        self.record_results(results, started);
        let fuel = self.stats.fuel_used.load(Ordering::Relaxed) - fuel_before;
        if let Some(mut shadow) = self.candidate.take() {
            shadow.shadow(&self.name, &self.budgets, &self.output_specs, live, fuel);
            self.candidate = Some(shadow);
        }
        stopped_at
    }

    /// Exchanges the live version's component, instance, config, state,
    /// version and breaker with the candidate's (twice: back again).
    pub(super) fn exchange(&mut self, c: &mut Candidate) {
        std::mem::swap(&mut self.pre, &mut c.pre);
        std::mem::swap(&mut self.instance, &mut c.instance);
        std::mem::swap(&mut self.handler_config, &mut c.config);
        std::mem::swap(&mut self.state, &mut c.state);
        std::mem::swap(&mut self.version, &mut c.hash);
        std::mem::swap(&mut self.breaker, &mut c.breaker);
    }

    /// Delivers with a canary: runs of consecutive events are handled by
    /// the version their hash routes them to, in journal order; then the
    /// canary is judged.
    pub(super) fn deliver_canary(&mut self, events: &[Arc<HostEvent>]) -> Option<u64> {
        let Some(mut candidate) = self.candidate.take() else {
            return self.deliver_plain(events);
        };
        let CandidateMode::Canary(settings) = &candidate.mode else {
            self.candidate = Some(candidate);
            return self.deliver_plain(events);
        };
        let settings = settings.clone();
        let mut start = 0;
        let mut stopped = None;
        while start < events.len() {
            let to_canary = settings.routes(&events[start]);
            let mut end = start + 1;
            while end < events.len() && settings.routes(&events[end]) == to_canary {
                end += 1;
            }
            let before = self.side_counts();
            if to_canary {
                self.exchange(&mut candidate);
                stopped = self.deliver_plain(&events[start..end]);
                self.exchange(&mut candidate);
            } else {
                stopped = self.deliver_plain(&events[start..end]);
            }
            let after = self.side_counts();
            let mut report = candidate.report.lock().unwrap_or_else(|e| e.into_inner());
            let side = if to_canary { &mut report.candidate } else { &mut report.live };
            side.events += after.0 - before.0;
            side.faults += after.1 - before.1;
            side.fuel += after.2 - before.2;
            drop(report);
            if stopped.is_some() {
                break;
            }
            start = end;
        }
        let handled_to = stopped.map_or_else(|| events.last().map_or(0, |e| e.sequence), |next| next - 1);
        let verdict = judge(&settings, &candidate.report.lock().unwrap_or_else(|e| e.into_inner()));
        match verdict {
            None => self.candidate = Some(candidate),
            Some(reason) => {
                tracing::warn!(handler = %self.name, version = candidate.version, position = handled_to, "canary rolled back automatically: {reason}");
                {
                    let mut report = candidate.report.lock().unwrap_or_else(|e| e.into_inner());
                    report.state = "rolled-back".into();
                    report.reason = Some(reason.clone());
                }
                if let Some(hook) = candidate.on_rollback.take() {
                    hook(reason, handled_to);
                }
            }
        }
        stopped
    }

    /// Events received, faulted (dead-lettered or lost) and fuel used so far.
    fn side_counts(&self) -> (u64, u64, u64) {
        use std::sync::atomic::Ordering::Relaxed;
        let s = &self.stats;
        (
            s.received.load(Relaxed) - s.filtered.load(Relaxed),
            s.dead_lettered.load(Relaxed) + s.lost.load(Relaxed),
            s.fuel_used.load(Relaxed),
        )
    }
}

/// Why a canary must be rolled back, if it must.
fn judge(settings: &CanarySettings, report: &CandidateReport) -> Option<String> {
    let (canary, live) = (&report.candidate, &report.live);
    if canary.events < settings.min_events {
        return None;
    }
    if canary.fault_rate() > live.fault_rate() + settings.max_fault_rate_increase {
        return Some(format!(
            "fault rate {:.1}% ({} of {} events) against the live version's {:.1}% (allowed: {:.1} points more)",
            canary.fault_rate() * 100.0,
            canary.faults,
            canary.events,
            live.fault_rate() * 100.0,
            settings.max_fault_rate_increase * 100.0
        ));
    }
    if live.events > 0 && canary.fuel_per_event() > live.fuel_per_event() * settings.max_fuel_ratio {
        return Some(format!(
            "fuel per event {:.0} against the live version's {:.0} (allowed: {}x)",
            canary.fuel_per_event(),
            live.fuel_per_event(),
            settings.max_fuel_ratio
        ));
    }
    None
}
