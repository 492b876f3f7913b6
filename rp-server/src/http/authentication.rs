//! Signing in with a passkey ([`crate::flows::sign_in`]). A verified assertion yields a
//! one-time nonce that the browser hands to Cognito as the custom challenge answer.

use rp_shared::error::ErrorCode;
use serde::Deserialize;
use utoipa::ToSchema;
use webauthn_rs_core::proto::PublicKeyCredential;

use super::error::ApiError;
use super::extract::{ClientContext, Json};
use crate::flows::Context;
use crate::flows::ceremony::{CeremonyOptions, CeremonyRef, Hint, SignInNonce};
use crate::flows::sign_in::{self, SignInError};
use rp_shared::error::ErrorBody;

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct AuthenticationOptionsRequest {
    /// WebAuthn hints for this ceremony, replacing `RP_HINTS` (e.g. `["hybrid"]` for
    /// "use a phone").
    #[serde(default)]
    pub hints: Option<Vec<Hint>>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuthenticationVerifyRequest {
    /// As `options` (or the Create trigger's challenge) gave it.
    #[schema(value_type = String)]
    pub ceremony_id: CeremonyRef,
    /// The result of `PublicKeyCredential.toJSON()` from `navigator.credentials.get()`.
    #[schema(value_type = Object)]
    pub credential: PublicKeyCredential,
}

/// Starts a usernameless sign-in: options for a discoverable credential (usable with
/// conditional mediation / autofill).
#[utoipa::path(post, path = "/v1/authentication/options", tag = "authentication",
    request_body = AuthenticationOptionsRequest,
    responses((status = 200, body = CeremonyOptions), (status = 400, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn options(
    cx: Context,
    Json(body): Json<AuthenticationOptionsRequest>,
) -> Result<Json<CeremonyOptions>, ApiError> {
    Ok(Json(
        sign_in::options(&cx)
            .await?
            .with_hints(&cx, body.hints.as_deref()),
    ))
}

/// Finishes a sign-in (usernameless, or one started by the Create Auth Challenge
/// trigger) and returns a one-time nonce for Cognito.
#[utoipa::path(post, path = "/v1/authentication/verify", tag = "authentication",
    request_body = AuthenticationVerifyRequest,
    responses((status = 200, body = SignInNonce), (status = 400, body = ErrorBody), (status = 410, body = ErrorBody),
        (status = 422, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn verify(
    cx: Context,
    client: ClientContext,
    Json(body): Json<AuthenticationVerifyRequest>,
) -> Result<Json<SignInNonce>, ApiError> {
    sign_in::verify(&cx, &body.ceremony_id, &body.credential, &client)
        .await
        .map(Json)
        .map_err(|e| {
            // The passkey the browser offered is gone: say which, so the client can tell
            // the password manager (Signal API) and it stops offering it. A passkey whose
            // user handle does not name its owner is answered as unknown, word for word:
            // otherwise the answer would tell that the id exists.
            let gone = matches!(
                e,
                SignInError::UnknownCredential
                    | SignInError::CredentialRevoked
                    | SignInError::UserHandleMismatch
            );
            let error = ApiError::from(e);
            if gone {
                error.with_details(serde_json::json!({
                    "credentialId": rp_shared::credential_id::encode(&body.credential.raw_id),
                    "rpId": cx.site.settings.rp_id,
                }))
            } else {
                error
            }
        })
}

impl From<SignInError> for ApiError {
    fn from(e: SignInError) -> Self {
        let message = e.to_string();
        match e {
            SignInError::Ceremony(e) => e.into(),
            SignInError::UnknownCredential => {
                ApiError::verification(ErrorCode::UnknownCredential, message)
            }
            SignInError::CredentialRevoked => {
                ApiError::verification(ErrorCode::CredentialRevoked, message)
            }
            SignInError::UserHandleMismatch => ApiError::verification(
                ErrorCode::UnknownCredential,
                SignInError::UnknownCredential.to_string(),
            ),
            SignInError::Rejected(r) => r.into(),
            SignInError::CounterRegression => {
                ApiError::verification(ErrorCode::CounterRegression, message)
            }
            SignInError::PolicyViolation { policy, rule } => {
                ApiError::verification(ErrorCode::PolicyViolation, message)
                    .with_details(serde_json::json!({ "policy": policy, "rule": rule }))
            }
            SignInError::ChallengeNotAnswered(_) => {
                ApiError::verification(ErrorCode::VerificationFailed, message)
            }
            SignInError::Db(e) => e.into(),
            SignInError::Internal(e) => ApiError::Internal(e),
        }
    }
}
