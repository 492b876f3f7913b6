//! The admin service, behind both the admin HTTP API and the `rp-server admin` command:
//! find users, list and revoke credentials, reset accounts, issue enrolment tokens for
//! recovery, read the audit log, aggregate statistics. Validation, audit events (in the
//! same transaction as the change, naming the admin) and security notices all live here;
//! the HTTP handlers and the CLI only translate.

mod enrolment;
mod report;
mod search;
mod transfer;
mod unlock;

use chrono::{DateTime, Utc};
use serde::Serialize;

pub use crate::model::AdminCredential;
pub use enrolment::{EnrolmentTokenView, IssuedEnrolmentToken};
pub use report::{
    AuditEventView, AuditFilter, AuditPage, AuthenticatorCount, DailyStats, DayCount, DayStats,
    MAX_STATS_DAYS, PolicyReport, PolicyReportQuery, PolicyViolationView, REPORT_PAGE_SCAN,
    STATS_SAMPLE_USERS, SignInsByFactor, Stats, StatsSample, audit_csv,
};
pub use search::{UserSearch, UserSearchQuery, UserSummary};
pub use transfer::{
    ImportOptions, ImportReport, Importer, LineRefusal, Lines, PasskeyRecord, export,
};
pub use unlock::Unlocked;

use crate::audit::{self, Action, Actor, Event};
use crate::cognito::CognitoAdmin;
use crate::flows::Context;
use crate::flows::notices::{Notice, Notifier};
use crate::model::CredentialSummary;
use crate::store::{self, Db, RevokeWhich, StoredCredential, User, credentials, users};
use rp_shared::credential_id::encode as b64;

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
    /// A page cursor this server did not issue.
    #[error("{0}")]
    InvalidCursor(String),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
    #[error(transparent)]
    Cognito(#[from] crate::cognito::CognitoError),
}

/// How the audit names a member of the admin group who acts through the console:
/// `admin:cognito:<sub>`, then their verified email when the site administers the pool
/// (from Cognito, never from the request; without it when Cognito cannot say).
pub async fn member_actor(cx: &Context, sub: &str) -> String {
    let email = match cx.site.cognito.as_deref() {
        Some(cognito) => match cognito
            .verified_email_cached(&cx.site.admin_emails, sub)
            .await
        {
            Ok(email) => email,
            Err(e) => {
                tracing::warn!(error = %e, "could not read the admin's email for the audit");
                None
            }
        },
        None => None,
    };
    match email {
        Some(email) => format!("admin:cognito:{sub} {email}"),
        None => format!("admin:cognito:{sub}"),
    }
}

/// The policy a user is under, and their active passkeys that break it.
#[derive(Debug, Clone, Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserPolicyState {
    pub policy: String,
    pub breaches: Vec<PolicyBreach>,
}

#[derive(Debug, Clone, Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PolicyBreach {
    pub credential_id: String,
    /// `attestation`, `aaguid` or `device_bound`.
    pub rule: String,
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

/// How security notices leave: in the background (the API answers at once) or awaited
/// (the CLI reports what happened).
#[derive(Clone, Copy)]
pub enum Notices<'a> {
    Off,
    Background(&'a Notifier),
    Await(&'a Notifier),
}

/// What became of a security notice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NoticeOutcome {
    /// Notices are off, or cannot reach anyone (no mail, no pool).
    Off,
    /// Handed to the background.
    Queued,
    Sent,
    /// The user has no verified email.
    NoVerifiedEmail,
    /// Delivery failed; the change stands.
    Failed(String),
}

/// The admin service: who acts, when, with what. Built per request by the admin API
/// (from the request's [`Context`] and admin token) and per command by the CLI.
pub struct AdminService<'a> {
    pub db: &'a Db,
    /// The site it administers: it sees and changes nothing of another.
    pub site: &'a crate::model::SiteId,
    pub now: DateTime<Utc>,
    /// Who the audit log names: `admin:api:<token name>` or `admin:cli:<user>`.
    pub actor: &'a str,
    /// The pool: users by email, and sign-out at an account reset.
    pub cognito: Option<&'a CognitoAdmin>,
    pub notices: Notices<'a>,
    /// An enrolment token's lifetime when the admin gives none.
    pub enrolment_ttl: std::time::Duration,
    /// The passkey policies (the policy report measures passkeys against them).
    pub policies: &'a crate::policy::Policies,
    /// The FIDO metadata, when given: authenticator names and icons.
    pub mds: Option<&'a crate::mds::MetadataStore>,
    /// Active passkeys one user may have (an import respects it too).
    pub max_passkeys: u32,
}

