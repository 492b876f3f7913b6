//! Postgres access. Functions take an executor (a pool or a transaction) so the caller
//! owns the transaction; every expiry comparison uses the time passed in.

use chrono::{DateTime, Utc};
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, PgExecutor, Row as _};
use uuid::Uuid;

pub type Db = sqlx::PgPool;

/// Embedded migrations from the workspace's `migrations/`.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations");

#[derive(Debug, Clone)]
pub struct User {
    pub id: Uuid,
    pub cognito_sub: String,
    pub username: String,
}

fn user_from(row: &PgRow) -> sqlx::Result<User> {
    Ok(User {
        id: row.try_get("id")?,
        cognito_sub: row.try_get("cognito_sub")?,
        username: row.try_get("username")?,
    })
}

/// Finds the user by Cognito `sub`, creating them (with a fresh random WebAuthn user
/// handle) when new, and refreshing the stored username when it changed.
pub async fn upsert_user(
    conn: &mut PgConnection,
    sub: &str,
    username: &str,
    now: DateTime<Utc>,
) -> sqlx::Result<User> {
    let row = sqlx::query(
        "INSERT INTO users (id, cognito_sub, username, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $4)
         ON CONFLICT (cognito_sub) DO UPDATE
           SET username = EXCLUDED.username,
               updated_at = CASE WHEN users.username = EXCLUDED.username THEN users.updated_at ELSE EXCLUDED.updated_at END
         RETURNING id, cognito_sub, username",
    )
    .bind(Uuid::new_v4())
    .bind(sub)
    .bind(username)
    .bind(now)
    .fetch_one(conn)
    .await?;
    user_from(&row)
}

/// Creates the user row of a passkey-first sign-up, with the user handle its passkey
/// was created for.
pub async fn insert_user(
    conn: &mut PgConnection,
    id: Uuid,
    sub: &str,
    username: &str,
    now: DateTime<Utc>,
) -> sqlx::Result<User> {
    let row = sqlx::query(
        "INSERT INTO users (id, cognito_sub, username, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $4)
         RETURNING id, cognito_sub, username",
    )
    .bind(id)
    .bind(sub)
    .bind(username)
    .bind(now)
    .fetch_one(conn)
    .await?;
    user_from(&row)
}

pub async fn user_by_sub(db: impl PgExecutor<'_>, sub: &str) -> sqlx::Result<Option<User>> {
    sqlx::query("SELECT id, cognito_sub, username FROM users WHERE cognito_sub = $1")
        .bind(sub)
        .fetch_optional(db)
        .await?
        .as_ref()
        .map(user_from)
        .transpose()
}

pub async fn user_by_id(db: impl PgExecutor<'_>, id: Uuid) -> sqlx::Result<Option<User>> {
    sqlx::query("SELECT id, cognito_sub, username FROM users WHERE id = $1")
        .bind(id)
        .fetch_optional(db)
        .await?
        .as_ref()
        .map(user_from)
        .transpose()
}

/// A stored passkey.
#[derive(Debug, Clone)]
pub struct StoredCredential {
    pub credential_id: Vec<u8>,
    pub user_id: Uuid,
    pub passkey: serde_json::Value,
    pub nickname: Option<String>,
    pub aaguid: Option<Uuid>,
    pub sign_count: i64,
    pub backup_eligible: bool,
    pub backup_state: bool,
    pub transports: Vec<String>,
    pub user_verified: Option<bool>,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked: Option<Revocation>,
}

/// When, by whom and why a credential was revoked.
#[derive(Debug, Clone)]
pub struct Revocation {
    pub at: DateTime<Utc>,
    pub by: String,
    pub reason: Option<String>,
}

const CREDENTIAL_COLUMNS: &str = "credential_id, user_id, passkey, nickname, aaguid, sign_count, backup_eligible, backup_state, transports, user_verified, created_at, last_used_at, revoked_at, revoked_by, revoked_reason";

