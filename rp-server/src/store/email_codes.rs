//! One-time email codes (kept as keyed hashes), the record of code requests behind the
//! daily limits, and the sign-up tokens a verified code earns.

use std::net::IpAddr;

use chrono::{DateTime, Utc};
use sqlx::PgExecutor;

/// How many codes were requested since `since`, for this address and from this IP.
#[derive(Debug, sqlx::FromRow)]
pub struct Recent {
    pub for_email: i64,
    pub from_ip: i64,
    /// When the live code for this address and purpose was made, if there is one.
    pub live_since: Option<DateTime<Utc>>,
}

pub async fn recent(
    db: impl PgExecutor<'_>,
    email: &str,
    purpose: &str,
    ip: Option<IpAddr>,
    since: DateTime<Utc>,
    now: DateTime<Utc>,
) -> sqlx::Result<Recent> {
    sqlx::query_as(
        "SELECT (SELECT count(*) FROM email_sends WHERE email = $1 AND sent_at > $4) AS for_email,
                (SELECT count(*) FROM email_sends WHERE $3::inet IS NOT NULL AND ip = $3::inet AND sent_at > $4) AS from_ip,
                (SELECT created_at FROM email_codes
                  WHERE email = $1 AND purpose = $2 AND spent_at IS NULL AND expires_at > $5) AS live_since",
    )
    .bind(email)
    .bind(purpose)
    .bind(ip.map(|ip| ip.to_string()))
    .bind(since)
    .bind(now)
    .fetch_one(db)
    .await
}

/// Stores a new code for the address and purpose, replacing any earlier one (one live
/// code each), and records the request — in one statement.
pub async fn replace(
    db: impl PgExecutor<'_>,
    email: &str,
    purpose: &str,
    code_hash: &[u8],
    ip: Option<IpAddr>,
    now: DateTime<Utc>,
    expires_at: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query(
        "WITH code AS (
            INSERT INTO email_codes (email, purpose, code_hash, attempts, created_at, expires_at, spent_at)
            VALUES ($1, $2, $3, 0, $5, $6, NULL)
            ON CONFLICT (email, purpose) DO UPDATE
               SET code_hash = EXCLUDED.code_hash, attempts = 0, created_at = EXCLUDED.created_at,
                   expires_at = EXCLUDED.expires_at, spent_at = NULL
         )
         INSERT INTO email_sends (email, ip, sent_at, expires_at)
         VALUES ($1, $4::inet, $5, $5 + interval '1 day')",
    )
    .bind(email)
    .bind(purpose)
    .bind(code_hash)
    .bind(ip.map(|ip| ip.to_string()))
    .bind(now)
    .bind(expires_at)
    .execute(db)
    .await?;
    Ok(())
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

/// Tries `code_hash` against the live code in one statement: it counts the attempt and
/// spends the code when it matches, so a code is used once and guessed at most
/// `max_attempts` times, however many requests race. (The comparison is of keyed
/// hashes, so its timing tells nothing about the code.)
pub async fn attempt(
    db: impl PgExecutor<'_>,
    email: &str,
    purpose: &str,
    code_hash: &[u8],
    max_attempts: i32,
    now: DateTime<Utc>,
) -> sqlx::Result<Attempt> {
    let matched: Option<bool> = sqlx::query_scalar(
        "UPDATE email_codes
            SET attempts = attempts + 1,
                spent_at = CASE WHEN code_hash = $3 THEN $5 END
          WHERE email = $1 AND purpose = $2 AND spent_at IS NULL AND expires_at > $5 AND attempts < $4
         RETURNING spent_at IS NOT NULL",
    )
    .bind(email)
    .bind(purpose)
    .bind(code_hash)
    .bind(max_attempts)
    .bind(now)
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
    token_hash: &[u8],
    email: &str,
    now: DateTime<Utc>,
    expires_at: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO signup_tokens (token_hash, email, created_at, expires_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(token_hash)
    .bind(email)
    .bind(now)
    .bind(expires_at)
    .execute(db)
    .await?;
    Ok(())
}

/// Whether the token is live and was earned by this address.
pub async fn signup_token_valid(
    db: impl PgExecutor<'_>,
    token_hash: &[u8],
    email: &str,
    now: DateTime<Utc>,
) -> sqlx::Result<bool> {
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM signup_tokens
                         WHERE token_hash = $1 AND email = $2 AND used_at IS NULL AND expires_at > $3)",
    )
    .bind(token_hash)
    .bind(email)
    .bind(now)
    .fetch_one(db)
    .await
}

/// Spends the token (once: a second sign-up with it finds it used).
pub async fn spend_signup_token(
    db: impl PgExecutor<'_>,
    token_hash: &[u8],
    email: &str,
    now: DateTime<Utc>,
) -> sqlx::Result<bool> {
    let n = sqlx::query(
        "UPDATE signup_tokens SET used_at = $3
          WHERE token_hash = $1 AND email = $2 AND used_at IS NULL AND expires_at > $3",
    )
    .bind(token_hash)
    .bind(email)
    .bind(now)
    .execute(db)
    .await?
    .rows_affected();
    Ok(n == 1)
}
