//! Where a run trained in this process writes: its events go to storage from the blocking
//! training thread (committed, then published), its checkpoints into the object store.

use std::time::{Duration, Instant};

use domain::wire::{Progress, RunStatus, StatusChange};
use trainer::{Event, Sink, SinkError};

use crate::db::{Db, DbError, EventKind};
use crate::events::{Events, json};
use crate::executor::{ExecutorName, Observer};
use crate::objects::CheckpointStore;

/// Progress heartbeats closer together than this are dropped.
const PROGRESS_EVERY: Duration = Duration::from_millis(200);
/// How often a running run's heartbeat is written.
pub(super) const HEARTBEAT_EVERY: Duration = Duration::from_secs(5);

pub(super) struct DbSink {
    pub(super) db: Db,
    pub(super) events: Events,
    pub(super) store: CheckpointStore,
    pub(super) handle: tokio::runtime::Handle,
    pub(super) run_id: i64,
    pub(super) last_progress: Option<Instant>,
    pub(super) last_heartbeat: Instant,
    /// A resumed run re-trains from its last checkpoint; rows it already stored (identical,
    /// since training is deterministic) are not stored again.
    pub(super) skip_through: Option<u64>,
    pub(super) observer: Option<Observer>,
}

impl Sink for DbSink {
    fn emit(&mut self, event: Event) -> Result<(), SinkError> {
        let seen = self.observer.is_some().then(|| event.clone());
        self.record(event)?;
        if let (Some(obs), Some(ev)) = (self.observer.as_mut(), seen) {
            obs(&ev);
        }
        Ok(())
    }
}

fn db_err(e: DbError) -> SinkError {
    SinkError(e.to_string())
}

impl DbSink {
    fn record(&mut self, event: Event) -> Result<(), SinkError> {
        let id = self.run_id;
        match event {
            Event::Started {
                backend, device, ..
            } => self.handle.block_on(async {
                self.db
                    .set_device(id, &backend, &device, Some(ExecutorName::Local.as_str()))
                    .await
                    .map_err(db_err)?;
                let change = StatusChange {
                    status: RunStatus::Running,
                    message: None,
                    backend: Some(backend),
                    device: Some(device),
                };
                self.events
                    .record(id, EventKind::Status, None, &json(&change))
                    .await
                    .map_err(db_err)?;
                Ok(())
            }),
            Event::Metric(row) if self.skip_through.is_some_and(|s| row.step <= s) => Ok(()),
            Event::Metric(point) => {
                self.handle
                    .block_on(self.events.record(
                        id,
                        EventKind::Metric,
                        Some(point.step),
                        &json(&point),
                    ))
                    .map_err(db_err)?;
                Ok(())
            }
            Event::Checkpoint { epoch, step, dir } => {
                let path = self.store.store_folder(&dir).map_err(|e| {
                    SinkError(format!("storing the checkpoint of epoch {epoch}: {e}"))
                })?;
                self.handle
                    .block_on(self.db.insert_checkpoint(id, epoch, step, &path))
                    .map_err(db_err)
            }
            Event::Progress {
                step,
                total_steps,
                samples_per_sec,
            } => self.progress(Progress {
                step,
                total_steps,
                samples_per_sec,
            }),
        }
    }

    /// Publishes progress at most every `PROGRESS_EVERY`, and writes the heartbeat.
    fn progress(&mut self, p: Progress) -> Result<(), SinkError> {
        if self
            .last_progress
            .is_some_and(|t| t.elapsed() < PROGRESS_EVERY)
        {
            return Ok(());
        }
        self.last_progress = Some(Instant::now());
        self.events.progress(self.run_id, &p);
        if self.last_heartbeat.elapsed() >= HEARTBEAT_EVERY {
            self.last_heartbeat = Instant::now();
            self.handle
                .block_on(self.db.set_heartbeat(self.run_id))
                .map_err(db_err)?;
        }
        Ok(())
    }
}
