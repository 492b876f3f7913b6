//! Security notices by email (`RP_EMAIL_NOTIFY`): a passkey added, deleted or revoked,
//! an account reset. Sent after the change is committed, to the user's *verified* email
//! (found in the pool by `sub`), never carrying a secret; a failure is logged and never
//! fails the change.

use chrono::{DateTime, Utc};

use anyhow::Context as _;

use crate::AppState;
use crate::cognito::CognitoAdmin;
use crate::mail::{self, Mailer};

/// What happened to the account.
#[derive(Debug, Clone)]
pub enum Notice {
    PasskeyAdded { name: String },
    PasskeyDeleted { name: String },
    PasskeyRevoked { name: String },
    AccountReset,
}

impl Notice {
    fn sentence(&self) -> String {
        match self {
            Self::PasskeyAdded { name } => format!("A passkey ({name}) was added to your account"),
            Self::PasskeyDeleted { name } => {
                format!("A passkey ({name}) was deleted from your account")
            }
            Self::PasskeyRevoked { name } => {
                format!("A passkey ({name}) was revoked by an administrator")
            }
            Self::AccountReset => {
                "Your account was reset by an administrator: its passkeys were revoked and you were signed out".to_owned()
            }
        }
    }
}

impl Notice {
    /// The notice for a passkey an administrator revoked.
    pub fn revoked(credential: &crate::admin::AdminCredential) -> Self {
        Self::PasskeyRevoked {
            name: passkey_name(
                credential.summary.nickname.as_deref(),
                credential.summary.authenticator_name.as_deref(),
            ),
        }
    }
}

/// A passkey's name for a notice: its nickname, its authenticator's, or a generic one.
pub fn passkey_name(nickname: Option<&str>, authenticator: Option<&str>) -> String {
    nickname
        .or(authenticator)
        .unwrap_or("unknown authenticator")
        .to_owned()
}

/// Sends `notice` to the user with this `sub`, in the background.
pub fn send(state: &AppState, sub: &str, notice: Notice, at: DateTime<Utc>) {
    if !state.config.email_notify {
        return;
    }
    let (Some(email), Some(cognito)) = (state.email.clone(), state.cognito.clone()) else {
        return;
    };
    let sub = sub.to_owned();
    let rp_name = state.config.rp_name.clone();
    tokio::spawn(async move {
        if let Err(e) = deliver(&email.mailer, &cognito, &rp_name, &sub, &notice, at).await {
            tracing::warn!(error = %format!("{e:#}"), "could not send a security notice");
        }
    });
}

/// Sends `notice` to the verified email of the user with this `sub` and waits for it:
/// `Ok(false)` when the user has no verified email (nothing to send).
pub async fn deliver(
    mailer: &Mailer,
    cognito: &CognitoAdmin,
    rp_name: &str,
    sub: &str,
    notice: &Notice,
    at: DateTime<Utc>,
) -> anyhow::Result<bool> {
    let Some(to) = cognito
        .verified_email_of(sub)
        .await
        .context("finding where to send a security notice")?
    else {
        return Ok(false);
    };
    let message = mail::notice(rp_name, &notice.sentence(), at);
    mailer.send(&to, &message).await?;
    Ok(true)
}
