//! ForgeRock's `JdbcAuditEventHandler` and the WASM `sql` output against the
//! machine's real PostgreSQL (5432, trust, database `test`) and MariaDB
//! (3306, root without password, database `test`), and embedded SQLite (the
//! seed route's H2): the seed configurations run as written (with their
//! database URLs pointed at each server), `wasp db init` creates their
//! tables (twice: idempotent), every event published is read back by a
//! query (hostile values included), an outage of each server (stopped and
//! started again with the machine's start command) loses and duplicates
//! nothing, and a wrong password, a missing table and an unreachable host
//! are retried, named in the log and counted in `/metrics`.
//!
//! Every test of a server holds that server's lock (the outage tests stop
//! it) and works in its own schema (PostgreSQL) or database (MariaDB),
//! named after the test and the process, dropped at the end.

use std::path::Path;
use std::process::Command;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use wasp::outputs::sql::{SqlClient, SqlTarget, TableMapping, query};
use wasp_tests::{Fixture, WaspRun, http, in_ci, run_wasp, wait_for};

static POSTGRES: Mutex<()> = Mutex::new(());
static MARIADB: Mutex<()> = Mutex::new(());

const HOSTILE: &str = "O'Brien'); DROP TABLE auditaccess; --";
const TOKEN: &str = "jdbc-test-admin-token";

#[derive(Clone, Copy, PartialEq, Debug)]
enum Db {
    Postgres,
    MariaDb,
}

impl Db {
    fn port(self) -> u16 {
        match self {
            Db::Postgres => 5432,
            Db::MariaDb => 3306,
        }
    }

    fn lock(self) -> MutexGuard<'static, ()> {
        let lock = match self {
            Db::Postgres => &POSTGRES,
            Db::MariaDb => &MARIADB,
        };
        lock.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// `(databaseType, jdbcUrl, username, driverClassName)`.
    fn jdbc(self) -> (&'static str, &'static str, &'static str, &'static str) {
        match self {
            Db::Postgres => ("postgresql", "jdbc:postgresql://127.0.0.1:5432/test", "postgres", "org.postgresql.Driver"),
            Db::MariaDb => ("mysql", "jdbc:mariadb://127.0.0.1:3306/test", "root", "org.mariadb.jdbc.Driver"),
        }
    }

    fn client(self) -> SqlClient {
        let (_, url, user, _) = self.jdbc();
        let mut target = SqlTarget::from_url(url, Path::new(".")).unwrap();
        target.username = Some(user.into());
        target.connect_timeout = Duration::from_secs(5);
        SqlClient::new(target).unwrap()
    }

    fn answers(self) -> bool {
        self.client().execute_all(&["SELECT 1".to_owned()]).is_ok()
    }

    /// Whether the server answers; without it a test skips, or fails
    /// under CI.
    fn available(self) -> bool {
        if self.answers() {
            return true;
        }
        assert!(!in_ci(), "{self:?} does not answer on 127.0.0.1:{} (scripts/services.sh starts it)", self.port());
        eprintln!("skipped: {self:?} does not answer on 127.0.0.1:{}", self.port());
        false
    }

    fn stop(self) {
        let status = match self {
            Db::Postgres => {
                Command::new("sh").args(["-c", "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main stop -m fast"]).status()
            }
            Db::MariaDb => Command::new("mariadb-admin").args(["-uroot", "-h127.0.0.1", "shutdown"]).status(),
        };
        assert!(status.unwrap().success(), "stop {self:?}");
        wait_for("the database to stop", || std::net::TcpStream::connect(("127.0.0.1", self.port())).is_err() && !self.running());
    }

    /// Whether the server's process still runs (it may have closed its
    /// port while shutting down).
    fn running(self) -> bool {
        let status = match self {
            Db::Postgres => Command::new("sh")
                .args(["-c", "pg_ctlcluster $(ls /etc/postgresql) main status"])
                .stdout(std::process::Stdio::null())
                .status(),
            Db::MariaDb => Command::new("start-stop-daemon").args(["--status", "--exec", "/usr/sbin/mariadbd"]).status(),
        };
        status.is_ok_and(|s| s.success())
    }

