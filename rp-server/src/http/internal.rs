//! The internal API of the Cognito trigger Lambdas (service token).

use axum::extract::State;
use chrono::Duration;
use rp_shared::error::ErrorBody;
use rp_shared::internal::{
    ChallengeRequest, ChallengeResponse, RedeemFailure, RedeemRequest, RedeemResponse,
};
use rp_shared::nonce;
use uuid::Uuid;

use super::authentication::current_passkey;
use super::b64url;
use super::ceremony::{self, Started};
use super::error::ApiError;
use super::extract::Json;
use super::identity::Service;
use crate::AppState;
use crate::audit::{self, Action, Actor, Event};
use crate::store::{self, CeremonyKind, NewChallenge};

/// After this many redemptions of unknown nonces for one user within
/// [`FAILURE_WINDOW_MINUTES`], further redemptions for that user fail unchecked.
pub const MAX_FAILED_REDEMPTIONS: i64 = 10;
pub const FAILURE_WINDOW_MINUTES: i64 = 15;

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
    if req.username.trim().is_empty() {
        return Err(ApiError::bad_request(
            "INVALID_REQUEST",
            "username is required.",
        ));
    }
    let user = if req.user_not_found || req.user_sub.is_empty() {
        None
    } else {
        store::user_by_sub(&state.db, &req.user_sub).await?
    };
    let passkeys = match &user {
        Some(u) => store::credentials_of(&state.db, u.id)
            .await?
            .iter()
            .map(current_passkey)
            .collect::<Result<Vec<_>, _>>()?,
        None => Vec::new(),
    };
    let real = !passkeys.is_empty();
    let started = if real {
        state.rp.start_authentication(passkeys)
    } else {
        state.rp.start_fake_authentication(&req.username)
    };
    let (options, auth_state) = started
        .map_err(|e| ApiError::internal(anyhow::anyhow!("starting authentication: {e:?}")))?;

    let challenge_id = Uuid::new_v4();
    let (now, ceremony_expiry) = ceremony::expiry(&state);
    // The challenge must outlive the ceremony by the nonce lifetime: the nonce is
    // redeemed against it after the ceremony finishes.
    let nonce_ttl = Duration::from_std(state.config.nonce_ttl).unwrap_or(Duration::minutes(2));
    let mut tx = state.db.begin().await?;
    let ceremony_id = ceremony::store(
        &state,
        &mut *tx,
        Started {
            kind: CeremonyKind::Authentication,
            user_id: user.as_ref().filter(|_| real).map(|u| u.id),
            challenge_id: Some(challenge_id),
            state: serde_json::to_value(&auth_state).map_err(ApiError::internal)?,
            nickname: None,
            signup: None,
        },
    )
    .await?;
    store::insert_challenge(
        &mut *tx,
        &NewChallenge {
            id: challenge_id,
            cognito_sub: &req.user_sub,
            user_pool_id: &req.user_pool_id,
            client_id: &req.client_id,
            ceremony_id,
            created_at: now,
            expires_at: ceremony_expiry + nonce_ttl,
        },
    )
    .await?;
    let mut event =
        Event::new(Actor::Service, Action::ChallengeIssued).details(serde_json::json!({
            "challengeId": challenge_id,
            "userPoolId": req.user_pool_id,
            "clientId": req.client_id,
            "withPasskeys": real,
        }));
    if let Some(u) = &user {
        event = event.user(u.id, &u.cognito_sub);
    } else if !req.user_sub.is_empty() {
        event = event.cognito_sub(&req.user_sub);
    }
    audit::record(&mut *tx, now, event).await?;
    tx.commit().await?;

    Ok(Json(ChallengeResponse {
        challenge_id,
        ceremony_id,
        public_key: serde_json::to_value(&options.public_key).map_err(ApiError::internal)?,
    }))
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
    let now = state.clock.now();
    let outcome = redeem_inner(&state, &req, now).await?;
    let response = match outcome {
        Ok(credential_id) => {
            crate::metrics::nonce_redemption("valid");
            RedeemResponse {
                valid: true,
                reason: None,
                credential_id: Some(b64url(&credential_id)),
            }
        }
        Err(reason) => {
            crate::metrics::nonce_redemption(reason.as_str());
            tracing::info!(reason = reason.as_str(), challenge_id = %req.challenge_id, "nonce redemption refused");
            if reason != RedeemFailure::RateLimited && !req.user_sub.is_empty() {
                audit::record(
                    &state.db,
                    now,
                    Event::new(Actor::Service, Action::NonceRedeemFailed)
                        .cognito_sub(&req.user_sub)
                        .details(serde_json::json!({ "reason": reason.as_str(), "challengeId": req.challenge_id })),
                )
                .await?;
            }
            RedeemResponse {
                valid: false,
                reason: Some(reason),
                credential_id: None,
            }
        }
    };
    Ok(Json(response))
}

async fn redeem_inner(
    state: &AppState,
    req: &RedeemRequest,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Result<Vec<u8>, RedeemFailure>, ApiError> {
    let since = now - Duration::minutes(FAILURE_WINDOW_MINUTES);
    if audit::count_recent_guesses(&state.db, &req.user_sub, since).await? >= MAX_FAILED_REDEMPTIONS
    {
        return Ok(Err(RedeemFailure::RateLimited));
    }
    let Some(hash) = nonce::parse_and_hash(&req.nonce) else {
        return Ok(Err(RedeemFailure::Unknown));
    };
    if !store::challenge_issued_to(&state.db, req.challenge_id, &req.user_sub, now).await? {
        return Ok(Err(RedeemFailure::WrongChallenge));
    }

    let mut tx = state.db.begin().await?;
    if let Some((user_id, credential_id)) =
        store::redeem_nonce(&mut *tx, &hash, &req.user_sub, req.challenge_id, now).await?
    {
        audit::record(
            &mut *tx,
            now,
            Event::new(Actor::Service, Action::NonceRedeemed)
                .user(user_id, &req.user_sub)
                .credential(&credential_id)
                .details(serde_json::json!({ "challengeId": req.challenge_id })),
        )
        .await?;
        tx.commit().await?;
        return Ok(Ok(credential_id));
    }
    drop(tx);

    // Not redeemed now: say why, or recognise Cognito retrying the call that redeemed it.
    let Some(row) = store::nonce(&state.db, &hash).await? else {
        return Ok(Err(RedeemFailure::Unknown));
    };
    Ok(if row.cognito_sub != req.user_sub {
        Err(RedeemFailure::WrongUser)
    } else if row.redeemed_challenge_id == Some(req.challenge_id) && row.expires_at > now {
        Ok(row.credential_id)
    } else if row.redeemed_challenge_id.is_some() {
        Err(RedeemFailure::AlreadyUsed)
    } else if row.expires_at <= now {
        Err(RedeemFailure::Expired)
    } else if row
        .bound_challenge_id
        .is_some_and(|b| b != req.challenge_id)
    {
        Err(RedeemFailure::WrongChallenge)
    } else {
        Err(RedeemFailure::Unknown)
    })
}
