//! Recovery codes: a second way back without an admin (NIST SP 800-63B-4 asks for two).
//! A signed-in user makes ten one-time codes, shown once and stored as keyed hashes
//! bound to the user; a new set voids the old. A code signs in like a passkey (a nonce
//! for Cognito's Verify trigger) but its session is a recovery session: it may add one
//! passkey and change nothing else ([`super::credentials::CodeSession`]). Wrong codes
//! count against the account's lock, shared with email codes
//! ([`super::email::limits`]), and per client; each use is audited and notified.

use chrono::{DateTime, Utc};
use hmac::Mac as _;
use rand::{Rng as _, TryRngCore as _};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::Context;
use super::ceremony::{self, SignInNonce};
use super::credentials::{ReauthRequired, code_session, require_recent_sign_in};
use super::email::limits::{self, Refusal};
use super::notices::{self, Notice};
use super::signup::clean_email;
use crate::audit::{self, Action, Actor, ClientContext, Event};
use crate::auth::CognitoUser;
use crate::model::Factor;
use crate::store::recovery_codes::{self, Spend};
use crate::store::{self, User};

/// Codes in a set.
pub const CODES_PER_SET: usize = 10;
/// Characters of a code (60 bits), shown in groups of four.
const CODE_CHARS: usize = 12;
/// Crockford's base32 alphabet, lower case: no i, l, o or u to misread.
const ALPHABET: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";