fn credential_from(row: &PgRow) -> sqlx::Result<StoredCredential> {
    Ok(StoredCredential {
        credential_id: row.try_get("credential_id")?,
        user_id: row.try_get("user_id")?,
        passkey: row.try_get("passkey")?,
        nickname: row.try_get("nickname")?,
        aaguid: row.try_get("aaguid")?,
        sign_count: row.try_get("sign_count")?,
        backup_eligible: row.try_get("backup_eligible")?,
        backup_state: row.try_get("backup_state")?,
        transports: row.try_get("transports")?,
        user_verified: row.try_get("user_verified")?,
        created_at: row.try_get("created_at")?,
        last_used_at: row.try_get("last_used_at")?,
        revoked: match row.try_get::<Option<DateTime<Utc>>, _>("revoked_at")? {
            None => None,
            Some(at) => Some(Revocation {
                at,
                by: row
                    .try_get::<Option<String>, _>("revoked_by")?
                    .unwrap_or_default(),
                reason: row.try_get("revoked_reason")?,
            }),
        },
    })
}

/// Outcome of inserting a credential.
pub enum Inserted {
    Yes,
    /// A credential with this id already exists (for this or another user).
    Duplicate,
}

pub async fn insert_credential(
    conn: &mut PgConnection,
    c: &StoredCredential,
) -> sqlx::Result<Inserted> {
    let result = sqlx::query(
        "INSERT INTO credentials (credential_id, user_id, passkey, nickname, aaguid, sign_count,
             backup_eligible, backup_state, transports, user_verified, created_at, last_used_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
         ON CONFLICT (credential_id) DO NOTHING",
    )
    .bind(&c.credential_id)
    .bind(c.user_id)
    .bind(&c.passkey)
    .bind(&c.nickname)
    .bind(c.aaguid)
    .bind(c.sign_count)
    .bind(c.backup_eligible)
    .bind(c.backup_state)
    .bind(&c.transports)
    .bind(c.user_verified)
    .bind(c.created_at)
    .bind(c.last_used_at)
    .execute(conn)
    .await?;
    Ok(if result.rows_affected() == 1 {
        Inserted::Yes
    } else {
        Inserted::Duplicate
    })
}

/// The user's usable (not revoked) credentials.
pub async fn credentials_of(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
) -> sqlx::Result<Vec<StoredCredential>> {
    list_credentials(db, user_id, false).await
}

/// Every credential the user ever had, revoked ones included (for admins).
pub async fn all_credentials_of(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
) -> sqlx::Result<Vec<StoredCredential>> {
    list_credentials(db, user_id, true).await
}

async fn list_credentials(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
    include_revoked: bool,
) -> sqlx::Result<Vec<StoredCredential>> {
    sqlx::query(&format!(
        "SELECT {CREDENTIAL_COLUMNS} FROM credentials
          WHERE user_id = $1 AND ($2 OR revoked_at IS NULL)
          ORDER BY created_at, credential_id"
    ))
    .bind(user_id)
    .bind(include_revoked)
    .fetch_all(db)
    .await?
    .iter()
    .map(credential_from)
    .collect()
}

/// A credential by id, revoked or not (callers check [`StoredCredential::revoked`]).
pub async fn credential(
    db: impl PgExecutor<'_>,
    credential_id: &[u8],
) -> sqlx::Result<Option<StoredCredential>> {
    sqlx::query(&format!(
        "SELECT {CREDENTIAL_COLUMNS} FROM credentials WHERE credential_id = $1"
    ))
    .bind(credential_id)
    .fetch_optional(db)
    .await?
    .as_ref()
    .map(credential_from)
    .transpose()
}

/// What a successful assertion changes on the credential.
pub struct Use {
    pub sign_count: i64,
    pub backup_state: bool,
    pub user_verified: bool,
    pub at: DateTime<Utc>,
}

