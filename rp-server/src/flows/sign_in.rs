//! Signing in with a passkey: options for a discoverable credential, and the finish that
//! verifies an assertion and issues the one-time nonce Cognito's Verify trigger redeems.
//! Options store nothing (the usernameless ceremony is sealed into its id); a finish
//! costs two statements: consume the ceremony and load the credential; record the use,
//! the nonce and the audit event.

use chrono::{DateTime, Utc};
use rp_shared::nonce::Nonce;
use uuid::Uuid;
use webauthn_rs_core::proto::{AuthenticationResult, AuthenticationState, PublicKeyCredential};

use super::Context;
use super::ceremony::{
    self, CeremonyError, CeremonyOptions, CeremonyRef, HasReason, Rejection, SignInNonce,
};
use crate::audit::{Action, Actor, ClientContext, Event};
use crate::ceremony::{CeremonyKind, CeremonyState, ConcealedChallenge};
use crate::store::ceremonies::Taken;
use crate::store::credentials::{self, SignIn};
use crate::store::nonces::NewNonce;
use crate::store::{StoredCredential, User, ceremonies};

/// The kinds of stored ceremony an assertion may finish (a stored `challenge` is one a
/// Create trigger issued before decision 0024; they are concealed into their ids now).
const ANSWERABLE: [CeremonyKind; 2] = [CeremonyKind::SignIn, CeremonyKind::Challenge];

#[derive(Debug, thiserror::Error)]
pub enum SignInError {
    #[error(transparent)]
    Ceremony(#[from] CeremonyError),
    #[error("This passkey is not registered.")]
    UnknownCredential,
    #[error("This passkey has been removed from the account; sign in another way.")]
    CredentialRevoked,
    #[error("The passkey's user handle does not match its account.")]
    UserHandleMismatch,
    #[error("{0}")]
    Rejected(Rejection),
    #[error("The authenticator's signature counter went backwards; the credential may be cloned.")]
    CounterRegression,
    #[error("This passkey is no longer allowed by the account's passkey policy `{policy}` ({}); sign in another way and add one it allows.", rule.as_str())]
    PolicyViolation {
        policy: String,
        rule: crate::policy::Rule,
    },
    /// A ceremony of the Create trigger was not answered by a valid assertion of its
    /// user. Why (the metric label) is not told the client: an unknown id, another
    /// user's passkey and a bad signature must look alike, or the answer would tell
    /// which usernames have passkeys.
    #[error("The WebAuthn response could not be verified.")]
    ChallengeNotAnswered(&'static str),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl HasReason for SignInError {
    fn reason(&self) -> &'static str {
        match self {
            Self::Ceremony(e) => e.reason(),
            Self::UnknownCredential => "unknown_credential",
            Self::CredentialRevoked => "revoked_credential",
            Self::UserHandleMismatch => "user_handle",
            Self::Rejected(r) => r.reason,
            Self::CounterRegression => "counter_regression",
            Self::PolicyViolation { .. } => "policy_violation",
            Self::ChallengeNotAnswered(reason) => reason,
            Self::Db(_) => "storage",
            Self::Internal(_) => "internal",
        }
    }
}

/// Options for a usernameless sign-in (a discoverable credential; usable with
/// conditional mediation / autofill). The ceremony is sealed into its id: nothing is
/// stored until it is finished.
#[tracing::instrument(skip_all)]
pub async fn options(cx: &Context) -> Result<CeremonyOptions, SignInError> {
    let (options, auth_state) = cx
        .site
        .rp
        .start_authentication(Vec::new())
        .map_err(|e| anyhow::anyhow!("starting authentication: {e:?}"))?;
    let expires_at = cx.clock.now() + ceremony::ttl(cx);
    let ceremony_id = cx
        .site
        .sealer
        .seal(Uuid::new_v4(), expires_at, &auth_state)
        .map_err(anyhow::Error::from)?;
    crate::metrics::ceremony_started(&cx.site.id, CeremonyKind::SignIn.metric());
    Ok(CeremonyOptions {
        ceremony_id,
        public_key: serde_json::to_value(&options.public_key).map_err(anyhow::Error::from)?,
    })
}

/// How a ceremony being answered was started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answering {
    /// Usernameless: the authenticator names the user.
    Usernameless,
    /// Started by the Create Auth Challenge trigger; `owner` is the user with passkeys
    /// it was issued for (none: an unknown user or one without passkeys).
    Challenge { owner: Option<Uuid> },
}

