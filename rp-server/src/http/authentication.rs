//! Signing in with a passkey. A verified assertion yields a one-time nonce that the
//! browser hands to Cognito as the custom challenge answer.

use axum::extract::State;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;
use webauthn_rs_core::proto::{AuthenticationState, Credential, PublicKeyCredential};

use super::ceremony::{self, Started};
use super::error::ApiError;
use super::extract::{ClientContext, Json};
use super::registration::CeremonyOptions;
use crate::AppState;
use crate::audit::{self, Action, Actor, Event};
use crate::store::{self, CeremonyKind, NewNonce, StoredCredential, Use};
use rp_shared::error::ErrorBody;
use rp_shared::nonce::Nonce;

const KIND: CeremonyKind = CeremonyKind::Authentication;

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct AuthenticationOptionsRequest {}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuthenticationVerifyRequest {
    pub ceremony_id: Uuid,
    /// The result of `PublicKeyCredential.toJSON()` from `navigator.credentials.get()`.
    #[schema(value_type = Object)]
    pub credential: PublicKeyCredential,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SignInNonce {
    /// One-time answer to Cognito's custom challenge.
    pub nonce: String,
    /// The Cognito username to pass to `InitiateAuth`.
    pub username: String,
    pub expires_at: DateTime<Utc>,
}

/// Starts a usernameless sign-in: options for a discoverable credential (usable with
/// conditional mediation / autofill).
#[utoipa::path(post, path = "/v1/authentication/options", tag = "authentication",
    request_body = AuthenticationOptionsRequest,
    responses((status = 200, body = CeremonyOptions), (status = 400, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn options(
    State(state): State<AppState>,
    Json(_body): Json<AuthenticationOptionsRequest>,
) -> Result<Json<CeremonyOptions>, ApiError> {
    let (options, auth_state) = state
        .rp
        .start_authentication(Vec::new())
        .map_err(|e| ApiError::internal(anyhow::anyhow!("starting authentication: {e:?}")))?;
    let ceremony_id = ceremony::store(
        &state,
        &state.db,
        Started {
            kind: KIND,
            user_id: None,
            challenge_id: None,
            state: serde_json::to_value(&auth_state).map_err(ApiError::internal)?,
            nickname: None,
            signup: None,
        },
    )
    .await?;
    Ok(Json(CeremonyOptions {
        ceremony_id,
        public_key: serde_json::to_value(&options.public_key).map_err(ApiError::internal)?,
    }))
}

fn unknown_credential() -> ApiError {
    crate::metrics::ceremony_failed(KIND.as_str(), "unknown_credential");
    ApiError::verification("UNKNOWN_CREDENTIAL", "This passkey is not registered.")
}

/// Finishes a sign-in (usernameless, or one started by the Create Auth Challenge
/// trigger) and returns a one-time nonce for Cognito.
#[utoipa::path(post, path = "/v1/authentication/verify", tag = "authentication",
    request_body = AuthenticationVerifyRequest,
    responses((status = 200, body = SignInNonce), (status = 400, body = ErrorBody), (status = 410, body = ErrorBody),
        (status = 422, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn verify(
    State(state): State<AppState>,
    client: ClientContext,
    Json(body): Json<AuthenticationVerifyRequest>,
) -> Result<Json<SignInNonce>, ApiError> {
    let taken = ceremony::consume(&state, body.ceremony_id, KIND, None).await?;
    let auth_state: AuthenticationState =
        serde_json::from_value(taken.state).map_err(ceremony::corrupt_state)?;

    let response = &body.credential;
    let stored = store::credential(&state.db, &response.raw_id)
        .await?
        .ok_or_else(unknown_credential)?;
    if stored.revoked.is_some() {
        crate::metrics::ceremony_failed(KIND.as_str(), "revoked_credential");
        return Err(ApiError::verification(
            "CREDENTIAL_REVOKED",
            "This passkey has been removed from the account; sign in another way.",
        ));
    }
    match (taken.challenge_id, taken.user_id) {
        // Started by the trigger for a known user: only that user's passkeys answer it.
        (Some(_), Some(expected)) if expected == stored.user_id => {}
        // Started for a user with no passkeys, or an unknown one: nothing answers it.
        (Some(_), _) => return Err(unknown_credential()),
        // Usernameless: the authenticator must name the user the passkey belongs to.
        (None, _) => {
            if response.get_user_unique_id() != Some(stored.user_id.as_bytes().as_slice()) {
                crate::metrics::ceremony_failed(KIND.as_str(), "user_handle");
                return Err(ApiError::verification(
                    "USER_HANDLE_MISMATCH",
                    "The passkey's user handle does not match its account.",
                ));
            }
        }
    }

    let passkey = current_passkey(&stored)?;
    let outcome = state
        .rp
        .finish_authentication(response, auth_state, passkey);
    let user = store::user_by_id(&state.db, stored.user_id)
        .await?
        .ok_or_else(unknown_credential)?;
    let now = state.clock.now();
    let result = match outcome {
        Ok(r) => r,
        Err(e) => {
            let error = ceremony::rejected(KIND, &e);
            audit::record(
                &state.db,
                now,
                Event::new(Actor::Anonymous, Action::AuthenticationFailed)
                    .user(user.id, &user.cognito_sub)
                    .credential(&stored.credential_id)
                    .client(&client)
                    .details(serde_json::json!({ "code": error.code() })),
            )
            .await?;
            return Err(error);
        }
    };

    let mut tx = state.db.begin().await?;
    let advanced = store::record_use(
        &mut tx,
        &stored.credential_id,
        &Use {
            sign_count: i64::from(result.counter()),
            backup_state: result.backup_state(),
            user_verified: result.user_verified(),
            at: now,
        },
    )
    .await?;
    if !advanced {
        // A concurrent sign-in got there first with the same or a later counter.
        drop(tx);
        crate::metrics::ceremony_failed(KIND.as_str(), "counter_regression");
        return Err(ApiError::verification(
            "COUNTER_REGRESSION",
            "The authenticator's signature counter went backwards; the credential may be cloned.",
        ));
    }
    let (nonce, expires_at) = issue_nonce(
        &state,
        &mut tx,
        &user,
        &stored.credential_id,
        taken.challenge_id,
        now,
    )
    .await?;
    audit::record(
        &mut *tx,
        now,
        Event::new(
            Actor::User(user.cognito_sub.clone()),
            Action::AuthenticationSucceeded,
        )
        .user(user.id, &user.cognito_sub)
        .credential(&stored.credential_id)
        .client(&client)
        .details(serde_json::json!({
            "signCount": result.counter(),
            "userVerified": result.user_verified(),
            "usernameless": taken.challenge_id.is_none(),
        })),
    )
    .await?;
    tx.commit().await?;
    crate::metrics::ceremony_finished(KIND.as_str());
    Ok(Json(SignInNonce {
        nonce: nonce.expose().to_owned(),
        username: user.username,
        expires_at,
    }))
}

/// Creates a one-time nonce for `user` (stored as its hash) in the caller's transaction.
/// `bound_challenge_id` restricts it to one Cognito challenge (username-first sign-in).
pub async fn issue_nonce(
    state: &AppState,
    tx: &mut sqlx::PgConnection,
    user: &store::User,
    credential_id: &[u8],
    bound_challenge_id: Option<Uuid>,
    now: DateTime<Utc>,
) -> Result<(Nonce, DateTime<Utc>), ApiError> {
    let nonce = Nonce::generate();
    let ttl = Duration::from_std(state.config.nonce_ttl).unwrap_or(Duration::minutes(2));
    let expires_at = now + ttl;
    store::insert_nonce(
        tx,
        &NewNonce {
            hash: &nonce.hash(),
            user_id: user.id,
            cognito_sub: &user.cognito_sub,
            credential_id,
            bound_challenge_id,
            created_at: now,
            expires_at,
        },
    )
    .await?;
    Ok((nonce, expires_at))
}

/// The stored passkey with the authoritative counter and backup state from their columns.
pub fn current_passkey(stored: &StoredCredential) -> Result<Credential, ApiError> {
    let mut passkey: Credential = serde_json::from_value(stored.passkey.clone()).map_err(|e| {
        ApiError::internal(anyhow::anyhow!("stored passkey does not deserialise: {e}"))
    })?;
    passkey.counter = u32::try_from(stored.sign_count).unwrap_or(u32::MAX);
    passkey.backup_state = stored.backup_state;
    // Transports as the browser reported them at registration: hints for allowCredentials.
    let transports: Vec<_> = stored
        .transports
        .iter()
        .filter_map(|t| serde_json::from_value(serde_json::Value::String(t.clone())).ok())
        .collect();
    passkey.transports = (!transports.is_empty()).then_some(transports);
    Ok(passkey)
}
