use std::path::Path;

use super::*;

fn parse(text: &str) -> Result<Config, ConfigError> {
    Config::from_json(text, Path::new("/etc/wasp"), "test.json")
}

fn error(text: &str) -> String {
    parse(text).unwrap_err().to_string()
}

const GOOD: &str = r#"{
  "eventHandlers": [{
    "class": "wasm",
    "config": {
      "name": "aa",
      "topics": ["access", "door-badges"],
      "component": "handlers/aa.wasm",
      "outputs": {"audit.log": {"type": "file", "path": "audit.log"}, "console": {"type": "stdout"}},
      "config": {"mapping": {}},
      "batch": {"maxSize": 8, "maxWait": "5 ms"},
      "budgets": {"fuelPerEvent": 1000000, "deadline": "2 seconds", "memory": "64 MiB"}
    }
  }]
}"#;

#[test]
fn a_full_handler_entry_validates_with_paths_resolved() {
    let config = parse(GOOD).unwrap();
    let h = &config.handlers[0];
    assert_eq!(h.name, "aa");
    assert_eq!(h.component, Path::new("/etc/wasp/handlers/aa.wasm"));
    assert_eq!(h.directory, Path::new("/etc/wasp/wasp-data/aa"));
    assert_eq!(config.cache_dir.as_deref(), Some(Path::new("/etc/wasp/wasp-data/cache")));
    assert_eq!(h.batch_max_size, 8);
    assert_eq!(h.batch_max_wait, Duration::from_millis(5));
    assert_eq!(h.budgets.fuel_per_event, 1_000_000);
    assert_eq!(h.budgets.deadline, Duration::from_secs(2));
    assert_eq!(h.budgets.memory_bytes, 64 << 20);
    assert_eq!(h.handler_config, r#"{"mapping":{}}"#);
    assert_eq!(h.outputs.len(), 2);
    assert!(config.known_topics().contains("door-badges"));
    assert!(config.known_topics().contains("authentication"));
}

#[test]
fn unknown_fields_are_named_with_their_json_path() {
    let text = GOOD.replace(r#""type": "stdout""#, r#""type": "stdout", "colour": true"#);
    let e = error(&text);
    assert!(e.starts_with("test.json: eventHandlers[0].config.outputs.console"), "{e}");
    assert!(e.contains("unknown field `colour`"), "{e}");

    let e = error(&GOOD.replace(r#""batch""#, r#""batches""#));
    assert!(e.contains("eventHandlers[0].config") && e.contains("unknown field `batches`"), "{e}");

    let e = error(r#"{"eventHandlers": [], "extra": 1}"#);
    assert!(e.contains("unknown field `extra`"), "{e}");
}

#[test]
fn bad_values_name_the_field_and_what_was_expected() {
    let e = error(&GOOD.replace(r#""5 ms""#, r#""5 fortnights""#));
    assert!(e.contains("eventHandlers[0].config.batch.maxWait") && e.contains("unknown duration unit"), "{e}");

    let e = error(&GOOD.replace(r#""path": "audit.log""#, r#""path": "../../etc/passwd""#));
    assert!(e.contains("eventHandlers[0].config.outputs.audit.log") && e.contains("must not contain `..`"), "{e}");

    let e = error(&GOOD.replace(r#""class": "wasm""#, r#""class": "org.example.Nope""#));
    assert!(e.contains("eventHandlers[0].class") && e.contains("unknown handler class `org.example.Nope`"), "{e}");

    let e = error(&GOOD.replace(r#""name": "aa""#, r#""name": "a a""#));
    assert!(e.contains("eventHandlers[0].config.name") && e.contains("not a valid handler name"), "{e}");

    let e = error(&GOOD.replace(r#""topics": ["access", "door-badges"]"#, r#""topics": []"#));
    assert!(e.contains("eventHandlers[0].config.topics: must name at least one topic"), "{e}");

    let e = error(&GOOD.replace(r#""memory": "64 MiB""#, r#""memory": "2 GiB""#));
    assert!(e.contains("budgets.memory") && e.contains("maximum of 1 GiB"), "{e}");

    let e = error(&GOOD.replace(r#""config": {"mapping": {}}"#, r#""config": [1]"#));
    assert!(e.contains("eventHandlers[0].config.config: the handler's settings must be an object"), "{e}");
}

#[test]
fn duplicate_names_and_missing_fields_are_refused() {
    let doubled = format!(
        r#"{{"eventHandlers": [{0}, {0}]}}"#,
        r#"{"class": "wasm", "config": {"name": "x", "topics": ["access"], "component": "x.wasm"}}"#
    );
    assert!(error(&doubled).contains("eventHandlers[1].config.name: handler name `x` is used twice"));
    let e = error(r#"{"eventHandlers": [{"class": "wasm", "config": {"name": "x", "topics": ["access"]}}]}"#);
    assert!(e.contains("eventHandlers[0].config") && e.contains("missing field `component`"), "{e}");
}

#[test]
fn syntax_errors_keep_their_position() {
    let e = error("{\"eventHandlers\": [}");
    assert!(e.contains("line 1"), "{e}");
}

const TENANTS: &str = r#"{
  "eventHandlers": [],
  "tenants": {
    "acme": {
      "budgets": {"fuelPerEvent": 5000, "memory": "64 MiB"},
      "quotas": {"eventsPerSecond": 100},
      "eventHandlers": [
        {"class": "wasm", "config": {"name": "a", "topics": ["access"], "component": "a.wasm", "budgets": {"memory": "32 MiB"}}},
        {"class": "wasm", "config": {"name": "b", "topics": ["door"], "component": "b.wasm", "directory": "bee",
          "circuitBreaker": {"failures": 2, "backoff": "250 ms", "maxBackoff": "1 m"}}}
      ]
    }
  }
}"#;

#[test]
fn tenant_handlers_take_tenant_budgets_unless_they_override_them() {
    let config = parse(TENANTS).unwrap();
    let (a, b) = (&config.handlers[0], &config.handlers[1]);
    assert_eq!((a.tenant.as_deref(), a.qualified_name()), (Some("acme"), "acme/a".to_owned()));
    assert_eq!((a.budgets.fuel_per_event, a.budgets.memory_bytes), (5000, 32 << 20));
    assert_eq!((b.budgets.fuel_per_event, b.budgets.memory_bytes), (5000, 64 << 20));
    assert_eq!(b.budgets.deadline, Budgets::default().deadline);
    let tenant = &config.tenants["acme"];
    assert_eq!(tenant.output_root, Path::new("/etc/wasp/wasp-data/tenants/acme"));
    assert_eq!((tenant.events_per_second, tenant.fuel_per_second), (Some(100), None));
    // A tenant handler's directory stays relative to the tenant's root.
    assert_eq!(b.directory, Path::new("bee"));
    assert_eq!(b.breaker, BreakerConfig { failures: 2, backoff: Duration::from_millis(250), max_backoff: Duration::from_secs(60) });
    assert_eq!(a.breaker.failures, 5, "default");
    assert!(config.known_topics_for(Some("acme")).contains("door"));
    assert!(!config.known_topics().contains("door"), "a tenant's topics are its own");
}

#[test]
fn tenant_and_budget_errors_name_the_field() {
    let bad_quota = TENANTS.replace(r#""eventsPerSecond": 100"#, r#""eventsPerSecond": 0"#);
    assert_eq!(error(&bad_quota), "test.json: tenants.acme.quotas.eventsPerSecond: must be greater than 0");
    let bad_instances = TENANTS.replace(r#""fuelPerEvent": 5000"#, r#""instances": 65"#);
    assert_eq!(
        error(&bad_instances),
        "test.json: tenants.acme.eventHandlers[0].config.budgets.instances: must be between 1 and 64, found 65"
    );
    let bad_name = TENANTS.replace(r#""acme": {"#, r#""ac me": {"#);
    assert!(error(&bad_name).starts_with("test.json: tenants.ac me: `ac me` is not a valid tenant name"), "{}", error(&bad_name));
    let unknown = TENANTS.replace(r#""quotas""#, r#""quota""#);
    assert!(error(&unknown).contains("unknown field `quota`"), "{}", error(&unknown));
}

const FULL_FORM: &str = r#"{
  "name": "AuditService",
  "type": "AuditService",
  "config": {
    "config": {
      "handlerForQueries": "json",
      "availableAuditEventHandlers": ["org.forgerock.audit.handlers.json.JsonAuditEventHandler"],
      "filterPolicies": {"field": {"excludeIf": ["/access/http/request/headers/authorization"]}}
    },
    "eventHandlers": [
      {"class": "org.forgerock.audit.handlers.json.JsonAuditEventHandler",
       "config": {"name": "json", "topics": ["access"], "enabled": "false", "logDirectory": "/tmp/logs",
                  "buffering": {"maxSize": 100000, "writeInterval": "100 ms"}}},
      {"class": "wasm", "config": {"name": "w", "topics": ["access"], "component": "w.wasm", "enabled": "true"}}
    ],
    "topicsSchemasDirectory": "schemas"
  }
}"#;

#[test]
fn the_full_audit_service_form_parses_with_forgerock_handlers_recognised() {
    let base = tempfile::tempdir().unwrap();
    std::fs::create_dir(base.path().join("schemas")).unwrap();
    let config = Config::from_json(FULL_FORM, base.path(), "test.json").unwrap();
    assert_eq!(config.name.as_deref(), Some("AuditService"));
    assert_eq!(config.audit.handler_for_queries.as_deref(), Some("json"));
    assert_eq!(config.audit.exclude_fields["access"], [("/http/request/headers/authorization".to_owned(), true)]);
    assert_eq!(config.topics_schemas_dir.as_deref(), Some(base.path().join("schemas").as_path()));
    let missing = parse(FULL_FORM).unwrap_err().to_string();
    assert!(
        missing.starts_with("test.json: config.topicsSchemasDirectory: cannot read the directory /etc/wasp/schemas"),
        "a configured schema directory must exist: {missing}"
    );
    let json = &config.forgerock_handlers[0];
    assert_eq!((json.name.as_str(), json.class, json.enabled), ("json", forgerock::HandlerClass::Json, false));
    assert_eq!(json.settings["logDirectory"], "/tmp/logs");
    assert_eq!(config.handlers.len(), 1);
    assert!(config.handlers[0].enabled, "\"true\" as a string");
}

#[test]
fn errors_in_the_full_form_name_the_path_inside_config() {
    let bad = FULL_FORM.replace(r#""component": "w.wasm""#, r#""component": "w.wasm", "colour": 1"#);
    let e = error(&bad);
    assert!(e.starts_with("test.json: config.eventHandlers[1].config.colour: unknown field `colour`"), "{e}");
    let bad_class = FULL_FORM.replace("json.JsonAuditEventHandler\",\n       \"config\"", "json.JsonAuditHandler\",\n       \"config\"");
    let e = error(&bad_class);
    assert!(e.contains("config.eventHandlers[0].class: unknown handler class `org.forgerock.audit.handlers.json.JsonAuditHandler`"), "{e}");
    assert_eq!(
        error(r#"{"type": "Router"}"#),
        "test.json: type: `Router` is not an audit service (expected AuditService or NoOpAuditService)"
    );
}

#[test]
fn a_noop_audit_service_has_no_handlers() {
    let config = parse(r#"{"name": "AuditService", "type": "NoOpAuditService"}"#).unwrap();
    assert!(config.handlers.is_empty() && config.forgerock_handlers.is_empty());
}

#[test]
fn filter_budgets_are_resolved_and_checked_like_a_handlers() {
    let with_filter = |budgets: &str| {
        format!(
            r#"{{"eventHandlers": [], "filters": [{{"name": "f", "topics": ["access"], "component": "f.wasm", "budgets": {budgets}}}]}}"#
        )
    };
    let config = parse(&with_filter(r#"{"fuelPerEvent": 5000, "recycleAfter": 7}"#)).unwrap();
    assert_eq!((config.filters[0].budgets.fuel_per_event, config.filters[0].budgets.recycle_after), (5000, 7));
    assert_eq!(error(&with_filter(r#"{"deadline": 0}"#)), "test.json: filters[0].budgets.deadline: must be greater than 0");
}

/// A tenant with a built-in JSON handler (`{json}`'s settings) and the
/// tenant entry's extra members (`{extra}`).
fn tenant_with_json(json: &str, extra: &str) -> String {
    format!(
        r#"{{"tenants": {{"acme": {{{extra}
            "eventHandlers": [
              {{"class": "wasm", "config": {{"name": "w", "topics": ["access"], "component": "w.wasm"}}}},
              {{"class": "JsonAuditEventHandler", "config": {{"name": "files", "topics": ["access"], {json}}}}}
            ]}}}}}}"#
    )
}

#[test]
fn a_tenants_builtin_handlers_write_under_its_output_root_and_answer_its_queries() {
    let config = parse(&tenant_with_json(r#""logDirectory": "logs/json""#, r#""handlerForQueries": "files","#)).unwrap();
    let files = &config.forgerock_handlers[0];
    assert_eq!((files.tenant.as_deref(), files.qualified_name()), (Some("acme"), "acme/files".to_owned()));
    assert_eq!(files.builtin.as_ref().unwrap().log_directory(), Some(Path::new("/etc/wasp/wasp-data/tenants/acme/logs/json")));
    assert_eq!(config.tenants["acme"].handler_for_queries.as_deref(), Some("files"));
    assert_eq!(config.audit.handler_for_queries, None, "the top level's is its own");
}

#[test]
fn a_tenants_builtin_handler_may_not_leave_its_output_root_or_hold_its_keys() {
    for dir in ["../globex", "/var/log/audit", "logs/../../x"] {
        let e = error(&tenant_with_json(&format!(r#""logDirectory": "{dir}""#), ""));
        assert!(e.starts_with("test.json: tenants.acme.eventHandlers[1].config.logDirectory: "), "{e}");
        assert!(e.contains("relative to its output root and stays inside it"), "{e}");
    }
    let keys = r#""logDirectory": "logs", "security": {"enabled": true, "filename": "wasp-data/tenants/acme/key", "signatureInterval": "1 second"}"#;
    let e = error(&tenant_with_json(keys, ""));
    assert!(e.starts_with("test.json: tenants.acme.eventHandlers[1].config.security.filename: "), "{e}");
    assert!(e.contains("inside the output root of tenant `acme`"), "{e}");
    let outside = keys.replace("wasp-data/tenants/acme/key", "keys/acme.key");
    parse(&tenant_with_json(&outside, "")).unwrap();
}

#[test]
fn a_tenants_handler_for_queries_and_handler_names_are_checked() {
    let e = error(&tenant_with_json(r#""logDirectory": "logs""#, r#""handlerForQueries": "w","#));
    assert_eq!(
        e,
        "test.json: tenants.acme.handlerForQueries: `w` is not an enabled JSON or CSV handler of tenant `acme` (the tenant's: files)"
    );
    let none = tenant_with_json(r#""logDirectory": "logs", "enabled": false"#, r#""handlerForQueries": "files","#);
    assert!(error(&none).ends_with("(the tenant has none)"), "{}", error(&none));
    let twice = tenant_with_json(r#""logDirectory": "logs""#, "").replace(r#""name": "files""#, r#""name": "w""#);
    assert_eq!(error(&twice), "test.json: tenants.acme.eventHandlers: handler name `w` is used twice");
    let syslog = tenant_with_json(r#""logDirectory": "logs""#, "").replace("JsonAuditEventHandler", "SyslogAuditEventHandler");
    let e = error(&syslog);
    assert!(
        e.starts_with(
            "test.json: tenants.acme.eventHandlers[1].class: handler `files`: a tenant's handlers are `wasm`, JSON, CSV or JSON stdout"
        ),
        "{e}"
    );
}

#[test]
fn two_handlers_writing_one_topic_file_are_refused() {
    let json = "org.forgerock.audit.handlers.json.JsonAuditEventHandler";
    let csv = "org.forgerock.audit.handlers.csv.CsvAuditEventHandler";
    let doc = |second_dir: &str, second_class: &str, topics: &str| {
        format!(
            r#"{{"eventHandlers": [
                {{"class": "{json}", "config": {{"name": "a", "logDirectory": "logs", "topics": ["access", "activity"]}}}},
                {{"class": "{second_class}", "config": {{"name": "b", "logDirectory": "{second_dir}", "topics": {topics}}}}}
            ]}}"#
        )
    };
    let e = error(&doc("./logs", json, r#"["config", "activity"]"#));
    assert!(e.contains("eventHandlers") && e.contains("`a` and `b` both write topic `activity`"), "{e}");
    // Another directory, another class (another file name) or other topics: fine.
    parse(&doc("other", json, r#"["activity"]"#)).unwrap();
    parse(&doc("logs", csv, r#"["activity"]"#)).unwrap();
    parse(&doc("logs", json, r#"["config"]"#)).unwrap();
}
