//! The server's half of the worker protocol: a job's token checked on every call, its spec and
//! starting checkpoint handed out, and its events, checkpoints, heartbeats and end taken in.
//! Events are stored through the same records as in-process training, so SSE followers see a
//! worker's run exactly as a local one; the server stays the only writer of the database.
//! [`WorkerJobs`] is where the ingest meets the executors: the jobs in flight, the flag each
//! one's heartbeats answer, and the end each one reported.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use domain::Failure;
use domain::wire::{RunStatus, StatusChange};
use trainer::StopFlag;

use crate::db::{Db, DbError, EventKind, WorkerJobRow};
use crate::events::{Events, LiveEvent, json};
use crate::objects::{CheckpointStore, is_object_id};
use crate::queue::lock;
use crate::worker::protocol::{
    Acked, Batch, Beat, BeatAnswer, End, Job, MAX_BATCH, WorkerEvent, pack,
};

fn storage(e: DbError) -> Failure {
    tracing::error!(error = %e, "worker ingest: storage error");
    Failure::internal()
}

fn unauthorized() -> Failure {
    Failure::new(401, "this worker token is not valid for this job")
}

/// A metric's name as charts and CSV headers show it: short, and never a formula.
fn is_metric_key(key: &str) -> bool {
    (1..=64).contains(&key.len()) && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// Worker jobs in flight: the flag each one's heartbeats answer, when it last spoke, and how it
/// said it ended.
#[derive(Default)]
pub struct WorkerJobs {
    jobs: Mutex<HashMap<i64, JobState>>,
    /// The server is stopping: every worker is told to stop.
    stopping: AtomicBool,
}

struct JobState {
    stop: StopFlag,
    /// Objects this job sent (and the server checked): the ones its checkpoints may name.
    uploaded: HashSet<String>,
    /// Taken over from a previous server, which knew what it had uploaded: not checked.
    adopted: bool,
    /// Handed out, or its last heartbeat: a worker silent for long is hung or gone.
    last_heard: Instant,
    end: Option<End>,
}

impl WorkerJobs {
    pub fn start(&self, run: i64, stop: StopFlag) {
        self.insert(run, stop, false);
    }

    /// A job a previous server handed out, whose uploads this one did not see.
    pub fn adopt(&self, run: i64, stop: StopFlag) {
        self.insert(run, stop, true);
    }

    fn insert(&self, run: i64, stop: StopFlag, adopted: bool) {
        let job = JobState {
            stop,
            uploaded: HashSet::new(),
            adopted,
            last_heard: Instant::now(),
            end: None,
        };
        lock(&self.jobs).insert(run, job);
    }

    /// The job of `run` sent object `id`.
    fn uploaded(&self, run: i64, id: &str) {
        if let Some(job) = lock(&self.jobs).get_mut(&run) {
            job.uploaded.insert(id.to_owned());
        }
    }

    /// Whether the job of `run` may name object `id` without having sent it: it did send it,
    /// or this server cannot know (an adopted job, or one no executor here watches).
    fn sent_or_unknown(&self, run: i64, id: &str) -> bool {
        lock(&self.jobs)
            .get(&run)
            .is_none_or(|j| j.adopted || j.uploaded.contains(id))
    }

    /// Whether the worker of `run` should stop: the server is stopping, its flag is raised,
    /// or it is not ours.
    pub fn should_stop(&self, run: i64) -> bool {
        self.stopping.load(Ordering::SeqCst)
            || lock(&self.jobs)
                .get(&run)
                .is_none_or(|j| j.stop.is_raised())
    }

    pub fn stop_all(&self) {
        self.stopping.store(true, Ordering::SeqCst);
    }

    /// The worker of `run` spoke (a heartbeat).
    fn heard(&self, run: i64) {
        if let Some(job) = lock(&self.jobs).get_mut(&run) {
            job.last_heard = Instant::now();
        }
    }

    /// How long the worker of `run` has been silent; None if no job of ours holds it.
    pub fn silent_for(&self, run: i64) -> Option<Duration> {
        lock(&self.jobs).get(&run).map(|j| j.last_heard.elapsed())
    }

    /// Notes how the job of `run` ended; a job ends once; a second report is refused.
    fn ended(&self, run: i64, end: End) -> Result<(), Failure> {
        match lock(&self.jobs).get_mut(&run) {
            Some(JobState {
                end: Some(first), ..
            }) => Err(Failure::conflict(format!(
                "this job already reported its end ({first:?})"
            ))),
            Some(job) => {
                job.end = Some(end);
                Ok(())
            }
            None => Ok(()),
        }
    }

    /// Forgets the job of `run`, answering the end it reported.
    pub fn finish(&self, run: i64) -> Option<End> {
        lock(&self.jobs).remove(&run).and_then(|j| j.end)
    }
}

/// The ingest: what the worker routes call.
pub struct Ingest {
    db: Db,
    store: CheckpointStore,
    events: Events,
    jobs: Arc<WorkerJobs>,
}

impl Ingest {
    pub fn new(db: Db, store: CheckpointStore, events: Events, jobs: Arc<WorkerJobs>) -> Self {
        Self {
            db,
            store,
            events,
            jobs,
        }
    }

    /// The job `run` is, if `token` is its token and it is still running.
    async fn authorize(&self, run: i64, token: Option<&str>) -> Result<WorkerJobRow, Failure> {
        let token = token.ok_or_else(unauthorized)?;
        let row = self
            .db
            .worker_job(run)
            .await
            .map_err(storage)?
            .ok_or_else(unauthorized)?;
        let expected = row.token_hash.as_deref().ok_or_else(unauthorized)?;
        // Both sides are hashes, so comparing them tells an attacker nothing about the token.
        if crate::tokens::hash_token(token) != expected {
            return Err(unauthorized());
        }
        if row.status != RunStatus::Running.as_str() {
            return Err(Failure::conflict(format!(
                "the run is {}, not running: stop",
                row.status
            )));
        }
        Ok(row)
    }

    /// What the worker trains: the spec, the checkpoint to start from and what is stored.
    pub async fn job(&self, run: i64, token: Option<&str>) -> Result<Job, Failure> {
        let row = self.authorize(run, token).await?;
        let summary = self
            .db
            .get_run(run)
            .await
            .map_err(storage)?
            .ok_or_else(|| Failure::not_found("run"))?;
        let (resume_from, skip_through) = self
            .store
            .starting_point(&self.db, run)
            .await
            .map_err(storage)?;
        Ok(Job {
            run_id: run,
            spec: summary.spec,
            resume: resume_from
                .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned())),
            skip_through,
            next_seq: row.acked,
        })
    }

    /// The packed checkpoint the job starts from (no other object is handed out).
    pub async fn object(
        &self,
        run: i64,
        token: Option<&str>,
        id: &str,
    ) -> Result<Vec<u8>, Failure> {
        let job = self.job(run, token).await?;
        if job.resume.as_deref() != Some(id) {
            return Err(Failure::not_found("checkpoint object for this job"));
        }
        let files = self.store.read(id).map_err(|e| {
            tracing::error!(run.id = run, error = %e, "reading a checkpoint object");
            Failure::internal()
        })?;
        Ok(pack(&files))
    }

    /// The content hash of the registered dataset this job trains on (a worker whose node has
    /// no copy fetches it by this hash).
    pub async fn dataset_hash(&self, run: i64, token: Option<&str>) -> Result<String, Failure> {
        let job = self.job(run, token).await?;
        match &job.spec.experiment {
            experiment::Experiment::Net(n) => n.dataset.registered_hash().map(str::to_owned),
            _ => None,
        }
        .ok_or_else(|| Failure::not_found("registered dataset of this job"))
    }

    /// Stores an uploaded checkpoint as it streams in, after checking that its content is what
    /// its name says. Nothing of `body` is read before the token is checked and its declared
    /// length is found within what this job's model can hold in a checkpoint.
    pub async fn upload<S, E>(
        &self,
        run: i64,
        token: Option<&str>,
        id: &str,
        declared: Option<u64>,
        body: S,
    ) -> Result<(), Failure>
    where
        S: futures::Stream<Item = Result<bytes::Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        self.authorize(run, token).await?;
        if !is_object_id(id) {
            return Err(Failure::field("object", "must be 64 lowercase hex digits"));
        }
        let bound = self.spec(run).await?.checkpoint_bytes_bound();
        if let Some(declared) = declared.filter(|&d| d > bound) {
            return Err(Failure::new(
                413,
                format!(
                    "a checkpoint of this run's model is at most {bound} bytes; this upload \
                     declares {declared}"
                ),
            ));
        }
        use crate::objects::Refused;
        let received = self.store.receive(id, declared, bound, body).await;
        if received.is_ok() {
            self.jobs.uploaded(run, id);
        }
        received.map_err(|r| match r {
            Refused::BrokeOff(e) => Failure::bad_request(format!("the upload broke off: {e}")),
            Refused::Overlong { limit } => Failure::new(
                413,
                format!("the upload sent more than {limit} bytes (declared, or this run's bound)"),
            ),
            Refused::Format(e) => Failure::field("body", e),
            Refused::Mismatch { actual } => Failure::field(
                "object",
                format!("the content's SHA-256 is {actual}, not the id it was sent as"),
            ),
            Refused::Io(e) => {
                tracing::error!(run.id = run, error = %e, "storing an uploaded checkpoint");
                Failure::internal()
            }
        })
    }

    async fn spec(&self, run: i64) -> Result<domain::wire::RunSpec, Failure> {
        Ok(self
            .db
            .get_run(run)
            .await
            .map_err(storage)?
            .ok_or_else(|| Failure::not_found("run"))?
            .spec)
    }

    /// Takes a batch of events. Idempotent on (run, seq): what is already stored is skipped,
    /// a gap refuses the whole batch, and a batch is checked whole before any of it is stored.
    pub async fn events(
        &self,
        run: i64,
        token: Option<&str>,
        batch: Batch,
    ) -> Result<Acked, Failure> {
        let row = self.authorize(run, token).await?;
        if batch.events.len() > MAX_BATCH {
            return Err(Failure::new(
                413,
                format!("at most {MAX_BATCH} events per batch"),
            ));
        }
        if batch.first < 0 || batch.first > row.acked {
            return Err(Failure::conflict(format!(
                "the batch starts at seq {}, but the next expected is {}",
                batch.first, row.acked
            )));
        }
        for ev in &batch.events {
            match ev {
                WorkerEvent::Checkpoint { object, .. } if !self.store.has(object) => {
                    return Err(Failure::conflict(format!(
                        "checkpoint object {object} has not been uploaded"
                    )));
                }
                WorkerEvent::Checkpoint { object, .. } if !self.may_name(run, object).await? => {
                    return Err(Failure::conflict(format!(
                        "checkpoint object {object} was not uploaded by this job: a job names \
                         only the objects it sent, or the one it started from"
                    )));
                }
                WorkerEvent::Metric { point } if point.values.is_empty() => {
                    return Err(Failure::field("events", "a metric row has no values"));
                }
                WorkerEvent::Metric { point } => {
                    if let Some(key) = point.values.keys().find(|k| !is_metric_key(k)) {
                        return Err(Failure::field(
                            "events",
                            format!(
                                "metric key {key:?} is not 1–64 letters, digits or underscores"
                            ),
                        ));
                    }
                }
                _ => {}
            }
        }
        self.check_steps_advance(run, row.acked, &batch).await?;
        let mut acked = row.acked;
        for (i, ev) in batch.events.into_iter().enumerate() {
            let seq = batch.first + i as i64;
            if seq < acked {
                continue;
            }
            let stored = self
                .store_worker_event(run, seq, ev)
                .await
                .map_err(storage)?;
            if !stored {
                return Err(Failure::conflict(
                    "another request stored this seq first; fetch the job to resynchronise",
                ));
            }
            acked = seq + 1;
        }
        Ok(Acked { acked })
    }

    /// Whether the job of `run` may point a checkpoint at object `id`: one it sent, or the
    /// checkpoint it started from (its own earlier one, or its parent's at the branch point).
    async fn may_name(&self, run: i64, id: &str) -> Result<bool, Failure> {
        if self.jobs.sent_or_unknown(run, id) {
            return Ok(true);
        }
        let (start, _) = self
            .store
            .starting_point(&self.db, run)
            .await
            .map_err(storage)?;
        Ok(start.is_some_and(|p| p.file_name().is_some_and(|n| n == id)))
    }

    /// The metric rows this batch would store must carry steps past every stored one, strictly
    /// increasing: a resumed job may not send again what its run already has, and no job may
    /// write a step twice under two seqs.
    async fn check_steps_advance(
        &self,
        run: i64,
        acked: i64,
        batch: &Batch,
    ) -> Result<(), Failure> {
        let mut last = self.db.last_metric_step(run).await.map_err(storage)?;
        let new = batch
            .events
            .iter()
            .enumerate()
            .filter(|(i, _)| batch.first + *i as i64 >= acked);
        for (_, ev) in new {
            if let WorkerEvent::Metric { point } = ev {
                if let Some(l) = last.filter(|&l| point.step <= l) {
                    return Err(Failure::conflict(format!(
                        "metric step {} is already stored (the run's last is {l}): a job sends \
                         each step once, after those stored",
                        point.step
                    )));
                }
                last = Some(point.step);
            }
        }
        Ok(())
    }

    async fn store_worker_event(
        &self,
        run: i64,
        seq: i64,
        ev: WorkerEvent,
    ) -> Result<bool, DbError> {
        let (kind, step, data) = match ev {
            WorkerEvent::Checkpoint {
                epoch,
                step,
                object,
            } => {
                let path = CheckpointStore::stored_path(&object);
                return self
                    .db
                    .ingest_checkpoint(run, seq, epoch, step, &path)
                    .await;
            }
            WorkerEvent::Started { backend, device } => {
                self.db.set_device(run, &backend, &device, None).await?;
                let change = StatusChange {
                    status: RunStatus::Running,
                    message: None,
                    backend: Some(backend),
                    device: Some(device),
                };
                (EventKind::Status, None, json(&change))
            }
            WorkerEvent::Metric { point } => (EventKind::Metric, Some(point.step), json(&point)),
        };
        let Some(event_seq) = self.db.ingest_event(run, seq, kind, step, &data).await? else {
            return Ok(false);
        };
        self.events.publish(LiveEvent {
            run_id: run,
            seq: Some(event_seq),
            kind: kind.as_str(),
            data: data.into(),
        });
        Ok(true)
    }

    /// A heartbeat: progress for the live charts, and whether the worker should stop.
    pub async fn beat(
        &self,
        run: i64,
        token: Option<&str>,
        beat: Beat,
    ) -> Result<BeatAnswer, Failure> {
        self.authorize(run, token).await?;
        let total = self.spec(run).await?.total_steps();
        if beat.total_steps > total {
            return Err(Failure::field(
                "total_steps",
                format!(
                    "this run has at most {total} steps, not {}",
                    beat.total_steps
                ),
            ));
        }
        if beat.step > beat.total_steps {
            return Err(Failure::field(
                "step",
                format!("past the run's last step ({total})"),
            ));
        }
        if !(beat.samples_per_sec.is_finite() && beat.samples_per_sec >= 0.0) {
            return Err(Failure::field(
                "samples_per_sec",
                "must be a finite number, zero or more",
            ));
        }
        self.db.set_heartbeat(run).await.map_err(storage)?;
        self.jobs.heard(run);
        let progress = domain::wire::Progress {
            step: beat.step,
            total_steps: beat.total_steps,
            samples_per_sec: beat.samples_per_sec,
        };
        self.events.progress(run, &progress);
        Ok(BeatAnswer {
            stop: self.jobs.should_stop(run),
        })
    }

    /// How the worker says the job ended; the executor turns it into the run's status.
    pub async fn end(&self, run: i64, token: Option<&str>, end: End) -> Result<(), Failure> {
        self.authorize(run, token).await?;
        self.jobs.ended(run, end)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_job_ends_once_and_the_first_report_stands() {
        let jobs = WorkerJobs::default();
        jobs.start(7, StopFlag::new());
        jobs.ended(7, End::Completed).expect("first end");
        let again = jobs
            .ended(
                7,
                End::Failed {
                    message: "late".into(),
                },
            )
            .expect_err("a second end");
        assert_eq!(again.status, 409);
        assert_eq!(jobs.finish(7), Some(End::Completed));
    }
}
