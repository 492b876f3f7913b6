//! The audit log: one row per state change, written in the same transaction as the
//! change itself, so a change is never without its record (nor a record without its change).

use chrono::{DateTime, Utc};
use sqlx::PgExecutor;
use uuid::Uuid;

use crate::http::extract::ClientContext;

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
    fn label(&self) -> String {
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
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::UserSignedUp => "user.signed_up",
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

pub async fn record(db: impl PgExecutor<'_>, at: DateTime<Utc>, e: Event<'_>) -> sqlx::Result<()> {
    let ip = e.client.and_then(|c| c.ip).map(|ip| ip.to_string());
    sqlx::query(
        "INSERT INTO audit_events (occurred_at, actor, action, user_id, cognito_sub, credential_id, ip, user_agent, details)
         VALUES ($1, $2, $3, $4, $5, $6, $7::inet, $8, $9)",
    )
    .bind(at)
    .bind(e.actor.label())
    .bind(e.action.as_str())
    .bind(e.user_id)
    .bind(e.cognito_sub)
    .bind(e.credential_id)
    .bind(ip)
    .bind(e.client.and_then(|c| c.user_agent.as_deref()))
    .bind(&e.details)
    .execute(db)
    .await?;
    Ok(())
}

/// How many failed redemptions for `sub` since `since` were for nonces we never issued:
/// the signature of guessing. (A spent, expired or misdirected nonce of our own is not a
/// guess; Cognito's retries and races produce those.)
pub async fn count_recent_guesses(
    db: impl PgExecutor<'_>,
    sub: &str,
    since: DateTime<Utc>,
) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "SELECT count(*) FROM audit_events
          WHERE cognito_sub = $1 AND action = $2 AND occurred_at > $3 AND details->>'reason' = 'unknown'",
    )
    .bind(sub)
    .bind(Action::NonceRedeemFailed.as_str())
    .bind(since)
    .fetch_one(db)
    .await
}
