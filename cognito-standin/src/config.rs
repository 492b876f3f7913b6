//! The stand-in's configuration file (TOML): where it listens, and its user pools with
//! their app clients, triggers and seed users.
//!
//! ```toml
//! listen = "127.0.0.1:9229"
//! public_url = "http://localhost:9229"    # optional; the issuer is <public_url>/<pool id>
//!
//! [[pools]]
//! id = "eu-west-1_LocalPool"
//! username_attributes = ["email"]         # sign in with the email; usernames are UUIDs
//!                                         # (or alias_attributes = ["email"], or neither)
//! [pools.password_policy]                 # Cognito's defaults
//! minimum_length = 8
//! require_lowercase = true
//! require_uppercase = true
//! require_numbers = true
//! require_symbols = true
//!
//! domain = "local-pool"                   # hosted endpoints at <public_url>/<pool id>/oauth2/*
//!
//! [[pools.identity_providers]]            # an OIDC identity provider (CreateIdentityProvider)
//! name = "Passkeys"
//! client_id = "cognito-pool"
//! client_secret = "…"
//! issuer = "https://id.example.com"
//! authorize_scopes = "openid email"
//! attribute_mapping = { email = "email", email_verified = "email_verified" }
//!
//! [pools.triggers]                        # Lambda function names
//! lambda_endpoint = "http://127.0.0.1:9001"   # Invoke API; omit for in-process triggers
//! define_auth_challenge = "cognito-triggers"
//! create_auth_challenge = "cognito-triggers"
//! verify_auth_challenge_response = "cognito-triggers"
//! pre_sign_up = "cognito-triggers"
//!
//! [[pools.clients]]
//! id = "localclient"
//! explicit_auth_flows = ["ALLOW_CUSTOM_AUTH", "ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]
//! prevent_user_existence_errors = true    # Cognito: ENABLED; off (LEGACY) by default
//! auth_session_validity = 3               # minutes a challenge Session lasts (3–15)
//! # secret = "…"                          # a confidential client: SECRET_HASH required
//! callback_urls = ["http://localhost:8000/callback"]   # the hosted endpoints (with a domain)
//! allowed_oauth_flows = ["code"]
//! allowed_oauth_scopes = ["openid", "email"]
//! allowed_oauth_flows_user_pool_client = true
//! supported_identity_providers = ["COGNITO", "Passkeys"]
//!
//! [[pools.users]]
//! username = "alice@example.com"
//! password = "Passw0rd!Passw0rd"
//! attributes = { email = "alice@example.com", email_verified = "true" }
//! ```

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;

use anyhow::{Context as _, bail};
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// Base URL clients reach the stand-in at; defaults to `http://<listen>`.
    pub public_url: Option<String>,
    pub pools: Vec<PoolConfig>,
}

fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 9229))
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PoolConfig {
    /// `<region>_<id>`, e.g. `eu-west-1_LocalPool`.
    pub id: String,
    /// `email` here makes the email a sign-in name and usernames generated UUIDs.
    #[serde(default)]
    pub username_attributes: Vec<String>,
    /// `email` here lets a verified email stand in for the username.
    #[serde(default)]
    pub alias_attributes: Vec<String>,
    /// Access and id token lifetime.
    #[serde(default = "default_token_ttl")]
    pub token_ttl_secs: u64,
    #[serde(default)]
    pub password_policy: PasswordPolicy,
    /// Operations that answer `InternalErrorException` (a test plays a Cognito outage
    /// of one call with it; not a Cognito setting).
    #[serde(default)]
    pub unavailable_operations: Vec<String>,
    #[serde(default)]
    pub triggers: TriggerConfig,
    #[serde(default)]
    pub clients: Vec<ClientConfig>,
    #[serde(default)]
    pub users: Vec<SeedUser>,
    /// The pool's domain prefix: with one, the hosted endpoints (`/oauth2/*`, `/logout`)
    /// answer at `<public_url>/<pool id>/…` (Cognito: `https://<prefix>.auth.<region>.amazoncognito.com`).
    #[serde(default)]
    pub domain: Option<String>,
    /// OIDC identity providers (`CreateIdentityProvider` adds more at run time).
    #[serde(default)]
    pub identity_providers: Vec<IdentityProviderConfig>,
    /// The pool's passkey relying party (`SetUserPoolMfaConfig`'s `WebAuthnConfiguration`).
    #[serde(default)]
    pub web_authn: Option<WebAuthnConfig>,
    /// `Policies.SignInPolicy.AllowedFirstAuthFactors` (`PASSWORD`, `WEB_AUTHN`, …):
    /// `USER_AUTH` offers only these [default: `PASSWORD`].
    #[serde(default = "default_first_factors")]
    pub allowed_first_auth_factors: Vec<String>,
}

