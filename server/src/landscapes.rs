//! Loss-landscape jobs: validated at submission, queued in SQLite, computed by the trainer in
//! `spawn_blocking` in the compute slots training uses (one by default), with throttled progress
//! in the database for the SSE stream, cancel, and the finished maps stored for instant reopening.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use app::wire::{
    FieldError, LandscapeMethod, LandscapeRequest, LandscapeSource, RunStatus, RunSummary,
};
use spec::Experiment;
use tokio::sync::Notify;
use trainer::StopFlag;
use trainer::landscape::{LandscapeProgress, PathInput, ToyPathInput};

use crate::db::DbError;
use crate::runs::{RunService, hide_paths, lock};

/// Progress is written at most this often; the grid reports after every point.
const PROGRESS_EVERY: Duration = Duration::from_millis(250);

pub struct LandscapeService {
    runs: Arc<RunService>,
    wake: Notify,
    /// Stop flags of running jobs, and whether the stop was a user's cancel.
    running: Mutex<HashMap<i64, (StopFlag, bool)>>,
    shutting_down: AtomicBool,
    /// Wakes a worker that waits for a compute slot when the server stops.
    stopping: Notify,
    worker: Mutex<Option<tokio::task::JoinHandle<()>>>,
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
        net: spec::NetSpec,
        backend: spec::BackendChoice,
        seed: u64,
        paths: Vec<PathInput>,
    },
    Toy {
        toy: spec::ToySpec,
        seed: u64,
        paths: Vec<ToyPathInput>,
    },
}

impl LandscapeService {
    /// Re-queues jobs a previous process left running and starts the worker (none when
    /// `worker` is false, for the headless CLI).
    pub async fn start(runs: Arc<RunService>, worker: bool) -> Result<Arc<Self>, DbError> {
        let svc = Arc::new(Self {
            runs,
            wake: Notify::new(),
            running: Mutex::default(),
            shutting_down: AtomicBool::new(false),
            stopping: Notify::new(),
            worker: Mutex::default(),
        });
        if worker {
            for id in svc.runs.db().requeue_running_landscapes().await? {
                tracing::warn!(
                    landscape.id = id,
                    "landscape was computing when the server stopped; queued again"
                );
            }
            let w = svc.clone();
            *lock(&svc.worker) = Some(tokio::spawn(async move { w.work().await }));
        }
        Ok(svc)
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
        self.wake.notify_one();
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
        if let Some((flag, by_user)) = lock(&self.running).get_mut(&id) {
            *by_user = true;
            flag.raise();
            return Ok(true);
        }
        self.runs
            .db()
            .finish_landscape(
                id,
                &[RunStatus::Queued],
                RunStatus::Cancelled,
                Some("cancelled before it started"),
                None,
            )
            .await
    }

    /// Stops the worker; a job in progress goes back to the queue for the next start.
    pub async fn shutdown(&self) {
        self.shutting_down.store(true, Ordering::SeqCst);
        for (flag, _) in lock(&self.running).values() {
            flag.raise();
        }
        self.stopping.notify_waiters();
        self.wake.notify_waiters();
        let handle = lock(&self.worker).take();
        if let Some(h) = handle {
            let _ = h.await;
        }
    }

