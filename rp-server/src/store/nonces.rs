//! One-time nonces, stored only as SHA-256 hashes, and their redemption by the Verify
//! Auth Challenge trigger.

use chrono::{DateTime, Utc};
use sqlx::PgExecutor;
use uuid::Uuid;

use crate::model::{Factor, SiteId};

pub struct NewNonce<'a> {
    pub hash: &'a [u8],
    pub user_id: Uuid,
    pub cognito_sub: &'a str,
    /// The passkey that earned it; `None` for an email or recovery code.
    pub credential_id: Option<&'a [u8]>,
    /// How it was earned.
    pub factor: Factor,
    /// Username-first: the nonce is only good for the challenge that started it.
    pub bound_challenge_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// Expires every unredeemed nonce of `user_id` now (an account reset: a nonce earned
/// before it, by a passkey or an email code, must not sign in after it). Returns how many.
pub async fn void_unredeemed_of(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
    now: DateTime<Utc>,
) -> sqlx::Result<u64> {
    Ok(sqlx::query(
        "UPDATE nonces SET expires_at = $2 WHERE user_id = $1 AND redeemed_at IS NULL AND expires_at > $2",
    )
    .bind(user_id)
    .bind(now)
    .execute(db)
    .await?
    .rows_affected())
}

pub async fn insert_nonce(
    db: impl PgExecutor<'_>,
    site: &SiteId,
    n: &NewNonce<'_>,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO nonces (nonce_hash, site, user_id, cognito_sub, credential_id, bound_challenge_id, created_at, expires_at, factor)
         VALUES ($1, $9, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(n.hash)
    .bind(n.user_id)
    .bind(n.cognito_sub)
    .bind(n.credential_id)
    .bind(n.bound_challenge_id)
    .bind(n.created_at)
    .bind(n.expires_at)
    .bind(n.factor.as_str())
    .bind(site.as_str())
    .execute(db)
    .await?;
    Ok(())
}

/// A nonce as it stood when a redemption did not go through.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct NonceRow {
    pub cognito_sub: String,
    pub credential_id: Option<Vec<u8>>,
    pub bound_challenge_id: Option<Uuid>,
    pub redeemed_challenge_id: Option<Uuid>,
    /// Spent, by Cognito's challenge or by the OpenID provider's page (no challenge).
    pub redeemed: bool,
    pub expires_at: DateTime<Utc>,
    pub credential_revoked: bool,
}

/// A redemption to attempt (see [`redeem`]).
#[derive(Debug, Clone, Copy)]
pub struct Redeem<'a> {
    pub hash: &'a [u8],
    pub sub: &'a str,
    pub challenge_id: Uuid,
    pub now: DateTime<Utc>,
    /// The actor and action of the audit event recorded on success.
    pub audit: (&'a str, &'a str),
    /// The limit counter whose total a passkey's redemption forgives.
    pub forgive: Option<&'a str>,
}

/// What one redemption statement saw and did.
#[derive(Debug)]
pub struct Redemption {
    /// When this call redeemed it: the nonce's credential (`None` for an email code).
    pub redeemed: Option<Option<Vec<u8>>>,
    /// The nonce as it stood before this statement, when it exists and this statement did
    /// not redeem it (only then is it read).
    pub nonce: Option<NonceRow>,
}

#[derive(sqlx::FromRow)]
struct RedemptionRow {
    redeemed: bool,
    redeemed_credential_id: Option<Vec<u8>>,
    cognito_sub: Option<String>,
    credential_id: Option<Vec<u8>>,
    bound_challenge_id: Option<Uuid>,
    redeemed_challenge_id: Option<Uuid>,
    was_redeemed: bool,
    expires_at: Option<DateTime<Utc>>,
    credential_revoked: bool,
}

