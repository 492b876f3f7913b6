//! Configuration: an optional TOML file (`RP_CONFIG_FILE`) with the `RP_*` environment
//! on top ([`load`]), parsed into [`Settings`] and validated into one typed [`Config`].
//! Start-up fails with a message naming the offending setting (its variable and file
//! key); secrets are wrapped so they never print.
//!
//! One module per concern: [`settings`] (every key and its documentation), [`load`]
//! (layering and sources), [`web`] (RP ID, origins, apps), [`email`] (mail).

mod database;
pub mod email;
pub mod load;
mod oidc;
mod policy;
pub mod settings;
pub mod sites;
mod tokens;
mod validate;
pub mod web;

use std::net::SocketAddr;
use std::time::Duration;

use ipnet::IpNet;
use secrecy::SecretString;
use url::Url;

pub use database::{DatabaseConfig, DbTimeouts};
pub use email::{EmailConfig, EmailSignIn, EmailTransport, EmailTransportKind};
pub use load::{Layered, Source};
pub use oidc::{OidcClient, OidcClientSettings, OidcConfig};
pub use policy::PolicySettings;
pub use settings::Settings;
pub use tokens::NamedToken;
pub use web::{AndroidApp, MAX_RELATED_ORIGIN_LABELS, Origin, registrable_label};

/// The config file, beneath the environment.
#[derive(Debug, clap::Args)]
pub struct ConfigFile {
    /// A TOML file of settings (keys as in `--help`); the environment wins over it.
    #[arg(long = "config", env = "RP_CONFIG_FILE", value_name = "RP_CONFIG_FILE")]
    pub path: Option<std::path::PathBuf>,
}

/// Shortest service or admin token accepted: 32 characters (for example `openssl rand -hex 32` gives 64).
pub const MIN_TOKEN_LEN: usize = 32;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Json,
    Pretty,
}

