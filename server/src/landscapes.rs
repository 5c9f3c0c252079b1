//! Loss-landscape jobs: validated at submission, queued in SQLite, computed by the trainer in
//! `spawn_blocking` in the compute slots training uses (one by default), with throttled progress
//! in the database for the SSE stream, cancel, and the finished maps stored for instant reopening.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use domain::{BoxFut, Metric};

use domain::wire::{
    FieldError, LandscapeMethod, LandscapeRequest, LandscapeSource, LandscapeSummary, RunStatus,
    RunSummary,
};
use experiment::Experiment;
use tokio::sync::broadcast;
use trainer::StopFlag;
use trainer::landscape::{LandscapeProgress, PathInput, ToyPathInput};

use crate::db::DbError;
use crate::queue::{Claim, Ended, Finished, JobKind, JobQueue};
use crate::redact::hide_paths;
use crate::runs::RunService;

/// Progress is written at most this often; the grid reports after every point.
const PROGRESS_EVERY: Duration = Duration::from_millis(250);

pub struct LandscapeService {
    runs: Arc<RunService>,
    queue: JobQueue<LandscapeService>,
    /// Every change of a job's row (claim, progress, end), published after it is committed:
    /// the progress stream follows this instead of polling the database.
    live: broadcast::Sender<LandscapeSummary>,
}

/// A claimed landscape job.
pub struct LandscapeJob {
    source: LandscapeSource,
    spec: experiment::landscape::LandscapeSpec,
}

fn field(field: &str, message: impl Into<String>) -> FieldError {
    FieldError {
        field: field.into(),
        message: message.into(),
    }
}

/// What a job computes over: the main run's model, data and seed, and the trajectories.
enum Inputs {
    Net {
        net: experiment::NetSpec,
        backend: experiment::BackendChoice,
        /// The data the runs trained on (the sweep's replicates share it).
        data_seed: u64,
        paths: Vec<PathInput>,
    },
    Toy {
        toy: experiment::ToySpec,
        data_seed: u64,
        paths: Vec<ToyPathInput>,
    },
}

impl LandscapeService {
    /// Re-queues jobs a previous process left running and starts the worker (none when
    /// `worker` is false, for the headless CLI). It shares the run service's compute slots.
    pub async fn start(runs: Arc<RunService>, worker: bool) -> Result<Arc<Self>, DbError> {
        let (live, _) = broadcast::channel(256);
        let svc = Arc::new(Self {
            queue: JobQueue::new(runs.slots()),
            runs,
            live,
        });
        if worker {
            for id in svc.runs.db().requeue_running_landscapes().await? {
                tracing::warn!(
                    landscape.id = id,
                    "landscape was computing when the server stopped; queued again"
                );
            }
            svc.queue.start_workers(&svc, 1);
        }
        Ok(svc)
    }

    pub fn subscribe(&self) -> broadcast::Receiver<LandscapeSummary> {
        self.live.subscribe()
    }

    /// Resolves once shutdown has begun (at once if it has), for streams to close.
    pub async fn stopping(&self) {
        self.queue.stopped().await;
    }

    /// Reads a job's committed row and shows it to live followers.
    async fn publish(&self, id: i64) -> Result<(), DbError> {
        if let Some(row) = self.runs.db().get_landscape(id).await? {
            // No receivers is fine: nobody is watching.
            let _ = self.live.send(row);
        }
        Ok(())
    }

    /// Ends a job in storage, then publishes its new state.
    async fn end(
        &self,
        id: i64,
        status: RunStatus,
        message: Option<&str>,
        result: Option<&domain::wire::Landscape>,
    ) -> Result<bool, DbError> {
        let changed = self
            .runs
            .db()
            .finish_landscape(id, &[RunStatus::Running], status, message, result)
            .await?;
        self.publish(id).await?;
        Ok(changed)
    }

