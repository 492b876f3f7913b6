//! The JSON error body of every rp-server endpoint:
//! `{"error":{"code":"SNAKE_OR_UPPER_CODE","message":"..."}}`.

use serde::{Deserialize, Serialize};

/// The outer error envelope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

/// A stable machine-readable code and a human-readable message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorDetail {
    /// Stable error code, one of [`ErrorCode`], e.g. `CEREMONY_EXPIRED`. Clients branch
    /// on this. (A string, so a client built against an older list still parses a newer
    /// code.)
    #[cfg_attr(feature = "openapi", schema(value_type = ErrorCode))]
    pub code: String,
    /// Human-readable explanation. Never contains secrets or internal detail.
    pub message: String,
    /// Facts the client can act on, for some codes: `UNKNOWN_CREDENTIAL` and
    /// `CREDENTIAL_REVOKED` carry `{credentialId, rpId}` for the Signal API
    /// (`PublicKeyCredential.signalUnknownCredential`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<serde_json::Value>,
}

impl ErrorBody {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            error: ErrorDetail {
                code: code.as_str().to_owned(),
                message: message.into(),
                details: None,
            },
        }
    }
}

macro_rules! error_codes {
    ($($variant:ident => $code:literal: $doc:literal,)*) => {
        /// Every error code the server answers with: the one list the code, the OpenAPI
        /// document and clients share.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
        #[serde(rename_all = "SCREAMING_SNAKE_CASE")]
        pub enum ErrorCode {
            $(
                #[doc = $doc]
                $variant,
            )*
        }

        impl ErrorCode {
            pub const ALL: &'static [ErrorCode] = &[$(Self::$variant),*];

            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $code,)*
                }
            }
        }
    };
}

error_codes! {
    MalformedJson => "MALFORMED_JSON": "The body is not valid JSON.",
    InvalidRequest => "INVALID_REQUEST": "The body, path or query does not match the schema.",
    InvalidText => "INVALID_TEXT": "A text input holds a control character.",
    InvalidPath => "INVALID_PATH": "A path parameter is malformed.",
    InvalidNickname => "INVALID_NICKNAME": "A passkey nickname is too long or holds control characters.",
    InvalidEmail => "INVALID_EMAIL": "Not a valid email address.",
    InvalidCredentialId => "INVALID_CREDENTIAL_ID": "A credential id is not base64url.",
    InvalidCursor => "INVALID_CURSOR": "An audit-log cursor this server did not issue.",
    MalformedCredential => "MALFORMED_CREDENTIAL": "The WebAuthn response could not be decoded.",
    Unauthenticated => "UNAUTHENTICATED": "A token is missing or not valid.",
    ReauthRequired => "REAUTH_REQUIRED": "Adding or deleting a passkey needs a recent sign-in.",
    SessionRevoked => "SESSION_REVOKED": "The session was ended by an account reset.",
    NotAnAdmin => "NOT_AN_ADMIN": "The signed-in user is not a member of RP_ADMIN_GROUP.",
    NotFound => "NOT_FOUND": "No such endpoint.",
    UnknownSite => "UNKNOWN_SITE": "No site of this deployment answers on this host (or serves this user pool).",
    MethodNotAllowed => "METHOD_NOT_ALLOWED": "The endpoint does not accept this method.",
    CredentialNotFound => "CREDENTIAL_NOT_FOUND": "No such passkey (or not the caller's).",
    UserNotFound => "USER_NOT_FOUND": "No such user.",
    EnrolmentTokenNotFound => "ENROLMENT_TOKEN_NOT_FOUND": "No such enrolment token.",
    SignupDisabled => "SIGNUP_DISABLED": "Passkey-first sign-up is off.",
    EmailDisabled => "EMAIL_DISABLED": "Email codes are off (no RP_EMAIL_TRANSPORT).",
    EmailSigninDisabled => "EMAIL_SIGNIN_DISABLED": "Signing in with an email code is off (RP_EMAIL_SIGNIN).",
    EmailNotVerified => "EMAIL_NOT_VERIFIED": "Sign-up needs a signupToken from a verified email code.",
    CodeInvalid => "CODE_INVALID": "The email code is wrong.",
    CodeLocked => "CODE_LOCKED": "Too many wrong email codes for this address; see Retry-After, or sign in another way.",
    CodeExpired => "CODE_EXPIRED": "The email code expired, was used, or ran out of attempts; ask for a new one.",
    AdminApiDisabled => "ADMIN_API_DISABLED": "The admin API is off (no RP_ADMIN_TOKEN).",
    CredentialExists => "CREDENTIAL_EXISTS": "The passkey is already registered.",
    PolicyViolation => "POLICY_VIOLATION": "The passkey breaks the user's passkey policy (`details`: `policy`, `rule`).",
    TooManyPasskeys => "TOO_MANY_PASSKEYS": "The account has as many passkeys as it may (RP_MAX_PASSKEYS_PER_USER); delete one first.",
    EmailTaken => "EMAIL_TAKEN": "An account with this email exists.",
    CeremonyNotFound => "CEREMONY_NOT_FOUND": "The ceremony does not exist or was used.",
    CeremonyExpired => "CEREMONY_EXPIRED": "The ceremony expired.",
    SignInRequestExpired => "SIGN_IN_REQUEST_EXPIRED": "The sign-in page's request expired or was replaced by another; go back to the application and start again.",
    SignInNotValid => "SIGN_IN_NOT_VALID": "The sign-in could not be used for this request (spent, expired, or earned before it); sign in again.",
    PasskeyRequired => "PASSKEY_REQUIRED": "The application asked for a passkey sign-in; an email code does not do.",
    ProviderOff => "PROVIDER_OFF": "The OpenID provider is off (no RP_OIDC_ISSUER).",
    PayloadTooLarge => "PAYLOAD_TOO_LARGE": "The body is too large.",
    UnsupportedMediaType => "UNSUPPORTED_MEDIA_TYPE": "The body is not application/json.",
    VerificationFailed => "VERIFICATION_FAILED": "The WebAuthn response did not verify.",
    UnknownCredential => "UNKNOWN_CREDENTIAL": "The passkey is not registered.",
    CredentialRevoked => "CREDENTIAL_REVOKED": "The passkey was removed from the account.",
    CounterRegression => "COUNTER_REGRESSION": "The signature counter went backwards.",
    OriginNotAllowed => "ORIGIN_NOT_ALLOWED": "The response came from an origin not allowed.",
    UserVerificationRequired => "USER_VERIFICATION_REQUIRED": "User verification (PIN or biometrics) is required.",
    BackupFlagsInconsistent => "BACKUP_FLAGS_INCONSISTENT": "The backup flags contradict the registered passkey.",
    RequestTimeout => "REQUEST_TIMEOUT": "The request took too long (a slow body); send it again at once.",
    RateLimited => "RATE_LIMITED": "Too many requests; see Retry-After.",
    Unavailable => "UNAVAILABLE": "A dependency (Postgres, Cognito) is unavailable; see Retry-After.",
    JwksUnavailable => "JWKS_UNAVAILABLE": "The user pool's signing keys cannot be fetched; see Retry-After.",
    Internal => "INTERNAL": "A bug; details are in the server log.",
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_serialise_as_their_names_and_are_distinct() {
        let mut seen = std::collections::HashSet::new();
        for code in ErrorCode::ALL {
            assert!(seen.insert(code.as_str()), "{} twice", code.as_str());
            assert_eq!(
                serde_json::to_value(code).ok(),
                Some(serde_json::Value::String(code.as_str().to_owned()))
            );
        }
    }
}
