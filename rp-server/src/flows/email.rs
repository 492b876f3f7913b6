//! Email one-time codes: six digits from the OS random generator, stored only as a keyed
//! hash, one live code per address and purpose (a new one replaces the old), bound to
//! the request that asked for it (`codeRequestId`: only the asker can try it), at most
//! [`MAX_ATTEMPTS`] guesses, a resend no sooner than [`RESEND_AFTER_SECS`], and the
//! counted limits of [`limits`] (requests and failures per address and per client). A verified sign-up code earns a `signupToken`
//! that `/v1/signup/*` takes as proof of the address; a verified sign-in code (when
//! `RP_EMAIL_SIGNIN` allows it) earns the same `{nonce, username, expiresAt}` as a
//! passkey, which Cognito's Verify trigger redeems unchanged.
//!
//! The answer to a code request is the same whether or not the address has an account:
//! the code row is written either way, and delivery (a code, or for a sign-up to a taken
//! address an "account exists" notice) runs after the answer, so neither its content
//! nor its timing tells.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use hmac::Mac as _;
use rand::{Rng as _, TryRngCore as _};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::Context;
use super::ceremony::{self, SignInNonce};
use super::signup::{SignUpError, clean_email};
use crate::audit::{self, Action, Actor, ClientContext, Event};
use crate::cognito::PoolUser;
use crate::config::EmailSignIn;
use crate::mail::{self, Mailer};
use crate::model::SiteId;
use crate::store::email_codes::{self, Attempt, Code};
use rp_shared::token::CodeRequestId;

pub mod limits;
pub use limits::{PER_ADDRESS_PER_DAY, PER_IP_PER_DAY, Refusal};

/// Guesses a code allows before it is dead.
pub const MAX_ATTEMPTS: i32 = 5;
/// A new code for the same address and purpose is refused this soon after the last.
pub const RESEND_AFTER_SECS: i64 = 60;

/// What a code is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Purpose {
    /// Sign in without a passkey (needs `RP_EMAIL_SIGNIN`).
    SignIn,
    /// Prove the address before passkey-first sign-up.
    SignUp,
}

impl Purpose {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SignIn => "sign_in",
            Self::SignUp => "sign_up",
        }
    }
}

/// Mail delivery and the key codes are hashed with.
pub struct EmailCodes {
    pub mailer: Arc<Mailer>,
    key: Vec<u8>,
    /// Deliveries answered but not yet decided and sent: counted up before the answer,
    /// down when the delivery task ends, so "nothing more is on its way" can be awaited.
    outbox: tokio::sync::watch::Sender<usize>,
}

impl EmailCodes {
    pub fn new(mailer: Arc<Mailer>, key: Vec<u8>) -> Self {
        Self {
            mailer,
            key,
            outbox: tokio::sync::watch::Sender::new(0),
        }
    }

    /// Returns once every code request answered so far has been delivered or dropped
    /// (tests await it instead of sleeping; shutdown could too).
    #[tracing::instrument(skip_all)]
    pub async fn outbox_empty(&self) {
        let mut outbox = self.outbox.subscribe();
        let _ = outbox.wait_for(|in_flight| *in_flight == 0).await;
    }

