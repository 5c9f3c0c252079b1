//! The run service: training runs as a kind of job on the one queue (durable in the database,
//! trained in `spawn_blocking`), and a broadcast of every event *after* it is committed, for
//! SSE followers.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use domain::BoxFut;

use domain::wire::{
    FieldError, MetricPoint, Progress, RunMetrics, RunSpec, RunStatus, RunSummary, StatusChange,
};
use tokio::sync::{Semaphore, broadcast};
use trainer::{Event, Outcome, Sink, SinkError, StopFlag};

use crate::db::{Db, DbError, EventKind};
use crate::executor::{Executor, Workers};
use crate::queue::{Claim, Ended, Finished, JobKind, JobQueue};

/// An event on its way to live followers. `seq` is `None` for progress heartbeats,
/// which are never stored.
#[derive(Clone, Debug)]
pub struct LiveEvent {
    pub run_id: i64,
    pub seq: Option<i64>,
    pub kind: &'static str,
    pub data: Arc<str>,
}

/// Progress heartbeats closer together than this are dropped.
const PROGRESS_EVERY: Duration = Duration::from_millis(200);
/// How often a running run's heartbeat is written.
const HEARTBEAT_EVERY: Duration = Duration::from_secs(5);
/// A running run whose heartbeat is older than this, and that no worker here owns, has lost
/// its worker (a killed `anneal run`, say) and is marked interrupted.
const HEARTBEAT_STALE: Duration = Duration::from_secs(60);

pub struct RunService {
    db: Db,
    data_dir: PathBuf,
    live: broadcast::Sender<LiveEvent>,
    queue: JobQueue<RunService>,
    /// Compute slots shared by training and landscape jobs: together they never run more
    /// jobs at once than the configured concurrency.
    slots: Arc<Semaphore>,
    /// Where claimed runs train.
    executor: Executor,
    /// Worker jobs in flight (the `process` executor).
    workers: Workers,
}

/// A claimed run, and who else watches its events (the CLI's progress bar).
pub struct RunJob {
    pub(crate) run: RunSummary,
    observer: Option<Observer>,
    /// A Slurm job already running this run (left by a previous server): wait for it.
    pub(crate) adopt: Option<String>,
}

impl RunService {
    /// Recovers from a previous crash and starts `max_concurrent` workers. With 0 workers
    /// (the headless CLI) nothing is recovered: a server may own those runs.
    pub async fn start(
        db: Db,
        data_dir: PathBuf,
        max_concurrent: usize,
    ) -> Result<Arc<Self>, DbError> {
        Self::start_with(db, data_dir, max_concurrent, Executor::Local).await
    }

    /// As `start`, training claimed runs with `executor`.
    pub async fn start_with(
        db: Db,
        data_dir: PathBuf,
        max_concurrent: usize,
        executor: Executor,
    ) -> Result<Arc<Self>, DbError> {
        let (live, _) = broadcast::channel(1024);
        let slots = Arc::new(Semaphore::new(max_concurrent));
        // Runs on a cluster use none of this machine's compute: they get their own slots (as
        // many jobs in flight as the cluster setting allows), and landscapes keep the local ones.
        let run_slots = match (&executor, max_concurrent) {
            (Executor::Slurm(cfg), n) if n > 0 => cfg.max_jobs.max(n),
            _ => max_concurrent,
        };
        let svc = Arc::new(Self {
            db,
            data_dir,
            live,
            queue: JobQueue::new(if run_slots == max_concurrent {
                slots.clone()
            } else {
                Arc::new(Semaphore::new(run_slots))
            }),
            slots,
            executor,
            workers: Workers::default(),
        });
        // Slurm jobs outlive the server: a restarted server adopts them and their workers
        // carry on (they retry while it is down); everything else left running is interrupted.
        let adopt = match (&svc.executor, max_concurrent > 0) {
            (Executor::Slurm(_), true) => svc.db.adoptable_slurm_runs().await?,
            _ => Vec::new(),
        };
        let orphans = if max_concurrent > 0 {
            let keep: Vec<i64> = adopt.iter().map(|(id, _)| *id).collect();
            svc.db.interrupt_orphans_but(&keep).await?
        } else {
            Vec::new()
        };
        for id in orphans {
            tracing::warn!(
                run.id = id,
                "run was left running by a previous process; marked interrupted"
            );
            svc.announce(
                id,
                EventKind::Done,
                StatusChange::new(
                    RunStatus::Interrupted,
                    Some("the server stopped while this run was training".into()),
                ),
            )
            .await?;
        }
        for (id, job) in adopt {
            let Some(run) = svc.db.get_run(id).await? else {
                continue;
            };
            tracing::info!(run.id = id, slurm.job = %job, "adopting a Slurm job left by a previous server");
            let (kind, queue_job) = (
                svc.clone(),
                RunJob {
                    run,
                    observer: None,
                    adopt: Some(job),
                },
            );
            svc.queue.attach(tokio::spawn(async move {
                let queue = kind.queue();
                queue.run(kind.clone(), id, queue_job).await;
            }));
        }
        svc.queue.start_workers(&svc, run_slots);
        if max_concurrent > 0 {
            let w = svc.clone();
            svc.queue
                .attach(tokio::spawn(async move { w.watch_heartbeats().await }));
        }
        Ok(svc)
    }

