//! The browser console at `/console` (see `docs/console.md`): one page of
//! plain HTML, CSS and JavaScript, compiled into the binary with
//! `include_str!` (no build step, no CDN), and the JSON routes it needs
//! under `/console/api/`. Events are searched and read through the
//! existing `GET /audit/{topic}` routes, which already confine a tenant
//! token to its tenant; every route here checks the token's role on the
//! server too:
//!
//! | route | who | what |
//! |---|---|---|
//! | `GET /console`, `/console/app.js`, `/console/app.css` | anyone | the page (it holds no data) |
//! | `GET /console/api/session` | any token | the role, the topics and handlers it may see, and per topic the export format (`GET /export/{topic}`) |
//! | `GET /console/api/handlers` | any token | the summaries (state, lag, faults…) of the handlers it may see |
//! | `GET /console/api/dead-letters?handler=H` | admin | a handler's dead letters, newest first |
//! | `GET /console/api/dead-letters/{id}` | admin | one dead letter (`wasp dlq show`) |
//! | `POST /console/api/replay?handler=H` | admin | `wasp dlq replay --handler H` |
//! | `POST /console/api/verify?handler=H` | admin | `wasp verify` of a handler's tamper-evident log (see `verify`) |
//! | `GET /console/api/tail` | any token | server-sent events: the events accepted from now on that the token may see (see `tail`) |

mod tail;
mod verify;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

pub use tail::Tail;

use super::AppState;
use super::auth::{Role, authenticate};
use super::errors::CrestError;
use crate::dead_letter::DeadLetterStore;

const INDEX: &str = include_str!("index.html");
const SCRIPT: &str = include_str!("app.js");
const STYLE: &str = include_str!("app.css");

/// The most dead letters one answer lists (the newest ones).
const MAX_LISTED: usize = 500;

/// The page may run only its own script and style: data rendered by
/// mistake as markup still could not run.
const POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; \
                      base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

type Reply = Result<Response, CrestError>;

/// The console's routes, merged into the sidecar's router.
pub(super) fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/console", get(|| async { asset(INDEX, "text/html; charset=utf-8") }))
        .route("/console/", get(|| async { asset(INDEX, "text/html; charset=utf-8") }))
        .route("/console/app.js", get(|| async { asset(SCRIPT, "text/javascript; charset=utf-8") }))
        .route("/console/app.css", get(|| async { asset(STYLE, "text/css; charset=utf-8") }))
        .route("/console/api/session", get(session))
        .route("/console/api/handlers", get(handlers))
        .route("/console/api/dead-letters", get(dead_letters))
        .route("/console/api/dead-letters/{id}", get(dead_letter))
        .route("/console/api/replay", post(replay))
        .route("/console/api/verify", post(verify::verify))
        .route("/console/api/tail", get(tail::stream))
}

fn asset(body: &'static str, kind: &'static str) -> Response {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(POLICY));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    response
}

fn role(state: &AppState, headers: &HeaderMap) -> Result<Role, CrestError> {
    Ok(authenticate(state.sidecar.auth, &state.sidecar.tokens, headers)?)
}

fn admin(state: &AppState, headers: &HeaderMap, what: &str) -> Result<(), CrestError> {
    let role = role(state, headers)?;
    if role != Role::Admin {
        return Err(CrestError::forbidden(format!("{} may not {what}: it needs the admin token", role.describe())));
    }
    Ok(())
}

/// Whether `role` may see what belongs to `tenant` (`None`: the top level).
pub(super) fn may_see(role: &Role, tenant: Option<&str>) -> bool {
    match role {
        Role::Admin => true,
        Role::TopLevel => tenant.is_none(),
        Role::Tenant(own) => tenant == Some(own.as_str()),
    }
}

