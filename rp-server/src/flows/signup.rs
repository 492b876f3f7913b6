//! Passkey-first sign-up: a new user creates a passkey, rp-server creates the Cognito
//! user (AdminCreateUser, message suppressed, then a long random permanent password
//! nobody knows) and answers a nonce so the browser is signed in at once. Nothing is
//! kept half-made: a failure after the Cognito user was created deletes it again.

use rp_shared::nonce::Nonce;
use uuid::Uuid;
use webauthn_rs_core::proto::RegisterPublicKeyCredential;

use super::Context;
use super::ceremony::{self, CeremonyError, CeremonyOptions, HasReason, Rejection, SignInNonce};
use super::registration::{Finishing, RegistrationError, verify_new_passkey};
use crate::audit::{self, Action, Actor, ClientContext, Event};
use crate::ceremony::{CeremonyKind, CeremonyState};
use crate::cognito::{CognitoAdmin, CognitoError, CreatedUser};
use crate::store::nonces::NewNonce;
use crate::store::{self, Inserted};

#[derive(Debug, thiserror::Error)]
pub enum SignUpError {
    #[error("Passkey sign-up is not enabled on this server.")]
    Disabled,
    #[error("This is not a valid email address.")]
    InvalidEmail,
    #[error("An account with this email already exists; sign in instead.")]
    EmailTaken,
    #[error(
        "Verify the email first: ask /v1/email/codes for a sign-up code and give the signupToken it earns."
    )]
    EmailNotVerified,
    #[error(transparent)]
    Ceremony(#[from] CeremonyError),
    #[error("{0}")]
    Rejected(Rejection),
    #[error("This passkey is already registered.")]
    Duplicate,
    #[error(transparent)]
    Cognito(CognitoError),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl HasReason for SignUpError {
    fn reason(&self) -> &'static str {
        match self {
            Self::Disabled | Self::InvalidEmail => "invalid_request",
            Self::EmailTaken => "email_taken",
            Self::EmailNotVerified => "email_not_verified",
            Self::Ceremony(e) => e.reason(),
            Self::Rejected(r) => r.reason,
            Self::Duplicate => "duplicate",
            Self::Cognito(_) => "cognito",
            Self::Db(_) => "storage",
            Self::Internal(_) => "internal",
        }
    }
}

impl From<CognitoError> for SignUpError {
    fn from(e: CognitoError) -> Self {
        match e {
            CognitoError::EmailTaken => Self::EmailTaken,
            other => Self::Cognito(other),
        }
    }
}

impl From<RegistrationError> for SignUpError {
    fn from(e: RegistrationError) -> Self {
        match e {
            RegistrationError::Ceremony(e) => Self::Ceremony(e),
            RegistrationError::Rejected(r) => Self::Rejected(r),
            RegistrationError::Duplicate => Self::Duplicate,
            RegistrationError::Db(e) => Self::Db(e),
            other => Self::Internal(anyhow::Error::new(other)),
        }
    }
}

fn enabled(cx: &Context) -> Result<&CognitoAdmin, SignUpError> {
    if cx.site.settings.signup_user_pool_id.is_none() {
        return Err(SignUpError::Disabled);
    }
    cx.site.cognito.as_deref().ok_or(SignUpError::Disabled)
}

/// Trimmed, lower-cased, and plausibly an address: `local@domain.tld`, at most 254
/// characters, no spaces, control characters, double quotes, backslashes, angle brackets,
/// commas or semicolons (what would let an address smuggle a display name or a second
/// recipient into a mail header). An apostrophe stays allowed: real addresses have them.
pub fn clean_email(raw: &str) -> Result<String, SignUpError> {
    let email = raw.trim().to_lowercase();
    if email.len() > 254
        || email.chars().any(|c| {
            c.is_whitespace() || c.is_control() || matches!(c, '"' | '\\' | '<' | '>' | ',' | ';')
        })
    {
        return Err(SignUpError::InvalidEmail);
    }
    let (local, domain) = email.split_once('@').ok_or(SignUpError::InvalidEmail)?;
    let labels: Vec<&str> = domain.split('.').collect();
    if local.is_empty()
        || domain.contains('@')
        || labels.len() < 2
        || labels.iter().any(|l| l.is_empty())
    {
        return Err(SignUpError::InvalidEmail);
    }
    Ok(email)
}