    /// Validates a request against what is stored and queues it.
    pub async fn submit(
        &self,
        req: LandscapeRequest,
    ) -> Result<Result<i64, Vec<FieldError>>, DbError> {
        let mut errors: Vec<FieldError> = match req.spec.validate() {
            Ok(()) => Vec::new(),
            Err(errs) => errs
                .into_iter()
                .map(|e| field(&format!("spec.{}", e.field), e.message))
                .collect(),
        };
        let (name, runs) = match self.source_runs(req.source).await? {
            Ok(v) => v,
            Err(e) => {
                errors.push(e);
                return Ok(Err(errors));
            }
        };
        if let Some(unfinished) = runs.iter().find(|r| r.status != RunStatus::Completed) {
            errors.push(field(
                "source.id",
                format!(
                    "run {} is {}: a landscape needs finished runs",
                    unfinished.id,
                    unfinished.status.as_str()
                ),
            ));
        }
        let main = &runs[0];
        match &main.spec.experiment {
            Experiment::Toy(t) if t.d != 2 => errors.push(field(
                "source.id",
                format!(
                    "the toy model's landscape is drawn exactly in (w₁, w₂), so it needs d = 2 \
                     (this run has d = {})",
                    t.d
                ),
            )),
            Experiment::Toy(_) => {}
            Experiment::Net(_) => {
                let n = self.runs.db().checkpoints_of(main.id).await?.len();
                let need = match req.spec.method {
                    LandscapeMethod::RandomFilterNormalized { .. } => 1,
                    _ => 3,
                };
                if n < need {
                    errors.push(field(
                        "source.id",
                        format!(
                            "the main run has {n} checkpoint(s); this method needs at least {need} \
                             (train with a checkpoint every epoch)"
                        ),
                    ));
                }
            }
        }
        if !errors.is_empty() {
            return Ok(Err(errors));
        }
        let plane = match main.spec.experiment {
            Experiment::Toy(_) => "exact (w₁, w₂)",
            Experiment::Net(_) => req.spec.method.label(),
        };
        let name = format!("{name} · {plane}");
        let id = self
            .runs
            .db()
            .insert_landscape(&name, req.source, &req.spec)
            .await?;
        self.queue.wake();
        Ok(Ok(id))
    }

    /// The runs of a source, main run first, with a display name; unknown ids are field errors.
    async fn source_runs(
        &self,
        source: LandscapeSource,
    ) -> Result<Result<(String, Vec<RunSummary>), FieldError>, DbError> {
        let db = self.runs.db();
        Ok(match source {
            LandscapeSource::Run { id } => match db.get_run(id).await? {
                Some(run) => Ok((format!("Run {id} · {}", run.name), vec![run])),
                None => Err(field("source.id", "there is no run with this id")),
            },
            LandscapeSource::Sweep { id } => match db.get_sweep(id).await? {
                Some(s) if !s.runs.is_empty() => Ok((
                    format!("Sweep {id} · {}", s.name),
                    s.runs.into_iter().map(|r| r.run).collect(),
                )),
                _ => Err(field("source.id", "there is no sweep with this id")),
            },
        })
    }

    /// Cancels a queued or computing job; false when it had already ended or does not exist.
    pub async fn cancel(&self, id: i64) -> Result<bool, DbError> {
        let cancelled = self
            .runs
            .db()
            .finish_landscape(
                id,
                &[RunStatus::Queued],
                RunStatus::Cancelled,
                Some("cancelled before it started"),
                None,
            )
            .await?;
        if cancelled {
            self.publish(id).await?;
            return Ok(true);
        }
        let running = self
            .runs
            .db()
            .get_landscape(id)
            .await?
            .is_some_and(|l| l.status == RunStatus::Running);
        Ok(running && self.queue.cancel_claimed(id).await)
    }

    /// Stops the worker; a job in progress goes back to the queue for the next start.
    pub async fn shutdown(&self) {
        self.queue.shutdown().await;
    }

