//! The audit log: one row per state change, written in the same transaction as the
//! change itself, so a change is never without its record (nor a record without its change).

use std::net::IpAddr;

use chrono::{DateTime, Utc};
use sqlx::PgExecutor;
use uuid::Uuid;

use crate::model::SiteId;
use crate::store::audit::{self as rows, AuditRow};

/// Who is calling, for the audit log: the client IP (as resolved by the rate-limit
/// layer, honouring trusted proxies) and the user agent. The HTTP layer extracts it.
#[derive(Debug, Clone, Default)]
pub struct ClientContext {
    pub ip: Option<IpAddr>,
    pub user_agent: Option<String>,
}

/// Who acted.
#[derive(Debug, Clone)]
pub enum Actor {
    /// A signed-in user, by Cognito `sub`.
    User(String),
    /// Someone not yet identified (e.g. finishing a sign-in ceremony).
    Anonymous,
    /// The Cognito trigger Lambdas, through the service token.
    Service,
    /// An administrator (API token holder or operator at the CLI), with a label.
    Admin(String),
    /// Someone holding an enrolment token (account recovery).
    Enrolment(uuid::Uuid),
}

impl Actor {
    pub fn label(&self) -> String {
        match self {
            Self::User(sub) => format!("user:{sub}"),
            Self::Anonymous => "anonymous".to_owned(),
            Self::Service => "service".to_owned(),
            Self::Admin(who) => who.clone(),
            Self::Enrolment(id) => format!("enrolment:{id}"),
        }
    }
}

/// Audited actions. Their names are stable: operators filter on them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    UserSignedUp,
    SignupAbandoned,
    CredentialRegistered,
    CredentialRenamed,
    CredentialDeleted,
    AuthenticationSucceeded,
    AuthenticationFailed,
    ChallengeIssued,
    NonceRedeemed,
    NonceRedeemFailed,
    CredentialRevoked,
    AccountReset,
    EnrolmentTokenIssued,
    EnrolmentTokenUsed,
    EnrolmentTokenRevoked,
    EmailCodeSent,
    EmailCodeVerified,
    EmailCodeFailed,
    EmailCodeLocked,
    EmailUnlocked,
    RecoveryCodesCreated,
    RecoveryCodeUsed,
    RecoveryCodeFailed,
    OidcCodeIssued,
    OidcTokenIssued,
    OidcDenied,
    PolicyViolation,
    CredentialImported,
    ImportFinished,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::UserSignedUp => "user.signed_up",
            Self::SignupAbandoned => "user.signup_abandoned",
            Self::CredentialRegistered => "credential.registered",
            Self::CredentialRenamed => "credential.renamed",
            Self::CredentialDeleted => "credential.deleted",
            Self::AuthenticationSucceeded => "authentication.succeeded",
            Self::AuthenticationFailed => "authentication.failed",
            Self::ChallengeIssued => "challenge.issued",
            Self::NonceRedeemed => "nonce.redeemed",
            Self::NonceRedeemFailed => "nonce.redeem_failed",
            Self::CredentialRevoked => "credential.revoked",
            Self::AccountReset => "account.reset",
            Self::EnrolmentTokenIssued => "enrolment_token.issued",
            Self::EnrolmentTokenUsed => "enrolment_token.used",
            Self::EnrolmentTokenRevoked => "enrolment_token.revoked",
            Self::EmailCodeSent => "email.code_sent",
            Self::EmailCodeVerified => "email.code_verified",
            Self::EmailCodeFailed => "email.code_failed",
            Self::EmailCodeLocked => "email.code_locked",
            Self::EmailUnlocked => "email.unlocked",
            Self::RecoveryCodesCreated => "recovery.codes_created",
            Self::RecoveryCodeUsed => "recovery.code_used",
            Self::RecoveryCodeFailed => "recovery.code_failed",
            Self::OidcCodeIssued => "oidc.code_issued",
            Self::OidcTokenIssued => "oidc.token_issued",
            Self::OidcDenied => "oidc.denied",
            Self::PolicyViolation => "policy.violation",
            Self::CredentialImported => "credential.imported",
            Self::ImportFinished => "import.finished",
        }
    }
}

pub struct Event<'a> {
    pub actor: Actor,
    pub action: Action,
    pub user_id: Option<Uuid>,
    pub cognito_sub: Option<&'a str>,
    pub credential_id: Option<&'a [u8]>,
    pub client: Option<&'a ClientContext>,
    pub details: serde_json::Value,
}

impl<'a> Event<'a> {
    pub fn new(actor: Actor, action: Action) -> Self {
        Self {
            actor,
            action,
            user_id: None,
            cognito_sub: None,
            credential_id: None,
            client: None,
            details: serde_json::Value::Object(Default::default()),
        }
    }
    pub fn user(mut self, id: Uuid, sub: &'a str) -> Self {
        self.user_id = Some(id);
        self.cognito_sub = Some(sub);
        self
    }
    pub fn cognito_sub(mut self, sub: &'a str) -> Self {
        self.cognito_sub = Some(sub);
        self
    }
    pub fn credential(mut self, id: &'a [u8]) -> Self {
        self.credential_id = Some(id);
        self
    }
    pub fn client(mut self, client: &'a ClientContext) -> Self {
        self.client = Some(client);
        self
    }
    pub fn details(mut self, details: serde_json::Value) -> Self {
        self.details = details;
        self
    }
}

impl Event<'_> {
    /// The event as stored, at the site `site`, at `at`.
    pub fn row<'s>(&'s self, site: &'s SiteId, at: DateTime<Utc>) -> AuditRow<'s> {
        AuditRow {
            site,
            occurred_at: at,
            actor: self.actor.label(),
            action: self.action.as_str(),
            user_id: self.user_id,
            cognito_sub: self.cognito_sub,
            credential_id: self.credential_id,
            ip: self.client.and_then(|c| c.ip).map(|ip| ip.to_string()),
            user_agent: self.client.and_then(|c| c.user_agent.as_deref()),
            details: self.details.clone(),
        }
    }
}

/// Writes the site's event (in the caller's transaction, when given one).
pub async fn record(
    db: impl PgExecutor<'_>,
    site: &SiteId,
    at: DateTime<Utc>,
    e: Event<'_>,
) -> sqlx::Result<()> {
    rows::insert(db, &e.row(site, at)).await
}
