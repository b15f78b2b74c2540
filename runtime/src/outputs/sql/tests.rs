//! Unit tests of the SQL output: URL mapping, identifiers, the generated
//! SQL (placeholders, upserts, parameterised filters with hostile values),
//! and the sink end to end on SQLite (the embedded database; PostgreSQL
//! and MariaDB are tested in `tests/all/jdbc.rs`).

use std::path::Path;
use std::sync::Arc;

use serde_json::json;

use super::config::{Dialect, Location, SqlTarget, TableMapping, check_table};
use super::sink::{Inserts, SqlClient, SqlSink};
use super::{query, schema};
use crate::outputs::Sink;
use crate::query::QueryRequest;

fn mapping(table: &str) -> TableMapping {
    mapping_of(
        table,
        &[
            ("_id", "id"),
            ("timestamp", "timestamp_"),
            ("userId", "userid"),
            ("http/request/headers", "headers"),
            ("response/elapsedTime", "elapsed"),
        ],
    )
}

/// The `access` mapping of `table` with these (field, column) pairs, keyed
/// by `_id`.
fn mapping_of(table: &str, columns: &[(&str, &str)]) -> TableMapping {
    TableMapping::new("access", table, columns.iter().map(|(p, c)| ((*p).to_owned(), (*c).to_owned())).collect(), "_id").unwrap()
}

#[test]
fn jdbc_urls_map_to_native_targets() {
    let files = Path::new("/data/jdbc");
    let pg = SqlTarget::from_url("jdbc:postgresql://db.example:5433/audit?user=u&password=p%40ss&ssl=false", files).unwrap();
    assert_eq!(pg.dialect, Dialect::Postgres);
    assert_eq!(pg.location, Location::Server { host: "db.example".into(), port: 5433, database: "audit".into() });
    assert_eq!(pg.username.as_deref(), Some("u"));
    assert_eq!(pg.shown(), "postgresql://db.example:5433/audit");
    let my = SqlTarget::from_url("jdbc:mariadb://127.0.0.1/test", files).unwrap();
    assert_eq!((my.dialect, my.host_port()), (Dialect::MySql, Some(("127.0.0.1", 3306))));
    assert_eq!(SqlTarget::from_url("jdbc:mysql://[::1]:3307/x", files).unwrap().host_port(), Some(("::1", 3307)));
    let h2 = SqlTarget::from_url("jdbc:h2:tcp://localhost/~/test", files).unwrap();
    assert_eq!(h2.location, Location::File(files.join("test.sqlite")));
    assert_eq!(
        SqlTarget::from_url("jdbc:h2:file:/var/db/audit;MODE=MySQL", files).unwrap().location,
        Location::File("/var/db/audit.sqlite".into())
    );
    assert_eq!(SqlTarget::from_url("jdbc:h2:mem:audit", files).unwrap().location, Location::File(files.join("audit.sqlite")));
    assert_eq!(SqlTarget::from_url("sqlite:audit.db", files).unwrap().location, Location::File(files.join("audit.db")));
    for bad in [
        "jdbc:oracle:thin:@host:1521:xe",
        "jdbc:postgresql://host:99999/db",
        "jdbc:postgresql://host/",
        "http://x/y",
        "sqlite::memory:",
        "nonsense",
    ] {
        assert!(SqlTarget::from_url(bad, files).is_err(), "{bad}");
    }
    for (with_password, shown) in [
        ("jdbc:postgresql://db:0/audit?user=u&password=s3cret", "`jdbc:postgresql://db:0/audit?user=u&password=***`: `0` is not a port"),
        ("jdbc:mysql://u:s3cret@db:99999/audit", "`jdbc:mysql://u:***@db:99999/audit`: `99999` is not a port"),
    ] {
        let e = SqlTarget::from_url(with_password, files).unwrap_err().to_string();
        assert_eq!(e, shown, "the password is never in a message");
    }
}

#[test]
fn credentials_are_encoded_and_never_shown() {
    let mut target = SqlTarget::from_url("jdbc:postgresql://127.0.0.1/test", Path::new(".")).unwrap();
    target.username = Some("audit user".into());
    target.password = Some("p@ss:/word".into());
    assert_eq!(target.connect_url(), "postgres://audit%20user:p%40ss%3A%2Fword@127.0.0.1:5432/test");
    assert!(!format!("{target:?}").contains("p@ss"), "{target:?}");
    assert!(!target.shown().contains("p@ss"));
}

