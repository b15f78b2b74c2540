//! The sidecar's routes through `tower::ServiceExt::oneshot` (no socket),
//! over a service with ForgeRock's built-in JSON file handler (so no WASM
//! guest is needed), and one graceful shutdown over a real socket.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode, header};
use serde_json::{Value, json};
use tower::ServiceExt as _;

use super::*;

const ADMIN: &str = "admin-secret";
const APP: &str = "app-secret";
const ACME: &str = "acme-secret";

struct Setup {
    dir: tempfile::TempDir,
    state: Arc<AppState>,
    app: Router,
}

fn document(json_handler: Value, wasp: Value) -> Value {
    let mut wasp = wasp;
    wasp["validation"] = json!({"requiredFields": []});
    if wasp.get("journal").is_none() {
        wasp["journal"] = json!({"durability": "memory"});
    }
    if wasp.get("sidecar").is_none() {
        wasp["sidecar"] = json!({});
    }
    if wasp["sidecar"].get("auth").is_none() && wasp["sidecar"].get("adminToken").is_none() {
        wasp["sidecar"]["adminToken"] = json!(hash_token(ADMIN));
        wasp["sidecar"]["tokens"] = json!([{"tenant": null, "hash": hash_token(APP)}, {"tenant": "acme", "hash": hash_token(ACME)}]);
    }
    json!({
        "config": {"handlerForQueries": "json"},
        "eventHandlers": [{"class": "JsonAuditEventHandler", "config": json_handler}],
        "tenants": {"acme": {}, "globex": {}},
        "wasp": wasp
    })
}

fn json_handler() -> Value {
    json!({"name": "json", "logDirectory": "logs", "topics": ["access", "authentication"], "buffering": {"writeInterval": "20 ms"}})
}

fn setup_with(json_handler: Value, wasp: Value) -> Setup {
    setup_document(document(json_handler, wasp))
}

fn setup_document(document: Value) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let config = Config::from_json(&document.to_string(), dir.path(), "<test>").unwrap();
    let service = Arc::new(AuditService::new(config.clone()).unwrap());
    let state = AppState::new(service, Arc::new(config.clone()), config.sidecar.clone()).unwrap();
    let app = app(state.clone());
    Setup { dir, state, app }
}

fn setup() -> Setup {
    setup_with(json_handler(), json!({}))
}

struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&self.body)))
    }
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    /// A CREST error with this code whose message contains `needle`.
    fn assert_error(&self, code: u16, needle: &str) {
        assert_eq!(self.status.as_u16(), code, "{}", self.text());
        let body = self.json();
        assert_eq!(body["code"], code, "{body}");
        assert_eq!(body["reason"], StatusCode::from_u16(code).unwrap().canonical_reason().unwrap(), "{body}");
        assert!(body["message"].as_str().unwrap().contains(needle), "`{needle}` not in {body}");
    }
}

