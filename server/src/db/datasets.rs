//! Storage of the dataset registry: versions of each name, immutable once inserted, and the runs
//! that name a version by its hash.

use domain::wire::DatasetInfo;

use super::{Db, DbError, now_ms, to_json};

/// What inserting a registration came to.
pub enum Inserted {
    /// A new version of the name (1 for a new name).
    New(DatasetInfo),
    /// The name already holds this very content: the existing entry, unchanged.
    Existing(DatasetInfo),
}

fn parse(name: &str, info: &str) -> Result<DatasetInfo, DbError> {
    serde_json::from_str(info).map_err(|e| DbError::Corrupt(format!("dataset {name:?}: {e}")))
}

impl Db {
    /// Registers `info` (its name, hash and facts) as the next version of its name, or answers
    /// the existing entry when that name already holds the same hash.
    pub async fn insert_dataset(&self, mut info: DatasetInfo) -> Result<Inserted, DbError> {
        let hash = info.hash.clone().unwrap_or_default();
        let mut tx = self.pool.begin().await?;
        let same: Option<String> =
            sqlx::query_scalar("SELECT info FROM datasets WHERE name = $1 AND hash = $2")
                .bind(&info.name)
                .bind(&hash)
                .fetch_optional(&mut *tx)
                .await?;
        if let Some(existing) = same {
            return Ok(Inserted::Existing(parse(&info.name, &existing)?));
        }
        let last: Option<i64> =
            sqlx::query_scalar("SELECT MAX(version) FROM datasets WHERE name = $1")
                .bind(&info.name)
                .fetch_one(&mut *tx)
                .await?;
        info.version = u32::try_from(last.unwrap_or(0) + 1).unwrap_or(u32::MAX);
        info.created_at_ms = now_ms();
        let inserted = sqlx::query(
            "INSERT INTO datasets (name, version, hash, info, created_at_ms) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&info.name)
        .bind(i64::from(info.version))
        .bind(&hash)
        .bind(to_json(&info)?)
        .bind(info.created_at_ms)
        .execute(&mut *tx)
        .await;
        if let Err(e) = inserted {
            // Two registrations of one name at once: the unique index turned one away.
            if e.as_database_error()
                .is_some_and(|d| d.is_unique_violation())
            {
                return Err(DbError::Conflict(format!(
                    "dataset {:?} was registered by another request at the same time; try again",
                    info.name
                )));
            }
            return Err(e.into());
        }
        tx.commit().await?;
        Ok(Inserted::New(info))
    }

    /// The newest version of every registered name, by name.
    pub async fn list_datasets(&self) -> Result<Vec<DatasetInfo>, DbError> {
        let rows: Vec<(String, String)> = sqlx::query_as(
            "SELECT name, info FROM datasets d WHERE version = \
             (SELECT MAX(version) FROM datasets e WHERE e.name = d.name) ORDER BY name",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|(n, i)| parse(n, i)).collect()
    }

    /// The newest version of `name`, or the version holding `hash` when given.
    pub async fn get_dataset(
        &self,
        name: &str,
        hash: Option<&str>,
    ) -> Result<Option<DatasetInfo>, DbError> {
        let row: Option<String> = match hash {
            Some(h) => {
                sqlx::query_scalar("SELECT info FROM datasets WHERE name = $1 AND hash = $2")
                    .bind(name)
                    .bind(h)
                    .fetch_optional(&self.pool)
                    .await?
            }
            None => {
                sqlx::query_scalar(
                    "SELECT info FROM datasets WHERE name = $1 ORDER BY version DESC LIMIT 1",
                )
                .bind(name)
                .fetch_optional(&self.pool)
                .await?
            }
        };
        row.map(|i| parse(name, &i)).transpose()
    }

    /// The hashes of every version of `name`.
    pub async fn dataset_hashes(&self, name: &str) -> Result<Vec<String>, DbError> {
        Ok(
            sqlx::query_scalar("SELECT hash FROM datasets WHERE name = $1 ORDER BY version")
                .bind(name)
                .fetch_all(&self.pool)
                .await?,
        )
    }

    /// Whether any registered version of any name holds `hash` (its file is still needed).
    pub async fn dataset_hash_registered(&self, hash: &str) -> Result<bool, DbError> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM datasets WHERE hash = $1")
            .bind(hash)
            .fetch_one(&self.pool)
            .await?;
        Ok(n > 0)
    }

    /// Ids of the runs (any status) whose spec pins one of `hashes`, at most 50.
    pub async fn runs_using_datasets(&self, hashes: &[String]) -> Result<Vec<i64>, DbError> {
        let mut ids = Vec::new();
        for h in hashes {
            // A hash is 64 hex digits: as a substring of a spec's JSON it can only be that pin.
            let found: Vec<i64> =
                sqlx::query_scalar("SELECT id FROM runs WHERE spec LIKE $1 ORDER BY id LIMIT 50")
                    .bind(format!("%\"{h}\"%"))
                    .fetch_all(&self.pool)
                    .await?;
            ids.extend(found);
        }
        ids.sort_unstable();
        ids.dedup();
        ids.truncate(50);
        Ok(ids)
    }

    /// Removes every version of `name`; answers how many there were.
    pub async fn delete_dataset(&self, name: &str) -> Result<u64, DbError> {
        Ok(sqlx::query("DELETE FROM datasets WHERE name = $1")
            .bind(name)
            .execute(&self.pool)
            .await?
            .rows_affected())
    }
}
