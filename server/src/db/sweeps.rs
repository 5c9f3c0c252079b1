//! Storage of sweeps: a sweep with its main run and branches, stored atomically, and read back
//! with every run's summary.

use domain::wire::{SweepRun, SweepSummary};
use spec::SweepSpec;

use super::runs::{RUN_COLUMNS, RunRow};
use super::{Db, DbError, now_ms, to_json};

impl Db {
    /// Stores a sweep, its main run and one queued branch per decay point, atomically.
    /// Returns the sweep id and every run id (main first).
    pub async fn insert_sweep(&self, sweep: &SweepSpec) -> Result<(i64, Vec<i64>), DbError> {
        let mut tx = self.pool.begin().await?;
        let now = now_ms();
        let sweep_id: i64 = sqlx::query_scalar(
            "INSERT INTO sweeps (name, spec, created_at_ms) VALUES ($1, $2, $3) RETURNING id",
        )
        .bind(&sweep.name)
        .bind(to_json(sweep)?)
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
        let insert = "INSERT INTO runs (name, spec, status, created_at_ms, sweep_id, parent_id, branch_step, wait_epoch)
                      VALUES ($1, $2, 'queued', $3, $4, $5, $6, $7) RETURNING id";
        let main_id: i64 = sqlx::query_scalar(insert)
            .bind(format!("{} · main", sweep.name))
            .bind(to_json(&sweep.main)?)
            .bind(now)
            .bind(sweep_id)
            .bind(None::<i64>)
            .bind(None::<i64>)
            .bind(None::<i64>)
            .fetch_one(&mut *tx)
            .await?;
        let mut ids = vec![main_id];
        let checkpointed = matches!(sweep.main.experiment, spec::Experiment::Net(_));
        for &k in &sweep.branch_at {
            let k_i = i64::try_from(k).unwrap_or(i64::MAX);
            let id: i64 = sqlx::query_scalar(insert)
                .bind(sweep.branch(k).name.clone())
                .bind(to_json(&sweep.branch(k))?)
                .bind(now)
                .bind(sweep_id)
                .bind(main_id)
                .bind(k_i)
                .bind(checkpointed.then_some(k_i))
                .fetch_one(&mut *tx)
                .await?;
            ids.push(id);
        }
        tx.commit().await?;
        Ok((sweep_id, ids))
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
        let steps: Vec<(i64, Option<i64>)> =
            sqlx::query_as("SELECT id, branch_step FROM runs WHERE sweep_id = $1 ORDER BY id")
                .bind(id)
                .fetch_all(&self.pool)
                .await?;
        let runs = runs
            .into_iter()
            .zip(steps)
            .map(|(r, (_, k))| {
                Ok(SweepRun {
                    branch_at: k.and_then(|k| u64::try_from(k).ok()),
                    run: r.into_summary()?,
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