async fn call(app: &Router, method: &str, uri: &str, token: Option<&str>, content_type: Option<&str>, body: impl Into<Body>) -> Answer {
    let mut request = Request::builder().method(method).uri(uri);
    if let Some(token) = token {
        request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    if let Some(ct) = content_type {
        request = request.header(header::CONTENT_TYPE, ct);
    }
    let response = app.clone().oneshot(request.body(body.into()).unwrap()).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap().to_vec();
    Answer { status, headers, body }
}

async fn post(app: &Router, uri: &str, token: &str, event: Value) -> Answer {
    call(app, "POST", uri, Some(token), Some("application/json"), event.to_string()).await
}

async fn ndjson(app: &Router, uri: &str, token: &str, body: &str) -> Answer {
    call(app, "POST", uri, Some(token), Some("application/x-ndjson"), body.to_owned()).await
}

#[tokio::test]
async fn a_posted_event_is_created_with_its_id_and_sequence() {
    let s = setup();
    let a = post(&s.app, "/audit/access", APP, json!({"_id": "e1", "userId": "bjensen"})).await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text());
    assert_eq!(a.json(), json!({"_id": "e1", "sequence": 1, "topic": "access"}));
    assert_eq!(a.headers[header::LOCATION], "/audit/access/e1");
    // CREST style, and an `_id` generated when the event has none.
    let a = post(&s.app, "/audit/access?_action=create", APP, json!({"userId": "scarter"})).await;
    assert_eq!(a.status, StatusCode::CREATED);
    assert_eq!(a.json()["sequence"], 2);
    assert!(!a.json()["_id"].as_str().unwrap().is_empty());
    // No Content-Type is JSON too.
    let a = call(&s.app, "POST", "/audit/authentication", Some(ADMIN), None, r#"{"_id":"a1"}"#).await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text());
    let a = call(&s.app, "POST", "/audit/access?_action=flush", Some(ADMIN), None, "").await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text());
    let lines = std::fs::read_to_string(s.dir.path().join("wasp-data/logs/access.audit.json")).unwrap();
    assert_eq!(lines.lines().count(), 2);
    assert!(lines.contains(r#""_id":"e1""#), "{lines}");
}

#[tokio::test]
async fn without_a_valid_token_requests_get_401_with_a_bearer_challenge() {
    let s = setup();
    let a = call(&s.app, "POST", "/audit/access", None, Some("application/json"), "{}").await;
    a.assert_error(401, "no bearer token");
    assert_eq!(a.headers[header::WWW_AUTHENTICATE], r#"Bearer realm="wasp""#);
    let a = post(&s.app, "/audit/access", "guessed", json!({})).await;
    a.assert_error(401, "not one of the configured tokens");
    assert!(a.headers[header::WWW_AUTHENTICATE].to_str().unwrap().contains("invalid_token"));
    let a = call(&s.app, "GET", "/metrics", None, None, "").await;
    a.assert_error(401, "bearer");
    let a = call(&s.app, "GET", "/audit/access?_queryFilter=true", Some("nope"), None, "").await;
    a.assert_error(401, "configured tokens");
    let mut request = Request::builder().method("POST").uri("/audit/access").header(header::AUTHORIZATION, format!("Basic {ADMIN}"));
    request = request.header(header::CONTENT_TYPE, "application/json");
    let response = s.app.clone().oneshot(request.body(Body::from("{}")).unwrap()).await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(s.state.service.backlog().streams[0].head, 0, "nothing was published");
}

#[tokio::test]
async fn a_tenant_token_publishes_for_its_tenant_only_and_may_not_act() {
    let s = setup();
    let a = post(&s.app, "/audit/access", ACME, json!({"_id": "t1"})).await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text());
    assert_eq!(a.json()["tenant"], "acme");
    let a = post(&s.app, "/audit/access?tenant=acme", ACME, json!({"_id": "t2"})).await;
    assert_eq!(a.status, StatusCode::CREATED);
    post(&s.app, "/audit/access?tenant=globex", ACME, json!({}))
        .await
        .assert_error(403, "tenant `acme` may not publish for tenant `globex`");
    call(&s.app, "POST", "/audit/access?_action=rotate&handler=json", Some(ACME), None, "").await.assert_error(403, "admin token");
    call(&s.app, "POST", "/audit/access?_action=flush", Some(APP), None, "").await.assert_error(403, "admin token");
    call(&s.app, "GET", "/metrics", Some(ACME), None, "").await.assert_error(403, "admin token");
    post(&s.app, "/audit/access?tenant=acme", APP, json!({})).await.assert_error(403, "top-level token may not publish for tenant `acme`");
    // The admin may publish for any tenant.
    let a = post(&s.app, "/audit/access?tenant=globex", ADMIN, json!({})).await;
    assert_eq!(a.json()["tenant"], "globex");
    let summary = s.state.service.summary();
    let published: Vec<(String, u64)> = summary.tenants.iter().map(|t| (t.name.clone(), t.published)).collect();
    assert_eq!(published, [("acme".to_owned(), 2), ("globex".to_owned(), 1)]);
    assert_eq!(s.state.service.backlog().streams[0].head, 0, "no top-level event");
}

/// The ids of a query's answer.
fn ids(answer: &Answer) -> Vec<String> {
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    answer.json()["result"].as_array().unwrap().iter().map(|e| e["_id"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test]
async fn a_tenant_token_queries_its_own_tenants_events_and_no_one_elses() {
    const GLOBEX: &str = "globex-secret";
    let mut doc = document(json_handler(), json!({}));
    let tenant = json!({
        "handlerForQueries": "files",
        "eventHandlers": [{"class": "JsonAuditEventHandler", "config": {
            "name": "files", "logDirectory": "logs", "topics": ["access"], "buffering": {"writeInterval": "20 ms"}
        }}]
    });
    doc["tenants"] = json!({"acme": tenant, "globex": tenant, "initech": {}});
    doc["wasp"]["sidecar"]["tokens"].as_array_mut().unwrap().push(json!({"tenant": "globex", "hash": hash_token(GLOBEX)}));
    let s = setup_document(doc);
    for (token, id) in [(ACME, "a1"), (GLOBEX, "g1"), (APP, "top1"), (ACME, "a2")] {
        let a = post(&s.app, "/audit/access", token, json!({"_id": id})).await;
        assert_eq!(a.status, StatusCode::CREATED, "{}", a.text());
    }
    let a = call(&s.app, "POST", "/audit/access?_action=flush", Some(ADMIN), None, "").await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text());
    // Each tenant's records are under its own output root.
    let acme_log = std::fs::read_to_string(s.dir.path().join("wasp-data/tenants/acme/logs/access.audit.json")).unwrap();
    assert_eq!(acme_log.lines().count(), 2, "{acme_log}");

    let get = |uri: &'static str, token: &'static str| call(&s.app, "GET", uri, Some(token), None, "");
    assert_eq!(ids(&get("/audit/access?_queryFilter=true", ACME).await), ["a1", "a2"]);
    assert_eq!(ids(&get("/audit/access?_queryFilter=true&tenant=acme", ACME).await), ["a1", "a2"]);
    assert_eq!(ids(&get("/audit/access?_queryFilter=true", GLOBEX).await), ["g1"]);
    assert_eq!(ids(&get("/audit/access?_queryFilter=true", APP).await), ["top1"], "top-level queries see no tenant's events");
    let a = get("/audit/access/a1", ACME).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text());
    assert_eq!(a.json()["_id"], "a1");
    get("/audit/access/g1", ACME).await.assert_error(404, "no event with _id `g1`");
    get("/audit/access/a1", APP).await.assert_error(404, "no event with _id `a1`");

    // Naming another tenant is refused, for queries and reads alike.
    get("/audit/access?_queryFilter=true&tenant=globex", ACME)
        .await
        .assert_error(403, "a token of tenant `acme` may not query the events of tenant `globex`");
    get("/audit/access/g1?tenant=globex", ACME).await.assert_error(403, "may not query the events of tenant `globex`");
    get("/audit/access?_queryFilter=true&tenant=acme", APP)
        .await
        .assert_error(403, "a top-level token may not query the events of tenant `acme`");

    // The admin may query any tenant's events.
    assert_eq!(ids(&get("/audit/access?_queryFilter=true&tenant=globex", ADMIN).await), ["g1"]);
    assert_eq!(get("/audit/access/a2?tenant=acme", ADMIN).await.json()["_id"], "a2");
    get("/audit/access?_queryFilter=true&tenant=nosuch", ADMIN).await.assert_error(400, "no tenant `nosuch`");
    get("/audit/access?_queryFilter=true&tenant=initech", ADMIN).await.assert_error(501, "set `tenants.initech.handlerForQueries`");
}

#[tokio::test]
async fn bad_events_get_400_naming_what_was_wrong() {
    let s = setup();
    call(&s.app, "POST", "/audit/access", Some(APP), Some("application/json"), "{\"userId\": ").await.assert_error(400, "not valid JSON");
    post(&s.app, "/audit/access", APP, json!([1, 2])).await.assert_error(400, "must be a JSON object, found an array");
    post(&s.app, "/audit/access", APP, json!({"_id": 7})).await.assert_error(400, "`_id` must be a string");
    post(&s.app, "/audit/nosuch", APP, json!({})).await.assert_error(400, "unknown topic `nosuch` (known topics: ");
    call(&s.app, "POST", "/audit/access", Some(APP), Some("text/csv"), "a,b").await.assert_error(415, "Content-Type `text/csv`");
    call(&s.app, "POST", "/audit/access?_action=explode", Some(ADMIN), None, "").await.assert_error(400, "_action: `explode`");
    call(&s.app, "POST", "/audit/access", Some(APP), None, vec![0xff, 0xfe]).await.assert_error(400, "not UTF-8");
}

#[tokio::test]
async fn unknown_routes_and_methods_get_crest_errors() {
    let s = setup();
    call(&s.app, "GET", "/nowhere", Some(ADMIN), None, "").await.assert_error(404, "no route for `GET /nowhere`");
    call(&s.app, "POST", "/audit", Some(ADMIN), None, "").await.assert_error(404, "routes: POST /audit/{topic}");
    call(&s.app, "DELETE", "/audit/access", Some(ADMIN), None, "").await.assert_error(405, "method `DELETE`");
}

#[tokio::test]
async fn bodies_and_batches_over_their_limits_get_413_and_publish_nothing() {
    let s = setup_with(json_handler(), json!({"sidecar": {"adminToken": hash_token(ADMIN), "maxBodyBytes": 200, "maxBatchEvents": 3}}));
    let big = json!({"userId": "x".repeat(300)}).to_string();
    call(&s.app, "POST", "/audit/access", Some(ADMIN), None, big.clone()).await.assert_error(413, "maxBodyBytes (200 bytes)");
    // A declared Content-Length over the limit is refused before reading
    // (the request above has none: the limit held as the body was read).
    let request = Request::builder()
        .method("POST")
        .uri("/audit/access")
        .header(header::AUTHORIZATION, format!("Bearer {ADMIN}"))
        .header(header::CONTENT_LENGTH, "100000")
        .body(Body::from("{}"))
        .unwrap();
    assert_eq!(s.app.clone().oneshot(request).await.unwrap().status(), StatusCode::PAYLOAD_TOO_LARGE);
    let four = "{}\n{}\n{}\n{}\n";
    ndjson(&s.app, "/audit/access", ADMIN, four).await.assert_error(413, "4 events, more than maxBatchEvents (3): nothing was published");
    assert_eq!(s.state.service.backlog().streams[0].head, 0);
    let a = ndjson(&s.app, "/audit/access", ADMIN, "{}\n{}\n\n{}\n").await;
    assert_eq!(a.status, StatusCode::OK, "three events (a blank line is not one): {}", a.text());
}

#[tokio::test]
async fn an_ndjson_batch_reports_each_line() {
    let s = setup();
    let body = "{\"_id\":\"b1\"}\nnot json\n\n{\"_id\":\"b2\"}\n[1]\n";
    let a = ndjson(&s.app, "/audit/access", APP, body).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text());
    let r = a.json();
    assert_eq!((r["accepted"].as_u64(), r["rejected"].as_u64()), (Some(2), Some(2)), "{r}");
    let results = r["results"].as_array().unwrap();
    let lines: Vec<(u64, u64)> = results.iter().map(|x| (x["line"].as_u64().unwrap(), x["status"].as_u64().unwrap())).collect();
    assert_eq!(lines, [(1, 201), (2, 400), (4, 201), (5, 400)]);
    assert_eq!(results[0]["_id"], "b1");
    assert_eq!(results[2]["sequence"], 2);
    assert_eq!(results[1]["error"]["code"], 400);
    assert!(results[1]["error"]["message"].as_str().unwrap().contains("not valid JSON"), "{r}");
    assert!(results[3]["error"]["message"].as_str().unwrap().contains("found an array"), "{r}");
    // `_action=batch` takes NDJSON whatever the Content-Type; a tenant's
    // batch is published for it.
    let a = call(&s.app, "POST", "/audit/access?_action=batch", Some(ACME), Some("text/plain"), "{}\n{}").await;
    assert_eq!(a.json()["accepted"], 2, "{}", a.text());
    assert_eq!(s.state.service.summary().tenants[0].published, 2);
    ndjson(&s.app, "/audit/access", APP, "\n\n").await.assert_error(400, "holds no event");
}

#[tokio::test]
async fn a_full_journal_answers_503_with_retry_after() {
    // One event fills the journal: the JSON handler holds it (unacknowledged)
    // while it waits `writeInterval` for its batch to fill.
    let handler = json!({"name": "json", "logDirectory": "logs", "topics": ["access"], "buffering": {"writeInterval": "2 seconds"}});
    let s = setup_with(handler, json!({"journal": {"durability": "memory", "maxEvents": 1, "overflow": "reject"}}));
    let mut accepted = 0;
    let refused = loop {
        let a = post(&s.app, "/audit/access", APP, json!({})).await;
        if a.status != StatusCode::CREATED {
            break a;
        }
        accepted += 1;
        assert!(accepted < 1000, "the bound was never reached");
    };
    refused.assert_error(503, "the journal is full");
    assert_eq!(refused.headers[header::RETRY_AFTER], "1");
    // In a batch: per line, and the response says when to retry.
    let a = ndjson(&s.app, "/audit/access", APP, "{}\n{}\n").await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.json()["results"][1]["status"], 503, "{}", a.text());
    assert_eq!(a.headers[header::RETRY_AFTER], "1");
    let metrics = call(&s.app, "GET", "/metrics", Some(ADMIN), None, "").await.text();
    assert!(metrics.contains(r#"wasp_events_rejected_total{topic="access",tenant="",reason="overloaded"}"#), "{metrics}");
}

#[tokio::test]
async fn queries_and_reads_go_to_the_query_handler() {
    let s = setup();
    for n in 0..3 {
        post(&s.app, "/audit/access", APP, json!({"_id": format!("q{n}"), "userId": if n == 1 { "scarter" } else { "bjensen" }})).await;
    }
    call(&s.app, "POST", "/audit/access?_action=flush&handler=json", Some(ADMIN), None, "").await;
    let a = call(&s.app, "GET", "/audit/access?_queryFilter=userId%20eq%20%22bjensen%22&_pageSize=1", Some(APP), None, "").await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text());
    let page = a.json();
    assert_eq!(page["resultCount"], 1);
    assert_eq!(page["result"][0]["_id"], "q0");
    assert_eq!(page["totalPagedResults"], 2);
    let cookie = page["pagedResultsCookie"].as_str().unwrap().to_owned();
    let next = call(
        &s.app,
        "GET",
        &format!("/audit/access?_queryFilter=userId%20eq%20%22bjensen%22&_pageSize=1&_pagedResultsCookie={cookie}"),
        Some(ADMIN),
        None,
        "",
    )
    .await;
    assert_eq!(next.json()["result"][0]["_id"], "q2", "{}", next.text());
    let a = call(&s.app, "GET", "/audit/access/q1", Some(APP), None, "").await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.json()["userId"], "scarter");
    call(&s.app, "GET", "/audit/access/nope", Some(APP), None, "").await.assert_error(404, "no event with _id `nope`");
    call(&s.app, "GET", "/audit/access", Some(APP), None, "").await.assert_error(400, "_queryFilter: required");
    call(&s.app, "GET", "/audit/access?_queryFilter=userId%20xx%201", Some(APP), None, "").await.assert_error(400, "_queryFilter: at");
    call(&s.app, "GET", "/audit/access?_queryFilter=true&_pageSize=-1", Some(APP), None, "").await.assert_error(400, "_pageSize");
    call(&s.app, "GET", "/audit/activity?_queryFilter=true", Some(APP), None, "")
        .await
        .assert_error(404, "does not receive topic `activity`");
}

