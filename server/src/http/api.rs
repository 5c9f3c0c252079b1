//! JSON API handlers.

use app::wire::{FieldError, RunSpec, RunSummary, SweepSummary};
use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, State};
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

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportQuery {
    /// `json` (default) or `csv`.
    pub format: Option<String>,
    /// Which table a CSV holds where a page has more than one (`summary` on a shared sweep).
    pub table: Option<String>,
}

pub enum Format {
    Json,
    Csv,
}

pub fn format_of(q: &ExportQuery) -> Result<Format, ApiError> {
    match q.format.as_deref() {
        None | Some("json") => Ok(Format::Json),
        Some("csv") => Ok(Format::Csv),
        Some(_) => Err(ApiError::Invalid(vec![FieldError {
            field: "format".into(),
            message: "must be json or csv".into(),
        }])),
    }
}

/// A CSV cell: numbers as they are, text quoted when it needs to be.
fn cell(v: &str) -> String {
    if v.contains([',', '"', '\n']) {
        format!("\"{}\"", v.replace('"', "\"\""))
    } else {
        v.to_owned()
    }
}

pub fn csv_response(
    name: &str,
    header: &[String],
    rows: Vec<Vec<String>>,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let mut out = header.iter().map(|h| cell(h)).collect::<Vec<_>>().join(",");
    out.push('\n');
    for r in rows {
        out.push_str(&r.iter().map(|c| cell(c)).collect::<Vec<_>>().join(","));
        out.push('\n');
    }
    (
        [
            (
                axum::http::header::CONTENT_TYPE,
                "text/csv; charset=utf-8".to_owned(),
            ),
            (
                axum::http::header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        out,
    )
        .into_response()
}

pub fn num(v: Option<f64>) -> String {
    v.map_or(String::new(), |x| x.to_string())
}

/// Every metric row of a run, oldest first, with its seq; `?format=csv` for a spreadsheet.
pub async fn run_metrics(
    State(s): State<AppState>,
    Path(id): Path<i64>,
    Query(q): Query<ExportQuery>,
) -> Result<axum::response::Response, ApiError> {
    use axum::response::IntoResponse;
    let format = format_of(&q)?;
    if s.runs.db().get_run(id).await?.is_none() {
        return Err(ApiError::NotFound("run"));
    }
    let rows = s.runs.metrics(id).await?;
    Ok(match format {
        Format::Json => Json(
            rows.into_iter()
                .map(|(seq, p)| json!({ "seq": seq, "step": p.step, "epoch": p.epoch, "values": p.values }))
                .collect::<Vec<_>>(),
        )
        .into_response(),
        Format::Csv => {
            let keys: std::collections::BTreeSet<String> = rows.iter().flat_map(|(_, p)| p.values.keys().cloned()).collect();
            let mut header = vec!["seq".to_owned(), "step".to_owned(), "epoch".to_owned()];
            header.extend(keys.iter().cloned());
            let body = rows
                .into_iter()
                .map(|(seq, p)| {
                    let mut r = vec![seq.to_string(), p.step.to_string(), p.epoch.to_string()];
                    r.extend(keys.iter().map(|k| num(p.values.get(k).copied())));
                    r
                })
                .collect();
            csv_response(&format!("run-{id}-metrics.csv"), &header, body)
        }
    })
}

/// The sweep's verdict: one row per finished branch, Pearson r and the conclusion.
pub async fn sweep_summary(
    State(s): State<AppState>,
    Path(id): Path<i64>,
    Query(q): Query<ExportQuery>,
) -> Result<axum::response::Response, ApiError> {
    use axum::response::IntoResponse;
    let format = format_of(&q)?;
    let sweep = s
        .runs
        .db()
        .get_sweep(id)
        .await?
        .ok_or(ApiError::NotFound("sweep"))?;
    let ids: Vec<i64> = sweep.runs.iter().map(|r| r.run.id).collect();
    let metrics = s.runs.metrics_of(ids).await?;
    let results = app::pages::sweep::branch_results(&sweep, &metrics);
    let unit = sweep.unit();
    Ok(match format {
        Format::Json => Json(json!({
            "sweep": id,
            "unit": unit,
            "branches": results.iter().map(|r| json!({
                "k": r.k, "length": r.length, "seconds": r.seconds, "test_loss": r.test_loss,
                "test_acc": r.test_acc, "dist_mn": r.dist_mn,
            })).collect::<Vec<_>>(),
            "pearson_k_test_loss": app::analysis::decay_loss_pearson(&results),
            "conclusion": app::analysis::conclusion(&results, unit),
        }))
        .into_response(),
        Format::Csv => summary_csv(&format!("sweep-{id}-summary.csv"), &results),
    })
}

/// One row per finished branch: the sweep summary as a spreadsheet.
pub fn summary_csv(
    filename: &str,
    results: &[app::analysis::BranchResult],
) -> axum::response::Response {
    let header = ["k", "length", "seconds", "test_loss", "test_acc", "dist_mn"]
        .map(str::to_owned)
        .to_vec();
    let body = results
        .iter()
        .map(|r| {
            vec![
                r.k.to_string(),
                r.length.to_string(),
                num(r.seconds),
                r.test_loss.to_string(),
                num(r.test_acc),
                num(r.dist_mn),
            ]
        })
        .collect();
    csv_response(filename, &header, body)
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