/// Longest reason accepted, in characters.
pub const MAX_REASON: usize = 500;

/// A credential revoked, and its owner told.
#[derive(Debug, Clone)]
pub struct Revoked {
    pub credential: AdminCredential,
    pub notice: NoticeOutcome,
}

/// What an account reset did.
#[derive(Debug, Clone)]
pub struct ResetOutcome {
    pub user: User,
    /// The credential ids revoked, base64url.
    pub revoked: Vec<String>,
    /// Whether the user's Cognito refresh tokens were revoked too (AdminUserGlobalSignOut):
    /// `done`, `failed` or `not_configured`.
    pub cognito_sign_out: &'static str,
    pub notice: NoticeOutcome,
}

impl<'a> AdminService<'a> {
    /// The service for a request of the admin API: the site's pool and notices, sent in
    /// the background.
    pub fn for_site(cx: &'a Context, actor: &'a str) -> Self {
        Self {
            db: &cx.db,
            site: &cx.site.id,
            now: cx.clock.now(),
            actor,
            cognito: cx.site.cognito.as_deref(),
            notices: cx
                .site
                .notifier
                .as_ref()
                .map_or(Notices::Off, Notices::Background),
            enrolment_ttl: cx.site.settings.enrolment_ttl,
            policies: &cx.site.settings.policies,
            mds: cx.site.settings.mds.as_deref(),
            max_passkeys: cx.site.settings.max_passkeys_per_user,
        }
    }

    #[tracing::instrument(skip_all)]
    pub async fn find_user(&self, r: &UserRef) -> Result<User, AdminError> {
        let found = match r {
            UserRef::Sub(s) => users::user_by_sub(self.db, self.site, s).await?,
            UserRef::Username(u) => users::user_by_username(self.db, self.site, u).await?,
            UserRef::Email(email) => self.user_with_email(email).await?,
        };
        found.ok_or(AdminError::UserNotFound)
    }

    async fn user_with_email(&self, email: &str) -> Result<Option<User>, AdminError> {
        let cognito = self.cognito.ok_or_else(|| {
            AdminError::Invalid(
                "looking a user up by email needs RP_COGNITO_USER_POOL_ID".to_owned(),
            )
        })?;
        // Several pool users may carry one email (unverified aliases); rp-server knows
        // only those who started a registration.
        let mut known = Vec::new();
        for u in cognito.users_with_email(email, 10).await? {
            if let Some(user) = users::user_by_sub(self.db, self.site, &u.sub).await? {
                known.push(user);
            }
        }
        if known.len() > 1 {
            return Err(AdminError::Invalid(
                "several users have this email; give the sub".to_owned(),
            ));
        }
        Ok(known.pop())
    }

    /// A user's credentials, revoked ones included.
    #[tracing::instrument(skip_all)]
    pub async fn credentials(
        &self,
        r: &UserRef,
    ) -> Result<(User, Vec<AdminCredential>), AdminError> {
        let user = self.find_user(r).await?;
        let list = credentials::all_credentials_of(self.db, user.id)
            .await?
            .iter()
            .map(|c| view(c, &user, self.mds))
            .collect();
        Ok((user, list))
    }

    /// The passkey policy `user` is under (by the groups of their latest access token)
    /// and which of `credentials` break it, when policies exist.
    #[tracing::instrument(skip_all)]
    pub async fn policy_state(
        &self,
        user: &User,
        credentials: &[AdminCredential],
    ) -> Result<Option<UserPolicyState>, AdminError> {
        if self.policies.all().is_empty() {
            return Ok(None);
        }
        let groups = users::groups_of(self.db, user.id).await?;
        let Some(policy) = self.policies.for_groups(&groups) else {
            return Ok(None);
        };
        let breaches = credentials
            .iter()
            .filter(|c| c.revoked_at.is_none())
            .filter_map(|c| {
                let passkey = crate::policy::Passkey {
                    aaguid: c.summary.aaguid,
                    backup_eligible: c.summary.backup_eligible,
                    attested: c.attested,
                };
                policy.check(passkey).err().map(|rule| PolicyBreach {
                    credential_id: c.summary.id.clone(),
                    rule: rule.as_str().to_owned(),
                })
            })
            .collect();
        Ok(Some(UserPolicyState {
            policy: policy.name.clone(),
            breaches,
        }))
    }

