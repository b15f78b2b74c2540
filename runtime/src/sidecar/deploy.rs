//! The sidecar's deploy endpoints (admin token only; `docs/deploys.md`):
//!
//! | route | what |
//! |---|---|
//! | `POST /admin/deploy?handler=H[&mode=live\|shadow\|canary][&config=JSON][&percent=10][&field=/userId][&maxFaultRateIncrease=0.05][&maxFuelRatio=2][&minEvents=20]`, body: the `.wasm` | 201, the new version |
//! | `GET /admin/versions?handler=H` | the versions |
//! | `POST /admin/promote?handler=H` | the shadow or canary goes live |
//! | `POST /admin/rollback?handler=H[&version=N]` | back to a version |
//! | `GET /admin/shadow?handler=H` | the shadow's or canary's report |
//!
//! The component may be up to 256 MiB (not `maxBodyBytes`) and has four
//! times `bodyReadTimeout` to arrive. Who deployed is recorded as `admin
//! token` (or `anonymous (auth none)` with `"auth": "none"`).

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::body::Body;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::AppState;
use super::auth::{Role, authenticate};
use super::errors::CrestError;
use crate::config::sidecar::AuthMode;
use crate::deploy::{CanarySettings, DeployError, DeployMode, DeployRequest};

/// Largest component a deploy takes (Python components are tens of MiB).
pub const MAX_COMPONENT_BYTES: usize = 256 << 20;

type Params = Result<Query<HashMap<String, String>>, QueryRejection>;
type Reply = Result<Response, CrestError>;

/// The caller must hold the admin token; returns how the history names it.
fn admin(state: &AppState, headers: &HeaderMap, what: &str) -> Result<String, CrestError> {
    let role = authenticate(state.sidecar.auth, &state.sidecar.tokens, headers)?;
    if role != Role::Admin {
        return Err(CrestError::forbidden(format!("{} may not {what}: it needs the admin token", role.describe())));
    }
    if state.sidecar.auth == AuthMode::None {
        return Ok("anonymous (auth none)".into());
    }
    let name = super::auth::token_name(&state.sidecar.tokens, &state.sidecar.token_names, headers).unwrap_or_else(|| "adminToken".into());
    Ok(format!("token `{name}`"))
}

fn query(params: Params) -> Result<HashMap<String, String>, CrestError> {
    params.map(|Query(p)| p).map_err(|e| CrestError::bad_request(format!("the query string: {}", e.body_text())))
}

fn handler(params: &HashMap<String, String>) -> Result<String, CrestError> {
    params.get("handler").cloned().ok_or_else(|| CrestError::bad_request("`handler` is required (`?handler=NAME`, or `tenant/name`)"))
}

fn error(e: DeployError) -> CrestError {
    let code = match &e {
        DeployError::UnknownHandler { .. } => StatusCode::NOT_FOUND,
        DeployError::Refused { .. } => StatusCode::UNPROCESSABLE_ENTITY,
        DeployError::Invalid { .. } => StatusCode::CONFLICT,
        DeployError::Storage { .. } => StatusCode::INTERNAL_SERVER_ERROR,
        DeployError::NotApplied { .. } => StatusCode::SERVICE_UNAVAILABLE,
    };
    CrestError::new(code, e.to_string())
}

async fn blocking<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Result<T, CrestError> {
    tokio::task::spawn_blocking(work).await.map_err(|e| CrestError::internal(format!("the request's work failed: {e}")))
}

fn number<T: std::str::FromStr>(params: &HashMap<String, String>, name: &str) -> Result<Option<T>, CrestError> {
    params.get(name).map(|v| v.parse::<T>().map_err(|_| CrestError::bad_request(format!("`{name}`: `{v}` is not a number")))).transpose()
}