/// Which credential may answer which ceremony: a revoked one never; a trigger's
/// challenge only its user's passkeys (and nothing when it was issued for nobody); a
/// usernameless sign-in only a passkey whose user handle names its owner.
pub fn may_answer(
    answering: Answering,
    credential_owner: Uuid,
    stored_handle: Option<&[u8]>,
    revoked: bool,
    user_handle: Option<&[u8]>,
) -> Result<(), SignInError> {
    if revoked {
        return Err(SignInError::CredentialRevoked);
    }
    match answering {
        Answering::Challenge { owner } if owner == Some(credential_owner) => Ok(()),
        Answering::Challenge { .. } => Err(SignInError::UnknownCredential),
        // The handle the passkey was made with: ours (the owner's id), or the one an
        // imported passkey kept from its old relying party.
        Answering::Usernameless
            if user_handle == Some(stored_handle.unwrap_or(credential_owner.as_bytes())) =>
        {
            Ok(())
        }
        Answering::Usernameless => Err(SignInError::UserHandleMismatch),
    }
}

/// Finishes a sign-in (usernameless, or one started by the Create Auth Challenge
/// trigger) and returns a one-time nonce for Cognito.
#[tracing::instrument(skip_all)]
pub async fn verify(
    cx: &Context,
    ceremony_id: &CeremonyRef,
    response: &PublicKeyCredential,
    client: &ClientContext,
) -> Result<SignInNonce, SignInError> {
    let result = finish(cx, ceremony_id, response, client).await;
    ceremony::count(cx, CeremonyKind::SignIn, &result);
    result
}

async fn finish(
    cx: &Context,
    ceremony_id: &CeremonyRef,
    response: &PublicKeyCredential,
    client: &ClientContext,
) -> Result<SignInNonce, SignInError> {
    let now = cx.clock.now();
    let (taken, found) = take(cx, ceremony_id, &response.raw_id, now).await?;
    let (auth_state, answering, challenge) = opened(taken.state, taken.owner)?;
    let verified = answer(cx, answering, found, response, auth_state, client, now).await;
    let (stored, user, result) = match (verified, &challenge) {
        (Ok(v), _) => v,
        (Err(e), Some((_, sub))) if e.hides_who_answered() => {
            return Err(not_answered(cx, e, sub.as_str(), client, now).await?);
        }
        (Err(e), _) => return Err(e),
    };
    let bound_challenge_id = challenge.map(|(id, _)| id);

    let nonce = Nonce::generate();
    let expires_at = now + ceremony::nonce_ttl(cx);
    let hash = nonce.hash();
    let event = Event::new(
        Actor::User(user.cognito_sub.clone()),
        Action::AuthenticationSucceeded,
    )
    .user(user.id, &user.cognito_sub)
    .credential(&stored.credential_id)
    .client(client)
    .details(serde_json::json!({
        "signCount": result.counter(),
        "userVerified": result.user_verified(),
        "usernameless": answering == Answering::Usernameless,
    }));
    let audit = event.row(&cx.site.id, now);
    let advanced = credentials::record_sign_in(
        &cx.db,
        &SignIn {
            site: &cx.site.id,
            credential_id: &stored.credential_id,
            sign_count: i64::from(result.counter()),
            backup_state: result.backup_state(),
            user_verified: result.user_verified(),
            at: now,
            nonce: NewNonce {
                hash: &hash,
                user_id: user.id,
                cognito_sub: &user.cognito_sub,
                credential_id: Some(&stored.credential_id),
                factor: crate::model::Factor::Passkey,
                bound_challenge_id,
                created_at: now,
                expires_at,
            },
            audit: &audit,
        },
    )
    .await?;
    if !advanced {
        // A concurrent sign-in got there first with the same or a later counter.
        return Err(SignInError::CounterRegression);
    }
    Ok(SignInNonce {
        nonce: nonce.expose().to_owned(),
        username: user.username,
        expires_at,
    })
}

