//! The run service: training runs as a kind of job on the one queue (durable in the database),
//! trained wherever its executor puts them, with every event broadcast *after* it is committed,
//! for SSE followers. Submission and control are in `submit`, how runs end in `outcome`, what
//! executors may ask of the service in `host`, and the in-process recording in `sink`.

mod host;
mod outcome;
mod sink;
mod submit;

use std::path::PathBuf;
use std::sync::Arc;

use domain::BoxFut;
use domain::wire::{MetricPoint, RunMetrics, RunStatus, StatusChange};
use tokio::sync::{Semaphore, broadcast};
use trainer::StopFlag;

use crate::db::{Db, DbError, EventKind};
use crate::events::{Events, LiveEvent};
use crate::executor::local::Local;
use crate::executor::{Executor, Observer, RunJob};
use crate::ingest::{Ingest, WorkerJobs};
use crate::objects::CheckpointStore;
use crate::queue::{Claim, Ended, Finished, JobKind, JobQueue};
use crate::registry::Registry;

pub struct RunService {
    db: Db,
    data_dir: PathBuf,
    events: Events,
    store: CheckpointStore,
    queue: JobQueue<RunService>,
    /// Compute slots shared by training and landscape jobs: together they never run more
    /// jobs at once than the configured concurrency.
    slots: Arc<Semaphore>,
    /// Where claimed runs train.
    executor: Arc<dyn Executor>,
    /// Worker jobs in flight (executors other than `local`), shared with the ingest.
    worker_jobs: Arc<WorkerJobs>,
    ingest: Ingest,
    /// Registered datasets: a submitted run's is resolved and pinned here.
    registry: Registry,
}

impl RunService {
    /// Recovers from a previous crash and starts `max_concurrent` workers. With 0 workers
    /// (the headless CLI) nothing is recovered: a server may own those runs.
    pub async fn start(
        db: Db,
        data_dir: PathBuf,
        max_concurrent: usize,
    ) -> Result<Arc<Self>, DbError> {
        Self::start_with(db, data_dir, max_concurrent, Arc::new(Local)).await
    }

    /// As `start`, training claimed runs with `executor`.
    pub async fn start_with(
        db: Db,
        data_dir: PathBuf,
        max_concurrent: usize,
        executor: Arc<dyn Executor>,
    ) -> Result<Arc<Self>, DbError> {
        let slots = Arc::new(Semaphore::new(max_concurrent));
        let run_slots = executor.slots(max_concurrent);
        let events = Events::new(db.clone());
        let store = CheckpointStore::new(data_dir.clone());
        let worker_jobs = Arc::new(WorkerJobs::default());
        let svc = Arc::new(Self {
            ingest: Ingest::new(
                db.clone(),
                store.clone(),
                events.clone(),
                worker_jobs.clone(),
            ),
            registry: Registry::new(db.clone(), data_dir.clone()),
            db,
            data_dir,
            events,
            store,
            queue: JobQueue::new(if run_slots == max_concurrent {
                slots.clone()
            } else {
                // Runs that use none of this machine's compute get their own slots, and
                // landscapes keep the local ones.
                Arc::new(Semaphore::new(run_slots))
            }),
            slots,
            executor,
            worker_jobs,
        });
        if max_concurrent > 0 {
            svc.recover().await?;
        }
        svc.queue.start_workers(&svc, run_slots);
        if max_concurrent > 0 {
            let w = svc.clone();
            svc.queue
                .attach(tokio::spawn(async move { w.watch_heartbeats().await }));
        }
        Ok(svc)
    }

    /// Runs a previous process left running: the executor's jobs that outlive the server (a
    /// restarted server adopts them, and their workers carry on) are watched again; every
    /// other one is marked interrupted.
    async fn recover(self: &Arc<Self>) -> Result<(), DbError> {
        let adopt = self.executor.left_running(&self.db).await?;
        let keep: Vec<i64> = adopt.iter().map(|(id, _)| *id).collect();
        for id in self.db.interrupt_orphans_but(&keep).await? {
            tracing::warn!(
                run.id = id,
                "run was left running by a previous process; marked interrupted"
            );
            self.announce(
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
            let Some(run) = self.db.get_run(id).await? else {
                continue;
            };
            tracing::info!(run.id = id, executor.job = %job, "adopting a job left by a previous server");
            let (svc, queue_job) = (
                self.clone(),
                RunJob {
                    run,
                    observer: None,
                    adopt: Some(job),
                },
            );
            self.queue.attach(tokio::spawn(async move {
                svc.queue().run(svc.clone(), id, queue_job).await;
            }));
        }
        Ok(())
    }

    pub fn db(&self) -> &Db {
        &self.db
    }

    /// The compute slots, for the other kinds of job to share.
    pub fn slots(&self) -> Arc<Semaphore> {
        self.slots.clone()
    }

    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    pub fn data_dir(&self) -> &std::path::Path {
        &self.data_dir
    }

    pub fn subscribe(&self) -> broadcast::Receiver<LiveEvent> {
        self.events.subscribe()
    }

    /// Commits an event, then publishes it. Returns its seq.
    pub async fn record(
        &self,
        run_id: i64,
        kind: EventKind,
        step: Option<u64>,
        data: &str,
    ) -> Result<i64, DbError> {
        self.events.record(run_id, kind, step, data).await
    }

    /// The worker protocol's server half, for the worker routes.
    pub fn ingest(&self) -> &Ingest {
        &self.ingest
    }

    /// Stops every worker; running runs end as interrupted after their current step.
    pub async fn shutdown(&self) {
        // Workers elsewhere hear it on their next heartbeat.
        self.worker_jobs.stop_all();
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

    /// Where a stored checkpoint path points (see `CheckpointStore::resolve`).
    pub fn checkpoint_path(&self, stored: &str) -> PathBuf {
        self.store.resolve(stored)
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
        let executor = self.executor.clone();
        Box::pin(async move { executor.train(self.as_ref(), job, stop).await })
    }

    fn finish(&self, id: i64, ended: Ended<()>) -> BoxFut<'_, Result<(), DbError>> {
        Box::pin(self.record_end(id, ended))
    }
}
