//! Storage: runs, their event log, checkpoints, sweeps, share links and landscapes, behind one
//! `Db` type that callers use without knowing the backend. SQLite (WAL, synchronous FULL) is the
//! default; Postgres is the second backend. Both go through sqlx's `Any` driver with the same
//! portable SQL (`$N` placeholders, `RETURNING`, `ON CONFLICT`), and each has its own versioned
//! migrations (`migrations/sqlite`, `migrations/postgres`) because their DDL differs.

use std::path::Path;

use app::wire::{RunSpec, RunStatus, RunSummary, ShareInfo, ShareKind, SweepRun, SweepSummary};
use spec::SweepSpec;
use sqlx::AnyPool;
use sqlx::any::AnyPoolOptions;
use sqlx::{Executor, FromRow, Row};

mod landscapes;

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("database: {0}")]
    Sql(#[from] sqlx::Error),
    #[error("migrations: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("{0}")]
    Unsupported(String),
}

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

/// Which database stands behind a [`Db`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Clone)]
pub struct Db {
    pool: AnyPool,
    backend: Backend,
}

/// `$first, $first+1, …` for `n` bound values in an `IN (…)` list.
fn numbered(first: usize, n: usize) -> String {
    (first..first + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn to_json<T: serde::Serialize>(v: &T) -> Result<String, DbError> {
    serde_json::to_string(v).map_err(|e| DbError::Corrupt(e.to_string()))
}

pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

#[derive(FromRow)]
struct RunRow {
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
}

const RUN_COLUMNS: &str = "id, name, spec, status, message, backend, device, created_at_ms, finished_at_ms, \
     (SELECT MAX(step) FROM run_events e WHERE e.run_id = runs.id AND e.kind = 'metric') AS last_step";

impl RunRow {
    fn into_summary(self) -> Result<RunSummary, DbError> {
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
        })
    }
}

#[derive(FromRow)]
struct ShareRow {
    id: i64,
    kind: String,
    target_id: i64,
    title: String,
    created_at_ms: i64,
    expires_at_ms: Option<i64>,
    revoked_at_ms: Option<i64>,
}

impl ShareRow {
    fn into_info(self) -> Result<ShareInfo, DbError> {
        Ok(ShareInfo {
            kind: ShareKind::parse(&self.kind).ok_or_else(|| {
                DbError::Corrupt(format!("share {} kind {:?}", self.id, self.kind))
            })?,
            id: self.id,
            target_id: self.target_id,
            title: self.title,
            created_at_ms: self.created_at_ms,
            expires_at_ms: self.expires_at_ms,
            revoked_at_ms: self.revoked_at_ms,
        })
    }
}

impl Db {
    /// Opens (creating if needed) the SQLite database file and brings its schema up to date.
    pub async fn open(path: &Path) -> Result<Self, DbError> {
        Self::connect(&format!("sqlite://{}?mode=rwc", path.display())).await
    }

