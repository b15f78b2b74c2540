//! The ForgeRock/Ping side of the configuration: the `AuditService` object
//! in its full (`{"name", "type": "AuditService", "config": {…}}`) and bare
//! forms, the audit service's own `config` (`handlerForQueries`,
//! `availableAuditEventHandlers`, `caseInsensitiveFields`, `filterPolicies`),
//! and the ForgeRock handler classes, recognised by their class names.
//!
//! A configuration written for ForgeRock parses as it is. Handler classes
//! whose WASP output is not built yet are recognised here and refused when
//! the service is built, with "not supported yet" (never an unknown-field
//! error).

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

use crate::units;

pub use crate::builtin::HandlerClass;

/// `config` of a ForgeRock handler: the fields every class shares, and the
/// class's own settings kept as written (for its output).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RawForgeRockHandler {
    /// The handler's name: letters, digits, `.`, `_`, `-`, starting with a
    /// letter or digit (it names directories: integrity checkpoints, dead
    /// letters), unique among the handlers of the list.
    pub name: String,
    /// Topics it receives.
    #[serde(default)]
    pub topics: Vec<String>,
    /// Whether it runs (`true`, `false`, or the strings). Default: `true`.
    #[serde(default, deserialize_with = "units::boolean")]
    pub enabled: Option<bool>,
    /// Everything else, as written.
    #[serde(flatten)]
    pub settings: BTreeMap<String, Value>,
}

/// The audit service's own `config` object.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawAuditSettings {
    /// The handler used to answer queries (by name).
    pub handler_for_queries: Option<String>,
    /// Handler classes available to the service (informational).
    #[serde(default)]
    pub available_audit_event_handlers: Vec<String>,
    /// JSON pointers compared without case in filter policies and queries.
    /// Default: `/access/http/request/headers`,
    /// `/access/http/response/headers`.
    pub case_insensitive_fields: Option<Vec<String>>,
    /// Which fields reach the handlers.
    #[serde(default)]
    pub filter_policies: RawFilterPolicies,
}

/// `filterPolicies`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawFilterPolicies {
    /// Where the `hashIf` key comes from: `{"file": "<path>"}` (the file's
    /// bytes, one trailing newline removed) or `{"env": "<VARIABLE>"}`.
    pub hash_key: Option<RawHashKey>,
    /// Policies by field pointer.
    #[serde(default)]
    pub field: RawFilterPolicy,
    /// Policies by value (ForgeRock IDM lists header pointers here); the
    /// same pointers and effect as `field`.
    #[serde(default)]
    pub value: RawFilterPolicy,
}

/// One `filterPolicies` entry.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawFilterPolicy {
    /// Topic-first JSON pointers to include although not safelisted.
    #[serde(default)]
    pub include_if: Vec<String>,
    /// Topic-first JSON pointers to remove (`/access/http/request/headers/authorization`).
    #[serde(default)]
    pub exclude_if: Vec<String>,
    /// Topic-first JSON pointers whose value is replaced by its keyed
    /// HMAC-SHA256 (`hmac-sha256:<hex>`), so that events about the same
    /// person or address can still be correlated without storing it.
    /// Beyond ForgeRock; needs `hashKey`.
    #[serde(default)]
    pub hash_if: Vec<String>,
}

/// `filterPolicies.hashKey`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub enum RawHashKey {
    /// A file holding the key.
    File(std::path::PathBuf),
    /// An environment variable holding the key.
    Env(String),
}