    pub fn db(&self) -> &Db {
        &self.db
    }

    /// The compute slots, for the other kinds of job to share.
    pub fn slots(&self) -> Arc<Semaphore> {
        self.slots.clone()
    }

    pub fn data_dir(&self) -> &std::path::Path {
        &self.data_dir
    }

    pub fn subscribe(&self) -> broadcast::Receiver<LiveEvent> {
        self.live.subscribe()
    }

    /// Sends an event, already committed, to live followers (none listening is fine).
    pub(crate) fn publish(&self, event: LiveEvent) {
        let _ = self.live.send(event);
    }

    pub(crate) fn workers(&self) -> &Workers {
        &self.workers
    }

    /// Whether the worker of `run` should stop (cancelled, shutting down, or not ours).
    pub(crate) fn worker_should_stop(&self, run: i64) -> bool {
        self.queue.is_shutting_down() || self.workers.should_stop(run)
    }

    pub(crate) fn note_worker_end(&self, run: i64, end: crate::worker::protocol::End) {
        self.workers.ended(run, end);
    }

    /// What this server cannot run of `spec` (backend, data), as field errors under `prefix`.
    fn unrunnable(&self, spec: &RunSpec, prefix: &str) -> Vec<FieldError> {
        let mut errors = Vec::new();
        if !trainer::device::is_available(spec.backend) {
            errors.push(FieldError {
                field: format!("{prefix}backend"),
                message: "this server was built without CUDA; rebuild with `--features cuda` or choose cpu".into(),
            });
        }
        if let experiment::Experiment::Net(net) = &spec.experiment
            && let Some(why) = trainer::net::data::missing(net, &self.data_dir)
        {
            errors.push(FieldError {
                field: format!("{prefix}experiment.dataset"),
                message: hide_paths(&why, &self.data_dir),
            });
        }
        errors
    }

    /// Validates and queues a run.
    pub async fn submit(&self, spec: RunSpec) -> Result<Result<i64, Vec<FieldError>>, DbError> {
        let seed = spec.seed;
        Ok(self
            .submit_replicates(spec, &[seed])
            .await?
            .map(|ids| ids[0]))
    }

    /// Validates and queues one run per seed, on the spec's data (see `RunSpec::replicate`),
    /// atomically.
    pub async fn submit_replicates(
        &self,
        spec: RunSpec,
        seeds: &[u64],
    ) -> Result<Result<Vec<i64>, Vec<FieldError>>, DbError> {
        let mut errors = spec.validate().err().unwrap_or_default();
        experiment::check_seeds(&[], seeds, &mut errors);
        if errors.is_empty() {
            errors.extend(self.unrunnable(&spec, ""));
        }
        if !errors.is_empty() {
            return Ok(Err(errors));
        }
        let specs: Vec<RunSpec> = seeds
            .iter()
            .map(|&s| {
                let mut r = spec.replicate(s);
                if seeds.len() > 1 {
                    let base = if r.name.is_empty() {
                        "run"
                    } else {
                        r.name.as_str()
                    };
                    r.name = format!("{base} · seed {s}");
                }
                r
            })
            .collect();
        let ids = self.db.insert_runs(&specs).await?;
        self.announce_queued(&ids).await?;
        Ok(Ok(ids))
    }

