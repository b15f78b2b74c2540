//! The publish pipeline: what every event goes through between `publish`
//! and the journal, in this order:
//!
//! 1. the event as a JSON object no larger than `wasp.maxEventSize`
//!    ([`IntoEvent`]);
//! 2. the basic checks: `_id` and `timestamp` strings when present, the
//!    `wasp.validation` required fields and nesting depth
//!    ([`crate::event::check_basics`]);
//! 3. the `access` topic's safelist (`wasp.safelist`, with `includeIf`);
//! 4. ForgeRock's `filterPolicies`: `excludeIf`, then `hashIf` with the key;
//! 5. a custom topic's schema keeps only the fields it declares (the
//!    common fields and `includeIf` kept);
//! 6. the topic's schema check (`wasp.validation.mode`: `warn` logs,
//!    `reject` refuses, naming each violation);
//! 7. the event the journal stores ([`HostEvent`]: `_id` and `timestamp`
//!    filled in, the JSON text).
//!
//! A refusal at any step is the event's error; nothing before the journal
//! has a side effect but the `warn` log.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::config::Config;
use crate::event::{HostEvent, IntoEvent, PublishError};

/// The policies of the pipeline, from the configuration.
pub(crate) struct Pipeline {
    /// `filterPolicies`: `excludeIf` and `hashIf` by topic, and the key.
    exclusions: BTreeMap<String, Vec<(String, bool)>>,
    hashing: BTreeMap<String, Vec<(String, bool)>>,
    hash_key: Option<crate::config::forgerock::HashKey>,
    /// `wasp.validation`.
    validation: crate::config::ValidationConfig,
    /// Custom topic schemas (the standard ones come from `schema::standard`).
    schemas: BTreeMap<String, Arc<crate::schema::Schema>>,
    /// `filterPolicies.field.includeIf` by topic (pointers inside events).
    includes: BTreeMap<String, Vec<String>>,
    /// The `access` topic's safelist (`wasp.safelist`), `includeIf` added.
    access_safelist: Option<crate::config::forgerock::Safelist>,
    /// `wasp.maxEventSize`.
    max_event_bytes: usize,
}

impl Pipeline {
    /// The pipeline `config` describes.
    pub(crate) fn new(config: &Config) -> Pipeline {
        Pipeline {
            exclusions: config.audit.exclude_fields.clone(),
            hashing: config.audit.hash_fields.clone(),
            hash_key: config.audit.hash_key.clone(),
            validation: config.validation.clone(),
            schemas: config.custom_schemas.clone(),
            includes: config.audit.include_fields.iter().filter_map(|p| crate::config::forgerock::split_topic_pointer(p).ok()).fold(
                BTreeMap::new(),
                |mut by_topic: BTreeMap<String, Vec<String>>, (topic, field)| {
                    by_topic.entry(topic).or_default().push(field);
                    by_topic
                },
            ),
            access_safelist: config.safelist.then(|| {
                crate::config::forgerock::Safelist::new(
                    "access",
                    &crate::config::forgerock::ACCESS_SAFELIST,
                    &config.audit.include_fields,
                    &config.audit.case_insensitive_fields,
                )
            }),
            max_event_bytes: config.max_event_bytes,
        }
    }

    /// `wasp.maxEventSize`.
    pub(crate) fn max_event_bytes(&self) -> usize {
        self.max_event_bytes
    }

    /// `event` for `topic` through every step, as the journal will store
    /// it (without a tenant), or why it is refused.
    pub(crate) fn prepare(&self, topic: &str, event: impl IntoEvent) -> Result<HostEvent, PublishError> {
        let mut document = event.into_document(self.max_event_bytes)?;
        crate::event::check_basics(&document, &self.validation.required_fields, self.validation.max_depth)?;
        if topic == "access"
            && let Some(safelist) = &self.access_safelist
        {
            safelist.apply(&mut document);
        }
        if let Some(pointers) = self.exclusions.get(topic) {
            crate::config::forgerock::apply_exclusions(&mut document, pointers);
        }
        if let (Some(pointers), Some(key)) = (self.hashing.get(topic), &self.hash_key) {
            crate::config::forgerock::apply_hashing(&mut document, pointers, key);
        }
        // Custom topics keep only what their schema declares, the common
        // fields, and `includeIf` (the safelist).
        if let Some(schema) = self.schemas.get(topic).filter(|_| crate::schema::standard(topic).is_none()) {
            let mut value = serde_json::Value::Object(std::mem::take(&mut document));
            let mut include: Vec<String> =
                ["/_id", "/timestamp", "/transactionId", "/eventName", "/userId", "/trackingIds"].map(str::to_owned).into();
            include.extend(self.includes.get(topic).into_iter().flatten().cloned());
            schema.safelist(&mut value, &include);
            if let serde_json::Value::Object(map) = value {
                document = map;
            }
        }
        if self.validation.mode != crate::config::SchemaMode::Off {
            self.check_schema(topic, &mut document)?;
        }
        HostEvent::from_document(topic, document, self.max_event_bytes)
    }

    /// Validates the event against its topic's schema (with `_id` and
    /// `timestamp` filled in first, as they will be): `warn` logs the
    /// violations, `reject` refuses the event naming each.
    fn check_schema(&self, topic: &str, document: &mut serde_json::Map<String, serde_json::Value>) -> Result<(), PublishError> {
        let schema = match self.schemas.get(topic) {
            Some(custom) => custom.as_ref(),
            None => match crate::schema::standard(topic) {
                Some(standard) => standard,
                None => return Ok(()),
            },
        };
        document.entry("_id").or_insert_with(|| serde_json::Value::String(uuid::Uuid::new_v4().to_string()));
        document
            .entry("timestamp")
            .or_insert_with(|| serde_json::Value::String(humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string()));
        let value = serde_json::Value::Object(std::mem::take(document));
        let violations = schema.validate(&value);
        if let serde_json::Value::Object(map) = value {
            *document = map;
        }
        if violations.is_empty() {
            return Ok(());
        }
        if self.validation.mode == crate::config::SchemaMode::Warn {
            for v in &violations {
                tracing::warn!(topic, pointer = %v.pointer, rule = %v.rule, "event accepted despite its schema: {}", v.message);
            }
            return Ok(());
        }
        Err(PublishError::Schema {
            topic: topic.to_owned(),
            violations: violations.into_iter().map(|v| (v.pointer, v.rule, v.message)).collect(),
        })
    }
}
