//! `POST /console/api/verify?handler=H` (admin): what `wasp verify` checks,
//! for every topic of a tamper-evident JSON or CSV handler (`security`
//! enabled), found from the running configuration: the log directory,
//! the key file and the rotation naming. The live file is still being
//! written, so its unsigned tail is accepted (`wasp verify --open`).

use std::path::Path;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::super::AppState;
use super::super::errors::CrestError;
use super::{Params, admin, blocking, handler_param};
use crate::builtin::BuiltinSettings;
use crate::config::Config;
use crate::integrity::IntegrityKeys;
use crate::outputs::log_file::codec::{CsvRows, JsonLines, LineCodec};
use crate::outputs::log_file::verify::{files_in_order, verify_files};

/// The route.
pub(super) async fn verify(State(state): State<Arc<AppState>>, headers: HeaderMap, Query(params): Params) -> Result<Response, CrestError> {
    admin(&state, &headers, "verify a handler's log")?;
    let handler = handler_param(&state, &params)?;
    let config = state.service.config();
    let answer = blocking(move || verify_handler(&config, &handler)).await??;
    Ok(Json(answer).into_response())
}

fn verify_handler(config: &Config, name: &str) -> Result<Value, CrestError> {
    let not_signed = || {
        CrestError::bad_request(format!(
            "handler `{name}` keeps no tamper-evident log: only JSON and CSV handlers with `security.enabled` sign theirs"
        ))
    };
    let handler = config.forgerock_handlers.iter().find(|h| h.qualified_name() == name).ok_or_else(not_signed)?;
    let root = handler.tenant.as_deref().and_then(|t| config.tenants.get(t)).map(|t| t.output_root.clone());
    let in_root = |dir: &Path| root.as_ref().map_or_else(|| dir.to_owned(), |r| r.join(dir));
    let (dir, security, naming) = match &handler.builtin {
        Some(BuiltinSettings::Json(s)) => (in_root(&s.log_directory), s.security.clone(), s.rotation.clone()),
        Some(BuiltinSettings::Csv(s)) => (in_root(&s.log_directory), s.security.clone(), s.rotation.clone()),
        _ => return Err(not_signed()),
    };
    let security = security.ok_or_else(not_signed)?;
    let failed = |e: String| CrestError::new(StatusCode::UNPROCESSABLE_ENTITY, e);
    let keys = IntegrityKeys::load(&security.key_file).map_err(|e| failed(format!("the key file {}: {e}", security.key_file.display())))?;
    let mut topics = Vec::new();
    let mut passed = true;
    for topic in &handler.topics {
        let (live, codec): (String, Box<dyn LineCodec>) = match &handler.builtin {
            Some(BuiltinSettings::Json(_)) => (crate::builtin::json::JsonSettings::file_name(topic), Box::new(JsonLines)),
            Some(BuiltinSettings::Csv(s)) => {
                let live = crate::builtin::csv::CsvSettings::file_name(topic);
                if files_in_order(&dir, &live, &naming).map_or(true, |f| f.is_empty()) {
                    topics.push(json!({"topic": topic, "files": []}));
                    continue;
                }
                let columns =
                    crate::outputs::log_file::verify::csv_columns(&dir, &live, &naming, &s.format).map_err(|e| failed(e.to_string()))?;
                (live, Box::new(CsvRows { format: s.format.clone(), columns, secure: true }))
            }
            _ => return Err(not_signed()),
        };
        if files_in_order(&dir, &live, &naming).map_or(true, |f| f.is_empty()) {
            topics.push(json!({"topic": topic, "files": []}));
            continue;
        }
        let reports =
            verify_files(&dir, &live, &*codec, &naming, &keys, true, |_| {}).map_err(|e| failed(format!("{}: {e}", dir.display())))?;
        let files: Vec<Value> = reports
            .iter()
            .map(|r| match &r.result {
                Ok(note) => json!({"file": r.name, "records": r.records, "passed": true, "note": note}),
                Err((line, why)) => json!({"file": r.name, "records": r.records, "passed": false, "line": line, "message": why}),
            })
            .collect();
        passed &= reports.iter().all(|r| r.passed());
        topics.push(json!({"topic": topic, "files": files}));
    }
    Ok(json!({"handler": name, "passed": passed, "directory": dir, "topics": topics}))
}
