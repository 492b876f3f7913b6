//! Stored passkeys. Credentials are revoked, never deleted: a revoked id stays so it can
//! never be used or registered again. The counter and backup flags in their own columns
//! are authoritative and only ever updated conditionally.

use chrono::{DateTime, Utc};
use sqlx::types::Json;
use sqlx::{PgConnection, PgExecutor};
use uuid::Uuid;
use webauthn_rs_core::proto::Credential;

use super::audit::{self, AuditRow};
use super::sample::{self, Sampled, Widening};
use crate::model::SiteId;

/// A stored passkey.
#[derive(Debug, Clone)]
pub struct StoredCredential {
    pub credential_id: Vec<u8>,
    pub user_id: Uuid,
    /// The user handle its authenticator holds, when not ours (`user_id`): a passkey
    /// imported from another relying party keeps the one it was made with.
    pub user_handle: Option<Vec<u8>>,
    /// webauthn-rs-core's credential (public key, policy, extensions) as registered.
    pub passkey: Credential,
    pub nickname: Option<String>,
    pub aaguid: Option<Uuid>,
    pub sign_count: i64,
    pub backup_eligible: bool,
    pub backup_state: bool,
    pub transports: Vec<String>,
    pub user_verified: Option<bool>,
    /// Its attestation chained to a root the FIDO metadata lists for its model.
    pub attested: bool,
    /// The FIDO metadata's description of its model, when the metadata listed it.
    pub metadata_description: Option<String>,
    /// The model's latest status in the metadata at registration.
    pub metadata_status: Option<String>,
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

pub(super) const COLUMNS: &str = "credential_id, user_id, user_handle, passkey, nickname, aaguid, sign_count, backup_eligible, backup_state, transports, user_verified, attested, metadata_description, metadata_status, created_at, last_used_at, revoked_at, revoked_by, revoked_reason";

/// [`COLUMNS`], each qualified with the table alias `c` (for queries that join).
pub(super) fn columns_of_c() -> String {
    COLUMNS
        .split(", ")
        .map(|c| format!("c.{c}"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[derive(sqlx::FromRow)]
pub(super) struct CredentialRow {
    credential_id: Vec<u8>,
    user_id: Uuid,
    user_handle: Option<Vec<u8>>,
    passkey: Json<Credential>,
    nickname: Option<String>,
    aaguid: Option<Uuid>,
    sign_count: i64,
    backup_eligible: bool,
    backup_state: bool,
    transports: Vec<String>,
    user_verified: Option<bool>,
    attested: bool,
    metadata_description: Option<String>,
    metadata_status: Option<String>,
    created_at: DateTime<Utc>,
    last_used_at: Option<DateTime<Utc>>,
    revoked_at: Option<DateTime<Utc>>,
    revoked_by: Option<String>,
    revoked_reason: Option<String>,
}

impl From<CredentialRow> for StoredCredential {
    fn from(r: CredentialRow) -> Self {
        Self {
            credential_id: r.credential_id,
            user_id: r.user_id,
            user_handle: r.user_handle,
            passkey: r.passkey.0,
            nickname: r.nickname,
            aaguid: r.aaguid,
            sign_count: r.sign_count,
            backup_eligible: r.backup_eligible,
            backup_state: r.backup_state,
            transports: r.transports,
            user_verified: r.user_verified,
            attested: r.attested,
            metadata_description: r.metadata_description,
            metadata_status: r.metadata_status,
            created_at: r.created_at,
            last_used_at: r.last_used_at,
            revoked: r.revoked_at.map(|at| Revocation {
                at,
                by: r.revoked_by.unwrap_or_default(),
                reason: r.revoked_reason,
            }),
        }
    }
}

impl StoredCredential {
    /// The user handle its authenticator returns in a usernameless sign-in.
    pub fn handle(&self) -> Vec<u8> {
        self.user_handle
            .clone()
            .unwrap_or_else(|| self.user_id.as_bytes().to_vec())
    }

    /// What a passkey policy looks at.
    pub fn policy_view(&self) -> crate::policy::Passkey {
        crate::policy::Passkey {
            aaguid: self.aaguid,
            backup_eligible: self.backup_eligible,
            attested: self.attested,
        }
    }

    /// The passkey to verify an assertion with: the registered key, with the
    /// authoritative counter and backup state from their columns, and the transports the
    /// browser reported at registration (hints for `allowCredentials`).
    pub fn current_passkey(&self) -> Credential {
        let mut passkey = self.passkey.clone();
        passkey.counter = u32::try_from(self.sign_count).unwrap_or(u32::MAX);
        passkey.backup_state = self.backup_state;
        let transports: Vec<_> = self
            .transports
            .iter()
            .filter_map(|t| serde_json::from_value(serde_json::Value::String(t.clone())).ok())
            .collect();
        passkey.transports = (!transports.is_empty()).then_some(transports);
        passkey
    }
}

/// Outcome of inserting a credential.
pub enum Inserted {
    Yes,
    /// A credential with this id already exists (for this or another user).
    Duplicate,
}

/// Stores a new credential, or answers [`Inserted::Duplicate`] when its id is taken.
/// `ON CONFLICT` names no key: until a second site is configured the table also keeps its
/// first key on the id alone (migration 0027), and a conflict on a key the clause does not
/// name would be an error instead of a duplicate.
pub async fn insert_credential(
    conn: &mut PgConnection,
    site: &SiteId,
    c: &StoredCredential,
) -> sqlx::Result<Inserted> {
    let result = sqlx::query(
        "INSERT INTO credentials (credential_id, user_id, passkey, nickname, aaguid, sign_count,
             backup_eligible, backup_state, transports, user_verified, created_at, last_used_at, attested,
             metadata_description, metadata_status, user_handle, site)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)
         ON CONFLICT DO NOTHING",
    )
    .bind(&c.credential_id)
    .bind(c.user_id)
    .bind(Json(&c.passkey))
    .bind(&c.nickname)
    .bind(c.aaguid)
    .bind(c.sign_count)
    .bind(c.backup_eligible)
    .bind(c.backup_state)
    .bind(&c.transports)
    .bind(c.user_verified)
    .bind(c.created_at)
    .bind(c.last_used_at)
    .bind(c.attested)
    .bind(&c.metadata_description)
    .bind(&c.metadata_status)
    .bind(&c.user_handle)
    .bind(site.as_str())
    .execute(conn)
    .await?;
    Ok(if result.rows_affected() == 1 {
        Inserted::Yes
    } else {
        Inserted::Duplicate
    })
}

/// How many usable credentials the user has, counted with the user's row locked until
/// the transaction ends: two registrations racing for the last free place are counted
/// one after the other.
pub async fn active_locked(conn: &mut PgConnection, user_id: Uuid) -> sqlx::Result<usize> {
    sqlx::query("SELECT 1 FROM users WHERE id = $1 FOR UPDATE")
        .bind(user_id)
        .execute(&mut *conn)
        .await?;
    let n: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM credentials WHERE user_id = $1 AND revoked_at IS NULL",
    )
    .bind(user_id)
    .fetch_one(&mut *conn)
    .await?;
    Ok(usize::try_from(n).unwrap_or(usize::MAX))
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
    let rows: Vec<CredentialRow> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM credentials
          WHERE user_id = $1 AND ($2 OR revoked_at IS NULL)
          ORDER BY created_at, credential_id"
    ))
    .bind(user_id)
    .bind(include_revoked)
    .fetch_all(db)
    .await?;
    Ok(rows.into_iter().map(Into::into).collect())
}

