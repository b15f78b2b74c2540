//! The route handlers. Each authenticates first (before reading a body),
//! then checks what the caller's role may do, then does it; every error is
//! a [`CrestError`].

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::AppState;
use super::auth::{Role, authenticate};
use super::errors::CrestError;
use crate::delivery::HandlerState;
use crate::event::PublishError;
use crate::query::QueryRequest;
use crate::service::Receipt;

pub(super) type Params = Result<Query<HashMap<String, String>>, QueryRejection>;
pub(super) type Reply = Result<Response, CrestError>;

pub(super) fn role(state: &AppState, headers: &HeaderMap) -> Result<Role, CrestError> {
    Ok(authenticate(state.sidecar.auth, &state.sidecar.tokens, headers)?)
}

pub(super) fn params(params: Params) -> Result<HashMap<String, String>, CrestError> {
    params.map(|Query(p)| p).map_err(|e| CrestError::bad_request(format!("the query string: {}", e.body_text())))
}

pub(super) fn path<T>(path: Result<Path<T>, PathRejection>) -> Result<T, CrestError> {
    path.map(|Path(p)| p).map_err(|e| CrestError::bad_request(format!("the path: {}", e.body_text())))
}

/// Runs blocking service work on tokio's blocking pool.
async fn blocking<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Result<T, CrestError> {
    tokio::task::spawn_blocking(work).await.map_err(|e| CrestError::internal(format!("the request's work failed: {e}")))
}

/// The body, at most `maxBodyBytes` (413 past it), arrived within
/// `bodyReadTimeout` (408 past it: a client that declared more than it
/// sends does not hold the connection).
async fn read_body(state: &AppState, headers: &HeaderMap, body: Body) -> Result<Bytes, CrestError> {
    let max = state.sidecar.max_body_bytes;
    let too_large =
        || CrestError::new(StatusCode::PAYLOAD_TOO_LARGE, format!("the request body is larger than maxBodyBytes ({max} bytes)"));
    let declared = headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > max as u64) {
        return Err(too_large());
    }
    let timeout = state.sidecar.body_read_timeout;
    let read = tokio::time::timeout(timeout, axum::body::to_bytes(body, max)).await.map_err(|_| {
        CrestError::new(
            StatusCode::REQUEST_TIMEOUT,
            format!("the request body did not arrive within bodyReadTimeout ({} ms)", timeout.as_millis()),
        )
    })?;
    read.map_err(|e| {
        if std::error::Error::source(&e).is_some_and(|s| s.is::<http_body_util::LengthLimitError>()) {
            too_large()
        } else {
            CrestError::bad_request(format!("the request body could not be read: {e}"))
        }
    })
}

fn utf8(body: &[u8]) -> Result<&str, CrestError> {
    std::str::from_utf8(body).map_err(|e| CrestError::bad_request(format!("the request body is not UTF-8: {e}")))
}

/// Whether the body is an NDJSON batch (`true`) or one JSON event.
fn is_batch(headers: &HeaderMap) -> Result<bool, CrestError> {
    let Some(value) = headers.get(header::CONTENT_TYPE) else {
        return Ok(false);
    };
    let text = value.to_str().unwrap_or_default();
    let media = text.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    match media.as_str() {
        "application/json" | "" => Ok(false),
        "application/x-ndjson" | "application/ndjson" | "application/jsonl" => Ok(true),
        _ => Err(CrestError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!(
                "Content-Type `{text}` is not accepted: send application/json (one event) or application/x-ndjson (a batch, one event per line)"
            ),
        )),
    }
}