/// The validated configuration the server runs with.
#[derive(Debug, Clone)]
pub struct Config {
    pub database_url: SecretString,
    pub db_max_connections: u32,
    pub db_timeouts: DbTimeouts,
    pub listen_addr: SocketAddr,
    /// Where `/internal/*`, `/admin/*` and `/metrics` are served when they must not be
    /// on the public listener.
    pub internal_listen_addr: Option<SocketAddr>,
    /// The site this configuration describes: every row it stores carries the id.
    pub site: crate::model::SiteId,
    /// More host names the site's API answers on (`RP_HOSTS`; with several sites).
    pub hosts: Vec<String>,
    /// The site came from a `[[site]]` table: requests are routed to it by host and pool
    /// even when it is the only one (so a removed site's host finds no site). Without
    /// tables, the one site answers every host, as before sites existed.
    pub routed: bool,
    pub rp_id: String,
    pub rp_name: String,
    pub origins: Vec<Origin>,
    pub cognito_issuer: String,
    pub cognito_jwks_url: Url,
    pub cognito_client_ids: Vec<String>,
    pub service_token: SecretString,
    pub admin_token: Option<SecretString>,
    /// Named admin tokens (`RP_ADMIN_TOKENS`), beside `admin_token` (named `admin`).
    pub admin_tokens: Vec<NamedToken>,
    /// The Cognito group whose members are admins (`RP_ADMIN_GROUP`); `None`: nobody by group.
    pub admin_group: Option<String>,
    /// The console at `/console/` (`RP_CONSOLE`, and only with an internal listener).
    pub console: bool,
    /// The app client the console signs admins in with (`RP_CONSOLE_CLIENT_ID`).
    pub console_client_id: String,
    pub ceremony_ttl: Duration,
    pub nonce_ttl: Duration,
    pub enrolment_ttl: Duration,
    pub rate_limit_per_min: u32,
    /// How often the JWKS may be fetched again on an unknown `kid` (not a setting:
    /// [`JWKS_MIN_REFRESH`]; tests shorten it).
    pub jwks_min_refresh: Duration,
    /// How long in-flight requests may drain after the shutdown signal.
    pub shutdown_grace: Duration,
    /// Most connections served at once (per listener).
    pub max_connections: usize,
    /// How long a client may take to send headers, or idle between requests.
    pub header_read_timeout: Duration,
    /// How long a whole request may take, its body included (`RP_REQUEST_TIMEOUT_MS`).
    pub request_timeout: Duration,
    /// How recent a sign-in must be to add or delete a passkey; `None` turns the check off.
    pub reauth_max_age: Option<Duration>,
    /// How long audit events are kept; `None` keeps them forever.
    pub audit_retention: Option<Duration>,
    pub trusted_proxies: Vec<IpNet>,
    pub auto_migrate: bool,
    pub log_format: LogFormat,
    /// The user pool passkey-first sign-up creates users in; `Some` means sign-up is on.
    pub signup_user_pool_id: Option<String>,
    /// The user pool rp-server may administer (sign-up, sign-out on reset); `Some` when
    /// `RP_COGNITO_USER_POOL_ID` is set.
    pub cognito_user_pool_id: Option<String>,
    /// `RP_COGNITO_POOL_SHAPE`; `None` asks Cognito at start.
    pub cognito_pool_shape: Option<crate::cognito::PoolShape>,
    /// iOS apps (`RP_APPLE_APP_IDS`), for apple-app-site-association.
    pub apple_app_ids: Vec<String>,
    /// Android apps (`RP_ANDROID_APPS`), for assetlinks.json; their origins are in
    /// `origins` too.
    pub android_apps: Vec<AndroidApp>,
    /// Default WebAuthn hints (`RP_HINTS`).
    pub hints: Vec<crate::model::Hint>,
    /// Related origins (`RP_RELATED_ORIGINS`): accepted in ceremonies and listed at
    /// `/.well-known/webauthn`.
    pub related_origins: Vec<Url>,
    /// `/.well-known/passkey-endpoints`: where password managers send users to create
    /// (`RP_PASSKEY_ENROLL_URL`) and manage (`RP_PASSKEY_MANAGE_URL`) passkeys.
    pub passkey_enroll_url: Option<Url>,
    pub passkey_manage_url: Option<Url>,
    /// Mail delivery; `None`: no mail, and `/v1/email/*` is off.
    pub email: Option<EmailConfig>,
    pub email_code_ttl: Duration,
    /// Where emailed links point (`RP_EMAIL_LINK_URL`).
    pub email_link_url: Option<Url>,
    /// Sign-up needs a `signupToken` from a verified email code.
    pub signup_verify_email: bool,
    /// Who may sign in with an email code.
    pub email_signin: EmailSignIn,
    /// Security notices by email (`RP_EMAIL_NOTIFY`).
    pub email_notify: bool,
    /// Active passkeys one user may have (`RP_MAX_PASSKEYS_PER_USER`).
    pub max_passkeys_per_user: u32,
    /// Failed code verifications per client per 24 h (`RP_EMAIL_MAX_FAILURES_PER_IP_DAY`).
    pub email_max_failures_per_ip_day: u32,
    /// Sign-up codes to new addresses per hour, in all (`RP_EMAIL_SIGNUP_MAX_PER_HOUR`).
    pub email_signup_max_per_hour: u32,
    /// The OpenID provider (`RP_OIDC_ISSUER`); `None`: off.
    pub oidc: Option<OidcConfig>,
    /// Passkey policies (`[[policy]]`); empty: any passkey.
    pub policies: crate::policy::Policies,
    /// The verified FIDO metadata (`RP_FIDO_MDS_FILE`).
    pub mds: Option<std::sync::Arc<crate::mds::MetadataStore>>,
    /// The metadata was checked against `RP_FIDO_MDS_ROOT_CERT`, not the FIDO Alliance's root.
    pub mds_custom_root: bool,
}

/// The passkey policies of `settings` alone (the admin CLI, which needs no other setting).
pub fn policies_of(settings: &Settings) -> Result<crate::policy::Policies, ConfigError> {
    policy::policies(settings, policy::mds(settings)?.0.is_some())
}

