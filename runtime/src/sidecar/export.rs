//! `GET /export/{topic}?_queryFilter=…&format=ndjson|csv&tenant=…`: the
//! file `wasp export` writes (records, signed manifest, proofs; see
//! `docs/exports.md`), as a download.
//!
//! Same authentication and tenant rules as `GET /audit/{topic}`: the
//! admin may name any tenant, a tenant token only its own (403), an
//! unknown tenant is 400, no `handlerForQueries` 501, a query handler that
//! cannot export (no `security`, not a JSON or CSV handler, a JCEKS
//! keystore) 501 naming why, a bad `_queryFilter` or a `format` that is
//! not the handler's 400.
//!
//! The export runs on the blocking pool into an unlinked temporary file
//! under `<dataDirectory>/exports/` (so a log that does not verify is an
//! error status, not a cut download); the file is then streamed in chunks
//! with its `Content-Length`.

use std::io::{Read as _, Seek as _};
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::IntoResponse;

use super::AppState;
use super::errors::CrestError;
use super::routes::{Params, Reply, acting_tenant, params, path, role};
use crate::export::{ExportError, ExportFormat};

/// Bytes per chunk of the streamed file.
const CHUNK: usize = 256 * 1024;

impl From<ExportError> for CrestError {
    /// No (usable) query handler, unknown tenant or topic: as queries; a
    /// bad filter or another format than the handler's: 400; a handler
    /// that cannot export: 501; a log that does not verify or cannot be
    /// read: 500.
    fn from(e: ExportError) -> CrestError {
        let message = e.to_string();
        match e {
            ExportError::NoHandler(failure) => failure.into(),
            ExportError::Query(_) | ExportError::FormatMismatch { .. } => CrestError::bad_request(message),
            ExportError::Handler(_) => CrestError::new(StatusCode::NOT_IMPLEMENTED, message),
            ExportError::Chain { .. } | ExportError::Io { .. } | ExportError::Format(_) => CrestError::internal(message),
        }
    }
}

/// A file name for the download: the tenant, the topic, the time, made
/// of `[A-Za-z0-9._-]` only.
fn file_name(tenant: Option<&str>, topic: &str, format: ExportFormat) -> String {
    let clean =
        |text: &str| -> String { text.chars().map(|c| if c.is_ascii_alphanumeric() || "._-".contains(c) { c } else { '_' }).collect() };
    let time = humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string().replace(':', "");
    let who = tenant.map(|t| format!("{}-", clean(t))).unwrap_or_default();
    format!("{who}{}-{time}.{}", clean(topic), format.name())
}

/// Runs the export into an unlinked temporary file, returns it rewound
/// with its length.
fn export_to_file(
    config: &crate::config::Config,
    tenant: Option<&str>,
    topic: &str,
    filter: &str,
    format: ExportFormat,
) -> Result<(std::fs::File, u64), CrestError> {
    let dir = config.data_dir.join("exports");
    let failed = |e: std::io::Error| CrestError::internal(format!("{}: a temporary file for the export: {e}", dir.display()));
    std::fs::create_dir_all(&dir).map_err(failed)?;
    let temporary = dir.join(format!(".export-{}.partial", uuid::Uuid::new_v4()));
    let mut file = std::fs::File::options().read(true).write(true).create_new(true).open(&temporary).map_err(failed)?;
    // Gone from the directory at once: nothing is left behind whatever happens.
    let _ = std::fs::remove_file(&temporary);
    crate::export::export(config, tenant, topic, filter, Some(format), &mut file)?;
    let len = file.stream_position().map_err(failed)?;
    file.rewind().map_err(failed)?;
    Ok((file, len))
}

/// `GET /export/{topic}`.
pub(super) async fn export(
    State(state): State<Arc<AppState>>,
    topic: Result<Path<String>, PathRejection>,
    query: Params,
    headers: HeaderMap,
) -> Reply {
    let role = role(&state, &headers)?;
    let topic = path(topic)?;
    let params = params(query)?;
    let tenant = acting_tenant(&role, &params, "export the events of")?;
    let filter = params
        .get("_queryFilter")
        .cloned()
        .ok_or_else(|| CrestError::bad_request("_queryFilter: required to export events (`_queryFilter=true` exports every event)"))?;
    crate::query::QueryFilter::parse(&filter).map_err(|e| CrestError::bad_request(e.to_string()))?;
    let asked = match params.get("format").map(String::as_str).filter(|f| !f.is_empty()) {
        None => None,
        Some(text) => Some(text.parse::<ExportFormat>().map_err(|e| CrestError::bad_request(format!("format: {e}")))?),
    };
    let config = state.service.config();
    let (t, name) = (tenant.clone(), topic.clone());
    let work = tokio::task::spawn_blocking(move || {
        let format = asked.unwrap_or(crate::export::handler_format(&config, t.as_deref(), &name)?);
        export_to_file(&config, t.as_deref(), &name, &filter, format).map(|(file, len)| (file, len, format))
    });
    let (file, len, format) = work.await.map_err(|e| CrestError::internal(format!("the export failed: {e}")))??;
    let mut response = Body::from_stream(stream(file)).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(format.content_type()));
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    let disposition = format!("attachment; filename=\"{}\"", file_name(tenant.as_deref(), &topic, format));
    if let Ok(value) = HeaderValue::from_str(&disposition) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    Ok(response)
}

/// The file's bytes, read on the blocking pool a chunk at a time (at most
/// two chunks wait for a slow client).
fn stream(mut file: std::fs::File) -> impl futures_util::Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static {
    let (sender, receiver) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(2);
    tokio::task::spawn_blocking(move || {
        loop {
            let mut chunk = vec![0u8; CHUNK];
            match file.read(&mut chunk) {
                Ok(0) => break,
                Ok(n) => {
                    chunk.truncate(n);
                    if sender.blocking_send(Ok(Bytes::from(chunk))).is_err() {
                        break; // the client went away
                    }
                }
                Err(e) => {
                    let _ = sender.blocking_send(Err(e));
                    break;
                }
            }
        }
    });
    futures_util::stream::unfold(receiver, |mut receiver| async move { receiver.recv().await.map(|item| (item, receiver)) })
}