/// The deploy mode the query string asks for.
fn mode(params: &HashMap<String, String>) -> Result<DeployMode, CrestError> {
    match params.get("mode").map(String::as_str).unwrap_or("live") {
        "live" => Ok(DeployMode::Live),
        "shadow" => Ok(DeployMode::Shadow),
        "canary" => {
            let mut settings = CanarySettings::default();
            if let Some(p) = params.get("percent") {
                settings.percent = CanarySettings::parse_percent(p).map_err(|e| CrestError::bad_request(format!("`percent`: {e}")))?;
            }
            settings.field = params.get("field").cloned();
            if let Some(v) = number::<f64>(params, "maxFaultRateIncrease")? {
                settings.max_fault_rate_increase = v;
            }
            if let Some(v) = number::<f64>(params, "maxFuelRatio")? {
                settings.max_fuel_ratio = v;
            }
            if let Some(v) = number::<u64>(params, "minEvents")? {
                settings.min_events = v;
            }
            Ok(DeployMode::Canary(settings))
        }
        other => Err(CrestError::bad_request(format!("`mode`: unknown `{other}` (expected live, shadow or canary)"))),
    }
}

/// `POST /admin/deploy`.
pub(super) async fn deploy(State(state): State<Arc<AppState>>, params: Params, headers: HeaderMap, body: Body) -> Reply {
    let by = admin(&state, &headers, "deploy handler versions")?;
    let params = query(params)?;
    let handler = handler(&params)?;
    let mode = mode(&params)?;
    let config = match params.get("config") {
        None => None,
        Some(text) => Some(serde_json::from_str(text).map_err(|e| CrestError::bad_request(format!("`config` is not JSON: {e}")))?),
    };
    // A component may be large (at most 256 MiB): it has four times
    // `bodyReadTimeout` to arrive.
    let timeout = state.sidecar.body_read_timeout * 4;
    let component = tokio::time::timeout(timeout, axum::body::to_bytes(body, MAX_COMPONENT_BYTES))
        .await
        .map_err(|_| {
            CrestError::new(StatusCode::REQUEST_TIMEOUT, format!("the component did not arrive within {} ms", timeout.as_millis()))
        })?
        .map_err(|e| {
            CrestError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("the component could not be read (at most {MAX_COMPONENT_BYTES} bytes): {e}"),
            )
        })?;
    let request = DeployRequest { handler, component: component.to_vec(), config, mode, by };
    let service = state.service.clone();
    let record = blocking(move || service.deploy(request)).await?.map_err(error)?;
    Ok((StatusCode::CREATED, Json(record)).into_response())
}

/// `GET /admin/versions`.
pub(super) async fn versions(State(state): State<Arc<AppState>>, params: Params, headers: HeaderMap) -> Reply {
    admin(&state, &headers, "list handler versions")?;
    let handler = handler(&query(params)?)?;
    let service = state.service.clone();
    let versions = blocking(move || service.versions(&handler)).await?.map_err(error)?;
    Ok(Json(json!({"versions": versions})).into_response())
}

/// `POST /admin/promote`.
pub(super) async fn promote(State(state): State<Arc<AppState>>, params: Params, headers: HeaderMap) -> Reply {
    let by = admin(&state, &headers, "promote a handler version")?;
    let handler = handler(&query(params)?)?;
    let service = state.service.clone();
    let record = blocking(move || service.promote(&handler, &by)).await?.map_err(error)?;
    Ok(Json(record).into_response())
}

/// `POST /admin/rollback`.
pub(super) async fn rollback(State(state): State<Arc<AppState>>, params: Params, headers: HeaderMap) -> Reply {
    let by = admin(&state, &headers, "roll a handler back")?;
    let params = query(params)?;
    let handler = handler(&params)?;
    let version = number::<u64>(&params, "version")?;
    let service = state.service.clone();
    let record = blocking(move || service.rollback(&handler, version, &by)).await?.map_err(error)?;
    Ok(Json(record).into_response())
}

/// `GET /admin/shadow`.
pub(super) async fn shadow(State(state): State<Arc<AppState>>, params: Params, headers: HeaderMap) -> Reply {
    admin(&state, &headers, "read a shadow report")?;
    let handler = handler(&query(params)?)?;
    match state.service.candidate_report(&handler).map_err(error)? {
        Some(report) => Ok(Json(report).into_response()),
        None => Err(CrestError::not_found(format!("handler `{handler}` has had no shadow or canary since the sidecar started"))),
    }
}