fn default_first_factors() -> Vec<String> {
    vec!["PASSWORD".to_owned()]
}

/// Cognito's passkey configuration of a pool.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
pub struct WebAuthnConfig {
    pub relying_party_id: String,
    /// `required` or `preferred` (Cognito's default).
    #[serde(default = "default_user_verification")]
    pub user_verification: String,
}

fn default_user_verification() -> String {
    "preferred".to_owned()
}

/// An OIDC identity provider of the pool (`CreateIdentityProvider` with `ProviderType: OIDC`).
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct IdentityProviderConfig {
    /// `ProviderName`.
    pub name: String,
    /// `ProviderDetails.client_id`.
    pub client_id: String,
    /// `ProviderDetails.client_secret`.
    #[serde(default)]
    pub client_secret: Option<String>,
    /// `ProviderDetails.oidc_issuer`: discovery is read from `<issuer>/.well-known/openid-configuration`.
    pub issuer: String,
    /// `ProviderDetails.authorize_scopes`, space-separated.
    #[serde(default = "default_idp_scopes")]
    pub authorize_scopes: String,
    /// `AttributeMapping`: pool attribute → the provider's claim (`username` → `sub` is implied).
    #[serde(default)]
    pub attribute_mapping: BTreeMap<String, String>,
}

fn default_idp_scopes() -> String {
    "openid".to_owned()
}

fn yes() -> bool {
    true
}
fn default_token_ttl() -> u64 {
    3600
}

/// Cognito's `PasswordPolicyType` (its defaults: 8 characters, every class).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PasswordPolicy {
    #[serde(default = "default_min_password")]
    pub minimum_length: usize,
    #[serde(default = "yes")]
    pub require_lowercase: bool,
    #[serde(default = "yes")]
    pub require_uppercase: bool,
    #[serde(default = "yes")]
    pub require_numbers: bool,
    #[serde(default = "yes")]
    pub require_symbols: bool,
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        Self {
            minimum_length: default_min_password(),
            require_lowercase: true,
            require_uppercase: true,
            require_numbers: true,
            require_symbols: true,
        }
    }
}

fn default_min_password() -> usize {
    8
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TriggerConfig {
    /// Lambda Invoke API endpoint; unset means the triggers run in-process (the local
    /// stack links the handler library).
    pub lambda_endpoint: Option<String>,
    /// How long Cognito waits for one attempt of a trigger (5 s).
    #[serde(default = "default_trigger_timeout")]
    pub timeout_ms: u64,
    /// Attempts of a trigger that times out or meets a Lambda service error (Cognito: 3).
    #[serde(default = "default_attempts")]
    pub attempts: u32,
    pub define_auth_challenge: Option<String>,
    pub create_auth_challenge: Option<String>,
    pub verify_auth_challenge_response: Option<String>,
    pub pre_sign_up: Option<String>,
}

impl Default for TriggerConfig {
    fn default() -> Self {
        Self {
            lambda_endpoint: None,
            timeout_ms: default_trigger_timeout(),
            attempts: default_attempts(),
            define_auth_challenge: None,
            create_auth_challenge: None,
            verify_auth_challenge_response: None,
            pre_sign_up: None,
        }
    }
}

fn default_trigger_timeout() -> u64 {
    5000
}
fn default_attempts() -> u32 {
    3
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientConfig {
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default = "default_flows")]
    pub explicit_auth_flows: Vec<String>,
    /// `PreventUserExistenceErrors: ENABLED`. Off (`LEGACY`) unless set, as for a client
    /// created through the API.
    #[serde(default)]
    pub prevent_user_existence_errors: bool,
    /// `AuthSessionValidity`: minutes a custom-auth or password-verifier `Session` lasts
    /// (3–15, default 3).
    #[serde(default = "default_session_validity")]
    pub auth_session_validity: u32,
    /// Tests only: the session lifetime in seconds, overriding `auth_session_validity`
    /// (Cognito's minimum of 3 minutes is long for a test).
    #[serde(default)]
    pub auth_session_validity_secs_for_tests: Option<u64>,
    /// The client secret of a confidential client: requests must carry `SECRET_HASH`.
    #[serde(default)]
    pub secret: Option<String>,
    /// `CallbackURLs`: where `/oauth2/authorize` may send the browser back (exact match).
    #[serde(default)]
    pub callback_urls: Vec<String>,
    /// `LogoutURLs`: where `/logout` may send the browser.
    #[serde(default)]
    pub logout_urls: Vec<String>,
    /// `AllowedOAuthFlows`: `code` (and `implicit`, which the stand-in refuses to serve).
    #[serde(default)]
    pub allowed_oauth_flows: Vec<String>,
    /// `AllowedOAuthScopes`.
    #[serde(default)]
    pub allowed_oauth_scopes: Vec<String>,
    /// `AllowedOAuthFlowsUserPoolClient`: the hosted endpoints serve this client at all.
    #[serde(default)]
    pub allowed_oauth_flows_user_pool_client: bool,
    /// `SupportedIdentityProviders`: `COGNITO` and names of the pool's providers.
    #[serde(default)]
    pub supported_identity_providers: Vec<String>,
}

