//! Storage for out-of-process workers: a job's hashed token, the executor that ran a run, and
//! the ingest counter that makes a worker's event batches idempotent.

use sqlx::{Any, Transaction};

use super::checkpoints::UPSERT_CHECKPOINT;
use super::events::INSERT_EVENT;
use super::{Db, DbError, EventKind, now_ms};

/// What the server knows of a run's worker job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerJobRow {
    pub status: String,
    pub token_hash: Option<String>,
    /// Events of this job stored so far: the seq the worker's next event must have.
    pub acked: i64,
}

impl Db {
    /// Hands a running run to a worker job: its executor, the hash of the job's token, and a
    /// fresh ingest counter.
    pub async fn dispatch_worker(
        &self,
        run_id: i64,
        executor: &str,
        token_hash: &str,
    ) -> Result<(), DbError> {
        sqlx::query(
            "UPDATE runs SET executor = $1, worker_token_hash = $2, worker_acked = 0, heartbeat_ms = $3 WHERE id = $4",
        )
        .bind(executor)
        .bind(token_hash)
        .bind(now_ms())
        .bind(run_id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Records the batch system's job id and, once known, the node it runs on.
    pub async fn set_executor_job(
        &self,
        run_id: i64,
        job_id: &str,
        node: Option<&str>,
    ) -> Result<(), DbError> {
        sqlx::query(
            "UPDATE runs SET executor_job_id = $1, executor_node = COALESCE($2, executor_node) WHERE id = $3",
        )
        .bind(job_id)
        .bind(node)
        .bind(run_id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Running runs whose Slurm job may still be alive (it was handed out and its token not yet
    /// revoked): (run id, Slurm job id). A server that restarts adopts them instead of marking
    /// them interrupted, so their workers carry on.
    pub async fn adoptable_slurm_runs(&self) -> Result<Vec<(i64, String)>, DbError> {
        Ok(sqlx::query_as(
            "SELECT id, executor_job_id FROM runs WHERE status = 'running' AND executor = 'slurm'
               AND worker_token_hash IS NOT NULL AND executor_job_id IS NOT NULL ORDER BY id",
        )
        .fetch_all(&self.pool)
        .await?)
    }

    pub async fn worker_job(&self, run_id: i64) -> Result<Option<WorkerJobRow>, DbError> {
        let row: Option<(String, Option<String>, i64)> = sqlx::query_as(
            "SELECT status, worker_token_hash, worker_acked FROM runs WHERE id = $1",
        )
        .bind(run_id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|(status, token_hash, acked)| WorkerJobRow {
            status,
            token_hash,
            acked,
        }))
    }

    /// The job's token dies with the job.
    pub async fn revoke_worker(&self, run_id: i64) -> Result<(), DbError> {
        sqlx::query("UPDATE runs SET worker_token_hash = NULL WHERE id = $1")
            .bind(run_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Stores the worker's event number `seq` (its count of events before this one) and
    /// returns its run-event seq; None when `seq` is not the next one expected (a repeat of a
    /// stored event, or a gap), in which case nothing is written. The counter and the event
    /// move together in one transaction, so a crash between them cannot lose or repeat a row.
    pub async fn ingest_event(
        &self,
        run_id: i64,
        seq: i64,
        kind: EventKind,
        step: Option<u64>,
        data: &str,
    ) -> Result<Option<i64>, DbError> {
        let mut tx = self.pool.begin().await?;
        if !advance_acked(&mut tx, run_id, seq).await? {
            return Ok(None);
        }
        // The counter's UPDATE holds the run's row, so this run's event seqs cannot race.
        let event_seq: i64 = sqlx::query_scalar(INSERT_EVENT)
            .bind(run_id)
            .bind(kind.as_str())
            .bind(step.and_then(|s| i64::try_from(s).ok()))
            .bind(data)
            .bind(now_ms())
            .fetch_one(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(Some(event_seq))
    }

    /// Like `ingest_event`, for a checkpoint record: the counter and the record move together.
    pub async fn ingest_checkpoint(
        &self,
        run_id: i64,
        seq: i64,
        epoch: u32,
        step: u64,
        path: &str,
    ) -> Result<bool, DbError> {
        let mut tx = self.pool.begin().await?;
        if !advance_acked(&mut tx, run_id, seq).await? {
            return Ok(false);
        }
        sqlx::query(UPSERT_CHECKPOINT)
            .bind(run_id)
            .bind(i64::from(epoch))
            .bind(i64::try_from(step).unwrap_or(i64::MAX))
            .bind(path)
            .bind(now_ms())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(true)
    }
}

/// Moves the run's ingest counter past `seq` if `seq` is the next one expected (and counts as
/// a heartbeat); false, changing nothing, otherwise.
async fn advance_acked(
    tx: &mut Transaction<'_, Any>,
    run_id: i64,
    seq: i64,
) -> Result<bool, DbError> {
    let moved = sqlx::query(
        "UPDATE runs SET worker_acked = worker_acked + 1, heartbeat_ms = $1 WHERE id = $2 AND worker_acked = $3",
    )
    .bind(now_ms())
    .bind(run_id)
    .bind(seq)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    Ok(moved == 1)
}
