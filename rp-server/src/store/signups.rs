//! Passkey-first sign-ups in flight between Cognito's AdminCreateUser and the commit of
//! the passkey, so a sign-up that never finished can be undone.

use chrono::{DateTime, Utc};
use sqlx::PgExecutor;
use uuid::Uuid;

use crate::model::SiteId;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PendingSignup {
    pub id: Uuid,
    pub email: String,
    pub cognito_username: Option<String>,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

pub async fn insert_pending(
    db: impl PgExecutor<'_>,
    site: &SiteId,
    id: Uuid,
    email: &str,
    now: DateTime<Utc>,
    expires_at: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO pending_signups (id, site, email, created_at, expires_at) VALUES ($1, $5, $2, $3, $4)",
    )
    .bind(id)
    .bind(email)
    .bind(now)
    .bind(expires_at)
    .bind(site.as_str())
    .execute(db)
    .await?;
    Ok(())
}

/// Records the Cognito username AdminCreateUser gave the pending sign-up.
pub async fn set_username(db: impl PgExecutor<'_>, id: Uuid, username: &str) -> sqlx::Result<()> {
    sqlx::query("UPDATE pending_signups SET cognito_username = $2 WHERE id = $1")
        .bind(id)
        .bind(username)
        .execute(db)
        .await?;
    Ok(())
}

/// The sign-up finished (in the transaction that stores it) or was undone.
pub async fn remove(db: impl PgExecutor<'_>, id: Uuid) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM pending_signups WHERE id = $1")
        .bind(id)
        .execute(db)
        .await?;
    Ok(())
}

/// The site's sign-ups that should have finished by `now`, oldest first.
pub async fn abandoned(
    db: impl PgExecutor<'_>,
    site: &SiteId,
    now: DateTime<Utc>,
    limit: i64,
) -> sqlx::Result<Vec<PendingSignup>> {
    sqlx::query_as(
        "SELECT id, email, cognito_username, created_at, expires_at FROM pending_signups
          WHERE site = $3 AND expires_at <= $1 ORDER BY expires_at LIMIT $2",
    )
    .bind(now)
    .bind(limit)
    .bind(site.as_str())
    .fetch_all(db)
    .await
}