#[derive(Debug, thiserror::Error)]
pub enum RecoveryError {
    #[error(transparent)]
    ReauthRequired(#[from] ReauthRequired),
    #[error("The recovery code is wrong.")]
    CodeInvalid,
    #[error("This recovery code was used already; each works once.")]
    CodeUsed,
    /// The account's or the client's wrong codes (see [`limits`]).
    #[error(transparent)]
    Refused(#[from] Refusal),
    #[error("Cognito could not be reached: {0}")]
    Cognito(#[from] crate::cognito::CognitoError),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// A new set, shown once.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreatedCodes {
    /// Ten one-time codes (`xxxx-xxxx-xxxx`); rp-server keeps only their hashes.
    pub codes: Vec<String>,
    pub created_at: DateTime<Utc>,
}

/// What is left of the caller's set.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CodesStatus {
    pub remaining: i64,
    /// When the set was made; `null` when there is none.
    pub created_at: Option<DateTime<Utc>>,
}

/// The key recovery codes are hashed with.
pub struct RecoveryKey(Vec<u8>);

impl RecoveryKey {
    pub fn new(key: Vec<u8>) -> Self {
        Self(key)
    }

    /// The keyed hash a code is stored as, bound to its user: worthless without the
    /// server's key, and never another user's code.
    fn hash(&self, user: &User, code: &str) -> Vec<u8> {
        let mut mac = crate::passkeys::keyed_mac(&self.0);
        mac.update(user.id.as_bytes());
        mac.update(normalized(code).as_bytes());
        mac.finalize().into_bytes().to_vec()
    }
}

/// A code as typed, in its stored form: lower case, without spaces or dashes, with the
/// letters people put for digits read as those digits.
fn normalized(code: &str) -> String {
    code.chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .map(|c| match c.to_ascii_lowercase() {
            'i' | 'l' => '1',
            'o' => '0',
            other => other,
        })
        .collect()
}

/// A new code from the OS random generator: `xxxx-xxxx-xxxx`.
fn new_code() -> String {
    let mut rng = rand::rngs::OsRng.unwrap_err();
    let chars: Vec<char> = (0..CODE_CHARS)
        .map(|_| char::from(ALPHABET[rng.random_range(0..ALPHABET.len())]))
        .collect();
    chars
        .chunks(4)
        .map(|c| c.iter().collect::<String>())
        .collect::<Vec<_>>()
        .join("-")
}

/// Makes a new set for the caller (voiding the old one). Needs a fresh sign-in that was
/// not itself a code's.
#[tracing::instrument(skip_all)]
pub async fn create(
    cx: &Context,
    who: &CognitoUser,
    client: &ClientContext,
) -> Result<CreatedCodes, RecoveryError> {
    require_recent_sign_in(cx, who)?;
    if code_session(cx, who).await?.is_some() {
        return Err(ReauthRequired { passkey: true }.into());
    }
    let now = cx.clock.now();
    let codes: Vec<String> = (0..CODES_PER_SET).map(|_| new_code()).collect();
    let mut tx = cx.db.begin().await?;
    let user =
        store::users::upsert_user(&mut tx, &cx.site.id, &who.sub, &who.username, now).await?;
    let hashes: Vec<Vec<u8>> = codes
        .iter()
        .map(|c| cx.site.recovery.hash(&user, c))
        .collect();
    recovery_codes::replace_set(&mut tx, user.id, &hashes, now).await?;
    audit::record(
        &mut *tx,
        &cx.site.id,
        now,
        Event::new(Actor::User(who.sub.clone()), Action::RecoveryCodesCreated)
            .user(user.id, &user.cognito_sub)
            .client(client)
            .details(serde_json::json!({ "count": CODES_PER_SET })),
    )
    .await?;
    tx.commit().await?;
    Ok(CreatedCodes {
        codes,
        created_at: now,
    })
}

/// How many of the caller's codes are left.
pub async fn status(cx: &Context, who: &CognitoUser) -> Result<CodesStatus, RecoveryError> {
    let Some(user) = store::users::user_by_sub(&cx.db, &cx.site.id, &who.sub).await? else {
        return Ok(CodesStatus {
            remaining: 0,
            created_at: None,
        });
    };
    let (remaining, created_at) = recovery_codes::status(&cx.db, user.id).await?;
    Ok(CodesStatus {
        remaining,
        created_at,
    })
}

/// The account `username` names (a username, or a verified email where the site
/// administers the pool), and the key its failures count under: its verified email's
/// (shared with email codes) or, without one, its own.
async fn account(cx: &Context, username: &str) -> Result<(Option<User>, String), RecoveryError> {
    let typed = username.trim();
    let by_email = match (&cx.site.cognito, clean_email(typed)) {
        (Some(cognito), Ok(email)) => {
            let user = match cognito.verified_owner_of(&email).await? {
                Some(owner) => store::users::user_by_sub(&cx.db, &cx.site.id, &owner.sub).await?,
                None => None,
            };
            Some((user, email))
        }
        _ => None,
    };
    if let Some((user, email)) = by_email {
        return Ok((user, email));
    }
    let user = match store::users::user_by_username(&cx.db, &cx.site.id, typed).await? {
        Some(user) => Some(user),
        None => store::users::user_by_sub(&cx.db, &cx.site.id, typed).await?,
    };
    let key = match (&user, &cx.site.cognito) {
        (Some(u), Some(cognito)) => cognito
            .verified_email_of(&u.cognito_sub)
            .await?
            .unwrap_or_else(|| format!("user:{}", u.id)),
        (Some(u), None) => format!("user:{}", u.id),
        (None, _) => format!("name:{}", typed.to_lowercase()),
    };
    Ok((user, key))
}

/// Signs in with a recovery code: the same `{nonce, username, expiresAt}` as a passkey,
/// for a session that may add one passkey. A wrong code (or an unknown account, answered
/// alike) counts against the account and the client.
#[tracing::instrument(skip_all)]
pub async fn verify(
    cx: &Context,
    client: &ClientContext,
    username: &str,
    code: &str,
) -> Result<SignInNonce, RecoveryError> {
    let now = cx.clock.now();
    // A client past its failures is refused before the account is looked up in Cognito.
    let per_client = cx.site.settings.email_max_failures_per_ip_day;
    if let Some(refusal) =
        limits::client_refused(&cx.db, &cx.site.id, client, per_client, now).await?
    {
        return Err(refusal.into());
    }
    let (user, key) = account(cx, username).await?;
    let mut tx = cx.db.begin().await?;
    let failures = limits::Failures::lock(
        &mut tx,
        &cx.site.id,
        client,
        &key,
        cx.site.settings.email_max_failures_per_ip_day,
        now,
    )
    .await??;
    let Some(user) = user else {
        return no_account(cx, tx, failures, client, code).await;
    };
    let hash = cx.site.recovery.hash(&user, code);
    let error = match recovery_codes::spend(&mut *tx, user.id, &hash, now).await? {
        Spend::Spent => None,
        Spend::Used => Some(RecoveryError::CodeUsed),
        Spend::Unknown => Some(RecoveryError::CodeInvalid),
    };
    if let Some(error) = error {
        failures.wrong(&mut tx, now).await?;
        let reason = match error {
            RecoveryError::CodeUsed => "used",
            _ => "wrong",
        };
        audit::record(
            &mut *tx,
            &cx.site.id,
            now,
            Event::new(Actor::Anonymous, Action::RecoveryCodeFailed)
                .user(user.id, &user.cognito_sub)
                .client(client)
                .details(serde_json::json!({ "reason": reason })),
        )
        .await?;
        tx.commit().await?;
        return Err(error);
    }
    signed_in(cx, tx, client, &user).await
}

/// A code for an account that does not exist: `CODE_INVALID` after the same work as a
/// wrong code of a real account (a hash, a lookup, the count, an audit row), so neither
/// the answer nor its timing tells that the account is missing.
async fn no_account(
    cx: &Context,
    mut tx: sqlx::Transaction<'_, sqlx::Postgres>,
    failures: limits::Failures,
    client: &ClientContext,
    code: &str,
) -> Result<SignInNonce, RecoveryError> {
    let now = cx.clock.now();
    let nobody = User {
        id: uuid::Uuid::nil(),
        cognito_sub: String::new(),
        username: String::new(),
    };
    let hash = cx.site.recovery.hash(&nobody, code);
    recovery_codes::spend(&mut *tx, nobody.id, &hash, now).await?;
    failures.wrong(&mut tx, now).await?;
    audit::record(
        &mut *tx,
        &cx.site.id,
        now,
        Event::new(Actor::Anonymous, Action::RecoveryCodeFailed)
            .client(client)
            .details(serde_json::json!({ "reason": "no_account" })),
    )
    .await?;
    tx.commit().await?;
    Err(RecoveryError::CodeInvalid)
}

/// A spent code's sign-in: the recovery nonce, its audit event, and the notice.
async fn signed_in(
    cx: &Context,
    mut tx: sqlx::Transaction<'_, sqlx::Postgres>,
    client: &ClientContext,
    user: &User,
) -> Result<SignInNonce, RecoveryError> {
    let now = cx.clock.now();
    let signed_in = ceremony::code_nonce(cx, &mut tx, user, Factor::Recovery).await?;
    let (remaining, _) = recovery_codes::status(&mut *tx, user.id).await?;
    audit::record(
        &mut *tx,
        &cx.site.id,
        now,
        Event::new(
            Actor::User(user.cognito_sub.clone()),
            Action::RecoveryCodeUsed,
        )
        .user(user.id, &user.cognito_sub)
        .client(client)
        .details(serde_json::json!({ "remaining": remaining })),
    )
    .await?;
    tx.commit().await?;
    notices::send(
        cx,
        &user.cognito_sub,
        Notice::RecoveryCodeUsed { remaining },
        now,
    );
    Ok(signed_in)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_twelve_unambiguous_characters_in_groups() {
        let many: std::collections::HashSet<String> = (0..200).map(|_| new_code()).collect();
        assert_eq!(many.len(), 200);
        for code in &many {
            assert_eq!(code.len(), 14, "{code}");
            let plain = normalized(code);
            assert_eq!(plain.len(), CODE_CHARS);
            assert!(plain.bytes().all(|b| ALPHABET.contains(&b)), "{code}");
        }
        assert_eq!(normalized(" AB1L-O0io 9z "), "ab1100109z");
    }
}
