//! What every ceremony shares: storing its cx, consuming it exactly once, and
//! classifying WebAuthn failures.

use chrono::{DateTime, Duration, Utc};
use rp_shared::error::ErrorCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;
use webauthn_rs_core::error::WebauthnError;

use super::Context;
use crate::ceremony::{CeremonyKind, CeremonyState};
use crate::store::ceremonies::{self, NewCeremony, Taken};

/// What a client needs to run a ceremony.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CeremonyOptions {
    /// Opaque: pass it back unchanged to finish the ceremony.
    pub ceremony_id: String,
    /// `PublicKeyCredentialCreationOptionsJSON` or `PublicKeyCredentialRequestOptionsJSON`.
    #[schema(value_type = Object)]
    pub public_key: serde_json::Value,
}

pub use crate::model::Hint;

impl CeremonyOptions {
    /// Adds the hints to the options (the request's, or else `RP_HINTS`); none leaves
    /// the options as they are.
    pub fn with_hints(mut self, cx: &Context, requested: Option<&[Hint]>) -> Self {
        let hints = requested.unwrap_or(&cx.site.settings.hints);
        if !hints.is_empty()
            && let Some(options) = self.public_key.as_object_mut()
        {
            options.insert("hints".to_owned(), serde_json::json!(hints));
        }
        self
    }
}

/// A ceremony id as a client presents it: a stored ceremony's UUID, or a sealed
/// usernameless sign-in ([`super::sealed`]). Anything else is a malformed request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CeremonyRef {
    Stored(Uuid),
    Sealed(String),
    /// The Create trigger's, concealed (decision 0024).
    Concealed(String),
}

impl<'de> Deserialize<'de> for CeremonyRef {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        if super::sealed::Sealer::is_sealed(&s) {
            return Ok(Self::Sealed(s));
        }
        if super::sealed::Concealer::is_concealed(&s) {
            return Ok(Self::Concealed(s));
        }
        Uuid::parse_str(&s)
            .map(Self::Stored)
            .map_err(|_| serde::de::Error::custom("ceremonyId is not a ceremony id"))
    }
}

/// Why a stored ceremony cannot be finished.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CeremonyError {
    #[error("This ceremony does not exist or was already used; start again.")]
    NotFound,
    #[error("This ceremony has expired; start again.")]
    Expired,
}

impl CeremonyError {
    pub fn reason(self) -> &'static str {
        match self {
            Self::NotFound => "unknown_ceremony",
            Self::Expired => "expired",
        }
    }
}

pub fn ttl(cx: &Context) -> Duration {
    Duration::from_std(cx.site.settings.ceremony_ttl).unwrap_or(Duration::minutes(5))
}

pub fn nonce_ttl(cx: &Context) -> Duration {
    Duration::from_std(cx.site.settings.nonce_ttl).unwrap_or(Duration::minutes(2))
}

/// Stores a new ceremony owned by `owner` and returns its id.
#[tracing::instrument(skip_all)]
pub async fn start(
    cx: &Context,
    db: impl sqlx::PgExecutor<'_>,
    owner: Option<Uuid>,
    ceremony: &CeremonyState,
) -> sqlx::Result<Uuid> {
    let now = cx.clock.now();
    let id = Uuid::new_v4();
    ceremonies::insert(
        db,
        &cx.site.id,
        &NewCeremony {
            id,
            owner,
            state: ceremony,
            created_at: now,
            expires_at: now + ttl(cx),
        },
    )
    .await?;
    crate::metrics::ceremony_started(&cx.site.id, ceremony.kind().metric());
    Ok(id)
}

/// A consumed ceremony, if it was there and has not expired.
pub fn fresh(taken: Option<Taken>, now: DateTime<Utc>) -> Result<Taken, CeremonyError> {
    let taken = taken.ok_or(CeremonyError::NotFound)?;
    if taken.expires_at <= now {
        return Err(CeremonyError::Expired);
    }
    Ok(taken)
}

/// Consumes a ceremony of one of `kinds` (gone afterwards whatever the outcome) and
/// checks it has not expired.
#[tracing::instrument(skip_all)]
pub async fn take(
    cx: &Context,
    id: Uuid,
    kinds: &[CeremonyKind],
    owner: Option<Uuid>,
) -> Result<Result<Taken, CeremonyError>, sqlx::Error> {
    let taken = ceremonies::take(&cx.db, &cx.site.id, id, kinds, owner).await?;
    Ok(fresh(taken, cx.clock.now()))
}

/// A WebAuthn response that did not verify, as clients and metrics see it. Details stay
/// in the server log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rejection {
    /// The response could not be decoded at all (400 rather than 422).
    pub malformed: bool,
    /// Metric label.
    pub reason: &'static str,
    /// API error code.
    pub code: ErrorCode,
    pub message: &'static str,
}

impl std::fmt::Display for Rejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.message)
    }
}

/// Classifies a WebAuthn verification failure.
pub fn rejection(kind: CeremonyKind, e: &WebauthnError) -> Rejection {
    tracing::info!(kind = kind.as_str(), error = ?e, "WebAuthn verification failed");
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
    if malformed {
        return Rejection {
            malformed,
            reason: "malformed",
            code: ErrorCode::MalformedCredential,
            message: "The WebAuthn response could not be decoded.",
        };
    }
    let (reason, message) = crate::passkeys::classify(e);
    let code = match reason {
        "counter_regression" => ErrorCode::CounterRegression,
        "origin" => ErrorCode::OriginNotAllowed,
        "user_verification" => ErrorCode::UserVerificationRequired,
        "backup_flags" => ErrorCode::BackupFlagsInconsistent,
        "unknown_credential" => ErrorCode::UnknownCredential,
        _ => ErrorCode::VerificationFailed,
    };
    Rejection {
        malformed,
        reason,
        code,
        message,
    }
}

/// Records the end of a ceremony of the site once, from its outcome.
pub fn count<T>(cx: &Context, kind: CeremonyKind, result: &Result<T, impl HasReason>) {
    match result {
        Ok(_) => crate::metrics::ceremony_finished(&cx.site.id, kind.metric()),
        Err(e) => crate::metrics::ceremony_failed(&cx.site.id, kind.metric(), e.reason()),
    }
}

/// A flow error's metric label.
pub trait HasReason {
    fn reason(&self) -> &'static str;
}

/// A one-time nonce handed to the browser, which answers Cognito's custom challenge
/// with it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SignInNonce {
    /// One-time answer to Cognito's custom challenge.
    pub nonce: String,
    /// The Cognito username to pass to `InitiateAuth`.
    pub username: String,
    pub expires_at: DateTime<Utc>,
}

/// A nonce earned without a passkey (an email or recovery code), for `user`, stored in
/// `tx` with its factor, so that the session Cognito then issues is known as a code's.
pub async fn code_nonce(
    cx: &Context,
    tx: &mut sqlx::PgConnection,
    user: &crate::store::User,
    factor: crate::model::Factor,
) -> sqlx::Result<SignInNonce> {
    let now = cx.clock.now();
    let nonce = rp_shared::nonce::Nonce::generate();
    let expires_at = now + nonce_ttl(cx);
    crate::store::nonces::insert_nonce(
        tx,
        &cx.site.id,
        &crate::store::nonces::NewNonce {
            hash: &nonce.hash(),
            user_id: user.id,
            cognito_sub: &user.cognito_sub,
            credential_id: None,
            factor,
            bound_challenge_id: None,
            created_at: now,
            expires_at,
        },
    )
    .await?;
    Ok(SignInNonce {
        nonce: nonce.expose().to_owned(),
        username: user.username.clone(),
        expires_at,
    })
}
