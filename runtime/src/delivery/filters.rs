//! The filter stage of one handler's delivery: the configured `filter`
//! components whose topics include the event's, in configuration order,
//! before the handler sees the event. Each keeps, drops or replaces it.
//!
//! A filter that faults (trap, fuel, deadline, a replacement that is not a
//! JSON object, …) is recycled like a handler, and the event either passes
//! unchanged (`onFault: "open"`) or is dead-lettered with kind `filter`
//! (`onFault: "closed"`, the default: nothing unfiltered gets through, and
//! nothing is lost). `publish` never waits for a filter.

use std::collections::BTreeSet;
use std::sync::Arc;

use crate::dead_letter::FaultRecord;
use crate::engine::{Budgets, Fault, FaultKind, FilterInstance, FilterPre, Verdict};
use crate::event::{HostEvent, IntoEvent};

/// What happens to an event when a filter faults on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnFault {
    /// Pass the event on unchanged.
    Open,
    /// Dead-letter it (kind `filter`).
    Closed,
}

/// One filter of the chain.
pub struct FilterStage {
    pub name: String,
    pub topics: BTreeSet<String>,
    pub pre: FilterPre,
    pub budgets: Budgets,
    pub config_json: String,
    pub on_fault: OnFault,
    pub instance: Option<FilterInstance>,
}

/// What the chain decided for one event.
pub enum Filtered {
    /// Handle this (the original, or a filter's replacement).
    Pass(Arc<HostEvent>),
    /// A filter dropped it.
    Dropped,
    /// A filter faulted and fails closed: the event as that filter got it
    /// (after the filters before it), and why.
    Failed(Arc<HostEvent>, FaultRecord),
}

impl FilterStage {
    fn verdicts(&mut self, events: &[Arc<HostEvent>]) -> Result<Vec<Verdict>, Fault> {
        if self.instance.is_none() {
            self.instance = Some(self.pre.instantiate(&self.name, &self.budgets, &self.config_json)?);
        }
        let result = self.instance.as_mut().expect("just set").filter_batch(events);
        if result.is_err() {
            self.instance = None;
        }
        result
    }

    /// Verdicts for `events`, isolating a faulty event when a batch faults.
    fn run(&mut self, events: &[Arc<HostEvent>]) -> Vec<Result<Verdict, Fault>> {
        match self.verdicts(events) {
            Ok(verdicts) => verdicts.into_iter().map(Ok).collect(),
            Err(fault) if events.len() == 1 => vec![Err(fault)],
            Err(_) => events.iter().map(|e| self.verdicts(std::slice::from_ref(e)).map(|mut v| v.remove(0))).collect(),
        }
    }
}

/// Runs `events` through every stage whose topics include theirs.
pub fn apply(stages: &mut [FilterStage], events: &[Arc<HostEvent>]) -> Vec<Filtered> {
    let mut outcomes: Vec<Filtered> = events.iter().cloned().map(Filtered::Pass).collect();
    for stage in stages.iter_mut() {
        let positions: Vec<usize> = outcomes
            .iter()
            .enumerate()
            .filter_map(|(i, o)| matches!(o, Filtered::Pass(e) if stage.topics.contains(&e.topic)).then_some(i))
            .collect();
        if positions.is_empty() {
            continue;
        }
        let input: Vec<Arc<HostEvent>> = positions
            .iter()
            .map(|&i| match &outcomes[i] {
                Filtered::Pass(e) => e.clone(),
                _ => unreachable!("only passing events are filtered"),
            })
            .collect();
        for ((&i, event), verdict) in positions.iter().zip(&input).zip(stage.run(&input)) {
            outcomes[i] = match verdict.and_then(|v| replacement(event, v)) {
                Ok(Some(event)) => Filtered::Pass(event),
                Ok(None) => Filtered::Dropped,
                Err(fault) => {
                    tracing::warn!(filter = %stage.name, event = %event.id, fault = fault.kind.as_str(), "filter faulted: {}", fault.message);
                    match stage.on_fault {
                        OnFault::Open => Filtered::Pass(event.clone()),
                        OnFault::Closed => Filtered::Failed(
                            event.clone(),
                            FaultRecord {
                                kind: FaultKind::Filter,
                                message: format!("filter `{}` faulted ({}): {}", stage.name, fault.kind.as_str(), fault.message),
                                ..FaultRecord::from_fault(&fault)
                            },
                        ),
                    }
                }
            };
        }
    }
    outcomes
}

/// The event a verdict leaves: `None` when dropped. A replacement keeps the
/// event's `_id`, sequence, topic and tenant.
fn replacement(event: &Arc<HostEvent>, verdict: Verdict) -> Result<Option<Arc<HostEvent>>, Fault> {
    let json = match verdict {
        Verdict::Keep => return Ok(Some(event.clone())),
        Verdict::Drop => return Ok(None),
        Verdict::Replace(json) => json,
    };
    let bad = |message: String| Fault {
        kind: FaultKind::Trap,
        message,
        trap_code: Some("invalid replacement".into()),
        fuel_used: 0,
        peak_memory: 0,
        truncated_bytes: 0,
    };
    let mut document = json.as_str().into_document(usize::MAX).map_err(|e| bad(format!("the replacement is not an event: {e}")))?;
    document.insert("_id".into(), serde_json::Value::String(event.id.clone()));
    let mut replaced =
        HostEvent::from_document(&event.topic, document, usize::MAX).map_err(|e| bad(format!("the replacement is not an event: {e}")))?;
    replaced.sequence = event.sequence;
    replaced.tenant = event.tenant.clone();
    Ok(Some(Arc::new(replaced)))
}
