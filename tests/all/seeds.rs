//! Every configuration example in the seeds (`tests/fixtures/seeds/`,
//! copied verbatim; `INDEX.md` there says where each comes from) parses as
//! it is. The ones that are not JSON as written are the seeds' usage
//! templates (`"name": string`, `configuration expression<number>`, `...`)
//! and one-line fragments: they are listed here by name, so that a new
//! example that fails to parse cannot hide among them.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use wasp::AuditService;
use wasp::config::Config;

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
    assert_eq!(
        (json_handler.name.as_str(), json_handler.class.name()),
        ("json", "org.forgerock.audit.handlers.json.JsonAuditEventHandler")
    );
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
        let Ok(value) = serde_json::from_str::<Value>(&std::fs::read_to_string(&path).unwrap()) else {
            continue;
        };
        let mut services = Vec::new();
        audit_services(&value, &mut services);
        let mut handlers: Vec<Value> =
            services.iter().flat_map(|s| s["config"]["eventHandlers"].as_array().cloned().unwrap_or_default()).collect();
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
            let file =
                fx.path().join("logs").join(if class.contains("csv") { format!("{topic}.csv") } else { format!("{topic}.audit.json") });
            let text = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{name}: {}: {e}", file.display()));
            assert!(text.contains("seed-event"), "{name}: {text}");
            ran.push(name.clone());
        }
    }
    assert!(ran.len() >= 5, "the seeds' JSON and CSV handlers: {ran:?}");
}

/// Routes as the seeds write them: the whole file is the configuration,
/// the audit service found in its `heap` through `auditService`. Each
/// either passes or names the one setting WASP does not run yet.
#[test]
fn every_seed_route_is_read_as_a_whole_file() {
    // The JDBC route's data source reads `passwordSecretId: database.password`
    // from a SystemAndEnvSecretStore (BASE64): the environment gives it
    // (the empty password of the test databases).
    // SAFETY: set before any configuration of this test is read; no other
    // test reads this variable.
    unsafe { std::env::set_var("DATABASE_PASSWORD", "") };
    let mut read = Vec::new();
    for path in fixtures() {
        let name = path.file_name().unwrap().to_str().unwrap().to_owned();
        let Ok(value) = serde_json::from_str::<Value>(&std::fs::read_to_string(&path).unwrap()) else {
            continue;
        };
        if value.get("heap").is_none() {
            continue;
        }
        match Config::from_file(&path) {
            Ok(config) => assert_eq!(config.name.as_deref(), Some("AuditService"), "{name}"),
            Err(e) => panic!("{name}: {e}"),
        }
        read.push(name);
    }
    assert_eq!(read.len(), 6, "{read:?}");
    // A route that refers to an audit service of a parent heap says so.
    let path = fixtures().into_iter().find(|p| p.ends_with("001-0172-route-auditservice-reference.json")).unwrap();
    let e = Config::from_file(&path).unwrap_err().to_string();
    assert!(e.contains("auditService") && e.contains("parent heap"), "{e}");
}

/// The seeds' route for the JSON handler, with its settings written as
/// configuration expressions, run end to end by `wasp pipe`: `&{…}` from a
/// `--properties` file and from the environment, `${…}` typed values.
#[test]
fn a_seed_route_with_configuration_expressions_runs_end_to_end() {
    let path = fixtures().into_iter().find(|p| p.ends_with("001-1306-route-json-example.json")).unwrap();
    let mut route: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let handler = &mut route["heap"][0]["config"]["eventHandlers"][0]["config"];
    handler["logDirectory"] = json!("&{audit.dir}/&{audit.sub|json}");
    handler["enabled"] = json!("${true}");
    handler["buffering"]["maxSize"] = json!("${1000 * 100}");
    handler["buffering"]["writeInterval"] = json!("&{write.interval}");
    handler["fileRotation"] =
        json!({"rotationEnabled": "&{rotate}", "maxFileSize": "${env['WASP_TEST_MAX_FILE']}", "rotationInterval": "1 hour 30 minutes"});
    let fx = wasp_tests::Fixture::new();
    let config = fx.path().join("route.json");
    std::fs::write(&config, serde_json::to_string_pretty(&route).unwrap()).unwrap();
    let properties = fx.path().join("audit.properties");
    std::fs::write(&properties, format!("# test\naudit.dir={}\nwrite.interval=10 ms\n", fx.path().join("logs").display())).unwrap();
    let events = "{\"_id\":\"e1\",\"eventName\":\"x\",\"transactionId\":\"t\",\"timestamp\":\"2026-12-04T00:00:00Z\"}\n";
    let wasp = |args: &[&str]| {
        std::process::Command::new(wasp_tests::wasp_bin())
            .args(args)
            .args(["--properties", properties.to_str().unwrap()])
            .env("ROTATE", "true")
            .env("WASP_TEST_MAX_FILE", "1048576")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .and_then(|mut child| {
                use std::io::Write;
                child.stdin.take().unwrap().write_all(events.as_bytes())?;
                child.wait_with_output()
            })
            .unwrap()
    };
    let out = wasp(&["pipe", "--config", config.to_str().unwrap(), "--topic", "access"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let written = std::fs::read_to_string(fx.path().join("logs/json/access.audit.json")).unwrap_or_else(|e| panic!("{e}: {stderr}"));
    assert!(written.contains("\"e1\""), "{written}");
    // Without the property and its default, the error names the setting.
    std::fs::write(&properties, "write.interval=10 ms\n").unwrap();
    let out = wasp(&["config", "check", config.to_str().unwrap()]);
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(!out.status.success(), "{text}");
    assert!(text.contains("heap[0].config.eventHandlers[0].config.logDirectory") && text.contains("property `audit.dir`"), "{text}");
}

/// Asserts that `filled`, a configuration written from the usage template
/// `template` (a file name in `tests/fixtures/seeds/`), sets every setting
/// the template names (the keys of `"key": …` in its text), so that a test
/// running `filled` exercises the whole template.
pub(crate) fn assert_fills_template(template: &str, filled: &Value) {
    fn keys(value: &Value, out: &mut std::collections::BTreeSet<String>) {
        match value {
            Value::Object(map) => {
                for (k, v) in map {
                    out.insert(k.clone());
                    keys(v, out);
                }
            }
            Value::Array(items) => items.iter().for_each(|v| keys(v, out)),
            _ => {}
        }
    }
    let text = std::fs::read_to_string(wasp_tests::repo_root().join("tests/fixtures/seeds").join(template)).unwrap();
    let mut set = std::collections::BTreeSet::new();
    keys(filled, &mut set);
    let parts: Vec<&str> = text.split('"').collect();
    let named = (1..parts.len()).step_by(2).filter(|&i| parts.get(i + 1).is_some_and(|after| after.trim_start().starts_with(':')));
    let mut checked = 0;
    // `"field-value": object` stands for the user's own keys (syslog's
    // `valueMappings`), not a setting.
    for key in named.map(|i| parts[i]).filter(|&key| key != "field-value") {
        assert!(set.contains(key), "{template}: the seed's `{key}` is not exercised");
        checked += 1;
    }
    assert!(checked >= 5, "{template}: only {checked} settings found");
}