    /// Collects the trajectories of a source: checkpoints for networks, (w₁, w₂) rows for the toy.
    async fn inputs(&self, source: LandscapeSource) -> Result<Result<Inputs, String>, DbError> {
        let db = self.runs.db();
        let (branches, main) = match source {
            LandscapeSource::Run { id } => match db.get_run(id).await? {
                Some(run) => (Vec::new(), run),
                None => return Ok(Err("the run no longer exists".into())),
            },
            LandscapeSource::Sweep { id } => match db.get_sweep(id).await? {
                Some(s) => {
                    // A replicated sweep is drawn through its first seed's paths: one plane
                    // holds one main path and the branches taken from it.
                    let first = s.runs.first().map(|r| r.seed);
                    let mut runs = s.runs.into_iter().filter(|r| Some(r.seed) == first);
                    let Some(main) = runs.next() else {
                        return Ok(Err("the sweep has no runs".into()));
                    };
                    let unit = s.spec.unit_steps();
                    let branches: Vec<(u64, u64, RunSummary)> = runs
                        .filter_map(|r| r.branch_at.map(|k| (k, k * unit, r.run)))
                        .collect();
                    (branches, main.run)
                }
                None => return Ok(Err("the sweep no longer exists".into())),
            },
        };
        let tag = |id: i64| Some(id.to_string());
        Ok(Ok(match &main.spec.experiment {
            Experiment::Net(net) => {
                let runs = &self.runs;
                let ckpts = |rows: Vec<(u32, String)>| -> Vec<(f64, PathBuf)> {
                    rows.into_iter()
                        .map(|(e, p)| (f64::from(e), runs.checkpoint_path(&p)))
                        .collect()
                };
                let mut paths = vec![PathInput {
                    label: "main".into(),
                    run_id: tag(main.id),
                    checkpoints: ckpts(db.checkpoints_of(main.id).await?),
                }];
                for (k, _, run) in branches {
                    let mut checkpoints = Vec::new();
                    if let Some(p) = db
                        .checkpoint_at(main.id, u32::try_from(k).unwrap_or(u32::MAX))
                        .await?
                    {
                        checkpoints.push((k as f64, self.runs.checkpoint_path(&p)));
                    }
                    checkpoints.extend(ckpts(db.checkpoints_of(run.id).await?));
                    paths.push(PathInput {
                        label: format!("k={k}"),
                        run_id: tag(run.id),
                        checkpoints,
                    });
                }
                Inputs::Net {
                    net: net.clone(),
                    backend: main.spec.backend,
                    data_seed: main.spec.data_seed(),
                    paths,
                }
            }
            Experiment::Toy(toy) => {
                let points = |rows: Vec<(i64, domain::wire::MetricPoint)>, from: u64| {
                    rows.into_iter()
                        .filter(|(_, p)| p.step >= from)
                        .filter_map(|(_, p)| {
                            Some((p.epoch, [p.get(Metric::W1)?, p.get(Metric::W2)?]))
                        })
                        .collect::<Vec<_>>()
                };
                let mut paths = vec![ToyPathInput {
                    label: "main".into(),
                    run_id: tag(main.id),
                    points: points(self.runs.metrics(main.id).await?, 0),
                }];
                for (k, from, run) in branches {
                    paths.push(ToyPathInput {
                        label: format!("k={k}"),
                        run_id: tag(run.id),
                        points: points(self.runs.metrics(run.id).await?, from),
                    });
                }
                if paths[0].points.is_empty() {
                    return Ok(Err(
                        "the run's metric rows carry no (w₁, w₂): it was trained before Anneal \
                         recorded them; train it again"
                            .into(),
                    ));
                }
                Inputs::Toy {
                    toy: toy.clone(),
                    data_seed: main.spec.data_seed(),
                    paths,
                }
            }
        }))
    }

