//! Every configuration example in the seeds (`tests/fixtures/seeds/`,
//! copied verbatim; `INDEX.md` there says where each comes from) parses as
//! it is. The ones that are not JSON as written are the seeds' usage
//! templates (`"name": string`, `configuration expression<number>`, `...`)
//! and one-line fragments: they are listed here by name, so that a new
//! example that fails to parse cannot hide among them.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use wasp::config::Config;
use wasp::AuditService;

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
fn a_seed_json_handler_reads_every_setting_as_written() {
    use wasp::builtin::BuiltinSettings;
    let path = fixtures().into_iter().find(|p| p.ends_with("004-0173-audit-service-json-rotate-midnight-60-days.json")).unwrap();
    let config = Config::from_file(&path).unwrap();
    let json_handler = &config.forgerock_handlers[0];
    assert_eq!((json_handler.name.as_str(), json_handler.class.name()), ("json", "org.forgerock.audit.handlers.json.JsonAuditEventHandler"));
    let Some(BuiltinSettings::Json(settings)) = &json_handler.builtin else { panic!("a JSON handler: {:?}", json_handler.builtin) };
    assert_eq!(settings.log_directory, Path::new("/tmp/logs"));
    assert!(settings.rotation.enabled);
    assert_eq!(settings.rotation.times, [std::time::Duration::ZERO], "rotationTimes [\"0 hours\"]: midnight UTC");
    assert_eq!(settings.retention.max_history_files, Some(60));
    assert_eq!((settings.write_interval, settings.max_size), (std::time::Duration::from_secs(1), 10_000), "the seeds' buffering defaults");
}

/// Every JSON, JSON stdout and CSV handler in the seeds runs, with its
/// `logDirectory` (and key file) moved to a temporary directory: an event
/// published reaches its file.
#[test]
fn every_seed_file_handler_runs() {
    let mut ran = Vec::new();
    for path in fixtures() {
        let name = path.file_name().unwrap().to_str().unwrap().to_owned();
        let Ok(value) = serde_json::from_str::<Value>(&std::fs::read_to_string(&path).unwrap()) else { continue };
        let mut services = Vec::new();
        audit_services(&value, &mut services);
        let mut handlers: Vec<Value> = services
            .iter()
            .flat_map(|s| s["config"]["eventHandlers"].as_array().cloned().unwrap_or_default())
            .collect();
        if name.starts_with("001-0463") {
            handlers.push(json!({"class": "org.forgerock.audit.handlers.csv.CsvAuditEventHandler", "config": value}));
        } else if value.get("class").is_some() {
            handlers.push(value.clone());
        }
        for mut handler in handlers {
            let class = handler["class"].as_str().unwrap_or_default().to_owned();
            if !["JsonAuditEventHandler", "CsvAuditEventHandler"].iter().any(|c| class.ends_with(c)) {
                continue;
            }
            let fx = wasp_tests::Fixture::new();
            handler["config"]["logDirectory"] = json!(fx.path().join("logs"));
            if handler["config"].get("security").is_some() {
                let key = fx.path().join("audit.key");
                wasp::integrity::IntegrityKeys::generate().unwrap().save(&key).unwrap();
                handler["config"]["security"]["filename"] = json!(key);
            }
            let topic = handler["config"]["topics"][0].as_str().unwrap().to_owned();
            let config = fx.config_doc(&json!({"eventHandlers": [handler]}));
            let audit = AuditService::from_config_file(&config).unwrap_or_else(|e| panic!("{name}: {e}"));
            audit.publish(&topic, json!({"_id": "seed-event", "eventName": "x", "userId": "bjensen"})).unwrap();
            audit.flush();
            let summary = audit.shutdown();
            assert_eq!(summary.handlers[0].delivered, 1, "{name}");
            let file = fx.path().join("logs").join(if class.contains("csv") { format!("{topic}.csv") } else { format!("{topic}.audit.json") });
            let text = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{name}: {}: {e}", file.display()));
            assert!(text.contains("seed-event"), "{name}: {text}");
            ran.push(name.clone());
        }
    }
    assert!(ran.len() >= 5, "the seeds' JSON and CSV handlers: {ran:?}");
}
