//! Loss-landscape jobs over HTTP: submit, list, read, cancel, the finished maps, and a
//! progress stream fed by the committed-then-published broadcast: a reconnecting client gets
//! the current state, and a slow one never holds the computation back.

use std::convert::Infallible;
use std::time::Duration;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use domain::Lab;
use domain::wire::{
    Cancelled, Created, Landscape, LandscapeFilter, LandscapeRequest, LandscapeSummary,
};
use tokio::sync::broadcast;
use tokio_stream::Stream;

use super::api::{Body, rejection_to_error};
use super::{ApiError, AppState};

pub async fn create(
    State(s): State<AppState>,
    body: Body<LandscapeRequest>,
) -> Result<(StatusCode, Json<Created>), ApiError> {
    let Json(req) = body.map_err(rejection_to_error)?;
    Ok((
        StatusCode::CREATED,
        Json(s.lab.create_landscape(req).await?),
    ))
}

pub async fn list(
    State(s): State<AppState>,
    Query(filter): Query<LandscapeFilter>,
) -> Result<Json<Vec<LandscapeSummary>>, ApiError> {
    Ok(Json(s.lab.list_landscapes(filter).await?))
}

pub async fn get(
    State(s): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Json<LandscapeSummary>, ApiError> {
    Ok(Json(s.lab.get_landscape(id).await?))
}

/// The computed maps; 404 until the job has finished.
pub async fn result(
    State(s): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Json<Landscape>, ApiError> {
    Ok(Json(s.lab.landscape_result(id).await?))
}

pub async fn cancel(
    State(s): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Json<Cancelled>, ApiError> {
    Ok(Json(s.lab.cancel_landscape(id).await?))
}

/// `status` whenever the job's state or progress changes, then `done` with the final state.
/// Changes come from the committed-then-published broadcast, as run events do; a follower that
/// falls behind reads the job's row again instead of replaying what it missed.
pub async fn events(
    State(s): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    // Subscribe before reading, so no change committed in between is missed.
    let live = s.lab.landscapes().subscribe();
    let first = s.lab.get_landscape(id).await?;
    let db = s.lab.db().clone();
    let jobs = s.lab.landscapes().clone();
    let stream = futures::stream::unfold(
        (db, jobs, live, Some(first), None::<LandscapeSummary>),
        move |(db, jobs, mut live, next, last)| {
            async move {
                let mut current = next?;
                // Wait for a change; the first state is always sent.
                while last.as_ref() == Some(&current) {
                    let received = tokio::select! {
                        r = live.recv() => r,
                        // The server is stopping: the job goes back to the queue; end the stream
                        // so that no viewer holds the shutdown up.
                        () = jobs.stopping() => return None,
                    };
                    match received {
                        Ok(row) if row.id == id => current = row,
                        Ok(_) => {}
                        Err(broadcast::error::RecvError::Lagged(_)) => {
                            match db.get_landscape(id).await {
                                Ok(Some(now)) => current = now,
                                _ => return None,
                            }
                        }
                        Err(broadcast::error::RecvError::Closed) => return None,
                    }
                }
                let data = serde_json::to_string(&current).unwrap_or_default();
                if current.status.is_terminal() {
                    let event = Event::default().event("done").data(data);
                    return Some((Ok(event), (db, jobs, live, None, None)));
                }
                let event = Event::default().event("status").data(data);
                Some((
                    Ok(event),
                    (db, jobs, live, Some(current.clone()), Some(current)),
                ))
            }
        },
    );
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}
