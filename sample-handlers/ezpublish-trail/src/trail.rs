//! The audit trail itself, free of the host: which function goes to which
//! file (the `audit.ini` settings) and the record an event becomes.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

use crate::ezdate;

/// One built-in audit function: its name, its default file (eZ's
/// `settings/audit.ini`) and its attributes, in record order, as
/// (event field, record key).
pub struct Function {
    pub name: &'static str,
    pub default_file: &'static str,
    pub attributes: &'static [(&'static str, &'static str)],
}

const NODE_ID: (&str, &str) = ("nodeId", "Node ID");
const OBJECT_ID: (&str, &str) = ("objectId", "Object ID");
const CONTENT_NAME: (&str, &str) = ("contentName", "Content Name");
const ROLE_ID: (&str, &str) = ("roleId", "Role ID");
const ROLE_NAME: (&str, &str) = ("roleName", "Role name");
const COMMENT: (&str, &str) = ("comment", "Comment");

/// The eight functions of eZ Publish 4.x, with the keys the kernel writes.
pub const BUILT_IN: [Function; 8] = [
    Function { name: "user-login", default_file: "login.log", attributes: &[("accountId", "User id"), ("accountLogin", "User login")] },
    Function { name: "user-failed-login", default_file: "failed_login.log", attributes: &[("accountLogin", "User login"), COMMENT] },
    Function {
        name: "content-move",
        default_file: "content_move.log",
        attributes: &[
            NODE_ID,
            ("oldParentNodeId", "Old parent node ID"),
            ("newParentNodeId", "New parent node ID"),
            OBJECT_ID,
            CONTENT_NAME,
            COMMENT,
        ],
    },
    Function { name: "content-delete", default_file: "content_delete.log", attributes: &[NODE_ID, OBJECT_ID, CONTENT_NAME, COMMENT] },
    Function { name: "role-change", default_file: "role_change.log", attributes: &[ROLE_ID, ROLE_NAME, COMMENT] },
    Function {
        name: "role-assign",
        default_file: "role_assign.log",
        attributes: &[
            ROLE_ID,
            ROLE_NAME,
            ("assignToObjectId", "Assign to content object ID"),
            ("objectName", "Content object name"),
            COMMENT,
        ],
    },
    Function {
        name: "section-assign",
        default_file: "section_assign.log",
        attributes: &[("sectionId", "Section ID"), ("sectionName", "Section name"), NODE_ID, OBJECT_ID, CONTENT_NAME, COMMENT],
    },
    Function { name: "order-delete", default_file: "order_delete.log", attributes: &[("orderId", "Order ID"), COMMENT] },
];

/// Event fields that make the record's header or identify the event: never
/// attributes of a function defined by configuration alone.
pub const ENVELOPE: [&str; 9] = ["_id", "eventName", "timestamp", "transactionId", "trackingIds", "user", "userId", "client", "ip"];

/// The handler's `config` object: `audit.ini`'s `[AuditSettings]`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Settings {
    /// `enabled` or `disabled` (eZ's default).
    #[serde(rename = "Audit", default)]
    audit: Option<String>,
    /// Function → file (= output name). Given, it replaces the defaults
    /// (like `AuditFileNames[]` followed by the entries in an ini override;
    /// `AuditFileNames[]` alone, an empty array, logs nothing).
    #[serde(rename = "AuditFileNames", default, deserialize_with = "file_names")]
    audit_file_names: Option<BTreeMap<String, String>>,
    /// eZ's `LogDir` (and site.ini's `VarDir`): where eZ writes the files.
    /// Accepted so that an eZ `audit.ini` is read as it is; WASP writes
    /// each file to its output's `path` under the handler's `directory`,
    /// which plays their part.
    #[serde(rename = "LogDir", default)]
    _log_dir: Option<String>,
    #[serde(rename = "VarDir", default)]
    _var_dir: Option<String>,
    /// Function defined by configuration → the order of its attributes.
    #[serde(rename = "AuditFieldOrder", default)]
    audit_field_order: BTreeMap<String, Vec<String>>,
}

