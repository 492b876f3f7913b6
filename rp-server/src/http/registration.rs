//! Adding a passkey to a signed-in user's account, or with an admin's enrolment token
//! ([`crate::flows::registration`]).

use axum::http::StatusCode;
use rp_shared::error::ErrorCode;
use serde::Deserialize;
use utoipa::ToSchema;
use uuid::Uuid;
use webauthn_rs_core::proto::RegisterPublicKeyCredential;

use super::error::ApiError;
use super::extract::{ClientContext, Json};
use crate::flows::Context;
use crate::flows::ceremony::CeremonyOptions;
use crate::flows::ceremony::Hint;
use crate::flows::credentials::CredentialSummary;
use crate::flows::registration::{self, Registrant, RegistrationError};
use rp_shared::error::ErrorBody;

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RegistrationOptionsRequest {
    /// A name for the new passkey, e.g. "Work laptop".
    #[serde(default)]
    pub nickname: Option<String>,
    /// WebAuthn hints for this ceremony, replacing `RP_HINTS` (e.g. `["security-key"]`
    /// in an admin console).
    #[serde(default)]
    pub hints: Option<Vec<Hint>>,
    /// `conditional`: a silent upgrade (`navigator.credentials.create({mediation:
    /// "conditional"})`, e.g. right after a password sign-in). Only such a ceremony may
    /// finish without user presence and verification.
    #[serde(default)]
    pub mediation: Option<Mediation>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Mediation {
    Conditional,
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
    responses((status = 200, body = CeremonyOptions), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "`TOO_MANY_PASSKEYS`: the account is at `RP_MAX_PASSKEYS_PER_USER`")))]
pub async fn options(
    cx: Context,
    who: Registrant,
    Json(body): Json<RegistrationOptionsRequest>,
) -> Result<Json<CeremonyOptions>, ApiError> {
    Ok(Json(
        registration::options(
            &cx,
            who,
            body.nickname.as_deref(),
            body.mediation == Some(Mediation::Conditional),
        )
        .await?
        .with_hints(&cx, body.hints.as_deref()),
    ))
}

/// Finishes registering: verifies the authenticator's response and stores the passkey.
#[utoipa::path(post, path = "/v1/registration/verify", tag = "registration", security(("cognito" = []), ("enrolment" = [])),
    request_body = RegistrationVerifyRequest,
    responses((status = 201, body = CredentialSummary), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 409, body = ErrorBody, description = "`CREDENTIAL_EXISTS`, or `TOO_MANY_PASSKEYS` (`RP_MAX_PASSKEYS_PER_USER`)"), (status = 410, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub async fn verify(
    cx: Context,
    who: Registrant,
    client: ClientContext,
    Json(body): Json<RegistrationVerifyRequest>,
) -> Result<(StatusCode, Json<CredentialSummary>), ApiError> {
    let summary = registration::verify(
        &cx,
        &who,
        &client,
        body.ceremony_id,
        &body.credential,
        body.nickname.as_deref(),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(summary)))
}

impl From<RegistrationError> for ApiError {
    fn from(e: RegistrationError) -> Self {
        let message = e.to_string();
        match e {
            RegistrationError::ReauthRequired(e) => e.into(),
            RegistrationError::Ceremony(e) => e.into(),
            RegistrationError::InvalidNickname(_) => {
                ApiError::bad_request(ErrorCode::InvalidNickname, message)
            }
            RegistrationError::Rejected(r) => r.into(),
            RegistrationError::Duplicate => {
                ApiError::conflict(ErrorCode::CredentialExists, message)
            }
            RegistrationError::TooMany(max) => {
                ApiError::conflict(ErrorCode::TooManyPasskeys, message)
                    .with_details(serde_json::json!({ "max": max }))
            }
            // Mapped to the policy's refusal by the flow; reaching here is a policy-less one.
            RegistrationError::AttestationNotTrusted => {
                ApiError::verification(ErrorCode::PolicyViolation, message)
                    .with_details(serde_json::json!({ "rule": "attestation" }))
            }
            RegistrationError::PolicyViolation { policy, rule } => {
                ApiError::verification(ErrorCode::PolicyViolation, message)
                    .with_details(serde_json::json!({ "policy": policy, "rule": rule }))
            }
            RegistrationError::EnrolmentTokenInvalid => ApiError::Unauthorized(
                "The enrolment token is not valid (unknown, used, revoked or expired).",
            ),
            RegistrationError::Db(e) => e.into(),
            RegistrationError::Internal(e) => ApiError::Internal(e),
        }
    }
}
