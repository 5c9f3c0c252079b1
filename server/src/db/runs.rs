//! Storage of runs: inserting, reading and listing them, claiming queued ones, status
//! transitions, heartbeats, and cleaning up after a crash (orphaned runs and branches).

use domain::wire::{RunSpec, RunStatus, RunSummary};
use sqlx::{FromRow, Row};

use super::{Db, DbError, now_ms, numbered};

#[derive(FromRow)]
pub(super) struct RunRow {
    id: i64,
    name: String,
    spec: String,
    status: String,
    message: Option<String>,
    backend: Option<String>,
    device: Option<String>,
    created_at_ms: i64,
    finished_at_ms: Option<i64>,
    last_step: Option<i64>,
    sweep_id: Option<i64>,
    parent_id: Option<i64>,
    branch_step: Option<i64>,
    executor: Option<String>,
    executor_job_id: Option<String>,
    executor_node: Option<String>,
}

pub(super) const RUN_COLUMNS: &str = "id, name, spec, status, message, backend, device, created_at_ms, finished_at_ms, \
     sweep_id, parent_id, branch_step, executor, executor_job_id, executor_node, \
     (SELECT MAX(step) FROM run_events e WHERE e.run_id = runs.id AND e.kind = 'metric') AS last_step";

impl RunRow {
    pub(super) fn into_summary(self) -> Result<RunSummary, DbError> {
        let spec: RunSpec = serde_json::from_str(&self.spec)
            .map_err(|e| DbError::Corrupt(format!("run {} spec: {e}", self.id)))?;
        let status = RunStatus::parse(&self.status)
            .ok_or_else(|| DbError::Corrupt(format!("run {} status {:?}", self.id, self.status)))?;
        Ok(RunSummary {
            id: self.id,
            name: self.name,
            status,
            message: self.message,
            spec,
            backend: self.backend,
            device: self.device,
            created_at_ms: self.created_at_ms,
            finished_at_ms: self.finished_at_ms,
            last_step: self.last_step.and_then(|s| u64::try_from(s).ok()),
            lineage: domain::wire::Lineage {
                sweep_id: self.sweep_id,
                parent_id: self.parent_id,
                branch_at: self.branch_step.and_then(|s| u64::try_from(s).ok()),
            },
            executor: self.executor,
            executor_job_id: self.executor_job_id,
            executor_node: self.executor_node,
        })
    }
}

impl Db {
    pub async fn insert_run(&self, spec: &RunSpec) -> Result<i64, DbError> {
        Ok(self.insert_runs(std::slice::from_ref(spec)).await?[0])
    }

    /// Queues several runs (the replicates of one spec) atomically: all or none.
    pub async fn insert_runs(&self, specs: &[RunSpec]) -> Result<Vec<i64>, DbError> {
        let mut tx = self.pool.begin().await?;
        let mut ids = Vec::with_capacity(specs.len());
        for spec in specs {
            let spec_json =
                serde_json::to_string(spec).map_err(|e| DbError::Corrupt(e.to_string()))?;
            let row = sqlx::query(
                "INSERT INTO runs (name, spec, status, created_at_ms) VALUES ($1, $2, 'queued', $3) RETURNING id",
            )
            .bind(&spec.name)
            .bind(spec_json)
            .bind(now_ms())
            .fetch_one(&mut *tx)
            .await?;
            ids.push(row.try_get("id")?);
        }
        tx.commit().await?;
        Ok(ids)
    }

    pub async fn get_run(&self, id: i64) -> Result<Option<RunSummary>, DbError> {
        let row: Option<RunRow> =
            sqlx::query_as(&format!("SELECT {RUN_COLUMNS} FROM runs WHERE id = $1"))
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
        row.map(RunRow::into_summary).transpose()
    }

    pub async fn list_runs(&self, limit: i64) -> Result<Vec<RunSummary>, DbError> {
        let rows: Vec<RunRow> = sqlx::query_as(&format!(
            "SELECT {RUN_COLUMNS} FROM runs ORDER BY id DESC LIMIT $1"
        ))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(RunRow::into_summary).collect()
    }

    /// Atomically takes the oldest queued run and marks it running.
    pub async fn claim_next(&self) -> Result<Option<RunSummary>, DbError> {
        let id: Option<i64> = sqlx::query_scalar(
            "UPDATE runs SET status = 'running', started_at_ms = $1, heartbeat_ms = $2
             WHERE id = (SELECT id FROM runs WHERE status = 'queued'
                           AND (wait_epoch IS NULL OR EXISTS (SELECT 1 FROM checkpoints c
                                WHERE c.run_id = runs.parent_id AND c.epoch = runs.wait_epoch))
                         ORDER BY id LIMIT 1)
               AND status = 'queued'
             RETURNING id",
        )
        .bind(now_ms())
        .bind(now_ms())
        .fetch_optional(&self.pool)
        .await?;
        match id {
            Some(id) => self.get_run(id).await,
            None => Ok(None),
        }
    }

