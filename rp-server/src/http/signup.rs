//! Passkey-first sign-up: a new user creates a passkey, rp-server creates the Cognito
//! user (AdminCreateUser, message suppressed, then a long random permanent password
//! nobody knows) and answers a nonce so the browser is signed in at once. On when
//! `RP_SIGNUP_ENABLED=true`.

use axum::extract::State;
use serde::Deserialize;
use utoipa::ToSchema;
use uuid::Uuid;
use webauthn_rs_core::proto::{RegisterPublicKeyCredential, RegistrationState};

use super::authentication::{SignInNonce, issue_nonce};
use super::ceremony::{self, Started};
use super::error::ApiError;
use super::extract::{ClientContext, Json};
use super::registration::{CeremonyOptions, stored_credential};
use crate::AppState;
use crate::audit::{self, Action, Actor, Event};
use crate::cognito::{CognitoAdmin, CognitoError};
use crate::store::{self, CeremonyKind, Inserted};
use rp_shared::error::ErrorBody;

const KIND: CeremonyKind = CeremonyKind::Signup;

#[derive(Debug, Deserialize, ToSchema)]
pub struct SignupOptionsRequest {
    /// The new user's email; it becomes their Cognito sign-in name.
    pub email: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SignupVerifyRequest {
    pub ceremony_id: Uuid,
    /// The result of `PublicKeyCredential.toJSON()` from `navigator.credentials.create()`.
    #[schema(value_type = Object)]
    pub credential: RegisterPublicKeyCredential,
}

fn enabled(state: &AppState) -> Result<&CognitoAdmin, ApiError> {
    state.cognito.as_deref().ok_or_else(|| {
        ApiError::not_found(
            "SIGNUP_DISABLED",
            "Passkey sign-up is not enabled on this server.",
        )
    })
}

/// Trimmed, lower-cased, and plausibly an address: `local@domain.tld`, at most 254
/// characters, no spaces, quotes or control characters.
pub fn clean_email(raw: &str) -> Result<String, ApiError> {
    let email = raw.trim().to_lowercase();
    let invalid = || ApiError::bad_request("INVALID_EMAIL", "This is not a valid email address.");
    if email.len() > 254
        || email
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '"' || c == '\\')
    {
        return Err(invalid());
    }
    let (local, domain) = email.split_once('@').ok_or_else(invalid)?;
    let labels: Vec<&str> = domain.split('.').collect();
    if local.is_empty()
        || domain.contains('@')
        || labels.len() < 2
        || labels.iter().any(|l| l.is_empty())
    {
        return Err(invalid());
    }
    Ok(email)
}

fn email_taken() -> ApiError {
    ApiError::conflict(
        "EMAIL_TAKEN",
        "An account with this email already exists; sign in instead.",
    )
}

fn cognito_failed(e: CognitoError) -> ApiError {
    match e {
        CognitoError::EmailTaken => email_taken(),
        other => ApiError::Unavailable(anyhow::Error::new(other)),
    }
}