/// Records a use of the credential, but only if the signature counter moved forward
/// (or both old and new are 0, for authenticators without a counter). The condition is
/// in the UPDATE itself, so two concurrent sign-ins with the same counter cannot both
/// pass, and a stale counter can never overwrite a newer one. Returns false when the
/// counter did not advance.
pub async fn record_use(
    conn: &mut PgConnection,
    credential_id: &[u8],
    u: &Use,
) -> sqlx::Result<bool> {
    let result = sqlx::query(
        "UPDATE credentials
            SET sign_count = $2, backup_state = $3, user_verified = $4, last_used_at = $5
          WHERE credential_id = $1 AND revoked_at IS NULL
            AND (sign_count < $2 OR (sign_count = 0 AND $2 = 0))",
    )
    .bind(credential_id)
    .bind(u.sign_count)
    .bind(u.backup_state)
    .bind(u.user_verified)
    .bind(u.at)
    .execute(conn)
    .await?;
    Ok(result.rows_affected() == 1)
}

pub async fn rename_credential(
    conn: &mut PgConnection,
    user_id: Uuid,
    credential_id: &[u8],
    nickname: Option<&str>,
) -> sqlx::Result<Option<StoredCredential>> {
    sqlx::query(&format!(
        "UPDATE credentials SET nickname = $3 WHERE user_id = $1 AND credential_id = $2 AND revoked_at IS NULL RETURNING {CREDENTIAL_COLUMNS}"
    ))
    .bind(user_id)
    .bind(credential_id)
    .bind(nickname)
    .fetch_optional(conn)
    .await?
    .as_ref()
    .map(credential_from)
    .transpose()
}

/// Which credentials to revoke.
pub enum RevokeWhich<'a> {
    /// One credential, optionally only if it belongs to this user.
    One(&'a [u8], Option<Uuid>),
    /// Every usable credential of the user (an account reset).
    AllOf(Uuid),
}

/// Revokes credentials (they stay, so their ids can never be used or registered again)
/// and deletes their unredeemed nonces. Returns the ids revoked now.
pub async fn revoke_credentials(
    conn: &mut PgConnection,
    which: RevokeWhich<'_>,
    by: &str,
    reason: Option<&str>,
    now: DateTime<Utc>,
) -> sqlx::Result<Vec<Vec<u8>>> {
    let (one, owner, all_of) = match which {
        RevokeWhich::One(id, owner) => (Some(id), owner, None),
        RevokeWhich::AllOf(user) => (None, None, Some(user)),
    };
    let ids: Vec<Vec<u8>> = sqlx::query_scalar(
        "UPDATE credentials SET revoked_at = $4, revoked_by = $5, revoked_reason = $6
          WHERE revoked_at IS NULL
            AND ($1::bytea IS NULL OR credential_id = $1)
            AND ($2::uuid IS NULL OR user_id = $2)
            AND ($3::uuid IS NULL OR user_id = $3)
          RETURNING credential_id",
    )
    .bind(one)
    .bind(owner)
    .bind(all_of)
    .bind(now)
    .bind(by)
    .bind(reason)
    .fetch_all(&mut *conn)
    .await?;
    if !ids.is_empty() {
        sqlx::query("DELETE FROM nonces WHERE credential_id = ANY($1) AND redeemed_at IS NULL")
            .bind(&ids)
            .execute(&mut *conn)
            .await?;
    }
    Ok(ids)
}

pub async fn user_by_username(
    db: impl PgExecutor<'_>,
    username: &str,
) -> sqlx::Result<Option<User>> {
    sqlx::query("SELECT id, cognito_sub, username FROM users WHERE username = $1 ORDER BY created_at LIMIT 1")
        .bind(username)
        .fetch_optional(db)
        .await?
        .as_ref()
        .map(user_from)
        .transpose()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CeremonyKind {
    Registration,
    Authentication,
    /// Registration of someone who is not a Cognito user yet (passkey-first sign-up).
    Signup,
}

impl CeremonyKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Registration => "registration",
            Self::Authentication => "authentication",
            Self::Signup => "signup",
        }
    }
}

