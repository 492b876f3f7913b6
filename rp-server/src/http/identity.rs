//! Extractors that authenticate the caller.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use rp_shared::error::ErrorCode;

use super::error::ApiError;
use crate::AppState;
use crate::auth::{self, CognitoUser, TokenError};

/// A browser caller proven by a Cognito access token.
pub struct SignedIn(pub CognitoUser);

impl FromRequestParts<AppState> for SignedIn {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = auth::bearer(&parts.headers).ok_or(ApiError::Unauthorized(
            "A Cognito access token is required (Authorization: Bearer).",
        ))?;
        cognito_user(state, token).await.map(Self)
    }
}

/// The user a Cognito access token proves, if it verifies and its session was not
/// ended by an account reset.
pub async fn cognito_user(state: &AppState, token: &str) -> Result<CognitoUser, ApiError> {
    match state.site.tokens.verify(token).await {
        Ok(user) => match crate::flows::session::check(&state.context(), &user).await {
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
            return crate::flows::registration::enrolment_registrant(&state.context(), token)
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