/// Starts a sign-up: registration options for a new passkey bound to a fresh user handle.
/// With `RP_SIGNUP_VERIFY_EMAIL`, `signup_token` must be a live token earned by this
/// address's sign-up code.
#[tracing::instrument(skip_all)]
pub async fn options(
    cx: &Context,
    email: &str,
    signup_token: Option<&str>,
) -> Result<CeremonyOptions, SignUpError> {
    let cognito = enabled(cx)?;
    let email = clean_email(email)?;
    let verified_by = if cx.site.settings.signup_verify_email {
        let hash = signup_token
            .and_then(rp_shared::token::SignupToken::parse_and_hash)
            .ok_or(SignUpError::EmailNotVerified)?;
        if !store::email_codes::signup_token_valid(
            &cx.db,
            &cx.site.id,
            &hash,
            &email,
            cx.clock.now(),
        )
        .await?
        {
            return Err(SignUpError::EmailNotVerified);
        }
        Some(hash.to_vec())
    } else {
        None
    };
    if cognito.email_taken(&email).await? {
        return Err(SignUpError::EmailTaken);
    }
    let user_handle = Uuid::new_v4();
    let (options, reg_state) = cx
        .site
        .rp
        .start_registration(
            user_handle,
            &email,
            Vec::new(),
            // A new account is in no group: the default policy.
            cx.site
                .settings
                .policies
                .for_groups(&[])
                .is_some_and(|p| p.attestation),
        )
        .map_err(|e| anyhow::anyhow!("starting sign-up: {e:?}"))?;
    let ceremony_id = ceremony::start(
        cx,
        &cx.db,
        None,
        &CeremonyState::SignUp {
            email,
            user_handle,
            state: reg_state,
            verified_by,
        },
    )
    .await?;
    Ok(CeremonyOptions {
        ceremony_id: ceremony_id.to_string(),
        public_key: serde_json::to_value(&options.public_key).map_err(anyhow::Error::from)?,
    })
}

/// Finishes a sign-up: verifies the passkey, creates the Cognito user, stores the
/// passkey, and answers a nonce for the first sign-in.
#[tracing::instrument(skip_all)]
pub async fn verify(
    cx: &Context,
    client: &ClientContext,
    ceremony_id: Uuid,
    response: &RegisterPublicKeyCredential,
) -> Result<SignInNonce, SignUpError> {
    let result = finish(cx, client, ceremony_id, response).await;
    ceremony::count(cx, CeremonyKind::SignUp, &result);
    result
}

async fn finish(
    cx: &Context,
    client: &ClientContext,
    ceremony_id: Uuid,
    response: &RegisterPublicKeyCredential,
) -> Result<SignInNonce, SignUpError> {
    let cognito = enabled(cx)?;
    let taken = ceremony::take(cx, ceremony_id, &[CeremonyKind::SignUp], None).await??;
    let CeremonyState::SignUp {
        email,
        user_handle,
        state: reg_state,
        verified_by,
    } = taken.state
    else {
        return Err(
            anyhow::anyhow!("a {:?} ceremony taken as a sign-up", taken.state.kind()).into(),
        );
    };
    let now = cx.clock.now();
    // A new account is in no group yet: the default policy.
    let metadata = super::registration::required_attestation(cx, &[]);
    let finishing = Finishing {
        kind: CeremonyKind::SignUp,
        state: &reg_state,
        conditional: false,
        attestation: metadata
            .as_deref()
            .map(crate::mds::Metadata::attestation_cas),
    };
    let verified = verify_new_passkey(cx, &finishing, response, user_handle, None, now);
    let stored = super::registration::attested(cx, &[], verified, None, client).await?;
    super::registration::enforce_policy(cx, &[], &stored, None, client).await?;
    may_create(cx, cognito, &stored, &email, verified_by.as_ref()).await?;
    let created =
        create_in_cognito(cx, cognito, user_handle, &email, verified_by.is_some()).await?;
    let nonce = Nonce::generate();
    let expires_at = now + ceremony::nonce_ttl(cx);
    match store_signed_up(cx, client, &created, &stored, &nonce, expires_at).await {
        Ok(user) => Ok(SignInNonce {
            nonce: nonce.expose().to_owned(),
            username: user.username,
            expires_at,
        }),
        Err(e) => {
            // Undo the Cognito side so a retry can start clean; if that fails too, the
            // pending row stays for the sweep.
            if cognito.delete_user(&created.username).await {
                store::signups::remove(&cx.db, user_handle).await.ok();
            }
            Err(e)
        }
    }
}

