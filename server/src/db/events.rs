//! Storage of the run event log (`run_events`): metric and status events with per-run sequence
//! numbers, read back in order for replay and streaming.

use sqlx::Row;

use super::{Backend, Db, DbError, now_ms};

/// Kinds of stored events; the SSE event name is the same word.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventKind {
    Metric,
    Status,
    /// The terminal status change; nothing follows it.
    Done,
}

impl EventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Metric => "metric",
            Self::Status => "status",
            Self::Done => "done",
        }
    }
    fn parse(s: &str) -> Result<Self, DbError> {
        match s {
            "metric" => Ok(Self::Metric),
            "status" => Ok(Self::Status),
            "done" => Ok(Self::Done),
            other => Err(DbError::Corrupt(format!("unknown event kind {other:?}"))),
        }
    }
}

/// One stored event.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredEvent {
    pub run_id: i64,
    pub seq: i64,
    pub kind: EventKind,
    pub data: String,
}

/// Appends a run's event with the next per-run seq: ($1 run, $2 kind, $3 step, $4 data,
/// $5 time) → seq. The caller keeps other writers of the run's events out meanwhile.
pub(super) const INSERT_EVENT: &str =
    "INSERT INTO run_events (run_id, seq, kind, step, data, created_at_ms)
     SELECT $1, COALESCE(MAX(seq), 0) + 1, $2, $3, $4, $5 FROM run_events WHERE run_id = $1
     RETURNING seq";

impl Db {
    /// Appends an event with the next per-run sequence number, committed before returning.
    pub async fn append_event(
        &self,
        run_id: i64,
        kind: EventKind,
        step: Option<u64>,
        data: &str,
    ) -> Result<i64, DbError> {
        let step = step.and_then(|s| i64::try_from(s).ok());
        let insert = sqlx::query_scalar(INSERT_EVENT)
            .bind(run_id)
            .bind(kind.as_str())
            .bind(step)
            .bind(data)
            .bind(now_ms());
        let seq: i64 = match self.backend {
            // One statement: SQLite serialises writers, so MAX(seq)+1 cannot race.
            Backend::Sqlite => insert.fetch_one(&self.pool).await?,
            // Postgres runs writers concurrently: the run's row lock makes the two statements
            // of one run's events take turns.
            Backend::Postgres => {
                let mut tx = self.pool.begin().await?;
                sqlx::query("SELECT id FROM runs WHERE id = $1 FOR UPDATE")
                    .bind(run_id)
                    .fetch_optional(&mut *tx)
                    .await?;
                let seq = insert.fetch_one(&mut *tx).await?;
                tx.commit().await?;
                seq
            }
        };
        Ok(seq)
    }

    /// Step of the newest stored metric row.
    pub async fn last_metric_step(&self, run_id: i64) -> Result<Option<u64>, DbError> {
        let step: Option<i64> = sqlx::query_scalar(
            "SELECT MAX(step) FROM run_events WHERE run_id = $1 AND kind = 'metric'",
        )
        .bind(run_id)
        .fetch_one(&self.pool)
        .await?;
        Ok(step.and_then(|s| u64::try_from(s).ok()))
    }

    /// The newest event of a run: its seq and kind.
    pub async fn last_event(&self, run_id: i64) -> Result<Option<(i64, EventKind)>, DbError> {
        let row: Option<(i64, String)> = sqlx::query_as(
            "SELECT seq, kind FROM run_events WHERE run_id = $1 ORDER BY seq DESC LIMIT 1",
        )
        .bind(run_id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|(seq, kind)| Ok((seq, EventKind::parse(&kind)?)))
            .transpose()
    }

    /// Events with seq > `after`, oldest first, at most `limit`.
    pub async fn events_after(
        &self,
        run_id: i64,
        after: i64,
        limit: i64,
    ) -> Result<Vec<StoredEvent>, DbError> {
        let rows = sqlx::query(
            "SELECT seq, kind, data FROM run_events WHERE run_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
        )
        .bind(run_id)
        .bind(after)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|r| {
                Ok(StoredEvent {
                    run_id,
                    seq: r.try_get("seq")?,
                    kind: EventKind::parse(r.try_get::<&str, _>("kind")?)?,
                    data: r.try_get("data")?,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::temp_db;
    use domain::wire::RunSpec;

    #[tokio::test]
    async fn events_get_consecutive_seqs_per_run() {
        let (db, _d) = temp_db().await;
        let a = db
            .insert_run(&RunSpec::toy_default())
            .await
            .expect("insert");
        let b = db
            .insert_run(&RunSpec::toy_default())
            .await
            .expect("insert");
        for i in 0..3 {
            assert_eq!(
                db.append_event(a, EventKind::Metric, Some(i), "{}")
                    .await
                    .expect("append"),
                i as i64 + 1
            );
        }
        assert_eq!(
            db.append_event(b, EventKind::Status, None, "{}")
                .await
                .expect("append"),
            1
        );
        let after = db.events_after(a, 1, 10).await.expect("read");
        assert_eq!(after.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![2, 3]);
        assert_eq!(
            db.get_run(a).await.expect("get").and_then(|r| r.last_step),
            Some(2)
        );
    }
}
