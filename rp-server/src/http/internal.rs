//! The internal API of the Cognito trigger Lambdas (service token):
//! [`crate::flows::challenge`] and [`crate::flows::redemption`].

use rp_shared::error::ErrorBody;
use rp_shared::error::ErrorCode;
use rp_shared::internal::{ChallengeRequest, ChallengeResponse, RedeemRequest, RedeemResponse};

use super::error::ApiError;
use super::extract::Json;
use super::identity::Service;
use crate::AppState;
use crate::flows::Context;
use crate::flows::challenge::{self, ChallengeError};
use crate::flows::redemption;
use axum::extract::State;

/// Create Auth Challenge: a WebAuthn request restricted to the user's passkeys, or
/// stable fake options for an unknown user or one without passkeys.
#[utoipa::path(post, path = "/internal/v1/challenges", tag = "internal", security(("service" = [])),
    request_body = ChallengeRequest,
    responses((status = 200, body = ChallengeResponse), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
pub async fn challenges(
    State(state): State<AppState>,
    _: Service,
    Json(req): Json<ChallengeRequest>,
) -> Result<Json<ChallengeResponse>, ApiError> {
    let cx = for_pool(&state, Some(&req.user_pool_id))?;
    Ok(Json(challenge::issue(&cx, &req).await?))
}

/// Verify Auth Challenge Response: redeems a nonce for a challenge, atomically.
/// Retrying with the same challenge id succeeds again (Cognito retries triggers);
/// any other challenge id, user, a spent or expired nonce fails.
#[utoipa::path(post, path = "/internal/v1/nonces/redeem", tag = "internal", security(("service" = [])),
    request_body = RedeemRequest,
    responses((status = 200, body = RedeemResponse), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
pub async fn redeem(
    State(state): State<AppState>,
    _: Service,
    Json(req): Json<RedeemRequest>,
) -> Result<Json<RedeemResponse>, ApiError> {
    let cx = for_pool(&state, req.user_pool_id.as_deref())?;
    Ok(Json(redemption::redeem(&cx, &req).await?))
}

/// The context of a trigger's call: the site of the event's user pool (one Lambda may
/// serve several pools), never the request's host. Without routing (one site, no
/// `[[site]]` tables), that one, whatever the pool.
fn for_pool(state: &AppState, pool: Option<&str>) -> Result<Context, ApiError> {
    let sites = state.sites();
    let site = match pool {
        Some(pool) => sites.for_pool(pool),
        None => sites.unrouted(),
    }
    .ok_or_else(super::extract::unknown_site)?;
    Ok(state.context(site))
}

impl From<ChallengeError> for ApiError {
    fn from(e: ChallengeError) -> Self {
        match e {
            ChallengeError::MissingUsername | ChallengeError::SubTooLong => {
                ApiError::bad_request(ErrorCode::InvalidRequest, e.to_string())
            }
            ChallengeError::Db(e) => e.into(),
            ChallengeError::Internal(e) => ApiError::Internal(e),
        }
    }
}
