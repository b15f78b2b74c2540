//! What fleet mode needs from the service (`crate::fleet`): the journals
//! for an edge's forwarder, and for a worker an append of an event an edge
//! already accepted and a way to tell when its handler is done with it.

use std::sync::Arc;

use super::AuditService;
use crate::event::HostEvent;
use crate::journal::Journal;

impl AuditService {
    /// The journals, by tenant (`None`: events without one), for the fleet
    /// edge's forwarder.
    pub(crate) fn journal_list(&self) -> Vec<(Option<String>, Arc<dyn Journal>)> {
        self.journals.iter().map(|(t, j)| (t.clone(), j.clone())).collect()
    }

    /// Records the fleet edge's forwarder cursor on a journal.
    pub(crate) fn set_forwarder(&self, tenant: Option<String>, cursor: crate::journal::CursorId) {
        self.forwarder.write().unwrap().insert(tenant, cursor);
    }

    /// Appends an event a fleet edge already accepted (validated, filtered)
    /// to the journal as it is; its sequence there.
    pub(crate) fn ingest(&self, tenant: Option<&str>, topic: &str, json: &[u8]) -> Result<u64, String> {
        let journal =
            self.journals.get(&tenant.map(str::to_owned)).ok_or_else(|| format!("no tenant `{}` here", tenant.unwrap_or_default()))?;
        let document: serde_json::Map<String, serde_json::Value> =
            serde_json::from_slice(json).map_err(|e| format!("not a JSON object: {e}"))?;
        let mut event = HostEvent::from_document(topic, document, usize::MAX).map_err(|e| e.to_string())?;
        event.tenant = tenant.map(str::to_owned);
        journal.append(event).map(|e| e.sequence).map_err(|e| e.to_string())
    }

    /// Makes the handlers of `tenant`'s journal take what it holds now,
    /// without waiting for their batch to fill (a fleet worker appends a
    /// whole fetched batch, and nothing more comes before it is handled).
    pub(crate) fn wake_handlers(&self, tenant: Option<&str>) {
        let Some(journal) = self.journals.get(&tenant.map(str::to_owned)) else {
            return;
        };
        for cursor in self.handlers.read().unwrap().iter().filter(|h| h.tenant.as_deref() == tenant).filter_map(|h| h.cursor) {
            journal.wake(cursor);
        }
    }

    /// Whether every handler reading `tenant`'s journal acknowledged
    /// `sequence` (delivered it or dead-lettered it).
    pub(crate) fn handled_through(&self, tenant: Option<&str>, sequence: u64) -> bool {
        let Some(journal) = self.journals.get(&tenant.map(str::to_owned)) else { return true };
        self.handlers
            .read()
            .unwrap()
            .iter()
            .filter(|h| h.tenant.as_deref() == tenant)
            .filter_map(|h| h.cursor)
            .all(|c| journal.acked(c) >= sequence)
    }
}