/// A credential by id, revoked or not (callers check [`StoredCredential::revoked`]).
pub async fn credential(
    db: impl PgExecutor<'_>,
    site: &SiteId,
    credential_id: &[u8],
) -> sqlx::Result<Option<StoredCredential>> {
    let row: Option<CredentialRow> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM credentials WHERE site = $2 AND credential_id = $1"
    ))
    .bind(credential_id)
    .bind(site.as_str())
    .fetch_optional(db)
    .await?;
    Ok(row.map(Into::into))
}

/// What a successful assertion changes: the credential's counter and flags, a new
/// nonce, and the audit event.
pub struct SignIn<'a> {
    pub site: &'a SiteId,
    pub credential_id: &'a [u8],
    pub sign_count: i64,
    pub backup_state: bool,
    pub user_verified: bool,
    pub at: DateTime<Utc>,
    pub nonce: super::nonces::NewNonce<'a>,
    pub audit: &'a AuditRow<'a>,
}

/// Records a successful sign-in in one statement: the credential's use, but only if its
/// signature counter moved forward (or both old and new are 0, for authenticators
/// without a counter) and it is not revoked; and, only then, the nonce and the audit
/// event. The condition is in the UPDATE itself, so two concurrent sign-ins with the
/// same counter cannot both pass and a stale counter never overwrites a newer one.
/// Returns false (and changes nothing) when the counter did not advance.
pub async fn record_sign_in(db: impl PgExecutor<'_>, s: &SignIn<'_>) -> sqlx::Result<bool> {
    let sql = format!(
        "WITH used AS (
            UPDATE credentials
               SET sign_count = $2, backup_state = $3, user_verified = $4, last_used_at = $5
             WHERE site = $11 AND credential_id = $1 AND revoked_at IS NULL
               AND (sign_count < $2 OR (sign_count = 0 AND $2 = 0))
            RETURNING 1
         ), nonce AS (
            INSERT INTO nonces (nonce_hash, site, user_id, cognito_sub, credential_id, bound_challenge_id, created_at, expires_at)
            SELECT $6, $11, $7, $8, $1, $9, $5, $10 FROM used
         ), audit AS ({})
         SELECT count(*) FROM used",
        audit::insert_from("used", 12)
    );
    let q = sqlx::query_scalar::<_, i64>(&sql)
        .bind(s.credential_id)
        .bind(s.sign_count)
        .bind(s.backup_state)
        .bind(s.user_verified)
        .bind(s.at)
        .bind(s.nonce.hash)
        .bind(s.nonce.user_id)
        .bind(s.nonce.cognito_sub)
        .bind(s.nonce.bound_challenge_id)
        .bind(s.nonce.expires_at)
        .bind(s.site.as_str());
    let q = audit::bind_row!(q, s.audit);
    Ok(q.fetch_one(db).await? == 1)
}

