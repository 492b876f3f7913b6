//! Recovery codes ([`crate::flows::recovery`]).

use axum::http::StatusCode;
use rp_shared::error::{ErrorBody, ErrorCode};
use serde::Deserialize;
use utoipa::ToSchema;

use super::error::ApiError;
use super::extract::{ClientContext, Json};
use super::identity::SignedIn;
use crate::flows::Context;
use crate::flows::ceremony::SignInNonce;
use crate::flows::recovery::{self, CodesStatus, CreatedCodes, RecoveryError};

/// Makes ten one-time recovery codes for the caller, shown this once; a new set voids
/// the old one. Needs a fresh sign-in that was not itself a code's.
#[utoipa::path(post, path = "/v1/recovery-codes", tag = "recovery", security(("cognito" = [])),
    responses((status = 201, body = CreatedCodes),
        (status = 401, body = ErrorBody, description = "`REAUTH_REQUIRED` (`details.factor: \"passkey\"` for a code's session)")))]
pub async fn create(
    cx: Context,
    SignedIn(who): SignedIn,
    client: ClientContext,
) -> Result<(StatusCode, Json<CreatedCodes>), ApiError> {
    let created = recovery::create(&cx, &who, &client).await?;
    Ok((StatusCode::CREATED, Json(created)))
}

/// How many of the caller's recovery codes are left.
#[utoipa::path(get, path = "/v1/recovery-codes", tag = "recovery", security(("cognito" = [])),
    responses((status = 200, body = CodesStatus), (status = 401, body = ErrorBody)))]
pub async fn status(cx: Context, SignedIn(who): SignedIn) -> Result<Json<CodesStatus>, ApiError> {
    Ok(Json(recovery::status(&cx, &who).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecoveryVerifyRequest {
    /// The Cognito username, or the account's verified email.
    pub username: String,
    /// One of the account's recovery codes (dashes and case do not matter).
    pub code: String,
}

/// Signs in with a recovery code: the same answer as `/v1/authentication/verify`
/// (finish with Cognito the same way), for a session that may add one passkey.
#[utoipa::path(post, path = "/v1/recovery/verify", tag = "recovery",
    request_body = RecoveryVerifyRequest,
    responses((status = 200, body = SignInNonce),
        (status = 410, body = ErrorBody, description = "`CODE_EXPIRED`: the code was used"),
        (status = 422, body = ErrorBody, description = "`CODE_INVALID`: not a code of this account (or no such account)"),
        (status = 429, body = ErrorBody, description = "`CODE_LOCKED` (too many wrong codes for the account) or `RATE_LIMITED`")))]
pub async fn verify(
    cx: Context,
    client: ClientContext,
    Json(body): Json<RecoveryVerifyRequest>,
) -> Result<Json<SignInNonce>, ApiError> {
    Ok(Json(
        recovery::verify(&cx, &client, &body.username, &body.code).await?,
    ))
}

impl From<RecoveryError> for ApiError {
    fn from(e: RecoveryError) -> Self {
        let message = e.to_string();
        match e {
            RecoveryError::ReauthRequired(e) => e.into(),
            RecoveryError::CodeInvalid => ApiError::verification(ErrorCode::CodeInvalid, message),
            RecoveryError::CodeUsed => ApiError::gone(ErrorCode::CodeExpired, message),
            RecoveryError::Refused(r) => r.into(),
            RecoveryError::Cognito(e) => ApiError::Unavailable(anyhow::Error::new(e)),
            RecoveryError::Db(e) => e.into(),
        }
    }
}