/// Why a `hashIf` key could not be read.
#[derive(Debug, thiserror::Error)]
pub enum HashKeyError {
    /// The key file could not be read.
    #[error("cannot read the hash key file {}: {source}", path.display())]
    File {
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The environment variable is not set.
    #[error("environment variable `{0}` (the hash key) is not set")]
    Env(String),
    /// The key has no bytes.
    #[error("the hash key is empty")]
    Empty,
}

/// Reads a `hashIf` key: a file's bytes (one trailing newline removed) or
/// an environment variable's value.
pub fn read_hash_key(key: &RawHashKey, base_dir: &std::path::Path) -> Result<Vec<u8>, HashKeyError> {
    let bytes = match key {
        RawHashKey::File(path) => {
            let path = base_dir.join(path);
            std::fs::read(&path).map_err(|source| HashKeyError::File { path, source })?
        }
        RawHashKey::Env(var) => std::env::var(var).map_err(|_| HashKeyError::Env(var.clone()))?.into_bytes(),
    };
    let bytes = bytes.strip_suffix(b"\n").map(<[u8]>::to_vec).unwrap_or(bytes);
    if bytes.is_empty() {
        return Err(HashKeyError::Empty);
    }
    Ok(bytes)
}

/// HMAC-SHA256 (RFC 2104) of `message` under `key`, as `hmac-sha256:<hex>`.
pub fn hmac_sha256(key: &[u8], message: &[u8]) -> String {
    format!("hmac-sha256:{}", hex::encode(crate::integrity::hmac_sha256(key, message)))
}

/// The bytes a value is hashed from: a string's text, any other value's
/// JSON text.
pub fn hash_input(value: &Value) -> Vec<u8> {
    match value {
        Value::String(s) => s.as_bytes().to_vec(),
        other => other.to_string().into_bytes(),
    }
}

/// A ForgeRock handler, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct ForgeRockHandlerConfig {
    /// Its name.
    pub name: String,
    /// The tenant it belongs to (`None`: a top-level handler). A tenant's
    /// JSON and CSV handlers write under the tenant's output root.
    pub tenant: Option<String>,
    /// Its class.
    pub class: HandlerClass,
    /// Topics it receives.
    pub topics: Vec<String>,
    /// Whether it runs.
    pub enabled: bool,
    /// Its class's own settings, as written.
    pub settings: BTreeMap<String, Value>,
    /// The settings read, for the classes WASP runs (JSON, JSON stdout,
    /// CSV); `None` for the others.
    pub builtin: Option<crate::builtin::BuiltinSettings>,
}

impl ForgeRockHandlerConfig {
    /// `tenant/name` for a tenant's handler, `name` otherwise.
    pub fn qualified_name(&self) -> String {
        super::qualified(self.tenant.as_deref(), &self.name)
    }
}

/// The audit service's settings, validated.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AuditSettings {
    /// `handlerForQueries`.
    pub handler_for_queries: Option<String>,
    /// `availableAuditEventHandlers`.
    pub available_handlers: Vec<String>,
    /// `caseInsensitiveFields` (topic-first pointers).
    pub case_insensitive_fields: Vec<String>,
    /// `filterPolicies.field.excludeIf`, by topic: pointers inside the
    /// event, and whether their last step is compared without case (a
    /// field under `caseInsensitiveFields`, such as a header).
    pub exclude_fields: BTreeMap<String, Vec<(String, bool)>>,
    /// `filterPolicies.field.includeIf` (topic-first pointers, kept for the
    /// safelist of custom topics).
    pub include_fields: Vec<String>,
    /// `filterPolicies.field.hashIf`, by topic, like `exclude_fields`.
    pub hash_fields: BTreeMap<String, Vec<(String, bool)>>,
    /// The `hashIf` key, when given.
    pub hash_key: Option<HashKey>,
}

/// The key of `hashIf` (never printed).
#[derive(Clone, PartialEq)]
pub struct HashKey(pub Vec<u8>);

impl std::fmt::Debug for HashKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "HashKey(<{} bytes>)", self.0.len())
    }
}

/// A filter-policy pointer that does not name a topic and a field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TopicPointerError {
    /// It does not start with `/`.
    #[error("`{0}` is not a JSON pointer (it must start with `/<topic>/`)")]
    NotAPointer(String),
    /// It names no topic or no field.
    #[error("`{0}` must name a topic and a field, e.g. `/access/http/request/headers/authorization`")]
    NoField(String),
}

