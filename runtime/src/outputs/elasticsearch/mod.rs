//! The Elasticsearch (or OpenSearch) output: the Bulk API.
//!
//! Each record is one bulk entry — an `index` action naming the index and
//! the document id, then the document — and a batch is one `POST /_bulk`.
//! Delivery: the answer's per-item statuses decide. Every item 2xx: the
//! batch is acknowledged. An item refused with 429 or 5xx, or the whole
//! request failing (connection, 408, 429, 5xx): retryable, the batch is sent
//! again — the document ids make that idempotent (a re-sent document
//! replaces itself). An item refused otherwise (400 mapping error, …): that
//! record is rejected for good and its event dead-lettered with the
//! receiver's `error.type` and `reason`, while the others are acknowledged.

//!
//! A WASM handler declares the same output as `{"type": "elasticsearch",
//! "url", "index"}` ([`ElasticsearchOutputConfig`]): its records are
//! documents, indexed by their `_id`.

mod config;
mod normalize;
pub mod query;
mod sink;

pub use config::ElasticsearchOutputConfig;
pub use normalize::{denormalize, normalize};
pub use sink::{BulkTarget, ElasticsearchSink};

impl super::Output for ElasticsearchOutputConfig {
    fn resolve_paths(&mut self, base_dir: &std::path::Path) {
        ElasticsearchOutputConfig::resolve_paths(self, base_dir);
    }
    fn validate(&self) -> Result<(), super::SettingError> {
        ElasticsearchOutputConfig::validate(self)
    }
    fn open(&self, _place: &super::OutputPlace<'_>) -> std::io::Result<Box<dyn super::Sink>> {
        Ok(Box::new(ElasticsearchSink::for_documents(self.target(), self.index.clone())?))
    }
    fn check_network(&self) -> Result<(), super::CheckError> {
        super::check_url(&self.url, &self.url, || ElasticsearchSink::new(self.target()).map(drop))
    }
}
