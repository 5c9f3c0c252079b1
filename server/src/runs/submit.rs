//! Runs into the queue and out of it: submission (validated, and checked against what this
//! server can run), more seeds of a sweep, cancel and resume.

use domain::wire::{FieldError, RunSpec, RunStatus, StatusChange};

use super::RunService;
use crate::db::{DbError, EventKind};
use crate::redact::hide_paths;

impl RunService {
    /// What this server cannot run of `spec` (backend, data), as field errors under `prefix`.
    fn unrunnable(&self, spec: &RunSpec, prefix: &str) -> Vec<FieldError> {
        let mut errors = Vec::new();
        // Here (local or worker processes), this machine must have the device; on a cluster the node is
        // asked when the job starts, and only a backend this binary lacks is refused now.
        let why = if self.executor.name() == crate::executor::ExecutorName::Slurm {
            trainer::device::unbuilt(spec.backend)
        } else {
            trainer::device::unavailable(spec.backend)
        };
        if let Some(why) = why {
            errors.push(FieldError {
                field: format!("{prefix}backend"),
                message: why,
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

    /// Resolves a registered dataset the spec names: its hash pinned, its facts the registry's.
    async fn pin_dataset(
        &self,
        spec: &mut RunSpec,
        prefix: &str,
    ) -> Result<Result<(), Vec<FieldError>>, DbError> {
        match &mut spec.experiment {
            experiment::Experiment::Net(net) => {
                self.registry.resolve(&mut net.dataset, prefix).await
            }
            _ => Ok(Ok(())),
        }
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
        mut spec: RunSpec,
        seeds: &[u64],
    ) -> Result<Result<Vec<i64>, Vec<FieldError>>, DbError> {
        if let Err(errors) = self.pin_dataset(&mut spec, "").await? {
            return Ok(Err(errors));
        }
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
    pub(super) async fn announce_queued(&self, ids: &[i64]) -> Result<(), DbError> {
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
        mut sweep: experiment::SweepSpec,
    ) -> Result<Result<(i64, Vec<i64>), Vec<FieldError>>, DbError> {
        if let Err(errors) = self.pin_dataset(&mut sweep.main, "main.").await? {
            return Ok(Err(errors));
        }
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
}