    /// Marks one queued run running (the headless CLI's claim); false if it wasn't queued.
    pub async fn claim(&self, id: i64) -> Result<bool, DbError> {
        let done = sqlx::query(
            "UPDATE runs SET status = 'running', started_at_ms = $1, heartbeat_ms = $2 WHERE id = $3 AND status = 'queued'",
        )
        .bind(now_ms())
        .bind(now_ms())
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Records the device a run trains on, and (when given) the executor training it.
    pub async fn set_device(
        &self,
        id: i64,
        backend: &str,
        device: &str,
        executor: Option<&str>,
    ) -> Result<(), DbError> {
        sqlx::query(
            "UPDATE runs SET backend = $1, device = $2, heartbeat_ms = $3, executor = COALESCE($4, executor) WHERE id = $5",
        )
            .bind(backend)
            .bind(device)
            .bind(now_ms())
            .bind(executor)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn set_heartbeat(&self, id: i64) -> Result<(), DbError> {
        sqlx::query("UPDATE runs SET heartbeat_ms = $1 WHERE id = $2")
            .bind(now_ms())
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Moves a run to `to` only if it is currently in one of `from`; returns whether it moved.
    pub async fn transition(
        &self,
        id: i64,
        from: &[RunStatus],
        to: RunStatus,
        message: Option<&str>,
    ) -> Result<bool, DbError> {
        let placeholders = numbered(5, from.len());
        let finished = to.is_terminal().then(now_ms);
        let sql = format!(
            "UPDATE runs SET status = $1, message = COALESCE($2, message), finished_at_ms = COALESCE($3, finished_at_ms)
             WHERE id = $4 AND status IN ({placeholders})"
        );
        let mut q = sqlx::query(&sql)
            .bind(to.as_str())
            .bind(message)
            .bind(finished)
            .bind(id);
        for s in from {
            q = q.bind(s.as_str());
        }
        Ok(q.execute(&self.pool).await?.rows_affected() == 1)
    }

    /// Forgets how a run last ended (message, end time), when it is queued again.
    pub async fn clear_outcome(&self, id: i64) -> Result<(), DbError> {
        sqlx::query("UPDATE runs SET message = NULL, finished_at_ms = NULL WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Runs left `running` by a crash; returns their ids after marking them interrupted.
    pub async fn interrupt_orphans(&self) -> Result<Vec<i64>, DbError> {
        self.interrupt_orphans_but(&[]).await
    }

    /// As `interrupt_orphans`, leaving the runs in `keep` running (they are adopted).
    pub async fn interrupt_orphans_but(&self, keep: &[i64]) -> Result<Vec<i64>, DbError> {
        let running: Vec<i64> =
            sqlx::query_scalar("SELECT id FROM runs WHERE status = 'running' ORDER BY id")
                .fetch_all(&self.pool)
                .await?;
        let mut out = Vec::new();
        for id in running.into_iter().filter(|id| !keep.contains(id)) {
            let done = sqlx::query(
                "UPDATE runs SET status = 'interrupted', message = 'the server stopped while this run was training'
                 WHERE id = $1 AND status = 'running'",
            )
            .bind(id)
            .execute(&self.pool)
            .await?;
            if done.rows_affected() == 1 {
                out.push(id);
            }
        }
        Ok(out)
    }

    /// Running runs whose heartbeat is older than `stale_ms`, other than `exclude` (ours).
    pub async fn stale_running(&self, stale_ms: i64, exclude: &[i64]) -> Result<Vec<i64>, DbError> {
        let ids: Vec<i64> = sqlx::query_scalar(
            "SELECT id FROM runs WHERE status = 'running' AND COALESCE(heartbeat_ms, started_at_ms, 0) < $1",
        )
        .bind(now_ms() - stale_ms)
        .fetch_all(&self.pool)
        .await?;
        Ok(ids.into_iter().filter(|id| !exclude.contains(id)).collect())
    }

    /// (parent, epoch) a branch starts from, if it is a checkpointed branch.
    pub async fn branch_origin(&self, id: i64) -> Result<Option<(i64, u32)>, DbError> {
        let row: Option<(Option<i64>, Option<i64>)> =
            sqlx::query_as("SELECT parent_id, wait_epoch FROM runs WHERE id = $1")
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
        Ok(match row {
            Some((Some(p), Some(e))) => Some((p, u32::try_from(e).unwrap_or(0))),
            _ => None,
        })
    }

    /// Queued branches of `parent` that can never start (their checkpoint will not come):
    /// cancelled, and their ids returned.
    pub async fn cancel_orphaned_branches(&self, parent: i64) -> Result<Vec<i64>, DbError> {
        Ok(sqlx::query_scalar(
            "UPDATE runs SET status = 'cancelled', message = 'the main run ended before reaching this decay point',
                 finished_at_ms = $1
             WHERE parent_id = $2 AND status = 'queued' AND wait_epoch IS NOT NULL
               AND NOT EXISTS (SELECT 1 FROM checkpoints c WHERE c.run_id = runs.parent_id AND c.epoch = runs.wait_epoch)
             RETURNING id",
        )
        .bind(now_ms())
        .bind(parent)
        .fetch_all(&self.pool)
        .await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::temp_db;

    #[tokio::test]
    async fn claim_transition_and_orphans() {
        let (db, _d) = temp_db().await;
        let a = db
            .insert_run(&RunSpec::toy_default())
            .await
            .expect("insert");
        let claimed = db.claim_next().await.expect("claim").expect("one queued");
        assert_eq!((claimed.id, claimed.status), (a, RunStatus::Running));
        assert!(db.claim_next().await.expect("claim").is_none());
        assert!(
            !db.transition(a, &[RunStatus::Queued], RunStatus::Cancelled, None)
                .await
                .expect("tx")
        );
        assert_eq!(db.interrupt_orphans().await.expect("orphans"), vec![a]);
        let r = db.get_run(a).await.expect("get").expect("exists");
        assert_eq!(r.status, RunStatus::Interrupted);
        assert!(r.message.is_some());
    }
}