/// A taken ceremony's WebAuthn state, how it was started, and the trigger's challenge.
type Opened = (AuthenticationState, Answering, Option<(Uuid, String)>);

/// What a taken ceremony says: its WebAuthn state, how it was started, and the trigger's
/// challenge (id and user) when the Create trigger started it.
fn opened(state: CeremonyState, owner: Option<Uuid>) -> Result<Opened, SignInError> {
    match state {
        CeremonyState::SignIn { state } => Ok((state, Answering::Usernameless, None)),
        CeremonyState::Challenge {
            state,
            challenge_id,
            cognito_sub,
        } => Ok((
            state,
            Answering::Challenge { owner },
            Some((challenge_id, cognito_sub)),
        )),
        other => Err(anyhow::anyhow!("a {:?} ceremony taken as a sign-in", other.kind()).into()),
    }
}

/// A trigger's challenge answered by the wrong passkey, or by none that verifies: audited
/// (unless the rejected signature already was, with its credential) and answered alike,
/// so the answer never says whose passkey it was.
async fn not_answered(
    cx: &Context,
    e: SignInError,
    sub: &str,
    client: &ClientContext,
    now: DateTime<Utc>,
) -> Result<SignInError, SignInError> {
    let reason = e.reason();
    if !matches!(e, SignInError::Rejected(_)) {
        let mut event = Event::new(Actor::Anonymous, Action::AuthenticationFailed)
            .client(client)
            .details(
                serde_json::json!({ "code": rp_shared::error::ErrorCode::VerificationFailed.as_str(), "reason": reason }),
            );
        if !sub.is_empty() {
            event = event.cognito_sub(sub);
        }
        crate::audit::record(&cx.db, &cx.site.id, now, event).await?;
    }
    Ok(SignInError::ChallengeNotAnswered(reason))
}

