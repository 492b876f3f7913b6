//! Recovery codes, stored only as keyed hashes bound to their user.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgExecutor};
use uuid::Uuid;

/// Replaces the user's codes with these (a new set voids the old one, used or not).
pub async fn replace_set(
    tx: &mut PgConnection,
    user_id: Uuid,
    hashes: &[Vec<u8>],
    now: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1")
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "INSERT INTO recovery_codes (user_id, code_hash, created_at)
         SELECT $1, h, $3 FROM unnest($2::bytea[]) AS h",
    )
    .bind(user_id)
    .bind(hashes)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// How many of the user's codes are left, and when the set was made (`None`: no set).
pub async fn status(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
) -> sqlx::Result<(i64, Option<DateTime<Utc>>)> {
    sqlx::query_as(
        "SELECT count(*) FILTER (WHERE used_at IS NULL), max(created_at)
           FROM recovery_codes WHERE user_id = $1",
    )
    .bind(user_id)
    .fetch_one(db)
    .await
}

/// What spending a code found.
#[derive(Debug, PartialEq, Eq)]
pub enum Spend {
    /// It was the user's and unused: it is spent now (once, however many race).
    Spent,
    /// It was the user's, and already used.
    Used,
    /// Not one of the user's codes.
    Unknown,
}

pub async fn spend(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
    code_hash: &[u8],
    now: DateTime<Utc>,
) -> sqlx::Result<Spend> {
    let found: Option<bool> = sqlx::query_scalar(
        "WITH spent AS (
            UPDATE recovery_codes SET used_at = $3
             WHERE user_id = $1 AND code_hash = $2 AND used_at IS NULL
            RETURNING 1
         )
         SELECT EXISTS (SELECT 1 FROM spent)
           FROM recovery_codes WHERE user_id = $1 AND code_hash = $2",
    )
    .bind(user_id)
    .bind(code_hash)
    .bind(now)
    .fetch_optional(db)
    .await?;
    Ok(match found {
        Some(true) => Spend::Spent,
        Some(false) => Spend::Used,
        None => Spend::Unknown,
    })
}

/// Voids the user's codes (an account reset). Returns how many were left unused.
pub async fn void_of(db: impl PgExecutor<'_>, user_id: Uuid) -> sqlx::Result<u64> {
    Ok(
        sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1 AND used_at IS NULL")
            .bind(user_id)
            .execute(db)
            .await?
            .rows_affected(),
    )
}