/// The root the FIDO metadata BLOB must chain to (`RP_FIDO_MDS_ROOT_CERT`, else the FIDO
/// Alliance's), for `rp-server mds refresh`.
pub fn mds_root_of(settings: &Settings) -> Result<crypto_glue::x509::Certificate, ConfigError> {
    policy::mds_root(settings).map(|(root, _)| root)
}

/// The settings no deployment can do without; [`Config::new`] gives every other one the
/// default `rp-server serve` applies.
pub struct Required {
    pub database_url: SecretString,
    pub rp_id: String,
    pub origins: Vec<Origin>,
    pub cognito_issuer: String,
    pub cognito_jwks_url: Url,
    pub cognito_client_ids: Vec<String>,
    pub service_token: SecretString,
}

impl Config {
    /// A configuration from the required settings, every other one at its documented
    /// default. The local stack and the tests start here and adjust fields.
    pub fn new(r: Required) -> Self {
        let console_client_id = r.cognito_client_ids.first().cloned().unwrap_or_default();
        Self {
            database_url: r.database_url,
            db_max_connections: DEFAULT_DB_MAX_CONNECTIONS,
            db_timeouts: DbTimeouts::default(),
            listen_addr: SocketAddr::from(([127, 0, 0, 1], 8080)),
            internal_listen_addr: None,
            site: crate::model::SiteId::default(),
            hosts: Vec::new(),
            routed: false,
            rp_name: r.rp_id.clone(),
            rp_id: r.rp_id,
            origins: r.origins,
            cognito_issuer: r.cognito_issuer,
            cognito_jwks_url: r.cognito_jwks_url,
            cognito_client_ids: r.cognito_client_ids,
            service_token: r.service_token,
            admin_token: None,
            admin_tokens: Vec::new(),
            admin_group: Some(DEFAULT_ADMIN_GROUP.to_owned()),
            console: true,
            console_client_id,
            ceremony_ttl: Duration::from_secs(DEFAULT_CEREMONY_TTL_SECS),
            nonce_ttl: Duration::from_secs(DEFAULT_NONCE_TTL_SECS),
            enrolment_ttl: Duration::from_secs(DEFAULT_ENROLMENT_TTL_SECS),
            rate_limit_per_min: DEFAULT_RATE_LIMIT_PER_MIN,
            jwks_min_refresh: JWKS_MIN_REFRESH,
            shutdown_grace: Duration::from_secs(DEFAULT_SHUTDOWN_GRACE_SECS),
            max_connections: DEFAULT_MAX_CONNECTIONS,
            header_read_timeout: Duration::from_secs(DEFAULT_HEADER_READ_TIMEOUT_SECS),
            request_timeout: Duration::from_millis(DEFAULT_REQUEST_TIMEOUT_MS),
            reauth_max_age: Some(Duration::from_secs(DEFAULT_REAUTH_MAX_AGE_SECS)),
            audit_retention: retention(DEFAULT_AUDIT_RETENTION_DAYS),
            trusted_proxies: Vec::new(),
            auto_migrate: true,
            log_format: LogFormat::Json,
            signup_user_pool_id: None,
            cognito_user_pool_id: None,
            cognito_pool_shape: None,
            related_origins: Vec::new(),
            passkey_enroll_url: None,
            passkey_manage_url: None,
            apple_app_ids: Vec::new(),
            android_apps: Vec::new(),
            hints: Vec::new(),
            email: None,
            email_code_ttl: Duration::from_secs(DEFAULT_EMAIL_CODE_TTL_SECS),
            email_max_failures_per_ip_day: DEFAULT_EMAIL_MAX_FAILURES_PER_IP_DAY,
            max_passkeys_per_user: DEFAULT_MAX_PASSKEYS_PER_USER,
            email_signup_max_per_hour: DEFAULT_EMAIL_SIGNUP_MAX_PER_HOUR,
            email_link_url: None,
            signup_verify_email: false,
            email_signin: EmailSignIn::Off,
            email_notify: false,
            oidc: None,
            policies: Default::default(),
            mds: None,
            mds_custom_root: false,
        }
    }
}

/// How often an unknown `kid` may trigger a JWKS refetch, so random kids cannot make
/// us hammer Cognito.
pub const JWKS_MIN_REFRESH: Duration = Duration::from_secs(30);

