//! JSON API handlers.

use app::wire::{FieldError, RunSpec, RunSummary, SweepSummary};
use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde_json::json;

use super::{ApiError, AppState};

pub async fn healthz() -> &'static str {
    "ok"
}

/// Turns serde's complaint into a field-level answer where it names a field.
pub fn rejection_to_error(r: JsonRejection) -> ApiError {
    match r {
        JsonRejection::JsonDataError(e) => {
            let text = e.body_text();
            // serde names the offending field in backticks: "unknown field `bogus`".
            let field = text.split('`').nth(1).unwrap_or("").to_owned();
            let message = text.rsplit(": ").next().unwrap_or(&text).to_owned();
            ApiError::Invalid(vec![FieldError { field, message }])
        }
        JsonRejection::JsonSyntaxError(_) => {
            ApiError::BadRequest("request body is not valid JSON".into())
        }
        JsonRejection::MissingJsonContentType(_) => {
            ApiError::BadRequest("expected Content-Type: application/json".into())
        }
        JsonRejection::BytesRejection(_) => {
            ApiError::BadRequest("request body too large or unreadable".into())
        }
        _ => ApiError::BadRequest("could not read the request body".into()),
    }
}

pub async fn create_run(
    State(s): State<AppState>,
    body: Result<Json<RunSpec>, JsonRejection>,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    let Json(spec) = body.map_err(rejection_to_error)?;
    match s.runs.submit(spec).await? {
        Ok(id) => Ok((StatusCode::CREATED, Json(json!({ "id": id })))),
        Err(fields) => Err(ApiError::Invalid(fields)),
    }
}

pub async fn list_runs(State(s): State<AppState>) -> Result<Json<Vec<RunSummary>>, ApiError> {
    Ok(Json(s.runs.db().list_runs(500).await?))
}

pub async fn get_run(
    State(s): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Json<RunSummary>, ApiError> {
    s.runs
        .db()
        .get_run(id)
        .await?
        .map(Json)
        .ok_or(ApiError::NotFound("run"))
}

pub async fn cancel_run(
    State(s): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Json<serde_json::Value>, ApiError> {
    if s.runs.db().get_run(id).await?.is_none() {
        return Err(ApiError::NotFound("run"));
    }
    let cancelled = s.runs.cancel(id).await?;
    Ok(Json(json!({ "cancelled": cancelled })))
}

pub async fn resume_run(
    State(s): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Json<serde_json::Value>, ApiError> {
    if s.runs.db().get_run(id).await?.is_none() {
        return Err(ApiError::NotFound("run"));
    }
    Ok(Json(json!({ "resumed": s.runs.resume(id).await? })))
}

/// Every metric row of a run, oldest first, with its seq.
pub async fn run_metrics(
    State(s): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Json<Vec<serde_json::Value>>, ApiError> {
    if s.runs.db().get_run(id).await?.is_none() {
        return Err(ApiError::NotFound("run"));
    }
    let rows = s.runs.metrics(id).await?;
    Ok(Json(
        rows.into_iter()
            .map(|(seq, p)| json!({ "seq": seq, "step": p.step, "epoch": p.epoch, "values": p.values }))
            .collect(),
    ))
}

pub async fn create_sweep(
    State(s): State<AppState>,
    body: Result<Json<spec::SweepSpec>, JsonRejection>,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    let Json(sweep) = body.map_err(rejection_to_error)?;
    match s.runs.submit_sweep(sweep).await? {
        Ok((id, runs)) => Ok((StatusCode::CREATED, Json(json!({ "id": id, "runs": runs })))),
        Err(fields) => Err(ApiError::Invalid(fields)),
    }
}

pub async fn get_sweep(
    State(s): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Json<SweepSummary>, ApiError> {
    s.runs
        .db()
        .get_sweep(id)
        .await?
        .map(Json)
        .ok_or(ApiError::NotFound("sweep"))
}

pub async fn list_sweeps(
    State(s): State<AppState>,
) -> Result<Json<Vec<serde_json::Value>>, ApiError> {
    let rows = s.runs.db().list_sweeps(500).await?;
    Ok(Json(
        rows.into_iter()
            .map(|(id, name, at)| json!({"id": id, "name": name, "created_at_ms": at}))
            .collect(),
    ))
}
