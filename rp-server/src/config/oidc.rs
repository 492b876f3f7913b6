//! The OpenID provider's settings: `oidc_issuer`, `oidc_signing_key` and the clients
//! (`[[oidc_clients]]` in the file, or `RP_OIDC_CLIENTS` as a JSON array).

use std::sync::Arc;

use secrecy::ExposeSecret as _;
use serde::{Deserialize, Serialize, Serializer};
use url::Url;

use super::settings::{Settings, text};
use super::tokens::sha256_hex;
use super::{ConfigError, Origin, bad, check_https};
use crate::oidc::keys::SigningKeys;
use crate::oidc::request::SCOPES;

/// One client as written (`[[oidc_clients]]`).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct OidcClientSettings {
    pub client_id: String,
    /// Hex SHA-256 of the client secret.
    #[serde(default, serialize_with = "hash_redacted")]
    pub secret_sha256: Option<String>,
    /// The secret itself, for orchestrators that inject `RP_OIDC_CLIENTS` from a secret
    /// store (only its hash is kept; never printed). Prefer `secret_sha256` in files.
    #[serde(default, serialize_with = "secret_redacted")]
    pub secret: Option<secrecy::SecretString>,
    /// A public client (a browser or native app): no secret, PKCE required.
    #[serde(default)]
    pub public: bool,
    pub redirect_uris: Vec<String>,
    /// A subset of `openid email profile` [default: all three].
    #[serde(default)]
    pub scopes: Option<Vec<String>>,
    /// For the Cognito user pool as a client: the name of the OIDC identity provider in
    /// the pool, so a user's federated identity is linked to their existing Cognito user.
    #[serde(default)]
    pub cognito_provider_name: Option<String>,
}

fn secret_redacted<S: Serializer>(
    v: &Option<secrecy::SecretString>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match v {
        Some(_) => s.serialize_str("(set, redacted)"),
        None => s.serialize_none(),
    }
}

fn hash_redacted<S: Serializer>(v: &Option<String>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(_) => s.serialize_str("(hash redacted)"),
        None => s.serialize_none(),
    }
}

/// A registered client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OidcClient {
    pub client_id: String,
    pub secret_sha256: Option<[u8; 32]>,
    pub public: bool,
    pub redirect_uris: Vec<String>,
    pub scopes: Vec<String>,
    pub cognito_provider_name: Option<String>,
}

/// The provider, when `oidc_issuer` is set.
#[derive(Debug, Clone)]
pub struct OidcConfig {
    /// As configured, without a trailing slash: the `iss` of every ID token.
    pub issuer: String,
    pub keys: Arc<SigningKeys>,
    pub clients: Vec<OidcClient>,
}

const ISSUER: &str = "RP_OIDC_ISSUER";
const KEY: &str = "RP_OIDC_SIGNING_KEY";
const CLIENTS: &str = "RP_OIDC_CLIENTS";

/// The provider's settings, checked; its issuer's origin is added to `origins` (the
/// sign-in page runs its ceremonies there).
pub(super) fn oidc(
    s: &Settings,
    rp_id: &str,
    origins: &mut Vec<Origin>,
) -> Result<Option<OidcConfig>, ConfigError> {
    let Some(raw) = text(&s.oidc_issuer) else {
        if s.oidc_signing_key.is_some() || !s.oidc_clients.is_empty() {
            return Err(bad(
                ISSUER,
                "is required when an OIDC signing key or clients are set",
            ));
        }
        return Ok(None);
    };
    let url = Url::parse(raw).map_err(|e| bad(ISSUER, format!("is not a URL ({e})")))?;
    check_https(ISSUER, &url)?;
    if url.path() != "/"
        || url.query().is_some()
        || url.fragment().is_some()
        || !url.username().is_empty()
    {
        return Err(bad(
            ISSUER,
            "is an origin only: no path, query, fragment or user",
        ));
    }
    let host = url.host_str().unwrap_or_default();
    if host != rp_id && !host.ends_with(&format!(".{rp_id}")) {
        return Err(bad(
            ISSUER,
            format!(
                "its host must be RP_ID ({rp_id}) or a subdomain of it: the sign-in page runs passkey ceremonies there"
            ),
        ));
    }
    let key = s
        .oidc_signing_key
        .as_ref()
        .filter(|k| !k.expose_secret().trim().is_empty())
        .ok_or_else(|| {
            bad(
                KEY,
                "is required with RP_OIDC_ISSUER (a P-256 or RSA private key in PEM)",
            )
        })?;
    let keys = SigningKeys::from_pem(key.expose_secret()).map_err(|e| bad(KEY, e))?;
    if s.oidc_clients.is_empty() {
        return Err(bad(
            CLIENTS,
            "at least one client is required with RP_OIDC_ISSUER",
        ));
    }
    let clients = s
        .oidc_clients
        .iter()
        .map(client)
        .collect::<Result<Vec<_>, _>>()?;
    for (i, c) in clients.iter().enumerate() {
        if clients[..i].iter().any(|o| o.client_id == c.client_id) {
            return Err(bad(
                CLIENTS,
                format!("client `{}` is registered twice", c.client_id),
            ));
        }
    }
    let origin = Origin::Web(url.clone());
    if !origins.contains(&origin) {
        origins.push(origin);
    }
    Ok(Some(OidcConfig {
        issuer: raw.trim_end_matches('/').to_owned(),
        keys: Arc::new(keys),
        clients,
    }))
}