#[tokio::test]
async fn admin_actions_rotate_and_flush_handlers() {
    let s = setup();
    post(&s.app, "/audit/access", APP, json!({"_id": "r1"})).await;
    let a = call(&s.app, "POST", "/audit/access?_action=flush&handler=json", Some(ADMIN), None, "").await;
    assert_eq!(a.json(), json!({"action": "flush", "handler": "json"}));
    let a = call(&s.app, "POST", "/audit/access?_action=rotate&handler=json", Some(ADMIN), None, "").await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text());
    let rotated = a.json()["rotated"].as_array().unwrap().clone();
    assert_eq!(rotated.len(), 2, "one file per topic: {rotated:?}");
    assert!(rotated[0].as_str().unwrap().contains("access.audit.json-"), "{rotated:?}");
    call(&s.app, "POST", "/audit/access?_action=rotate", Some(ADMIN), None, "").await.assert_error(400, "needs `handler=NAME`");
    call(&s.app, "POST", "/audit/access?_action=rotate&handler=nope", Some(ADMIN), None, "")
        .await
        .assert_error(404, "no running handler `nope`");
    call(&s.app, "POST", "/audit/access?_action=flush&handler=nope", Some(ADMIN), None, "").await.assert_error(404, "handlers: json");
}

#[tokio::test]
async fn a_flush_that_takes_longer_than_flush_timeout_answers_504() {
    // The handler holds its batch for 5 s (writeInterval); flush gives up
    // after 100 ms, and the event is still delivered afterwards.
    let mut slow = json_handler();
    slow["buffering"] = json!({"writeInterval": "5 seconds"});
    let s = setup_with(slow, json!({"sidecar": {"flushTimeout": "100 ms"}}));
    post(&s.app, "/audit/access", APP, json!({"_id": "slow"})).await;
    call(&s.app, "POST", "/audit/access?_action=flush&handler=json", Some(ADMIN), None, "")
        .await
        .assert_error(504, "handler `json` did not deliver everything within flushTimeout (100ms)");
    let service = s.state.service.clone();
    tokio::task::spawn_blocking(move || service.flush()).await.unwrap();
    assert_eq!(s.state.service.summary().handler("json").unwrap().delivered, 1);
}