pub async fn rename_credential(
    conn: &mut PgConnection,
    user_id: Uuid,
    credential_id: &[u8],
    nickname: Option<&str>,
) -> sqlx::Result<Option<StoredCredential>> {
    let row: Option<CredentialRow> = sqlx::query_as(&format!(
        "UPDATE credentials SET nickname = $3 WHERE user_id = $1 AND credential_id = $2 AND revoked_at IS NULL RETURNING {COLUMNS}"
    ))
    .bind(user_id)
    .bind(credential_id)
    .bind(nickname)
    .fetch_optional(conn)
    .await?;
    Ok(row.map(Into::into))
}

/// Which credentials to revoke.
pub enum RevokeWhich<'a> {
    /// One credential, optionally only if it belongs to this user.
    One(&'a [u8], Option<Uuid>),
    /// Every usable credential of the user (an account reset).
    AllOf(Uuid),
}

/// Revokes credentials (they stay, so their ids can never be used or registered again)
/// and deletes their unredeemed nonces, in one statement. Returns the ids revoked now.
pub async fn revoke_credentials(
    conn: &mut PgConnection,
    site: &SiteId,
    which: RevokeWhich<'_>,
    by: &str,
    reason: Option<&str>,
    now: DateTime<Utc>,
) -> sqlx::Result<Vec<Vec<u8>>> {
    let (one, owner, all_of) = match which {
        RevokeWhich::One(id, owner) => (Some(id), owner, None),
        RevokeWhich::AllOf(user) => (None, None, Some(user)),
    };
    sqlx::query_scalar(
        "WITH revoked AS (
            UPDATE credentials SET revoked_at = $4, revoked_by = $5, revoked_reason = $6
             WHERE site = $7 AND revoked_at IS NULL
               AND ($1::bytea IS NULL OR credential_id = $1)
               AND ($2::uuid IS NULL OR user_id = $2)
               AND ($3::uuid IS NULL OR user_id = $3)
            RETURNING credential_id
         ), dead AS (
            DELETE FROM nonces
             WHERE site = $7 AND credential_id IN (SELECT credential_id FROM revoked) AND redeemed_at IS NULL
         )
         SELECT credential_id FROM revoked",
    )
    .bind(one)
    .bind(owner)
    .bind(all_of)
    .bind(now)
    .bind(by)
    .bind(reason)
    .bind(site.as_str())
    .fetch_all(&mut *conn)
    .await
}

