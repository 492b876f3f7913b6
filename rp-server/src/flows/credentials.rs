//! A signed-in user's own passkeys: list, rename, delete (revoke for good).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::Context;
use super::notices::{self, Notice};
use crate::audit::{self, Action, Actor, ClientContext, Event};
use crate::auth::CognitoUser;
use crate::model::Factor;
use crate::store::{self, RevokeWhich};

/// Longest nickname accepted, in characters.
pub const MAX_NICKNAME: usize = 64;

pub use crate::model::CredentialSummary;

/// Whether a session is fresh enough to change credentials: its last sign-in
/// (`auth_time`) is at most `max_age` ago (`None`: no limit). A token without
/// `auth_time`, or one from the future, is not.
pub fn recently_signed_in(
    auth_time: Option<i64>,
    now: DateTime<Utc>,
    max_age: Option<std::time::Duration>,
) -> bool {
    let Some(max_age) = max_age else {
        return true;
    };
    let Some(at) = auth_time else {
        return false;
    };
    let age = now.timestamp() - at;
    // A minute of clock skew between Cognito and us is tolerated.
    (-60..=i64::try_from(max_age.as_secs()).unwrap_or(i64::MAX)).contains(&age)
}

/// The reauthentication rule for a Cognito caller about to add or delete a passkey.
pub fn require_recent_sign_in(cx: &Context, who: &CognitoUser) -> Result<(), ReauthRequired> {
    if recently_signed_in(
        who.auth_time,
        cx.clock.now(),
        cx.site.settings.reauth_max_age,
    ) {
        Ok(())
    } else {
        Err(ReauthRequired { passkey: false })
    }
}

/// A session that began with a code rather than a passkey or a password.
#[derive(Debug, Clone, Copy)]
pub struct CodeSession {
    pub factor: Factor,
    /// Its weak sign-in's record.
    pub id: i64,
    /// Whether it added a passkey already.
    pub added_passkey: bool,
}

impl CodeSession {
    /// Whether this session may add a passkey to an account with `active` usable ones:
    /// an email code's only the first one (the account has none: the recovery case), a
    /// recovery code's one new passkey (whatever the lost ones).
    pub fn may_add(&self, active: usize) -> bool {
        match self.factor {
            Factor::Email => active == 0,
            Factor::Recovery => !self.added_passkey,
            Factor::Passkey => true,
        }
    }
}

/// The code (email or recovery) that began the caller's session, if one did: the
/// redemption of its nonce left a record at the time Cognito issued the session's tokens
/// (`auth_time`, which refreshed tokens keep). `None`: a passkey or a password.
pub async fn code_session(cx: &Context, who: &CognitoUser) -> sqlx::Result<Option<CodeSession>> {
    let Some(at) = who.auth_time.and_then(|t| DateTime::from_timestamp(t, 0)) else {
        return Ok(None);
    };
    let found = store::users::weak_factor(&cx.db, &cx.site.id, &who.sub, at).await?;
    Ok(found.and_then(|w| {
        let factor = match w.factor.as_str() {
            "email" => Factor::Email,
            "recovery" => Factor::Recovery,
            _ => return None,
        };
        Some(CodeSession {
            factor,
            id: w.id,
            added_passkey: w.added_passkey,
        })
    }))
}

/// A session begun with an email or recovery code proves a mailbox or a piece of paper,
/// not the account's passkey: it may never rename or delete one.
async fn require_no_code_session(cx: &Context, who: &CognitoUser) -> Result<(), CredentialError> {
    match code_session(cx, who).await? {
        Some(_) => Err(ReauthRequired { passkey: true }.into()),
        None => Ok(()),
    }
}