#[tokio::test]
async fn health_lists_the_handlers_a_token_may_see() {
    let s = setup();
    let a = call(&s.app, "GET", "/health", None, None, "").await;
    assert_eq!((a.status, a.json()), (StatusCode::OK, json!({"status": "ready"})));
    let a = call(&s.app, "GET", "/health", Some(ADMIN), None, "").await;
    assert_eq!(a.json(), json!({"status": "ready", "handlers": [{"name": "json", "state": "running"}]}));
    let a = call(&s.app, "GET", "/health", Some(ACME), None, "").await;
    assert_eq!(a.json(), json!({"status": "ready", "handlers": []}), "no other tenant's handlers");
    let a = call(&s.app, "GET", "/health/live", None, None, "").await;
    assert_eq!((a.status, a.json()), (StatusCode::OK, json!({"status": "alive"})));
}

#[tokio::test]
async fn a_disabled_handler_makes_health_degraded_with_its_reason() {
    let dir = tempfile::tempdir().unwrap();
    // `logs` is a file: the handler's output cannot be opened.
    std::fs::create_dir_all(dir.path().join("wasp-data")).unwrap();
    std::fs::write(dir.path().join("wasp-data/logs"), "").unwrap();
    let config = Config::from_json(&document(json_handler(), json!({})).to_string(), dir.path(), "<test>").unwrap();
    let service = Arc::new(AuditService::new(config.clone()).unwrap());
    let state = AppState::new(service, Arc::new(config.clone()), config.sidecar.clone()).unwrap();
    let a = call(&app(state), "GET", "/health", Some(ADMIN), None, "").await;
    assert_eq!(a.status, StatusCode::OK, "still accepting");
    let body = a.json();
    assert_eq!(body["status"], "degraded");
    assert_eq!(body["handlers"][0]["state"], "disabled");
    assert!(!body["handlers"][0]["disabledReason"].as_str().unwrap().is_empty(), "{body}");
}