pub struct NewCeremony<'a> {
    pub id: Uuid,
    pub kind: CeremonyKind,
    pub user_id: Option<Uuid>,
    pub challenge_id: Option<Uuid>,
    pub state: serde_json::Value,
    pub nickname: Option<&'a str>,
    /// Sign-up only: the email and the user handle chosen for the new user.
    pub signup: Option<(&'a str, Uuid)>,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

pub async fn insert_ceremony(db: impl PgExecutor<'_>, c: &NewCeremony<'_>) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO ceremonies (id, kind, user_id, challenge_id, state, nickname, created_at, expires_at, signup_email, user_handle)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(c.id)
    .bind(c.kind.as_str())
    .bind(c.user_id)
    .bind(c.challenge_id)
    .bind(&c.state)
    .bind(c.nickname)
    .bind(c.created_at)
    .bind(c.expires_at)
    .bind(c.signup.map(|(email, _)| email))
    .bind(c.signup.map(|(_, handle)| handle))
    .execute(db)
    .await?;
    Ok(())
}

pub struct TakenCeremony {
    pub user_id: Option<Uuid>,
    pub challenge_id: Option<Uuid>,
    pub state: serde_json::Value,
    pub nickname: Option<String>,
    pub expires_at: DateTime<Utc>,
    pub signup_email: Option<String>,
    pub user_handle: Option<Uuid>,
}

/// Consumes a ceremony: it is deleted whatever happens next, so it can be finished at
/// most once. `user_id`, when given, must match the ceremony's user, so one user cannot
/// consume (and so cancel) another's registration.
pub async fn take_ceremony(
    db: impl PgExecutor<'_>,
    id: Uuid,
    kind: CeremonyKind,
    user_id: Option<Uuid>,
) -> sqlx::Result<Option<TakenCeremony>> {
    let row = sqlx::query(
        "DELETE FROM ceremonies
          WHERE id = $1 AND kind = $2 AND ($3::uuid IS NULL OR user_id = $3)
          RETURNING user_id, challenge_id, state, nickname, expires_at, signup_email, user_handle",
    )
    .bind(id)
    .bind(kind.as_str())
    .bind(user_id)
    .fetch_optional(db)
    .await?;
    row.map(|r| {
        Ok(TakenCeremony {
            user_id: r.try_get("user_id")?,
            challenge_id: r.try_get("challenge_id")?,
            state: r.try_get("state")?,
            nickname: r.try_get("nickname")?,
            expires_at: r.try_get("expires_at")?,
            signup_email: r.try_get("signup_email")?,
            user_handle: r.try_get("user_handle")?,
        })
    })
    .transpose()
}

pub struct NewChallenge<'a> {
    pub id: Uuid,
    pub cognito_sub: &'a str,
    pub user_pool_id: &'a str,
    pub client_id: &'a str,
    pub ceremony_id: Uuid,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

pub async fn insert_challenge(db: impl PgExecutor<'_>, c: &NewChallenge<'_>) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO challenges (id, cognito_sub, user_pool_id, client_id, ceremony_id, created_at, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(c.id)
    .bind(c.cognito_sub)
    .bind(c.user_pool_id)
    .bind(c.client_id)
    .bind(c.ceremony_id)
    .bind(c.created_at)
    .bind(c.expires_at)
    .execute(db)
    .await?;
    Ok(())
}

/// Whether `challenge_id` was issued to `sub`. Challenges outlive their ceremony by the
/// nonce lifetime, so a Verify call after a slow ceremony still finds it.
pub async fn challenge_issued_to(
    db: impl PgExecutor<'_>,
    challenge_id: Uuid,
    sub: &str,
    now: DateTime<Utc>,
) -> sqlx::Result<bool> {
    let found: Option<i32> = sqlx::query_scalar(
        "SELECT 1 FROM challenges WHERE id = $1 AND cognito_sub = $2 AND expires_at > $3",
    )
    .bind(challenge_id)
    .bind(sub)
    .bind(now)
    .fetch_optional(db)
    .await?;
    Ok(found.is_some())
}

pub struct NewNonce<'a> {
    pub hash: &'a [u8],
    pub user_id: Uuid,
    pub cognito_sub: &'a str,
    pub credential_id: &'a [u8],
    pub bound_challenge_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