/// Starts a sign-up: registration options for a new passkey bound to a fresh user handle.
#[utoipa::path(post, path = "/v1/signup/options", tag = "signup",
    request_body = SignupOptionsRequest,
    responses((status = 200, body = CeremonyOptions), (status = 400, body = ErrorBody),
        (status = 404, body = ErrorBody, description = "sign-up is not enabled"),
        (status = 409, body = ErrorBody), (status = 429, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn options(
    State(state): State<AppState>,
    Json(body): Json<SignupOptionsRequest>,
) -> Result<Json<CeremonyOptions>, ApiError> {
    let cognito = enabled(&state)?;
    let email = clean_email(&body.email)?;
    if cognito.email_taken(&email).await.map_err(cognito_failed)? {
        return Err(email_taken());
    }
    let handle = Uuid::new_v4();
    let (options, reg_state) = state
        .rp
        .start_registration(handle, &email, Vec::new())
        .map_err(|e| ApiError::internal(anyhow::anyhow!("starting sign-up: {e:?}")))?;
    let ceremony_id = ceremony::store(
        &state,
        &state.db,
        Started {
            kind: KIND,
            user_id: None,
            challenge_id: None,
            state: serde_json::to_value(&reg_state).map_err(ApiError::internal)?,
            nickname: None,
            signup: Some((&email, handle)),
        },
    )
    .await?;
    Ok(Json(CeremonyOptions {
        ceremony_id,
        public_key: serde_json::to_value(&options.public_key).map_err(ApiError::internal)?,
    }))
}

/// Finishes a sign-up: verifies the passkey, creates the Cognito user, stores the
/// passkey, and answers a nonce for the first sign-in. Nothing is kept half-made: a
/// failure after the Cognito user was created deletes it again.
#[utoipa::path(post, path = "/v1/signup/verify", tag = "signup",
    request_body = SignupVerifyRequest,
    responses((status = 200, body = SignInNonce), (status = 400, body = ErrorBody),
        (status = 404, body = ErrorBody, description = "sign-up is not enabled"),
        (status = 409, body = ErrorBody), (status = 410, body = ErrorBody), (status = 422, body = ErrorBody),
        (status = 429, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn verify(
    State(state): State<AppState>,
    client: ClientContext,
    Json(body): Json<SignupVerifyRequest>,
) -> Result<Json<SignInNonce>, ApiError> {
    let cognito = enabled(&state)?;
    let taken = ceremony::consume(&state, body.ceremony_id, KIND, None).await?;
    let (Some(email), Some(handle)) = (taken.signup_email.clone(), taken.user_handle) else {
        return Err(ApiError::internal(anyhow::anyhow!(
            "sign-up ceremony without email or handle"
        )));
    };
    let reg_state: RegistrationState =
        serde_json::from_value(taken.state).map_err(ceremony::corrupt_state)?;
    let passkey = state
        .rp
        .finish_registration(&body.credential, &reg_state)
        .map_err(|e| ceremony::rejected(KIND, &e))?;
    let now = state.clock.now();
    let stored = stored_credential(&passkey, &body.credential, handle, None, now)?;
    // Refuse a credential id we already know before creating anything in Cognito.
    if store::credential(&state.db, &stored.credential_id)
        .await?
        .is_some()
    {
        crate::metrics::ceremony_failed(KIND.as_str(), "duplicate");
        return Err(ApiError::conflict(
            "CREDENTIAL_EXISTS",
            "This passkey is already registered.",
        ));
    }
    if cognito.email_taken(&email).await.map_err(cognito_failed)? {
        crate::metrics::ceremony_failed(KIND.as_str(), "email_taken");
        return Err(email_taken());
    }
    let created = cognito.create_user(&email).await.map_err(|e| {
        crate::metrics::ceremony_failed(KIND.as_str(), "cognito");
        cognito_failed(e)
    })?;

    let stored_locally = async {
        let mut tx = state.db.begin().await?;
        let user =
            store::insert_user(&mut tx, handle, &created.sub, &created.username, now).await?;
        if let Inserted::Duplicate = store::insert_credential(&mut tx, &stored).await? {
            return Err(ApiError::conflict(
                "CREDENTIAL_EXISTS",
                "This passkey is already registered.",
            ));
        }
        let (nonce, expires_at) =
            issue_nonce(&state, &mut tx, &user, &stored.credential_id, None, now).await?;
        audit::record(
            &mut *tx,
            now,
            Event::new(Actor::User(user.cognito_sub.clone()), Action::UserSignedUp)
                .user(user.id, &user.cognito_sub)
                .credential(&stored.credential_id)
                .client(&client)
                .details(serde_json::json!({ "username": user.username, "aaguid": stored.aaguid })),
        )
        .await?;
        audit::record(
            &mut *tx,
            now,
            Event::new(
                Actor::User(user.cognito_sub.clone()),
                Action::CredentialRegistered,
            )
            .user(user.id, &user.cognito_sub)
            .credential(&stored.credential_id)
            .client(&client),
        )
        .await?;
        tx.commit().await?;
        Ok::<_, ApiError>((user, nonce, expires_at))
    }
    .await;
    match stored_locally {
        Ok((user, nonce, expires_at)) => {
            crate::metrics::ceremony_finished(KIND.as_str());
            Ok(Json(SignInNonce {
                nonce: nonce.expose().to_owned(),
                username: user.username,
                expires_at,
            }))
        }
        Err(e) => {
            // Undo the Cognito side so a retry can start clean.
            cognito.delete_user(&created.username).await;
            crate::metrics::ceremony_failed(KIND.as_str(), "storage");
            Err(e)
        }
    }
}
