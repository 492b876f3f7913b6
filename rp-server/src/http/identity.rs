//! Extractors that authenticate the caller.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

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
        match state.tokens.verify(token).await {
            Ok(user) => Ok(Self(user)),
            Err(TokenError::Jwks(e)) => Err(ApiError::Unavailable(anyhow::anyhow!(
                "JWKS fetch failed: {e}"
            ))),
            Err(e) => {
                tracing::info!(reason = %e, "access token rejected");
                Err(ApiError::Unauthorized("The access token is not valid."))
            }
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

/// Who may register a passkey: a signed-in user, or someone holding an enrolment token
/// an admin issued for account recovery (`Authorization: Bearer rpe_…`).
pub enum Registrant {
    Cognito(CognitoUser),
    Enrolment {
        token_id: uuid::Uuid,
        user: crate::store::User,
    },
}

impl FromRequestParts<AppState> for Registrant {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = auth::bearer(&parts.headers).ok_or(ApiError::Unauthorized(
            "A Cognito access token or an enrolment token is required (Authorization: Bearer).",
        ))?;
        if token.starts_with(crate::admin::ENROLMENT_PREFIX) {
            let hash = crate::admin::hash_token(token);
            let now = state.clock.now();
            let found = crate::store::usable_enrolment_token(&state.db, &hash, now).await?;
            let Some(t) = found else {
                return Err(ApiError::Unauthorized(
                    "The enrolment token is not valid (unknown, used, revoked or expired).",
                ));
            };
            let user = crate::store::user_by_id(&state.db, t.user_id)
                .await?
                .ok_or(ApiError::Unauthorized(
                    "The enrolment token is not valid (unknown, used, revoked or expired).",
                ))?;
            return Ok(Self::Enrolment {
                token_id: t.id,
                user,
            });
        }
        SignedIn::from_request_parts(parts, state)
            .await
            .map(|SignedIn(u)| Self::Cognito(u))
    }
}
