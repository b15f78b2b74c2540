//! ForgeRock's safelist of the `access` topic, on by default: credentials
//! in headers, cookies and query parameters never reach a log, a handler
//! or the journal unless `includeIf` names them.

use serde_json::{Value, json};
use wasp::AuditService;
use wasp_tests::Fixture;

fn leaky_event(id: &str) -> Value {
    json!({
        "_id": id, "timestamp": "2026-12-04T10:00:00Z", "transactionId": "tx-1", "eventName": "AM-ACCESS-OUTCOME",
        "userId": "bjensen", "client": {"ip": "203.0.113.7"},
        "http": {"request": {
            "method": "GET", "path": "/oauth2/authorize", "secure": true,
            "queryParameters": {"access_token": ["qs-secret-token"], "state": ["s1"]},
            "cookies": {"iPlanetDirectoryPro": "cookie-secret-session"},
            "headers": {"Authorization": ["Bearer header-secret-jwt"], "Cookie": ["amlbcookie=cookie-secret-2"],
                        "Host": ["am.example.com"], "X-Tenant": ["acme"], "User-Agent": ["curl/8"]}
        }},
        "response": {"status": "SUCCESSFUL", "statusCode": "200"}
    })
}

/// Publishes one leaky event through a JSON handler configured with
/// `filter_policies` (the top-level `config.filterPolicies`) and the
/// fixture's `wasp` section without `safelist` (so the default applies),
/// and returns the line it wrote.
fn logged(filter_policies: Value) -> Value {
    let fx = Fixture::new();
    let config = fx.config_doc(&json!({
        "config": {"filterPolicies": filter_policies},
        "eventHandlers": [{"class": "org.forgerock.audit.handlers.json.JsonAuditEventHandler",
                           "config": {"name": "json", "topics": ["access"], "logDirectory": "logs"}}],
        "wasp": {"safelist": true}
    }));
    let audit = AuditService::from_config_file(&config).unwrap();
    audit.publish("access", leaky_event("e1")).unwrap();
    audit.flush();
    audit.shutdown();
    let text = std::fs::read_to_string(fx.path().join("wasp-data/logs/access.audit.json")).unwrap();
    // The journal's segments hold what handlers got: the secrets never were.
    let mut journal = Vec::new();
    for entry in walk(&fx.path().join("wasp-data/journal")) {
        journal.extend(std::fs::read(entry).unwrap());
    }
    let journal = String::from_utf8_lossy(&journal);
    assert!(!journal.contains("header-secret-jwt") && !journal.contains("qs-secret-token"), "the journal holds no secret");
    serde_json::from_str(text.lines().next().unwrap()).unwrap()
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten() {
        let path = entry.unwrap().path();
        if path.is_dir() { files.extend(walk(&path)) } else { files.push(path) }
    }
    files
}

#[test]
fn credentials_in_headers_cookies_and_query_strings_are_not_logged_by_default() {
    let line = logged(json!({}));
    let text = line.to_string();
    for secret in ["header-secret-jwt", "cookie-secret-session", "cookie-secret-2", "qs-secret-token"] {
        assert!(!text.contains(secret), "{secret} was logged: {text}");
    }
    let request = &line["http"]["request"];
    assert_eq!(request["method"], "GET");
    assert_eq!(request["path"], "/oauth2/authorize");
    assert_eq!(request["headers"], json!({"Host": ["am.example.com"], "User-Agent": ["curl/8"]}), "safelisted headers, any case");
    assert!(request.get("queryParameters").is_none() && request.get("cookies").is_none());
    assert_eq!((line["userId"].as_str(), line["client"]["ip"].as_str()), (Some("bjensen"), Some("203.0.113.7")));
    assert_eq!(line["response"]["status"], "SUCCESSFUL");
}

#[test]
fn include_if_extends_the_safelist_and_exclude_if_wins() {
    let line = logged(json!({"field": {
        "includeIf": ["/access/http/request/headers/x-tenant", "/access/http/request/queryParameters/state", "/access/http/request/headers/authorization"],
        "excludeIf": ["/access/http/request/headers/authorization", "/access/client"]
    }}));
    let request = &line["http"]["request"];
    assert_eq!(request["headers"]["X-Tenant"], json!(["acme"]), "included, matched without case");
    assert_eq!(request["queryParameters"], json!({"state": ["s1"]}), "only the included parameter");
    assert!(request["headers"].get("Authorization").is_none(), "excludeIf takes precedence over includeIf");
    assert!(line.get("client").is_none(), "a safelisted field excluded");
}

#[test]
fn wasp_safelist_false_keeps_every_field() {
    let fx = Fixture::new();
    let config = fx.config_doc(&json!({
        "eventHandlers": [{"class": "org.forgerock.audit.handlers.json.JsonAuditEventHandler",
                           "config": {"name": "json", "topics": ["access", "authentication"], "logDirectory": "logs"}}],
        "wasp": {"safelist": false}
    }));
    let audit = AuditService::from_config_file(&config).unwrap();
    audit.publish("access", leaky_event("e1")).unwrap();
    // Other standard topics have no safelist in ForgeRock: kept as published.
    audit.publish("authentication", json!({"_id": "a1", "principal": ["bjensen"], "context": {"ip": "x"}})).unwrap();
    audit.flush();
    audit.shutdown();
    let text = std::fs::read_to_string(fx.path().join("wasp-data/logs/access.audit.json")).unwrap();
    assert!(text.contains("header-secret-jwt"), "{text}");
    let auth = std::fs::read_to_string(fx.path().join("wasp-data/logs/authentication.audit.json")).unwrap();
    assert!(auth.contains("\"context\""), "{auth}");
}