/// What must hold before anything is created in Cognito: a credential id we do not know,
/// a free address, and the proof of the address (spent here: a sign-up that fails after
/// this asks for a new code).
async fn may_create(
    cx: &Context,
    cognito: &CognitoAdmin,
    stored: &store::StoredCredential,
    email: &str,
    verified_by: Option<&Vec<u8>>,
) -> Result<(), SignUpError> {
    if store::credentials::credential(&cx.db, &cx.site.id, &stored.credential_id)
        .await?
        .is_some()
    {
        return Err(SignUpError::Duplicate);
    }
    if cognito.email_taken(email).await? {
        return Err(SignUpError::EmailTaken);
    }
    if let Some(hash) = verified_by
        && !store::email_codes::spend_signup_token(&cx.db, &cx.site.id, hash, email, cx.clock.now())
            .await?
    {
        return Err(SignUpError::EmailNotVerified);
    }
    Ok(())
}

/// Creates the Cognito user, recorded as pending first: a crash from here to the commit
/// of [`store_signed_up`] leaves a row the sweep finds ([`sweep`]), not a passkey-less
/// account holding the email.
async fn create_in_cognito(
    cx: &Context,
    cognito: &CognitoAdmin,
    user_handle: Uuid,
    email: &str,
    verified: bool,
) -> Result<CreatedUser, SignUpError> {
    let now = cx.clock.now();
    store::signups::insert_pending(
        &cx.db,
        &cx.site.id,
        user_handle,
        email,
        now,
        now + ceremony::ttl(cx),
    )
    .await?;
    let created = match cognito.create_user(email, verified).await {
        Ok(created) => created,
        Err(e) => {
            if matches!(e, CognitoError::EmailTaken) {
                // Nothing of ours exists: the address belongs to someone else.
                store::signups::remove(&cx.db, user_handle).await?;
            }
            return Err(e.into());
        }
    };
    if let Err(e) = store::signups::set_username(&cx.db, user_handle, &created.username).await {
        if cognito.delete_user(&created.username).await {
            store::signups::remove(&cx.db, user_handle).await.ok();
        }
        return Err(e.into());
    }
    Ok(created)
}

