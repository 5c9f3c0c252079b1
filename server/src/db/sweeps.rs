//! Storage of sweeps: a sweep with its main run and branches, stored atomically, and read back
//! with every run's summary.

use domain::wire::{SweepRun, SweepSummary};
use experiment::SweepSpec;
use sqlx::{Any, Transaction};

use super::runs::{RUN_COLUMNS, RunRow};
use super::{Db, DbError, now_ms, to_json};

impl Db {
    /// Stores a sweep and, for each of its seeds, a main run and one queued branch per decay
    /// point, atomically. Returns the sweep id and every run id (each seed's main first).
    pub async fn insert_sweep(&self, sweep: &SweepSpec) -> Result<(i64, Vec<i64>), DbError> {
        let mut tx = self.pool.begin().await?;
        let sweep_id: i64 = sqlx::query_scalar(
            "INSERT INTO sweeps (name, spec, created_at_ms) VALUES ($1, $2, $3) RETURNING id",
        )
        .bind(&sweep.name)
        .bind(to_json(sweep)?)
        .bind(now_ms())
        .fetch_one(&mut *tx)
        .await?;
        let ids = insert_replicates(&mut tx, sweep_id, sweep, &sweep.seeds()).await?;
        tx.commit().await?;
        Ok((sweep_id, ids))
    }

    /// Adds replicates to a stored sweep, atomically: `plan` turns its stored spec into the
    /// new one (which lists every seed) or refuses; the runs of the seeds that are new are
    /// inserted. Ok(None) when the sweep does not exist.
    pub async fn add_sweep_seeds<E>(
        &self,
        sweep_id: i64,
        plan: impl FnOnce(&SweepSpec) -> Result<SweepSpec, E>,
    ) -> Result<Option<Result<Vec<i64>, E>>, DbError> {
        let mut tx = self.pool.begin().await?;
        let Some(raw): Option<String> = sqlx::query_scalar("SELECT spec FROM sweeps WHERE id = $1")
            .bind(sweep_id)
            .fetch_optional(&mut *tx)
            .await?
        else {
            return Ok(None);
        };
        let old: SweepSpec = serde_json::from_str(&raw)
            .map_err(|e| DbError::Corrupt(format!("sweep {sweep_id}: {e}")))?;
        let new = match plan(&old) {
            Ok(new) => new,
            Err(e) => return Ok(Some(Err(e))),
        };
        // Compare-and-set on the text just read: of two concurrent additions, one stores.
        let updated = sqlx::query("UPDATE sweeps SET spec = $1 WHERE id = $2 AND spec = $3")
            .bind(to_json(&new)?)
            .bind(sweep_id)
            .bind(&raw)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if updated != 1 {
            return Err(DbError::Conflict(format!(
                "sweep {sweep_id} changed while seeds were being added; try again"
            )));
        }
        let old_seeds = old.seeds();
        let fresh: Vec<u64> = new
            .seeds()
            .into_iter()
            .filter(|s| !old_seeds.contains(s))
            .collect();
        let ids = insert_replicates(&mut tx, sweep_id, &new, &fresh).await?;
        tx.commit().await?;
        Ok(Some(Ok(ids)))
    }

    pub async fn get_sweep(&self, id: i64) -> Result<Option<SweepSummary>, DbError> {
        let row: Option<(i64, String, String, i64)> =
            sqlx::query_as("SELECT id, name, spec, created_at_ms FROM sweeps WHERE id = $1")
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
        let Some((id, name, spec, created_at_ms)) = row else {
            return Ok(None);
        };
        let spec: SweepSpec = serde_json::from_str(&spec)
            .map_err(|e| DbError::Corrupt(format!("sweep {id}: {e}")))?;
        let runs: Vec<RunRow> = sqlx::query_as(&format!(
            "SELECT {RUN_COLUMNS} FROM runs WHERE sweep_id = $1 ORDER BY id"
        ))
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        let steps: Vec<(i64, Option<i64>, Option<String>)> = sqlx::query_as(
            "SELECT id, branch_step, sweep_role FROM runs WHERE sweep_id = $1 ORDER BY id",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        let runs = runs
            .into_iter()
            .zip(steps)
            .map(|(r, (_, k, role))| {
                let run = r.into_summary()?;
                Ok(SweepRun {
                    branch_at: k.and_then(|k| u64::try_from(k).ok()),
                    seed: run.spec.seed,
                    baseline: role.as_deref() == Some(BASELINE),
                    run,
                })
            })
            .collect::<Result<Vec<_>, DbError>>()?;
        Ok(Some(SweepSummary {
            id,
            name,
            spec,
            created_at_ms,
            runs,
        }))
    }

    pub async fn list_sweeps(&self, limit: i64) -> Result<Vec<(i64, String, i64)>, DbError> {
        Ok(
            sqlx::query_as("SELECT id, name, created_at_ms FROM sweeps ORDER BY id DESC LIMIT $1")
                .bind(limit)
                .fetch_all(&self.pool)
                .await?,
        )
    }
}

/// `runs.sweep_role` of a schedule-free baseline.
const BASELINE: &str = "baseline";

/// One main run and its queued branches per seed (and its schedule-free baseline when the
/// sweep asks for one), inside the caller's transaction.
async fn insert_replicates(
    tx: &mut Transaction<'_, Any>,
    sweep_id: i64,
    sweep: &SweepSpec,
    seeds: &[u64],
) -> Result<Vec<i64>, DbError> {
    let now = now_ms();
    let insert = "INSERT INTO runs (name, spec, status, created_at_ms, sweep_id, parent_id, branch_step, wait_epoch)
                  VALUES ($1, $2, 'queued', $3, $4, $5, $6, $7) RETURNING id";
    let checkpointed = matches!(sweep.main.experiment, experiment::Experiment::Net(_));
    let mut ids = Vec::new();
    for &seed in seeds {
        let main = sweep.main_for(seed);
        let main_id: i64 = sqlx::query_scalar(insert)
            .bind(&main.name)
            .bind(to_json(&main)?)
            .bind(now)
            .bind(sweep_id)
            .bind(None::<i64>)
            .bind(None::<i64>)
            .bind(None::<i64>)
            .fetch_one(&mut **tx)
            .await?;
        ids.push(main_id);
        for &k in &sweep.branch_at {
            let k_i = i64::try_from(k).unwrap_or(i64::MAX);
            let branch = sweep.branch_for(seed, k);
            let id: i64 = sqlx::query_scalar(insert)
                .bind(&branch.name)
                .bind(to_json(&branch)?)
                .bind(now)
                .bind(sweep_id)
                .bind(main_id)
                .bind(k_i)
                .bind(checkpointed.then_some(k_i))
                .fetch_one(&mut **tx)
                .await?;
            ids.push(id);
        }
        if sweep.schedule_free_baseline {
            let baseline = sweep.baseline_for(seed);
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO runs (name, spec, status, created_at_ms, sweep_id, sweep_role)
                 VALUES ($1, $2, 'queued', $3, $4, $5) RETURNING id",
            )
            .bind(&baseline.name)
            .bind(to_json(&baseline)?)
            .bind(now)
            .bind(sweep_id)
            .bind(BASELINE)
            .fetch_one(&mut **tx)
            .await?;
            ids.push(id);
        }
    }
    Ok(ids)
}
