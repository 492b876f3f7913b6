//! Users: a Cognito user who has (or is registering) passkeys. `id` doubles as the
//! WebAuthn user handle: random, never derived from the email or username.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgExecutor};
use uuid::Uuid;

use crate::model::SiteId;

/// How near a weak sign-in's redemption must be to a token's `auth_time` to be taken
/// as that token's sign-in: Cognito issues the tokens right after the Verify trigger
/// redeemed the nonce (seconds), and the clocks may differ by a few seconds.
pub const WEAK_BEFORE_AUTH_SECS: i64 = 30;
pub const WEAK_AFTER_AUTH_SECS: i64 = 5;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct User {
    pub id: Uuid,
    pub cognito_sub: String,
    pub username: String,
}

/// Finds the user by Cognito `sub`, creating them (with a fresh random WebAuthn user
/// handle) when new, and refreshing the stored username when it changed.
///
/// Not one `INSERT … ON CONFLICT (site, cognito_sub) DO UPDATE`: until a second site is
/// configured the table also keeps its first key on `cognito_sub` alone (migration 0027),
/// and a conflict on a key the clause does not name is an error — two first requests for
/// one user at once made one of them fail. So: refresh the row; else insert it, giving way
/// on any key; else (another request inserted it meanwhile) refresh it, which the
/// statement's fresh snapshot now sees.
pub async fn upsert_user(
    conn: &mut PgConnection,
    site: &SiteId,
    sub: &str,
    username: &str,
    now: DateTime<Utc>,
) -> sqlx::Result<User> {
    if let Some(user) = refresh_user(&mut *conn, site, sub, username, now).await? {
        return Ok(user);
    }
    let inserted = sqlx::query_as(
        "INSERT INTO users (id, site, cognito_sub, username, created_at, updated_at)
         VALUES ($1, $5, $2, $3, $4, $4)
         ON CONFLICT DO NOTHING
         RETURNING id, cognito_sub, username",
    )
    .bind(Uuid::new_v4())
    .bind(sub)
    .bind(username)
    .bind(now)
    .bind(site.as_str())
    .fetch_optional(&mut *conn)
    .await?;
    match inserted {
        Some(user) => Ok(user),
        None => refresh_user(conn, site, sub, username, now)
            .await?
            .ok_or(sqlx::Error::RowNotFound),
    }
}

/// The user's row with `username` stored (its `updated_at` moved only when it changed).
async fn refresh_user(
    conn: &mut PgConnection,
    site: &SiteId,
    sub: &str,
    username: &str,
    now: DateTime<Utc>,
) -> sqlx::Result<Option<User>> {
    sqlx::query_as(
        "UPDATE users
            SET username = $3,
                updated_at = CASE WHEN username = $3 THEN updated_at ELSE $4 END
          WHERE site = $1 AND cognito_sub = $2
         RETURNING id, cognito_sub, username",
    )
    .bind(site.as_str())
    .bind(sub)
    .bind(username)
    .bind(now)
    .fetch_optional(conn)
    .await
}

/// Creates the user row of a passkey-first sign-up, with the user handle its passkey
/// was created for.
pub async fn insert_user(
    conn: &mut PgConnection,
    site: &SiteId,
    id: Uuid,
    sub: &str,
    username: &str,
    now: DateTime<Utc>,
) -> sqlx::Result<User> {
    sqlx::query_as(
        "INSERT INTO users (id, site, cognito_sub, username, created_at, updated_at)
         VALUES ($1, $5, $2, $3, $4, $4)
         RETURNING id, cognito_sub, username",
    )
    .bind(id)
    .bind(sub)
    .bind(username)
    .bind(now)
    .bind(site.as_str())
    .fetch_one(conn)
    .await
}

pub async fn user_by_sub(
    db: impl PgExecutor<'_>,
    site: &SiteId,
    sub: &str,
) -> sqlx::Result<Option<User>> {
    sqlx::query_as(
        "SELECT id, cognito_sub, username FROM users WHERE site = $1 AND cognito_sub = $2",
    )
    .bind(site.as_str())
    .bind(sub)
    .fetch_optional(db)
    .await
}

