//! Credential administration, shared by the admin HTTP API and the `rp-server admin`
//! command: find users, list and revoke credentials, reset accounts, issue enrolment
//! tokens for recovery, read the audit log, aggregate statistics. Every change writes an
//! audit event naming the admin actor, in the same transaction.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::audit::{self, Action, Actor, Event};
use crate::model::CredentialSummary;
use crate::store::audit::EventFilter;
use crate::store::{
    self, Db, EnrolmentToken, RevokeWhich, StoredCredential, User, credentials, enrolment, users,
};

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("no such user")]
    UserNotFound,
    #[error("no such credential")]
    CredentialNotFound,
    #[error("no such enrolment token")]
    TokenNotFound,
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
    #[error(transparent)]
    Cognito(#[from] crate::cognito::CognitoError),
}

/// How an admin names a user.
#[derive(Debug, Clone)]
pub enum UserRef {
    Sub(String),
    /// The Cognito username (a UUID in pools where the email signs in).
    Username(String),
    /// The `email` attribute, looked up in the pool (`ListUsers`): what an admin knows
    /// whatever the pool's shape.
    Email(String),
}

pub async fn find_user(
    db: &Db,
    cognito: Option<&crate::cognito::CognitoAdmin>,
    r: &UserRef,
) -> Result<User, AdminError> {
    let found = match r {
        UserRef::Sub(s) => users::user_by_sub(db, s).await?,
        UserRef::Username(u) => users::user_by_username(db, u).await?,
        UserRef::Email(email) => {
            let cognito = cognito.ok_or_else(|| {
                AdminError::Invalid(
                    "looking a user up by email needs RP_COGNITO_USER_POOL_ID".to_owned(),
                )
            })?;
            // Several pool users may carry one email (unverified aliases); rp-server
            // knows only those who started a registration.
            let mut known = Vec::new();
            for u in cognito.users_with_email(email, 10).await? {
                if let Some(user) = users::user_by_sub(db, &u.sub).await? {
                    known.push(user);
                }
            }
            if known.len() > 1 {
                return Err(AdminError::Invalid(
                    "several users have this email; give the sub".to_owned(),
                ));
            }
            known.pop()
        }
    };
    found.ok_or(AdminError::UserNotFound)
}

pub use crate::model::AdminCredential;

use rp_shared::credential_id::encode as b64;

pub fn credential_id(s: &str) -> Result<Vec<u8>, AdminError> {
    rp_shared::credential_id::decode(s)
        .ok_or_else(|| AdminError::Invalid("the credential id must be base64url".to_owned()))
}

fn view(c: &StoredCredential, user: &User) -> AdminCredential {
    AdminCredential {
        summary: CredentialSummary::from(c),
        user_sub: user.cognito_sub.clone(),
        username: user.username.clone(),
        sign_count: c.sign_count,
        user_verified: c.user_verified,
        revoked_at: c.revoked.as_ref().map(|r| r.at),
        revoked_by: c.revoked.as_ref().map(|r| r.by.clone()),
        revoked_reason: c.revoked.as_ref().and_then(|r| r.reason.clone()),
    }
}

/// A user's credentials, revoked ones included.
pub async fn credentials(db: &Db, user: &User) -> Result<Vec<AdminCredential>, AdminError> {
    Ok(credentials::all_credentials_of(db, user.id)
        .await?
        .iter()
        .map(|c| view(c, user))
        .collect())
}

pub async fn credential(db: &Db, id: &[u8]) -> Result<AdminCredential, AdminError> {
    let c = credentials::credential(db, id)
        .await?
        .ok_or(AdminError::CredentialNotFound)?;
    let user = users::user_by_id(db, c.user_id)
        .await?
        .ok_or(AdminError::CredentialNotFound)?;
    Ok(view(&c, &user))
}

/// Revokes one credential. Revoking a revoked credential changes nothing.
pub async fn revoke(
    db: &Db,
    id: &[u8],
    actor: &str,
    reason: Option<&str>,
    now: DateTime<Utc>,
) -> Result<AdminCredential, AdminError> {
    let c = credentials::credential(db, id)
        .await?
        .ok_or(AdminError::CredentialNotFound)?;
    let user = users::user_by_id(db, c.user_id)
        .await?
        .ok_or(AdminError::CredentialNotFound)?;
    let mut tx = db.begin().await?;
    let revoked =
        credentials::revoke_credentials(&mut tx, RevokeWhich::One(id, None), actor, reason, now)
            .await?;
    if !revoked.is_empty() {
        audit::record(
            &mut *tx,
            now,
            Event::new(Actor::Admin(actor.to_owned()), Action::CredentialRevoked)
                .user(user.id, &user.cognito_sub)
                .credential(id)
                .details(serde_json::json!({ "reason": reason })),
        )
        .await?;
    }
    tx.commit().await?;
    credential(db, id).await
}

/// What an account reset did.
#[derive(Debug, Clone)]
pub struct ResetOutcome {
    /// The credential ids revoked, base64url.
    pub revoked: Vec<String>,
    /// Whether the user's Cognito refresh tokens were revoked too (AdminUserGlobalSignOut):
    /// `done`, `failed` or `not_configured`.
    pub cognito_sign_out: &'static str,
}

