//! Extractors that authenticate the caller.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use rp_shared::error::ErrorCode;

use super::error::ApiError;
use crate::AppState;
use crate::auth::{self, CognitoUser, TokenError};
use crate::flows::Context;

/// A browser caller proven by a Cognito access token.
pub struct SignedIn(pub CognitoUser);

impl FromRequestParts<AppState> for SignedIn {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = auth::bearer(&parts.headers).ok_or(ApiError::Unauthorized(
            "A Cognito access token is required (Authorization: Bearer).",
        ))?;
        let cx = state.context(&super::extract::site_of(parts, state)?);
        cognito_user(&cx, token).await.map(Self)
    }
}

/// The user a Cognito access token of the site's pool proves, if it verifies and its
/// session was not ended by an account reset. (A token of another site's pool has
/// another issuer, and does not verify.)
pub async fn cognito_user(cx: &Context, token: &str) -> Result<CognitoUser, ApiError> {
    match cx.site.tokens.verify(token).await {
        Ok(user) => match crate::flows::session::check(cx, &user).await {
            Ok(()) => Ok(user),
            Err(crate::flows::session::SessionError::Revoked) => Err(ApiError::UnauthorizedCode {
                code: ErrorCode::SessionRevoked,
                message: "This session has been ended; sign in again.",
            }),
            Err(crate::flows::session::SessionError::Db(e)) => Err(e.into()),
        },
        Err(TokenError::Jwks(e)) => Err(ApiError::DependencyUnavailable {
            code: ErrorCode::JwksUnavailable,
            message: "The user pool's signing keys cannot be fetched right now; try again shortly.",
            error: anyhow::anyhow!("JWKS fetch failed: {e}"),
        }),
        Err(e) => {
            tracing::info!(reason = %e, "access token rejected");
            Err(ApiError::Unauthorized("The access token is not valid."))
        }
    }
}

/// The trigger Lambdas, proven by the service token.
pub struct Service;

impl FromRequestParts<AppState> for Service {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        match auth::bearer(&parts.headers) {
            Some(t) if auth::token_matches(t, &state.config.service_token) => Ok(Self),
            _ => Err(ApiError::Unauthorized("A valid service token is required.")),
        }
    }
}

pub use crate::flows::registration::Registrant;

impl FromRequestParts<AppState> for Registrant {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = auth::bearer(&parts.headers).ok_or(ApiError::Unauthorized(
            "A Cognito access token or an enrolment token is required (Authorization: Bearer).",
        ))?;
        if rp_shared::token::EnrolmentToken::claims_kind(token) {
            let cx = state.context(&super::extract::site_of(parts, state)?);
            return crate::flows::registration::enrolment_registrant(&cx, token)
                .await?
                .ok_or(ApiError::Unauthorized(
                    "The enrolment token is not valid (unknown, used, revoked or expired).",
                ));
        }
        SignedIn::from_request_parts(parts, state)
            .await
            .map(|SignedIn(u)| Self::Cognito(u))
    }
}