#[tokio::test]
async fn metrics_expose_the_named_series() {
    let s = setup();
    post(&s.app, "/audit/access", APP, json!({})).await;
    post(&s.app, "/audit/access", ACME, json!({})).await;
    post(&s.app, "/audit/access", APP, json!([])).await;
    post(&s.app, "/audit/unheard-of", APP, json!({})).await;
    call(&s.app, "POST", "/audit/access?_action=flush", Some(ADMIN), None, "").await;
    let a = call(&s.app, "GET", "/metrics", Some(ADMIN), None, "").await;
    assert_eq!(a.status, StatusCode::OK);
    assert!(a.headers[header::CONTENT_TYPE].to_str().unwrap().starts_with("text/plain; version=0.0.4"));
    let text = a.text();
    for series in [
        r#"wasp_events_accepted_total{topic="access",tenant=""} 1"#,
        r#"wasp_events_accepted_total{topic="access",tenant="acme"} 1"#,
        r#"wasp_events_rejected_total{topic="access",tenant="",reason="invalid"} 1"#,
        r#"wasp_events_rejected_total{topic="_unknown",tenant="",reason="unknown-topic"} 1"#,
        r#"wasp_publish_latency_seconds_bucket{le="+Inf"} 4"#,
        "wasp_publish_latency_seconds_count 4",
        "wasp_publish_latency_seconds_sum ",
        r#"wasp_handler_delivered_total{handler="json",tenant=""} 1"#,
        r#"wasp_handler_dead_lettered_total{handler="json",tenant=""} 0"#,
        r#"wasp_output_records_sent_total{handler="json",tenant="",output="access",type="file"} 1"#,
        r#"wasp_output_records_acknowledged_total{handler="json",tenant="",output="access",type="file"} 1"#,
        r#"wasp_output_retries_total{handler="json",tenant="",output="access",type="file"} 0"#,
        r#"wasp_output_records_rejected_total{handler="json",tenant="",output="authentication",type="file"} 0"#,
        r#"wasp_handler_lag_events{handler="json"} 0"#,
        r#"wasp_handler_output_down{handler="json",tenant=""} 0"#,
        "wasp_journal_storage_failing 0",
        r#"wasp_handler_state{handler="json",tenant="",state="running"} 1"#,
        r#"wasp_handler_state{handler="json",tenant="",state="quarantined"} 0"#,
        r#"wasp_handler_fuel_used_total{handler="json",tenant=""} 0"#,
        "# TYPE wasp_handler_faults_total counter",
        r#"wasp_journal_events{tenant=""} 0"#,
        r#"wasp_journal_events{tenant="acme"} 0"#,
        r#"wasp_journal_bytes{tenant=""} 0"#,
        r#"wasp_journal_head_sequence{tenant=""} 1"#,
        r#"wasp_tenant_over_quota_total{tenant="acme"} 0"#,
    ] {
        assert!(text.contains(series), "`{series}` missing from:\n{text}");
    }
}