/// Counts for the admin statistics.
#[derive(Debug, Clone, sqlx::FromRow)]
struct Counts {
    users_with_passkeys: i64,
    active: i64,
    revoked: i64,
}

/// An active passkey with what a policy looks at and the groups that choose its user's.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PolicyRow {
    pub credential_id: Vec<u8>,
    pub created_at: DateTime<Utc>,
    pub aaguid: Option<Uuid>,
    pub backup_eligible: bool,
    pub attested: bool,
    pub cognito_sub: String,
    pub username: String,
    pub groups: Vec<String>,
}

/// Active passkeys in credential-id order after `after`, at most `limit` (the policy
/// report walks them by the primary key).
pub async fn active_for_policies(
    db: impl PgExecutor<'_>,
    site: &SiteId,
    after: Option<&[u8]>,
    limit: i64,
) -> sqlx::Result<Vec<PolicyRow>> {
    sqlx::query_as(
        "SELECT c.credential_id, c.created_at, c.aaguid, c.backup_eligible, c.attested, u.cognito_sub, u.username, u.groups
           FROM credentials c JOIN users u ON u.id = c.user_id
          WHERE c.site = $3 AND c.revoked_at IS NULL AND c.credential_id > $1
          ORDER BY c.credential_id
          LIMIT $2",
    )
    // No cursor: after the empty id, before every real one. Not `$1 IS NULL OR …`: a
    // generic plan cannot use the key for that and read every passkey before the cursor
    // (16 s a page in the middle of 2 M passkeys).
    .bind(after.unwrap_or_default())
    .bind(limit)
    .bind(site.as_str())
    .fetch_all(db)
    .await
}

#[derive(sqlx::FromRow)]
struct ExportRow {
    #[sqlx(flatten)]
    credential: CredentialRow,
    cognito_sub: String,
}

/// Active credentials (of the user with `sub` only, when given) with their owner's sub,
/// in credential-id order after `after`: the export reads them a page at a time.
pub async fn active_for_export(
    db: impl PgExecutor<'_>,
    site: &SiteId,
    sub: Option<&str>,
    after: Option<&[u8]>,
    limit: i64,
) -> sqlx::Result<Vec<(StoredCredential, String)>> {
    let cols = columns_of_c();
    let rows: Vec<ExportRow> = sqlx::query_as(&format!(
        "SELECT {cols}, u.cognito_sub
           FROM credentials c JOIN users u ON u.id = c.user_id
          WHERE c.site = $4 AND c.revoked_at IS NULL
            AND ($1::text IS NULL OR u.cognito_sub = $1)
            AND c.credential_id > $2
          ORDER BY c.credential_id
          LIMIT $3"
    ))
    .bind(sub)
    // No cursor: after the empty id (see `active_for_policies`).
    .bind(after.unwrap_or_default())
    .bind(limit)
    .bind(site.as_str())
    .fetch_all(db)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| (r.credential.into(), r.cognito_sub))
        .collect())
}

/// How long Postgres may spend on each statement of [`figures`] (milliseconds): an admin
/// request's, bounded by its sample, under the default request timeout.
pub const FIGURES_STATEMENT_TIMEOUT_MS: u32 = 5_000;

