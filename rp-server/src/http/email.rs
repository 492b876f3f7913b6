//! Email one-time codes ([`crate::flows::email`]); on when `RP_EMAIL_TRANSPORT` is set.

use axum::http::StatusCode;
use rp_shared::error::{ErrorBody, ErrorCode};
use serde::Deserialize;
use utoipa::ToSchema;

use super::error::ApiError;
use super::extract::{ClientContext, Json};
use crate::flows::Context;
use crate::flows::ceremony::SignInNonce;
use crate::flows::email::{self, CodeSent, EmailError, Purpose, SignupProof};

#[derive(Debug, Deserialize, ToSchema)]
pub struct EmailCodeRequest {
    pub email: String,
    pub purpose: Purpose,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EmailVerifyRequest {
    pub email: String,
    /// The six digits from the message.
    pub code: String,
    pub purpose: Purpose,
    /// The `codeRequestId` that `/v1/email/codes` answered: a code verifies only
    /// together with the request it was sent for.
    pub code_request_id: String,
}

/// Sends a one-time code to the address. The answer is the same whether or not the
/// address has an account; for a sign-up to an address that has one, the message says
/// so instead of carrying a code.
#[utoipa::path(post, path = "/v1/email/codes", tag = "email",
    request_body = EmailCodeRequest,
    responses((status = 202, body = CodeSent), (status = 400, body = ErrorBody),
        (status = 404, body = ErrorBody, description = "email codes, sign-up or email sign-in are not enabled"),
        (status = 429, body = ErrorBody, description = "a resend too soon, or a daily limit (see Retry-After)"),
        (status = 503, body = ErrorBody)))]
pub async fn codes(
    cx: Context,
    client: ClientContext,
    Json(body): Json<EmailCodeRequest>,
) -> Result<(StatusCode, Json<CodeSent>), ApiError> {
    let sent = email::send_code(&cx, &client, &body.email, body.purpose).await?;
    Ok((StatusCode::ACCEPTED, Json(sent)))
}

/// What a right code earns.
#[derive(Debug, serde::Serialize, ToSchema)]
#[serde(untagged)]
pub enum Verified {
    /// `sign_up`: proof of the address for `/v1/signup/options`.
    SignUp(SignupProof),
    /// `sign_in`: the same answer as `/v1/authentication/verify`; finish with Cognito.
    SignIn(SignInNonce),
}

/// Checks a code. A right sign-up code answers `{signupToken, expiresAt}` for
/// `/v1/signup/options`; a right sign-in code `{nonce, username, expiresAt}`, exactly
/// like `/v1/authentication/verify`.
#[utoipa::path(post, path = "/v1/email/verify", tag = "email",
    request_body = EmailVerifyRequest,
    responses((status = 200, body = Verified), (status = 400, body = ErrorBody),
        (status = 404, body = ErrorBody, description = "email codes, sign-up or email sign-in are not enabled"),
        (status = 410, body = ErrorBody, description = "`CODE_EXPIRED`: expired, used, or out of attempts"),
        (status = 422, body = ErrorBody, description = "`CODE_INVALID`: a wrong code"),
        (status = 429, body = ErrorBody, description = "`CODE_LOCKED`: too many wrong codes for the address (`details.until`: `window`, see Retry-After; or `unlock`: until a passkey sign-in or an admin's unlock); `RATE_LIMITED`: too many from this client"),
        (status = 503, body = ErrorBody)))]
pub async fn verify(
    cx: Context,
    client: ClientContext,
    Json(body): Json<EmailVerifyRequest>,
) -> Result<Json<Verified>, ApiError> {
    let guess = email::Guess {
        email: &body.email,
        code: &body.code,
        request_id: &body.code_request_id,
    };
    Ok(Json(match body.purpose {
        Purpose::SignUp => Verified::SignUp(email::verify_signup_code(&cx, &client, &guess).await?),
        Purpose::SignIn => Verified::SignIn(email::verify_signin_code(&cx, &client, &guess).await?),
    }))
}

impl From<EmailError> for ApiError {
    fn from(e: EmailError) -> Self {
        let message = e.to_string();
        match e {
            EmailError::Disabled => ApiError::not_found(ErrorCode::EmailDisabled, message),
            EmailError::SignInDisabled => {
                ApiError::not_found(ErrorCode::EmailSigninDisabled, message)
            }
            EmailError::InvalidEmail => ApiError::bad_request(ErrorCode::InvalidEmail, message),
            EmailError::RateLimited { retry_after_secs } => {
                ApiError::RateLimited { retry_after_secs }
            }
            EmailError::Refused(r) => r.into(),
            EmailError::CodeInvalid => ApiError::verification(ErrorCode::CodeInvalid, message),
            EmailError::CodeExpired => ApiError::gone(ErrorCode::CodeExpired, message),
            EmailError::SignUp(e) => e.into(),
            EmailError::Cognito(e) => ApiError::Unavailable(anyhow::Error::new(e)),
            EmailError::Db(e) => e.into(),
        }
    }
}