pub async fn user_by_id(
    db: impl PgExecutor<'_>,
    site: &SiteId,
    id: Uuid,
) -> sqlx::Result<Option<User>> {
    sqlx::query_as("SELECT id, cognito_sub, username FROM users WHERE id = $1 AND site = $2")
        .bind(id)
        .bind(site.as_str())
        .fetch_optional(db)
        .await
}

pub async fn user_by_username(
    db: impl PgExecutor<'_>,
    site: &SiteId,
    username: &str,
) -> sqlx::Result<Option<User>> {
    sqlx::query_as(
        "SELECT id, cognito_sub, username FROM users WHERE site = $1 AND username = $2 ORDER BY created_at LIMIT 1",
    )
    .bind(site.as_str())
    .bind(username)
    .fetch_optional(db)
    .await
}

/// Refuses, from now on, the user's access tokens issued at or before `at` (an account
/// reset).
pub async fn end_sessions(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
    at: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query("UPDATE users SET sessions_not_before = $2, updated_at = $2 WHERE id = $1")
        .bind(user_id)
        .bind(at)
        .execute(db)
        .await?;
    Ok(())
}

/// When the user's sessions were last ended, if ever; in the same statement, the groups
/// of the access token being checked are recorded when they changed (the passkey policy
/// at sign-in, where there is no token, goes by the latest ones seen).
pub async fn sessions_not_before(
    db: impl PgExecutor<'_>,
    site: &SiteId,
    sub: &str,
    groups: &[String],
) -> sqlx::Result<Option<DateTime<Utc>>> {
    Ok(sqlx::query_scalar::<_, Option<DateTime<Utc>>>(
        "WITH seen AS (
            UPDATE users SET groups = $2
             WHERE site = $3 AND cognito_sub = $1 AND groups IS DISTINCT FROM $2
         )
         SELECT sessions_not_before FROM users WHERE site = $3 AND cognito_sub = $1",
    )
    .bind(sub)
    .bind(groups)
    .bind(site.as_str())
    .fetch_optional(db)
    .await?
    .flatten())
}

/// A weak sign-in (an email or recovery code) as recorded at its redemption.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct WeakSignIn {
    pub id: i64,
    pub factor: String,
    pub redeemed_at: DateTime<Utc>,
    /// Whether its session added a passkey already.
    pub added_passkey: bool,
}

/// The weak sign-in that began the session of a token with this `auth_time`, if one
/// did: the user's latest such redemption within [`WEAK_BEFORE_AUTH_SECS`] before to
/// [`WEAK_AFTER_AUTH_SECS`] after it — unless a passkey sign-in followed it by then
/// (the token is that sign-in's).
pub async fn weak_factor(
    db: impl PgExecutor<'_>,
    site: &SiteId,
    sub: &str,
    auth_time: DateTime<Utc>,
) -> sqlx::Result<Option<WeakSignIn>> {
    sqlx::query_as(
        "SELECT w.id, w.factor, w.redeemed_at, w.passkey_added_at IS NOT NULL AS added_passkey
           FROM weak_sign_ins w JOIN users u ON u.id = w.user_id
          WHERE u.site = $5 AND u.cognito_sub = $1
            AND w.redeemed_at >= $2 - make_interval(secs => $3)
            AND w.redeemed_at < $2 + make_interval(secs => $4 + 1)
            AND (w.passkey_after_at IS NULL OR w.passkey_after_at >= $2 + make_interval(secs => $4 + 1))
          ORDER BY w.redeemed_at DESC LIMIT 1",
    )
    .bind(sub)
    .bind(auth_time)
    .bind(WEAK_BEFORE_AUTH_SECS as f64)
    .bind(WEAK_AFTER_AUTH_SECS as f64)
    .bind(site.as_str())
    .fetch_optional(db)
    .await
}

/// Records that the weak sign-in's session added its one passkey; `false` when it had
/// already (a second registration racing the first loses here).
pub async fn weak_sign_in_added_passkey(
    db: impl PgExecutor<'_>,
    id: i64,
    now: DateTime<Utc>,
) -> sqlx::Result<bool> {
    let n = sqlx::query(
        "UPDATE weak_sign_ins SET passkey_added_at = $2 WHERE id = $1 AND passkey_added_at IS NULL",
    )
    .bind(id)
    .bind(now)
    .execute(db)
    .await?
    .rows_affected();
    Ok(n == 1)
}