/// The site's passkey figures for the admin statistics, read from the users of a fixed
/// sample (see [`sample`]; all of them while the site has fewer than about `wanted`):
/// what they are over the sampled users, not scaled. Full counts took seconds at a million
/// users, beyond the requests' statement timeout.
pub async fn figures(
    db: &super::Db,
    site: &SiteId,
    anchor: Uuid,
    wanted: u64,
) -> sqlx::Result<(Figures, Sampled)> {
    let mut tx = sample::begin(db, FIGURES_STATEMENT_TIMEOUT_MS).await?;
    let mut range = Widening::start(&mut tx, anchor, wanted).await?;
    let counts = loop {
        let (first, last) = range.ids();
        let counts: Counts = sqlx::query_as(
            "SELECT count(DISTINCT user_id) FILTER (WHERE revoked_at IS NULL) AS users_with_passkeys,
                    count(*) FILTER (WHERE revoked_at IS NULL) AS active,
                    count(*) FILTER (WHERE revoked_at IS NOT NULL) AS revoked
               FROM credentials WHERE site = $1 AND user_id BETWEEN $2 AND $3",
        )
        .bind(site.as_str())
        .bind(first)
        .bind(last)
        .persistent(false)
        .fetch_one(&mut *tx)
        .await?;
        if range.enough(counts.users_with_passkeys.max(0) as u64) {
            break counts;
        }
    };
    let (first, last) = range.ids();
    let by_aaguid = sqlx::query_as(
        "SELECT aaguid, count(*) FROM credentials
          WHERE site = $1 AND revoked_at IS NULL AND user_id BETWEEN $2 AND $3
          GROUP BY aaguid ORDER BY count(*) DESC, aaguid",
    )
    .bind(site.as_str())
    .bind(first)
    .bind(last)
    .persistent(false)
    .fetch_all(&mut *tx)
    .await?;
    let only_cognito = super::users::only_cognito_passkeys(&mut *tx, site, first, last).await?;
    tx.commit().await?;
    let figures = Figures {
        users_with_passkeys: counts.users_with_passkeys,
        active: counts.active,
        revoked: counts.revoked,
        by_aaguid,
        users_with_only_cognito_passkeys: only_cognito,
    };
    Ok((figures, range.sampled()))
}

/// What [`figures`] read.
#[derive(Debug, Clone, PartialEq)]
pub struct Figures {
    pub users_with_passkeys: i64,
    pub active: i64,
    pub revoked: i64,
    /// Usable passkeys per AAGUID, most common first.
    pub by_aaguid: Vec<(Option<Uuid>, i64)>,
    /// Users whose client reported passkeys with Cognito itself and who have none of ours.
    pub users_with_only_cognito_passkeys: i64,
}

/// How real users' passkeys are distributed: how many a user has, their id lengths and
/// their stored transports, each with how often it occurs.
#[derive(Debug, Clone, PartialEq)]
pub struct FakeShapes {
    pub per_user: Vec<(usize, i64)>,
    pub id_lengths: Vec<(usize, i64)>,
    pub transports: Vec<(Vec<String>, i64)>,
}

impl Default for FakeShapes {
    /// Before any passkey exists: one platform passkey, as most users have.
    fn default() -> Self {
        Self {
            per_user: vec![(1, 1)],
            id_lengths: vec![(16, 1)],
            transports: vec![(vec!["hybrid".to_owned(), "internal".to_owned()], 1)],
        }
    }
}

/// How long Postgres may spend on each statement of [`shapes`] (milliseconds).
pub const SHAPES_STATEMENT_TIMEOUT_MS: u32 = 120_000;

/// Users whose passkeys [`shapes`] reads, about: enough for every proportion to within a
/// percent or so, few enough that it takes milliseconds at any size.
pub const SHAPE_SAMPLE_USERS: u64 = 16_384;

/// Credential id lengths fake options may copy: what real authenticators make (a client
/// chooses its id, so an odd one says nothing about real users).
pub const SHAPE_ID_LENGTHS: std::ops::RangeInclusive<i32> = 16..=128;
/// Transports fake options may copy: WebAuthn's (a client may report any string).
pub const SHAPE_TRANSPORTS: [&str; 6] = ["ble", "hybrid", "internal", "nfc", "smart-card", "usb"];

