//! What both ceremony kinds share: consuming a stored ceremony exactly once, and turning
//! WebAuthn failures into API errors and metrics.

use chrono::Duration;
use uuid::Uuid;
use webauthn_rs_core::error::WebauthnError;

use super::error::ApiError;
use crate::AppState;
use crate::store::{self, CeremonyKind, NewCeremony, TakenCeremony};

pub fn expiry(state: &AppState) -> (chrono::DateTime<chrono::Utc>, chrono::DateTime<chrono::Utc>) {
    let now = state.clock.now();
    let ttl = Duration::from_std(state.config.ceremony_ttl).unwrap_or(Duration::minutes(5));
    (now, now + ttl)
}

pub struct Started<'a> {
    pub kind: CeremonyKind,
    pub user_id: Option<Uuid>,
    pub challenge_id: Option<Uuid>,
    pub state: serde_json::Value,
    pub nickname: Option<&'a str>,
    pub signup: Option<(&'a str, Uuid)>,
}

/// Stores a new ceremony and returns its id.
pub async fn store(
    state: &AppState,
    db: impl sqlx::PgExecutor<'_>,
    c: Started<'_>,
) -> Result<Uuid, ApiError> {
    let (now, expires_at) = expiry(state);
    let id = Uuid::new_v4();
    store::insert_ceremony(
        db,
        &NewCeremony {
            id,
            kind: c.kind,
            user_id: c.user_id,
            challenge_id: c.challenge_id,
            state: c.state,
            nickname: c.nickname,
            signup: c.signup,
            created_at: now,
            expires_at,
        },
    )
    .await?;
    crate::metrics::ceremony_started(c.kind.as_str());
    Ok(id)
}

/// Consumes the ceremony (it is gone afterwards whatever the outcome) and checks it has
/// not expired.
pub async fn consume(
    state: &AppState,
    id: Uuid,
    kind: CeremonyKind,
    user_id: Option<Uuid>,
) -> Result<TakenCeremony, ApiError> {
    let Some(taken) = store::take_ceremony(&state.db, id, kind, user_id).await? else {
        crate::metrics::ceremony_failed(kind.as_str(), "unknown_ceremony");
        return Err(ApiError::gone(
            "CEREMONY_NOT_FOUND",
            "This ceremony does not exist or was already used; start again.",
        ));
    };
    if taken.expires_at <= state.clock.now() {
        crate::metrics::ceremony_failed(kind.as_str(), "expired");
        return Err(ApiError::gone(
            "CEREMONY_EXPIRED",
            "This ceremony has expired; start again.",
        ));
    }
    Ok(taken)
}

/// Maps a WebAuthn verification failure to a client error (400 for undecodable input,
/// 422 for a response that decodes but does not verify) and counts it.
pub fn rejected(kind: CeremonyKind, e: &WebauthnError) -> ApiError {
    let malformed = matches!(
        e,
        WebauthnError::ParseBase64Failure(_)
            | WebauthnError::ParseCBORFailure(_)
            | WebauthnError::ParseJSONFailure(_)
            | WebauthnError::ParseNOMFailure
            | WebauthnError::ParseInsufficientBytesAvailable
            | WebauthnError::InvalidClientDataType
            | WebauthnError::MissingAttestationCredentialData
            | WebauthnError::COSEKeyInvalidCBORValue
            | WebauthnError::COSEKeyInvalidType
    );
    tracing::info!(kind = kind.as_str(), error = ?e, "WebAuthn verification failed");
    if malformed {
        crate::metrics::ceremony_failed(kind.as_str(), "malformed");
        return ApiError::bad_request(
            "MALFORMED_CREDENTIAL",
            "The WebAuthn response could not be decoded.",
        );
    }
    let (reason, message) = crate::passkeys::classify(e);
    crate::metrics::ceremony_failed(kind.as_str(), reason);
    let code = match reason {
        "counter_regression" => "COUNTER_REGRESSION",
        "origin" => "ORIGIN_NOT_ALLOWED",
        "user_verification" => "USER_VERIFICATION_REQUIRED",
        "backup_flags" => "BACKUP_FLAGS_INCONSISTENT",
        "unknown_credential" => "UNKNOWN_CREDENTIAL",
        _ => "VERIFICATION_FAILED",
    };
    ApiError::verification(code, message)
}

pub fn corrupt_state(e: serde_json::Error) -> ApiError {
    ApiError::internal(anyhow::anyhow!(
        "stored ceremony state does not deserialise: {e}"
    ))
}