#[test]
fn identifiers_are_plain_names() {
    assert!(check_table("audit.auditaccess").is_ok());
    assert!(check_table("am_access_2").is_ok());
    for bad in ["a b", "x;DROP TABLE y", "\"q\"", "a.b.c", "", "1abc", "t`x"] {
        assert!(check_table(bad).is_err(), "{bad}");
    }
    let columns = vec![("_id".to_owned(), "id".to_owned()), ("userId".to_owned(), "user id".to_owned())];
    let (at, message) = TableMapping::new("access", "t", columns, "_id").unwrap_err();
    assert_eq!(at, "fieldToColumn");
    assert!(message.contains("`user id`"), "{message}");
    let (_, message) = TableMapping::new("access", "t", vec![("userId".into(), "u".into())], "_id").unwrap_err();
    assert!(message.contains("map `_id`"), "{message}");
}

#[test]
fn inserts_skip_existing_keys_in_each_dialect() {
    let m = mapping("audit.auditaccess");
    let pg = Inserts::new(Dialect::Postgres, &m, 100).sql(2);
    assert_eq!(
        pg,
        "INSERT INTO \"audit\".\"auditaccess\" (\"id\", \"timestamp_\", \"userid\", \"headers\", \"elapsed\") VALUES ($1, $2, $3, $4, $5), ($6, $7, $8, $9, $10) ON CONFLICT DO NOTHING"
    );
    // PostgreSQL's sinks insert a batch as one statement of text arrays.
    assert_eq!(
        Inserts::new(Dialect::Postgres, &m, 100).unnest.unwrap(),
        "INSERT INTO \"audit\".\"auditaccess\" (\"id\", \"timestamp_\", \"userid\", \"headers\", \"elapsed\") SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[]) ON CONFLICT DO NOTHING"
    );
    assert_eq!(Inserts::new(Dialect::MySql, &m, 100).unnest, None);
    let my = Inserts::new(Dialect::MySql, &m, 100).sql(1);
    assert_eq!(
        my,
        "INSERT INTO `audit`.`auditaccess` (`id`, `timestamp_`, `userid`, `headers`, `elapsed`) VALUES (?, ?, ?, ?, ?) ON DUPLICATE KEY UPDATE `id` = `id`"
    );
    let lite = Inserts::new(Dialect::Sqlite, &m, 100).sql(1);
    assert!(lite.starts_with("INSERT INTO \"audit.auditaccess\" ") && lite.ends_with("ON CONFLICT DO NOTHING"), "{lite}");
    // Statements stay under the databases' parameter limits.
    let wide = Inserts::new(Dialect::Postgres, &m, 100_000);
    assert_eq!(wide.rows_per_statement, 6000);
    assert_eq!(schema::create_statements(Dialect::MySql, &m)[0], "CREATE DATABASE IF NOT EXISTS `audit` CHARACTER SET utf8mb4");
    assert!(schema::create_statements(Dialect::Postgres, &m)[1].contains("\"id\" TEXT NOT NULL PRIMARY KEY"));
}

