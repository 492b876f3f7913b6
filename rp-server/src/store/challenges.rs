//! Challenges handed to the Create Auth Challenge trigger; a nonce can only be redeemed
//! for a challenge issued to the same user.

use chrono::{DateTime, Utc};
use sqlx::PgExecutor;
use uuid::Uuid;

use crate::model::SiteId;

pub struct NewChallenge<'a> {
    pub id: Uuid,
    /// The Cognito user it is for ("" when Cognito did not name one).
    pub cognito_sub: &'a str,
    /// Cognito said the user does not exist: treat as unknown whatever `cognito_sub` is.
    pub user_not_found: bool,
    pub user_pool_id: &'a str,
    pub client_id: &'a str,
    /// The id of its ceremony (sealed into the ceremony id the trigger hands out).
    pub ceremony_id: Uuid,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    /// The audit event's actor and action, and its details (to which `withPasskeys` is
    /// added).
    pub audit: (&'a str, &'a str, serde_json::Value),
}

/// A usable credential of the challenged user, for `allowCredentials`.
#[derive(Debug, sqlx::FromRow)]
pub struct AllowedCredential {
    pub credential_id: Vec<u8>,
    pub transports: Vec<String>,
    /// What a passkey policy looks at, and the groups that choose the user's policy.
    pub aaguid: Option<uuid::Uuid>,
    pub backup_eligible: bool,
    pub attested: bool,
    pub user_groups: Vec<String>,
    /// Its owner.
    pub user_id: Uuid,
}

/// Issues a challenge in one statement: finds the user's usable credentials, stores the
/// challenge and the audit event. Returns the credentials with their owner (empty for an
/// unknown user or one without passkeys: the caller answers fake options then). The
/// ceremony is not stored: the caller seals it into its id (decision 0024).
pub async fn issue(
    db: impl PgExecutor<'_>,
    site: &SiteId,
    c: &NewChallenge<'_>,
) -> sqlx::Result<Vec<AllowedCredential>> {
    sqlx::query_as(
        "WITH u AS (
            SELECT id, groups FROM users WHERE site = $11 AND cognito_sub = $1 AND $1 <> '' AND NOT $2
         ), creds AS (
            SELECT c.credential_id, c.transports, c.created_at, c.aaguid, c.backup_eligible, c.attested FROM credentials c
             WHERE c.user_id = (SELECT id FROM u) AND c.revoked_at IS NULL
         ), challenge AS (
            INSERT INTO challenges (id, site, cognito_sub, user_pool_id, client_id, ceremony_id, created_at, expires_at)
            VALUES ($3, $11, $1, $4, $5, $6, $7, $8)
         ), audit AS (
            INSERT INTO audit_events (site, occurred_at, actor, action, user_id, cognito_sub, details)
            SELECT $11, $7, $9, $10, (SELECT id FROM u), NULLIF($1, ''),
                   $12::jsonb || jsonb_build_object('withPasskeys', EXISTS (SELECT 1 FROM creds))
         )
         SELECT credential_id, transports, aaguid, backup_eligible, attested,
                (SELECT groups FROM u) AS user_groups, (SELECT id FROM u) AS user_id
           FROM creds ORDER BY created_at, credential_id",
    )
    .bind(c.cognito_sub)
    .bind(c.user_not_found)
    .bind(c.id)
    .bind(c.user_pool_id)
    .bind(c.client_id)
    .bind(c.ceremony_id)
    .bind(c.created_at)
    .bind(c.expires_at)
    .bind(c.audit.0)
    .bind(c.audit.1)
    .bind(site.as_str())
    .bind(&c.audit.2)
    .fetch_all(db)
    .await
}