/// Account reset: revokes every usable credential of the user and their pending
/// enrolment tokens, and ends their sessions: access tokens issued until now are refused
/// by rp-server, and, when rp-server administers the pool, Cognito signs the user out
/// everywhere (refresh tokens die too).
pub async fn reset(
    db: &Db,
    user: &User,
    actor: &str,
    reason: Option<&str>,
    now: DateTime<Utc>,
    cognito: Option<&crate::cognito::CognitoAdmin>,
) -> Result<ResetOutcome, AdminError> {
    // Before the local change, so its audit event can say how it went; signing out is
    // idempotent, so a failed transaction below can simply be retried.
    let cognito_sign_out = match cognito {
        None => "not_configured",
        Some(c) => match c.global_sign_out(&user.username).await {
            Ok(()) => "done",
            Err(e) => {
                tracing::error!(error = %e, sub = %user.cognito_sub, "AdminUserGlobalSignOut failed during an account reset");
                "failed"
            }
        },
    };
    let mut tx = db.begin().await?;
    let revoked =
        credentials::revoke_credentials(&mut tx, RevokeWhich::AllOf(user.id), actor, reason, now)
            .await?;
    enrolment::revoke_pending_of(&mut *tx, user.id, now).await?;
    users::end_sessions(&mut *tx, user.id, now).await?;
    let revoked: Vec<String> = revoked.iter().map(|i| b64(i)).collect();
    audit::record(
        &mut *tx,
        now,
        Event::new(Actor::Admin(actor.to_owned()), Action::AccountReset)
            .user(user.id, &user.cognito_sub)
            .details(serde_json::json!({
                "reason": reason,
                "revoked": revoked,
                "sessionsEndedAt": now,
                "cognitoGlobalSignOut": cognito_sign_out,
            })),
    )
    .await?;
    tx.commit().await?;
    Ok(ResetOutcome {
        revoked,
        cognito_sign_out,
    })
}

/// What admins see of an enrolment token.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EnrolmentTokenView {
    pub id: Uuid,
    pub user_sub: String,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    /// `pending`, `used`, `revoked` or `expired`.
    pub status: String,
}

fn token_view(t: &EnrolmentToken, sub: &str, now: DateTime<Utc>) -> EnrolmentTokenView {
    let status = if t.used_at.is_some() {
        "used"
    } else if t.revoked_at.is_some() {
        "revoked"
    } else if t.expires_at <= now {
        "expired"
    } else {
        "pending"
    };
    EnrolmentTokenView {
        id: t.id,
        user_sub: sub.to_owned(),
        created_by: t.created_by.clone(),
        created_at: t.created_at,
        expires_at: t.expires_at,
        used_at: t.used_at,
        revoked_at: t.revoked_at,
        status: status.to_owned(),
    }
}

/// A new enrolment token; `token` is shown this once and stored only as a hash.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct IssuedEnrolmentToken {
    pub token: String,
    #[serde(flatten)]
    pub details: EnrolmentTokenView,
}