/// Redeems the nonce for `challenge_id` in one statement (the caller has checked that the
/// challenge was issued by the site to `sub` and is unexpired): the nonce must be the
/// site's and `sub`'s, unspent, unexpired, unbound or bound to this challenge, and its
/// credential not revoked. Exactly one of any number of concurrent calls can match
/// `redeemed_at IS NULL` (the row lock makes the rest wait and re-check); the audit event
/// is written by the same statement. When nothing was redeemed the answer carries the
/// nonce as it stood, to say why (only then is it read). `audit` is
/// the actor and action of the event recorded on success. A nonce earned by an email or
/// recovery code leaves a `weak_sign_ins` row (kept 30 days) from which
/// [`super::users::weak_factor`] later tells the session apart; a passkey's marks the
/// user's weak sign-ins of the last minute as followed by it, and forgives the total of
/// the limit counter `forgive` (the failed codes of the user's verified address).
pub async fn redeem(
    db: impl PgExecutor<'_>,
    site: &SiteId,
    r: &Redeem<'_>,
) -> sqlx::Result<Redemption> {
    let Redeem {
        hash,
        sub,
        challenge_id,
        now,
        audit,
        forgive,
    } = *r;
    let row: RedemptionRow = sqlx::query_as(
        "WITH redeemed AS (
            UPDATE nonces SET redeemed_at = $4, redeemed_challenge_id = $3
             WHERE nonce_hash = $1 AND site = $8 AND cognito_sub = $2 AND redeemed_at IS NULL AND expires_at > $4
               AND (bound_challenge_id IS NULL OR bound_challenge_id = $3)
               AND NOT EXISTS (SELECT 1 FROM credentials c
                                WHERE c.site = $8 AND c.credential_id = nonces.credential_id AND c.revoked_at IS NOT NULL)
            RETURNING user_id, credential_id, factor
         ), weak AS (
            INSERT INTO weak_sign_ins (user_id, factor, redeemed_at, expires_at)
            SELECT user_id, factor, $4, $4 + interval '30 days' FROM redeemed WHERE factor <> 'passkey'
         ), after_weak AS (
            UPDATE weak_sign_ins SET passkey_after_at = $4
             WHERE user_id = (SELECT user_id FROM redeemed WHERE factor = 'passkey')
               AND passkey_after_at IS NULL AND redeemed_at > $4 - interval '1 minute'
         ), forgiven AS (
            UPDATE limit_counters SET total = 0, expires_at = $4 + interval '1 day'
             WHERE site = $8 AND key = $7 AND total > 0 AND EXISTS (SELECT 1 FROM redeemed WHERE factor = 'passkey')
         ), audit AS (
            INSERT INTO audit_events (site, occurred_at, actor, action, user_id, cognito_sub, credential_id, details)
            SELECT $8, $4, $5, $6, user_id, $2, credential_id, jsonb_build_object('challengeId', $3::uuid) FROM redeemed
         )
         SELECT EXISTS (SELECT 1 FROM redeemed) AS redeemed,
                (SELECT credential_id FROM redeemed) AS redeemed_credential_id,
                n.cognito_sub, n.credential_id, n.bound_challenge_id, n.redeemed_challenge_id,
                COALESCE(n.redeemed_at IS NOT NULL, false) AS was_redeemed, n.expires_at,
                COALESCE(c.revoked_at IS NOT NULL, false) AS credential_revoked
           FROM (SELECT 1) AS one
           LEFT JOIN nonces n ON NOT EXISTS (SELECT 1 FROM redeemed) AND n.nonce_hash = $1 AND n.site = $8
           LEFT JOIN credentials c ON c.site = $8 AND c.credential_id = n.credential_id",
    )
    .bind(hash)
    .bind(sub)
    .bind(challenge_id)
    .bind(now)
    .bind(audit.0)
    .bind(audit.1)
    .bind(forgive)
    .bind(site.as_str())
    .fetch_one(db)
    .await?;
    let nonce = match (row.cognito_sub, row.expires_at) {
        (Some(cognito_sub), Some(expires_at)) => Some(NonceRow {
            cognito_sub,
            credential_id: row.credential_id,
            bound_challenge_id: row.bound_challenge_id,
            redeemed_challenge_id: row.redeemed_challenge_id,
            redeemed: row.was_redeemed,
            expires_at,
            credential_revoked: row.credential_revoked,
        }),
        _ => None,
    };
    Ok(Redemption {
        redeemed: row.redeemed.then_some(row.redeemed_credential_id),
        nonce,
    })
}

/// A nonce the OpenID provider's sign-in page redeemed, and how it was earned.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ProviderRedemption {
    pub user_id: Uuid,
    pub cognito_sub: String,
    pub factor: String,
    /// When the sign-in that earned it happened.
    pub created_at: DateTime<Utc>,
    /// The passkey's flags (none for a code).
    pub backup_eligible: Option<bool>,
    pub user_verified: Option<bool>,
}

/// Redeems a nonce for the OpenID provider instead of a Cognito challenge, in one
/// statement: unspent, unexpired, not bound to a challenge other than `challenge` (the
/// page's own username-first challenge; never a trigger's), earned no earlier than
/// `not_before` (the authorization request: every provider sign-in is a fresh
/// ceremony), and its passkey not revoked. A code's nonce leaves a `weak_sign_ins` row
/// as the trigger's redemption does.
pub async fn redeem_for_provider(
    db: impl PgExecutor<'_>,
    site: &SiteId,
    hash: &[u8],
    challenge: Option<Uuid>,
    not_before: DateTime<Utc>,
    now: DateTime<Utc>,
) -> sqlx::Result<Option<ProviderRedemption>> {
    sqlx::query_as(
        "WITH redeemed AS (
            UPDATE nonces n SET redeemed_at = $3
             WHERE nonce_hash = $1 AND site = $5 AND redeemed_at IS NULL AND expires_at > $3
               AND (bound_challenge_id IS NULL OR bound_challenge_id = $4) AND created_at >= $2
               AND NOT EXISTS (SELECT 1 FROM credentials c
                                WHERE c.site = $5 AND c.credential_id = n.credential_id AND c.revoked_at IS NOT NULL)
            RETURNING user_id, cognito_sub, factor, created_at, credential_id
         ), weak AS (
            INSERT INTO weak_sign_ins (user_id, factor, redeemed_at, expires_at)
            SELECT user_id, factor, $3, $3 + interval '30 days' FROM redeemed WHERE factor <> 'passkey'
         )
         SELECT r.user_id, r.cognito_sub, r.factor, r.created_at, c.backup_eligible, c.user_verified
           FROM redeemed r LEFT JOIN credentials c ON c.site = $5 AND c.credential_id = r.credential_id",
    )
    .bind(hash)
    .bind(not_before)
    .bind(now)
    .bind(challenge)
    .bind(site.as_str())
    .fetch_optional(db)
    .await
}

/// The nonce as it stands now (after a redemption lost a race, to say why).
pub async fn nonce(
    db: impl PgExecutor<'_>,
    site: &SiteId,
    hash: &[u8],
) -> sqlx::Result<Option<NonceRow>> {
    sqlx::query_as(
        "SELECT n.cognito_sub, n.credential_id, n.bound_challenge_id, n.redeemed_challenge_id,
                n.redeemed_at IS NOT NULL AS redeemed, n.expires_at,
                COALESCE(c.revoked_at IS NOT NULL, false) AS credential_revoked
           FROM nonces n LEFT JOIN credentials c ON c.site = n.site AND c.credential_id = n.credential_id
          WHERE n.nonce_hash = $1 AND n.site = $2",
    )
    .bind(hash)
    .bind(site.as_str())
    .fetch_optional(db)
    .await
}
