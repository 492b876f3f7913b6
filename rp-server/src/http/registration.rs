//! Adding a passkey to a signed-in user's account.

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;
use webauthn_rs_core::proto::{RegisterPublicKeyCredential, RegistrationState};

use super::ceremony::{self, Started};
use super::credentials::{CredentialSummary, clean_nickname};
use super::error::ApiError;
use super::extract::{ClientContext, Json};
use super::identity::Registrant;
use crate::AppState;
use crate::audit::{self, Action, Actor, Event};
use crate::passkeys::aaguid_of;
use crate::store::{self, CeremonyKind, Inserted, StoredCredential};
use rp_shared::error::ErrorBody;

const KIND: CeremonyKind = CeremonyKind::Registration;

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RegistrationOptionsRequest {
    /// A name for the new passkey, e.g. "Work laptop".
    #[serde(default)]
    pub nickname: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CeremonyOptions {
    pub ceremony_id: Uuid,
    /// `PublicKeyCredentialCreationOptionsJSON` or `PublicKeyCredentialRequestOptionsJSON`.
    #[schema(value_type = Object)]
    pub public_key: serde_json::Value,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RegistrationVerifyRequest {
    pub ceremony_id: Uuid,
    /// The result of `PublicKeyCredential.toJSON()` from `navigator.credentials.create()`.
    #[schema(value_type = Object)]
    pub credential: RegisterPublicKeyCredential,
    /// Overrides the nickname given when the ceremony started.
    #[serde(default)]
    pub nickname: Option<String>,
}

/// Starts registering a passkey for the signed-in user.
#[utoipa::path(post, path = "/v1/registration/options", tag = "registration", security(("cognito" = []), ("enrolment" = [])),
    request_body = RegistrationOptionsRequest,
    responses((status = 200, body = CeremonyOptions), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
pub async fn options(
    State(state): State<AppState>,
    who: Registrant,
    Json(body): Json<RegistrationOptionsRequest>,
) -> Result<Json<CeremonyOptions>, ApiError> {
    let nickname = clean_nickname(body.nickname.as_deref())?;
    let mut tx = state.db.begin().await?;
    let user = match who {
        Registrant::Cognito(who) => {
            store::upsert_user(&mut tx, &who.sub, &who.username, state.clock.now()).await?
        }
        Registrant::Enrolment { user, .. } => user,
    };
    let existing = store::credentials_of(&mut *tx, user.id).await?;
    let (options, reg_state) = state
        .rp
        .start_registration(
            user.id,
            &user.username,
            existing.into_iter().map(|c| c.credential_id).collect(),
        )
        .map_err(|e| ApiError::internal(anyhow::anyhow!("starting registration: {e:?}")))?;
    let ceremony_id = ceremony::store(
        &state,
        &mut *tx,
        Started {
            kind: KIND,
            user_id: Some(user.id),
            challenge_id: None,
            state: serde_json::to_value(&reg_state).map_err(ApiError::internal)?,
            nickname: nickname.as_deref(),
            signup: None,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(Json(CeremonyOptions {
        ceremony_id,
        public_key: serde_json::to_value(&options.public_key).map_err(ApiError::internal)?,
    }))
}

/// Finishes registering: verifies the authenticator's response and stores the passkey.
#[utoipa::path(post, path = "/v1/registration/verify", tag = "registration", security(("cognito" = []), ("enrolment" = [])),
    request_body = RegistrationVerifyRequest,
    responses((status = 201, body = CredentialSummary), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 409, body = ErrorBody), (status = 410, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub async fn verify(
    State(state): State<AppState>,
    who: Registrant,
    client: ClientContext,
    Json(body): Json<RegistrationVerifyRequest>,
) -> Result<(StatusCode, Json<CredentialSummary>), ApiError> {
    let override_nickname = clean_nickname(body.nickname.as_deref())?;
    let (sub, enrolment) = match &who {
        Registrant::Cognito(u) => (u.sub.clone(), None),
        Registrant::Enrolment { token_id, user } => (user.cognito_sub.clone(), Some(*token_id)),
    };
    // No user row means no registration was ever started by this user.
    let user = store::user_by_sub(&state.db, &sub).await?.ok_or_else(|| {
        ApiError::gone(
            "CEREMONY_NOT_FOUND",
            "This ceremony does not exist or was already used; start again.",
        )
    })?;
    let taken = ceremony::consume(&state, body.ceremony_id, KIND, Some(user.id)).await?;
    let reg_state: RegistrationState =
        serde_json::from_value(taken.state).map_err(ceremony::corrupt_state)?;

    let passkey = state
        .rp
        .finish_registration(&body.credential, &reg_state)
        .map_err(|e| ceremony::rejected(KIND, &e))?;

    let now = state.clock.now();
    let stored = stored_credential(
        &passkey,
        &body.credential,
        user.id,
        override_nickname.or(taken.nickname),
        now,
    )?;

    let mut tx = state.db.begin().await?;
    // An enrolment token is spent by the registration it allows, atomically with it.
    if let Some(token_id) = enrolment
        && !store::use_enrolment_token(&mut *tx, token_id, now).await?
    {
        return Err(ApiError::Unauthorized(
            "The enrolment token is not valid (unknown, used, revoked or expired).",
        ));
    }
    if let Inserted::Duplicate = store::insert_credential(&mut tx, &stored).await? {
        crate::metrics::ceremony_failed(KIND.as_str(), "duplicate");
        return Err(ApiError::conflict(
            "CREDENTIAL_EXISTS",
            "This passkey is already registered.",
        ));
    }
    let actor = match enrolment {
        Some(id) => Actor::Enrolment(id),
        None => Actor::User(sub.clone()),
    };
    if let Some(token_id) = enrolment {
        audit::record(
            &mut *tx,
            now,
            Event::new(actor.clone(), Action::EnrolmentTokenUsed)
                .user(user.id, &user.cognito_sub)
                .credential(&stored.credential_id)
                .client(&client)
                .details(serde_json::json!({ "tokenId": token_id })),
        )
        .await?;
    }
    audit::record(
        &mut *tx,
        now,
        Event::new(actor, Action::CredentialRegistered)
            .user(user.id, &user.cognito_sub)
            .credential(&stored.credential_id)
            .client(&client)
            .details(serde_json::json!({ "aaguid": stored.aaguid, "backupEligible": stored.backup_eligible })),
    )
    .await?;
    tx.commit().await?;
    crate::metrics::ceremony_finished(KIND.as_str());
    Ok((StatusCode::CREATED, Json(CredentialSummary::from(&stored))))
}

/// The row to store for a freshly verified passkey.
pub fn stored_credential(
    passkey: &webauthn_rs_core::proto::Credential,
    response: &RegisterPublicKeyCredential,
    user_id: Uuid,
    nickname: Option<String>,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<StoredCredential, ApiError> {
    let transports = response
        .response
        .transports
        .as_deref()
        .unwrap_or_default()
        .iter()
        .filter_map(|t| serde_json::to_value(t).ok()?.as_str().map(str::to_owned))
        .filter(|t| t != "unknown")
        .collect();
    Ok(StoredCredential {
        credential_id: passkey.cred_id.clone(),
        user_id,
        passkey: serde_json::to_value(passkey).map_err(ApiError::internal)?,
        nickname,
        aaguid: aaguid_of(&response.response.attestation_object),
        sign_count: i64::from(passkey.counter),
        backup_eligible: passkey.backup_eligible,
        backup_state: passkey.backup_state,
        transports,
        user_verified: Some(passkey.user_verified),
        created_at: now,
        last_used_at: None,
        revoked: None,
    })
}