/// Issues a one-time enrolment token for `sub`. A user unknown to rp-server (no passkey
/// ever) is created when `username` is given.
pub async fn issue_enrolment_token(
    db: &Db,
    sub: &str,
    username: Option<&str>,
    ttl: Duration,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<IssuedEnrolmentToken, AdminError> {
    if ttl <= Duration::zero() || ttl > Duration::days(7) {
        return Err(AdminError::Invalid(
            "the lifetime must be between 1 second and 7 days".to_owned(),
        ));
    }
    let mut tx = db.begin().await?;
    let user = match (users::user_by_sub(&mut *tx, sub).await?, username) {
        (Some(u), _) => u,
        (None, Some(name)) if !name.trim().is_empty() => {
            users::upsert_user(&mut tx, sub, name.trim(), now).await?
        }
        (None, _) => return Err(AdminError::UserNotFound),
    };
    let token = rp_shared::token::EnrolmentToken::generate();
    let record = EnrolmentToken {
        id: Uuid::new_v4(),
        user_id: user.id,
        created_by: actor.to_owned(),
        created_at: now,
        expires_at: now + ttl,
        used_at: None,
        revoked_at: None,
    };
    enrolment::insert_enrolment_token(&mut *tx, &record, &token.hash()).await?;
    audit::record(
        &mut *tx,
        now,
        Event::new(Actor::Admin(actor.to_owned()), Action::EnrolmentTokenIssued)
            .user(user.id, &user.cognito_sub)
            .details(serde_json::json!({ "tokenId": record.id, "expiresAt": record.expires_at })),
    )
    .await?;
    tx.commit().await?;
    Ok(IssuedEnrolmentToken {
        token: token.expose().to_owned(),
        details: token_view(&record, &user.cognito_sub, now),
    })
}

pub async fn enrolment_tokens(
    db: &Db,
    user: &User,
    now: DateTime<Utc>,
) -> Result<Vec<EnrolmentTokenView>, AdminError> {
    Ok(enrolment::enrolment_tokens_of(db, user.id)
        .await?
        .iter()
        .map(|t| token_view(t, &user.cognito_sub, now))
        .collect())
}

pub async fn revoke_enrolment_token(
    db: &Db,
    id: Uuid,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<EnrolmentTokenView, AdminError> {
    let mut tx = db.begin().await?;
    let t = enrolment::revoke_enrolment_token(&mut *tx, id, now)
        .await?
        .ok_or(AdminError::TokenNotFound)?;
    let user = users::user_by_id(&mut *tx, t.user_id)
        .await?
        .ok_or(AdminError::TokenNotFound)?;
    audit::record(
        &mut *tx,
        now,
        Event::new(
            Actor::Admin(actor.to_owned()),
            Action::EnrolmentTokenRevoked,
        )
        .user(user.id, &user.cognito_sub)
        .details(serde_json::json!({ "tokenId": id })),
    )
    .await?;
    tx.commit().await?;
    Ok(token_view(&t, &user.cognito_sub, now))
}

/// One audit event as admins read it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditEventView {
    pub id: i64,
    pub occurred_at: DateTime<Utc>,
    pub actor: String,
    pub action: String,
    pub user_sub: Option<String>,
    pub credential_id: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    #[schema(value_type = Object)]
    pub details: serde_json::Value,
}

#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub sub: Option<String>,
    pub credential_id: Option<Vec<u8>>,
    pub action: Option<String>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    pub cursor: Option<String>,
    pub limit: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditPage {
    pub events: Vec<AuditEventView>,
    /// Pass as `cursor` for the next (older) page; absent on the last page.
    pub next_cursor: Option<String>,
}

fn encode_cursor(at: DateTime<Utc>, id: i64) -> String {
    URL_SAFE_NO_PAD.encode(format!("{}|{id}", at.timestamp_micros()))
}

fn decode_cursor(c: &str) -> Result<(DateTime<Utc>, i64), AdminError> {
    let bad = || AdminError::Invalid("the cursor is not one this server issued".to_owned());
    let raw = URL_SAFE_NO_PAD.decode(c).map_err(|_| bad())?;
    let text = String::from_utf8(raw).map_err(|_| bad())?;
    let (micros, id) = text.split_once('|').ok_or_else(bad)?;
    let at = DateTime::from_timestamp_micros(micros.parse().map_err(|_| bad())?).ok_or_else(bad)?;
    Ok((at, id.parse().map_err(|_| bad())?))
}

/// The audit log, newest first, paginated with a keyset cursor.
pub async fn audit_log(db: &Db, f: &AuditFilter) -> Result<AuditPage, AdminError> {
    let limit = f.limit.clamp(1, 500);
    let cursor = f.cursor.as_deref().map(decode_cursor).transpose()?;
    let rows = store::audit::events(
        db,
        &EventFilter {
            sub: f.sub.as_deref(),
            credential_id: f.credential_id.as_deref(),
            action: f.action.as_deref(),
            since: f.since,
            until: f.until,
            before: cursor,
            limit: limit + 1,
        },
    )
    .await?;
    let mut events: Vec<AuditEventView> = rows
        .into_iter()
        .map(|r| AuditEventView {
            id: r.id,
            occurred_at: r.occurred_at,
            actor: r.actor,
            action: r.action,
            user_sub: r.cognito_sub,
            credential_id: r.credential_id.map(|c| b64(&c)),
            ip: r.ip,
            user_agent: r.user_agent,
            details: r.details,
        })
        .collect();
    let next_cursor = if events.len() as i64 > limit {
        events.truncate(limit as usize);
        events.last().map(|e| encode_cursor(e.occurred_at, e.id))
    } else {
        None
    };
    Ok(AuditPage {
        events,
        next_cursor,
    })
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuthenticatorCount {
    pub aaguid: Option<Uuid>,
    pub name: Option<String>,
    pub credentials: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DayCount {
    pub day: chrono::NaiveDate,
    pub sign_ins: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Stats {
    pub users_with_passkeys: i64,
    pub active_credentials: i64,
    pub revoked_credentials: i64,
    pub credentials_by_authenticator: Vec<AuthenticatorCount>,
    /// Successful passkey sign-ins per UTC day, the last 30 days.
    pub sign_ins_per_day: Vec<DayCount>,
}

pub async fn stats(db: &Db, now: DateTime<Utc>) -> Result<Stats, AdminError> {
    let counts = credentials::counts(db).await?;
    let by_aaguid = credentials::by_aaguid(db).await?;
    let per_day = store::audit::per_day(
        db,
        Action::AuthenticationSucceeded.as_str(),
        now - Duration::days(30),
    )
    .await?;
    Ok(Stats {
        users_with_passkeys: counts.users_with_passkeys,
        active_credentials: counts.active,
        revoked_credentials: counts.revoked,
        credentials_by_authenticator: by_aaguid
            .into_iter()
            .map(|(aaguid, n)| AuthenticatorCount {
                aaguid,
                name: crate::authenticators::name(aaguid),
                credentials: n,
            })
            .collect(),
        sign_ins_per_day: per_day
            .into_iter()
            .map(|(day, n)| DayCount { day, sign_ins: n })
            .collect(),
    })
}
