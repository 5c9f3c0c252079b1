//! A run's events on their way out: committed to storage first, then published on a broadcast
//! to live followers (SSE), so a follower never sees an event that a reload would not show.

use std::sync::Arc;

use tokio::sync::broadcast;

use crate::db::{Db, DbError, EventKind};

/// An event on its way to live followers. `seq` is `None` for progress heartbeats,
/// which are never stored.
#[derive(Clone, Debug)]
pub struct LiveEvent {
    pub run_id: i64,
    pub seq: Option<i64>,
    pub kind: &'static str,
    pub data: Arc<str>,
}

/// Storage and the broadcast, together: every writer of run events goes through this.
#[derive(Clone)]
pub struct Events {
    db: Db,
    live: broadcast::Sender<LiveEvent>,
}

impl Events {
    pub fn new(db: Db) -> Self {
        let (live, _) = broadcast::channel(1024);
        Self { db, live }
    }

    pub fn subscribe(&self) -> broadcast::Receiver<LiveEvent> {
        self.live.subscribe()
    }

    /// Sends an event, already committed (or never stored), to live followers; none listening
    /// is fine.
    pub fn publish(&self, event: LiveEvent) {
        let _ = self.live.send(event);
    }

    /// A progress heartbeat for the live charts: published, never stored.
    pub fn progress(&self, run_id: i64, progress: &domain::wire::Progress) {
        self.publish(LiveEvent {
            run_id,
            seq: None,
            kind: "progress",
            data: json(progress).into(),
        });
    }

    /// Commits an event, then publishes it. Returns its seq.
    pub async fn record(
        &self,
        run_id: i64,
        kind: EventKind,
        step: Option<u64>,
        data: &str,
    ) -> Result<i64, DbError> {
        let seq = self.db.append_event(run_id, kind, step, data).await?;
        self.publish(LiveEvent {
            run_id,
            seq: Some(seq),
            kind: kind.as_str(),
            data: data.into(),
        });
        Ok(seq)
    }
}

/// A wire type as the JSON an event stores.
pub fn json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).expect("wire types serialise to JSON")
}