    async fn work(self: Arc<Self>) {
        loop {
            if self.shutting_down.load(Ordering::SeqCst) {
                return;
            }
            let woken = self.wake.notified();
            let stopped = self.stopping.notified();
            // A run may hold the only slot for hours; shutting down must not wait for it.
            let slot = tokio::select! {
                s = self.runs.slot() => s,
                () = stopped => None,
            };
            let Some(slot) = slot else {
                return;
            };
            match self.runs.db().claim_next_landscape().await {
                Ok(Some(job)) => {
                    let _slot = slot;
                    let id = job.id;
                    if let Err(e) = self.clone().execute(id, job.source, job.spec).await {
                        tracing::error!(landscape.id = id, error = %e, "landscape job failed in storage");
                        let _ = self
                            .runs
                            .db()
                            .finish_landscape(
                                id,
                                &[RunStatus::Running],
                                RunStatus::Failed,
                                Some("the server could not read or store this landscape"),
                                None,
                            )
                            .await;
                    }
                    continue;
                }
                Ok(None) => drop(slot),
                Err(e) => {
                    drop(slot);
                    tracing::error!(error = %e, "claiming a landscape job failed");
                }
            }
            tokio::select! {
                () = woken => {}
                () = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
        }
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
                    let mut runs = s.runs.into_iter();
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
                let ckpts = |rows: Vec<(u32, String)>| -> Vec<(f64, PathBuf)> {
                    rows.into_iter()
                        .map(|(e, p)| (f64::from(e), PathBuf::from(p)))
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
                        checkpoints.push((k as f64, PathBuf::from(p)));
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
                    seed: main.spec.seed,
                    paths,
                }
            }
            Experiment::Toy(toy) => {
                let points = |rows: Vec<(i64, app::wire::MetricPoint)>, from: u64| {
                    rows.into_iter()
                        .filter(|(_, p)| p.step >= from)
                        .filter_map(|(_, p)| {
                            Some((p.epoch, [*p.values.get("w1")?, *p.values.get("w2")?]))
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
                    seed: main.spec.seed,
                    paths,
                }
            }
        }))
    }

    async fn execute(
        self: Arc<Self>,
        id: i64,
        source: LandscapeSource,
        spec: spec::landscape::LandscapeSpec,
    ) -> Result<(), DbError> {
        let db = self.runs.db().clone();
        let inputs = match self.inputs(source).await? {
            Ok(i) => i,
            Err(why) => {
                db.finish_landscape(
                    id,
                    &[RunStatus::Running],
                    RunStatus::Failed,
                    Some(&why),
                    None,
                )
                .await?;
                return Ok(());
            }
        };
        let stop = StopFlag::new();
        lock(&self.running).insert(id, (stop.clone(), false));
        if self.shutting_down.load(Ordering::SeqCst) {
            stop.raise();
        }
        tracing::info!(landscape.id = id, "landscape started");
        let data_dir = self.runs.data_dir().to_path_buf();
        let handle = tokio::runtime::Handle::current();
        let progress_db = db.clone();
        let job_stop = stop.clone();
        let result = tokio::task::spawn_blocking(move || {
            let mut last: Option<Instant> = None;
            let mut progress = |p: LandscapeProgress| {
                let due = last.is_none_or(|t| t.elapsed() >= PROGRESS_EVERY) || p.done == p.total;
                if due {
                    last = Some(Instant::now());
                    // Progress is advisory: a failed write must not end the job.
                    let _ = handle
                        .block_on(progress_db.set_landscape_progress(id, p.phase, p.done, p.total));
                }
            };
            match inputs {
                Inputs::Net {
                    net,
                    backend,
                    seed,
                    paths,
                } => trainer::landscape::net_landscape(
                    &net,
                    backend,
                    seed,
                    &spec,
                    &paths,
                    &data_dir,
                    &data_dir.join("scratch"),
                    &mut progress,
                    &job_stop,
                ),
                Inputs::Toy { toy, seed, paths } => trainer::landscape::toy_landscape(
                    &toy,
                    seed,
                    &spec,
                    &paths,
                    &mut progress,
                    &job_stop,
                ),
            }
        })
        .await;
        let by_user = lock(&self.running)
            .remove(&id)
            .is_some_and(|(_, by_user)| by_user);
        let data_dir = self.runs.data_dir();
        let running = [RunStatus::Running];
        match result {
            Ok(Ok(Some(landscape))) => {
                tracing::info!(
                    landscape.id = id,
                    secs = landscape.elapsed_secs,
                    "landscape finished"
                );
                db.finish_landscape(id, &running, RunStatus::Completed, None, Some(&landscape))
                    .await?;
            }
            Ok(Ok(None)) if by_user => {
                db.finish_landscape(id, &running, RunStatus::Cancelled, Some("cancelled"), None)
                    .await?;
            }
            Ok(Ok(None)) => {
                // Shutting down: the next start computes it again from the same checkpoints.
                db.finish_landscape(id, &running, RunStatus::Queued, None, None)
                    .await?;
            }
            Ok(Err(e)) => {
                let msg = hide_paths(&e.to_string(), data_dir);
                db.finish_landscape(id, &running, RunStatus::Failed, Some(&msg), None)
                    .await?;
            }
            Err(join) => {
                tracing::error!(landscape.id = id, error = %join, "landscape task panicked");
                db.finish_landscape(
                    id,
                    &running,
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