#[test]
fn without_tokens_the_sidecar_refuses_to_start_unless_auth_is_none() {
    let dir = tempfile::tempdir().unwrap();
    let doc = |sidecar: Value| document(json_handler(), json!({"sidecar": sidecar})).to_string();
    let config = Config::from_json(&doc(json!({"auth": "tokens"})), dir.path(), "<test>").unwrap();
    let err = config.sidecar.check_startable().unwrap_err();
    assert!(err.to_string().contains("no token is configured"), "{err}");
    assert!(err.to_string().contains("\"auth\": \"none\""), "{err}");
    let config = Config::from_json(&doc(json!({"auth": "none"})), dir.path(), "<test>").unwrap();
    assert!(config.sidecar.check_startable().is_ok());
    let config = Config::from_json(&doc(json!({"auth": "tokens"})), dir.path(), "<test>").unwrap();
    let service = Arc::new(AuditService::new(config.clone()).unwrap());
    assert!(matches!(AppState::new(service, Arc::new(config.clone()), config.sidecar.clone()), Err(SidecarError::NoTokens)));
}

#[tokio::test]
async fn with_auth_none_every_caller_is_the_admin() {
    let s = setup_with(json_handler(), json!({"sidecar": {"auth": "none"}}));
    assert_eq!(call(&s.app, "GET", "/metrics", None, None, "").await.status, StatusCode::OK);
    assert_eq!(post(&s.app, "/audit/access?tenant=acme", "anything", json!({})).await.status, StatusCode::CREATED);
}