    /// Computes a claimed job here, in `spawn_blocking`, writing throttled progress.
    async fn compute_here(
        self: Arc<Self>,
        id: i64,
        job: LandscapeJob,
        stop: StopFlag,
    ) -> Result<Finished<domain::wire::Landscape>, String> {
        let storage = |e: DbError| {
            tracing::error!(landscape.id = id, error = %e, "landscape job failed in storage");
            "the server could not read or store this landscape".to_owned()
        };
        self.publish(id).await.map_err(storage)?;
        let inputs = self.inputs(job.source).await.map_err(storage)??;
        let data_dir = self.runs.data_dir().to_path_buf();
        let handle = tokio::runtime::Handle::current();
        let svc = self.clone();
        let spec = job.spec;
        let result = tokio::task::spawn_blocking(move || {
            let mut last: Option<Instant> = None;
            let mut progress = |p: LandscapeProgress| {
                let due = last.is_none_or(|t| t.elapsed() >= PROGRESS_EVERY) || p.done == p.total;
                if due {
                    last = Some(Instant::now());
                    // Progress is advisory: a failed write must not end the job.
                    let _ = handle.block_on(async {
                        svc.runs
                            .db()
                            .set_landscape_progress(id, p.phase, p.done, p.total)
                            .await?;
                        svc.publish(id).await
                    });
                }
            };
            match inputs {
                Inputs::Net {
                    net,
                    backend,
                    data_seed,
                    paths,
                } => trainer::landscape::net_landscape(
                    &net,
                    backend,
                    data_seed,
                    &spec,
                    &paths,
                    &data_dir,
                    &data_dir.join("scratch"),
                    &mut progress,
                    &stop,
                ),
                Inputs::Toy {
                    toy,
                    data_seed,
                    paths,
                } => trainer::landscape::toy_landscape(
                    &toy,
                    data_seed,
                    &spec,
                    &paths,
                    &mut progress,
                    &stop,
                ),
            }
        })
        .await;
        match result {
            Ok(Ok(Some(landscape))) => Ok(Finished::Completed(landscape)),
            Ok(Ok(None)) => Ok(Finished::Stopped { at_step: None }),
            Ok(Err(e)) => Err(hide_paths(&e.to_string(), self.runs.data_dir())),
            // The queue reports a panic as one; pass it on.
            Err(join) => match join.try_into_panic() {
                Ok(panic) => std::panic::resume_unwind(panic),
                Err(_) => Err("internal error while computing".into()),
            },
        }
    }

    async fn record_end(
        &self,
        id: i64,
        ended: Ended<domain::wire::Landscape>,
    ) -> Result<(), DbError> {
        match ended {
            Ended::Completed(landscape) => {
                tracing::info!(
                    landscape.id = id,
                    secs = landscape.elapsed_secs,
                    "landscape finished"
                );
                self.end(id, RunStatus::Completed, None, Some(&landscape))
                    .await?;
            }
            Ended::Cancelled { .. } => {
                self.end(id, RunStatus::Cancelled, Some("cancelled"), None)
                    .await?;
            }
            // Shutting down: the next start computes it again from the same checkpoints.
            Ended::Interrupted { .. } => {
                self.end(id, RunStatus::Queued, None, None).await?;
            }
            Ended::Failed(msg) => {
                self.end(id, RunStatus::Failed, Some(&msg), None).await?;
            }
            Ended::Panicked => {
                self.end(
                    id,
                    RunStatus::Failed,
                    Some("internal error while computing"),
                    None,
                )
                .await?;
            }
        }
        Ok(())
    }
}

impl JobKind for LandscapeService {
    type Job = LandscapeJob;
    type Output = domain::wire::Landscape;
    const NOUN: &'static str = "landscape";

    fn queue(&self) -> &JobQueue<Self> {
        &self.queue
    }

    fn claim_next(&self) -> Claim<'_, LandscapeJob> {
        Box::pin(async move {
            Ok(self.runs.db().claim_next_landscape().await?.map(|job| {
                (
                    job.id,
                    LandscapeJob {
                        source: job.source,
                        spec: job.spec,
                    },
                )
            }))
        })
    }

    fn execute(
        self: Arc<Self>,
        id: i64,
        job: LandscapeJob,
        stop: StopFlag,
    ) -> BoxFut<'static, Result<Finished<Self::Output>, String>> {
        Box::pin(self.compute_here(id, job, stop))
    }

    fn finish(&self, id: i64, ended: Ended<Self::Output>) -> BoxFut<'_, Result<(), DbError>> {
        Box::pin(self.record_end(id, ended))
    }
}
