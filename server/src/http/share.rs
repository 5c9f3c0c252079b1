//! Share links over HTTP: the owner's API (create, list, revoke), the guard in front of
//! every `/s/<token>` page, and the page's CSV/JSON export. Nothing here mutates a run.

use axum::Json;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};
use domain::wire::{Revoked, ShareCreated, ShareInfo, ShareRequest, SharedBody, SharedPage};
use domain::{Failure, Lab};

use super::api::{Body, rejection_to_error};
use super::csv::{ExportQuery, Format, format_of, num};
use super::{ApiError, AppState};
use crate::shares;

pub async fn create_share(
    State(s): State<AppState>,
    body: Body<ShareRequest>,
) -> Result<(StatusCode, Json<ShareCreated>), ApiError> {
    let Json(req) = body.map_err(rejection_to_error)?;
    Ok((StatusCode::CREATED, Json(s.lab.create_share(req).await?)))
}

pub async fn list_shares(State(s): State<AppState>) -> Result<Json<Vec<ShareInfo>>, ApiError> {
    Ok(Json(s.lab.list_shares().await?))
}

pub async fn revoke_share(
    State(s): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Json<Revoked>, ApiError> {
    Ok(Json(s.lab.revoke_share(id).await?))
}

const GONE: &str = "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Link not found · Anneal</title>\
<meta name=\"robots\" content=\"noindex\"></head><body><p>This link does not exist, has expired or was revoked.</p></body></html>";

/// In front of `/s/…`: a dead link answers 404 before anything renders, and live pages are
/// neither cached (so revoking takes effect at once) nor indexed, nor leak their URL onward.
pub async fn guard(State(s): State<AppState>, req: Request, next: Next) -> Response {
    let Some(rest) = req.uri().path().strip_prefix("/s/") else {
        return next.run(req).await;
    };
    let token = rest.split('/').next().unwrap_or_default().to_owned();
    // Only liveness here: the page (or export) behind the guard reads the snapshot itself.
    let mut res = match shares::is_live(s.lab.db(), &token).await {
        Ok(true) => next.run(req).await,
        Ok(false) => (StatusCode::NOT_FOUND, Html(GONE)).into_response(),
        Err(e) => ApiError::from(e).into_response(),
    };
    let h = res.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert("x-robots-tag", HeaderValue::from_static("noindex"));
    res
}

/// The shown data of a shared page: JSON is the whole snapshot; CSV has one row per metric
/// row (per run, for a sweep), or with `table=summary` one row per finished branch.
pub async fn export(
    State(s): State<AppState>,
    Path(token): Path<String>,
    Query(q): Query<ExportQuery>,
) -> Result<Response, ApiError> {
    let format = format_of(&q)?;
    let page = s.lab.open_share(token).await?;
    Ok(match format {
        Format::Json => Json(&page).into_response(),
        Format::Csv if q.table.as_deref() == Some("summary") => summary_csv(&page)?,
        Format::Csv => metrics_csv(&page),
    })
}

fn metrics_csv(page: &SharedPage) -> Response {
    if let SharedBody::Landscape { result, .. } = &page.body {
        return grid_csv(result);
    }
    let runs: Vec<(i64, String, &[domain::wire::MetricPoint])> = match &page.body {
        SharedBody::Run { run, points } => vec![(run.id, "run".into(), points.as_slice())],
        SharedBody::Landscape { .. } => Vec::new(),
        SharedBody::Sweep { sweep, metrics } => metrics
            .iter()
            .map(|m| {
                let role = sweep
                    .branch_at(m.run_id)
                    .map_or("main".into(), |k| format!("decay at {k}"));
                // Replicates carry their seed in the role, so the rows stay apart.
                let seed = sweep
                    .runs
                    .iter()
                    .find(|r| r.run.id == m.run_id)
                    .map(|r| r.seed);
                let role = match seed {
                    Some(s) if sweep.seeds().len() > 1 => format!("{role} · seed {s}"),
                    _ => role,
                };
                (m.run_id, role, m.points.as_slice())
            })
            .collect(),
    };
    let keys: std::collections::BTreeSet<&String> = runs
        .iter()
        .flat_map(|(_, _, pts)| pts.iter().flat_map(|p| p.values.keys()))
        .collect();
    let mut header: Vec<String> = ["run", "role", "step", "epoch"].map(str::to_owned).to_vec();
    header.extend(keys.iter().map(|k| (*k).clone()));
    let rows = runs
        .iter()
        .flat_map(|(id, role, pts)| {
            pts.iter().map(|p| {
                let mut r = vec![
                    id.to_string(),
                    role.clone(),
                    p.step.to_string(),
                    p.epoch.to_string(),
                ];
                r.extend(keys.iter().map(|k| num(p.values.get(*k).copied())));
                r
            })
        })
        .collect();
    super::csv::response("shared-metrics.csv", &header, rows)
}

fn summary_csv(page: &SharedPage) -> Result<Response, ApiError> {
    let SharedBody::Sweep { sweep, metrics } = &page.body else {
        return Err(ApiError(Failure::field(
            "table",
            "only a sweep has a summary table",
        )));
    };
    Ok(super::csv::summary(
        "shared-summary.csv",
        &domain::analysis::sweep_report(sweep, metrics),
    ))
}

/// One row per grid point: where it is and what both splits measure there.
fn grid_csv(l: &domain::wire::Landscape) -> Response {
    let header = ["x", "y", "train_loss", "test_loss", "train_acc", "test_acc"]
        .map(str::to_owned)
        .to_vec();
    let at = |g: &Option<Vec<Vec<Option<f64>>>>, iy: usize, ix: usize| {
        g.as_ref()
            .and_then(|g| g.get(iy)?.get(ix).copied().flatten())
    };
    let mut rows = Vec::with_capacity(l.xs.len() * l.ys.len());
    for (iy, y) in l.ys.iter().enumerate() {
        for (ix, x) in l.xs.iter().enumerate() {
            let cell =
                |g: &Vec<Vec<Option<f64>>>| g.get(iy).and_then(|r| r.get(ix).copied().flatten());
            rows.push(vec![
                x.to_string(),
                y.to_string(),
                num(cell(&l.train_loss)),
                num(cell(&l.test_loss)),
                num(at(&l.train_acc, iy, ix)),
                num(at(&l.test_acc, iy, ix)),
            ]);
        }
    }
    super::csv::response("shared-landscape.csv", &header, rows)
}