/// `GET /console/api/session`: who the token is, and per tenant it may
/// see (`""`: the top level) the topics and the handlers of each topic.
async fn session(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Reply {
    let role = role(&state, &headers)?;
    let config = state.service.config();
    // tenant → topic → handlers receiving it.
    let mut scopes: BTreeMap<String, BTreeMap<String, Vec<String>>> = BTreeMap::new();
    let handlers = config
        .handlers
        .iter()
        .filter(|h| h.enabled)
        .map(|h| (h.tenant.clone(), h.qualified_name(), h.topics.iter().cloned().collect::<Vec<_>>()))
        .chain(config.forgerock_handlers.iter().filter(|h| h.enabled).map(|h| (h.tenant.clone(), h.qualified_name(), h.topics.clone())));
    for (tenant, name, topics) in handlers {
        if !may_see(&role, tenant.as_deref()) {
            continue;
        }
        let scope = scopes.entry(tenant.unwrap_or_default()).or_default();
        for topic in topics {
            scope.entry(topic).or_default().push(name.clone());
        }
    }
    let (kind, tenant) = match &role {
        Role::Admin => ("admin", None),
        Role::TopLevel => ("top-level", None),
        Role::Tenant(t) => ("tenant", Some(t.clone())),
    };
    // Per scope and topic: the format the Export button downloads, or why
    // there is none (reads the key files' first bytes: off the runtime).
    let wanted: Vec<(String, String)> =
        scopes.iter().flat_map(|(scope, topics)| topics.keys().map(|t| (scope.clone(), t.clone()))).collect();
    let exports = blocking(move || {
        let mut exports: BTreeMap<String, BTreeMap<String, Value>> = BTreeMap::new();
        for (scope, topic) in wanted {
            let tenant = Some(scope.as_str()).filter(|s| !s.is_empty());
            let entry = match crate::export::handler_format(&config, tenant, &topic) {
                Ok(format) => json!({"formats": [format.name()]}),
                Err(e) => json!({"formats": [], "reason": e.to_string()}),
            };
            exports.entry(scope).or_default().insert(topic, entry);
        }
        exports
    })
    .await?;
    Ok(Json(json!({"role": kind, "tenant": tenant, "scopes": scopes, "exports": exports})).into_response())
}

/// `GET /console/api/handlers`: every handler the token may see, with its
/// lag (events of its stream it has not acknowledged yet).
async fn handlers(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Reply {
    let role = role(&state, &headers)?;
    let summary = state.service.summary();
    let lags: HashMap<String, u64> = state.service.backlog().handlers.into_iter().map(|h| (h.name, h.lag)).collect();
    let handlers: Vec<Value> = summary
        .handlers
        .iter()
        .filter(|h| may_see(&role, h.tenant.as_deref()))
        .map(|h| {
            let mut entry = serde_json::to_value(h).unwrap_or_default();
            entry["lag"] = json!(lags.get(&h.name));
            entry
        })
        .collect();
    Ok(Json(json!({"handlers": handlers, "admin": role == Role::Admin})).into_response())
}

type Params = Query<HashMap<String, String>>;

/// The `handler` parameter, which must name a configured handler.
fn handler_param(state: &AppState, params: &HashMap<String, String>) -> Result<String, CrestError> {
    let name = params
        .get("handler")
        .filter(|h| !h.is_empty())
        .ok_or_else(|| CrestError::bad_request("handler: required (`name`, or `tenant/name`)"))?;
    let config = state.service.config();
    let known: Vec<String> =
        config.handlers.iter().map(|h| h.qualified_name()).chain(config.forgerock_handlers.iter().map(|h| h.qualified_name())).collect();
    if !known.contains(name) {
        return Err(CrestError::not_found(format!("no handler `{name}` (handlers: {})", known.join(", "))));
    }
    Ok(name.clone())
}

async fn blocking<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Result<T, CrestError> {
    tokio::task::spawn_blocking(work).await.map_err(|e| CrestError::internal(format!("the request's work failed: {e}")))
}

/// `GET /console/api/dead-letters?handler=H`: the newest dead letters of
/// a handler (at most [`MAX_LISTED`]) and how many there are.
async fn dead_letters(State(state): State<Arc<AppState>>, headers: HeaderMap, Query(params): Params) -> Reply {
    admin(&state, &headers, "read dead letters")?;
    let handler = handler_param(&state, &params)?;
    let store = DeadLetterStore::new(&state.service.config().data_dir);
    let h = handler.clone();
    let mut letters = blocking(move || store.list(Some(&h))).await?.map_err(|e| CrestError::internal(e.to_string()))?;
    let total = letters.len();
    letters.reverse();
    letters.truncate(MAX_LISTED);
    Ok(Json(json!({"handler": handler, "total": total, "deadLetters": letters})).into_response())
}

/// `GET /console/api/dead-letters/{id}`: one dead letter.
async fn dead_letter(State(state): State<Arc<AppState>>, headers: HeaderMap, Path(id): Path<String>) -> Reply {
    admin(&state, &headers, "read dead letters")?;
    let store = DeadLetterStore::new(&state.service.config().data_dir);
    let letter = blocking(move || store.get(&id)).await?.map_err(|e| CrestError::not_found(e.to_string()))?;
    Ok(Json(letter).into_response())
}

/// `POST /console/api/replay?handler=H`: the same as `wasp dlq replay
/// --handler H` (with the handler's live version).
async fn replay(State(state): State<Arc<AppState>>, headers: HeaderMap, Query(params): Params) -> Reply {
    admin(&state, &headers, "replay dead letters")?;
    let handler = handler_param(&state, &params)?;
    let config = state.service.config();
    let report = blocking(move || crate::replay(&config, &handler, None)).await?.map_err(|e| match e {
        crate::replay::ReplayError::UnknownHandler { .. } => CrestError::not_found(e.to_string()),
        e => CrestError::internal(e.to_string()),
    })?;
    Ok(Json(report).into_response())
}
