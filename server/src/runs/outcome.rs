//! How runs end: the queue's verdict recorded as a status (branches of a failed or cancelled
//! main run cancelled with it), and runs whose worker went silent marked interrupted.

use std::sync::Arc;
use std::time::Duration;

use domain::wire::{RunStatus, StatusChange};

use super::RunService;
use super::sink::HEARTBEAT_EVERY;
use crate::db::{DbError, EventKind};
use crate::events::json;
use crate::queue::Ended;

/// A running run whose heartbeat is older than this, and that no worker here owns, has lost
/// its worker (a killed `anneal run`, say) and is marked interrupted.
const HEARTBEAT_STALE: Duration = Duration::from_secs(60);

impl RunService {
    /// Records a status change as an event.
    pub(super) async fn announce(
        &self,
        id: i64,
        kind: EventKind,
        change: StatusChange,
    ) -> Result<i64, DbError> {
        self.record(id, kind, None, &json(&change)).await
    }

    pub(super) async fn watch_heartbeats(self: Arc<Self>) {
        while !self.queue.is_shutting_down() {
            tokio::select! {
                () = tokio::time::sleep(HEARTBEAT_EVERY) => {}
                () = self.queue.stopped() => return,
            }
            let ours = self.queue.running_ids();
            let stale_ms = i64::try_from(HEARTBEAT_STALE.as_millis()).unwrap_or(i64::MAX);
            match self.db.stale_running(stale_ms, &ours).await {
                Ok(ids) => {
                    for id in ids {
                        if let Err(e) = self.mark_lost(id).await {
                            tracing::error!(run.id = id, error = %e, "marking a lost run failed");
                        }
                    }
                }
                Err(e) => tracing::error!(error = %e, "checking heartbeats failed"),
            }
        }
    }

    async fn mark_lost(&self, id: i64) -> Result<(), DbError> {
        let msg = "its worker stopped sending heartbeats";
        if self
            .db
            .transition(id, &[RunStatus::Running], RunStatus::Interrupted, Some(msg))
            .await?
        {
            tracing::warn!(run.id = id, "run lost its worker; marked interrupted");
            self.announce(
                id,
                EventKind::Done,
                StatusChange::new(RunStatus::Interrupted, Some(msg.into())),
            )
            .await?;
        }
        Ok(())
    }

    pub(super) async fn record_end(&self, id: i64, ended: Ended<()>) -> Result<(), DbError> {
        let (status, message) = match ended {
            Ended::Completed(()) => (RunStatus::Completed, None),
            Ended::Cancelled { at_step } => (
                RunStatus::Cancelled,
                Some(format!("cancelled at step {}", at_step.unwrap_or(0))),
            ),
            Ended::Interrupted { at_step } => (
                RunStatus::Interrupted,
                Some(format!(
                    "the server shut down at step {}",
                    at_step.unwrap_or(0)
                )),
            ),
            Ended::Failed(message) => (RunStatus::Failed, Some(message)),
            Ended::Panicked => (
                RunStatus::Failed,
                Some("internal error while training".into()),
            ),
        };
        self.finish(id, status, message).await
    }

    async fn finish(
        &self,
        id: i64,
        status: RunStatus,
        message: Option<String>,
    ) -> Result<(), DbError> {
        self.db
            .transition(id, &[RunStatus::Running], status, message.as_deref())
            .await?;
        self.announce(id, EventKind::Done, StatusChange::new(status, message))
            .await?;
        // An interrupted run may still be resumed, so its branches keep waiting.
        if matches!(status, RunStatus::Failed | RunStatus::Cancelled) {
            for branch in self.db.cancel_orphaned_branches(id).await? {
                self.announce(
                    branch,
                    EventKind::Done,
                    StatusChange::new(
                        RunStatus::Cancelled,
                        Some("the main run ended before reaching this decay point".into()),
                    ),
                )
                .await?;
            }
        }
        Ok(())
    }
}
