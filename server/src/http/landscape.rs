//! Loss-landscape jobs over HTTP: submit, list, read, cancel, the finished maps, and a
//! progress stream. Progress lives in the database, so the stream polls it: a reconnecting
//! client simply gets the current state, and a slow one never holds the computation back.

use std::convert::Infallible;
use std::time::Duration;

use app::wire::{Landscape, LandscapeRequest, LandscapeSource, LandscapeSummary, RunStatus};
use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use serde::Deserialize;
use serde_json::json;
use tokio_stream::Stream;

use super::api::rejection_to_error;
use super::{ApiError, AppState};

/// How often the stream looks at a job's row.
const POLL: Duration = Duration::from_millis(250);

pub async fn create(
    State(s): State<AppState>,
    body: Result<Json<LandscapeRequest>, JsonRejection>,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    let Json(req) = body.map_err(rejection_to_error)?;
    match s.landscapes.submit(req).await? {
        Ok(id) => Ok((StatusCode::CREATED, Json(json!({ "id": id })))),
        Err(fields) => Err(ApiError::Invalid(fields)),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    run: Option<i64>,
    sweep: Option<i64>,
}

pub async fn list(
    State(s): State<AppState>,
    Query(q): Query<ListQuery>,
) -> Result<Json<Vec<LandscapeSummary>>, ApiError> {
    let source = match (q.run, q.sweep) {
        (Some(id), None) => Some(LandscapeSource::Run { id }),
        (None, Some(id)) => Some(LandscapeSource::Sweep { id }),
        (None, None) => None,
        (Some(_), Some(_)) => {
            return Err(ApiError::BadRequest("give run or sweep, not both".into()));
        }
    };
    Ok(Json(s.runs.db().list_landscapes(source, 500).await?))
}

pub async fn get(
    State(s): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Json<LandscapeSummary>, ApiError> {
    s.runs
        .db()
        .get_landscape(id)
        .await?
        .map(Json)
        .ok_or(ApiError::NotFound("landscape"))
}

/// The computed maps; 404 until the job has finished.
pub async fn result(
    State(s): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Json<Landscape>, ApiError> {
    s.runs
        .db()
        .landscape_result(id)
        .await?
        .map(Json)
        .ok_or(ApiError::NotFound("landscape result"))
}

pub async fn cancel(
    State(s): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Json<serde_json::Value>, ApiError> {
    if s.runs.db().get_landscape(id).await?.is_none() {
        return Err(ApiError::NotFound("landscape"));
    }
    Ok(Json(json!({ "cancelled": s.landscapes.cancel(id).await? })))
}

fn is_final(status: RunStatus) -> bool {
    !matches!(status, RunStatus::Queued | RunStatus::Running)
}

/// `status` whenever the job's state or progress changes, then `done` with the final state.
pub async fn events(
    State(s): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let db = s.runs.db().clone();
    let first = db
        .get_landscape(id)
        .await?
        .ok_or(ApiError::NotFound("landscape"))?;
    let stream = futures::stream::unfold(
        (db, Some(first), None::<LandscapeSummary>),
        move |(db, next, last)| async move {
            let mut current = next?;
            // Wait for a change; the first state is always sent.
            while last.as_ref() == Some(&current) {
                tokio::time::sleep(POLL).await;
                match db.get_landscape(id).await {
                    Ok(Some(now)) => current = now,
                    _ => return None,
                }
            }
            let data = serde_json::to_string(&current).unwrap_or_default();
            if is_final(current.status) {
                let event = Event::default().event("done").data(data);
                return Some((Ok(event), (db, None, None)));
            }
            let event = Event::default().event("status").data(data);
            Some((Ok(event), (db, Some(current.clone()), Some(current))))
        },
    );
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}