fn client(c: &OidcClientSettings) -> Result<OidcClient, ConfigError> {
    let id = c.client_id.trim();
    let named = |reason: String| bad(CLIENTS, format!("client `{id}`: {reason}"));
    if id.is_empty() || id.len() > 128 || !id.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(bad(
            CLIENTS,
            "a client_id is 1-128 visible ASCII characters",
        ));
    }
    let secret_sha256 = match (&c.secret_sha256, &c.secret, c.public) {
        (Some(_), _, true) | (_, Some(_), true) => {
            return Err(named("a public client has no secret".into()));
        }
        (Some(_), Some(_), false) => {
            return Err(named("give secret_sha256 or secret, not both".into()));
        }
        (None, None, false) => {
            return Err(named(
                "needs secret_sha256 (hex SHA-256 of its secret) or public = true".into(),
            ));
        }
        (None, None, true) => None,
        (Some(hex), None, false) => Some(sha256_hex(hex).ok_or_else(|| {
            named("secret_sha256 must be 64 hex digits (the SHA-256 of the secret)".into())
        })?),
        (None, Some(secret), false) => {
            let secret = secret.expose_secret();
            if secret.len() < super::MIN_TOKEN_LEN {
                return Err(named(format!(
                    "its secret must be at least {} characters",
                    super::MIN_TOKEN_LEN
                )));
            }
            Some(crate::oidc::sha256(secret.as_bytes()))
        }
    };
    if c.redirect_uris.is_empty() {
        return Err(named("at least one redirect URI is required".into()));
    }
    for uri in &c.redirect_uris {
        let url = Url::parse(uri)
            .map_err(|e| named(format!("redirect URI `{uri}` is not a URL ({e})")))?;
        let plain_http_ok = url.scheme() == "http" && rp_shared::loopback::is_loopback(&url);
        if url.scheme() != "https" && !plain_http_ok {
            return Err(named(format!(
                "redirect URI `{uri}` must be https (http only for a loopback host)"
            )));
        }
        if url.fragment().is_some() {
            return Err(named(format!("redirect URI `{uri}` has a fragment")));
        }
    }
    let scopes = match &c.scopes {
        None => SCOPES.iter().map(|s| s.to_string()).collect(),
        Some(scopes) => scopes.clone(),
    };
    if let Some(odd) = scopes.iter().find(|s| !SCOPES.contains(&s.as_str())) {
        return Err(named(format!(
            "scope `{odd}` is not one of openid, email, profile"
        )));
    }
    if !scopes.iter().any(|s| s == "openid") {
        return Err(named("its scopes must include openid".into()));
    }
    Ok(OidcClient {
        client_id: id.to_owned(),
        secret_sha256,
        public: c.public,
        redirect_uris: c.redirect_uris.clone(),
        scopes,
        cognito_provider_name: c
            .cognito_provider_name
            .as_deref()
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(str::to_owned),
    })
}
