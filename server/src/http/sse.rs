//! A run's live stream: replay from the database after `Last-Event-ID`, then follow the
//! broadcast. A follower that falls behind re-reads the database; it never slows training.
//! The stream ends at the run's last `done`, at once when that was already sent, and within
//! `CLOSING` of the server shutting down.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use domain::{Failure, Lab};
use serde::Deserialize;
use tokio::sync::{broadcast, mpsc};
use tokio_stream::Stream;
use tokio_stream::wrappers::ReceiverStream;

use super::{ApiError, AppState};
use crate::db::{Db, EventKind, StoredEvent};
use crate::events::LiveEvent;
use crate::runs::RunService;

const REPLAY_PAGE: i64 = 500;

/// How long streams stay open once shutdown begins: long enough to carry the `done` of a run
/// that the shutdown interrupts, short enough that no viewer holds the server up.
const CLOSING: Duration = Duration::from_secs(2);

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StreamQuery {
    /// Same as the `Last-Event-ID` header, for clients that can't set headers.
    after: Option<i64>,
}

pub async fn run_events(
    State(s): State<AppState>,
    Path(id): Path<i64>,
    Query(q): Query<StreamQuery>,
    headers: HeaderMap,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let bad = || ApiError(Failure::bad_request("Last-Event-ID must be an integer"));
    let after = match headers.get("last-event-id") {
        Some(v) => v
            .to_str()
            .map_err(|_| bad())?
            .trim()
            .parse::<i64>()
            .map_err(|_| bad())?,
        None => q.after.unwrap_or(0),
    }
    .max(0);
    s.lab.get_run(id).await?;
    // Subscribe before replaying, so nothing committed during the replay is missed.
    let live = s.lab.runs().subscribe();
    let (tx, rx) = mpsc::channel(64);
    tokio::spawn(follow(s.lab.runs().clone(), id, after, live, tx));
    Ok(Sse::new(ReceiverStream::new(rx)).keep_alive(KeepAlive::default()))
}

fn sse_event(kind: &str, seq: Option<i64>, data: &str) -> Event {
    let e = Event::default().event(kind).data(data);
    match seq {
        Some(seq) => e.id(seq.to_string()),
        None => e,
    }
}

type Tx = mpsc::Sender<Result<Event, Infallible>>;

enum Next {
    /// Keep following; the last seq sent.
    Continue(i64),
    /// The run ended or the client left.
    Stop,
}

/// Sends stored events after `last` until the database has no more.
async fn replay(db: &Db, id: i64, mut last: i64, tx: &Tx) -> Next {
    loop {
        let page: Vec<StoredEvent> = match db.events_after(id, last, REPLAY_PAGE).await {
            Ok(p) => p,
            Err(e) => {
                tracing::error!(run.id = id, error = %e, "replaying events failed");
                return Next::Stop;
            }
        };
        let full = page.len() as i64 == REPLAY_PAGE;
        for e in page {
            // A `done` that later events follow ended a run that was resumed since: it is
            // history, not the end, so it goes out as the status change it also is.
            let superseded = e.kind == EventKind::Done
                && match db.events_after(id, e.seq, 1).await {
                    Ok(next) => !next.is_empty(),
                    Err(err) => {
                        tracing::error!(run.id = id, error = %err, "replaying events failed");
                        return Next::Stop;
                    }
                };
            let kind = if superseded {
                EventKind::Status
            } else {
                e.kind
            };
            if tx
                .send(Ok(sse_event(kind.as_str(), Some(e.seq), &e.data)))
                .await
                .is_err()
            {
                return Next::Stop;
            }
            last = e.seq;
            if kind == EventKind::Done {
                return Next::Stop;
            }
        }
        if !full {
            return Next::Continue(last);
        }
    }
}

async fn follow(
    runs: Arc<RunService>,
    id: i64,
    after: i64,
    mut live: broadcast::Receiver<LiveEvent>,
    tx: Tx,
) {
    let db = runs.db().clone();
    let mut last = match replay(&db, id, after, &tx).await {
        Next::Continue(l) => l,
        Next::Stop => return,
    };
    // Resumed at or past the run's final `done`: nothing more will come. (The run's status
    // alone would not do: it turns terminal a moment before its `done` is stored.)
    if let Ok(Some((seq, EventKind::Done))) = db.last_event(id).await
        && seq <= last
    {
        return;
    }
    let mut closing: Option<tokio::time::Instant> = None;
    loop {
        let received = tokio::select! {
            r = live.recv() => r,
            () = runs.stopping(), if closing.is_none() => {
                closing = Some(tokio::time::Instant::now() + CLOSING);
                continue;
            }
            () = tokio::time::sleep_until(closing.unwrap_or_else(tokio::time::Instant::now)), if closing.is_some() => {
                // Whatever the shutdown committed in the meantime, then the end.
                let _ = replay(&db, id, last, &tx).await;
                return;
            }
        };
        let ev = match received {
            Ok(ev) => ev,
            Err(broadcast::error::RecvError::Lagged(_)) => {
                // Fell behind the broadcast: the database has everything.
                match replay(&db, id, last, &tx).await {
                    Next::Continue(l) => {
                        last = l;
                        continue;
                    }
                    Next::Stop => return,
                }
            }
            Err(broadcast::error::RecvError::Closed) => return,
        };
        if ev.run_id != id {
            continue;
        }
        match ev.seq {
            None => {
                // Heartbeats are best-effort: drop them rather than wait on a slow client.
                if tx.try_send(Ok(sse_event(ev.kind, None, &ev.data))).is_err() && tx.is_closed() {
                    return;
                }
            }
            Some(seq) if seq <= last => {}
            Some(seq) if seq == last + 1 => {
                if tx
                    .send(Ok(sse_event(ev.kind, Some(seq), &ev.data)))
                    .await
                    .is_err()
                {
                    return;
                }
                last = seq;
                if ev.kind == EventKind::Done.as_str() {
                    return;
                }
            }
            Some(_) => match replay(&db, id, last, &tx).await {
                // A gap (possible after a lag): fill it from the database.
                Next::Continue(l) => last = l,
                Next::Stop => return,
            },
        }
    }
}