pub const DEFAULT_DB_MAX_CONNECTIONS: u32 = 10;
/// Cognito's default `AuthSessionValidity` (3 minutes): a username-first ceremony must
/// not outlive the Cognito session it answers.
pub const DEFAULT_CEREMONY_TTL_SECS: u64 = 180;
pub const DEFAULT_NONCE_TTL_SECS: u64 = 120;
pub const DEFAULT_ENROLMENT_TTL_SECS: u64 = 900;
pub const DEFAULT_RATE_LIMIT_PER_MIN: u32 = 600;
pub const DEFAULT_AUDIT_RETENTION_DAYS: u32 = 400;
pub const DEFAULT_REAUTH_MAX_AGE_SECS: u64 = 900;
/// The Cognito group whose members are admins, unless `RP_ADMIN_GROUP` says otherwise.
pub const DEFAULT_ADMIN_GROUP: &str = "rp-admins";
pub const DEFAULT_DB_ACQUIRE_TIMEOUT_MS: u64 = 750;
pub const DEFAULT_SHUTDOWN_GRACE_SECS: u64 = 20;
pub const DEFAULT_MAX_CONNECTIONS: usize = 4096;
pub const DEFAULT_HEADER_READ_TIMEOUT_SECS: u64 = 10;
pub const DEFAULT_REQUEST_TIMEOUT_MS: u64 = 10_000;
pub const DEFAULT_DB_STATEMENT_TIMEOUT_MS: u64 = 1000;
pub const DEFAULT_EMAIL_CODE_TTL_SECS: u64 = 600;
pub const DEFAULT_EMAIL_MAX_FAILURES_PER_IP_DAY: u32 = 50;
pub const DEFAULT_MAX_PASSKEYS_PER_USER: u32 = 20;
pub const DEFAULT_EMAIL_SIGNUP_MAX_PER_HOUR: u32 = 500;

fn retention(days: u32) -> Option<Duration> {
    (days > 0).then(|| Duration::from_secs(u64::from(days) * 86_400))
}

/// A setting that failed validation; the message names the variable and the file key.
#[derive(Debug, thiserror::Error)]
pub struct ConfigError {
    pub variable: String,
    pub reason: String,
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match settings::key_of_env(&self.variable) {
            Some(key) => write!(
                f,
                "invalid {} (file key `{}`): {}",
                self.variable, key.name, self.reason
            ),
            None => write!(f, "invalid {}: {}", self.variable, self.reason),
        }
    }
}

fn bad(variable: impl Into<String>, reason: impl Into<String>) -> ConfigError {
    ConfigError {
        variable: variable.into(),
        reason: reason.into(),
    }
}

/// `value`, if within `min..=max`.
fn within(variable: &str, value: u64, min: u64, max: u64) -> Result<u64, ConfigError> {
    if (min..=max).contains(&value) {
        Ok(value)
    } else {
        Err(bad(variable, format!("must be between {min} and {max}")))
    }
}

/// One of an enum's documented values.
fn choice<T: clap::ValueEnum>(variable: &str, raw: &str) -> Result<T, ConfigError> {
    T::from_str(raw.trim(), false).map_err(|_| {
        let allowed: Vec<String> = T::value_variants()
            .iter()
            .filter_map(|v| v.to_possible_value().map(|p| p.get_name().to_owned()))
            .collect();
        bad(
            variable,
            format!("`{raw}` is not one of {}", allowed.join(", ")),
        )
    })
}

/// https, or http only to a loopback host (a local stand-in): keys and tokens never
/// travel in clear text over a network.
pub(crate) fn check_https(variable: &str, url: &Url) -> Result<(), ConfigError> {
    match url.scheme() {
        "https" => Ok(()),
        "http" if rp_shared::loopback::is_loopback(url) => Ok(()),
        "http" => Err(bad(
            variable,
            "must be an https URL (http is accepted only for a loopback host)",
        )),
        _ => Err(bad(variable, "must be an https URL")),
    }
}

#[cfg(test)]
mod tests;
