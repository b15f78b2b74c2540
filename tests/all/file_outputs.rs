//! The built-in file handlers end to end: ForgeRock's JSON, JSON stdout and
//! CSV handlers configured as in the seeds, rotation with retention and
//! gzip, and queries over the live file and the archives.

use serde_json::{Value, json};
use wasp::AuditService;
use wasp_tests::{Fixture, run_wasp};

fn access(n: usize) -> Value {
    json!({
        "_id": format!("evt-{n:03}"),
        "timestamp": format!("2026-11-22T10:{:02}:{:02}.000Z", n / 60, n % 60),
        "transactionId": format!("tx-{n}"),
        "eventName": "access",
        "userId": if n.is_multiple_of(2) { "bjensen" } else { "scarter" },
        "client": {"ip": "203.0.113.7", "port": 443},
        "http": {"request": {"method": "GET", "path": format!("/page/{n}"), "headers": {"x.forwarded.for": ["10.0.0.1"]}}},
        "response": {"status": "SUCCESSFUL", "elapsedTime": n}
    })
}

fn service(fx: &Fixture, handler: Value) -> AuditService {
    let config = fx.config_doc(&json!({
        "name": "AuditService",
        "type": "AuditService",
        "config": {"config": {"handlerForQueries": handler["config"]["name"]}, "eventHandlers": [handler]}
    }));
    AuditService::from_config_file(&config).unwrap()
}

fn lines(path: &std::path::Path) -> Vec<String> {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())).lines().map(str::to_owned).collect()
}

#[test]
fn the_json_handler_writes_one_file_per_topic_with_each_event_as_published() {
    let fx = Fixture::new();
    let audit = service(
        &fx,
        json!({"class": "org.forgerock.audit.handlers.json.JsonAuditEventHandler",
               "config": {"name": "json", "logDirectory": "logs", "topics": ["access", "authentication"],
                          "buffering": {"maxSize": 100000, "writeInterval": "100 ms"}}}),
    );
    for n in 0..5 {
        audit.publish("access", access(n)).unwrap();
    }
    audit.publish("authentication", json!({"_id": "auth-1", "userId": "bjensen", "result": "FAILED"})).unwrap();
    audit.flush();
    let summary = audit.shutdown();
    let h = summary.handler("json").unwrap();
    assert_eq!((h.delivered, h.dead_lettered), (6, 0));
    assert_eq!(h.version, "builtin:JsonAuditEventHandler");
    let logs = fx.path().join("wasp-data/logs");
    let access_lines = lines(&logs.join("access.audit.json"));
    assert_eq!(access_lines.len(), 5);
    for (n, line) in access_lines.iter().enumerate() {
        let value: Value = serde_json::from_str(line).unwrap();
        assert_eq!(value, access(n), "the event as published");
    }
    assert_eq!(lines(&logs.join("authentication.audit.json")).len(), 1);
}

#[test]
fn elasticsearch_compatible_output_is_normalized_and_queries_restore_it() {
    let fx = Fixture::new();
    let audit = service(
        &fx,
        json!({"class": "JsonAuditEventHandler",
               "config": {"name": "json", "logDirectory": "logs", "topics": ["access"], "elasticsearchCompatible": "true"}}),
    );
    audit.publish("access", access(1)).unwrap();
    audit.flush();
    audit.shutdown();
    let line: Value = serde_json::from_str(&lines(&fx.path().join("wasp-data/logs/access.audit.json"))[0]).unwrap();
    assert_eq!(line["_eventId"], "evt-001");
    assert!(line.get("_id").is_none());
    assert_eq!(line["http"]["request"]["headers"]["x_forwarded_for"], json!(["10.0.0.1"]));
    assert_eq!(line["_normalized"]["fieldNames"]["/http/request/headers/x_forwarded_for"], "x.forwarded.for");
    let out = run_wasp(&["query", "--config", "audit.json", "--topic", "access", "--id", "evt-001"], None, fx.path());
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let event: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(event, access(1), "reads restore `_id` and dotted names");
}

