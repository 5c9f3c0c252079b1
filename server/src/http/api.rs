//! The JSON API's run and sweep handlers: each reads its request, calls the one service
//! (`domain::Lab`), and writes the answer as JSON or, for exports, CSV.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use domain::Failure;
use domain::Lab;
use domain::wire::{
    Cancelled, Created, MetricRow, Resumed, RunMetrics, RunSpec, RunSummary, SweepCreated,
    SweepItem, SweepSummary,
};

use super::csv::{self, num};
use super::{ApiError, AppState};

pub async fn healthz() -> &'static str {
    "ok"
}

/// Turns serde's complaint into a field-level answer where it names a field.
pub fn rejection_to_error(r: JsonRejection) -> ApiError {
    rejection_within(r, super::BODY_LIMIT_BYTES)
}

/// The same, for a route that takes bodies of up to `limit` bytes.
pub fn rejection_within(r: JsonRejection, limit: usize) -> ApiError {
    ApiError(match r {
        JsonRejection::JsonDataError(e) => data_error(&e.body_text()),
        JsonRejection::JsonSyntaxError(_) => Failure::bad_request("request body is not valid JSON"),
        JsonRejection::MissingJsonContentType(_) => {
            Failure::bad_request("expected Content-Type: application/json")
        }
        JsonRejection::BytesRejection(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            super::too_large(limit as u64).0
        }
        JsonRejection::BytesRejection(_) => Failure::bad_request("request body is unreadable"),
        _ => Failure::bad_request("could not read the request body"),
    })
}

/// axum reports where deserialisation failed as `<path>: <what>` (serde_path_to_error), the
/// path left out at the root; an unknown or missing field is named one level below its path.
fn data_error(text: &str) -> Failure {
    let detail = text.split_once("target type: ").map_or(text, |(_, d)| d);
    let detail = detail.rsplit_once(" at line ").map_or(detail, |(d, _)| d);
    let is_path = |p: &str| {
        !p.is_empty()
            && p.chars()
                .all(|c| c.is_ascii_alphanumeric() || "_.[]".contains(c))
    };
    let (path, message) = match detail.split_once(": ") {
        Some((p, m)) if is_path(p) => (p, m),
        _ => ("", detail),
    };
    let named = ["unknown field `", "missing field `"]
        .iter()
        .find_map(|prefix| message.strip_prefix(prefix))
        .and_then(|rest| rest.split('`').next());
    // The path of an unknown field ends in the field; a missing one's is its parent.
    let field = match (path, named) {
        ("", Some(name)) => name.to_owned(),
        (p, Some(name)) if message.starts_with("missing") => format!("{p}.{name}"),
        (p, _) => p.to_owned(),
    };
    Failure::field(&field, message)
}

pub type Body<T> = Result<Json<T>, JsonRejection>;

pub async fn create_run(
    State(s): State<AppState>,
    body: Body<RunSpec>,
) -> Result<(StatusCode, Json<Created>), ApiError> {
    let Json(spec) = body.map_err(rejection_to_error)?;
    Ok((StatusCode::CREATED, Json(s.lab.create_run(spec).await?)))
}

/// One spec under several seeds: `{"spec": {...}, "seeds": [0, 1, 2]}`; answers the runs.
pub async fn create_replicates(
    State(s): State<AppState>,
    body: Body<domain::wire::ReplicateRequest>,
) -> Result<(StatusCode, Json<domain::wire::RunsCreated>), ApiError> {
    let Json(req) = body.map_err(rejection_to_error)?;
    Ok((
        StatusCode::CREATED,
        Json(s.lab.create_replicates(req).await?),
    ))
}

pub async fn list_runs(State(s): State<AppState>) -> Result<Json<Vec<RunSummary>>, ApiError> {
    Ok(Json(s.lab.list_runs().await?))
}