pub async fn insert_nonce(db: impl PgExecutor<'_>, n: &NewNonce<'_>) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO nonces (nonce_hash, user_id, cognito_sub, credential_id, bound_challenge_id, created_at, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(n.hash)
    .bind(n.user_id)
    .bind(n.cognito_sub)
    .bind(n.credential_id)
    .bind(n.bound_challenge_id)
    .bind(n.created_at)
    .bind(n.expires_at)
    .execute(db)
    .await?;
    Ok(())
}

/// A nonce row as seen when a redemption did not go through.
pub struct NonceRow {
    pub user_id: Uuid,
    pub cognito_sub: String,
    pub credential_id: Vec<u8>,
    pub bound_challenge_id: Option<Uuid>,
    pub redeemed_challenge_id: Option<Uuid>,
    pub expires_at: DateTime<Utc>,
}

/// Atomically marks the nonce redeemed for `challenge_id`. Exactly one of any number of
/// concurrent calls can match `redeemed_at IS NULL`; the row lock makes the rest wait
/// and then see it redeemed. Returns the nonce's user and credential on success.
pub async fn redeem_nonce(
    db: impl PgExecutor<'_>,
    hash: &[u8],
    sub: &str,
    challenge_id: Uuid,
    now: DateTime<Utc>,
) -> sqlx::Result<Option<(Uuid, Vec<u8>)>> {
    let row = sqlx::query(
        "UPDATE nonces SET redeemed_at = $4, redeemed_challenge_id = $3
          WHERE nonce_hash = $1 AND cognito_sub = $2 AND redeemed_at IS NULL AND expires_at > $4
            AND (bound_challenge_id IS NULL OR bound_challenge_id = $3)
            AND NOT EXISTS (SELECT 1 FROM credentials c
                             WHERE c.credential_id = nonces.credential_id AND c.revoked_at IS NOT NULL)
          RETURNING user_id, credential_id",
    )
    .bind(hash)
    .bind(sub)
    .bind(challenge_id)
    .bind(now)
    .fetch_optional(db)
    .await?;
    row.map(|r| Ok((r.try_get("user_id")?, r.try_get("credential_id")?)))
        .transpose()
}

pub async fn nonce(db: impl PgExecutor<'_>, hash: &[u8]) -> sqlx::Result<Option<NonceRow>> {
    let row = sqlx::query(
        "SELECT user_id, cognito_sub, credential_id, bound_challenge_id, redeemed_challenge_id, expires_at
           FROM nonces WHERE nonce_hash = $1",
    )
    .bind(hash)
    .fetch_optional(db)
    .await?;
    row.map(|r| {
        Ok(NonceRow {
            user_id: r.try_get("user_id")?,
            cognito_sub: r.try_get("cognito_sub")?,
            credential_id: r.try_get("credential_id")?,
            bound_challenge_id: r.try_get("bound_challenge_id")?,
            redeemed_challenge_id: r.try_get("redeemed_challenge_id")?,
            expires_at: r.try_get("expires_at")?,
        })
    })
    .transpose()
}

/// Returns the named server key, creating it from the CSPRNG on first use. Every
/// instance sharing the database gets the same key.
pub async fn server_key(db: &Db, name: &str, now: DateTime<Utc>) -> sqlx::Result<Vec<u8>> {
    let mut fresh = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut fresh);
    sqlx::query("INSERT INTO server_keys (name, secret, created_at) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING")
        .bind(name)
        .bind(fresh.as_slice())
        .bind(now)
        .execute(db)
        .await?;
    sqlx::query_scalar("SELECT secret FROM server_keys WHERE name = $1")
        .bind(name)
        .fetch_one(db)
        .await
}