    /// One credential, by its base64url id.
    #[tracing::instrument(skip_all)]
    pub async fn credential(&self, id: &str) -> Result<AdminCredential, AdminError> {
        self.credential_by_id(&credential_id(id)?).await
    }

    async fn credential_by_id(&self, id: &[u8]) -> Result<AdminCredential, AdminError> {
        let c = credentials::credential(self.db, self.site, id)
            .await?
            .ok_or(AdminError::CredentialNotFound)?;
        let user = users::user_by_id(self.db, self.site, c.user_id)
            .await?
            .ok_or(AdminError::CredentialNotFound)?;
        Ok(view(&c, &user, self.mds))
    }

    /// Revokes one credential for good and tells its owner. Revoking a revoked credential
    /// changes nothing (and tells nobody).
    #[tracing::instrument(skip_all)]
    pub async fn revoke(&self, id: &str, reason: Option<&str>) -> Result<Revoked, AdminError> {
        let (id, reason) = (credential_id(id)?, self::reason(reason)?);
        let c = credentials::credential(self.db, self.site, &id)
            .await?
            .ok_or(AdminError::CredentialNotFound)?;
        let user = users::user_by_id(self.db, self.site, c.user_id)
            .await?
            .ok_or(AdminError::CredentialNotFound)?;
        let mut tx = self.db.begin().await?;
        let revoked = credentials::revoke_credentials(
            &mut tx,
            self.site,
            RevokeWhich::One(&id, None),
            self.actor,
            reason,
            self.now,
        )
        .await?;
        if !revoked.is_empty() {
            audit::record(
                &mut *tx,
                self.site,
                self.now,
                Event::new(self.admin(), Action::CredentialRevoked)
                    .user(user.id, &user.cognito_sub)
                    .credential(&id)
                    .details(serde_json::json!({ "reason": reason })),
            )
            .await?;
        }
        tx.commit().await?;
        let credential = self.credential_by_id(&id).await?;
        let notice = if revoked.is_empty() {
            NoticeOutcome::Off
        } else {
            self.notify(&credential.user_sub, Notice::revoked(&credential))
                .await
        };
        Ok(Revoked { credential, notice })
    }

    /// Account reset: revokes every usable credential of the user, their pending
    /// enrolment tokens, unredeemed nonces, live email codes and sign-up tokens, and ends their sessions: access tokens issued until now are
    /// refused by rp-server, and, when rp-server administers the pool, Cognito signs the
    /// user out everywhere (refresh tokens die too). Then tells the user.
    #[tracing::instrument(skip_all)]
    pub async fn reset(&self, sub: &str, reason: Option<&str>) -> Result<ResetOutcome, AdminError> {
        let reason = self::reason(reason)?;
        let user = self.find_user(&UserRef::Sub(sub.to_owned())).await?;
        // Before the local change, so its audit event can say how it went; signing out is
        // idempotent, so a failed transaction below can simply be retried.
        let cognito_sign_out = match self.cognito {
            None => "not_configured",
            Some(c) => match c.global_sign_out(&user.username).await {
                Ok(()) => "done",
                Err(e) => {
                    tracing::error!(error = %e, sub = %user.cognito_sub, "AdminUserGlobalSignOut failed during an account reset");
                    "failed"
                }
            },
        };
        let email = self.verified_email(&user.cognito_sub).await;
        let revoked = self
            .revoke_everything(&user, reason, cognito_sign_out, email.as_deref())
            .await?;
        let signed_out = cognito_sign_out == "done";
        let notice = self
            .notify(&user.cognito_sub, Notice::AccountReset { signed_out })
            .await;
        Ok(ResetOutcome {
            user,
            revoked,
            cognito_sign_out,
            notice,
        })
    }

