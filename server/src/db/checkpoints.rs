//! Storage of checkpoint records: which folder holds a run's weights after which epoch.

use super::{Db, DbError, now_ms};

/// Records a checkpoint ($1 run, $2 epoch, $3 step, $4 path, $5 time), replacing an earlier
/// record for the same epoch.
pub(super) const UPSERT_CHECKPOINT: &str =
    "INSERT INTO checkpoints (run_id, epoch, step, path, created_at_ms) VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (run_id, epoch) DO UPDATE SET step = excluded.step, path = excluded.path";

impl Db {
    /// Records a checkpoint folder (replacing an earlier record for the same epoch).
    pub async fn insert_checkpoint(
        &self,
        run_id: i64,
        epoch: u32,
        step: u64,
        path: &str,
    ) -> Result<(), DbError> {
        sqlx::query(UPSERT_CHECKPOINT)
            .bind(run_id)
            .bind(i64::from(epoch))
            .bind(i64::try_from(step).unwrap_or(i64::MAX))
            .bind(path)
            .bind(now_ms())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The newest checkpoint of a run: (epoch, path).
    pub async fn latest_checkpoint(&self, run_id: i64) -> Result<Option<(u32, String)>, DbError> {
        let row: Option<(i64, String)> = sqlx::query_as(
            "SELECT epoch, path FROM checkpoints WHERE run_id = $1 ORDER BY epoch DESC LIMIT 1",
        )
        .bind(run_id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|(e, p)| (u32::try_from(e).unwrap_or(0), p)))
    }

    /// The checkpoint folder of `run_id` after `epoch` epochs.
    pub async fn checkpoint_at(&self, run_id: i64, epoch: u32) -> Result<Option<String>, DbError> {
        Ok(
            sqlx::query_scalar("SELECT path FROM checkpoints WHERE run_id = $1 AND epoch = $2")
                .bind(run_id)
                .bind(i64::from(epoch))
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    /// Every checkpoint of a run: (epoch, folder), by epoch.
    pub async fn checkpoints_of(&self, run_id: i64) -> Result<Vec<(u32, String)>, DbError> {
        let rows: Vec<(i64, String)> =
            sqlx::query_as("SELECT epoch, path FROM checkpoints WHERE run_id = $1 ORDER BY epoch")
                .bind(run_id)
                .fetch_all(&self.pool)
                .await?;
        Ok(rows
            .into_iter()
            .map(|(e, p)| (u32::try_from(e).unwrap_or(0), p))
            .collect())
    }
}
