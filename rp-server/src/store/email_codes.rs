//! One-time email codes (kept as keyed hashes), the record of code requests behind the
//! daily limits, and the sign-up tokens a verified code earns.

use chrono::{DateTime, Utc};
use sqlx::PgExecutor;

use crate::model::SiteId;

/// When the live code for this address and purpose was made, if there is one.
pub async fn live_since(
    db: impl PgExecutor<'_>,
    site: &SiteId,
    email: &str,
    purpose: &str,
    now: DateTime<Utc>,
) -> sqlx::Result<Option<DateTime<Utc>>> {
    sqlx::query_scalar(
        "SELECT created_at FROM email_codes
          WHERE site = $4 AND email = $1 AND purpose = $2 AND spent_at IS NULL AND expires_at > $3",
    )
    .bind(email)
    .bind(purpose)
    .bind(now)
    .bind(site.as_str())
    .fetch_optional(db)
    .await
}

/// A code as it is stored, or tried: keyed hashes of the code and of the request it
/// answers, for an address and purpose.
pub struct Code<'a> {
    pub site: &'a SiteId,
    pub email: &'a str,
    pub purpose: &'a str,
    pub code_hash: &'a [u8],
    pub request_hash: &'a [u8],
}

/// Stores a new code for the address and purpose, replacing any earlier one (one live
/// code each). Call it holding the address's limit counter (`flows::email`'s send does):
/// until a second site is configured the table also keeps its first key on `(email,
/// purpose)` (migration 0027), which the `ON CONFLICT` does not name, so two first codes
/// for an address at once would otherwise make one of them fail.
pub async fn replace(
    db: impl PgExecutor<'_>,
    code: &Code<'_>,
    created_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO email_codes (site, email, purpose, code_hash, request_hash, attempts, created_at, expires_at, spent_at)
         VALUES ($7, $1, $2, $3, $4, 0, $5, $6, NULL)
         ON CONFLICT (site, email, purpose) DO UPDATE
            SET code_hash = EXCLUDED.code_hash, request_hash = EXCLUDED.request_hash, attempts = 0,
                created_at = EXCLUDED.created_at, expires_at = EXCLUDED.expires_at, spent_at = NULL",
    )
    .bind(code.email)
    .bind(code.purpose)
    .bind(code.code_hash)
    .bind(code.request_hash)
    .bind(created_at)
    .bind(expires_at)
    .bind(code.site.as_str())
    .execute(db)
    .await?;
    Ok(())
}

/// Voids the live codes of an address (an account reset).
pub async fn void_of(
    db: impl PgExecutor<'_>,
    site: &SiteId,
    email: &str,
    now: DateTime<Utc>,
) -> sqlx::Result<u64> {
    Ok(sqlx::query(
        "UPDATE email_codes SET spent_at = $2
          WHERE site = $3 AND email = $1 AND spent_at IS NULL AND expires_at > $2",
    )
    .bind(email)
    .bind(now)
    .bind(site.as_str())
    .execute(db)
    .await?
    .rows_affected())
}

/// Voids the unspent sign-up tokens an address earned (an account reset).
pub async fn void_signup_tokens_of(
    db: impl PgExecutor<'_>,
    site: &SiteId,
    email: &str,
    now: DateTime<Utc>,
) -> sqlx::Result<u64> {
    Ok(sqlx::query(
        "UPDATE signup_tokens SET used_at = $2
          WHERE site = $3 AND email = $1 AND used_at IS NULL AND expires_at > $2",
    )
    .bind(email)
    .bind(now)
    .bind(site.as_str())
    .execute(db)
    .await?
    .rows_affected())
}

/// What one attempt at a code found.
#[derive(Debug, PartialEq, Eq)]
pub enum Attempt {
    /// The code matched; it is spent now.
    Matched,
    /// A live code, not this one (the attempt was counted).
    Wrong,
    /// No live code: none sent, expired, spent, or out of attempts.
    Gone,
}

/// Tries `code.code_hash` against the live code of the request `code.request_hash` in
/// one statement: it counts the attempt and spends the code when it matches, so a code
/// is used once and guessed at most `max_attempts` times, however many requests race.
/// Another request's code is [`Attempt::Gone`] to it. (The comparisons are of keyed
/// hashes, so their timing tells nothing about the code.)
pub async fn attempt(
    db: impl PgExecutor<'_>,
    code: &Code<'_>,
    max_attempts: i32,
    now: DateTime<Utc>,
) -> sqlx::Result<Attempt> {
    let matched: Option<bool> = sqlx::query_scalar(
        "UPDATE email_codes
            SET attempts = attempts + 1,
                spent_at = CASE WHEN code_hash = $3 THEN $6 END
          WHERE site = $7 AND email = $1 AND purpose = $2 AND request_hash = $4
            AND spent_at IS NULL AND expires_at > $6 AND attempts < $5
         RETURNING spent_at IS NOT NULL",
    )
    .bind(code.email)
    .bind(code.purpose)
    .bind(code.code_hash)
    .bind(code.request_hash)
    .bind(max_attempts)
    .bind(now)
    .bind(code.site.as_str())
    .fetch_optional(db)
    .await?;
    Ok(match matched {
        Some(true) => Attempt::Matched,
        Some(false) => Attempt::Wrong,
        None => Attempt::Gone,
    })
}

pub async fn insert_signup_token(
    db: impl PgExecutor<'_>,
    site: &SiteId,
    token_hash: &[u8],
    email: &str,
    now: DateTime<Utc>,
    expires_at: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO signup_tokens (token_hash, site, email, created_at, expires_at) VALUES ($1, $5, $2, $3, $4)",
    )
    .bind(token_hash)
    .bind(email)
    .bind(now)
    .bind(expires_at)
    .bind(site.as_str())
    .execute(db)
    .await?;
    Ok(())
}

/// Whether the token is live and was earned by this address.
pub async fn signup_token_valid(
    db: impl PgExecutor<'_>,
    site: &SiteId,
    token_hash: &[u8],
    email: &str,
    now: DateTime<Utc>,
) -> sqlx::Result<bool> {
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM signup_tokens
                         WHERE token_hash = $1 AND site = $4 AND email = $2 AND used_at IS NULL AND expires_at > $3)",
    )
    .bind(token_hash)
    .bind(email)
    .bind(now)
    .bind(site.as_str())
    .fetch_one(db)
    .await
}

/// Spends the token (once: a second sign-up with it finds it used).
pub async fn spend_signup_token(
    db: impl PgExecutor<'_>,
    site: &SiteId,
    token_hash: &[u8],
    email: &str,
    now: DateTime<Utc>,
) -> sqlx::Result<bool> {
    let n = sqlx::query(
        "UPDATE signup_tokens SET used_at = $3
          WHERE token_hash = $1 AND site = $4 AND email = $2 AND used_at IS NULL AND expires_at > $3",
    )
    .bind(token_hash)
    .bind(email)
    .bind(now)
    .bind(site.as_str())
    .execute(db)
    .await?
    .rows_affected();
    Ok(n == 1)
}
