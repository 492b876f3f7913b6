//! Mail settings: a transport, its URL (TLS unless the host is loopback), a sender, and
//! what mail is for (codes, sign-in by code, notices).

use secrecy::{ExposeSecret as _, SecretString};
use url::Url;

use super::settings::{Settings, text};
use super::{ConfigError, bad, choice};

/// Who may sign in with an email code (`RP_EMAIL_SIGNIN`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
#[value(rename_all = "snake_case")]
pub enum EmailSignIn {
    Off,
    Any,
    /// Only users with no active passkey (a fallback that cannot bypass a passkey).
    NoPasskey,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum EmailTransportKind {
    Smtp,
    Ses,
}

/// How rp-server sends mail.
#[derive(Debug, Clone)]
pub enum EmailTransport {
    /// An SMTP server (the URL may carry credentials).
    Smtp(SecretString),
    /// Amazon SES v2 through the AWS SDK.
    Ses,
}

#[derive(Debug, Clone)]
pub struct EmailConfig {
    pub transport: EmailTransport,
    /// The `From` mailbox, e.g. `Example <no-reply@example.com>`.
    pub from: String,
}

/// The validated mail settings; `None` when no transport is set. `serve` and `admin`
/// (whose revocations and resets send notices too) both read them.
pub fn email_config(s: &Settings) -> Result<Option<EmailConfig>, ConfigError> {
    let Some(kind) = text(&s.email_transport) else {
        if s.smtp_url.is_some() || text(&s.email_from).is_some() {
            return Err(bad(
                "RP_EMAIL_TRANSPORT",
                "is required with RP_SMTP_URL or RP_EMAIL_FROM (smtp or ses)",
            ));
        }
        return Ok(None);
    };
    let kind: EmailTransportKind = choice("RP_EMAIL_TRANSPORT", kind)?;
    let from = text(&s.email_from)
        .ok_or_else(|| bad("RP_EMAIL_FROM", "is required with RP_EMAIL_TRANSPORT"))?;
    if from.parse::<lettre::message::Mailbox>().is_err() {
        return Err(bad(
            "RP_EMAIL_FROM",
            "must be an address or `Name <address>`",
        ));
    }
    let transport = match kind {
        EmailTransportKind::Ses => EmailTransport::Ses,
        EmailTransportKind::Smtp => EmailTransport::Smtp(smtp_url(s.smtp_url.as_ref())?),
    };
    Ok(Some(EmailConfig {
        transport,
        from: from.to_owned(),
    }))
}

/// `RP_SMTP_URL`: TLS (smtps://, or STARTTLS required) unless the host is loopback.
fn smtp_url(raw: Option<&SecretString>) -> Result<SecretString, ConfigError> {
    let raw = raw
        .filter(|r| !r.expose_secret().trim().is_empty())
        .ok_or_else(|| bad("RP_SMTP_URL", "is required with RP_EMAIL_TRANSPORT=smtp"))?;
    let url = Url::parse(raw.expose_secret()).map_err(|_| bad("RP_SMTP_URL", "is not a URL"))?;
    let tls = url.scheme() == "smtps"
        || url
            .query_pairs()
            .any(|(k, v)| k == "tls" && v == "required");
    match url.scheme() {
        "smtps" | "smtp" if tls || rp_shared::loopback::is_loopback(&url) => {}
        "smtp" => {
            return Err(bad(
                "RP_SMTP_URL",
                "must use TLS (smtps://, or smtp://…?tls=required); plain smtp:// only for a loopback host",
            ));
        }
        _ => return Err(bad("RP_SMTP_URL", "must be an smtp:// or smtps:// URL")),
    }
    lettre::AsyncSmtpTransport::<lettre::Tokio1Executor>::from_url(raw.expose_secret())
        .map_err(|e| bad("RP_SMTP_URL", format!("not usable ({e})")))?;
    Ok(raw.clone())
}