/// Deletes expired ceremonies, challenges and nonces in small batches so the purge
/// never holds long locks. Returns how many rows went.
pub async fn purge_expired(db: &Db, now: DateTime<Utc>, batch: i64) -> sqlx::Result<u64> {
    let mut total = 0;
    for table in ["ceremonies", "challenges", "nonces", "enrolment_tokens"] {
        loop {
            let sql = format!(
                "DELETE FROM {table} WHERE ctid IN (SELECT ctid FROM {table} WHERE expires_at <= $1 LIMIT $2)"
            );
            let n = sqlx::query(&sql)
                .bind(now)
                .bind(batch)
                .execute(db)
                .await?
                .rows_affected();
            total += n;
            if n < batch as u64 {
                break;
            }
        }
    }
    Ok(total)
}

/// An enrolment token as admins see it (never the token itself).
#[derive(Debug, Clone)]
pub struct EnrolmentToken {
    pub id: Uuid,
    pub user_id: Uuid,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

fn enrolment_from(r: &PgRow) -> sqlx::Result<EnrolmentToken> {
    Ok(EnrolmentToken {
        id: r.try_get("id")?,
        user_id: r.try_get("user_id")?,
        created_by: r.try_get("created_by")?,
        created_at: r.try_get("created_at")?,
        expires_at: r.try_get("expires_at")?,
        used_at: r.try_get("used_at")?,
        revoked_at: r.try_get("revoked_at")?,
    })
}

const ENROLMENT_COLUMNS: &str =
    "id, user_id, created_by, created_at, expires_at, used_at, revoked_at";

pub async fn insert_enrolment_token(
    db: impl PgExecutor<'_>,
    t: &EnrolmentToken,
    hash: &[u8],
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO enrolment_tokens (id, token_hash, user_id, created_by, created_at, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(t.id)
    .bind(hash)
    .bind(t.user_id)
    .bind(&t.created_by)
    .bind(t.created_at)
    .bind(t.expires_at)
    .execute(db)
    .await?;
    Ok(())
}

/// A token that is unused, unrevoked and unexpired.
pub async fn usable_enrolment_token(
    db: impl PgExecutor<'_>,
    hash: &[u8],
    now: DateTime<Utc>,
) -> sqlx::Result<Option<EnrolmentToken>> {
    sqlx::query(&format!(
        "SELECT {ENROLMENT_COLUMNS} FROM enrolment_tokens
          WHERE token_hash = $1 AND used_at IS NULL AND revoked_at IS NULL AND expires_at > $2"
    ))
    .bind(hash)
    .bind(now)
    .fetch_optional(db)
    .await?
    .as_ref()
    .map(enrolment_from)
    .transpose()
}

/// Marks the token used, if it still is usable; exactly one caller can succeed.
pub async fn use_enrolment_token(
    db: impl PgExecutor<'_>,
    id: Uuid,
    now: DateTime<Utc>,
) -> sqlx::Result<bool> {
    let r = sqlx::query(
        "UPDATE enrolment_tokens SET used_at = $2
          WHERE id = $1 AND used_at IS NULL AND revoked_at IS NULL AND expires_at > $2",
    )
    .bind(id)
    .bind(now)
    .execute(db)
    .await?;
    Ok(r.rows_affected() == 1)
}

pub async fn enrolment_tokens_of(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
) -> sqlx::Result<Vec<EnrolmentToken>> {
    sqlx::query(&format!(
        "SELECT {ENROLMENT_COLUMNS} FROM enrolment_tokens WHERE user_id = $1 ORDER BY created_at DESC, id"
    ))
    .bind(user_id)
    .fetch_all(db)
    .await?
    .iter()
    .map(enrolment_from)
    .collect()
}

/// Revokes a token that has not been used; returns it (as it is now) if it exists.
pub async fn revoke_enrolment_token(
    db: impl PgExecutor<'_>,
    id: Uuid,
    now: DateTime<Utc>,
) -> sqlx::Result<Option<EnrolmentToken>> {
    sqlx::query(&format!(
        "UPDATE enrolment_tokens SET revoked_at = COALESCE(revoked_at, $2)
          WHERE id = $1 RETURNING {ENROLMENT_COLUMNS}"
    ))
    .bind(id)
    .bind(now)
    .fetch_optional(db)
    .await?
    .as_ref()
    .map(enrolment_from)
    .transpose()
}