    /// Tells followers that these runs are queued, and wakes a worker for them.
    async fn announce_queued(&self, ids: &[i64]) -> Result<(), DbError> {
        for &id in ids {
            self.announce(
                id,
                EventKind::Status,
                StatusChange::new(RunStatus::Queued, None),
            )
            .await?;
        }
        self.queue.wake();
        Ok(())
    }

    /// Validates and queues a sweep: its main run and every branch.
    pub async fn submit_sweep(
        &self,
        sweep: experiment::SweepSpec,
    ) -> Result<Result<(i64, Vec<i64>), Vec<FieldError>>, DbError> {
        let mut errors = sweep.validate().err().unwrap_or_default();
        if errors.is_empty() {
            errors.extend(self.unrunnable(&sweep.main, "main."));
        }
        if !errors.is_empty() {
            return Ok(Err(errors));
        }
        let (sweep_id, ids) = self.db.insert_sweep(&sweep).await?;
        self.announce_queued(&ids).await?;
        Ok(Ok((sweep_id, ids)))
    }

    /// Validates and queues more seeds of a stored sweep: a main run and every branch for each.
    /// Ok(None) when the sweep does not exist.
    pub async fn add_sweep_seeds(
        &self,
        sweep_id: i64,
        more: Vec<u64>,
    ) -> Result<Option<Result<Vec<i64>, Vec<FieldError>>>, DbError> {
        let added = self
            .db
            .add_sweep_seeds(sweep_id, |old| {
                let mut errs = Vec::new();
                experiment::check_seeds(&old.seeds(), &more, &mut errs);
                if errs.is_empty() {
                    errs.extend(self.unrunnable(&old.main, "main."));
                }
                if !errs.is_empty() {
                    return Err(errs);
                }
                let mut new = old.clone();
                new.seeds = old.seeds();
                new.seeds.extend(&more);
                Ok(new)
            })
            .await?;
        if let Some(Ok(ids)) = &added {
            self.announce_queued(ids).await?;
        }
        Ok(added)
    }

    /// Cancels a queued or running run; false if it had already finished (or doesn't exist).
    pub async fn cancel(&self, id: i64) -> Result<bool, DbError> {
        if self
            .db
            .transition(
                id,
                &[RunStatus::Queued],
                RunStatus::Cancelled,
                Some("cancelled before it started"),
            )
            .await?
        {
            self.announce(
                id,
                EventKind::Done,
                StatusChange::new(
                    RunStatus::Cancelled,
                    Some("cancelled before it started".into()),
                ),
            )
            .await?;
            return Ok(true);
        }
        let running = self
            .db
            .get_run(id)
            .await?
            .is_some_and(|r| r.status == RunStatus::Running);
        Ok(running && self.queue.cancel_claimed(id).await)
    }

    /// Puts an interrupted run back in the queue; it continues from its last checkpoint into
    /// the same run id. False if the run is not interrupted.
    pub async fn resume(&self, id: i64) -> Result<bool, DbError> {
        if !self
            .db
            .transition(id, &[RunStatus::Interrupted], RunStatus::Queued, None)
            .await?
        {
            return Ok(false);
        }
        // The interruption's message and end time describe a run that is no longer stopped.
        self.db.clear_outcome(id).await?;
        self.announce(
            id,
            EventKind::Status,
            StatusChange::new(RunStatus::Queued, Some("resuming".into())),
        )
        .await?;
        self.queue.wake();
        Ok(true)
    }

    /// Stops every worker; running runs end as interrupted after their current step.
    pub async fn shutdown(&self) {
        self.queue.shutdown().await;
    }

    /// Whether shutdown has begun (Ctrl-C in a headless command).
    pub fn is_stopping(&self) -> bool {
        self.queue.is_shutting_down()
    }

    /// Resolves once shutdown has begun (at once if it has), for streams to close.
    pub async fn stopping(&self) {
        self.queue.stopped().await;
    }