/// Splits a topic-first pointer `/access/http/request/path` into the topic
/// and the pointer inside the event (`/http/request/path`).
pub fn split_topic_pointer(pointer: &str) -> Result<(String, String), TopicPointerError> {
    let rest = pointer.strip_prefix('/').ok_or_else(|| TopicPointerError::NotAPointer(pointer.to_owned()))?;
    match rest.split_once('/') {
        Some((topic, field)) if !topic.is_empty() && !field.is_empty() => Ok((topic.to_owned(), format!("/{field}"))),
        _ => Err(TopicPointerError::NoField(pointer.to_owned())),
    }
}

/// Pointers inside events (and whether compared without case), by topic.
type FieldsByTopic = BTreeMap<String, Vec<(String, bool)>>;

/// Validates the audit service's settings; `at` prefixes error paths;
/// relative key files resolve against `base_dir`.
pub fn validate_settings(raw: RawAuditSettings, at: &str, base_dir: &std::path::Path) -> Result<AuditSettings, (String, String)> {
    let case_insensitive_fields = raw
        .case_insensitive_fields
        .clone()
        .unwrap_or_else(|| vec!["/access/http/request/headers".into(), "/access/http/response/headers".into()]);
    // `field` and `value` policies both name topic-first pointers; both
    // lists apply (ForgeRock IDM puts header pointers under `value`).
    let by_topic = |lists: [(&[String], &str); 2]| -> Result<FieldsByTopic, (String, String)> {
        let mut fields: BTreeMap<String, Vec<(String, bool)>> = BTreeMap::new();
        for (list, name) in lists {
            for (i, pointer) in list.iter().enumerate() {
                let (topic, field) =
                    split_topic_pointer(pointer).map_err(|e| (format!("{at}.filterPolicies.{name}[{i}]"), e.to_string()))?;
                let parent = pointer.rsplit_once('/').map_or("", |(p, _)| p).to_ascii_lowercase();
                let insensitive = case_insensitive_fields.iter().any(|f| parent.starts_with(&f.to_ascii_lowercase()));
                fields.entry(topic).or_default().push((field, insensitive));
            }
        }
        Ok(fields)
    };
    let p = &raw.filter_policies;
    let exclude_fields = by_topic([(&p.field.exclude_if, "field.excludeIf"), (&p.value.exclude_if, "value.excludeIf")])?;
    let hash_fields = by_topic([(&p.field.hash_if, "field.hashIf"), (&p.value.hash_if, "value.hashIf")])?;
    let hash_key = match &raw.filter_policies.hash_key {
        Some(key) => Some(HashKey(read_hash_key(key, base_dir).map_err(|e| (format!("{at}.filterPolicies.hashKey"), e.to_string()))?)),
        None if !hash_fields.is_empty() => {
            return Err((format!("{at}.filterPolicies.hashKey"), "`hashIf` needs a key: {\"file\": …} or {\"env\": …}".into()));
        }
        None => None,
    };
    for (i, pointer) in raw.filter_policies.field.include_if.iter().enumerate() {
        split_topic_pointer(pointer).map_err(|e| (format!("{at}.filterPolicies.field.includeIf[{i}]"), e.to_string()))?;
    }
    for (i, pointer) in raw.filter_policies.value.include_if.iter().enumerate() {
        split_topic_pointer(pointer).map_err(|e| (format!("{at}.filterPolicies.value.includeIf[{i}]"), e.to_string()))?;
    }
    Ok(AuditSettings {
        handler_for_queries: raw.handler_for_queries,
        available_handlers: raw.available_audit_event_handlers,
        case_insensitive_fields,
        exclude_fields,
        include_fields: raw.filter_policies.field.include_if.into_iter().chain(raw.filter_policies.value.include_if).collect(),
        hash_fields,
        hash_key,
    })
}

