//! The OpenID provider's rows: authorization codes, opaque access tokens (both stored
//! as SHA-256 hashes) and the record of linked federated identities.

use chrono::{DateTime, Utc};
use sqlx::PgExecutor;
use uuid::Uuid;

use crate::model::SiteId;

/// A code about to be issued, with what its ID token will say.
pub struct NewCode<'a> {
    pub hash: &'a [u8],
    pub client_id: &'a str,
    pub redirect_uri: &'a str,
    pub code_challenge: Option<&'a str>,
    pub nonce: Option<&'a str>,
    pub scopes: &'a [String],
    pub user_id: Uuid,
    pub cognito_sub: &'a str,
    pub auth_time: DateTime<Utc>,
    pub amr: &'a [&'a str],
    pub acr: &'a str,
    pub email: Option<&'a str>,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

pub async fn insert_code(
    db: impl PgExecutor<'_>,
    site: &SiteId,
    c: &NewCode<'_>,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO oidc_codes (code_hash, client_id, redirect_uri, code_challenge, nonce, scopes, user_id,
                                 cognito_sub, auth_time, amr, acr, email, created_at, expires_at, site)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
    )
    .bind(c.hash)
    .bind(c.client_id)
    .bind(c.redirect_uri)
    .bind(c.code_challenge)
    .bind(c.nonce)
    .bind(c.scopes)
    .bind(c.user_id)
    .bind(c.cognito_sub)
    .bind(c.auth_time)
    .bind(c.amr)
    .bind(c.acr)
    .bind(c.email)
    .bind(c.created_at)
    .bind(c.expires_at)
    .bind(site.as_str())
    .execute(db)
    .await?;
    Ok(())
}

/// A code as its redemption found it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CodeRow {
    pub client_id: String,
    pub redirect_uri: String,
    pub code_challenge: Option<String>,
    pub nonce: Option<String>,
    pub scopes: Vec<String>,
    pub user_id: Uuid,
    pub cognito_sub: String,
    pub auth_time: DateTime<Utc>,
    pub amr: Vec<String>,
    pub acr: String,
    pub email: Option<String>,
    pub expires_at: DateTime<Utc>,
}

/// What a redemption did.
#[derive(Debug)]
pub enum CodeRedemption {
    /// This call spent it (whether it is still valid for this client is the caller's
    /// check: a spent code never redeems again either way).
    Spent(Box<CodeRow>),
    /// Spent before: the tokens it earned are revoked now (how many).
    Reused {
        revoked_tokens: u64,
    },
    Unknown,
}

/// Spends the site's code in one statement; exactly one of concurrent calls can. A code
/// spent before revokes what its first redemption earned (RFC 6749 §4.1.2).
pub async fn redeem_code(
    db: impl PgExecutor<'_> + Copy,
    site: &SiteId,
    hash: &[u8],
    now: DateTime<Utc>,
) -> sqlx::Result<CodeRedemption> {
    let spent: Option<CodeRow> = sqlx::query_as(
        "UPDATE oidc_codes SET redeemed_at = $2 WHERE code_hash = $1 AND site = $3 AND redeemed_at IS NULL
         RETURNING client_id, redirect_uri, code_challenge, nonce, scopes, user_id, cognito_sub,
                   auth_time, amr, acr, email, expires_at",
    )
    .bind(hash)
    .bind(now)
    .bind(site.as_str())
    .fetch_optional(db)
    .await?;
    if let Some(row) = spent {
        return Ok(CodeRedemption::Spent(Box::new(row)));
    }
    let (known, revoked): (bool, i64) = sqlx::query_as(
        "WITH revoked AS (
            UPDATE oidc_access_tokens SET revoked_at = $2
             WHERE code_hash = $1 AND site = $3 AND revoked_at IS NULL RETURNING 1
         )
         SELECT EXISTS (SELECT 1 FROM oidc_codes WHERE code_hash = $1 AND site = $3), (SELECT count(*) FROM revoked)",
    )
    .bind(hash)
    .bind(now)
    .bind(site.as_str())
    .fetch_one(db)
    .await?;
    Ok(if known {
        CodeRedemption::Reused {
            revoked_tokens: u64::try_from(revoked).unwrap_or(0),
        }
    } else {
        CodeRedemption::Unknown
    })
}

pub struct NewAccessToken<'a> {
    pub hash: &'a [u8],
    pub code_hash: &'a [u8],
    pub client_id: &'a str,
    pub user_id: Uuid,
    pub cognito_sub: &'a str,
    pub scopes: &'a [String],
    pub email: Option<&'a str>,
    pub expires_at: DateTime<Utc>,
}

pub async fn insert_access_token(
    db: impl PgExecutor<'_>,
    site: &SiteId,
    t: &NewAccessToken<'_>,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO oidc_access_tokens (token_hash, code_hash, client_id, user_id, cognito_sub, scopes, email, expires_at, site)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(t.hash)
    .bind(t.code_hash)
    .bind(t.client_id)
    .bind(t.user_id)
    .bind(t.cognito_sub)
    .bind(t.scopes)
    .bind(t.email)
    .bind(t.expires_at)
    .bind(site.as_str())
    .execute(db)
    .await?;
    Ok(())
}

/// What an access token opens at `/oidc/userinfo`.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AccessTokenRow {
    pub client_id: String,
    pub cognito_sub: String,
    pub scopes: Vec<String>,
    pub email: Option<String>,
}

/// A live access token of the site: unexpired and not revoked.
pub async fn access_token(
    db: impl PgExecutor<'_>,
    site: &SiteId,
    hash: &[u8],
    now: DateTime<Utc>,
) -> sqlx::Result<Option<AccessTokenRow>> {
    sqlx::query_as(
        "SELECT client_id, cognito_sub, scopes, email FROM oidc_access_tokens
          WHERE token_hash = $1 AND site = $3 AND expires_at > $2 AND revoked_at IS NULL",
    )
    .bind(hash)
    .bind(now)
    .bind(site.as_str())
    .fetch_optional(db)
    .await
}

/// An account reset: the user's unspent codes expire and their access tokens are revoked.
pub async fn void_of(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
    now: DateTime<Utc>,
) -> sqlx::Result<u64> {
    let (n,): (i64,) = sqlx::query_as(
        "WITH codes AS (
            UPDATE oidc_codes SET expires_at = $2 WHERE user_id = $1 AND redeemed_at IS NULL AND expires_at > $2 RETURNING 1
         ), tokens AS (
            UPDATE oidc_access_tokens SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > $2 RETURNING 1
         )
         SELECT (SELECT count(*) FROM codes) + (SELECT count(*) FROM tokens)",
    )
    .bind(user_id)
    .bind(now)
    .fetch_one(db)
    .await?;
    Ok(u64::try_from(n).unwrap_or(0))
}

/// Whether the user's federated identity at `provider` is already linked.
pub async fn is_linked(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
    provider: &str,
) -> sqlx::Result<bool> {
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM oidc_links WHERE user_id = $1 AND provider_name = $2)",
    )
    .bind(user_id)
    .bind(provider)
    .fetch_one(db)
    .await
}

pub async fn record_link(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
    provider: &str,
    now: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO oidc_links (user_id, provider_name, linked_at) VALUES ($1, $2, $3)
         ON CONFLICT DO NOTHING",
    )
    .bind(user_id)
    .bind(provider)
    .bind(now)
    .execute(db)
    .await?;
    Ok(())
}