    /// Records a status change as an event.
    async fn announce(
        &self,
        id: i64,
        kind: EventKind,
        change: StatusChange,
    ) -> Result<i64, DbError> {
        self.record(id, kind, None, &json(&change)).await
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
        // No receivers is fine: nobody is watching.
        let _ = self.live.send(LiveEvent {
            run_id,
            seq: Some(seq),
            kind: kind.as_str(),
            data: data.into(),
        });
        Ok(seq)
    }

    async fn watch_heartbeats(self: Arc<Self>) {
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

    /// Claims one queued run and trains it here, also showing every event to `observer`.
    /// Returns the final status, or None if the run was not queued.
    pub async fn run_one(
        self: Arc<Self>,
        id: i64,
        observer: Observer,
    ) -> Result<Option<RunStatus>, DbError> {
        if !self.db.claim(id).await? {
            return Ok(None);
        }
        let Some(run) = self.db.get_run(id).await? else {
            return Ok(None);
        };
        let job = RunJob {
            run,
            observer: Some(observer),
            adopt: None,
        };
        self.queue.run(self.clone(), id, job).await;
        Ok(self.db.get_run(id).await?.map(|r| r.status))
    }

    /// Where a stored checkpoint path points: relative to the data directory (so the directory
    /// can be moved), or absolute as rows written before relative paths were.
    pub fn checkpoint_path(&self, stored: &str) -> PathBuf {
        let p = PathBuf::from(stored);
        if p.is_absolute() {
            p
        } else {
            self.data_dir.join(p)
        }
    }

    /// Where a run starts from: its own newest checkpoint (a resumed run), else its parent's at
    /// the branch point; and the last step it already stored.
    pub(crate) async fn starting_point(
        &self,
        id: i64,
    ) -> Result<(Option<PathBuf>, Option<u64>), DbError> {
        let mut resume_from = self
            .db
            .latest_checkpoint(id)
            .await?
            .map(|(_, p)| self.checkpoint_path(&p));
        if resume_from.is_none()
            && let Some((parent, epoch)) = self.db.branch_origin(id).await?
        {
            resume_from = self
                .db
                .checkpoint_at(parent, epoch)
                .await?
                .map(|p| self.checkpoint_path(&p));
        }
        Ok((resume_from, self.db.last_metric_step(id).await?))
    }

    /// Trains a claimed run here, in `spawn_blocking`.
    async fn train_here(
        self: Arc<Self>,
        job: RunJob,
        stop: StopFlag,
    ) -> Result<Finished<()>, String> {
        let id = job.run.id;
        let (resume_from, skip_through) = match self.starting_point(id).await {
            Ok(v) => v,
            Err(e) => {
                tracing::error!(run.id = id, error = %e, "reading a run's checkpoints failed");
                (None, None)
            }
        };
        let ctx = trainer::TrainContext {
            data_root: self.data_dir.clone(),
            checkpoint_dir: Some(self.data_dir.join("checkpoints").join(format!("run-{id}"))),
            resume_from,
        };
        let svc = self.clone();
        let handle = tokio::runtime::Handle::current();
        let spec = job.run.spec;
        let observer = job.observer;
        let result = tokio::task::spawn_blocking(move || {
            let mut sink = DbSink {
                svc,
                handle,
                run_id: id,
                last_progress: None,
                last_heartbeat: Instant::now(),
                skip_through,
                observer,
            };
            trainer::train(&spec, &ctx, &mut sink, &stop)
        })
        .await;
        match result {
            Ok(Ok(Outcome::Completed)) => Ok(Finished::Completed(())),
            Ok(Ok(Outcome::Stopped { at_step })) => Ok(Finished::Stopped {
                at_step: Some(at_step),
            }),
            Ok(Err(e)) => Err(hide_paths(&e.to_string(), &self.data_dir)),
            // The queue reports a panic as one; pass it on.
            Err(join) => match join.try_into_panic() {
                Ok(panic) => std::panic::resume_unwind(panic),
                Err(_) => Err("internal error while training".into()),
            },
        }
    }

    async fn record_end(&self, id: i64, ended: Ended<()>) -> Result<(), DbError> {
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

    /// The metric rows of several runs, for charts and summaries that show them together.
    pub async fn metrics_of(
        &self,
        run_ids: impl IntoIterator<Item = i64>,
    ) -> Result<Vec<RunMetrics>, DbError> {
        let mut out = Vec::new();
        for run_id in run_ids {
            let points = self
                .metrics(run_id)
                .await?
                .into_iter()
                .map(|(_, p)| p)
                .collect();
            out.push(RunMetrics { run_id, points });
        }
        Ok(out)
    }

    /// Every stored metric row of a run, oldest first.
    pub async fn metrics(&self, id: i64) -> Result<Vec<(i64, MetricPoint)>, DbError> {
        let mut out = Vec::new();
        let mut after = 0;
        loop {
            let page = self.db.events_after(id, after, 1000).await?;
            let Some(last) = page.last() else { break };
            after = last.seq;
            for e in page.into_iter().filter(|e| e.kind == EventKind::Metric) {
                let p: MetricPoint = serde_json::from_str(&e.data)
                    .map_err(|err| DbError::Corrupt(err.to_string()))?;
                out.push((e.seq, p));
            }
        }
        Ok(out)
    }
}

impl JobKind for RunService {
    type Job = RunJob;
    type Output = ();
    const NOUN: &'static str = "run";

    fn queue(&self) -> &JobQueue<Self> {
        &self.queue
    }

    fn claim_next(&self) -> Claim<'_, RunJob> {
        Box::pin(async move {
            Ok(self.db.claim_next().await?.map(|run| {
                (
                    run.id,
                    RunJob {
                        run,
                        observer: None,
                        adopt: None,
                    },
                )
            }))
        })
    }

    fn execute(
        self: Arc<Self>,
        _id: i64,
        job: RunJob,
        stop: StopFlag,
    ) -> BoxFut<'static, Result<Finished<()>, String>> {
        // Each executor records itself: `local` with the device, the others at dispatch.
        Box::pin(async move {
            match self.executor.clone() {
                Executor::Local => self.train_here(job, stop).await,
                Executor::Process(cfg) => self.train_in_worker(job, stop, &cfg).await,
                Executor::Slurm(cfg) => {
                    self.train_in_slurm(job, stop, &crate::slurm::Slurm::new(cfg))
                        .await
                }
            }
        })
    }

