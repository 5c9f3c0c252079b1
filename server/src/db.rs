//! Storage: runs, their event log, checkpoints, sweeps, share links and landscapes, behind one
//! `Db` type that callers use without knowing the backend. SQLite (WAL, synchronous FULL) is the
//! default; Postgres is the second backend. Both go through sqlx's `Any` driver with the same
//! portable SQL (`$N` placeholders, `RETURNING`, `ON CONFLICT`), and each has its own versioned
//! migrations (`migrations/sqlite`, `migrations/postgres`) because their DDL differs.
//!
//! This file holds the `Db` handle (opening, connecting, migrations), the error type, the
//! backend and the helpers the tables share; each table's methods are an `impl Db` block in a
//! child module (`db/runs.rs`, `db/events.rs`, `db/checkpoints.rs`, `db/sweeps.rs`,
//! `db/shares.rs`, `db/landscapes.rs`, `db/datasets.rs`).

use std::path::Path;

use sqlx::AnyPool;
use sqlx::Executor;
use sqlx::any::AnyPoolOptions;

mod checkpoints;
mod datasets;
mod events;
mod landscapes;
mod runs;
mod shares;
mod sweeps;
mod workers;

pub use datasets::Inserted as DatasetInserted;
pub use workers::WorkerJobRow;

pub use events::{EventKind, StoredEvent};

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
    /// A write lost a race with another request; the caller may try again.
    #[error("{0}")]
    Conflict(String),
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

pub use domain::clock::now_ms;

/// Holds a Postgres database for this server while it lives (see `Db::claim_ownership`).
pub struct DbOwner {
    _conn: sqlx::AnyConnection,
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
        Self::connect(&Self::testing_url(dir).await?).await
    }

    /// The URL `testing` connects to (a new Postgres database is created for it).
    #[cfg(test)]
    pub async fn testing_url(dir: &Path) -> Result<String, DbError> {
        let Ok(base) = std::env::var("ANNEAL_TEST_POSTGRES_URL") else {
            return Ok(format!("sqlite://{}?mode=rwc", dir.join("t.db").display()));
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
        Ok(format!("{root}/{name}?{after}"))
    }

    /// Takes a Postgres database for this server, or says that another server has it: two
    /// servers on one database would mark each other's live runs interrupted. The session-level
    /// advisory lock lives on a connection of its own and ends with it, however the process
    /// ends. A SQLite file is guarded by the data directory's lock (`ownership`): None.
    pub async fn claim_ownership(&self) -> Result<Option<DbOwner>, DbError> {
        if self.backend != Backend::Postgres {
            return Ok(None);
        }
        let mut conn = self.pool.acquire().await?.detach();
        // Keyed by the database, so servers on other databases of one cluster do not collide.
        let got: bool = sqlx::query_scalar(
            "SELECT pg_try_advisory_lock(1634628197, hashtext(current_database()))",
        )
        .fetch_one(&mut conn)
        .await?;
        if got {
            Ok(Some(DbOwner { _conn: conn }))
        } else {
            Err(DbError::Conflict(
                "another Anneal server is using this Postgres database; stop it, or give this \
                 one its own ANNEAL_DATABASE_URL"
                    .into(),
            ))
        }
    }

    /// Runs one statement with two integer arguments: tests use it to fake the passage of time.
    #[cfg(test)]
    pub async fn execute_for_test(&self, sql: &str, a: i64, b: i64) -> Result<(), DbError> {
        sqlx::query(sql).bind(a).bind(b).execute(&self.pool).await?;
        Ok(())
    }
}

/// A fresh, empty database in a new temporary folder (kept alive by the returned guard).
#[cfg(test)]
pub(crate) async fn temp_db() -> (Db, crate::testing::TempDir) {
    let dir = crate::testing::TempDir::new("db");
    let db = Db::testing(dir.path()).await.expect("opens");
    (db, dir)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::TempDir;
    use domain::wire::RunSpec;

    #[tokio::test]
    async fn one_server_per_postgres_database() {
        let dir = TempDir::new("owner-db");
        let url = Db::testing_url(dir.path()).await.expect("url");
        let (a, b) = (
            Db::connect(&url).await.expect("a"),
            Db::connect(&url).await.expect("b"),
        );
        let first = a.claim_ownership().await.expect("first claim");
        if a.backend() != Backend::Postgres {
            assert!(
                first.is_none(),
                "SQLite is guarded by the data directory's lock"
            );
            return;
        }
        let refused = b.claim_ownership().await.map(|_| ()).expect_err("refused");
        assert!(
            refused.to_string().contains("another Anneal server"),
            "{refused}"
        );
        drop(first);
        // The lock ends with its session; the server notices the closed connection at once or
        // within moments.
        let mut again = b.claim_ownership().await;
        for _ in 0..50 {
            if again.is_ok() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            again = b.claim_ownership().await;
        }
        assert!(
            again.is_ok_and(|o| o.is_some()),
            "free again once the first owner is gone"
        );
    }

    #[tokio::test]
    async fn data_survives_reopen() {
        let dir = TempDir::new("db");
        let path = dir.path().join("t.db");
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