#[test]
fn json_stdout_adds_the_topic() {
    let fx = Fixture::new();
    fx.config_doc(&json!({"eventHandlers": [{
        "class": "org.forgerock.audit.handlers.json.stdout.JsonStdoutAuditEventHandler",
        "config": {"name": "jsonstdout", "elasticsearchCompatible": false, "topics": ["access"]}
    }]}));
    let input = format!("{}\n{}\n", access(1), access(2));
    let out = run_wasp(&["pipe", "--config", "audit.json", "--topic", "access"], Some(&input), fx.path());
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let printed: Vec<Value> = String::from_utf8(out.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(printed.len(), 2);
    for (n, value) in printed.iter().enumerate() {
        let mut expected = access(n + 1);
        expected["_topic"] = json!("access");
        assert_eq!(value, &expected);
    }
}

#[test]
fn the_csv_handler_writes_schema_columns_with_the_configured_formatting() {
    let fx = Fixture::new();
    let audit = service(
        &fx,
        json!({"class": "org.forgerock.audit.handlers.csv.CsvAuditEventHandler",
               "config": {"name": "csv", "logDirectory": "logs", "topics": ["access"],
                          "formatting": {"quoteChar": "'", "delimiterChar": ";", "endOfLineSymbols": "\r\n", "neutraliseFormulas": true},
                          "buffering": {"enabled": "true", "autoFlush": "false"}}}),
    );
    let mut risky = access(2);
    risky["userId"] = json!("=HYPERLINK(\"http://evil\")");
    audit.publish("access", access(1)).unwrap();
    audit.publish("access", risky.clone()).unwrap();
    audit.flush();
    audit.shutdown();
    let text = std::fs::read_to_string(fx.path().join("wasp-data/logs/access.csv")).unwrap();
    let rows: Vec<&str> = text.split_terminator("\r\n").collect();
    assert_eq!(rows.len(), 3, "{text}");
    assert!(rows[0].starts_with("'_id';"), "{}", rows[0]);
    for column in ["'client.ip'", "'http.request.method'", "'response.elapsedTime'", "'userId'"] {
        assert!(rows[0].contains(column), "{column} in {}", rows[0]);
    }
    assert!(rows[1].starts_with("'evt-001';"), "{}", rows[1]);
    assert!(rows[2].contains("''=HYPERLINK"), "the formula is neutralised: {}", rows[2]);
    // Queries read the rows back into events (the neutralising quote removed).
    let out = run_wasp(&["query", "--config", "audit.json", "--topic", "access", "--filter", "userId sw \"=hyper\""], None, fx.path());
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let page: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(page["resultCount"], 1, "{page}");
    assert_eq!(page["result"][0]["userId"], risky["userId"]);
    assert_eq!(page["result"][0]["response"]["elapsedTime"], 2);
    assert_eq!(page["result"][0]["http"]["request"]["path"], "/page/2");
}

#[test]
fn size_rotation_with_retention_and_gzip_loses_nothing_and_queries_reach_the_archives() {
    let fx = Fixture::new();
    let audit = service(
        &fx,
        json!({"class": "JsonAuditEventHandler",
               "config": {"name": "json", "logDirectory": "logs", "topics": ["access"],
                          "fileRotation": {"rotationEnabled": true, "maxFileSize": "2000", "rotationFileSuffix": "-yyyy.MM.dd-HH.mm.ss.SSS.gz"},
                          "fileRetention": {"maxNumberOfHistoryFiles": -1},
                          "buffering": {"maxSize": 5, "writeInterval": "10 ms"}}}),
    );
    for n in 0..60 {
        audit.publish("access", access(n)).unwrap();
    }
    audit.flush();
    audit.shutdown();
    let logs = fx.path().join("wasp-data/logs");
    let mut archives: Vec<String> = std::fs::read_dir(&logs)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n != "access.audit.json")
        .collect();
    archives.sort();
    assert!(archives.len() >= 5, "{archives:?}");
    assert!(archives.iter().all(|a| a.starts_with("access.audit.json-") && a.ends_with(".gz")), "{archives:?}");
    // Every event is in exactly one file, whole: query all, sorted.
    let out = run_wasp(&["query", "--config", "audit.json", "--topic", "access", "--sort-keys", "_id"], None, fx.path());
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let page: Value = serde_json::from_slice(&out.stdout).unwrap();
    let ids: Vec<&str> = page["result"].as_array().unwrap().iter().map(|e| e["_id"].as_str().unwrap()).collect();
    let expected: Vec<String> = (0..60).map(|n| format!("evt-{n:03}")).collect();
    assert_eq!(ids, expected);
    // Descending, written as the docs write it (`--sort-keys -_id`, a value
    // that starts with a hyphen).
    let out =
        run_wasp(&["query", "--config", "audit.json", "--topic", "access", "--sort-keys", "-_id", "--page-size", "1"], None, fx.path());
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let page: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(page["result"][0]["_id"], "evt-059", "{page}");
    // An event that is only in the oldest (gzipped) archive is found.
    let out = run_wasp(
        &["query", "--config", "audit.json", "--topic", "access", "--filter", "http/request/path eq \"/PAGE/0\""],
        None,
        fx.path(),
    );
    let page: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(page["result"][0]["_id"], "evt-000", "{page}");
    // Paging over the archives.
    let out = run_wasp(
        &["query", "--config", "audit.json", "--topic", "access", "--filter", "userId eq \"BJENSEN\"", "--page-size", "20"],
        None,
        fx.path(),
    );
    let page: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!((page["resultCount"].as_u64(), page["totalPagedResults"].as_i64()), (Some(20), Some(30)), "{page}");
    assert!(page["pagedResultsCookie"].is_string());
}