/// Records the groups of the user's latest access token (written only when they changed).
pub async fn set_groups(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
    groups: &[String],
) -> sqlx::Result<()> {
    sqlx::query("UPDATE users SET groups = $2 WHERE id = $1 AND groups IS DISTINCT FROM $2")
        .bind(user_id)
        .bind(groups)
        .execute(db)
        .await?;
    Ok(())
}

/// Records how many passkeys the user still has with Cognito itself (their client's report).
pub async fn set_cognito_passkeys(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
    count: i32,
) -> sqlx::Result<()> {
    sqlx::query("UPDATE users SET cognito_passkeys = $2 WHERE id = $1")
        .bind(user_id)
        .bind(count)
        .execute(db)
        .await?;
    Ok(())
}

/// Users whose client reported passkeys with Cognito itself and who have none of ours,
/// among those whose id is from `first` to `last` (planned for the range: not prepared).
pub async fn only_cognito_passkeys(
    db: impl PgExecutor<'_>,
    site: &SiteId,
    first: Uuid,
    last: Uuid,
) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "SELECT count(*) FROM users u
          WHERE u.site = $1 AND u.cognito_passkeys > 0 AND u.id BETWEEN $2 AND $3
            AND NOT EXISTS (SELECT 1 FROM credentials c WHERE c.user_id = u.id AND c.revoked_at IS NULL)",
    )
    .bind(site.as_str())
    .bind(first)
    .bind(last)
    .persistent(false)
    .fetch_one(db)
    .await
}

/// The groups of the user's most recent access token rp-server saw.
pub async fn groups_of(db: impl PgExecutor<'_>, user_id: Uuid) -> sqlx::Result<Vec<String>> {
    Ok(sqlx::query_scalar("SELECT groups FROM users WHERE id = $1")
        .bind(user_id)
        .fetch_optional(db)
        .await?
        .unwrap_or_default())
}

/// A user as a search lists them: who, and how many passkeys they have.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct UserMatch {
    pub cognito_sub: String,
    pub username: String,
    pub active_passkeys: i64,
    pub last_used_at: Option<DateTime<Utc>>,
}

const MATCH_COLUMNS: &str = "u.cognito_sub, u.username,
        (SELECT count(*) FROM credentials c WHERE c.user_id = u.id AND c.revoked_at IS NULL) AS active_passkeys,
        (SELECT max(c.last_used_at) FROM credentials c WHERE c.user_id = u.id) AS last_used_at";

/// Users whose username (case-insensitively) or `sub` starts with `prefix`, by username
/// then `sub`, after the keyset `after` (a previous page's last `(lower(username), sub)`).
pub async fn search(
    db: impl PgExecutor<'_>,
    site: &SiteId,
    prefix: &str,
    after: Option<(&str, &str)>,
    limit: i64,
) -> sqlx::Result<Vec<UserMatch>> {
    sqlx::query_as(&format!(
        "SELECT {MATCH_COLUMNS}
           FROM users u
          WHERE u.site = $5 AND (lower(u.username) LIKE lower($1) OR u.cognito_sub LIKE $1)
            AND ($2::text IS NULL OR (lower(u.username), u.cognito_sub) > ($2, $3))
          ORDER BY lower(u.username), u.cognito_sub
          LIMIT $4"
    ))
    .bind(super::like_prefix(prefix))
    .bind(after.map(|a| a.0))
    .bind(after.map(|a| a.1).unwrap_or_default())
    .bind(limit)
    .bind(site.as_str())
    // Planned for its pattern each time: a generic plan cannot use the prefix indexes for
    // `LIKE $1` and reads every user (1.0 s for 1 M users, against 10 ms).
    .persistent(false)
    .fetch_all(db)
    .await
}

/// The users among `subs` rp-server knows, with their passkey counts.
pub async fn matches_by_sub(
    db: impl PgExecutor<'_>,
    site: &SiteId,
    subs: &[String],
) -> sqlx::Result<Vec<UserMatch>> {
    sqlx::query_as(&format!(
        "SELECT {MATCH_COLUMNS} FROM users u WHERE u.site = $2 AND u.cognito_sub = ANY($1)"
    ))
    .bind(subs)
    .bind(site.as_str())
    .fetch_all(db)
    .await
}
