//! A canary's settings: the share of events it gets (by a stable hash) and
//! the thresholds that roll it back.

use serde_json::Value;

/// A canary's share and its automatic-rollback thresholds.
#[derive(Debug, Clone, PartialEq)]
pub struct CanarySettings {
    /// Percent of the events (1–99) routed to the canary, by a stable hash.
    pub percent: u32,
    /// The field whose value is hashed (a JSON pointer, e.g.
    /// `/userId`); `None`: the event's `_id`.
    pub field: Option<String>,
    /// Roll back when the canary's fault rate exceeds the live version's by
    /// more than this (0.05: five percentage points).
    pub max_fault_rate_increase: f64,
    /// Roll back when the canary's fuel per event exceeds the live
    /// version's times this.
    pub max_fuel_ratio: f64,
    /// Judge only after the canary handled this many events.
    pub min_events: u64,
}

impl Default for CanarySettings {
    fn default() -> Self {
        CanarySettings { percent: 10, field: None, max_fault_rate_increase: 0.05, max_fuel_ratio: 2.0, min_events: 20 }
    }
}

/// Text that is not a canary share (1% to 99%).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a canary share: expected 1% to 99%")]
pub struct NotAShare(pub String);

impl CanarySettings {
    /// Reads a share: `10%` or `10`.
    pub fn parse_percent(text: &str) -> Result<u32, NotAShare> {
        let number = text.trim().trim_end_matches('%');
        match number.parse::<u32>() {
            Ok(p) if (1..=99).contains(&p) => Ok(p),
            _ => Err(NotAShare(text.to_owned())),
        }
    }

    /// Whether the event goes to the canary: FNV-1a of the hashed value,
    /// modulo 100, below the share (stable across restarts and versions).
    pub fn routes(&self, event: &crate::event::HostEvent) -> bool {
        let key: std::borrow::Cow<'_, str> = match &self.field {
            None => event.id.as_str().into(),
            Some(pointer) => match serde_json::from_str::<Value>(&event.json).ok().and_then(|v| v.pointer(pointer).cloned()) {
                Some(Value::String(s)) => s.into(),
                Some(other) => other.to_string().into(),
                None => "".into(),
            },
        };
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        for byte in key.as_bytes() {
            hash ^= u64::from(*byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
        (hash % 100) < u64::from(self.percent)
    }
}
