//! The worker protocol's routes (`/api/worker/runs/{id}/…`): thin doors onto the run service's
//! ingest. Each call carries its job's own token, never the admin token; see `crate::ingest`.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::AppState;
use super::api::{Body, rejection_to_error, rejection_within};
use super::error::ApiError;
use crate::worker::protocol::{Acked, Batch, Beat, BeatAnswer, End, Job};

/// Event batches may be larger than other requests; checkpoints much larger (each job's own
/// bound, from its model, is checked once its token is).
pub const EVENTS_LIMIT_BYTES: usize = 1 << 20;
pub const OBJECT_LIMIT_BYTES: usize = crate::worker::protocol::MAX_OBJECT_BYTES;

/// The job token a worker sends (never a cookie: workers are not browsers).
fn token(headers: &HeaderMap) -> Option<String> {
    super::auth::bearer(headers).flatten()
}

pub async fn job(
    State(s): State<AppState>,
    Path(id): Path<i64>,
    headers: HeaderMap,
) -> Result<Json<Job>, ApiError> {
    Ok(Json(
        s.lab
            .runs()
            .ingest()
            .job(id, token(&headers).as_deref())
            .await?,
    ))
}

pub async fn get_object(
    State(s): State<AppState>,
    Path((id, object)): Path<(i64, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let bytes = s
        .lab
        .runs()
        .ingest()
        .object(id, token(&headers).as_deref(), &object)
        .await?;
    Ok(([(header::CONTENT_TYPE, "application/octet-stream")], bytes).into_response())
}

/// The registered dataset the job trains on, streamed from its cache file (a worker checks its
/// SHA-256 against the hash its job names before using it).
pub async fn get_dataset(
    State(s): State<AppState>,
    Path(id): Path<i64>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let hash = s
        .lab
        .runs()
        .ingest()
        .dataset_hash(id, token(&headers).as_deref())
        .await?;
    let path = datasets::cache_path(&s.lab.runs().registry().dir(), &hash);
    let file = tokio::fs::File::open(&path).await.map_err(|e| {
        tracing::error!(run.id = id, error = %e, "a job's dataset file is missing");
        domain::Failure::not_found("dataset file")
    })?;
    let len = file.metadata().await.map(|m| m.len()).unwrap_or(0);
    let body = axum::body::Body::from_stream(tokio_util::io::ReaderStream::new(file));
    Ok((
        [
            (header::CONTENT_TYPE, "application/octet-stream".to_owned()),
            (header::CONTENT_LENGTH, len.to_string()),
        ],
        body,
    )
        .into_response())
}

/// The body is taken raw, not as `Bytes`: the service checks the token and the declared length
/// before reading any of it, then streams it to disk.
pub async fn put_object(
    State(s): State<AppState>,
    Path((id, object)): Path<(i64, String)>,
    headers: HeaderMap,
    body: axum::body::Body,
) -> Result<StatusCode, ApiError> {
    s.lab
        .runs()
        .ingest()
        .upload(
            id,
            token(&headers).as_deref(),
            &object,
            super::declared_length(&headers),
            body.into_data_stream(),
        )
        .await?;
    Ok(StatusCode::CREATED)
}

pub async fn events(
    State(s): State<AppState>,
    Path(id): Path<i64>,
    headers: HeaderMap,
    body: Body<Batch>,
) -> Result<Json<Acked>, ApiError> {
    let Json(batch) = body.map_err(|r| rejection_within(r, EVENTS_LIMIT_BYTES))?;
    Ok(Json(
        s.lab
            .runs()
            .ingest()
            .events(id, token(&headers).as_deref(), batch)
            .await?,
    ))
}

pub async fn heartbeat(
    State(s): State<AppState>,
    Path(id): Path<i64>,
    headers: HeaderMap,
    body: Body<Beat>,
) -> Result<Json<BeatAnswer>, ApiError> {
    let Json(beat) = body.map_err(rejection_to_error)?;
    Ok(Json(
        s.lab
            .runs()
            .ingest()
            .beat(id, token(&headers).as_deref(), beat)
            .await?,
    ))
}

pub async fn end(
    State(s): State<AppState>,
    Path(id): Path<i64>,
    headers: HeaderMap,
    body: Body<End>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let Json(end) = body.map_err(rejection_to_error)?;
    s.lab
        .runs()
        .ingest()
        .end(id, token(&headers).as_deref(), end)
        .await?;
    Ok(Json(serde_json::json!({"ok": true})))
}