/// The tenant whose events a request publishes or queries (`verb`: "publish
/// for", "query the events of"): the token's own; with `?tenant=`, only the
/// admin may name another.
pub(super) fn acting_tenant(role: &Role, params: &HashMap<String, String>, verb: &str) -> Result<Option<String>, CrestError> {
    let asked = params.get("tenant").map(String::as_str).filter(|t| !t.is_empty());
    match (role, asked) {
        (Role::Admin, asked) => Ok(asked.map(str::to_owned)),
        (Role::TopLevel, None) => Ok(None),
        (Role::TopLevel, Some(t)) => Err(CrestError::forbidden(format!("a top-level token may not {verb} tenant `{t}`"))),
        (Role::Tenant(own), None) => Ok(Some(own.clone())),
        (Role::Tenant(own), Some(t)) if t == own => Ok(Some(own.clone())),
        (Role::Tenant(own), Some(t)) => Err(CrestError::forbidden(format!("a token of tenant `{own}` may not {verb} tenant `{t}`"))),
    }
}

fn publish(state: &AppState, tenant: Option<&str>, topic: &str, text: &str) -> Result<Receipt, PublishError> {
    let started = Instant::now();
    let result = match tenant {
        Some(t) => state.service.publish_as(t, topic, text),
        None => state.service.publish(topic, text),
    };
    state.metrics.record(topic, tenant, result.as_ref().map(|_| ()), started.elapsed());
    if let Ok(receipt) = &result {
        state.tail.offer(tenant, receipt, text);
    }
    result
}

/// `_id` as a path segment.
fn encode_segment(text: &str) -> String {
    let mut out = String::new();
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `POST /audit/{topic}`: publish one event or a batch, or run an action.
pub(super) async fn post_topic(
    State(state): State<Arc<AppState>>,
    topic: Result<Path<String>, PathRejection>,
    query: Params,
    headers: HeaderMap,
    body: Body,
) -> Reply {
    let role = role(&state, &headers)?;
    let topic = path(topic)?;
    let params = params(query)?;
    match params.get("_action").map(String::as_str) {
        None | Some("create") => {
            let batch = is_batch(&headers)?;
            let tenant = acting_tenant(&role, &params, "publish for")?;
            let body = read_body(&state, &headers, body).await?;
            if batch { publish_batch(state, tenant, topic, body).await } else { publish_one(&state, tenant.as_deref(), &topic, &body) }
        }
        Some("batch") => {
            let tenant = acting_tenant(&role, &params, "publish for")?;
            let body = read_body(&state, &headers, body).await?;
            publish_batch(state, tenant, topic, body).await
        }
        Some(action @ ("flush" | "rotate")) => {
            if role != Role::Admin {
                return Err(CrestError::forbidden(format!(
                    "{} may not run `_action={action}`: actions need the admin token",
                    role.describe()
                )));
            }
            let handler = params.get("handler").filter(|h| !h.is_empty()).cloned();
            let service = state.service.clone();
            if action == "flush" {
                let flushed = handler.clone();
                let waiting = blocking(move || match &flushed {
                    Some(h) => service.flush_handler(h),
                    None => {
                        service.flush();
                        Ok(())
                    }
                });
                // The handlers keep working after a timeout; only the answer
                // stops waiting.
                match tokio::time::timeout(state.sidecar.flush_timeout, waiting).await {
                    Ok(result) => result??,
                    Err(_) => {
                        return Err(CrestError::new(
                            StatusCode::GATEWAY_TIMEOUT,
                            format!(
                                "flush: {} did not deliver everything within flushTimeout ({}); it is still working (see its lag in /metrics)",
                                handler.as_deref().map_or("the handlers".to_owned(), |h| format!("handler `{h}`")),
                                humantime::format_duration(state.sidecar.flush_timeout)
                            ),
                        ));
                    }
                }
                Ok(Json(json!({"action": "flush", "handler": handler})).into_response())
            } else {
                let handler = handler.ok_or_else(|| {
                    CrestError::bad_request("handler: `_action=rotate` needs `handler=NAME` (`tenant/name` for a tenant's handler)")
                })?;
                let name = handler.clone();
                let rotated = blocking(move || service.rotate(&name)).await??;
                Ok(Json(json!({"action": "rotate", "handler": handler, "rotated": rotated})).into_response())
            }
        }
        Some(other) => Err(CrestError::bad_request(format!(
            "_action: `{other}` is not an action of /audit/{{topic}} (expected create, batch, flush or rotate)"
        ))),
    }
}

fn publish_one(state: &AppState, tenant: Option<&str>, topic: &str, body: &[u8]) -> Reply {
    let text = utf8(body)?;
    match publish(state, tenant, topic, text) {
        Ok(receipt) => {
            let location = format!("/audit/{}/{}", encode_segment(topic), encode_segment(&receipt.id));
            let mut response = (StatusCode::CREATED, Json(receipt_json(&receipt))).into_response();
            if let Ok(value) = HeaderValue::from_str(&location) {
                response.headers_mut().insert(header::LOCATION, value);
            }
            Ok(response)
        }
        Err(e @ PublishError::NotYetDurable { sequence, .. }) => {
            Ok((StatusCode::ACCEPTED, Json(json!({"sequence": sequence, "durable": false, "message": e.to_string()}))).into_response())
        }
        Err(e) => Err(e.into()),
    }
}

fn receipt_json(receipt: &Receipt) -> Value {
    let mut body = json!({"_id": receipt.id, "sequence": receipt.sequence, "topic": receipt.topic});
    if let Some(tenant) = &receipt.tenant {
        body["tenant"] = json!(tenant);
    }
    body
}

/// An NDJSON batch: every non-blank line is one event, published in order;
/// each gets its own result (the batch is not all-or-nothing). More lines
/// than `maxBatchEvents`: 413, nothing published.
async fn publish_batch(state: Arc<AppState>, tenant: Option<String>, topic: String, body: Bytes) -> Reply {
    let events = ndjson_lines(&body).count();
    let max = state.sidecar.max_batch_events;
    if events > max {
        return Err(CrestError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the batch holds {events} events, more than maxBatchEvents ({max}): nothing was published; send smaller batches"),
        ));
    }
    if events == 0 {
        return Err(CrestError::bad_request("the batch holds no event (NDJSON: one JSON event per line)"));
    }
    let (body, retry) = blocking(move || batch_results(&state, tenant.as_deref(), &topic, &body, events)).await?;
    let mut response = ([(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], body).into_response();
    if retry {
        response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(1u32));
    }
    Ok(response)
}