/// ForgeRock's safelist of the `access` topic ("Safelisting Audit Event
/// Fields for the Logs"): by default only these fields (with everything
/// under them) are written, so `Authorization`, cookies and query
/// parameters carrying tokens never reach a log. `includeIf` adds to it,
/// `excludeIf` takes from it.
pub const ACCESS_SAFELIST: [&str; 27] = [
    "/_id",
    "/timestamp",
    "/eventName",
    "/transactionId",
    "/trackingIds",
    "/userId",
    "/client",
    "/server",
    "/http/request/secure",
    "/http/request/method",
    "/http/request/path",
    "/http/request/headers/accept",
    "/http/request/headers/accept-api-version",
    "/http/request/headers/content-type",
    "/http/request/headers/host",
    "/http/request/headers/user-agent",
    "/http/request/headers/x-forwarded-for",
    "/http/request/headers/x-forwarded-host",
    "/http/request/headers/x-forwarded-port",
    "/http/request/headers/x-forwarded-proto",
    "/http/request/headers/x-original-uri",
    "/http/request/headers/x-real-ip",
    "/http/request/headers/x-request-id",
    "/http/request/headers/x-requested-with",
    "/http/request/headers/x-scheme",
    "/request",
    "/response",
];

/// A safelist as a tree of field names: a node marked `whole` keeps
/// everything under it; other nodes keep only their listed children.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Safelist {
    whole: bool,
    /// The children's names compare without case (header names).
    insensitive: bool,
    children: BTreeMap<String, Safelist>,
}

impl Safelist {
    /// The safelist of `topic`: `base` (pointers inside the event) plus
    /// the topic-first `include_if` pointers of that topic, with the
    /// children of the topic-first `case_insensitive` pointers compared
    /// without case.
    pub fn new(topic: &str, base: &[&str], include_if: &[String], case_insensitive: &[String]) -> Safelist {
        let mut root = Safelist::default();
        let unescape = |s: &str| s.replace("~1", "/").replace("~0", "~");
        let insensitive_parents: Vec<String> = case_insensitive
            .iter()
            .filter_map(|p| split_topic_pointer(p).ok())
            .filter(|(t, _)| t == topic)
            .map(|(_, field)| field.to_ascii_lowercase())
            .collect();
        let included = include_if.iter().filter_map(|p| split_topic_pointer(p).ok()).filter(|(t, _)| t == topic).map(|(_, f)| f);
        for pointer in base.iter().map(|p| (*p).to_owned()).chain(included) {
            let mut node = &mut root;
            let mut path = String::new();
            for part in pointer.split('/').filter(|p| !p.is_empty()) {
                let insensitive = insensitive_parents.iter().any(|p| *p == path.to_ascii_lowercase());
                node.insensitive |= insensitive;
                let name = if insensitive { unescape(part).to_ascii_lowercase() } else { unescape(part) };
                path.push('/');
                path.push_str(part);
                node = node.children.entry(name).or_default();
            }
            node.whole = true;
        }
        root
    }

    /// Removes every field of `event` the safelist does not name.
    pub fn apply(&self, event: &mut serde_json::Map<String, Value>) {
        if self.whole {
            return;
        }
        event.retain(|key, value| {
            let child = if self.insensitive { self.children.get(&key.to_ascii_lowercase()) } else { self.children.get(key) };
            match (child, value) {
                (None, _) => false,
                (Some(child), _) if child.whole => true,
                (Some(child), Value::Object(inner)) => {
                    child.apply(inner);
                    true
                }
                // A scalar where the safelist names fields below it.
                (Some(_), _) => false,
            }
        });
    }
}

/// Calls `f` with the map holding each pointer's last step and that key
/// (every key matching without case when the pointer is case-insensitive).
fn for_each_match(
    event: &mut serde_json::Map<String, Value>,
    pointers: &[(String, bool)],
    mut f: impl FnMut(&mut serde_json::Map<String, Value>, &str),
) {
    let unescape = |s: &str| s.replace("~1", "/").replace("~0", "~");
    for (pointer, insensitive) in pointers {
        let Some((parent, last)) = pointer.rsplit_once('/') else {
            continue;
        };
        let last = unescape(last);
        let mut current: Option<&mut serde_json::Map<String, Value>> = Some(event);
        for part in parent.split('/').filter(|p| !p.is_empty()) {
            current = current.and_then(|m| m.get_mut(&unescape(part))).and_then(Value::as_object_mut);
        }
        let Some(map) = current else { continue };
        let keys: Vec<String> = if *insensitive {
            map.keys().filter(|k| k.eq_ignore_ascii_case(&last)).cloned().collect()
        } else {
            map.contains_key(&last).then(|| last.clone()).into_iter().collect()
        };
        for key in keys {
            f(map, &key);
        }
    }
}