pub async fn get_run(
    State(s): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Json<RunSummary>, ApiError> {
    Ok(Json(s.lab.get_run(id).await?))
}

pub async fn cancel_run(
    State(s): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Json<Cancelled>, ApiError> {
    Ok(Json(s.lab.cancel_run(id).await?))
}

pub async fn resume_run(
    State(s): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Json<Resumed>, ApiError> {
    Ok(Json(s.lab.resume_run(id).await?))
}

/// Every metric row of a run, oldest first, with its seq; `?format=csv` for a spreadsheet.
pub async fn run_metrics(
    State(s): State<AppState>,
    Path(id): Path<i64>,
    Query(q): Query<csv::ExportQuery>,
) -> Result<Response, ApiError> {
    let format = csv::format_of(&q)?;
    let rows: Vec<MetricRow> = s.lab.run_metrics(id).await?;
    Ok(match format {
        csv::Format::Json => Json(rows).into_response(),
        csv::Format::Csv => {
            let keys: std::collections::BTreeSet<String> =
                rows.iter().flat_map(|r| r.values.keys().cloned()).collect();
            let mut header = vec!["seq".to_owned(), "step".to_owned(), "epoch".to_owned()];
            header.extend(keys.iter().cloned());
            let body = rows
                .into_iter()
                .map(|r| {
                    let mut row = vec![r.seq.to_string(), r.step.to_string(), r.epoch.to_string()];
                    row.extend(keys.iter().map(|k| num(r.values.get(k).copied())));
                    row
                })
                .collect();
            csv::response(&format!("run-{id}-metrics.csv"), &header, body)
        }
    })
}

/// Each loss law's fit and its prediction of the branches it did not see; 409 until a seed's
/// main path and one branch have finished.
pub async fn sweep_prediction(
    State(s): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Json<domain::prediction::SweepPrediction>, ApiError> {
    Ok(Json(s.lab.sweep_prediction(id).await?))
}

/// A sweep's fitted laws as the schedule editor's what-if reference.
pub async fn sweep_reference(
    State(s): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Json<domain::prediction::ReferenceLaw>, ApiError> {
    Ok(Json(s.lab.sweep_reference(id).await?))
}

/// A finished run's fitted laws as the schedule editor's what-if reference.
pub async fn run_reference(
    State(s): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Json<domain::prediction::ReferenceLaw>, ApiError> {
    Ok(Json(s.lab.run_reference(id).await?))
}

/// The sweep's verdict: one row per finished branch, Pearson r and the conclusion.
pub async fn sweep_summary(
    State(s): State<AppState>,
    Path(id): Path<i64>,
    Query(q): Query<csv::ExportQuery>,
) -> Result<Response, ApiError> {
    let format = csv::format_of(&q)?;
    let report = s.lab.sweep_summary(id).await?;
    Ok(match format {
        csv::Format::Json => Json(report).into_response(),
        csv::Format::Csv => csv::summary(&format!("sweep-{id}-summary.csv"), &report),
    })
}

pub async fn create_sweep(
    State(s): State<AppState>,
    body: Body<experiment::SweepSpec>,
) -> Result<(StatusCode, Json<SweepCreated>), ApiError> {
    let Json(sweep) = body.map_err(rejection_to_error)?;
    Ok((StatusCode::CREATED, Json(s.lab.create_sweep(sweep).await?)))
}

/// More seeds for a sweep: `{"seeds": [3, 4]}`; answers the new runs.
pub async fn add_sweep_seeds(
    State(s): State<AppState>,
    Path(id): Path<i64>,
    body: Body<domain::wire::AddSeeds>,
) -> Result<(StatusCode, Json<SweepCreated>), ApiError> {
    let Json(req) = body.map_err(rejection_to_error)?;
    Ok((
        StatusCode::CREATED,
        Json(s.lab.add_sweep_seeds(id, req).await?),
    ))
}

pub async fn get_sweep(
    State(s): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Json<SweepSummary>, ApiError> {
    Ok(Json(s.lab.get_sweep(id).await?))
}

pub async fn sweep_metrics(
    State(s): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Json<Vec<RunMetrics>>, ApiError> {
    Ok(Json(s.lab.sweep_metrics(id).await?))
}

pub async fn list_sweeps(State(s): State<AppState>) -> Result<Json<Vec<SweepItem>>, ApiError> {
    Ok(Json(s.lab.list_sweeps().await?))
}