    /// Connects to `sqlite://…` or `postgres://…` and brings the schema up to date.
    pub async fn connect(url: &str) -> Result<Self, DbError> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Backend::Postgres
        } else {
            return Err(DbError::Unsupported(
                "the database URL must start with sqlite: or postgres:".into(),
            ));
        };
        let pool = AnyPoolOptions::new()
            .max_connections(8)
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        // Per connection: wait for a writer instead of failing, enforce foreign
                        // keys, and FULL sync so a committed metric row survives a power cut.
                        // WAL is a property of the file; setting it again is a no-op.
                        for pragma in [
                            "PRAGMA busy_timeout = 10000",
                            "PRAGMA journal_mode = WAL",
                            "PRAGMA synchronous = FULL",
                            "PRAGMA foreign_keys = ON",
                        ] {
                            conn.execute(pragma).await?;
                        }
                    }
                    Ok(())
                })
            })
            .connect(url)
            .await?;
        match backend {
            Backend::Sqlite => sqlx::migrate!("./migrations/sqlite").run(&pool).await?,
            Backend::Postgres => sqlx::migrate!("./migrations/postgres").run(&pool).await?,
        }
        Ok(Self { pool, backend })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// A fresh, empty database for one test: a SQLite file in `dir`, or, when
    /// `ANNEAL_TEST_POSTGRES_URL` names a Postgres server, a new database on it (so that the
    /// same tests cover the second backend; `scripts/test.sh` runs them both ways).
    #[cfg(test)]
    pub async fn testing(dir: &Path) -> Result<Self, DbError> {
        let Ok(base) = std::env::var("ANNEAL_TEST_POSTGRES_URL") else {
            return Self::open(&dir.join("t.db")).await;
        };
        use std::sync::atomic::{AtomicU64, Ordering};
        static N: AtomicU64 = AtomicU64::new(0);
        let name = format!(
            "anneal_t{}_{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        );
        sqlx::any::install_default_drivers();
        let admin = AnyPool::connect(&base).await?;
        admin
            .execute(format!("CREATE DATABASE {name}").as_str())
            .await?;
        admin.close().await;
        let (before, after) = base.split_once('?').unwrap_or((&base, ""));
        let root = before.rsplit_once('/').map_or(before, |(r, _)| r);
        Self::connect(&format!("{root}/{name}?{after}")).await
    }

    /// Runs one statement with two integer arguments: tests use it to fake the passage of time.
    #[cfg(test)]
    pub async fn execute_for_test(&self, sql: &str, a: i64, b: i64) -> Result<(), DbError> {
        sqlx::query(sql).bind(a).bind(b).execute(&self.pool).await?;
        Ok(())
    }

    pub async fn insert_run(&self, spec: &RunSpec) -> Result<i64, DbError> {
        let spec_json = serde_json::to_string(spec).map_err(|e| DbError::Corrupt(e.to_string()))?;
        let row = sqlx::query(
            "INSERT INTO runs (name, spec, status, created_at_ms) VALUES ($1, $2, 'queued', $3) RETURNING id",
        )
        .bind(&spec.name)
        .bind(spec_json)
        .bind(now_ms())
        .fetch_one(&self.pool)
        .await?;
        Ok(row.try_get("id")?)
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

    pub async fn set_device(&self, id: i64, backend: &str, device: &str) -> Result<(), DbError> {
        sqlx::query("UPDATE runs SET backend = $1, device = $2, heartbeat_ms = $3 WHERE id = $4")
            .bind(backend)
            .bind(device)
            .bind(now_ms())
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

    /// Runs left `running` by a crash; returns their ids after marking them interrupted.
    pub async fn interrupt_orphans(&self) -> Result<Vec<i64>, DbError> {
        let ids: Vec<i64> = sqlx::query_scalar(
            "UPDATE runs SET status = 'interrupted', message = 'the server stopped while this run was training'
             WHERE status = 'running' RETURNING id",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(ids)
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

    /// Appends an event with the next per-run sequence number, committed before returning.
    pub async fn append_event(
        &self,
        run_id: i64,
        kind: EventKind,
        step: Option<u64>,
        data: &str,
    ) -> Result<i64, DbError> {
        let step = step.and_then(|s| i64::try_from(s).ok());
        let insert = sqlx::query_scalar(
            "INSERT INTO run_events (run_id, seq, kind, step, data, created_at_ms)
             SELECT $1, COALESCE(MAX(seq), 0) + 1, $2, $3, $4, $5 FROM run_events WHERE run_id = $1
             RETURNING seq",
        )
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

    /// Records a checkpoint folder (replacing an earlier record for the same epoch).
    pub async fn insert_checkpoint(
        &self,
        run_id: i64,
        epoch: u32,
        step: u64,
        path: &str,
    ) -> Result<(), DbError> {
        sqlx::query(
            "INSERT INTO checkpoints (run_id, epoch, step, path, created_at_ms) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (run_id, epoch) DO UPDATE SET step = excluded.step, path = excluded.path",
        )
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

    /// Stores a new share link; `token_hash` is the only trace of its token.
    pub async fn insert_share(
        &self,
        token_hash: &str,
        kind: ShareKind,
        target_id: i64,
        title: &str,
        snapshot: &str,
        expires_at_ms: Option<i64>,
    ) -> Result<ShareInfo, DbError> {
        let created_at_ms = now_ms();
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO share_links (token_hash, kind, target_id, title, snapshot, created_at_ms, expires_at_ms) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
        )
        .bind(token_hash)
        .bind(kind.as_str())
        .bind(target_id)
        .bind(title)
        .bind(snapshot)
        .bind(created_at_ms)
        .bind(expires_at_ms)
        .fetch_one(&self.pool)
        .await?;
        Ok(ShareInfo {
            id,
            kind,
            target_id,
            title: title.to_owned(),
            created_at_ms,
            expires_at_ms,
            revoked_at_ms: None,
        })
    }

    pub async fn list_shares(&self, limit: i64) -> Result<Vec<ShareInfo>, DbError> {
        let rows: Vec<ShareRow> = sqlx::query_as(
            "SELECT id, kind, target_id, title, created_at_ms, expires_at_ms, revoked_at_ms \
             FROM share_links ORDER BY id DESC LIMIT $1",
        )
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(ShareRow::into_info).collect()
    }

    /// The snapshot behind a token hash, if the link exists, is not revoked and has not
    /// expired at `now_ms`. Unknown, revoked and expired links look the same to the caller.
    pub async fn active_share(
        &self,
        token_hash: &str,
        now_ms: i64,
    ) -> Result<Option<(ShareInfo, String)>, DbError> {
        let row: Option<(i64, String, i64, String, i64, Option<i64>, String)> = sqlx::query_as(
            "SELECT id, kind, target_id, title, created_at_ms, expires_at_ms, snapshot FROM share_links \
             WHERE token_hash = $1 AND revoked_at_ms IS NULL AND (expires_at_ms IS NULL OR expires_at_ms > $2)",
        )
        .bind(token_hash)
        .bind(now_ms)
        .fetch_optional(&self.pool)
        .await?;
        row.map(
            |(id, kind, target_id, title, created_at_ms, expires_at_ms, snapshot)| {
                let info = ShareRow {
                    id,
                    kind,
                    target_id,
                    title,
                    created_at_ms,
                    expires_at_ms,
                    revoked_at_ms: None,
                }
                .into_info()?;
                Ok((info, snapshot))
            },
        )
        .transpose()
    }

    /// Whether a link with this token hash exists, is not revoked and has not expired.
    pub async fn share_is_active(&self, token_hash: &str, now_ms: i64) -> Result<bool, DbError> {
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM share_links WHERE token_hash = $1 AND revoked_at_ms IS NULL \
             AND (expires_at_ms IS NULL OR expires_at_ms > $2)",
        )
        .bind(token_hash)
        .bind(now_ms)
        .fetch_one(&self.pool)
        .await?;
        Ok(n > 0)
    }

    /// Revokes a link; false when there is no such link or it was already revoked.
    pub async fn revoke_share(&self, id: i64) -> Result<bool, DbError> {
        let done = sqlx::query(
            "UPDATE share_links SET revoked_at_ms = $1 WHERE id = $2 AND revoked_at_ms IS NULL",
        )
        .bind(now_ms())
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Whether a share link with this id exists at all.
    pub async fn share_exists(&self, id: i64) -> Result<bool, DbError> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM share_links WHERE id = $1")
            .bind(id)
            .fetch_one(&self.pool)
            .await?;
        Ok(n > 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn temp_db() -> (Db, tempdir::Dir) {
        let dir = tempdir::Dir::new();
        let db = Db::testing(&dir.path).await.expect("opens");
        (db, dir)
    }

    /// A throwaway directory removed on drop (no extra crate needed).
    pub mod tempdir {
        pub struct Dir {
            pub path: std::path::PathBuf,
        }
        impl Dir {
            pub fn new() -> Self {
                use std::sync::atomic::{AtomicU64, Ordering};
                static N: AtomicU64 = AtomicU64::new(0);
                let path = std::env::temp_dir().join(format!(
                    "anneal-test-{}-{}",
                    std::process::id(),
                    N.fetch_add(1, Ordering::Relaxed)
                ));
                std::fs::create_dir_all(&path).expect("temp dir");
                Self { path }
            }
        }
        impl Drop for Dir {
            fn drop(&mut self) {
                let _ = std::fs::remove_dir_all(&self.path);
            }
        }
    }

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

    #[tokio::test]
    async fn data_survives_reopen() {
        let dir = tempdir::Dir::new();
        let path = dir.path.join("t.db");
        let id = {
            let db = Db::open(&path).await.expect("opens");
            let id = db
                .insert_run(&RunSpec::toy_default())
                .await
                .expect("insert");
            db.append_event(id, EventKind::Metric, Some(5), "{\"x\":1}")
                .await
                .expect("append");
            id
        };
        let db = Db::open(&path).await.expect("reopens");
        let ev = db.events_after(id, 0, 10).await.expect("read");
        assert_eq!(ev.len(), 1);
        assert_eq!(ev[0].data, "{\"x\":1}");
    }
}