    async fn revoke_everything(
        &self,
        user: &User,
        reason: Option<&str>,
        cognito_sign_out: &str,
        email: Option<&str>,
    ) -> Result<Vec<String>, AdminError> {
        let mut tx = self.db.begin().await?;
        let revoked = credentials::revoke_credentials(
            &mut tx,
            self.site,
            RevokeWhich::AllOf(user.id),
            self.actor,
            reason,
            self.now,
        )
        .await?;
        store::enrolment::revoke_pending_of(&mut *tx, user.id, self.now).await?;
        // Nonces earned before the reset, by a passkey or by an email code, die with it.
        let nonces_voided = store::nonces::void_unredeemed_of(&mut *tx, user.id, self.now).await?;
        let recovery_codes_voided = store::recovery_codes::void_of(&mut *tx, user.id).await?;
        // And the OpenID provider's unspent codes and live access tokens.
        let provider_grants_voided = store::oidc::void_of(&mut *tx, user.id, self.now).await?;
        // So are codes mailed to the user's address, and sign-up tokens it earned.
        let mut codes_voided = 0;
        if let Some(email) = email {
            codes_voided +=
                store::email_codes::void_of(&mut *tx, self.site, email, self.now).await?;
            codes_voided +=
                store::email_codes::void_signup_tokens_of(&mut *tx, self.site, email, self.now)
                    .await?;
        }
        users::end_sessions(&mut *tx, user.id, self.now).await?;
        let revoked: Vec<String> = revoked.iter().map(|i| b64(i)).collect();
        audit::record(
            &mut *tx,
            self.site,
            self.now,
            Event::new(self.admin(), Action::AccountReset)
                .user(user.id, &user.cognito_sub)
                .details(serde_json::json!({
                    "reason": reason,
                    "revoked": revoked,
                    "sessionsEndedAt": self.now,
                    "noncesVoided": nonces_voided,
                    "emailCodesVoided": email.map(|_| codes_voided),
                    "recoveryCodesVoided": recovery_codes_voided,
                    "providerGrantsVoided": provider_grants_voided,
                    "cognitoGlobalSignOut": cognito_sign_out,
                })),
        )
        .await?;
        tx.commit().await?;
        Ok(revoked)
    }

    /// Tells the user, after the change committed; never fails it.
    async fn notify(&self, sub: &str, notice: Notice) -> NoticeOutcome {
        match self.notices {
            Notices::Off => NoticeOutcome::Off,
            Notices::Background(n) => {
                n.send(sub, notice, self.now);
                NoticeOutcome::Queued
            }
            Notices::Await(n) => match n.deliver(sub, &notice, self.now).await {
                Ok(true) => NoticeOutcome::Sent,
                Ok(false) => NoticeOutcome::NoVerifiedEmail,
                Err(e) => NoticeOutcome::Failed(format!("{e:#}")),
            },
        }
    }

    fn admin(&self) -> Actor {
        Actor::Admin(self.actor.to_owned())
    }
}

/// A reason as given: trimmed, empty is none, at most [`MAX_REASON`] characters.
fn reason(reason: Option<&str>) -> Result<Option<&str>, AdminError> {
    match reason.map(str::trim).filter(|s| !s.is_empty()) {
        Some(s) if s.chars().count() > MAX_REASON => Err(AdminError::Invalid(format!(
            "a reason has at most {MAX_REASON} characters"
        ))),
        other => Ok(other),
    }
}

pub fn credential_id(s: &str) -> Result<Vec<u8>, AdminError> {
    rp_shared::credential_id::decode(s)
        .ok_or_else(|| AdminError::Invalid("the credential id must be base64url".to_owned()))
}

fn view(
    c: &StoredCredential,
    user: &User,
    mds: Option<&crate::mds::MetadataStore>,
) -> AdminCredential {
    AdminCredential {
        summary: CredentialSummary::from(c).with_icon(mds),
        user_sub: user.cognito_sub.clone(),
        username: user.username.clone(),
        sign_count: c.sign_count,
        user_verified: c.user_verified,
        attested: c.attested,
        metadata_status: c.metadata_status.clone(),
        revoked_at: c.revoked.as_ref().map(|r| r.at),
        revoked_by: c.revoked.as_ref().map(|r| r.by.clone()),
        revoked_reason: c.revoked.as_ref().and_then(|r| r.reason.clone()),
    }
}
