//! In-flight ceremonies. Finishing one deletes it (`DELETE ... RETURNING`), so each is
//! consumed exactly once whatever the outcome.

use chrono::{DateTime, Utc};
use sqlx::postgres::PgRow;
use sqlx::types::Json;
use sqlx::{PgExecutor, Row as _};
use uuid::Uuid;

use super::credentials::{CredentialRow, StoredCredential};
use super::users::User;
use crate::ceremony::{CeremonyKind, CeremonyState};
use crate::model::SiteId;

pub struct NewCeremony<'a> {
    pub id: Uuid,
    /// The user it belongs to: only they may finish it.
    pub owner: Option<Uuid>,
    pub state: &'a CeremonyState,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

pub async fn insert(
    db: impl PgExecutor<'_>,
    site: &SiteId,
    c: &NewCeremony<'_>,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO ceremonies (id, site, kind, user_id, state, created_at, expires_at)
         VALUES ($1, $7, $2, $3, $4, $5, $6)",
    )
    .bind(c.id)
    .bind(c.state.kind().as_str())
    .bind(c.owner)
    .bind(Json(c.state))
    .bind(c.created_at)
    .bind(c.expires_at)
    .bind(site.as_str())
    .execute(db)
    .await?;
    Ok(())
}

/// A consumed ceremony.
#[derive(Debug)]
pub struct Taken {
    pub state: CeremonyState,
    pub owner: Option<Uuid>,
    pub expires_at: DateTime<Utc>,
}

fn kinds(kinds: &[CeremonyKind]) -> Vec<&'static str> {
    kinds.iter().map(|k| k.as_str()).collect()
}

/// Consumes a ceremony of the site of one of `of_kinds`: it is deleted whatever happens
/// next, so it can be finished at most once. `owner`, when given, must be the ceremony's
/// owner, so one user cannot consume (and so cancel) another's.
pub async fn take(
    db: impl PgExecutor<'_>,
    site: &SiteId,
    id: Uuid,
    of_kinds: &[CeremonyKind],
    owner: Option<Uuid>,
) -> sqlx::Result<Option<Taken>> {
    let row: Option<(Json<CeremonyState>, Option<Uuid>, DateTime<Utc>)> = sqlx::query_as(
        "DELETE FROM ceremonies
          WHERE id = $1 AND site = $4 AND kind = ANY($2) AND ($3::uuid IS NULL OR user_id = $3)
          RETURNING state, user_id, expires_at",
    )
    .bind(id)
    .bind(kinds(of_kinds))
    .bind(owner)
    .bind(site.as_str())
    .fetch_optional(db)
    .await?;
    Ok(row.map(|(state, owner, expires_at)| Taken {
        state: state.0,
        owner,
        expires_at,
    }))
}

/// Consumes a sign-in ceremony and, in the same statement, loads the credential that
/// claims to answer it with its owner. No row: no such ceremony.
pub async fn take_with_credential(
    db: impl PgExecutor<'_>,
    site: &SiteId,
    id: Uuid,
    of_kinds: &[CeremonyKind],
    credential_id: &[u8],
) -> sqlx::Result<Option<(Taken, Option<(StoredCredential, User)>)>> {
    let sql = with_credential(
        "DELETE FROM ceremonies WHERE id = $1 AND site = $4 AND kind = ANY($2)
         RETURNING state AS ceremony_state, user_id AS ceremony_owner, expires_at AS ceremony_expires_at",
        "$4",
        "$3",
    );
    let Some(row) = sqlx::query(&sql)
        .bind(id)
        .bind(kinds(of_kinds))
        .bind(credential_id)
        .bind(site.as_str())
        .fetch_optional(db)
        .await?
    else {
        return Ok(None);
    };
    let taken = Taken {
        state: row.try_get::<Json<CeremonyState>, _>("ceremony_state")?.0,
        owner: row.try_get("ceremony_owner")?,
        expires_at: row.try_get("ceremony_expires_at")?,
    };
    Ok(Some((taken, credential_of(&row)?)))
}

/// Spends a sealed ceremony (records its id, so it finishes at most once) and, in the
/// same statement, loads the site's credential that claims to answer it with its owner.
/// `None`: it was spent before. (Spent ids need no site: a sealed ceremony opens only
/// with its site's key.)
pub async fn spend_with_credential(
    db: impl PgExecutor<'_>,
    site: &SiteId,
    id: Uuid,
    expires_at: DateTime<Utc>,
    credential_id: &[u8],
) -> sqlx::Result<Option<Option<(StoredCredential, User)>>> {
    let sql = with_credential(
        "INSERT INTO spent_ceremonies (id, expires_at) VALUES ($1, $2)
         ON CONFLICT (id) DO NOTHING RETURNING id AS spent_id",
        "$4",
        "$3",
    );
    let row = sqlx::query(&sql)
        .bind(id)
        .bind(expires_at)
        .bind(credential_id)
        .bind(site.as_str())
        .fetch_optional(db)
        .await?;
    row.map(|row| credential_of(&row)).transpose()
}

/// `WITH taken AS (<taking>) SELECT taken's columns, the credential of the site
/// `site_param` named by `credential_param` (if any) and its owner's sub and username`.
fn with_credential(taking: &str, site_param: &str, credential_param: &str) -> String {
    let cols = super::credentials::columns_of_c();
    format!(
        "WITH taken AS ({taking})
         SELECT t.*, {cols}, u.cognito_sub AS owner_sub, u.username AS owner_username
           FROM taken t
           LEFT JOIN credentials c ON c.site = {site_param} AND c.credential_id = {credential_param}
           LEFT JOIN users u ON u.id = c.user_id"
    )
}

fn credential_of(row: &PgRow) -> sqlx::Result<Option<(StoredCredential, User)>> {
    if row
        .try_get::<Option<Vec<u8>>, _>("credential_id")?
        .is_none()
    {
        return Ok(None);
    }
    let stored = StoredCredential::from(<CredentialRow as sqlx::FromRow<_>>::from_row(row)?);
    let user = User {
        id: stored.user_id,
        cognito_sub: row.try_get("owner_sub")?,
        username: row.try_get("owner_username")?,
    };
    Ok(Some((stored, user)))
}
