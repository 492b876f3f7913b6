//! A Cognito-shaped token issuer for tests: an RSA key committed with the test kit
//! (`keys/`, test-only: generating keys per test cost time for nothing), its JWKS served
//! over loopback HTTP at `<issuer>/.well-known/jwks.json`, and access/id tokens with
//! Cognito's claims. Negative tests can mint anything (another key, `alg: none`, ...).

use std::net::SocketAddr;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Context as _;
use axum::Router;
use axum::routing::get;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

pub const POOL_ID: &str = "eu-west-1_TestPool";

/// An RSA signing key with its JWK.
pub struct SigningKey {
    pub kid: String,
    encoding: EncodingKey,
    jwk: Value,
}

impl SigningKey {
    /// The pool's key.
    pub fn pool(kid: &str) -> anyhow::Result<Self> {
        Self::committed(
            kid,
            include_str!("../keys/pool.pem"),
            include_str!("../keys/pool.jwk.json"),
        )
    }

    /// A key the pool never published: what an impostor signs with.
    pub fn impostor(kid: &str) -> anyhow::Result<Self> {
        Self::committed(
            kid,
            include_str!("../keys/impostor.pem"),
            include_str!("../keys/impostor.jwk.json"),
        )
    }

    fn committed(kid: &str, pem: &str, jwk: &str) -> anyhow::Result<Self> {
        let encoding = EncodingKey::from_rsa_pem(pem.as_bytes()).context("loading the RSA key")?;
        let mut jwk: Value = serde_json::from_str(jwk).context("reading the JWK")?;
        jwk["kid"] = Value::String(kid.to_owned());
        Ok(Self {
            kid: kid.to_owned(),
            encoding,
            jwk,
        })
    }

    /// The public key as a JWK (with its `kid`).
    pub fn jwk(&self) -> &Value {
        &self.jwk
    }

    pub fn sign(&self, claims: &Value) -> anyhow::Result<String> {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.encoding).context("signing a token")
    }
}

/// Serves a JWKS and mints tokens like a Cognito user pool.
pub struct TokenIssuer {
    pub key: SigningKey,
    /// The pool's id: the issuer's last path segment.
    pub pool_id: String,
    pub issuer: String,
    pub jwks_url: String,
    pub client_id: String,
    _server: tokio::task::JoinHandle<()>,
}

pub fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl TokenIssuer {
    pub async fn start() -> anyhow::Result<Self> {
        Self::start_for_pool(POOL_ID).await
    }

    /// An issuer of the pool `pool_id` (another site's).
    pub async fn start_for_pool(pool_id: &str) -> anyhow::Result<Self> {
        let key = SigningKey::pool("test-key-1")?;
        let jwks = json!({ "keys": [key.jwk.clone()] });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr: SocketAddr = listener.local_addr()?;
        let router = Router::new().route(
            &format!("/{pool_id}/.well-known/jwks.json"),
            get(move || {
                let jwks = jwks.clone();
                async move { axum::Json(jwks) }
            }),
        );
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        let issuer = format!("http://{addr}/{pool_id}");
        Ok(Self {
            key,
            pool_id: pool_id.to_owned(),
            jwks_url: format!("{issuer}/.well-known/jwks.json"),
            issuer,
            client_id: "testclient0123456789abcdef".to_owned(),
            _server: server,
        })
    }

    /// The claims of a valid access token for `sub`/`username`.
    pub fn access_claims(&self, sub: &str, username: &str) -> Value {
        let now = now_secs();
        json!({
            "sub": sub,
            "iss": self.issuer,
            "client_id": self.client_id,
            "origin_jti": uuid::Uuid::new_v4(),
            "event_id": uuid::Uuid::new_v4(),
            "token_use": "access",
            "scope": "aws.cognito.signin.user.admin",
            "auth_time": now,
            "iat": now,
            "exp": now + 3600,
            "jti": uuid::Uuid::new_v4(),
            "username": username,
        })
    }

    pub fn access_token(&self, sub: &str, username: &str) -> anyhow::Result<String> {
        self.key.sign(&self.access_claims(sub, username))
    }

    /// Signs arbitrary claims with the pool's key.
    pub fn sign(&self, claims: &Value) -> anyhow::Result<String> {
        self.key.sign(claims)
    }
}

/// A token with `alg: none` and no signature.
pub fn unsigned_token(claims: &Value) -> String {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
    let body = URL_SAFE_NO_PAD.encode(claims.to_string());
    format!("{header}.{body}.")
}