/// `AuditFileNames`: an object, or an empty array (`AuditFileNames[]` alone
/// in an INI file).
fn file_names<'de, D: serde::Deserializer<'de>>(de: D) -> Result<Option<BTreeMap<String, String>>, D::Error> {
    use serde::de::Error;
    match Value::deserialize(de)? {
        Value::Array(items) if items.is_empty() => Ok(Some(BTreeMap::new())),
        Value::Object(map) => map
            .into_iter()
            .map(|(k, v)| match v {
                Value::String(file) => Ok((k, file)),
                other => Err(D::Error::custom(format!("AuditFileNames.{k}: expected a file name, found {other}"))),
            })
            .collect::<Result<_, _>>()
            .map(Some),
        other => Err(D::Error::custom(format!("AuditFileNames: expected function → file entries, found {other}"))),
    }
}

/// The configured trail.
#[derive(Debug)]
pub struct Trail {
    enabled: bool,
    files: BTreeMap<String, String>,
    orders: BTreeMap<String, Vec<String>>,
}

impl Trail {
    /// Reads the handler's `config` object; the message names the setting.
    pub fn from_config(config: &Value) -> Result<Trail, String> {
        // An `audit.ini` read by WASP (`configFile`) arrives as sections:
        // the settings are `[AuditSettings]`; other sections (site.ini's
        // `[FileSettings]`, …) are not this handler's.
        let settings = match config.get("AuditSettings") {
            Some(section) => section.clone(),
            None => config.clone(),
        };
        let settings: Settings = serde_json::from_value(settings).map_err(|e| format!("handler config: {e}"))?;
        let enabled = match settings.audit.as_deref() {
            None | Some("disabled") => false,
            Some("enabled") => true,
            Some(other) => return Err(format!("config.Audit: `{other}`: expected `enabled` or `disabled`")),
        };
        let files = match settings.audit_file_names {
            Some(files) => files,
            None => BUILT_IN.iter().map(|f| (f.name.to_owned(), f.default_file.to_owned())).collect(),
        };
        for (function, file) in &files {
            if function.is_empty() {
                return Err("config.AuditFileNames: an audit function name is empty".into());
            }
            if file.is_empty() {
                return Err(format!("config.AuditFileNames.{function}: the file name is empty"));
            }
        }
        for (function, order) in &settings.audit_field_order {
            if BUILT_IN.iter().any(|f| f.name == function) {
                return Err(format!(
                    "config.AuditFieldOrder.{function}: `{function}` is a built-in function; its attributes have a fixed order"
                ));
            }
            if let Some((i, field)) = order.iter().enumerate().find(|(i, f)| order[..*i].contains(f)) {
                return Err(format!("config.AuditFieldOrder.{function}[{i}]: `{field}` is listed twice"));
            }
            if let Some(field) = order.iter().find(|f| ENVELOPE.contains(&f.as_str())) {
                return Err(format!("config.AuditFieldOrder.{function}: `{field}` is part of the record's header, not an attribute"));
            }
        }
        Ok(Trail { enabled, files, orders: settings.audit_field_order })
    }

    /// The file (output) `function` is written to; `None` when auditing is
    /// disabled or the function has no file (it is then ignored).
    pub fn file_for(&self, function: &str) -> Option<&str> {
        if self.enabled { self.files.get(function).map(String::as_str) } else { None }
    }

    /// The lines of the record `event` makes for `function`: the header,
    /// one `Key: value` line per attribute, and the empty line that ends
    /// every eZ record.
    pub fn record(&self, function: &str, timestamp: &str, event: &Value) -> Vec<String> {
        let mut lines = vec![header(timestamp, event)];
        match BUILT_IN.iter().find(|f| f.name == function) {
            Some(built_in) => {
                for (field, key) in built_in.attributes {
                    if let Some(value) = event.get(*field).and_then(text) {
                        lines.push(format!("{key}: {value}"));
                    }
                }
            }
            None => {
                let Some(fields) = event.as_object() else { return lines };
                let order = self.orders.get(function).map(Vec::as_slice).unwrap_or_default();
                let listed = order.iter().map(String::as_str);
                let rest = fields.keys().map(String::as_str).filter(|k| !order.iter().any(|o| o == k));
                for key in listed.chain(rest).filter(|k| !ENVELOPE.contains(k)) {
                    if let Some(value) = fields.get(key).and_then(text) {
                        lines.push(format!("{}: {value}", escape(key)));
                    }
                }
            }
        }
        lines.push(String::new());
        lines
    }
}

