//! Security notices by email (`RP_EMAIL_NOTIFY`): a passkey added, deleted or revoked,
//! an account reset. Sent after the change is committed, to the user's *verified* email
//! (found in the pool by `sub`), never carrying a secret; a failure is logged and never
//! fails the change.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use anyhow::Context as _;

use super::Context;
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
    pub fn revoked(credential: &crate::model::AdminCredential) -> Self {
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

/// Sends `notice` to the user with this `sub`, in the background, when the site sends
/// notices.
pub fn send(cx: &Context, sub: &str, notice: Notice, at: DateTime<Utc>) {
    if let Some(notifier) = &cx.site.notifier {
        notifier.send(sub, notice, at);
    }
}

/// Where security notices go: the mail transport, the pool that knows each user's
/// verified email, and the name notices sign with.
#[derive(Clone)]
pub struct Notifier {
    mailer: Arc<Mailer>,
    cognito: Arc<CognitoAdmin>,
    rp_name: String,
}

impl Notifier {
    pub fn new(mailer: Arc<Mailer>, cognito: Arc<CognitoAdmin>, rp_name: String) -> Self {
        Self {
            mailer,
            cognito,
            rp_name,
        }
    }

    /// Sends `notice` in the background; a failure is logged.
    pub fn send(&self, sub: &str, notice: Notice, at: DateTime<Utc>) {
        let (this, sub) = (self.clone(), sub.to_owned());
        tokio::spawn(async move {
            if let Err(e) = this.deliver(&sub, &notice, at).await {
                tracing::warn!(error = %format!("{e:#}"), "could not send a security notice");
            }
        });
    }

    /// Sends `notice` to the verified email of the user with this `sub` and waits for
    /// it: `Ok(false)` when the user has no verified email (nothing to send).
    #[tracing::instrument(skip_all)]
    pub async fn deliver(
        &self,
        sub: &str,
        notice: &Notice,
        at: DateTime<Utc>,
    ) -> anyhow::Result<bool> {
        let Some(to) = self
            .cognito
            .verified_email_of(sub)
            .await
            .context("finding where to send a security notice")?
        else {
            return Ok(false);
        };
        let message = mail::notice(&self.rp_name, &notice.sentence(), at)
            .context("rendering a security notice")?;
        self.mailer.send(&to, &message).await?;
        Ok(true)
    }
}
