//! JDBC handler throughput into the machine's real databases: the built-in
//! `JdbcAuditEventHandler` with the seed route's 24-column `access`
//! mapping, end to end — `publish` into the memory journal, the handler
//! batches `buffering.maxBatchedEvents` events into one transaction of
//! multi-row idempotent `INSERT`s, and acknowledges after the commit.
//!
//! `cargo bench -p wasp-tests --bench jdbc` (optionally one database:
//! `-- postgresql`, `-- mariadb`, `-- sqlite`). Each round publishes 200,000
//! access events (about 600 bytes of JSON each) into a fresh table and
//! prints events/s until every event was acknowledged (committed), then
//! checks the table holds them all. Needs PostgreSQL on 5432 (trust,
//! database `test`) and MariaDB on 3306 (root, database `test`); SQLite is
//! embedded. Results are in `docs/benchmarks.md`.

use std::time::Instant;

use serde_json::{Value, json};
use wasp::outputs::sql::{SqlClient, TableMapping, query, schema};

const EVENTS: usize = 200_000;
const ROUNDS: usize = 3;
const BATCH: usize = 5000;

fn mapping() -> Value {
    let text = std::fs::read_to_string(wasp_tests::repo_root().join("tests/fixtures/seeds/001-0889-route-jdbc-h2-example.json")).unwrap();
    let route: Value = serde_json::from_str(&text).unwrap();
    route["heap"][2]["config"]["eventHandlers"][0]["config"]["tableMappings"][0]["fieldToColumn"].clone()
}

fn main() {
    let only = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    // As JSON text, as the sidecar and `wasp pipe` receive events.
    let events: Vec<String> = (0..EVENTS)
        .map(|n| {
            json!({"_id": format!("bench-{n:08}"), "timestamp": "2026-12-05T08:00:00.000Z", "transactionId": format!("tx-{n}"),
                "eventName": "AM-ACCESS-OUTCOME", "userId": "bjensen", "trackingIds": [format!("track-{n}")],
                "server": {"ip": "10.0.0.1", "port": 8080}, "client": {"ip": "203.0.113.7", "port": 40000 + n % 20000},
                "request": {"protocol": "CREST", "operation": "READ"},
                "http": {"request": {"secure": true, "method": "GET", "path": "/am/json/realms/root/authenticate", "headers": {"host": ["am.example.com"], "user-agent": ["curl/8"]}}},
                "response": {"status": "SUCCESSFUL", "statusCode": "200", "elapsedTime": n % 100, "elapsedTimeUnits": "MILLISECONDS"}})
            .to_string()
        })
        .collect();
    let databases = [
        ("postgresql", "jdbc:postgresql://127.0.0.1:5432/test", "postgres"),
        ("mariadb", "jdbc:mariadb://127.0.0.1:3306/test", "root"),
        ("sqlite", "jdbc:sqlite:bench.sqlite", ""),
    ];
    for (name, url, user) in databases {
        if only.as_deref().is_some_and(|o| o != name) {
            continue;
        }
        let mut rates = Vec::new();
        for round in 0..ROUNDS {
            let fx = wasp_tests::Fixture::new();
            let schema = format!("wasp_bench_{}_{round}", std::process::id());
            let table = if name == "sqlite" { "auditaccess".to_owned() } else { format!("{schema}.auditaccess") };
            let database_type = if name == "postgresql" {
                name
            } else if name == "mariadb" {
                "mysql"
            } else {
                "sqlite"
            };
            let config = fx.config_doc(&json!({
                "eventHandlers": [{"class": "org.forgerock.audit.handlers.jdbc.JdbcAuditEventHandler", "config": {
                    "name": "jdbc", "topics": ["access"], "databaseType": database_type,
                    "connectionPool": {"jdbcUrl": url, "username": user},
                    "buffering": {"enabled": true, "writeInterval": "20 ms", "maxBatchedEvents": BATCH},
                    "tableMappings": [{"event": "access", "table": table, "fieldToColumn": mapping()}]}}],
                "wasp": {"journal": {"durability": "memory", "maxEvents": 1_000_000}, "safelist": true}
            }));
            // `wasp db init`, through the library.
            let parsed = wasp::config::Config::from_file(&config).unwrap();
            let Some(wasp::builtin::BuiltinSettings::Jdbc(settings)) = &parsed.forgerock_handlers[0].builtin else { unreachable!() };
            let client = SqlClient::new(settings.target.clone().unwrap()).unwrap();
            schema::init_table(&client, &settings.mappings[0]).unwrap();
            let audit = wasp::AuditService::from_config_file(&config).unwrap();
            let started = Instant::now();
            for event in &events {
                audit.publish("access", event.as_str()).unwrap();
            }
            audit.flush();
            let elapsed = started.elapsed();
            let summary = audit.shutdown();
            assert_eq!(summary.handlers[0].delivered as usize, EVENTS, "{:?}", summary.handlers[0]);
            // Every row is there, once.
            let key = TableMapping::new("access", &table, vec![("_id".into(), "id".into())], "_id").unwrap();
            let all =
                query::query(&client, &key, None, &wasp::query::QueryRequest::from_params("true", Some("1"), None, None).unwrap()).unwrap();
            assert_eq!(all.total_paged_results as usize, EVENTS);
            if name != "sqlite" {
                let drop =
                    if name == "postgresql" { format!("DROP SCHEMA \"{schema}\" CASCADE") } else { format!("DROP DATABASE `{schema}`") };
                client.execute_all(&[drop]).unwrap();
            }
            let rate = EVENTS as f64 / elapsed.as_secs_f64();
            println!("{name} round {round}: {rate:.0} events/s committed ({elapsed:.2?})");
            rates.push(rate);
        }
        rates.sort_by(f64::total_cmp);
        println!(
            "{name}, {EVENTS} events, {BATCH} a transaction: median {:.0} events/s (min {:.0}, max {:.0})",
            rates[ROUNDS / 2],
            rates[0],
            rates[ROUNDS - 1]
        );
    }
}