    fn finish(&self, id: i64, ended: Ended<()>) -> BoxFut<'_, Result<(), DbError>> {
        Box::pin(self.record_end(id, ended))
    }
}

pub(crate) fn json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).expect("wire types serialise to JSON")
}

/// Writes training events to the database from the blocking training thread.
struct DbSink {
    svc: Arc<RunService>,
    handle: tokio::runtime::Handle,
    run_id: i64,
    last_progress: Option<Instant>,
    last_heartbeat: Instant,
    /// A resumed run re-trains from its last checkpoint; rows it already stored (identical,
    /// since training is deterministic) are not stored again.
    skip_through: Option<u64>,
    observer: Option<Observer>,
}

/// Moves a checkpoint folder into the content-addressed store `objects/<sha-256 of its files>`
/// and returns where it now lives. Identical checkpoints (a branch's copy of its parent's
/// state, say) are stored once.
fn store_checkpoint(dir: &std::path::Path, objects: &std::path::Path) -> std::io::Result<PathBuf> {
    let files = crate::worker::protocol::read_files(dir)?;
    std::fs::create_dir_all(objects)?;
    let target = objects.join(crate::worker::protocol::object_id(&files));
    if target.exists() {
        std::fs::remove_dir_all(dir)?;
    } else {
        std::fs::rename(dir, &target)?;
    }
    Ok(target)
}

/// Replaces the data directory's absolute location in a user-facing message, so errors never
/// show where the server keeps its files.
pub(crate) fn hide_paths(message: &str, data_dir: &std::path::Path) -> String {
    // The system's dataset folder is a path of this server too.
    let mut out = message.replace(datasets::SYSTEM_DATASETS, "<system datasets>");
    for p in [
        std::fs::canonicalize(data_dir).ok(),
        Some(data_dir.to_path_buf()),
    ]
    .into_iter()
    .flatten()
    {
        let p = p.to_string_lossy().into_owned();
        if !p.is_empty() && p != "." {
            out = out.replace(&p, "<data dir>");
        }
    }
    out
}

