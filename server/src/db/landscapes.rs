//! Storage of loss-landscape jobs: a queue like the runs' (claimed atomically, re-queued after
//! a crash because a landscape is a pure function of stored checkpoints), progress, and the
//! finished result as JSON.

use domain::wire::{
    Landscape, LandscapeProgress, LandscapeSource, LandscapeSpec, LandscapeSummary, RunStatus,
};
use sqlx::FromRow;

use super::{Db, DbError, now_ms};

#[derive(FromRow)]
struct LandscapeRow {
    id: i64,
    name: String,
    source_kind: String,
    source_id: i64,
    spec: String,
    status: String,
    phase: Option<String>,
    done: i64,
    total: i64,
    message: Option<String>,
    created_at_ms: i64,
    finished_at_ms: Option<i64>,
}

const COLUMNS: &str = "id, name, source_kind, source_id, spec, status, phase, done, total, message, \
                       created_at_ms, finished_at_ms";

impl LandscapeRow {
    fn into_summary(self) -> Result<LandscapeSummary, DbError> {
        let corrupt = |what: &str| DbError::Corrupt(format!("landscape {} {what}", self.id));
        let source = match self.source_kind.as_str() {
            "run" => LandscapeSource::Run { id: self.source_id },
            "sweep" => LandscapeSource::Sweep { id: self.source_id },
            _ => return Err(corrupt("source")),
        };
        let spec: LandscapeSpec = serde_json::from_str(&self.spec).map_err(|_| corrupt("spec"))?;
        let status = RunStatus::parse(&self.status).ok_or_else(|| corrupt("status"))?;
        Ok(LandscapeSummary {
            id: self.id,
            name: self.name,
            source,
            spec,
            status,
            progress: self.phase.map(|phase| LandscapeProgress {
                phase,
                done: u64::try_from(self.done).unwrap_or(0),
                total: u64::try_from(self.total).unwrap_or(0),
            }),
            message: self.message,
            created_at_ms: self.created_at_ms,
            finished_at_ms: self.finished_at_ms,
        })
    }
}

fn source_parts(source: LandscapeSource) -> (&'static str, i64) {
    match source {
        LandscapeSource::Run { id } => ("run", id),
        LandscapeSource::Sweep { id } => ("sweep", id),
    }
}

impl Db {
    pub async fn insert_landscape(
        &self,
        name: &str,
        source: LandscapeSource,
        spec: &LandscapeSpec,
    ) -> Result<i64, DbError> {
        let (kind, id) = source_parts(source);
        let spec = serde_json::to_string(spec).map_err(|e| DbError::Corrupt(e.to_string()))?;
        Ok(sqlx::query_scalar(
            "INSERT INTO landscapes (name, source_kind, source_id, spec, status, created_at_ms) \
             VALUES ($1, $2, $3, $4, 'queued', $5) RETURNING id",
        )
        .bind(name)
        .bind(kind)
        .bind(id)
        .bind(spec)
        .bind(now_ms())
        .fetch_one(&self.pool)
        .await?)
    }

    pub async fn get_landscape(&self, id: i64) -> Result<Option<LandscapeSummary>, DbError> {
        let row: Option<LandscapeRow> =
            sqlx::query_as(&format!("SELECT {COLUMNS} FROM landscapes WHERE id = $1"))
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
        row.map(LandscapeRow::into_summary).transpose()
    }

    /// Newest first; with `source`, only the landscapes of that run or sweep.
    pub async fn list_landscapes(
        &self,
        source: Option<LandscapeSource>,
        limit: i64,
    ) -> Result<Vec<LandscapeSummary>, DbError> {
        let rows: Vec<LandscapeRow> =
            match source.map(source_parts) {
                Some((kind, id)) => sqlx::query_as(&format!(
                    "SELECT {COLUMNS} FROM landscapes WHERE source_kind = $1 AND source_id = $2 \
                     ORDER BY id DESC LIMIT $3"
                ))
                .bind(kind)
                .bind(id)
                .bind(limit)
                .fetch_all(&self.pool)
                .await?,
                None => {
                    sqlx::query_as(&format!(
                        "SELECT {COLUMNS} FROM landscapes ORDER BY id DESC LIMIT $1"
                    ))
                    .bind(limit)
                    .fetch_all(&self.pool)
                    .await?
                }
            };
        rows.into_iter().map(LandscapeRow::into_summary).collect()
    }

    /// Takes the oldest queued job, marking it running, in one statement (no double claims).
    pub async fn claim_next_landscape(&self) -> Result<Option<LandscapeSummary>, DbError> {
        let row: Option<LandscapeRow> = sqlx::query_as(&format!(
            "UPDATE landscapes SET status = 'running', phase = NULL, done = 0, total = 0, \
             message = NULL, finished_at_ms = NULL WHERE id = (SELECT id FROM landscapes WHERE status = 'queued' ORDER BY id LIMIT 1) \
             RETURNING {COLUMNS}"
        ))
        .fetch_optional(&self.pool)
        .await?;
        row.map(LandscapeRow::into_summary).transpose()
    }

    pub async fn set_landscape_progress(
        &self,
        id: i64,
        phase: &str,
        done: u64,
        total: u64,
    ) -> Result<(), DbError> {
        sqlx::query(
            "UPDATE landscapes SET phase = $1, done = $2, total = $3 WHERE id = $4 AND status = 'running'",
        )
        .bind(phase)
        .bind(i64::try_from(done).unwrap_or(i64::MAX))
        .bind(i64::try_from(total).unwrap_or(i64::MAX))
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Ends a job that is in one of `from`; false when it was in none of them.
    pub async fn finish_landscape(
        &self,
        id: i64,
        from: &[RunStatus],
        status: RunStatus,
        message: Option<&str>,
        result: Option<&Landscape>,
    ) -> Result<bool, DbError> {
        let result = result
            .map(serde_json::to_string)
            .transpose()
            .map_err(|e| DbError::Corrupt(e.to_string()))?;
        let from: Vec<&str> = from.iter().map(|s| s.as_str()).collect();
        let placeholders = super::numbered(6, from.len());
        let sql = format!(
            "UPDATE landscapes SET status = $1, message = $2, result = $3, finished_at_ms = $4 \
             WHERE id = $5 AND status IN ({placeholders})"
        );
        let mut q = sqlx::query(&sql)
            .bind(status.as_str())
            .bind(message)
            .bind(result)
            .bind(now_ms())
            .bind(id);
        for s in from {
            q = q.bind(s);
        }
        Ok(q.execute(&self.pool).await?.rows_affected() == 1)
    }

    /// Jobs a previous process left running go back to the queue: nothing of theirs was kept.
    pub async fn requeue_running_landscapes(&self) -> Result<Vec<i64>, DbError> {
        Ok(sqlx::query_scalar(
            "UPDATE landscapes SET status = 'queued', phase = NULL, done = 0, total = 0 \
             WHERE status = 'running' RETURNING id",
        )
        .fetch_all(&self.pool)
        .await?)
    }

    pub async fn landscape_result(&self, id: i64) -> Result<Option<Landscape>, DbError> {
        let json: Option<Option<String>> =
            sqlx::query_scalar("SELECT result FROM landscapes WHERE id = $1")
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
        json.flatten()
            .map(|j| {
                serde_json::from_str(&j)
                    .map_err(|e| DbError::Corrupt(format!("landscape {id} result: {e}")))
            })
            .transpose()
    }
}
