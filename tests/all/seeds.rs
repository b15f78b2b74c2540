//! Every configuration example in the seeds (`tests/fixtures/seeds/`,
//! copied verbatim; `INDEX.md` there says where each comes from) parses as
//! it is. The ones that are not JSON as written are the seeds' usage
//! templates (`"name": string`, `configuration expression<number>`, `...`)
//! and one-line fragments: they are listed here by name, so that a new
//! example that fails to parse cannot hide among them.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use wasp::config::Config;
use wasp::{AuditService, BuildError};

/// Usage templates and bare `"key": value` fragments: not JSON as written.
const TEMPLATES: [&str; 15] = [
    "001-0035-audit-service-usage.json",
    "001-0189-csv-handler-usage.json",
    "001-0396-csv-rotation-times-fragment.json",
    "001-0485-audit-service-elasticsearch-usage.json",
    "001-0682-jdbc-handler-usage.json",
    "001-0998-audit-service-jms-usage.json",
    "001-1152-audit-service-json-usage.json",
    "001-1260-json-rotation-times-fragment.json",
    "001-1347-audit-service-json-stdout-usage.json",
    "001-1435-route-noop-audit-service-reference-fragment.json",
    "001-1445-syslog-handler-usage.json",
    "001-1724-audit-service-splunk-usage.json",
    "002-0011-syslog-handler-usage.json",
    "004-0013-audit-service-json-usage.json",
    "004-0117-json-rotation-times-fragment.json",
];

/// Valid JSON that configures no audit service: IG objects around it.
const NOT_AUDIT_CONFIG: [&str; 5] = [
    "001-0172-route-auditservice-reference.json",
    "001-0521-elasticsearch-client-handler.json",
    "001-0529-elasticsearch-audit-client-scriptable-handler.json",
    "001-1756-splunk-client-handler.json",
    "001-1764-splunk-audit-client-scriptable-handler.json",
];

fn fixtures() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/seeds");
    let mut files: Vec<PathBuf> =
        std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).filter(|p| p.extension().is_some_and(|e| e == "json")).collect();
    files.sort();
    files
}

fn parse(value: &Value, name: &str) -> Config {
    Config::from_json(&value.to_string(), Path::new("/etc/ig"), name).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// Every `AuditService`/`NoOpAuditService` object anywhere in `value`
/// (a route holds them in its `heap`).
fn audit_services<'a>(value: &'a Value, found: &mut Vec<&'a Value>) {
    match value {
        Value::Object(map) => {
            if matches!(map.get("type").and_then(Value::as_str), Some("AuditService" | "NoOpAuditService")) {
                found.push(value);
            }
            map.values().for_each(|v| audit_services(v, found));
        }
        Value::Array(items) => items.iter().for_each(|v| audit_services(v, found)),
        _ => {}
    }
}

#[test]
fn every_seed_configuration_example_parses() {
    let mut parsed = 0;
    let mut templates = Vec::new();
    for path in fixtures() {
        let name = path.file_name().unwrap().to_str().unwrap().to_owned();
        let text = std::fs::read_to_string(&path).unwrap();
        let Ok(value) = serde_json::from_str::<Value>(&text) else {
            templates.push(name);
            continue;
        };
        let mut services = Vec::new();
        audit_services(&value, &mut services);
        if !services.is_empty() {
            for service in services {
                parse(service, &name);
                parsed += 1;
            }
        } else if value.get("class").is_some() {
            parse(&json!({"eventHandlers": [value]}), &name);
            parsed += 1;
        } else if value.get("field").is_some() {
            // The value of `config.config.filterPolicies`.
            parse(&json!({"config": {"filterPolicies": value}, "eventHandlers": []}), &name);
            parsed += 1;
        } else if value.get("schema").is_some() {
            // A custom topic schema: WASP's validator takes it as it is.
            wasp::schema::Schema::compile(&value["schema"]).unwrap_or_else(|e| panic!("{name}: {e}"));
        } else if name.starts_with("001-0463") {
            // A CSV handler's `config` body, shown without its wrapper.
            let handler = json!({"class": "org.forgerock.audit.handlers.csv.CsvAuditEventHandler", "config": value});
            parse(&json!({"eventHandlers": [handler]}), &name);
            parsed += 1;
        } else {
            assert!(NOT_AUDIT_CONFIG.contains(&name.as_str()), "{name}: not recognised as any audit configuration");
        }
    }
    assert_eq!(templates, TEMPLATES, "exactly the usage templates and fragments are not JSON as written");
    assert_eq!(parsed, 14, "every audit configuration among the 20 JSON fixtures (the rest: 5 IG objects, 1 schema)");
}

#[test]
fn a_seed_configuration_with_an_output_not_built_yet_says_so() {
    let path = fixtures().into_iter().find(|p| p.ends_with("004-0173-audit-service-json-rotate-midnight-60-days.json")).unwrap();
    let config = Config::from_file(&path).unwrap();
    let json_handler = &config.forgerock_handlers[0];
    assert_eq!((json_handler.name.as_str(), json_handler.class.name()), ("json", "org.forgerock.audit.handlers.json.JsonAuditEventHandler"));
    assert_eq!(json_handler.settings["fileRotation"]["rotationTimes"], json!(["0 hours"]), "its settings are kept as written");
    assert_eq!(json_handler.settings["fileRetention"]["maxNumberOfHistoryFiles"], 60);
    let err = AuditService::new(config).err().expect("refused");
    assert!(matches!(err, BuildError::NotSupported { .. }), "{err}");
    assert!(err.to_string().contains("is recognised but not supported yet"), "{err}");
}