/// Sees every training event after it is recorded (the CLI's progress bar).
pub type Observer = Box<dyn FnMut(&Event) + Send>;

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

impl DbSink {
    fn record(&mut self, event: Event) -> Result<(), SinkError> {
        let (svc, id) = (&self.svc, self.run_id);
        let db_err = |e: DbError| SinkError(e.to_string());
        match event {
            Event::Started {
                backend, device, ..
            } => self.handle.block_on(async {
                svc.db
                    .set_device(id, &backend, &device, Some("local"))
                    .await
                    .map_err(db_err)?;
                let change = StatusChange {
                    status: RunStatus::Running,
                    message: None,
                    backend: Some(backend),
                    device: Some(device),
                };
                svc.record(id, EventKind::Status, None, &json(&change))
                    .await
                    .map_err(db_err)?;
                Ok(())
            }),
            Event::Metric(row) if self.skip_through.is_some_and(|s| row.step <= s) => Ok(()),
            Event::Metric(row) => {
                let point = MetricPoint {
                    step: row.step,
                    epoch: row.epoch,
                    values: row.values,
                };
                self.handle
                    .block_on(svc.record(id, EventKind::Metric, Some(point.step), &json(&point)))
                    .map_err(db_err)?;
                Ok(())
            }
            Event::Checkpoint { epoch, step, dir } => {
                let stored =
                    store_checkpoint(&dir, &svc.data_dir.join("checkpoints").join("objects"))
                        .map_err(|e| {
                            SinkError(format!("storing the checkpoint of epoch {epoch}: {e}"))
                        })?;
                // Stored relative to the data directory, so that the directory can be moved.
                let path = stored
                    .strip_prefix(&svc.data_dir)
                    .unwrap_or(&stored)
                    .to_string_lossy()
                    .into_owned();
                self.handle
                    .block_on(svc.db.insert_checkpoint(id, epoch, step, &path))
                    .map_err(db_err)
            }
            Event::Progress {
                step,
                total_steps,
                samples_per_sec,
            } => {
                if self
                    .last_progress
                    .is_some_and(|t| t.elapsed() < PROGRESS_EVERY)
                {
                    return Ok(());
                }
                self.last_progress = Some(Instant::now());
                let p = Progress {
                    step,
                    total_steps,
                    samples_per_sec,
                };
                let _ = svc.live.send(LiveEvent {
                    run_id: id,
                    seq: None,
                    kind: "progress",
                    data: json(&p).into(),
                });
                if self.last_heartbeat.elapsed() >= HEARTBEAT_EVERY {
                    self.last_heartbeat = Instant::now();
                    self.handle
                        .block_on(svc.db.set_heartbeat(id))
                        .map_err(db_err)?;
                }
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checkpoints_are_stored_by_content_once() {
        let tmp = crate::testing::TempDir::new("cas");
        let root = tmp.path().to_owned();
        let write = |name: &str, body: &str| {
            let d = root.join(name);
            std::fs::create_dir_all(&d).expect("dir");
            std::fs::write(d.join("model.bin"), body).expect("write");
            std::fs::write(d.join("position.json"), "{}").expect("write");
            d
        };
        let objects = root.join("objects");
        let a = store_checkpoint(&write("a", "weights"), &objects).expect("stored");
        let b = store_checkpoint(&write("b", "weights"), &objects).expect("stored");
        let c = store_checkpoint(&write("c", "other"), &objects).expect("stored");
        assert_eq!(a, b, "same content, same object");
        assert_ne!(a, c);
        assert!(
            a.join("model.bin").exists() && !root.join("a").exists() && !root.join("b").exists()
        );
        let _ = std::fs::remove_dir_all(&root);
    }

    #[test]
    fn messages_do_not_show_the_data_directory() {
        let dir = std::path::Path::new("/srv/anneal-data");
        let m = hide_paths(
            "cannot write /srv/anneal-data/checkpoints/x: disk full",
            dir,
        );
        assert_eq!(m, "cannot write <data dir>/checkpoints/x: disk full");
        let mnist = hide_paths(
            "MNIST not found in /usr/share/datasets/mnist (missing train-images-idx3-ubyte.gz).",
            dir,
        );
        assert!(!mnist.contains("/usr/share"), "{mnist}");
    }
}
