//! One-time enrolment tokens for account recovery, stored only as SHA-256 hashes.

use chrono::{DateTime, Utc};
use sqlx::PgExecutor;
use uuid::Uuid;

use crate::model::SiteId;

/// An enrolment token as admins see it (never the token itself).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct EnrolmentToken {
    pub id: Uuid,
    pub user_id: Uuid,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

const ENROLMENT_COLUMNS: &str =
    "id, user_id, created_by, created_at, expires_at, used_at, revoked_at";

pub async fn insert_enrolment_token(
    db: impl PgExecutor<'_>,
    site: &SiteId,
    t: &EnrolmentToken,
    hash: &[u8],
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO enrolment_tokens (id, site, token_hash, user_id, created_by, created_at, expires_at)
         VALUES ($1, $7, $2, $3, $4, $5, $6)",
    )
    .bind(t.id)
    .bind(hash)
    .bind(t.user_id)
    .bind(&t.created_by)
    .bind(t.created_at)
    .bind(t.expires_at)
    .bind(site.as_str())
    .execute(db)
    .await?;
    Ok(())
}

/// A token of the site that is unused, unrevoked and unexpired.
pub async fn usable_enrolment_token(
    db: impl PgExecutor<'_>,
    site: &SiteId,
    hash: &[u8],
    now: DateTime<Utc>,
) -> sqlx::Result<Option<EnrolmentToken>> {
    sqlx::query_as(&format!(
        "SELECT {ENROLMENT_COLUMNS} FROM enrolment_tokens
          WHERE token_hash = $1 AND site = $3 AND used_at IS NULL AND revoked_at IS NULL AND expires_at > $2"
    ))
    .bind(hash)
    .bind(now)
    .bind(site.as_str())
    .fetch_optional(db)
    .await
}

/// Marks the token used, if it still is usable; exactly one caller can succeed.
pub async fn use_enrolment_token(
    db: impl PgExecutor<'_>,
    id: Uuid,
    now: DateTime<Utc>,
) -> sqlx::Result<bool> {
    let r = sqlx::query(
        "UPDATE enrolment_tokens SET used_at = $2
          WHERE id = $1 AND used_at IS NULL AND revoked_at IS NULL AND expires_at > $2",
    )
    .bind(id)
    .bind(now)
    .execute(db)
    .await?;
    Ok(r.rows_affected() == 1)
}

pub async fn enrolment_tokens_of(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
) -> sqlx::Result<Vec<EnrolmentToken>> {
    sqlx::query_as(&format!(
        "SELECT {ENROLMENT_COLUMNS} FROM enrolment_tokens WHERE user_id = $1 ORDER BY created_at DESC, id"
    ))
    .bind(user_id)
    .fetch_all(db)
    .await
}

/// Revokes a token of the site that has not been used; returns it (as it is now) if it
/// exists.
pub async fn revoke_enrolment_token(
    db: impl PgExecutor<'_>,
    site: &SiteId,
    id: Uuid,
    now: DateTime<Utc>,
) -> sqlx::Result<Option<EnrolmentToken>> {
    sqlx::query_as(&format!(
        "UPDATE enrolment_tokens SET revoked_at = COALESCE(revoked_at, $2)
          WHERE id = $1 AND site = $3 RETURNING {ENROLMENT_COLUMNS}"
    ))
    .bind(id)
    .bind(now)
    .bind(site.as_str())
    .fetch_optional(db)
    .await
}

/// Revokes every pending token of the user (an account reset).
pub async fn revoke_pending_of(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
    now: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE enrolment_tokens SET revoked_at = $2 WHERE user_id = $1 AND used_at IS NULL AND revoked_at IS NULL",
    )
    .bind(user_id)
    .bind(now)
    .execute(db)
    .await?;
    Ok(())
}