/// `[ May 23 2007 14:47:58 ] [127.0.0.1] [editor:16]`.
fn header(timestamp: &str, event: &Value) -> String {
    let first = |pointers: &[&str]| pointers.iter().find_map(|p| event.pointer(p).and_then(text)).unwrap_or_default();
    let time = ezdate::from_iso8601(timestamp).unwrap_or_else(|| escape(timestamp));
    let ip = first(&["/client/ip", "/ip"]);
    let login = first(&["/user/login", "/userId"]);
    let id = first(&["/user/id"]);
    format!("[ {time} ] [{ip}] [{login}:{id}]")
}

/// A value as written after `Key: `: a string as it is, a number or boolean
/// as its JSON text, an array or object as compact JSON; `None` for `null`.
/// Line breaks become `\n` / `\r` so a record line stays one line.
fn text(value: &Value) -> Option<String> {
    match value {
        Value::Null => None,
        Value::String(s) => Some(escape(s)),
        other => Some(escape(&other.to_string())),
    }
}

fn escape(s: &str) -> String {
    if s.contains(['\n', '\r']) { s.replace('\r', "\\r").replace('\n', "\\n") } else { s.to_owned() }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::Trail;

    /// The record the seed (eZ Publish 4.x documentation, "Audit trailing")
    /// shows after a node was moved, as eZLog writes it: the record, then
    /// the empty line that ends it.
    const SEED_CONTENT_MOVE: &str = include_str!("../seed/content-move.txt");

    /// The seed's record of the custom function `my-new-audit`.
    const SEED_MY_NEW_AUDIT: &str = include_str!("../seed/my-new-audit.txt");

    fn enabled(files: serde_json::Value) -> Trail {
        Trail::from_config(&json!({"Audit": "enabled", "AuditFileNames": files})).unwrap()
    }

    /// What the file output makes of the lines: each one plus "\n".
    fn file_bytes(lines: &[String]) -> String {
        lines.iter().map(|l| format!("{l}\n")).collect()
    }

    #[test]
    fn the_seed_content_move_record_byte_for_byte() {
        let trail = enabled(json!({"content-move": "content_move.log"}));
        let event = json!({
            "eventName": "content-move",
            "timestamp": "2007-05-23T14:47:58Z",
            "transactionId": "tx-1",
            "client": {"ip": "127.0.0.1"},
            "user": {"login": "editor", "id": 16},
            "nodeId": 124,
            "oldParentNodeId": 2,
            "newParentNodeId": 59,
            "objectId": 114,
            "contentName": "Folder",
            "comment": "Moved the node to the given node: eZContentObjectTreeNode::move()"
        });
        assert_eq!(trail.file_for("content-move"), Some("content_move.log"));
        let lines = trail.record("content-move", "2007-05-23T14:47:58Z", &event);
        assert_eq!(lines.len(), 8, "header, six attributes, the empty line: {lines:?}");
        assert_eq!(file_bytes(&lines), format!("{SEED_CONTENT_MOVE}\n"));
    }

    #[test]
    fn a_custom_function_writes_every_field_in_the_configured_order() {
        let config = json!({
            "Audit": "enabled",
            "AuditFileNames": {"my-new-audit": "info.log"},
            "AuditFieldOrder": {"my-new-audit": ["User id", "Comment"]}
        });
        let trail = Trail::from_config(&config).unwrap();
        let event = json!({
            "_id": "e1", "eventName": "my-new-audit", "timestamp": "2007-05-23T14:44:04Z", "transactionId": "t",
            "ip": "127.0.0.1", "user": {"login": "anonymous", "id": 10},
            "Comment": "The operation XYZ was performed.", "User id": 10
        });
        let lines = trail.record("my-new-audit", "2007-05-23T14:44:04Z", &event);
        assert_eq!(file_bytes(&lines), format!("{SEED_MY_NEW_AUDIT}\n"));

        // Without an order: the fields in key order (as WASP delivers them).
        let trail = enabled(json!({"my-new-audit": "info.log"}));
        let lines = trail.record("my-new-audit", "2007-05-23T14:44:04Z", &event);
        assert_eq!(lines[1..], ["Comment: The operation XYZ was performed.", "User id: 10", ""]);
    }

    #[test]
    fn values_and_missing_fields() {
        let trail = enabled(json!({"content-delete": "d.log", "x": "x.log"}));
        let event = json!({"objectId": 273, "contentName": "Two\nlines", "comment": null, "userId": "bjensen"});
        let lines = trail.record("content-delete", "not a time", &event);
        assert_eq!(lines, ["[ not a time ] [] [bjensen:]", "Object ID: 273", "Content Name: Two\\nlines", ""]);
        let event = json!({"flag": true, "list": [1, "a"], "obj": {"b": 1}, "none": null, "n": 1.5});
        let lines = trail.record("x", "2007-05-23T14:44:04Z", &event);
        assert_eq!(lines[1..], ["flag: true", "list: [1,\"a\"]", "n: 1.5", "obj: {\"b\":1}", ""]);
        assert_eq!(trail.record("x", "2007-05-23T14:44:04Z", &json!({})), ["[ May 23 2007 14:44:04 ] [] [:]", ""]);
    }

    #[test]
    fn settings_mirror_audit_ini() {
        // eZ's defaults: disabled; enabled, every built-in function to its default file.
        let trail = Trail::from_config(&json!({})).unwrap();
        assert_eq!(trail.file_for("content-move"), None);
        let trail = Trail::from_config(&json!({"Audit": "enabled"})).unwrap();
        assert_eq!(trail.file_for("user-failed-login"), Some("failed_login.log"));
        assert_eq!(trail.file_for("order-delete"), Some("order_delete.log"));
        assert_eq!(trail.file_for("my-new-audit"), None);
        // Given, AuditFileNames replaces the defaults.
        let trail = enabled(json!({"user-login": "login.log", "role-change": "role_change.log"}));
        assert_eq!(trail.file_for("content-move"), None);
        assert_eq!(trail.file_for("role-change"), Some("role_change.log"));

        let err = |config| Trail::from_config(&config).unwrap_err();
        assert!(err(json!({"Audit": "on"})).contains("config.Audit: `on`"));
        // eZ's audit.ini, as WASP reads it: sections, `AuditFileNames[]` alone an empty array.
        let ini = json!({"AuditSettings": {"Audit": "enabled", "LogDir": "log/my_audit", "AuditFileNames": {"user-login": "login.log"}},
                         "FileSettings": {"VarDir": "var"}});
        let trail = Trail::from_config(&ini).unwrap();
        assert_eq!((trail.file_for("user-login"), trail.file_for("content-move")), (Some("login.log"), None));
        let trail = Trail::from_config(&json!({"AuditSettings": {"Audit": "enabled", "AuditFileNames": []}})).unwrap();
        assert_eq!(trail.file_for("user-login"), None);
        assert!(err(json!({"AuditFileNames": ["login.log"]})).contains("AuditFileNames"));
        assert!(err(json!({"Colour": 1})).contains("unknown field `Colour`"));
        assert!(err(json!({"AuditFileNames": {"user-login": ""}})).contains("AuditFileNames.user-login"));
        assert!(err(json!({"AuditFieldOrder": {"content-move": ["Node ID"]}})).contains("built-in"));
        assert!(err(json!({"AuditFieldOrder": {"mine": ["timestamp"]}})).contains("header"));
        assert!(err(json!({"AuditFieldOrder": {"mine": ["a", "b", "a"]}})).contains("mine[2]: `a` is listed twice"));
    }
}