    /// The keyed hash a code is stored as: bound to its address and purpose, so a hash
    /// says nothing without the server's key and cannot be moved to another address.
    fn hash(&self, email: &str, purpose: Purpose, code: &str) -> Vec<u8> {
        let mut mac = crate::passkeys::keyed_mac(&self.key);
        mac.update(purpose.as_str().as_bytes());
        mac.update(&[0]);
        mac.update(email.as_bytes());
        mac.update(&[0]);
        mac.update(code.as_bytes());
        mac.finalize().into_bytes().to_vec()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum EmailError {
    #[error("Email codes are not enabled on this server.")]
    Disabled,
    #[error("Signing in with an email code is not enabled on this server.")]
    SignInDisabled,
    #[error("This is not a valid email address.")]
    InvalidEmail,
    #[error("Too many codes requested; try again later.")]
    RateLimited { retry_after_secs: u64 },
    /// A counted limit refused it (see [`limits`]).
    #[error(transparent)]
    Refused(#[from] Refusal),
    #[error("The code is wrong.")]
    CodeInvalid,
    #[error("The code expired, was used, or ran out of attempts; ask for a new one.")]
    CodeExpired,
    #[error(transparent)]
    SignUp(SignUpError),
    #[error("Cognito could not be reached: {0}")]
    Cognito(#[from] crate::cognito::CognitoError),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

impl From<SignUpError> for EmailError {
    fn from(e: SignUpError) -> Self {
        match e {
            SignUpError::InvalidEmail => Self::InvalidEmail,
            SignUpError::Db(e) => Self::Db(e),
            other => Self::SignUp(other),
        }
    }
}

/// When a sent code dies, and when another may be asked for.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CodeSent {
    /// Give it to `/v1/email/verify` with the code: a code verifies only together with
    /// the request it was sent for. Keep it for the page's lifetime; never put it in a link.
    pub code_request_id: String,
    pub expires_at: DateTime<Utc>,
    pub resend_after: DateTime<Utc>,
}

/// What a verified code earns.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SignupProof {
    /// Give it to `/v1/signup/options` with the same email; it works once.
    pub signup_token: String,
    pub expires_at: DateTime<Utc>,
}

fn codes(cx: &Context) -> Result<&Arc<EmailCodes>, EmailError> {
    cx.site.email.as_ref().ok_or(EmailError::Disabled)
}

/// Which purposes this server serves at all.
fn offered(cx: &Context, purpose: Purpose) -> Result<(), EmailError> {
    match purpose {
        Purpose::SignUp if cx.site.settings.signup_user_pool_id.is_none() => {
            Err(EmailError::SignUp(SignUpError::Disabled))
        }
        Purpose::SignUp => Ok(()),
        Purpose::SignIn if cx.site.settings.email_signin == EmailSignIn::Off => {
            Err(EmailError::SignInDisabled)
        }
        Purpose::SignIn => Ok(()),
    }
}

/// The account a sign-in code may sign in: the one enabled pool user whose *verified*
/// email this is — with `RP_EMAIL_SIGNIN=no_passkey`, only if they have no active
/// passkey. `None` otherwise (no such user, several, unverified, or one with a passkey).
async fn sign_in_account(cx: &Context, email: &str) -> Result<Option<PoolUser>, EmailError> {
    let Some(cognito) = cx.site.cognito.as_deref() else {
        return Ok(None);
    };
    let Some(account) = cognito.verified_owner_of(email).await? else {
        return Ok(None);
    };
    if cx.site.settings.email_signin == EmailSignIn::NoPasskey
        && let Some(user) =
            crate::store::users::user_by_sub(&cx.db, &cx.site.id, &account.sub).await?
        && !crate::store::credentials::credentials_of(&cx.db, user.id)
            .await?
            .is_empty()
    {
        return Ok(None);
    }
    Ok(Some(account))
}

/// How long a code, and the sign-up token it earns, stay good (`RP_EMAIL_CODE_TTL_SECS`).
fn lifetime(cx: &Context) -> Duration {
    Duration::from_std(cx.site.settings.email_code_ttl).unwrap_or_else(|_| Duration::minutes(10))
}

/// A six-digit code, uniform over 000000–999999, from the OS random generator.
fn new_code() -> String {
    format!(
        "{:06}",
        rand::rngs::OsRng.unwrap_err().random_range(0..1_000_000u32)
    )
}

/// Sends a code (or, for a sign-up to a taken address, a notice). The answer is the same
/// whether or not the address has an account, and whether or not it is locked.
#[tracing::instrument(skip_all)]
pub async fn send_code(
    cx: &Context,
    client: &ClientContext,
    email: &str,
    purpose: Purpose,
) -> Result<CodeSent, EmailError> {
    let codes = codes(cx)?.clone();
    offered(cx, purpose)?;
    let email = clean_email(email)?;
    let now = cx.clock.now();
    let request = CodeRequestId::generate();
    let code = new_code();
    let expires_at = now + lifetime(cx);
    // The counters stay locked until the commit: concurrent requests for one address or
    // from one client are counted one after another. A refusal rolls the count back.
    let mut tx = cx.db.begin().await?;
    let locked = limits::take_send(&mut tx, &cx.site.id, client, &email, now).await??;
    if let Some(since) =
        email_codes::live_since(&mut *tx, &cx.site.id, &email, purpose.as_str(), now).await?
    {
        let wait = RESEND_AFTER_SECS - (now - since).num_seconds();
        if wait > 0 {
            return Err(EmailError::RateLimited {
                retry_after_secs: wait as u64,
            });
        }
    }
    let stored = Code {
        site: &cx.site.id,
        email: &email,
        purpose: purpose.as_str(),
        code_hash: &codes.hash(&email, purpose, &code),
        request_hash: &request.hash(),
    };
    email_codes::replace(&mut *tx, &stored, now, expires_at).await?;
    let mut details = serde_json::json!({ "email": email, "purpose": purpose.as_str() });
    if locked {
        details["withheld"] = "address_locked".into();
    }
    audit::record(
        &mut *tx,
        &cx.site.id,
        now,
        Event::new(Actor::Anonymous, Action::EmailCodeSent)
            .client(client)
            .details(details),
    )
    .await?;
    tx.commit().await?;

    if !locked {
        deliver_later(cx, codes, client, purpose, email, code);
    }
    Ok(CodeSent {
        code_request_id: request.expose().to_owned(),
        expires_at,
        resend_after: now + Duration::seconds(RESEND_AFTER_SECS),
    })
}

/// Delivers a code after the answer: whether the address has an account changes what
/// is sent, never what the caller sees or how long it waits.
fn deliver_later(
    cx: &Context,
    codes: Arc<EmailCodes>,
    client: &ClientContext,
    purpose: Purpose,
    email: String,
    code: String,
) {
    let cx = cx.clone();
    let client = client.clone();
    codes.outbox.send_modify(|in_flight| *in_flight += 1);
    tokio::spawn(async move {
        if let Some(message) = message_for(&cx, &client, purpose, &email, &code).await
            && let Err(e) = codes.mailer.send(&email, &message).await
        {
            tracing::error!(error = %format!("{e:#}"), purpose = purpose.as_str(), "could not send an email code");
        }
        codes.outbox.send_modify(|in_flight| *in_flight -= 1);
    });
}

/// What a code request mails: a sign-up code, or an "account exists" notice for a taken
/// address; a sign-in code only to an account that may sign in this way. `None`: nothing.
async fn message_for(
    cx: &Context,
    client: &ClientContext,
    purpose: Purpose,
    email: &str,
    code: &str,
) -> Option<mail::Mail> {
    let rp_name = &cx.site.settings.rp_name;
    let minutes = cx.site.settings.email_code_ttl.as_secs() / 60;
    let link = cx.site.settings.email_link_url.as_ref();
    match purpose {
        Purpose::SignUp => {
            let taken = match &cx.site.cognito {
                Some(c) => c.email_taken(email).await,
                None => Ok(false),
            };
            match taken {
                Ok(true) => rendered(mail::account_exists(rp_name)),
                Ok(false) => match limits::take_signup(
                    &cx.db,
                    &cx.site.id,
                    client,
                    cx.site.settings.email_signup_max_per_hour,
                    cx.clock.now(),
                )
                .await
                {
                    Ok(true) => rendered(mail::code(rp_name, email, code, true, minutes, link)),
                    Ok(false) => {
                        tracing::warn!(
                            "the sign-up code budget (per client or per hour) is spent; nothing sent"
                        );
                        None
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "could not count a sign-up code; nothing sent");
                        None
                    }
                },
                Err(e) => {
                    tracing::error!(error = %e, "could not check the address before sending a sign-up code; nothing sent");
                    None
                }
            }
        }
        Purpose::SignIn => match sign_in_account(cx, email).await {
            Ok(Some(_)) => rendered(mail::code(rp_name, email, code, false, minutes, link)),
            Ok(None) => None,
            Err(e) => {
                tracing::error!(error = %e, "could not find the account of an address; no sign-in code sent");
                None
            }
        },
    }
}

/// A rendered message, or nothing (logged) when a template failed to render.
fn rendered(mail: Result<mail::Mail, askama::Error>) -> Option<mail::Mail> {
    mail.map_err(|e| tracing::error!(error = %e, "could not render a code message; nothing sent"))
        .ok()
}

/// Tries a code of the request `guess.request_id`: refuses while the address or the
/// client is locked, counts a failure against both (an attempt without a live code for
/// that request only against the client: it had no chance), audits it, and answers the
/// cleaned address when the code was right (it is spent then).
async fn check(
    cx: &Context,
    client: &ClientContext,
    guess: &Guess<'_>,
    purpose: Purpose,
) -> Result<String, EmailError> {
    let codes = codes(cx)?;
    offered(cx, purpose)?;
    let email = clean_email(guess.email)?;
    let now = cx.clock.now();
    let mut tx = cx.db.begin().await?;
    let failures = limits::Failures::lock(
        &mut tx,
        &cx.site.id,
        client,
        &email,
        cx.site.settings.email_max_failures_per_ip_day,
        now,
    )
    .await??;
    // A malformed request id names no request; a malformed code is a wrong code.
    let attempt = match CodeRequestId::parse_and_hash(guess.request_id) {
        Some(request_hash) => {
            let tried = Code {
                site: &cx.site.id,
                email: &email,
                purpose: purpose.as_str(),
                code_hash: &codes.hash(&email, purpose, guess.code.trim()),
                request_hash: &request_hash,
            };
            email_codes::attempt(&mut *tx, &tried, MAX_ATTEMPTS, now).await?
        }
        None => Attempt::Gone,
    };
    let (reason, error, lock) = match attempt {
        Attempt::Matched => {
            tx.commit().await?;
            return Ok(email);
        }
        Attempt::Wrong => (
            "wrong",
            EmailError::CodeInvalid,
            failures.wrong(&mut tx, now).await?,
        ),
        Attempt::Gone => {
            failures.hopeless(&mut tx, now).await?;
            ("expired_spent_or_exhausted", EmailError::CodeExpired, None)
        }
    };
    let details = serde_json::json!({ "email": email, "purpose": purpose.as_str() });
    audit_failure(&mut tx, &cx.site.id, client, details, reason, lock, now).await?;
    tx.commit().await?;
    Err(error)
}

/// Audits a failed verification (`email.code_failed`), and the lock it put on the
/// address if it did (`email.code_locked`, with until when).
async fn audit_failure(
    tx: &mut sqlx::PgConnection,
    site: &SiteId,
    client: &ClientContext,
    details: serde_json::Value,
    reason: &str,
    lock: Option<Option<u64>>,
    now: DateTime<Utc>,
) -> sqlx::Result<()> {
    let mut failed = details.clone();
    failed["reason"] = reason.into();
    audit::record(
        &mut *tx,
        site,
        now,
        Event::new(Actor::Anonymous, Action::EmailCodeFailed)
            .client(client)
            .details(failed),
    )
    .await?;
    if let Some(until) = lock {
        let mut locked = details;
        locked["until"] = match until {
            Some(secs) => (now + Duration::seconds(secs as i64)).to_rfc3339().into(),
            None => "unlock".into(),
        };
        audit::record(
            &mut *tx,
            site,
            now,
            Event::new(Actor::Anonymous, Action::EmailCodeLocked)
                .client(client)
                .details(locked),
        )
        .await?;
    }
    Ok(())
}

/// What a client sends to verify a code.
pub struct Guess<'a> {
    pub email: &'a str,
    pub code: &'a str,
    /// The `codeRequestId` of the request the code was sent for.
    pub request_id: &'a str,
}

/// Checks a sign-up code; a right one earns a `signupToken` for the address.
#[tracing::instrument(skip_all)]
pub async fn verify_signup_code(
    cx: &Context,
    client: &ClientContext,
    guess: &Guess<'_>,
) -> Result<SignupProof, EmailError> {
    let email = check(cx, client, guess, Purpose::SignUp).await?;
    let now = cx.clock.now();
    let token = rp_shared::token::SignupToken::generate();
    let expires_at = now + lifetime(cx);
    let mut tx = cx.db.begin().await?;
    email_codes::insert_signup_token(
        &mut *tx,
        &cx.site.id,
        &token.hash(),
        &email,
        now,
        expires_at,
    )
    .await?;
    audit::record(
        &mut *tx,
        &cx.site.id,
        now,
        Event::new(Actor::Anonymous, Action::EmailCodeVerified)
            .client(client)
            .details(serde_json::json!({ "email": email, "purpose": "sign_up" })),
    )
    .await?;
    tx.commit().await?;
    Ok(SignupProof {
        signup_token: token.expose().to_owned(),
        expires_at,
    })
}

/// Checks a sign-in code; a right one for an account that may sign in this way earns
/// a nonce, exactly as a passkey sign-in does.
#[tracing::instrument(skip_all)]
pub async fn verify_signin_code(
    cx: &Context,
    client: &ClientContext,
    guess: &Guess<'_>,
) -> Result<SignInNonce, EmailError> {
    let email = check(cx, client, guess, Purpose::SignIn).await?;
    // No code was mailed for an address without such an account; a right guess of the
    // stored one (one in a million) earns nothing either.
    let Some(account) = sign_in_account(cx, &email).await? else {
        return Err(EmailError::CodeInvalid);
    };
    let now = cx.clock.now();
    let mut tx = cx.db.begin().await?;
    let user = crate::store::users::upsert_user(
        &mut tx,
        &cx.site.id,
        &account.sub,
        &account.username,
        now,
    )
    .await?;
    let signed_in = ceremony::code_nonce(cx, &mut tx, &user, crate::model::Factor::Email).await?;
    audit::record(
        &mut *tx,
        &cx.site.id,
        now,
        Event::new(
            Actor::User(user.cognito_sub.clone()),
            Action::EmailCodeVerified,
        )
        .user(user.id, &user.cognito_sub)
        .client(client)
        .details(serde_json::json!({ "email": email, "purpose": "sign_in" })),
    )
    .await?;
    tx.commit().await?;
    Ok(signed_in)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_six_digits_and_vary() {
        let many: std::collections::HashSet<String> = (0..200).map(|_| new_code()).collect();
        assert!(
            many.iter()
                .all(|c| c.len() == 6 && c.bytes().all(|b| b.is_ascii_digit()))
        );
        assert!(many.len() > 190);
    }
}
