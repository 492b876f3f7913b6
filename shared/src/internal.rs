//! Payloads of rp-server's internal API, called by the Cognito trigger Lambdas with
//! `Authorization: Bearer <service token>`.

use serde::{Deserialize, Serialize};

/// `POST /internal/v1/challenges`: the Create Auth Challenge trigger asks for a
/// WebAuthn request restricted to this user's credentials.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ChallengeRequest {
    pub user_pool_id: String,
    pub client_id: String,
    /// The Cognito `sub` of the user (empty or absent when Cognito says the user was not found).
    #[serde(default)]
    pub user_sub: String,
    pub username: String,
    /// Cognito's `userNotFound` (pools with PreventUserExistenceErrors): answer with
    /// plausible fake options, indistinguishable from a real user's.
    #[serde(default)]
    pub user_not_found: bool,
}

/// Answer to [`ChallengeRequest`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ChallengeResponse {
    /// Private to the trigger: goes into `privateChallengeParameters` and back in the redeem
    /// call. Opaque (a UUID before decision 0024; now the challenge itself, sealed).
    pub challenge_id: String,
    /// Public: the browser finishes this ceremony at `/v1/authentication/verify`. Opaque
    /// (a UUID before decision 0024; now the ceremony itself, concealed).
    pub ceremony_id: String,
    /// `PublicKeyCredentialRequestOptionsJSON`.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub public_key: serde_json::Value,
}

/// `POST /internal/v1/nonces/redeem`: the Verify Auth Challenge Response trigger
/// redeems the nonce the browser got from `/v1/authentication/verify`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct RedeemRequest {
    pub nonce: String,
    pub user_sub: String,
    /// The `challengeId` of the trigger's [`ChallengeResponse`], as it was.
    pub challenge_id: String,
    /// The user's email when Cognito has it verified (`userAttributes`): a passkey
    /// sign-in forgives the failed email codes counted against it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// The event's `userPoolId`: with several sites, it picks the site whose nonce this
    /// must be (absent from an older trigger: then only a deployment of one site answers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_pool_id: Option<String>,
}

/// Answer to [`RedeemRequest`]. `valid` is the only field a trigger may act on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct RedeemResponse {
    pub valid: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<RedeemFailure>,
    /// The credential that produced the nonce (base64url), on success.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential_id: Option<String>,
}

/// Why a redemption failed. Only the trigger (holding the service token) sees this.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum RedeemFailure {
    /// Not a nonce we issued (or malformed).
    Unknown,
    /// Past its lifetime.
    Expired,
    /// Already redeemed for another challenge.
    AlreadyUsed,
    /// Issued to a different user.
    WrongUser,
    /// The challenge id was not issued to this user, or not for this nonce.
    WrongChallenge,
}

impl RedeemFailure {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unknown => "unknown",
            Self::Expired => "expired",
            Self::AlreadyUsed => "already_used",
            Self::WrongUser => "wrong_user",
            Self::WrongChallenge => "wrong_challenge",
        }
    }
}
