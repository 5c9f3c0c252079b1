//! Storage of share links: stored by token hash with a frozen snapshot, listed, checked for
//! being active (not revoked, not expired) and revoked.

use domain::wire::{ShareInfo, ShareKind};
use sqlx::FromRow;

use super::{Db, DbError, now_ms};

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

/// A live link's row with its snapshot: id, kind, target, title, created, expires, snapshot.
type LiveShareRow = (i64, String, i64, String, i64, Option<i64>, String);

impl Db {
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
        let row: Option<LiveShareRow> = sqlx::query_as(
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