/// Which users [`shapes`] reads: those whose id lies in a range around `anchor`, the
/// narrowest of the ranges `anchor`'s leading bits name that holds about `users` users of
/// the site. User ids are random (v4 UUIDs rp-server draws), so the range is a random
/// sample of users nobody can place an account in; and a fixed anchor reads the same
/// users every time, so the shapes, and the fake options drawn from them, change only
/// when those users' passkeys do (not with the luck of a new sample).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShapeSample {
    pub anchor: Uuid,
    pub users: u64,
}

/// How usable passkeys are distributed (for fake options): passkeys per user, and the
/// id length and stored transports of one passkey per user (the oldest) — so one
/// account with many odd passkeys weighs as one user — with lengths and transports
/// kept to [`SHAPE_ID_LENGTHS`] and [`SHAPE_TRANSPORTS`], over the users of `sample`
/// (all of them while the site has fewer). Off the request path (at start and every ten
/// minutes in the background), under [`SHAPES_STATEMENT_TIMEOUT_MS`] instead of the
/// requests' statement timeout.
///
/// The range starts as narrow as the table's size (Postgres's estimate, all sites) allows
/// and widens fourfold until it holds a quarter of `sample.users` of this site's users or
/// is every id: each step reads a quarter of the next one's rows. One statement per step
/// reads each sampled passkey once (a stored passkey fills most of a heap page, so the
/// reads are the cost); it is planned for its own values (not prepared): a narrow range
/// of a large site is read through the index on user ids, a small site (all of it)
/// through the one on its credential ids.
pub async fn shapes(
    db: &super::Db,
    site: &SiteId,
    sample: ShapeSample,
) -> sqlx::Result<(FakeShapes, Sampled)> {
    let mut tx = sample::begin(db, SHAPES_STATEMENT_TIMEOUT_MS).await?;
    // Per sampled user: how many passkeys, and the oldest one's id length and transports.
    let mut range = Widening::start(&mut tx, sample.anchor, sample.users).await?;
    let users = loop {
        let (first, last) = range.ids();
        let users: Vec<(i64, i32, Vec<String>)> = sqlx::query_as(
            "SELECT DISTINCT ON (user_id)
                    count(*) OVER (PARTITION BY user_id),
                    octet_length(credential_id),
                    ARRAY(SELECT DISTINCT t FROM unnest(transports) AS t WHERE t = ANY($4) ORDER BY t)
               FROM credentials
              WHERE site = $1 AND revoked_at IS NULL AND user_id BETWEEN $2 AND $3
              ORDER BY user_id, created_at, credential_id",
        )
        .bind(site.as_str())
        .bind(first)
        .bind(last)
        .bind(&SHAPE_TRANSPORTS[..])
        .persistent(false)
        .fetch_all(&mut *tx)
        .await?;
        if range.enough(users.len() as u64) {
            break users;
        }
    };
    let sampled = range.sampled();
    tx.commit().await?;
    let per_user = tally(
        users
            .iter()
            .map(|(n, _, _)| usize::try_from(*n).unwrap_or(1)),
    );
    let id_lengths = tally(
        users
            .iter()
            .filter(|(_, len, _)| SHAPE_ID_LENGTHS.contains(len))
            .map(|(_, len, _)| usize::try_from(*len).unwrap_or(16)),
    );
    let transports = tally(users.into_iter().map(|(_, _, known)| known));
    if per_user.is_empty() || id_lengths.is_empty() {
        return Ok((FakeShapes::default(), sampled));
    }
    let shapes = FakeShapes {
        per_user,
        id_lengths,
        transports,
    };
    Ok((shapes, sampled))
}

/// How often each value occurs, in the values' order.
fn tally<T: Ord>(values: impl Iterator<Item = T>) -> Vec<(T, i64)> {
    let mut counts = std::collections::BTreeMap::<T, i64>::new();
    for v in values {
        *counts.entry(v).or_default() += 1;
    }
    counts.into_iter().collect()
}
