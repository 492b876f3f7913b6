//! Passkey-first sign-up ([`crate::flows::signup`]); on when `RP_SIGNUP_ENABLED=true`.

use rp_shared::error::ErrorCode;
use serde::Deserialize;
use utoipa::ToSchema;
use uuid::Uuid;
use webauthn_rs_core::proto::RegisterPublicKeyCredential;

use super::error::ApiError;
use super::extract::{ClientContext, Json};
use crate::flows::Context;
use crate::flows::ceremony::{CeremonyOptions, SignInNonce};
use crate::flows::signup::{self, SignUpError};
use rp_shared::error::ErrorBody;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SignupOptionsRequest {
    /// The new user's email; it becomes their Cognito sign-in name.
    pub email: String,
    /// Proof of the address from `/v1/email/verify` (purpose `sign_up`); required when
    /// the server verifies addresses (`RP_SIGNUP_VERIFY_EMAIL`).
    pub signup_token: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SignupVerifyRequest {
    pub ceremony_id: Uuid,
    /// The result of `PublicKeyCredential.toJSON()` from `navigator.credentials.create()`.
    #[schema(value_type = Object)]
    pub credential: RegisterPublicKeyCredential,
}

/// Starts a sign-up: registration options for a new passkey bound to a fresh user handle.
#[utoipa::path(post, path = "/v1/signup/options", tag = "signup",
    request_body = SignupOptionsRequest,
    responses((status = 200, body = CeremonyOptions), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody, description = "`EMAIL_NOT_VERIFIED`: no valid signupToken"),
        (status = 404, body = ErrorBody, description = "sign-up is not enabled"),
        (status = 409, body = ErrorBody), (status = 429, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn options(
    cx: Context,
    Json(body): Json<SignupOptionsRequest>,
) -> Result<Json<CeremonyOptions>, ApiError> {
    Ok(Json(
        signup::options(&cx, &body.email, body.signup_token.as_deref())
            .await?
            .with_hints(&cx, None),
    ))
}

/// Finishes a sign-up: verifies the passkey, creates the Cognito user, stores the
/// passkey, and answers a nonce for the first sign-in. Nothing is kept half-made: a
/// failure after the Cognito user was created deletes it again.
#[utoipa::path(post, path = "/v1/signup/verify", tag = "signup",
    request_body = SignupVerifyRequest,
    responses((status = 200, body = SignInNonce), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody, description = "`EMAIL_NOT_VERIFIED`: the signupToken was spent meanwhile"),
        (status = 404, body = ErrorBody, description = "sign-up is not enabled"),
        (status = 409, body = ErrorBody), (status = 410, body = ErrorBody), (status = 422, body = ErrorBody),
        (status = 429, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn verify(
    cx: Context,
    client: ClientContext,
    Json(body): Json<SignupVerifyRequest>,
) -> Result<Json<SignInNonce>, ApiError> {
    Ok(Json(
        signup::verify(&cx, &client, body.ceremony_id, &body.credential).await?,
    ))
}

impl From<SignUpError> for ApiError {
    fn from(e: SignUpError) -> Self {
        let message = e.to_string();
        match e {
            SignUpError::Disabled => ApiError::not_found(ErrorCode::SignupDisabled, message),
            SignUpError::InvalidEmail => ApiError::bad_request(ErrorCode::InvalidEmail, message),
            SignUpError::EmailTaken => ApiError::conflict(ErrorCode::EmailTaken, message),
            SignUpError::EmailNotVerified => ApiError::UnauthorizedCode {
                code: ErrorCode::EmailNotVerified,
                message: "Verify the email first: a sign-up code from /v1/email/codes earns the signupToken.",
            },
            SignUpError::Ceremony(e) => e.into(),
            SignUpError::Rejected(r) => r.into(),
            SignUpError::Duplicate => ApiError::conflict(ErrorCode::CredentialExists, message),
            SignUpError::Cognito(e) => ApiError::Unavailable(anyhow::Error::new(e)),
            SignUpError::Db(e) => e.into(),
            SignUpError::Internal(e) => ApiError::Internal(e),
        }
    }
}
