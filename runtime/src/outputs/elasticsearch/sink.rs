//! Sends bulk requests and reads their per-item results.

use std::io::ErrorKind;
use std::time::Duration;

use serde_json::Value;

use crate::outputs::Sink;

/// Where the bulk requests go.
#[derive(Clone, PartialEq, Eq)]
pub struct BulkTarget {
    /// `http(s)://host:port` (no trailing `/`).
    pub base_url: String,
    /// Basic authentication.
    pub credentials: Option<(String, String)>,
    /// CA and client certificate for `https://`.
    pub tls: crate::outputs::http::TlsFiles,
    /// How long a request may take.
    pub timeout: Duration,
}

impl std::fmt::Debug for BulkTarget {
    // Credentials are never printed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BulkTarget").field("base_url", &self.base_url).finish_non_exhaustive()
    }
}

/// An Elasticsearch bulk output.
pub struct ElasticsearchSink {
    agent: ureq::Agent,
    target: BulkTarget,
    /// Bulk entries (action line, document line) since the last flush.
    pending: Vec<Vec<u8>>,
    /// For each pending entry, the index of its record since the last flush.
    positions: Vec<usize>,
    /// Records written since the last flush.
    records: usize,
    /// Records of the last flush the receiver refused for good (or that
    /// were not a document).
    rejected: Vec<(usize, String)>,
    /// Records refused before sending (not a JSON object).
    invalid: Vec<(usize, String)>,
    /// `Some(index)`: records are plain documents the output indexes in
    /// `index` (a WASM handler's `elasticsearch` output); `None`: records
    /// are bulk entries already (the built-in handler's).
    documents: Option<String>,
}

impl std::fmt::Debug for ElasticsearchSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ElasticsearchSink").field("target", &self.target).field("pending", &self.pending.len()).finish_non_exhaustive()
    }
}

impl ElasticsearchSink {
    /// An output to `target`; its CA file is read now.
    pub fn new(target: BulkTarget) -> std::io::Result<ElasticsearchSink> {
        let agent = crate::outputs::http::agent(target.timeout, &target.tls)?;
        Ok(ElasticsearchSink {
            agent,
            target,
            pending: Vec::new(),
            positions: Vec::new(),
            records: 0,
            rejected: Vec::new(),
            invalid: Vec::new(),
            documents: None,
        })
    }

    /// An output whose records are documents to index in `index`: a
    /// record's `_id` (a string) becomes the document id — so a retry
    /// replaces the same document — and leaves the document; a record
    /// without one gets an id Elasticsearch picks (a retry may then index
    /// it twice). A record that is not a JSON object is refused (its event
    /// dead-lettered).
    pub fn for_documents(target: BulkTarget, index: String) -> std::io::Result<ElasticsearchSink> {
        let mut sink = ElasticsearchSink::new(target)?;
        sink.documents = Some(index);
        Ok(sink)
    }

    /// The bulk entry of a document record.
    fn entry(index: &str, record: &[u8]) -> Result<Vec<u8>, String> {
        let mut document: serde_json::Map<String, Value> =
            serde_json::from_slice(record).map_err(|e| format!("the record is not a JSON object ({e})"))?;
        let id = match document.remove("_id") {
            None => None,
            Some(Value::String(id)) => Some(id),
            Some(other) => return Err(format!("the record's `_id` is not a string: {other}")),
        };
        let action = match id {
            Some(id) => serde_json::json!({"index": {"_index": index, "_id": id}}),
            None => serde_json::json!({"index": {"_index": index}}),
        };
        Ok(format!("{action}\n{}", Value::Object(document)).into_bytes())
    }
}

impl Sink for ElasticsearchSink {
    fn write(&mut self, record: &[u8]) -> std::io::Result<()> {
        let record = record.strip_suffix(b"\n").unwrap_or(record);
        let position = self.records;
        self.records += 1;
        match &self.documents {
            None => self.pending.push(record.to_vec()),
            Some(index) => match Self::entry(index, record) {
                Ok(entry) => self.pending.push(entry),
                Err(why) => {
                    self.invalid.push((position, why));
                    return Ok(());
                }
            },
        }
        self.positions.push(position);
        Ok(())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.rejected.clear();
        if self.pending.is_empty() {
            self.rejected = std::mem::take(&mut self.invalid);
            self.records = 0;
            return Ok(());
        }
        let mut body = Vec::with_capacity(self.pending.iter().map(|e| e.len() + 1).sum());
        for entry in &self.pending {
            body.extend_from_slice(entry);
            body.push(b'\n');
        }
        let url = format!("{}/_bulk", self.target.base_url);
        let mut request = self.agent.post(&url).header("Content-Type", "application/x-ndjson");
        if let Some((user, password)) = &self.target.credentials {
            use base64::Engine;
            let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
            request = request.header("Authorization", &format!("Basic {token}"));
        }
        let mut response = request.send(&body[..]).map_err(|e| std::io::Error::other(format!("{url}: {e}")))?;
        let status = response.status().as_u16();
        let text = response.body_mut().read_to_string().unwrap_or_default();
        if !(200..300).contains(&status) {
            let message = format!("{url} answered {status}: {}", text.chars().take(512).collect::<String>().trim());
            return Err(if crate::outputs::http::retryable_status(status) {
                std::io::Error::other(message)
            } else {
                std::io::Error::new(ErrorKind::InvalidData, message)
            });
        }
        let answer: Value =
            serde_json::from_str(&text).map_err(|e| std::io::Error::other(format!("{url}: the bulk answer is not JSON ({e})")))?;
        let items = answer.get("items").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
        if items.len() != self.pending.len() {
            return Err(std::io::Error::other(format!(
                "{url}: the bulk answer has {} items for {} entries",
                items.len(),
                self.pending.len()
            )));
        }
        let mut retry = None;
        let mut rejected = Vec::new();
        for (index, item) in items.iter().enumerate() {
            let result = item.as_object().and_then(|o| o.values().next()).cloned().unwrap_or(Value::Null);
            let item_status = result.get("status").and_then(Value::as_u64).unwrap_or(0) as u16;
            if (200..300).contains(&item_status) {
                continue;
            }
            let error = &result["error"];
            let reason = format!(
                "{} {}: {}",
                item_status,
                error.get("type").and_then(Value::as_str).unwrap_or("error"),
                error.get("reason").and_then(Value::as_str).unwrap_or_else(|| error.as_str().unwrap_or("no reason given"))
            );
            if crate::outputs::http::retryable_status(item_status) || item_status == 0 {
                retry.get_or_insert(reason);
            } else {
                rejected.push((self.positions[index], reason));
            }
        }
        if let Some(reason) = retry {
            // Sent again whole: the ids make the accepted ones replace themselves.
            return Err(std::io::Error::other(format!("{url}: an item was refused for now ({reason})")));
        }
        self.pending.clear();
        self.positions.clear();
        self.records = 0;
        rejected.append(&mut self.invalid);
        self.rejected = rejected;
        Ok(())
    }

    fn location(&self) -> String {
        self.target.base_url.clone()
    }

    fn rollback(&mut self) -> std::io::Result<()> {
        self.pending.clear();
        self.positions.clear();
        self.invalid.clear();
        self.records = 0;
        Ok(())
    }

    fn retryable(&self, error: &std::io::Error) -> bool {
        error.kind() != ErrorKind::InvalidData
    }

    fn take_rejected(&mut self) -> Vec<(usize, String)> {
        std::mem::take(&mut self.rejected)
    }
}