#[test]
fn the_sidecar_section_is_validated_naming_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let check = |sidecar: Value| {
        let mut doc = document(json_handler(), json!({}));
        doc["wasp"]["sidecar"] = sidecar;
        Config::from_json(&doc.to_string(), dir.path(), "<test>").map(|c| c.sidecar).map_err(|e| e.to_string())
    };
    let defaults = check(json!({})).unwrap();
    assert_eq!(defaults.listen, "127.0.0.1:8080");
    assert_eq!((defaults.max_body_bytes, defaults.max_batch_events), (10 << 20, 10_000));
    assert_eq!(defaults.shutdown_deadline, std::time::Duration::from_secs(30));
    let set =
        check(json!({"listen": "0.0.0.0:9000", "maxBodyBytes": "1 MiB", "maxBatchEvents": 5, "shutdownDeadline": "2 seconds"})).unwrap();
    assert_eq!((set.listen.as_str(), set.max_body_bytes, set.max_batch_events), ("0.0.0.0:9000", 1 << 20, 5));
    let err = check(json!({"adminToken": ADMIN})).unwrap_err();
    assert!(err.contains("wasp.sidecar.adminToken") && err.contains("`admin-se…` is not a token hash"), "{err}");
    assert!(!err.contains(ADMIN), "the token is not echoed: {err}");
    let err = check(json!({"tokens": [{"tenant": "initech", "hash": hash_token("x")}]})).unwrap_err();
    assert!(err.contains("wasp.sidecar.tokens[0].tenant") && err.contains("unknown tenant `initech` (tenants: acme, globex)"), "{err}");
    let err = check(json!({"adminToken": hash_token("x"), "tokens": [{"hash": hash_token("x")}]})).unwrap_err();
    assert!(err.contains("tokens[0].hash") && err.contains("twice"), "{err}");
    let err = check(json!({"auth": "none", "adminToken": hash_token("x")})).unwrap_err();
    assert!(err.contains("wasp.sidecar.auth"), "{err}");
    let err = check(json!({"listen": "8080"})).unwrap_err();
    assert!(err.contains("wasp.sidecar.listen"), "{err}");
    let err = check(json!({"maxBatchEvents": 0})).unwrap_err();
    assert!(err.contains("wasp.sidecar.maxBatchEvents: must be greater than 0"), "{err}");
    let err = check(json!({"port": 1})).unwrap_err();
    assert!(err.contains("port"), "{err}");
}

#[test]
fn token_hashes_are_sha256_hex() {
    assert_eq!(hash_token("abc"), "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    assert_eq!(TokenHash::parse(&hash_token("abc")).unwrap(), TokenHash::of("abc"));
    assert!(TokenHash::parse("sha256:abcd").is_err());
    let pasted = TokenHash::parse("secret-token-value").unwrap_err();
    assert_eq!(
        pasted.to_string(),
        "`secret-t…` is not a token hash: expected `sha256:` followed by 64 hex digits (`wasp sidecar hash-token` prints it)",
        "at most 8 characters of what may be a token"
    );
    let token = generate_token().unwrap();
    assert!(token.len() >= 43 && token != generate_token().unwrap());
}

#[tokio::test]
async fn serve_shuts_down_gracefully_and_drains_the_handlers() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let s = setup();
    let listener = bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve(listener, s.state.clone(), async move {
        let _ = stopped.await;
    }));
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let body = "{\"_id\":\"s1\"}";
    let request = format!(
        "POST /audit/access HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {APP}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    assert!(response.starts_with("HTTP/1.1 201"), "{response}");
    stop.send(()).unwrap();
    let drained = server.await.unwrap().unwrap();
    assert!(drained.requests_finished);
    let summary = drained.summary.expect("drained within the deadline");
    assert_eq!(summary.handler("json").unwrap().delivered, 1);
    assert!(s.state.is_draining());
    let a = call(&s.app, "GET", "/health", None, None, "").await;
    assert_eq!((a.status, a.json()), (StatusCode::SERVICE_UNAVAILABLE, json!({"status": "draining"})));
    post(&s.app, "/audit/access", APP, json!({})).await.assert_error(503, "shutting down");
    assert!(tokio::net::TcpStream::connect(address).await.is_err(), "no longer listening");
}