/// Consumes the ceremony (a stored one, or a sealed or concealed one by spending its id)
/// and loads the credential that claims to answer it, in one statement either way.
async fn take(
    cx: &Context,
    ceremony_id: &CeremonyRef,
    credential_id: &[u8],
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(Taken, Option<(StoredCredential, User)>), SignInError> {
    match ceremony_id {
        CeremonyRef::Stored(id) => {
            let found = ceremonies::take_with_credential(
                &cx.db,
                &cx.site.id,
                *id,
                &ANSWERABLE,
                credential_id,
            )
            .await?;
            let (taken, credential) = match found {
                Some((taken, credential)) => (Some(taken), credential),
                None => (None, None),
            };
            Ok((ceremony::fresh(taken, now)?, credential))
        }
        CeremonyRef::Sealed(sealed) => {
            let open = cx
                .site
                .sealer
                .unseal(sealed)
                .ok_or(CeremonyError::NotFound)?;
            let state = CeremonyState::SignIn { state: open.state };
            spend(
                cx,
                open.id,
                open.expires_at,
                (state, None),
                credential_id,
                now,
            )
            .await
        }
        CeremonyRef::Concealed(sealed) => {
            let open = cx
                .site
                .concealer
                .unseal(sealed)
                .ok_or(CeremonyError::NotFound)?;
            let ceremony =
                ConcealedChallenge::from_payload(&open.state).ok_or(CeremonyError::NotFound)?;
            let state = ceremony.into_state();
            spend(cx, open.id, open.expires_at, state, credential_id, now).await
        }
    }
}

/// Spends a sealed ceremony (unless expired) and loads the credential that claims to
/// answer it, in one statement.
async fn spend(
    cx: &Context,
    id: Uuid,
    expires_at: DateTime<Utc>,
    (state, owner): (CeremonyState, Option<Uuid>),
    credential_id: &[u8],
    now: DateTime<Utc>,
) -> Result<(Taken, Option<(StoredCredential, User)>), SignInError> {
    if expires_at <= now {
        return Err(CeremonyError::Expired.into());
    }
    let credential =
        ceremonies::spend_with_credential(&cx.db, &cx.site.id, id, expires_at, credential_id)
            .await?
            .ok_or(CeremonyError::NotFound)?;
    let taken = Taken {
        state,
        owner,
        expires_at,
    };
    Ok((taken, credential))
}

impl SignInError {
    /// Failures a ceremony of the Create trigger answers with one code.
    fn hides_who_answered(&self) -> bool {
        match self {
            Self::UnknownCredential | Self::CredentialRevoked => true,
            Self::Rejected(r) => !r.malformed,
            _ => false,
        }
    }
}

/// Checks that the credential may answer the ceremony and verifies the assertion
/// (auditing a signature that does not verify).
async fn answer(
    cx: &Context,
    answering: Answering,
    found: Option<(StoredCredential, User)>,
    response: &PublicKeyCredential,
    auth_state: webauthn_rs_core::proto::AuthenticationState,
    client: &ClientContext,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(StoredCredential, User, AuthenticationResult), SignInError> {
    let checked = match found {
        None => Err(SignInError::UnknownCredential),
        Some((stored, user)) => may_answer(
            answering,
            stored.user_id,
            stored.user_handle.as_deref(),
            stored.revoked.is_some(),
            response.get_user_unique_id(),
        )
        .map(|()| (stored, user)),
    };
    let (stored, user) = match checked {
        Ok(found) => found,
        Err(e) => {
            if let Answering::Challenge { .. } = answering {
                // As long as checking a real passkey's signature would take.
                cx.site.rp.verify_against_decoy(response, auth_state);
            }
            return Err(e);
        }
    };
    match cx
        .site
        .rp
        .finish_authentication(response, auth_state, stored.current_passkey())
    {
        Ok(result) => {
            still_allowed(cx, &stored, &user, client, now).await?;
            Ok((stored, user, result))
        }
        Err(e) => {
            let rejection = ceremony::rejection(CeremonyKind::SignIn, &e);
            crate::audit::record(
                &cx.db,
                &cx.site.id,
                now,
                failed_event(&stored, &user.cognito_sub, client, rejection.code.as_str()),
            )
            .await?;
            Err(SignInError::Rejected(rejection))
        }
    }
}

/// With a policy enforced at sign-in: refuses a passkey its user's policy (chosen by
/// the groups of the user's latest access token) no longer allows, audited. Checked once
/// the signature verified, so only the passkey's holder learns it; costs a lookup of the
/// user's groups only where some policy is enforced at sign-in.
async fn still_allowed(
    cx: &Context,
    stored: &StoredCredential,
    user: &User,
    client: &ClientContext,
    now: DateTime<Utc>,
) -> Result<(), SignInError> {
    let policies = &cx.site.settings.policies;
    if !policies.enforced_on_sign_in() {
        return Ok(());
    }
    let groups = current_groups(cx, user).await?;
    let Some((policy, rule)) = policies.violation(&groups, stored.policy_view(), true) else {
        return Ok(());
    };
    crate::audit::record(
        &cx.db,
        &cx.site.id,
        now,
        Event::new(Actor::Anonymous, Action::PolicyViolation)
            .user(user.id, &user.cognito_sub)
            .credential(&stored.credential_id)
            .client(client)
            .details(serde_json::json!({
                "policy": policy.name,
                "rule": rule,
                "aaguid": stored.aaguid,
                "at": "sign_in",
            })),
    )
    .await?;
    Err(SignInError::PolicyViolation {
        policy: policy.name.clone(),
        rule,
    })
}

/// The user's groups: from Cognito when rp-server administers the pool (recorded, at
/// most a second's wait), else — or when Cognito does not answer — those of the user's
/// latest access token rp-server saw.
async fn current_groups(cx: &Context, user: &User) -> sqlx::Result<Vec<String>> {
    const ASK_COGNITO_FOR: std::time::Duration = std::time::Duration::from_secs(1);
    if let Some(cognito) = &cx.site.cognito {
        match tokio::time::timeout(ASK_COGNITO_FOR, cognito.groups_of(&user.username)).await {
            Ok(Ok(groups)) => {
                crate::store::users::set_groups(&cx.db, user.id, &groups).await?;
                return Ok(groups);
            }
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "reading the user's groups from Cognito failed; using the last ones seen")
            }
            Err(_) => tracing::warn!(
                "Cognito did not name the user's groups within a second; using the last ones seen"
            ),
        }
    }
    crate::store::users::groups_of(&cx.db, user.id).await
}

