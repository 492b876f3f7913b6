//! rp-server as an OpenID provider (authorization code flow only), so that apps which
//! sign in by redirect — Cognito's managed login federating to us, ALB authentication,
//! any OIDC client — get passkeys. This module holds what needs no I/O: the signing keys,
//! the authorization request's checks, how a sign-in is described (`amr`, `acr`), PKCE,
//! and the discovery document. The flows (one layer up) use it. Decision 0014.

pub mod keys;
pub mod request;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;
use sha2::{Digest as _, Sha256};

use crate::model::Factor;

/// The `acr` of a passkey sign-in.
pub const ACR_PASSKEY: &str = "urn:rp-server:acr:passkey";
/// The `acr` of an email one-time code.
pub const ACR_EMAIL_OTP: &str = "urn:rp-server:acr:email-otp";
/// The `acr` of a recovery code.
pub const ACR_RECOVERY_CODE: &str = "urn:rp-server:acr:recovery-code";

/// How long an authorization code may wait for its redemption.
pub const CODE_TTL: std::time::Duration = std::time::Duration::from_secs(60);
/// How long an authorization request (the sign-in page) stays open.
pub const REQUEST_TTL: std::time::Duration = std::time::Duration::from_secs(600);
/// Lifetime of ID tokens and of the opaque access tokens for `/oidc/userinfo`.
pub const TOKEN_TTL: std::time::Duration = std::time::Duration::from_secs(600);

/// How a user signed in, as the tokens tell it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Authentication {
    pub factor: Factor,
    /// For a passkey: whether it is device-bound (not backup eligible).
    pub device_bound: bool,
    /// For a passkey: whether the authenticator verified the user (PIN or biometric).
    pub user_verified: bool,
}

impl Authentication {
    /// RFC 8176 methods: `hwk` (a device-bound passkey) or `swk` (a synced one), plus
    /// `user` and `mfa` when the authenticator verified the user — which way (PIN,
    /// fingerprint, face) it does not say, so neither `pin` nor `fpt` is claimed; `otp`
    /// and `email` for an email code; `otp` for a recovery code.
    pub fn amr(&self) -> Vec<&'static str> {
        match self.factor {
            Factor::Passkey => {
                let mut amr = vec![if self.device_bound { "hwk" } else { "swk" }];
                if self.user_verified {
                    amr.extend(["user", "mfa"]);
                }
                amr
            }
            Factor::Email => vec!["otp", "email"],
            Factor::Recovery => vec!["otp"],
        }
    }

    pub fn acr(&self) -> &'static str {
        match self.factor {
            Factor::Passkey => ACR_PASSKEY,
            Factor::Email => ACR_EMAIL_OTP,
            Factor::Recovery => ACR_RECOVERY_CODE,
        }
    }
}

/// Form-encoded parameters (an authorization request's query, a token request's body),
/// first value of each, and whether any was repeated (RFC 6749 §3.1, §3.2: a request
/// must not repeat one).
pub struct Params {
    list: Vec<(String, String)>,
    pub repeated: bool,
}

impl Params {
    pub fn parse(encoded: &[u8]) -> Self {
        let mut list: Vec<(String, String)> = Vec::new();
        let mut repeated = false;
        for (k, v) in url::form_urlencoded::parse(encoded) {
            repeated |= list.iter().any(|(seen, _)| *seen == k);
            list.push((k.into_owned(), v.into_owned()));
        }
        Self { list, repeated }
    }

    /// The first value of `name`, unless absent or empty.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.list
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    }
}

/// Whether a PKCE `code_verifier` (RFC 7636: 43-128 unreserved characters) answers the
/// S256 `challenge`, compared in constant time.
pub fn pkce_answers(challenge: &str, verifier: &str) -> bool {
    let well_formed = (43..=128).contains(&verifier.len())
        && verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b));
    let hashed = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    well_formed && subtle::ConstantTimeEq::ct_eq(hashed.as_bytes(), challenge.as_bytes()).into()
}

/// SHA-256, as a client's `secret_sha256` holds its secret.
pub fn sha256(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// The ID token's claims.
#[derive(Debug, Serialize)]
pub struct IdTokenClaims<'a> {
    pub iss: &'a str,
    pub sub: &'a str,
    pub aud: &'a str,
    pub exp: i64,
    pub iat: i64,
    pub auth_time: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nonce: Option<&'a str>,
    pub amr: Vec<&'a str>,
    pub acr: &'a str,
    /// The client the token was issued to (OIDC Core §2: when `aud` is one client).
    pub azp: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email_verified: Option<bool>,
}

/// `/.well-known/openid-configuration`.
pub fn discovery(issuer: &str, algorithms: &[&str]) -> serde_json::Value {
    let at = |path: &str| format!("{}{path}", issuer.trim_end_matches('/'));
    serde_json::json!({
        "issuer": issuer,
        "authorization_endpoint": at("/oidc/authorize"),
        "token_endpoint": at("/oidc/token"),
        "userinfo_endpoint": at("/oidc/userinfo"),
        "jwks_uri": at("/oidc/jwks"),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": algorithms,
        "scopes_supported": request::SCOPES,
        "claims_supported": ["iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "amr", "acr", "azp", "email", "email_verified"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "code_challenge_methods_supported": ["S256"],
        "acr_values_supported": [ACR_PASSKEY, ACR_EMAIL_OTP, ACR_RECOVERY_CODE],
        "prompt_values_supported": ["login", "none"],
        "claims_parameter_supported": false,
        "request_parameter_supported": false,
        "request_uri_parameter_supported": false,
        "authorization_response_iss_parameter_supported": true,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn how_a_sign_in_is_described() {
        let passkey = |device_bound, user_verified| Authentication {
            factor: Factor::Passkey,
            device_bound,
            user_verified,
        };
        assert_eq!(passkey(true, true).amr(), ["hwk", "user", "mfa"]);
        assert_eq!(passkey(false, true).amr(), ["swk", "user", "mfa"]);
        assert_eq!(passkey(false, false).amr(), ["swk"]);
        assert_eq!(passkey(true, true).acr(), ACR_PASSKEY);
        let email = Authentication {
            factor: Factor::Email,
            device_bound: false,
            user_verified: false,
        };
        assert_eq!(email.amr(), ["otp", "email"]);
        assert_eq!(email.acr(), ACR_EMAIL_OTP);
    }

    #[test]
    fn pkce_s256() {
        // RFC 7636 appendix B.
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
        assert!(pkce_answers(challenge, verifier));
        assert!(!pkce_answers(challenge, &verifier.replace('d', "e")));
        assert!(!pkce_answers(challenge, challenge));
        // Too short, or with a character outside the unreserved set.
        assert!(!pkce_answers(
            &URL_SAFE_NO_PAD.encode(Sha256::digest(b"short")),
            "short"
        ));
        let odd = format!("{verifier}+");
        assert!(!pkce_answers(
            &URL_SAFE_NO_PAD.encode(Sha256::digest(odd.as_bytes())),
            &odd
        ));
    }
}