/// Adding or deleting a passkey needs a fresh sign-in (`RP_REAUTH_MAX_AGE_SECS`); with
/// `passkey`, a sign-in with a passkey (the session began with an email or recovery code).
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("Sign in again to change your passkeys.")]
pub struct ReauthRequired {
    pub passkey: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum CredentialError {
    #[error(transparent)]
    ReauthRequired(#[from] ReauthRequired),
    #[error("{0}")]
    InvalidNickname(String),
    #[error("The credential id must be base64url.")]
    InvalidId,
    #[error("No such passkey.")]
    NotFound,
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// Checks and normalises a nickname: trimmed, at most [`MAX_NICKNAME`] characters, no
/// control characters; empty means none.
pub fn clean_nickname(raw: Option<&str>) -> Result<Option<String>, CredentialError> {
    let Some(n) = raw.map(str::trim).filter(|n| !n.is_empty()) else {
        return Ok(None);
    };
    if n.chars().count() > MAX_NICKNAME {
        return Err(CredentialError::InvalidNickname(format!(
            "A nickname has at most {MAX_NICKNAME} characters."
        )));
    }
    if n.chars().any(char::is_control) {
        return Err(CredentialError::InvalidNickname(
            "A nickname cannot contain control characters.".to_owned(),
        ));
    }
    Ok(Some(n.to_owned()))
}

fn credential_id(raw: &str) -> Result<Vec<u8>, CredentialError> {
    rp_shared::credential_id::decode(raw).ok_or(CredentialError::InvalidId)
}

/// A user's passkeys, with what the client needs to tell the password manager which
/// ones are still accepted (Signal API).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Passkeys {
    pub credentials: Vec<CredentialSummary>,
    /// The relying party id the passkeys belong to.
    pub rp_id: String,
    /// The user's WebAuthn user handle (base64url), as `signalAllAcceptedCredentials`
    /// takes it; absent for a user who never registered a passkey.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
}

/// The caller's usable passkeys.
#[tracing::instrument(skip_all)]
pub async fn list(cx: &Context, who: &CognitoUser) -> Result<Passkeys, CredentialError> {
    let user = store::users::user_by_sub(&cx.db, &cx.site.id, &who.sub).await?;
    let credentials = match &user {
        Some(user) => store::credentials::credentials_of(&cx.db, user.id).await?,
        None => Vec::new(),
    };
    Ok(Passkeys {
        credentials: credentials
            .iter()
            .map(|c| CredentialSummary::from(c).with_icon(cx.site.settings.mds.as_deref()))
            .collect(),
        rp_id: cx.site.settings.rp_id.clone(),
        user_id: user.map(|u| rp_shared::credential_id::encode(u.id.as_bytes())),
    })
}

/// Renames one of the caller's passkeys.
#[tracing::instrument(skip_all)]
pub async fn rename(
    cx: &Context,
    who: &CognitoUser,
    client: &ClientContext,
    id: &str,
    nickname: Option<&str>,
) -> Result<CredentialSummary, CredentialError> {
    let id = credential_id(id)?;
    let nickname = clean_nickname(nickname)?;
    require_no_code_session(cx, who).await?;
    let user = store::users::user_by_sub(&cx.db, &cx.site.id, &who.sub)
        .await?
        .ok_or(CredentialError::NotFound)?;
    let now = cx.clock.now();
    let mut tx = cx.db.begin().await?;
    let renamed = store::credentials::rename_credential(&mut tx, user.id, &id, nickname.as_deref())
        .await?
        .ok_or(CredentialError::NotFound)?;
    audit::record(
        &mut *tx,
        &cx.site.id,
        now,
        Event::new(Actor::User(who.sub.clone()), Action::CredentialRenamed)
            .user(user.id, &user.cognito_sub)
            .credential(&id)
            .client(client)
            .details(serde_json::json!({ "nickname": nickname })),
    )
    .await?;
    tx.commit().await?;
    Ok(CredentialSummary::from(&renamed))
}

/// Deletes one of the caller's passkeys: it is revoked for good (it can neither sign in
/// nor be registered again). Another user's passkey is `NotFound`, exactly as a passkey
/// that does not exist.
#[tracing::instrument(skip_all)]
pub async fn delete(
    cx: &Context,
    who: &CognitoUser,
    client: &ClientContext,
    id: &str,
) -> Result<(), CredentialError> {
    require_recent_sign_in(cx, who)?;
    require_no_code_session(cx, who).await?;
    let id = credential_id(id)?;
    let user = store::users::user_by_sub(&cx.db, &cx.site.id, &who.sub)
        .await?
        .ok_or(CredentialError::NotFound)?;
    let name = store::credentials::credential(&cx.db, &cx.site.id, &id)
        .await?
        .map(|c| {
            let c = CredentialSummary::from(&c);
            notices::passkey_name(c.nickname.as_deref(), c.authenticator_name.as_deref())
        })
        .unwrap_or_default();
    let now = cx.clock.now();
    let mut tx = cx.db.begin().await?;
    let revoked = store::credentials::revoke_credentials(
        &mut tx,
        &cx.site.id,
        RevokeWhich::One(&id, Some(user.id)),
        &Actor::User(who.sub.clone()).label(),
        Some("deleted by the user"),
        now,
    )
    .await?;
    if revoked.is_empty() {
        return Err(CredentialError::NotFound);
    }
    audit::record(
        &mut *tx,
        &cx.site.id,
        now,
        Event::new(Actor::User(who.sub.clone()), Action::CredentialDeleted)
            .user(user.id, &user.cognito_sub)
            .credential(&id)
            .client(client),
    )
    .await?;
    tx.commit().await?;
    notices::send(cx, &who.sub, Notice::PasskeyDeleted { name }, now);
    Ok(())
}

/// Records how many passkeys the caller still has with Cognito itself, as their client
/// reports it while moving them (0 after the move): best effort, for the statistics.
#[tracing::instrument(skip_all)]
pub async fn report_cognito_passkeys(
    cx: &Context,
    who: &CognitoUser,
    count: u8,
) -> Result<(), CredentialError> {
    let mut tx = cx.db.begin().await?;
    let user = store::users::upsert_user(
        &mut tx,
        &cx.site.id,
        &who.sub,
        &who.username,
        cx.clock.now(),
    )
    .await?;
    store::users::set_cognito_passkeys(&mut *tx, user.id, i32::from(count)).await?;
    tx.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_credential_change_needs_a_recent_sign_in() {
        let now = DateTime::from_timestamp(1_900_000_000, 0).unwrap_or_default();
        let t = now.timestamp();
        let limit = Some(std::time::Duration::from_secs(900));
        let cases = [
            (Some(t), limit, true),
            (Some(t - 900), limit, true),
            (Some(t - 901), limit, false),
            (Some(t - 86_400), limit, false),
            (None, limit, false),
            (Some(t + 30), limit, true),    // skew
            (Some(t + 3600), limit, false), // from the future
            (Some(t - 86_400), None, true), // check off
            (None, None, true),
        ];
        for (auth_time, max_age, want) in cases {
            assert_eq!(
                recently_signed_in(auth_time, now, max_age),
                want,
                "{auth_time:?} {max_age:?}"
            );
        }
    }
}
