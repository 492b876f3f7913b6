//! Challenges handed to the Create Auth Challenge trigger; a nonce can only be redeemed
//! for a challenge issued to the same user. Since decision 0024 a challenge is sealed
//! into its id rather than stored (`flows::challenge`); stored ones are from before.

use chrono::{DateTime, Utc};
use sqlx::PgExecutor;
use uuid::Uuid;

use crate::model::SiteId;

pub struct NewChallenge<'a> {
    /// The Cognito user it is for ("" when Cognito did not name one).
    pub cognito_sub: &'a str,
    /// Cognito said the user does not exist: treat as unknown whatever `cognito_sub` is.
    pub user_not_found: bool,
    pub created_at: DateTime<Utc>,
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

/// Issues a challenge in one statement: finds the user's usable credentials and records
/// the audit event. Returns the credentials with their owner (empty for an unknown user or
/// one without passkeys: the caller answers fake options then). Neither the challenge nor
/// its ceremony is stored: the caller seals them into their ids (decision 0024).
pub async fn issue(
    db: impl PgExecutor<'_>,
    site: &SiteId,
    c: &NewChallenge<'_>,
) -> sqlx::Result<Vec<AllowedCredential>> {
    sqlx::query_as(
        "WITH u AS (
            SELECT id, groups FROM users WHERE site = $3 AND cognito_sub = $1 AND $1 <> '' AND NOT $2
         ), creds AS (
            SELECT c.credential_id, c.transports, c.created_at, c.aaguid, c.backup_eligible, c.attested FROM credentials c
             WHERE c.user_id = (SELECT id FROM u) AND c.revoked_at IS NULL
         ), audit AS (
            INSERT INTO audit_events (site, occurred_at, actor, action, user_id, cognito_sub, details)
            SELECT $3, $4, $5, $6, (SELECT id FROM u), NULLIF($1, ''),
                   $7::jsonb || jsonb_build_object('withPasskeys', EXISTS (SELECT 1 FROM creds))
         )
         SELECT credential_id, transports, aaguid, backup_eligible, attested,
                (SELECT groups FROM u) AS user_groups, (SELECT id FROM u) AS user_id
           FROM creds ORDER BY created_at, credential_id",
    )
    .bind(c.cognito_sub)
    .bind(c.user_not_found)
    .bind(site.as_str())
    .bind(c.created_at)
    .bind(c.audit.0)
    .bind(c.audit.1)
    .bind(&c.audit.2)
    .fetch_all(db)
    .await
}

/// Whether the site issued the stored challenge `id` to `sub` and it has not expired. Only
/// challenges issued by a release before decision 0024 are stored; they expire within
/// minutes of an upgrade, and this lookup and the table can go a release later.
pub async fn issued(
    db: impl PgExecutor<'_>,
    site: &SiteId,
    id: Uuid,
    sub: &str,
    now: DateTime<Utc>,
) -> sqlx::Result<bool> {
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM challenges WHERE id = $1 AND site = $2 AND cognito_sub = $3 AND expires_at > $4)",
    )
    .bind(id)
    .bind(site.as_str())
    .bind(sub)
    .bind(now)
    .fetch_one(db)
    .await
}