#[test]
fn hostile_filter_values_are_bind_parameters() {
    let m = mapping("t");
    let schema: serde_json::Value = serde_json::from_str(crate::schema::standard_source("access").unwrap()).unwrap();
    let hostile = "'; DROP TABLE t; --";
    let filter = format!(r#"userId eq "{hostile}" or (userId co "50%_!" and /http/request/headers pr) or !(userId sw "x")"#);
    let request = QueryRequest::from_params(&filter, None, None, Some("-userId")).unwrap();
    let select = query::select(Dialect::Postgres, &m, Some(&schema), &request);
    assert!(!select.sql.contains("DROP") && !select.sql.contains("50"), "{}", select.sql);
    // The negation cannot narrow: the `or` reads every row (the exact
    // filter runs over them).
    assert_eq!(
        select.sql,
        "SELECT \"id\", \"timestamp_\", \"userid\", \"headers\", \"elapsed\" FROM \"t\" WHERE 1 = 1 ORDER BY \"userid\" DESC, \"timestamp_\", \"id\""
    );
    let request = QueryRequest::from_params(
        &format!(r#"userId eq "{hostile}" or (userId co "50%_!" and /http/request/headers pr)"#),
        None,
        None,
        None,
    )
    .unwrap();
    let select = query::select(Dialect::MySql, &m, Some(&schema), &request);
    assert_eq!(select.params, vec!["'; drop table t; --".to_owned(), "%50!%!_!!%".to_owned()]);
    assert!(
        select.sql.contains("WHERE (LOWER(`userid`) = ? OR (LOWER(`userid`) LIKE ? ESCAPE '!' AND `headers` IS NOT NULL))"),
        "{}",
        select.sql
    );
    // A field no column holds matches nothing; one inside a JSON column
    // cannot be compared in SQL.
    let request = QueryRequest::from_params(r#"client/ip eq "1" and http/request/headers/host eq "a""#, None, None, None).unwrap();
    assert!(query::select(Dialect::Sqlite, &m, Some(&schema), &request).sql.contains("WHERE (1 = 0)"));
}

#[test]
fn fields_are_taken_out_only_when_no_column_holds_another() {
    use super::sink::{disjoint, row_of, steps};
    let m = mapping("t");
    let pointers: Vec<Vec<String>> = m.columns.iter().map(|(p, _)| steps(p)).collect();
    assert!(disjoint(&pointers));
    let record = br#"{"_id": "a", "userId": "u", "http": {"request": {"headers": {"h": [1]}}}, "response": {"elapsedTime": 7}}"#;
    let row = vec![Some("a".into()), None, Some("u".into()), Some(r#"{"h":[1]}"#.into()), Some("7".into())];
    assert_eq!(row_of(&m, &pointers, true, record).unwrap(), row);
    assert_eq!(row_of(&m, &pointers, false, record).unwrap(), row);
    let nested = [steps("http/request"), steps("http/request/method"), steps("a~1b")];
    assert!(!disjoint(&nested));
    assert_eq!(nested[2], vec!["a/b".to_owned()]);
}

#[test]
fn rows_read_back_as_typed_events() {
    let m = mapping("t");
    let schema: serde_json::Value = serde_json::from_str(crate::schema::standard_source("access").unwrap()).unwrap();
    let cells = vec![Some("e1".into()), None, Some("bjensen".into()), Some(r#"{"host":["a"]}"#.into()), Some("12".into())];
    assert_eq!(
        query::event_of(&m, Some(&schema), cells),
        json!({"_id": "e1", "userId": "bjensen", "http": {"request": {"headers": {"host": ["a"]}}}, "response": {"elapsedTime": 12}})
    );
}

#[test]
fn the_sink_writes_each_event_once_and_rejects_bad_records_alone() {
    let dir = tempfile::tempdir().unwrap();
    let target = SqlTarget::from_url("sqlite:audit.sqlite", dir.path()).unwrap();
    let client = Arc::new(SqlClient::new(target).unwrap());
    let m = mapping("audit.auditaccess");
    schema::init_table(&client, &m).unwrap();
    schema::init_table(&client, &m).unwrap(); // idempotent
    let mut sink = SqlSink::new(client.clone(), m.clone(), 2);
    let events = [
        json!({"_id": "a", "timestamp": "t1", "userId": "bjensen", "http": {"request": {"headers": {"host": ["x"]}}}, "response": {"elapsedTime": 3}}),
        json!({"_id": "b", "timestamp": "t2", "userId": "'; DROP TABLE \"audit.auditaccess\"; --"}),
        json!({"_id": "c", "timestamp": "t3", "userId": null}),
    ];
    sink.mark();
    for e in &events {
        sink.write(e.to_string().as_bytes()).unwrap();
    }
    sink.write(b"not json").unwrap();
    sink.write(br#"{"userId": "no id"}"#).unwrap();
    sink.flush().unwrap();
    let rejected = sink.take_rejected();
    assert_eq!(rejected.iter().map(|(i, _)| *i).collect::<Vec<_>>(), vec![3, 4]);
    assert!(rejected[1].1.contains("no `_id`"), "{rejected:?}");
    // A retry after a lost acknowledgement adds nothing.
    for e in &events {
        sink.write(e.to_string().as_bytes()).unwrap();
    }
    sink.flush().unwrap();
    let all = query::query(&client, &m, None, &QueryRequest::from_params("true", None, None, None).unwrap()).unwrap();
    assert_eq!(all.result_count, 3);
    let read = query::read(&client, &m, None, "b").unwrap().unwrap();
    assert_eq!(read["userId"], events[1]["userId"]);
    assert_eq!(query::read(&client, &m, None, "' OR '1'='1").unwrap(), None);
}

#[test]
fn a_missing_table_is_retried_and_named() {
    let dir = tempfile::tempdir().unwrap();
    let target = SqlTarget::from_url("sqlite:audit.sqlite", dir.path()).unwrap();
    let mut sink = SqlSink::new(Arc::new(SqlClient::new(target).unwrap()), mapping("missing"), 10);
    sink.mark();
    sink.write(br#"{"_id": "a"}"#).unwrap();
    let error = sink.flush().unwrap_err();
    assert!(sink.retryable(&error));
    assert!(error.to_string().contains("no such table") && error.to_string().contains("wasp db init"), "{error}");
    sink.rollback().unwrap();
    sink.flush().unwrap();
}

#[test]
fn exact_filters_in_storage_order_are_paged_by_the_database() {
    let m = mapping("t");
    let schema: serde_json::Value = serde_json::from_str(crate::schema::standard_source("access").unwrap()).unwrap();
    let plan = |filter: &str, sort: Option<&str>| {
        let request = QueryRequest::from_params(filter, Some("10"), None, sort).unwrap();
        query::plan(Dialect::Postgres, &m, Some(&schema), &request)
    };
    let query::Plan::Paged { count, page, offset } = plan("true", None) else { panic!("`true` is exact") };
    assert_eq!(count.sql, "SELECT COUNT(*) FROM \"t\" WHERE 1 = 1");
    assert!(page.sql.ends_with("ORDER BY \"timestamp_\", \"id\" LIMIT 10 OFFSET 0"), "{}", page.sql);
    assert_eq!(offset, 0);
    for exact in ["userId pr", "userId pr or client/ip pr", "false", "userId pr and true", "true or userId eq \"x\""] {
        assert!(matches!(plan(exact, None), query::Plan::Paged { .. }), "{exact}");
    }
    // Case folding, negations, JSON columns, typed columns and sort keys
    // stay CREST's to decide.
    for streamed in
        ["userId eq \"bjensen\"", "!(userId pr)", "http/request/headers/host pr", "response/elapsedTime pr", "userId pr or userId eq \"x\""]
    {
        assert!(matches!(plan(streamed, None), query::Plan::Streamed(_)), "{streamed}");
    }
    assert!(matches!(plan("true", Some("userId")), query::Plan::Streamed(_)));
    // A field with another column filling a field inside it can be there
    // while its own column is NULL: neither exact nor narrowed.
    let nested = mapping_of("t", &[("_id", "id"), ("http/request", "request"), ("http/request/headers", "headers")]);
    let request = QueryRequest::from_params("http/request pr", Some("10"), None, None).unwrap();
    let query::Plan::Streamed(select) = query::plan(Dialect::Postgres, &nested, None, &request) else { panic!("not exact") };
    assert!(select.sql.contains("WHERE 1 = 1"), "{}", select.sql);
    let unpaged = QueryRequest::from_params("true", None, None, None).unwrap();
    assert!(matches!(query::plan(Dialect::Sqlite, &m, Some(&schema), &unpaged), query::Plan::Streamed(_)));
}

#[test]
fn database_paging_and_streamed_evaluation_give_the_same_pages() {
    let dir = tempfile::tempdir().unwrap();
    let target = SqlTarget::from_url("sqlite:audit.sqlite", dir.path()).unwrap();
    let client = Arc::new(SqlClient::new(target).unwrap());
    let m = mapping("t");
    let schema: serde_json::Value = serde_json::from_str(crate::schema::standard_source("access").unwrap()).unwrap();
    schema::init_table(&client, &m).unwrap();
    let mut sink = SqlSink::new(client.clone(), m.clone(), 1000);
    sink.mark();
    for n in 0..57 {
        let user = if n % 3 == 0 { json!(null) } else { json!(format!("user{}", n % 7)) };
        let event = json!({"_id": format!("e{n:02}"), "timestamp": format!("2026-12-06T00:00:{:02}Z", 59 - n), "userId": user});
        sink.write(event.to_string().as_bytes()).unwrap();
    }
    sink.flush().unwrap();
    // The same pages, cookie after cookie, from the database's paging (an
    // exact filter) and from the streamed evaluation (the same filter
    // written so that SQL cannot decide it).
    for (paged_filter, streamed_filter, expected) in
        [("true", r#"!(userId eq "nobody")"#, 57), ("userId pr", r#"userId pr and !(userId eq "nobody")"#, 38)]
    {
        let mut pages = Vec::new();
        for filter in [paged_filter, streamed_filter] {
            let request = QueryRequest::from_params(filter, Some("10"), None, None).unwrap();
            let paged = matches!(query::plan(Dialect::Sqlite, &m, Some(&schema), &request), query::Plan::Paged { .. });
            assert_eq!(paged, filter == paged_filter, "{filter}");
            let mut cookie: Option<String> = None;
            let mut ids = Vec::new();
            loop {
                let request = QueryRequest::from_params(filter, Some("10"), cookie.as_deref(), None).unwrap();
                let page = query::query(&client, &m, Some(&schema), &request).unwrap();
                assert_eq!(page.total_paged_results, expected, "{filter}");
                assert_eq!(page.remaining_paged_results, expected - ids.len() as i64 - page.result_count as i64, "{filter}");
                ids.extend(page.result.iter().map(|e| e["_id"].as_str().unwrap().to_owned()));
                match page.paged_results_cookie {
                    Some(next) => cookie = Some(next),
                    None => break,
                }
            }
            pages.push(ids);
        }
        assert_eq!(pages[0].len(), expected as usize);
        assert_eq!(pages[0], pages[1], "{paged_filter}");
        // Storage order: by timestamp (the newest event was written first).
        assert_eq!(pages[0][0], "e56");
    }
}