/// The console's routes: the page needs no token; its API answers by role,
/// and the live tail sends a tenant only its own events.
#[tokio::test]
async fn the_console_api_enforces_roles_and_tenants() {
    use http_body_util::BodyExt as _;
    let mut doc = document(json_handler(), json!({}));
    doc["tenants"]["acme"] =
        json!({"handlerForQueries": "json", "eventHandlers": [{"class": "JsonAuditEventHandler", "config": json_handler()}]});
    let s = setup_document(doc);
    let page = call(&s.app, "GET", "/console", None, None, Body::empty()).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap().contains("script-src 'self'"));
    let session = call(&s.app, "GET", "/console/api/session", Some(ACME), None, Body::empty()).await.json();
    let unsigned = json!({"formats": [], "reason": "handler `acme/json` keeps no tamper-evident log: set its `security` (exports are signed with its key)"});
    assert_eq!(
        session,
        json!({"role": "tenant", "tenant": "acme", "scopes": {"acme": {"access": ["acme/json"], "authentication": ["acme/json"]}},
               "exports": {"acme": {"access": unsigned, "authentication": unsigned}}})
    );
    let names = |answer: Answer| {
        answer.json()["handlers"].as_array().unwrap().iter().map(|h| h["name"].as_str().unwrap().to_owned()).collect::<Vec<_>>()
    };
    assert_eq!(names(call(&s.app, "GET", "/console/api/handlers", Some(ACME), None, Body::empty()).await), ["acme/json"]);
    assert_eq!(names(call(&s.app, "GET", "/console/api/handlers", Some(APP), None, Body::empty()).await), ["json"]);
    assert_eq!(names(call(&s.app, "GET", "/console/api/handlers", Some(ADMIN), None, Body::empty()).await), ["json", "acme/json"]);
    for (method, uri) in [
        ("GET", "/console/api/dead-letters?handler=json"),
        ("POST", "/console/api/replay?handler=json"),
        ("POST", "/console/api/verify?handler=json"),
    ] {
        for token in [ACME, APP] {
            call(&s.app, method, uri, Some(token), None, Body::empty()).await.assert_error(403, "needs the admin token");
        }
    }
    call(&s.app, "GET", "/console/api/dead-letters?handler=nope", Some(ADMIN), None, Body::empty())
        .await
        .assert_error(404, "no handler `nope`");
    let letters = call(&s.app, "GET", "/console/api/dead-letters?handler=json", Some(ADMIN), None, Body::empty()).await.json();
    assert_eq!(letters["total"], 0);
    call(&s.app, "POST", "/console/api/verify?handler=json", Some(ADMIN), None, Body::empty())
        .await
        .assert_error(400, "keeps no tamper-evident log");
    call(&s.app, "GET", "/console/api/tail", Some("wrong"), None, Body::empty())
        .await
        .assert_error(401, "not one of the configured tokens");

    // The tail: acme's listener gets acme's event, not the top level's.
    let request =
        Request::builder().uri("/console/api/tail").header(header::AUTHORIZATION, format!("Bearer {ACME}")).body(Body::empty()).unwrap();
    let response = s.app.clone().oneshot(request).await.unwrap();
    assert_eq!(response.headers()[header::CONTENT_TYPE], "text/event-stream");
    let mut body = response.into_body();
    assert_eq!(post(&s.app, "/audit/access", APP, json!({"_id": "top"})).await.status, StatusCode::CREATED);
    assert_eq!(post(&s.app, "/audit/access", ACME, json!({"_id": "mine"})).await.status, StatusCode::CREATED);
    let frame = tokio::time::timeout(std::time::Duration::from_secs(10), body.frame()).await.unwrap().unwrap().unwrap();
    let text = String::from_utf8(frame.into_data().unwrap().to_vec()).unwrap();
    let data: Value = serde_json::from_str(text.strip_prefix("data: ").unwrap().trim()).unwrap();
    assert_eq!(
        (data["_id"].as_str(), data["tenant"].as_str(), data["topic"].as_str()),
        (Some("mine"), Some("acme"), Some("access")),
        "{text}"
    );
    drop(body);
    s.state.service.close();
}