    /// Starts the server with the machine's start command (as
    /// `scripts/services.sh`) and waits until it answers queries.
    fn start(self) {
        let deadline = Instant::now() + Duration::from_secs(90);
        let mut attempt = Instant::now() - Duration::from_secs(10);
        while !self.answers() {
            assert!(Instant::now() < deadline, "{self:?} did not come back");
            // (Again every 5 s: a server still shutting down makes the
            // start command a no-op.)
            if attempt.elapsed() >= Duration::from_secs(5) {
                attempt = Instant::now();
                let _ = match self {
                    Db::Postgres => {
                        Command::new("sh").args(["-c", "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start"]).status()
                    }
                    Db::MariaDb => Command::new("start-stop-daemon")
                        .args(["--start", "--oknodo", "--background", "--exec", "/usr/sbin/mariadbd"])
                        .status(),
                };
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

/// Stops a server; starts it again when dropped, even if the test fails.
struct Outage(Db);

impl Drop for Outage {
    fn drop(&mut self) {
        self.0.start();
    }
}

/// A test's own schema (PostgreSQL) or database (MariaDB), dropped at the
/// end.
struct Space {
    db: Db,
    name: String,
}

impl Space {
    fn new(db: Db, test: &str) -> Space {
        let name = format!("wasp_{test}_{}", std::process::id());
        let space = Space { db, name };
        space.drop_now();
        space
    }

    fn table(&self) -> String {
        format!("{}.auditaccess", self.name)
    }

    fn drop_now(&self) {
        let sql = match self.db {
            Db::Postgres => format!("DROP SCHEMA IF EXISTS \"{}\" CASCADE", self.name),
            Db::MariaDb => format!("DROP DATABASE IF EXISTS `{}`", self.name),
        };
        let _ = self.db.client().execute_all(&[sql]);
    }
}

impl Drop for Space {
    fn drop(&mut self) {
        self.drop_now();
    }
}

/// The seed route's (001-0889) mapping of the `access` topic.
fn seed_route() -> Value {
    let text = std::fs::read_to_string(wasp_tests::repo_root().join("tests/fixtures/seeds/001-0889-route-jdbc-h2-example.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn seed_mapping() -> Value {
    seed_route()["heap"][2]["config"]["eventHandlers"][0]["config"]["tableMappings"][0]["fieldToColumn"].clone()
}

/// The seed usage (001-0682) with every setting given a value.
fn seed_usage(db: Db, table: &str) -> Value {
    let (database_type, url, user, driver) = db.jdbc();
    json!({
        "class": "org.forgerock.audit.handlers.jdbc.JdbcAuditEventHandler",
        "config": {
            "name": "jdbc", "topics": ["access"], "databaseType": database_type, "enabled": true,
            "buffering": {"enabled": true, "writeInterval": "50 ms", "autoFlush": true, "maxBatchedEvents": 100, "maxSize": 5000, "writerThreads": 1},
            "connectionPool": {
                "driverClassName": driver, "dataSourceClassName": "", "jdbcUrl": url, "username": user, "password": "",
                "autoCommit": true, "connectionTimeout": 5000, "idleTimeout": 600000, "maxLifetime": 1800000, "minIdle": 10,
                "maxPoolSize": 10, "poolName": "audit"
            },
            "tableMappings": [{"event": "access", "table": table, "fieldToColumn": seed_mapping()}]
        }
    })
}

#[test]
fn the_filled_usage_sets_every_setting_of_the_seed() {
    crate::seeds::assert_fills_template("001-0682-jdbc-handler-usage.json", &seed_usage(Db::Postgres, "t"));
}

/// A complete `access` event (its fields all in the access safelist).
fn event(run: &str, i: usize) -> Value {
    json!({
        "_id": format!("{run}-{i:05}"), "timestamp": format!("2026-12-05T07:{:02}:{:02}.000Z", i / 60 % 60, i % 60),
        "eventName": "AM-ACCESS-OUTCOME", "transactionId": format!("tx-{i}"),
        "userId": if i.is_multiple_of(7) { HOSTILE.to_owned() } else { format!("user{i}") },
        "trackingIds": [format!("track-{i}")],
        "server": {"ip": "10.0.0.1", "port": 8080}, "client": {"ip": "203.0.113.7", "port": 40000 + i},
        "request": {"protocol": "CREST", "operation": "READ"},
        "http": {"request": {"secure": true, "method": "GET", "path": "/home/audit-jdbc", "headers": {"host": ["app.example.com"]}}},
        "response": {"status": "SUCCESSFUL", "statusCode": "200", "elapsedTime": i, "elapsedTimeUnits": "MILLISECONDS"}
    })
}

fn ndjson(events: &[Value]) -> String {
    events.iter().map(|e| format!("{e}\n")).collect()
}

/// Runs `wasp db init` (twice), pipes `events` (twice) and reads them all back
/// with `wasp query`, then a hostile filter and a read by id.
fn round_trip(fx: &Fixture, config: &Path, events: &[Value]) {
    let config = config.to_str().unwrap();
    for _ in 0..2 {
        let init = run_wasp(&["db", "init", "--config", config], None, fx.path());
        assert!(init.status.success(), "db init: {}{}", String::from_utf8_lossy(&init.stdout), String::from_utf8_lossy(&init.stderr));
    }
    // Twice: the second run writes the same `_id`s again, as a retry after
    // a lost acknowledgement does; the database keeps each row once.
    for _ in 0..2 {
        let piped = run_wasp(&["pipe", "--config", config, "--topic", "access", "--json"], Some(&ndjson(events)), fx.path());
        assert!(piped.status.success(), "pipe: {}", String::from_utf8_lossy(&piped.stderr));
        let summary: Value = serde_json::from_slice(&piped.stdout).unwrap();
        assert_eq!(summary["handlers"][0]["delivered"], events.len(), "{summary}");
    }
    let query = |args: &[&str]| -> Value {
        let mut all = vec!["query", "--config", config, "--topic", "access"];
        all.extend_from_slice(args);
        let out = run_wasp(&all, None, fx.path());
        assert!(out.status.success(), "query {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let all = query(&["--sort-keys", "_id"]);
    assert_eq!(all["result"].as_array().unwrap(), events, "every event reads back as published");
    let hostile = query(&["--filter", &format!("userId eq {}", json!(HOSTILE)), "--page-size", "5", "--sort-keys", "-_id"]);
    let expected: Vec<&Value> = events.iter().rev().filter(|e| e["userId"] == HOSTILE).take(5).collect();
    assert_eq!(hostile["result"].as_array().unwrap().iter().collect::<Vec<_>>(), expected);
    assert_eq!(hostile["totalPagedResults"], events.iter().filter(|e| e["userId"] == HOSTILE).count());
    let injected = query(&["--filter", "userId eq \"x' OR '1'='1\" or userId sw \"'; DROP TABLE\""]);
    assert_eq!(injected["resultCount"], 0);
    let one = query(&["--id", events[3]["_id"].as_str().unwrap()]);
    assert_eq!(one, events[3]);
}

#[test]
fn the_seed_usage_runs_against_postgresql_and_mariadb() {
    for db in [Db::Postgres, Db::MariaDb] {
        let _lock = db.lock();
        if !db.available() {
            continue;
        }
        let space = Space::new(db, "usage");
        let fx = Fixture::new();
        let config = fx.config_doc(&json!({
            "config": {"handlerForQueries": "jdbc"},
            "eventHandlers": [seed_usage(db, &space.table())],
            "wasp": {"safelist": true, "validation": {"requiredFields": ["transactionId", "timestamp"]}}
        }));
        let events: Vec<Value> = (0..250).map(|i| event(&format!("{db:?}"), i)).collect();
        round_trip(&fx, &config, &events);
    }
}

/// The seed route (a heap `JdbcDataSource`, `databaseType` h2) as written,
/// run by SQLite, and with its data source pointed at each server.
#[test]
fn the_seed_route_runs_on_sqlite_postgresql_and_mariadb() {
    for db in [None, Some(Db::Postgres), Some(Db::MariaDb)] {
        let _lock = db.map(Db::lock);
        if db.is_some_and(|db| !db.available()) {
            continue;
        }
        let mut route = seed_route();
        route["heap"][2]["config"]["config"] = json!({"handlerForQueries": "jdbc"});
        // The data source's `passwordSecretId: database.password` from its
        // SystemAndEnvSecretStore (BASE64): the route's properties give it
        // (the databases' empty password: trust, root without one).
        route["properties"] = json!({"database": {"password": ""}});
        let space = db.map(|db| Space::new(db, "route"));
        if let (Some(db), Some(space)) = (db, &space) {
            let (database_type, url, user, _) = db.jdbc();
            let source = &mut route["heap"][1]["config"];
            source["properties"]["url"] = json!(url);
            source["username"] = json!(user);
            source["dataSourceClassName"] =
                json!(if db == Db::Postgres { "org.postgresql.ds.PGSimpleDataSource" } else { "org.mariadb.jdbc.MariaDbDataSource" });
            let handler = &mut route["heap"][2]["config"]["eventHandlers"][0]["config"];
            handler["databaseType"] = json!(database_type);
            handler["tableMappings"][0]["table"] = json!(space.table());
        }
        let fx = Fixture::new();
        let config = fx.path().join("route.json");
        std::fs::write(&config, serde_json::to_string_pretty(&route).unwrap()).unwrap();
        let check = run_wasp(&["config", "check", config.to_str().unwrap()], None, fx.path());
        let shown = String::from_utf8_lossy(&check.stdout);
        assert!(check.status.success(), "{shown}");
        if db.is_none() {
            assert!(shown.contains("databaseType h2 is run by SQLite") && shown.contains("wasp-data/jdbc/test.sqlite"), "{shown}");
        }
        let events: Vec<Value> = (0..120).map(|i| event(&format!("route-{db:?}"), i)).collect();
        round_trip(&fx, &config, &events);
    }
}

fn rows(db: Db, table: &str) -> Vec<Value> {
    let mapping = TableMapping::new("access", table, vec![("_id".into(), "id".into()), ("userId".into(), "userid".into())], "_id").unwrap();
    let request = wasp::query::QueryRequest::from_params("true", None, None, Some("_id")).unwrap();
    query::query(&db.client(), &mapping, None, &request).unwrap().result
}

/// Stops the server while events are published, starts it again: every
/// accepted event arrives once.
fn outage(db: Db) {
    let _lock = db.lock();
    if !db.available() {
        return;
    }
    let space = Space::new(db, "outage");
    let fx = Fixture::new();
    let config = fx.config_doc(&json!({"eventHandlers": [seed_usage(db, &space.table())]}));
    let init = run_wasp(&["db", "init", "--config", config.to_str().unwrap()], None, fx.path());
    assert!(init.status.success(), "{}", String::from_utf8_lossy(&init.stdout));
    let audit = wasp::AuditService::from_config_file(&config).unwrap();
    let events: Vec<Value> = (0..600).map(|i| event("outage", i)).collect();
    for e in &events[..200] {
        audit.publish("access", e.clone()).unwrap();
    }
    audit.flush();
    let outage = Outage(db);
    db.stop();
    for e in &events[200..] {
        audit.publish("access", e.clone()).unwrap();
    }
    wait_for("a retry while the database is down", || audit.summary().handlers[0].retries >= 2);
    drop(outage); // started again
    wait_for("every event delivered", || audit.summary().handlers[0].delivered == 600);
    let summary = audit.shutdown();
    let h = &summary.handlers[0];
    assert_eq!((h.dead_lettered, h.lost), (0, 0), "{h:?}");
    let stored = rows(db, &space.table());
    let ids: std::collections::BTreeSet<&str> = stored.iter().filter_map(|r| r["_id"].as_str()).collect();
    assert_eq!(stored.len(), 600, "duplicates: {}", stored.len() as i64 - ids.len() as i64);
    assert_eq!(ids, events.iter().map(|e| e["_id"].as_str().unwrap()).collect());
    eprintln!("{db:?} outage: 600 accepted, 600 rows, 0 duplicates, {} retries", h.retries);
}

#[test]
fn a_postgresql_outage_loses_and_duplicates_nothing() {
    outage(Db::Postgres);
}

#[test]
fn a_mariadb_outage_loses_and_duplicates_nothing() {
    outage(Db::MariaDb);
}

/// Wrong password (MariaDB), unknown user and missing table (PostgreSQL),
/// unreachable host: retried, the cause named with the handler in the log
/// and `/health`, counted in `/metrics`; once fixed, delivered.
#[test]
fn connection_and_table_errors_are_named_retried_and_counted() {
    let _pg = Db::Postgres.lock();
    let _my = Db::MariaDb.lock();
    if !Db::Postgres.available() || !Db::MariaDb.available() {
        return;
    }
    let space = Space::new(Db::Postgres, "errors");
    let handler = |name: &str, db: Db, url: &str, user: &str, password: &str, table: &str| {
        let mut h = seed_usage(db, table);
        h["config"]["name"] = json!(name);
        h["config"]["connectionPool"]["jdbcUrl"] = json!(url);
        h["config"]["connectionPool"]["username"] = json!(user);
        h["config"]["connectionPool"]["password"] = json!(password);
        h["config"]["connectionPool"]["connectionTimeout"] = json!(2000);
        h
    };
    let fx = Fixture::new();
    fx.config_doc(&json!({
        "config": {"handlerForQueries": "missing-table"},
        "eventHandlers": [
            handler("wrong-password", Db::MariaDb, "jdbc:mariadb://127.0.0.1:3306/test", "root", "s3cret-wrong", "t"),
            handler("unknown-user", Db::Postgres, "jdbc:postgresql://127.0.0.1:5432/test", "no_such_user_wasp", "", "t"),
            handler("missing-table", Db::Postgres, "jdbc:postgresql://127.0.0.1:5432/test", "postgres", "", &space.table()),
            handler("unreachable", Db::Postgres, "jdbc:postgresql://127.0.0.1:1/test", "postgres", "", "t"),
        ],
        "wasp": {"sidecar": {"adminToken": wasp::sidecar::hash_token(TOKEN), "shutdownDeadline": "2 seconds"}}
    }));
    let check = run_wasp(&["config", "check", "audit.json"], None, fx.path());
    assert!(!String::from_utf8_lossy(&check.stdout).contains("s3cret-wrong"), "config check prints no password");
    let run = WaspRun::start(fx.path());
    let (status, _) = http(&run.address, TOKEN, "POST", "/audit/access", "application/json", &event("errors", 1).to_string());
    assert!(status < 300, "{status}");
    let names = ["wrong-password", "unknown-user", "missing-table", "unreachable"];
    wait_for("each handler to retry twice", || {
        let (_, metrics) = http(&run.address, TOKEN, "GET", "/metrics", "text/plain", "");
        names.iter().all(|n| {
            metrics.lines().any(|l| {
                l.starts_with("wasp_handler_output_retries_total")
                    && l.contains(&format!("\"{n}\""))
                    && l.rsplit(' ').next().and_then(|v| v.parse::<f64>().ok()).is_some_and(|v| v >= 2.0)
            })
        })
    });
    let (_, health) = http(&run.address, TOKEN, "GET", "/health", "text/plain", "");
    let health: Value = serde_json::from_str(&health).unwrap();
    assert_eq!(health["status"], "degraded");
    for (name, cause) in [
        ("wrong-password", "Access denied"),
        ("unknown-user", "no_such_user_wasp"),
        ("missing-table", "wasp db init"),
        ("unreachable", "connection failed"),
    ] {
        let entry = health["handlers"].as_array().unwrap().iter().find(|h| h["name"] == name).unwrap();
        let error = entry["outputError"].as_str().unwrap_or_default();
        assert!(error.contains(cause), "{name}: `{cause}` not in {error:?}");
    }
    // Fixed while the event waits in the journal: delivered.
    let init = run_wasp(&["db", "init", "--config", "audit.json"], None, fx.path());
    assert!(String::from_utf8_lossy(&init.stdout).contains(&format!(
        "{} table {}: ready",
        "postgresql://127.0.0.1:5432/test",
        space.table()
    )));
    wait_for("the missing table's event", || rows(Db::Postgres, &space.table()).len() == 1);
    // The sidecar queries the table too.
    let (status, page) = http(&run.address, TOKEN, "GET", "/audit/access?_queryFilter=userId%20pr&_pageSize=10", "text/plain", "");
    assert_eq!(status, 200, "{page}");
    let page: Value = serde_json::from_str(&page).unwrap();
    assert_eq!(page["result"], json!([event("errors", 1)]));
    let (status, one) = http(&run.address, TOKEN, "GET", "/audit/access/errors-00001", "text/plain", "");
    assert_eq!((status, serde_json::from_str::<Value>(&one).unwrap()), (200, event("errors", 1)));
    let (_, stderr) = run.terminate();
    assert!(!stderr.contains("s3cret-wrong"), "the password is never logged");
    assert!(stderr.contains("handler=wrong-password") && stderr.contains("Access denied"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

/// A WASM handler's `sql` output: its own projection of events (the probe
/// guest's echo records `{"id", "seq", "topic"}`) in a table, in SQLite
/// (inside the handler's directory) and in PostgreSQL.
#[test]
fn a_wasm_handler_writes_its_own_projection_through_an_sql_output() {
    let _lock = Db::Postgres.lock();
    let space = Space::new(Db::Postgres, "wasm");
    let mut outputs = vec![
        json!({"type": "sql", "url": "sqlite:projection.sqlite", "table": "projection", "columns": {"id": "id", "seq": "seq", "/topic": "topic"}, "key": "id"}),
    ];
    if Db::Postgres.available() {
        outputs.push(json!({"type": "sql", "url": "postgresql://127.0.0.1/test", "username": "postgres", "password": "unused-with-trust",
                            "table": space.table(), "columns": {"id": "id", "seq": "seq", "/topic": "topic"}, "key": "id"}));
    }
    for output in outputs {
        let fx = Fixture::new();
        let mut probe = wasp_tests::probe_handler("projector", json!({"config": {"healthy": true}}));
        probe["outputs"] = json!({"out": output});
        let config = fx.config(&[probe]);
        let config = config.to_str().unwrap();
        let check = run_wasp(&["config", "check", config], None, fx.path());
        assert!(!String::from_utf8_lossy(&check.stdout).contains("unused-with-trust"), "config check prints no password");
        let init = run_wasp(&["db", "init", "--config", config], None, fx.path());
        assert!(init.status.success(), "{}", String::from_utf8_lossy(&init.stdout));
        let events: Vec<Value> = (0..50).map(|i| json!({"_id": format!("w-{i:03}{HOSTILE}"), "userId": "u"})).collect();
        let piped = run_wasp(&["pipe", "--config", config, "--topic", "access", "--json"], Some(&ndjson(&events)), fx.path());
        let summary: Value = serde_json::from_slice(&piped.stdout).unwrap();
        assert_eq!(summary["handlers"][0]["delivered"], 50, "{summary}");
        let table = output["table"].as_str().unwrap();
        let mapping = TableMapping::new("", table, vec![("id".into(), "id".into()), ("topic".into(), "topic".into())], "id").unwrap();
        let request = wasp::query::QueryRequest::from_params("true", None, None, Some("id")).unwrap();
        let client = if table == "projection" {
            SqlClient::new(SqlTarget::from_url("sqlite:projection.sqlite", &fx.path().join("wasp-data/projector")).unwrap()).unwrap()
        } else {
            Db::Postgres.client()
        };
        let expected: Vec<Value> = events.iter().map(|e| json!({"id": e["_id"], "topic": "access"})).collect();
        assert_eq!(query::query(&client, &mapping, None, &request).unwrap().result, expected, "{table}");
    }
}

/// Settings errors name the setting; a handler whose database is nowhere
/// (no `connectionPool`, no heap `JdbcDataSource`) parses — the data source
/// may be in a parent heap — but is reported and runs disabled, its events
/// dead-lettered with the reason.
#[test]
fn settings_are_checked_and_a_handler_without_a_database_is_named() {
    let fx = Fixture::new();
    let mut wrong = seed_usage(Db::Postgres, "t");
    wrong["config"]["connectionPool"]["driverClassName"] = json!("com.mysql.cj.jdbc.Driver");
    fx.config_doc(&json!({"eventHandlers": [wrong]}));
    let check = run_wasp(&["config", "check", "audit.json"], None, fx.path());
    let shown = String::from_utf8_lossy(&check.stdout);
    assert!(shown.contains("connectionPool.driverClassName") && shown.contains("MySQL/MariaDB driver"), "{shown}");
    let mut unmapped = seed_usage(Db::Postgres, "t");
    unmapped["config"]["tableMappings"][0]["fieldToColumn"] = json!({"userId": "userid"});
    fx.config_doc(&json!({"eventHandlers": [unmapped]}));
    let shown = String::from_utf8_lossy(&run_wasp(&["config", "check", "audit.json"], None, fx.path()).stdout).into_owned();
    assert!(shown.contains("tableMappings[0].fieldToColumn") && shown.contains("map `_id`"), "{shown}");

    let mut nowhere = seed_usage(Db::Postgres, "t");
    nowhere["config"].as_object_mut().unwrap().remove("connectionPool");
    let config = fx.config_doc(&json!({"eventHandlers": [nowhere]}));
    let check = run_wasp(&["config", "check", "audit.json"], None, fx.path());
    let shown = String::from_utf8_lossy(&check.stdout);
    assert_eq!(check.status.code(), Some(3), "{shown}");
    assert!(shown.contains("handler `jdbc`: connectionPool: required"), "{shown}");
    let audit = wasp::AuditService::from_config_file(&config).unwrap();
    audit.publish("access", event("nowhere", 1)).unwrap();
    audit.flush();
    drop(audit);
    let letters = fx.dead_letters("jdbc");
    assert_eq!(letters.len(), 1);
    assert!(letters[0].fault.message.contains("connectionPool: required"), "{:?}", letters[0].fault);
}