/// Removes every `excludeIf` field of the event's topic. A pointer that is
/// not in the event changes nothing; a case-insensitive one removes every
/// key that matches without case (`Authorization`, `authorization`).
pub fn apply_exclusions(event: &mut serde_json::Map<String, Value>, pointers: &[(String, bool)]) {
    for_each_match(event, pointers, |map, key| {
        map.remove(key);
    });
}

/// Replaces every `hashIf` field's value by its keyed digest
/// ([`hmac_sha256`] of [`hash_input`]).
pub fn apply_hashing(event: &mut serde_json::Map<String, Value>, pointers: &[(String, bool)], key: &HashKey) {
    for_each_match(event, pointers, |map, field| {
        if let Some(value) = map.get_mut(field) {
            *value = Value::String(hmac_sha256(&key.0, &hash_input(value)));
        }
    });
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn the_access_safelist_keeps_only_its_fields_and_include_if() {
        let case_insensitive = ["/access/http/request/headers".to_owned(), "/access/http/response/headers".to_owned()];
        let include = ["/access/http/request/headers/x-tenant".to_owned(), "/authentication/other".to_owned()];
        let safelist = Safelist::new("access", &ACCESS_SAFELIST, &include, &case_insensitive);
        let mut event = json!({
            "_id": "e1", "timestamp": "t", "eventName": "AM-ACCESS", "transactionId": "tx", "userId": "bjensen",
            "client": {"ip": "203.0.113.7", "port": 443}, "server": {"ip": "10.0.0.1"},
            "http": {
                "request": {
                    "method": "GET", "path": "/x", "secure": true,
                    "queryParameters": {"access_token": ["s3cr3t"], "page": ["2"]},
                    "cookies": {"iPlanetDirectoryPro": "session-secret"},
                    "headers": {"Authorization": ["Bearer abc"], "Host": ["example.com"], "User-Agent": ["curl"], "X-Tenant": ["acme"], "Cookie": ["a=b"]}
                },
                "response": {"headers": {"Set-Cookie": ["c=d"]}}
            },
            "request": {"protocol": "CREST", "operation": "READ"},
            "response": {"status": "SUCCESSFUL", "elapsedTime": 3},
            "custom": "dropped"
        });
        safelist.apply(event.as_object_mut().unwrap());
        assert_eq!(
            event,
            json!({
                "_id": "e1", "timestamp": "t", "eventName": "AM-ACCESS", "transactionId": "tx", "userId": "bjensen",
                "client": {"ip": "203.0.113.7", "port": 443}, "server": {"ip": "10.0.0.1"},
                "http": {"request": {"method": "GET", "path": "/x", "secure": true,
                                     "headers": {"Host": ["example.com"], "User-Agent": ["curl"], "X-Tenant": ["acme"]}}},
                "request": {"protocol": "CREST", "operation": "READ"},
                "response": {"status": "SUCCESSFUL", "elapsedTime": 3}
            })
        );
        // A scalar where fields are listed below it is not kept.
        let mut odd = json!({"http": "GET /x?access_token=s3cr3t"});
        safelist.apply(odd.as_object_mut().unwrap());
        assert_eq!(odd, json!({}));
    }

    #[test]
    fn classes_by_full_or_simple_name() {
        assert_eq!(HandlerClass::from_name("org.forgerock.audit.handlers.csv.CsvAuditEventHandler"), Some(HandlerClass::Csv));
        assert_eq!(HandlerClass::from_name("JsonStdoutAuditEventHandler"), Some(HandlerClass::JsonStdout));
        assert_eq!(HandlerClass::from_name("org.example.Other"), None);
    }

    #[test]
    fn exclusions_remove_fields_and_headers_without_case() {
        let raw: RawAuditSettings = serde_json::from_value(json!({
            "filterPolicies": {"field": {"excludeIf": [
                "/access/http/request/headers/authorization", "/access/server", "/access/missing/field"
            ]}}
        }))
        .unwrap();
        let settings = validate_settings(raw, "config", std::path::Path::new(".")).unwrap();
        let mut event = json!({
            "server": {"ip": "10.0.0.1"},
            "http": {"request": {"path": "/x", "headers": {"Authorization": ["Bearer s3cr3t"], "host": ["a"]}}}
        });
        apply_exclusions(event.as_object_mut().unwrap(), &settings.exclude_fields["access"]);
        assert_eq!(event, json!({"http": {"request": {"path": "/x", "headers": {"host": ["a"]}}}}));
    }

    #[test]
    fn hmac_sha256_matches_rfc_4231() {
        // RFC 4231 test case 2.
        assert_eq!(
            hmac_sha256(b"Jefe", b"what do ya want for nothing?"),
            "hmac-sha256:5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        // Test case 6: a key longer than the block is hashed first.
        assert_eq!(
            hmac_sha256(&[0xaa; 131], b"Test Using Larger Than Block-Size Key - Hash Key First"),
            "hmac-sha256:60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
    }

    #[test]
    fn hash_if_replaces_values_and_needs_a_key() {
        let raw: RawAuditSettings = serde_json::from_value(json!({"filterPolicies": {"field": {"hashIf": ["/access/userId"]}}})).unwrap();
        let (at, message) = validate_settings(raw, "config", std::path::Path::new(".")).unwrap_err();
        assert_eq!(at, "config.filterPolicies.hashKey");
        assert!(message.contains("`hashIf` needs a key"), "{message}");
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("k"), b"secret\n").unwrap();
        let raw: RawAuditSettings = serde_json::from_value(json!({
            "filterPolicies": {"hashKey": {"file": "k"}, "field": {"hashIf": ["/access/userId", "/access/client/ip"]}}
        }))
        .unwrap();
        let settings = validate_settings(raw, "config", dir.path()).unwrap();
        let key = settings.hash_key.clone().unwrap();
        assert_eq!(key.0, b"secret", "one trailing newline removed");
        let mut event = json!({"userId": "bjensen", "client": {"ip": "203.0.113.7"}, "eventName": "x"});
        apply_hashing(event.as_object_mut().unwrap(), &settings.hash_fields["access"], &key);
        assert_eq!(event["userId"], hmac_sha256(b"secret", b"bjensen"));
        assert_eq!(event["client"]["ip"], hmac_sha256(b"secret", b"203.0.113.7"));
        assert_eq!(event["eventName"], "x");
    }

    #[test]
    fn value_policies_remove_like_field_policies() {
        let raw: RawAuditSettings = serde_json::from_value(json!({
            "filterPolicies": {"value": {"excludeIf": ["/access/http/request/headers/x-openidm-password"]}}
        }))
        .unwrap();
        let settings = validate_settings(raw, "config", std::path::Path::new(".")).unwrap();
        let mut event = json!({"http": {"request": {"headers": {"X-OpenIDM-Password": ["p"], "accept": ["*/*"]}}}});
        apply_exclusions(event.as_object_mut().unwrap(), &settings.exclude_fields["access"]);
        assert_eq!(event, json!({"http": {"request": {"headers": {"accept": ["*/*"]}}}}));
    }

    #[test]
    fn a_pointer_without_a_topic_is_named() {
        let raw: RawAuditSettings = serde_json::from_value(json!({"filterPolicies": {"field": {"excludeIf": ["/access"]}}})).unwrap();
        let (at, message) = validate_settings(raw, "config.config", std::path::Path::new(".")).unwrap_err();
        assert_eq!(at, "config.config.filterPolicies.field.excludeIf[0]");
        assert!(message.contains("must name a topic and a field"), "{message}");
    }
}