/// The non-blank lines of an NDJSON body with their 1-based numbers (blank
/// lines count), each decoded on its own: one line that is not UTF-8 fails
/// alone. Lines end at `\n`; a `\r` before it is dropped (as `str::lines`).
fn ndjson_lines(body: &[u8]) -> impl Iterator<Item = (usize, Result<&str, std::str::Utf8Error>)> {
    body.split(|b| *b == b'\n')
        .enumerate()
        .map(|(index, line)| (index + 1, std::str::from_utf8(line.strip_suffix(b"\r").unwrap_or(line))))
        .filter(|(_, line)| !matches!(line, Ok(l) if l.trim().is_empty()))
}

/// Publishes each line of an NDJSON batch and writes the answer
/// `{"results": [...], "accepted": n, "rejected": n}` straight into text
/// (one result per line; the hot path of batch ingest allocates little).
/// Returns it, and whether a line was refused with a `Retry-After`.
fn batch_results(state: &AppState, tenant: Option<&str>, topic: &str, body: &[u8], events: usize) -> (String, bool) {
    use std::fmt::Write as _;
    let (mut out, mut accepted, mut rejected, mut retry) = (String::with_capacity(events * 96 + 64), 0u64, 0u64, false);
    let mut reasons: Vec<(&'static str, u64)> = Vec::new();
    let (mut unknown_topic, mut unknown_invalid) = (0u64, 0u64);
    out.push_str("{\"results\":[");
    // Every UTF-8 line is published in one batch (one journal append);
    // the answers are written in line order.
    let lines: Vec<(usize, Result<&str, std::str::Utf8Error>)> = ndjson_lines(body).collect();
    let started = Instant::now();
    let mut published = state.service.publish_batch(tenant, topic, lines.iter().filter_map(|(_, line)| line.ok())).into_iter();
    let utf8 = published.len();
    if utf8 > 0 {
        let each = started.elapsed() / u32::try_from(utf8).unwrap_or(u32::MAX);
        state.metrics.latencies(each, utf8 as u64);
    }
    for (n, line) in lines {
        if accepted + rejected > 0 {
            out.push(',');
        }
        let line = match line {
            Ok(line) => line,
            Err(e) => {
                rejected += 1;
                // Counted as an invalid event of the topic, or under
                // `_unknown` (callers must not grow the series).
                if state.service.has_topic(tenant, topic) {
                    match reasons.iter_mut().find(|(r, _)| *r == "invalid") {
                        Some((_, count)) => *count += 1,
                        None => reasons.push(("invalid", 1)),
                    }
                } else {
                    unknown_invalid += 1;
                }
                let error = CrestError::bad_request(format!("the line is not UTF-8: {e}"));
                let _ = write!(out, "{}", json!({"line": n, "status": 400, "error": error.to_json()}));
                continue;
            }
        };
        let result = published.next().expect("a result per UTF-8 line");
        match result {
            Ok(receipt) => {
                accepted += 1;
                state.tail.offer(tenant, &receipt, line);
                let _ =
                    write!(out, "{{\"line\":{n},\"status\":201,\"_id\":{},\"sequence\":{}}}", Value::String(receipt.id), receipt.sequence);
            }
            Err(e @ PublishError::NotYetDurable { sequence, .. }) => {
                accepted += 1;
                let _ =
                    write!(out, "{}", json!({"line": n, "status": 202, "sequence": sequence, "durable": false, "message": e.to_string()}));
            }
            Err(e) => {
                rejected += 1;
                let reason = super::errors::publish_reason(&e);
                if matches!(e, PublishError::UnknownTopic { .. }) {
                    unknown_topic += 1;
                } else {
                    match reasons.iter_mut().find(|(r, _)| *r == reason) {
                        Some((_, count)) => *count += 1,
                        None => reasons.push((reason, 1)),
                    }
                }
                let error = CrestError::from(e);
                retry |= error.retry_after.is_some();
                let _ = write!(out, "{}", json!({"line": n, "status": error.code.as_u16(), "error": error.to_json()}));
            }
        }
    }
    let _ = write!(out, "],\"accepted\":{accepted},\"rejected\":{rejected}}}");
    state.metrics.count(topic, tenant, accepted, reasons);
    if unknown_topic > 0 {
        state.metrics.count("_unknown", tenant, 0, [("unknown-topic", unknown_topic)]);
    }
    if unknown_invalid > 0 {
        state.metrics.count("_unknown", tenant, 0, [("invalid", unknown_invalid)]);
    }
    (out, retry)
}

/// `GET /audit/{topic}?_queryFilter=…`: a CREST query of the caller's
/// events (a tenant token: its tenant's, through the tenant's
/// `handlerForQueries`).
pub(super) async fn query(
    State(state): State<Arc<AppState>>,
    topic: Result<Path<String>, PathRejection>,
    query: Params,
    headers: HeaderMap,
) -> Reply {
    let role = role(&state, &headers)?;
    let topic = path(topic)?;
    let params = params(query)?;
    let tenant = acting_tenant(&role, &params, "query the events of")?;
    let get = |name: &str| params.get(name).map(String::as_str);
    let filter = get("_queryFilter").ok_or_else(|| {
        CrestError::bad_request(
            "_queryFilter: required to list events (`_queryFilter=true` matches every event; `GET /audit/{topic}/{id}` reads one)",
        )
    })?;
    let request = QueryRequest::from_params(filter, get("_pageSize"), get("_pagedResultsCookie"), get("_sortKeys"))
        .map_err(|e| CrestError::bad_request(e.to_string()))?;
    let config = state.service.config();
    let page = blocking(move || crate::handler_query::query(&config, tenant.as_deref(), &topic, &request)).await??;
    Ok(Json(page.to_json()).into_response())
}

/// `GET /audit/{topic}/{id}`: one of the caller's events.
pub(super) async fn read(
    State(state): State<Arc<AppState>>,
    ids: Result<Path<(String, String)>, PathRejection>,
    query: Params,
    headers: HeaderMap,
) -> Reply {
    let role = role(&state, &headers)?;
    let (topic, id) = path(ids)?;
    let tenant = acting_tenant(&role, &params(query)?, "query the events of")?;
    let config = state.service.config();
    let (t, i) = (topic.clone(), id.clone());
    match blocking(move || crate::handler_query::read(&config, tenant.as_deref(), &t, &i)).await?? {
        Some(event) => Ok(Json(event).into_response()),
        None => Err(CrestError::not_found(format!("topic `{topic}` has no event with _id `{id}`"))),
    }
}

/// `GET /health`: 200 `ready` or `degraded` (a handler quarantined or
/// disabled, or an output down: events are still accepted and kept; or the
/// journal's disk full: new events are refused, `journalError` says why),
/// 503 `draining` once shutdown began. With a token, the handlers it may
/// see are listed.
pub(super) async fn health(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    let summary = state.service.summary();
    let storage = state.service.storage_alarm();
    let degraded = storage.is_some() || summary.handlers.iter().any(|h| h.state != HandlerState::Running || h.output_error.is_some());
    let (code, status) = match (state.is_draining(), degraded) {
        (true, _) => (StatusCode::SERVICE_UNAVAILABLE, "draining"),
        (false, true) => (StatusCode::OK, "degraded"),
        (false, false) => (StatusCode::OK, "ready"),
    };
    let mut body = json!({"status": status});
    if let Some(error) = storage {
        body["journalError"] = json!(error);
    }
    if let Ok(role) = role(&state, &headers) {
        let visible = summary.handlers.iter().filter(|h| match &role {
            Role::Admin => true,
            Role::TopLevel => h.tenant.is_none(),
            Role::Tenant(t) => h.tenant.as_deref() == Some(t.as_str()),
        });
        let handlers: Vec<Value> = visible
            .map(|h| {
                let mut entry = json!({"name": h.name, "state": h.state});
                if let Some(tenant) = &h.tenant {
                    entry["tenant"] = json!(tenant);
                }
                if let Some(reason) = &h.disabled_reason {
                    entry["disabledReason"] = json!(reason);
                }
                if let Some(reason) = &h.reload_error {
                    entry["reloadError"] = json!(reason);
                }
                if let Some(error) = &h.output_error {
                    entry["outputError"] = json!(error);
                }
                entry
            })
            .collect();
        body["handlers"] = Value::Array(handlers);
        if let Some(report) = state.service.last_reload() {
            body["lastReload"] = json!(report);
        }
    }
    (code, Json(body)).into_response()
}

/// `GET /health/live`: 200 while the process serves.
pub(super) async fn live() -> Response {
    Json(json!({"status": "alive"})).into_response()
}

/// `GET /metrics`: Prometheus text, admin only.
pub(super) async fn metrics(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Reply {
    let role = role(&state, &headers)?;
    if role != Role::Admin {
        return Err(CrestError::forbidden(format!("{} may not read /metrics: it needs the admin token", role.describe())));
    }
    let text = state.metrics.render(&state.service);
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], text).into_response())
}

/// Any other path: 404 naming the routes.
pub(super) async fn not_found(method: Method, uri: Uri) -> CrestError {
    CrestError::not_found(format!(
        "no route for `{method} {}` (routes: POST /audit/{{topic}}, GET /audit/{{topic}}?_queryFilter=…, GET /audit/{{topic}}/{{id}}, \
         GET /export/{{topic}}?_queryFilter=…, GET /health, GET /health/live, GET /metrics, POST /admin/deploy, GET /admin/versions, \
         POST /admin/promote, POST /admin/rollback, GET /admin/shadow, GET /console)",
        uri.path()
    ))
}

/// A known path with another method: 405.
pub(super) async fn method_not_allowed(method: Method, uri: Uri) -> CrestError {
    CrestError::new(StatusCode::METHOD_NOT_ALLOWED, format!("method `{method}` is not allowed on `{}`", uri.path()))
}