#[test]
fn max_number_of_history_files_keeps_the_newest_archives() {
    let fx = Fixture::new();
    let audit = service(
        &fx,
        json!({"class": "JsonAuditEventHandler",
               "config": {"name": "json", "logDirectory": "logs", "topics": ["access"],
                          "fileRotation": {"rotationEnabled": "true", "maxFileSize": 1000, "rotationFilePrefix": "old-", "rotationFileSuffix": "-yyyyMMddHHmmssSSS"},
                          "fileRetention": {"maxNumberOfHistoryFiles": "2"},
                          "buffering": {"maxSize": 1, "writeInterval": "1 ms"}}}),
    );
    for n in 0..40 {
        audit.publish("access", access(n)).unwrap();
    }
    audit.flush();
    audit.shutdown();
    let mut names: Vec<String> =
        std::fs::read_dir(fx.path().join("wasp-data/logs")).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    names.sort();
    assert_eq!(names.len(), 3, "two archives and the live file: {names:?}");
    assert_eq!(names[0], "access.audit.json");
    assert!(names[1..].iter().all(|n| n.starts_with("old-access.audit.json-")), "{names:?}");
    let live = lines(&fx.path().join("wasp-data/logs/access.audit.json"));
    assert!(live.last().unwrap().contains("evt-039"), "the newest event is in the live file");
}

#[test]
fn bad_file_handler_settings_are_named() {
    let fx = Fixture::new();
    for (config, at, says) in [
        (json!({"name": "j", "topics": ["access"]}), "config.logDirectory", "required"),
        (
            json!({"name": "j", "topics": ["access"], "logDirectory": "l", "buffering": {"writeInterval": "0 s"}}),
            "buffering.writeInterval",
            "greater than 0",
        ),
        (
            json!({"name": "j", "topics": ["access"], "logDirectory": "l", "fileRotation": {"rotationEnabled": true, "maxFileSize": 10, "colour": 1}}),
            "fileRotation.colour",
            "unknown",
        ),
        (
            json!({"name": "j", "topics": ["access"], "logDirectory": "l", "security": {"enabled": true, "signatureInterval": "1 s"}}),
            "security.filename",
            "required",
        ),
    ] {
        let path = fx.config_doc(&json!({"eventHandlers": [{"class": "JsonAuditEventHandler", "config": config}]}));
        let err = AuditService::from_config_file(&path).err().expect("refused").to_string();
        assert!(err.contains(at) && err.contains(says), "{at}: {err}");
    }
    let twice = json!({"class": "CsvAuditEventHandler", "config": {"name": "j", "topics": ["access"], "logDirectory": "l"}});
    let path = fx.config_doc(&json!({"eventHandlers": [twice.clone(), twice]}));
    let err = AuditService::from_config_file(&path).err().expect("refused").to_string();
    assert!(err.contains("handler name `j` is used twice"), "{err}");
}