fn default_session_validity() -> u32 {
    3
}

impl ClientConfig {
    /// How long a challenge `Session` of this client lasts.
    pub fn session_lifetime_secs(&self) -> u64 {
        self.auth_session_validity_secs_for_tests
            .unwrap_or(u64::from(self.auth_session_validity) * 60)
    }
}

fn default_flows() -> Vec<String> {
    [
        "ALLOW_CUSTOM_AUTH",
        "ALLOW_USER_PASSWORD_AUTH",
        "ALLOW_REFRESH_TOKEN_AUTH",
        "ALLOW_ADMIN_USER_PASSWORD_AUTH",
    ]
    .map(str::to_owned)
    .to_vec()
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedUser {
    /// The sign-in name (an email in pools with `username_attributes = ["email"]`).
    pub username: String,
    pub password: Option<String>,
    #[serde(default)]
    pub attributes: BTreeMap<String, String>,
}

impl Config {
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let config: Config =
            toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
        config.validate()?;
        Ok(config)
    }

    pub fn validate(&self) -> anyhow::Result<()> {
        if self.pools.is_empty() {
            bail!("the configuration has no [[pools]]");
        }
        for p in &self.pools {
            let Some((region, name)) = p.id.split_once('_') else {
                bail!("pool id `{}` must look like <region>_<name>", p.id);
            };
            if region.is_empty() || name.is_empty() {
                bail!("pool id `{}` must look like <region>_<name>", p.id);
            }
            if p.clients.is_empty() {
                bail!("pool `{}` has no [[pools.clients]]", p.id);
            }
            for c in &p.clients {
                if !(3..=15).contains(&c.auth_session_validity) {
                    bail!(
                        "client `{}`: auth_session_validity must be 3–15 minutes",
                        c.id
                    );
                }
            }
            if !(6..=99).contains(&p.password_policy.minimum_length) {
                bail!(
                    "pool `{}`: password_policy.minimum_length must be 6–99",
                    p.id
                );
            }
            for c in &p.clients {
                for f in &c.allowed_oauth_flows {
                    if !["code", "implicit", "client_credentials"].contains(&f.as_str()) {
                        bail!("client `{}`: unknown OAuth flow `{f}`", c.id);
                    }
                }
                for idp in &c.supported_identity_providers {
                    if idp != "COGNITO" && !p.identity_providers.iter().any(|i| &i.name == idp) {
                        bail!(
                            "client `{}`: identity provider `{idp}` is not one of the pool's",
                            c.id
                        );
                    }
                }
                if c.allowed_oauth_flows_user_pool_client && c.callback_urls.is_empty() {
                    bail!(
                        "client `{}`: OAuth flows need callback_urls (as in Cognito)",
                        c.id
                    );
                }
            }
            if p.triggers.attempts == 0 {
                bail!("pool `{}`: triggers.attempts must be at least 1", p.id);
            }
            if !p.username_attributes.is_empty() && !p.alias_attributes.is_empty() {
                bail!(
                    "pool `{}`: username_attributes and alias_attributes exclude each other (as in Cognito)",
                    p.id
                );
            }
            for a in p.username_attributes.iter().chain(&p.alias_attributes) {
                if a != "email" && a != "phone_number" && a != "preferred_username" {
                    bail!("pool `{}`: unsupported attribute `{a}`", p.id);
                }
            }
        }
        Ok(())
    }

    pub fn public_url(&self, bound: SocketAddr) -> String {
        self.public_url
            .clone()
            .unwrap_or_else(|| format!("http://{bound}"))
            .trim_end_matches('/')
            .to_owned()
    }
}

impl PoolConfig {
    /// The pool id after its `<region>_` (what SRP calls the pool name).
    pub fn name(&self) -> &str {
        self.id.split_once('_').map(|(_, n)| n).unwrap_or(&self.id)
    }

    pub fn region(&self) -> &str {
        self.id
            .split_once('_')
            .map(|(r, _)| r)
            .unwrap_or("us-east-1")
    }
}
