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
    PasskeyAdded {
        name: String,
    },
    PasskeyDeleted {
        name: String,
    },
    PasskeyRevoked {
        name: String,
    },
    /// `signed_out`: whether Cognito ended the user's sessions too (AdminUserGlobalSignOut
    /// succeeded); the notice never claims what did not happen.
    AccountReset {
        signed_out: bool,
    },
    /// A recovery code signed in; `remaining` are left.
    RecoveryCodeUsed {
        remaining: i64,
    },
}

impl Notice {
    fn sentence(&self) -> String {
        match self {
            Self::PasskeyAdded { name } => format!("A passkey (\"{name}\") was added to your account"),
            Self::PasskeyDeleted { name } => {
                format!("A passkey (\"{name}\") was deleted from your account")
            }
            Self::PasskeyRevoked { name } => {
                format!("A passkey (\"{name}\") was revoked by an administrator")
            }
            Self::AccountReset { signed_out: true } => {
                "Your account was reset by an administrator: its passkeys were revoked and you were signed out everywhere".to_owned()
            }
            Self::RecoveryCodeUsed { remaining } => format!(
                "A recovery code was used to sign in to your account ({remaining} left). If this was not you, sign in with a passkey, make new recovery codes and remove passkeys you do not know"
            ),
            Self::AccountReset { signed_out: false } => {
                "Your account was reset by an administrator: its passkeys were revoked. Sign out of the devices you use, or ask your administrator to end your sessions".to_owned()
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

/// Longest passkey name a notice repeats, in characters.
pub const MAX_NAME_IN_NOTICE: usize = 64;

/// A passkey's name for a notice: its nickname, its authenticator's, or a generic one.
/// A nickname is the user's (or an attacker's) text, so only printable characters are
/// kept (no control, zero-width or bidirectional-override characters that could disguise
/// the sentence), at most [`MAX_NAME_IN_NOTICE`] of them; the sentence quotes it. A
/// nickname that reads as a link or an address (mail clients make those clickable) is
/// not shown at all: a notice carries no link an attacker chose.
pub fn passkey_name(nickname: Option<&str>, authenticator: Option<&str>) -> String {
    let hidden = |c: char| {
        c.is_control()
            || matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2069}' | '\u{FEFF}')
    };
    let printable = |s: &str| -> String {
        s.chars()
            .filter(|c| !hidden(*c))
            .collect::<String>()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .chars()
            .take(MAX_NAME_IN_NOTICE)
            .collect()
    };
    [nickname.filter(|n| !reads_as_a_link(n)), authenticator]
        .into_iter()
        .flatten()
        .map(printable)
        .find(|n| !n.is_empty())
        .unwrap_or_else(|| "unknown authenticator".to_owned())
}

/// Whether a mail client could make a link of `text`: a scheme (`https://`, `mailto:`),
/// `www.`, an address (`@`), or a host name (`example.com`: a dot, or an ideographic or
/// full-width one, between a letter or digit and two letters).
fn reads_as_a_link(text: &str) -> bool {
    let lower = text.to_lowercase();
    if ["://", "www.", "@", "mailto:"]
        .iter()
        .any(|p| lower.contains(p))
    {
        return true;
    }
    let chars: Vec<char> = lower.chars().collect();
    chars.windows(4).any(|w| {
        w[0].is_alphanumeric()
            && matches!(w[1], '.' | '\u{3002}' | '\u{FF0E}' | '\u{FF61}')
            && w[2].is_alphabetic()
            && w[3].is_alphabetic()
    })
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_nickname_in_a_notice_is_printable_short_and_quoted() {
        let sneaky = "Work key\u{202E}lanigiro\n\nYour account is locked: call +1 555 0100 now\u{200B}and forever, and ever, and ever";
        let name = passkey_name(Some(sneaky), Some("YubiKey"));
        assert!(
            !name
                .chars()
                .any(|c| c.is_control() || c == '\u{202E}' || c == '\u{200B}'),
            "{name:?}"
        );
        assert!(name.chars().count() <= MAX_NAME_IN_NOTICE, "{name:?}");
        assert!(name.starts_with("Work key"));
        let sentence = Notice::PasskeyAdded { name }.sentence();
        assert!(sentence.starts_with("A passkey (\"Work key"), "{sentence}");
        assert!(!sentence.contains('\n'));
        // Nothing printable left: the authenticator's name, then a generic one.
        assert_eq!(passkey_name(Some("\u{202E}\n"), Some("YubiKey")), "YubiKey");
        assert_eq!(passkey_name(None, None), "unknown authenticator");
    }

    #[test]
    fn a_nickname_that_reads_as_a_link_is_not_shown() {
        for link in [
            "https://evil.example/reset",
            "evil.com",
            "see www.evil.io",
            "help@evil.example",
            "login\u{3002}evil\u{3002}com",
            "mailto:x",
        ] {
            assert_eq!(
                passkey_name(Some(link), Some("YubiKey 5")),
                "YubiKey 5",
                "{link}"
            );
            assert_eq!(
                passkey_name(Some(link), None),
                "unknown authenticator",
                "{link}"
            );
        }
        for fine in [
            "Work laptop v2.0",
            "Bob's iPhone 15",
            "YubiKey 5C NFC",
            "Call www support",
        ] {
            assert_eq!(passkey_name(Some(fine), None), fine);
        }
    }

    #[test]
    fn a_reset_notice_says_signed_out_only_when_cognito_did_it() {
        assert!(
            Notice::AccountReset { signed_out: true }
                .sentence()
                .contains("signed out everywhere")
        );
        let not = Notice::AccountReset { signed_out: false }.sentence();
        assert!(!not.contains("you were signed out"), "{not}");
    }
}
