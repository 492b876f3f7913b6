//! Who may call what: Cognito access tokens (verified against the pool's JWKS) on the
//! browser-facing endpoints, and the shared service and admin tokens on `/internal`
//! and `/admin`, compared in constant time.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, header};
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use secrecy::{ExposeSecret as _, SecretString};
use serde::Deserialize;
use sha2::{Digest as _, Sha256};
use std::sync::{Arc, RwLock};
use subtle::ConstantTimeEq as _;
use url::Url;

pub use crate::config::JWKS_MIN_REFRESH;

/// The bearer token of an `Authorization` header, if well-formed.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// Whether a bearer token has a JWT's shape (three base64url parts): only those are
/// worth verifying as Cognito access tokens.
pub fn looks_like_jwt(token: &str) -> bool {
    let parts: Vec<&str> = token.split('.').collect();
    parts.len() == 3
        && parts[..2].iter().all(|p| !p.is_empty())
        && parts.iter().all(|p| {
            p.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

/// Compares a presented token with the configured one in constant time. Both are hashed
/// first so neither the content nor the length of the secret leaks through timing.
pub fn token_matches(presented: &str, expected: &SecretString) -> bool {
    let a = Sha256::digest(presented.as_bytes());
    let b = Sha256::digest(expected.expose_secret().as_bytes());
    a.ct_eq(&b).into()
}

/// The name of the admin whose token this is, among `tokens` (each compared in constant
/// time, all of them every time).
pub fn admin_named(presented: &str, tokens: &[crate::config::NamedToken]) -> Option<String> {
    let presented = Sha256::digest(presented.as_bytes());
    let mut found = None;
    for token in tokens {
        if bool::from(presented.ct_eq(&token.sha256)) {
            found = Some(token.name.clone());
        }
    }
    found
}

/// The identity proven by a valid Cognito access token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CognitoUser {
    pub sub: String,
    pub username: String,
    pub client_id: String,
    /// When the user last authenticated (the token's `auth_time`, seconds since the
    /// epoch); refreshed tokens keep it, so it tells how fresh the sign-in is.
    pub auth_time: Option<i64>,
    /// When the token was issued (`iat`, seconds since the epoch).
    pub issued_at: Option<i64>,
    /// The user pool groups the token names (`cognito:groups`): they choose the passkey
    /// policy.
    pub groups: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("malformed token")]
    Malformed,
    #[error("unsupported algorithm")]
    Algorithm,
    #[error("unknown signing key")]
    UnknownKey,
    #[error("invalid token: {0}")]
    Invalid(#[from] jsonwebtoken::errors::Error),
    #[error("not an access token")]
    NotAccessToken,
    #[error("app client not allowed")]
    ClientNotAllowed,
    #[error("could not fetch the JWKS: {0}")]
    Jwks(String),
}

#[derive(Debug, Deserialize)]
struct AccessClaims {
    sub: String,
    token_use: String,
    client_id: Option<String>,
    username: Option<String>,
    #[serde(rename = "cognito:username")]
    cognito_username: Option<String>,
    auth_time: Option<i64>,
    iat: Option<i64>,
    #[serde(rename = "cognito:groups", default)]
    groups: Vec<String>,
}

/// The pool's keys as last fetched. Readers copy an `Arc` under a lock held for no
/// longer than that: a request whose `kid` is cached never waits for a refresh.
#[derive(Default)]
struct KeyCache {
    keys: Arc<HashMap<String, DecodingKey>>,
    /// When a refresh was last attempted, and whether it worked.
    last_attempt: Option<(Instant, bool)>,
}

/// Verifies Cognito access tokens: RS256 signature by a key of the pool's JWKS
/// (cached, refetched on an unknown `kid`), `iss`, `exp`, `token_use = access` and an
/// allow-listed `client_id`.
pub struct AccessTokenVerifier {
    issuer: String,
    jwks_url: Url,
    client_ids: Vec<String>,
    http: reqwest::Client,
    cache: RwLock<KeyCache>,
    /// Single flight: at most one refresh at a time; only unknown-`kid` requests wait on it.
    refresh: tokio::sync::Mutex<()>,
    min_refresh: Duration,
}

impl AccessTokenVerifier {
    pub fn new(
        issuer: String,
        jwks_url: Url,
        client_ids: Vec<String>,
        http: reqwest::Client,
        min_refresh: Duration,
    ) -> Self {
        Self {
            issuer,
            jwks_url,
            client_ids,
            http,
            cache: RwLock::new(KeyCache::default()),
            refresh: tokio::sync::Mutex::new(()),
            min_refresh,
        }
    }

    pub async fn verify(&self, token: &str) -> Result<CognitoUser, TokenError> {
        // Fails for `alg: none` and anything else jsonwebtoken cannot name.
        let header = jsonwebtoken::decode_header(token).map_err(|_| TokenError::Malformed)?;
        if header.alg != Algorithm::RS256 {
            return Err(TokenError::Algorithm);
        }
        let kid = header.kid.ok_or(TokenError::UnknownKey)?;
        let key = self.key(&kid).await?;

        let mut validation = Validation::new(Algorithm::RS256);
        validation.set_issuer(&[&self.issuer]);
        // Cognito access tokens carry `client_id`, not `aud`; it is checked below.
        validation.validate_aud = false;
        validation.leeway = 30;
        validation.set_required_spec_claims(&["exp", "iss", "sub"]);
        let data = jsonwebtoken::decode::<AccessClaims>(token, &key, &validation)?;
        let claims = data.claims;

        if claims.token_use != "access" {
            return Err(TokenError::NotAccessToken);
        }
        let client_id = claims.client_id.ok_or(TokenError::ClientNotAllowed)?;
        if !self.client_ids.iter().any(|c| c == &client_id) {
            return Err(TokenError::ClientNotAllowed);
        }
        let username = claims
            .username
            .or(claims.cognito_username)
            .unwrap_or_else(|| claims.sub.clone());
        if claims.sub.is_empty() {
            return Err(TokenError::Malformed);
        }
        Ok(CognitoUser {
            sub: claims.sub,
            username,
            client_id,
            auth_time: claims.auth_time,
            issued_at: claims.iat,
            groups: claims.groups,
        })
    }

    /// What the cache says about `kid`: its key, a verdict, or that a refresh may help.
    fn cached(&self, kid: &str) -> Option<Result<DecodingKey, TokenError>> {
        let cache = self.cache.read().unwrap_or_else(|p| p.into_inner());
        if let Some(k) = cache.keys.get(kid) {
            return Some(Ok(k.clone()));
        }
        match cache.last_attempt {
            Some((at, ok)) if at.elapsed() < self.min_refresh => Some(Err(if ok {
                TokenError::UnknownKey
            } else {
                // The last refresh failed: the key may well exist; we cannot tell.
                TokenError::Jwks("the JWKS could not be fetched".to_owned())
            })),
            _ => None,
        }
    }

    async fn key(&self, kid: &str) -> Result<DecodingKey, TokenError> {
        if let Some(answer) = self.cached(kid) {
            return answer;
        }
        let _single_flight = self.refresh.lock().await;
        // A refresh may have finished while this request waited for it.
        if let Some(answer) = self.cached(kid) {
            return answer;
        }
        let fetched = self.fetch().await.map(|set| {
            set.keys
                .iter()
                .filter_map(|jwk| {
                    let kid = jwk.common.key_id.clone()?;
                    DecodingKey::from_jwk(jwk).ok().map(|k| (kid, k))
                })
                .collect::<HashMap<_, _>>()
        });
        let mut cache = self.cache.write().unwrap_or_else(|p| p.into_inner());
        cache.last_attempt = Some((Instant::now(), fetched.is_ok()));
        let keys = fetched?;
        tracing::info!(keys = keys.len(), "refreshed the user pool's JWKS");
        cache.keys = Arc::new(keys);
        cache.keys.get(kid).cloned().ok_or(TokenError::UnknownKey)
    }

    async fn fetch(&self) -> Result<JwkSet, TokenError> {
        let response = self
            .http
            .get(self.jwks_url.clone())
            .timeout(Duration::from_secs(5))
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .map_err(|e| TokenError::Jwks(e.without_url().to_string()))?;
        response
            .json::<JwkSet>()
            .await
            .map_err(|e| TokenError::Jwks(e.without_url().to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn token_comparison_accepts_only_the_exact_token() {
        let expected = SecretString::from("s3cret-token-0123456789abcdef0123".to_owned());
        assert!(token_matches(
            "s3cret-token-0123456789abcdef0123",
            &expected
        ));
        assert!(!token_matches(
            "s3cret-token-0123456789abcdef012",
            &expected
        ));
        assert!(!token_matches(
            "s3cret-token-0123456789abcdef01234",
            &expected
        ));
        assert!(!token_matches(
            "S3cret-token-0123456789abcdef0123",
            &expected
        ));
        assert!(!token_matches("", &expected));
    }

    #[test]
    fn bearer_parsing() {
        let mut h = HeaderMap::new();
        assert_eq!(bearer(&h), None);
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer abc"),
        );
        assert_eq!(bearer(&h), Some("abc"));
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("bearer   xyz "),
        );
        assert_eq!(bearer(&h), Some("xyz"));
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic abc"));
        assert_eq!(bearer(&h), None);
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer "));
        assert_eq!(bearer(&h), None);
    }
}