fn failed_event<'a>(
    stored: &'a StoredCredential,
    sub: &'a str,
    client: &'a ClientContext,
    code: &str,
) -> Event<'a> {
    Event::new(Actor::Anonymous, Action::AuthenticationFailed)
        .user(stored.user_id, sub)
        .credential(&stored.credential_id)
        .client(client)
        .details(serde_json::json!({ "code": code }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn which_credential_may_answer_which_ceremony() {
        let alice = Uuid::new_v4();
        let bob = Uuid::new_v4();
        let handle = |u: &Uuid| Some(u.as_bytes().to_vec());
        type Want = Result<(), &'static str>;
        type Case = (Answering, Uuid, bool, Option<Vec<u8>>, Want);
        let cases: Vec<Case> = vec![
            // Usernameless: the user handle must name the passkey's owner.
            (
                Answering::Usernameless,
                alice,
                false,
                handle(&alice),
                Ok(()),
            ),
            (
                Answering::Usernameless,
                alice,
                false,
                handle(&bob),
                Err("user_handle"),
            ),
            (
                Answering::Usernameless,
                alice,
                false,
                None,
                Err("user_handle"),
            ),
            // A trigger's challenge: only its user's passkeys.
            (
                Answering::Challenge { owner: Some(alice) },
                alice,
                false,
                None,
                Ok(()),
            ),
            (
                Answering::Challenge { owner: Some(alice) },
                bob,
                false,
                handle(&bob),
                Err("unknown_credential"),
            ),
            // Issued for an unknown user or one without passkeys: nothing answers it.
            (
                Answering::Challenge { owner: None },
                alice,
                false,
                handle(&alice),
                Err("unknown_credential"),
            ),
            // Revoked: never, whatever the ceremony.
            (
                Answering::Usernameless,
                alice,
                true,
                handle(&alice),
                Err("revoked_credential"),
            ),
            (
                Answering::Challenge { owner: Some(alice) },
                alice,
                true,
                None,
                Err("revoked_credential"),
            ),
        ];
        for (answering, owner, revoked, user_handle, want) in cases {
            let got = may_answer(answering, owner, None, revoked, user_handle.as_deref())
                .map_err(|e| e.reason());
            assert_eq!(got, want, "{answering:?}, revoked {revoked}");
        }
        // An imported passkey answers a usernameless sign-in with the handle it was made
        // with, and no longer with ours.
        let foreign = b"old-rp-handle".as_slice();
        assert_eq!(
            may_answer(
                Answering::Usernameless,
                alice,
                Some(foreign),
                false,
                Some(foreign)
            )
            .map_err(|e| e.reason()),
            Ok(())
        );
        assert_eq!(
            may_answer(
                Answering::Usernameless,
                alice,
                Some(foreign),
                false,
                handle(&alice).as_deref()
            )
            .map_err(|e| e.reason()),
            Err("user_handle")
        );
    }
}