/// The new user, their passkey and a sign-in nonce, and the audit events, in one
/// transaction that also clears the pending record.
async fn store_signed_up(
    cx: &Context,
    client: &ClientContext,
    created: &CreatedUser,
    stored: &store::StoredCredential,
    nonce: &Nonce,
    expires_at: chrono::DateTime<chrono::Utc>,
) -> Result<store::User, SignUpError> {
    let now = cx.clock.now();
    // A new user's id is the user handle the passkey was made for.
    let user_handle = stored.user_id;
    let mut tx = cx.db.begin().await?;
    store::signups::remove(&mut *tx, user_handle).await?;
    let user = store::users::insert_user(
        &mut tx,
        &cx.site.id,
        user_handle,
        &created.sub,
        &created.username,
        now,
    )
    .await?;
    if let Inserted::Duplicate =
        store::credentials::insert_credential(&mut tx, &cx.site.id, stored).await?
    {
        return Err(SignUpError::Duplicate);
    }
    store::nonces::insert_nonce(
        &mut *tx,
        &cx.site.id,
        &NewNonce {
            hash: &nonce.hash(),
            user_id: user.id,
            cognito_sub: &user.cognito_sub,
            credential_id: Some(&stored.credential_id),
            factor: crate::model::Factor::Passkey,
            bound_challenge_id: None,
            created_at: now,
            expires_at,
        },
    )
    .await?;
    let actor = Actor::User(user.cognito_sub.clone());
    for (action, details) in [
        (
            Action::UserSignedUp,
            Some(serde_json::json!({ "username": user.username, "aaguid": stored.aaguid })),
        ),
        (Action::CredentialRegistered, None),
    ] {
        let mut event = Event::new(actor.clone(), action)
            .user(user.id, &user.cognito_sub)
            .credential(&stored.credential_id)
            .client(client);
        if let Some(details) = details {
            event = event.details(details);
        }
        audit::record(&mut *tx, &cx.site.id, now, event).await?;
    }
    tx.commit().await?;
    Ok(user)
}

/// Undoes sign-ups that never finished (a crash between creating the Cognito user and
/// storing the passkey): deletes their Cognito user, so the address is free again, and
/// their pending row. A user rp-server knows (the sign-up did finish) is never touched;
/// one found only by email must have been created during the sign-up. Returns how many
/// were undone.
#[tracing::instrument(skip_all)]
pub async fn sweep(cx: &Context) -> Result<usize, SignUpError> {
    let Some(cognito) = cx.site.cognito.as_deref() else {
        return Ok(0);
    };
    let now = cx.clock.now();
    let mut undone = 0;
    for pending in store::signups::abandoned(&cx.db, &cx.site.id, now, 50).await? {
        let usernames: Vec<String> = match &pending.cognito_username {
            Some(username) => {
                if store::users::user_by_username(&cx.db, &cx.site.id, username)
                    .await?
                    .is_some()
                {
                    Vec::new()
                } else {
                    vec![username.clone()]
                }
            }
            None => {
                let mut ours = Vec::new();
                for u in cognito.users_with_email(&pending.email, 10).await? {
                    let during = u.created.is_some_and(|c| {
                        c >= pending.created_at - chrono::Duration::minutes(1)
                            && c <= pending.expires_at
                    });
                    if during
                        && store::users::user_by_sub(&cx.db, &cx.site.id, &u.sub)
                            .await?
                            .is_none()
                    {
                        ours.push(u.username);
                    }
                }
                ours
            }
        };
        let mut all_gone = true;
        for username in &usernames {
            if let Err(e) = cognito.try_delete_user(username).await {
                tracing::warn!(error = %e, "the sign-up sweep could not delete a Cognito user; retrying later");
                all_gone = false;
            }
        }
        if !all_gone {
            continue;
        }
        let mut tx = cx.db.begin().await?;
        store::signups::remove(&mut *tx, pending.id).await?;
        for username in &usernames {
            audit::record(
                &mut *tx,
                &cx.site.id,
                now,
                Event::new(Actor::Service, Action::SignupAbandoned)
                    .details(serde_json::json!({ "username": username })),
            )
            .await?;
        }
        tx.commit().await?;
        undone += 1;
    }
    Ok(undone)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::clean_email;

    #[test]
    fn addresses_are_cleaned_and_header_tricks_refused() {
        assert_eq!(
            clean_email("  Ann.O'Brien@Example.COM ").unwrap(),
            "ann.o'brien@example.com"
        );
        for bad in [
            "ann@example",
            "@example.com",
            "ann@@example.com",
            "ann example@example.com",
            "\"ann\"@example.com",
            "Ann <ann@example.com>",
            "ann@example.com>",
            "ann@example.com,eve@evil.test",
            "ann@example.com;eve@evil.test",
            "ann\u{0}@example.com",
        ] {
            assert!(clean_email(bad).is_err(), "{bad} accepted");
        }
    }
}
