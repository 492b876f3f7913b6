//! Configuration: an optional TOML file (`RP_CONFIG_FILE`) with the `RP_*` environment
//! on top ([`load`]), parsed into [`Settings`] and validated into one typed [`Config`].
//! Start-up fails with a message naming the offending setting (its variable and file
//! key); secrets are wrapped so they never print.
//!
//! One module per concern: [`settings`] (every key and its documentation), [`load`]
//! (layering and sources), [`web`] (RP ID, origins, apps), [`email`] (mail).

pub mod email;
pub mod load;
pub mod settings;
pub mod web;

use std::net::SocketAddr;
use std::time::Duration;

use ipnet::IpNet;
use secrecy::{ExposeSecret as _, SecretString};
use url::Url;

pub use email::{EmailConfig, EmailSignIn, EmailTransport, EmailTransportKind};
pub use load::{Layered, Source};
pub use settings::Settings;
pub use web::{AndroidApp, MAX_RELATED_ORIGIN_LABELS, Origin, registrable_label};

use settings::{entries, text};

/// The config file, beneath the environment.
#[derive(Debug, clap::Args)]
pub struct ConfigFile {
    /// A TOML file of settings (keys as in `--help`); the environment wins over it.
    #[arg(long = "config", env = "RP_CONFIG_FILE", value_name = "RP_CONFIG_FILE")]
    pub path: Option<std::path::PathBuf>,
}

/// Shortest service or admin token accepted: 32 characters (for example `openssl rand -hex 32` gives 64).
pub const MIN_TOKEN_LEN: usize = 32;

/// How long a request may wait for a connection, and Postgres for a statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DbTimeouts {
    pub acquire: Duration,
    pub statement: Duration,
}

impl Default for DbTimeouts {
    fn default() -> Self {
        Self {
            acquire: Duration::from_millis(DEFAULT_DB_ACQUIRE_TIMEOUT_MS),
            statement: Duration::from_millis(DEFAULT_DB_STATEMENT_TIMEOUT_MS),
        }
    }
}

/// The database settings alone, for `migrate` and `admin`.
#[derive(Debug, Clone)]
pub struct DatabaseConfig {
    pub url: SecretString,
    pub max_connections: u32,
    pub timeouts: DbTimeouts,
}

impl DatabaseConfig {
    pub fn from_settings(s: &Settings) -> Result<Self, ConfigError> {
        let url = s
            .database_url
            .clone()
            .filter(|u| !u.expose_secret().trim().is_empty())
            .ok_or_else(|| bad("DATABASE_URL", "is required"))?;
        let max_connections = s.db_max_connections.unwrap_or(DEFAULT_DB_MAX_CONNECTIONS);
        if max_connections == 0 {
            return Err(bad("RP_DB_MAX_CONNECTIONS", "must be at least 1"));
        }
        let acquire = s
            .db_acquire_timeout_ms
            .unwrap_or(DEFAULT_DB_ACQUIRE_TIMEOUT_MS);
        let statement = s
            .db_statement_timeout_ms
            .unwrap_or(DEFAULT_DB_STATEMENT_TIMEOUT_MS);
        Ok(Self {
            url,
            max_connections,
            timeouts: DbTimeouts {
                acquire: Duration::from_millis(within(
                    "RP_DB_ACQUIRE_TIMEOUT_MS",
                    acquire,
                    50,
                    30_000,
                )?),
                statement: Duration::from_millis(within(
                    "RP_DB_STATEMENT_TIMEOUT_MS",
                    statement,
                    50,
                    600_000,
                )?),
            },
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Json,
    Pretty,
}

/// An admin token known by its holder's name (`RP_ADMIN_TOKENS`: `name=<hex SHA-256>`):
/// the audit log names the admin by the token presented, never by what the caller says.
#[derive(Clone, PartialEq, Eq)]
pub struct NamedToken {
    pub name: String,
    pub sha256: [u8; 32],
}

impl std::fmt::Debug for NamedToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NamedToken")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl NamedToken {
    /// The entry for a plaintext token (`RP_ADMIN_TOKEN` is the name `admin`).
    pub fn plain(name: &str, token: &SecretString) -> Self {
        use sha2::Digest as _;
        Self {
            name: name.to_owned(),
            sha256: sha2::Sha256::digest(token.expose_secret().as_bytes()).into(),
        }
    }

    fn parse(raw: &str) -> Result<Self, ConfigError> {
        let refuse = |why: &str| {
            bad(
                "RP_ADMIN_TOKENS",
                format!("`{}`: {why}", raw.split('=').next().unwrap_or_default()),
            )
        };
        let (name, hex) = raw
            .split_once('=')
            .ok_or_else(|| refuse("expected name=<hex SHA-256 of the token>"))?;
        let name = name.trim();
        if name.is_empty()
            || name.len() > 64
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '@'))
        {
            return Err(refuse(
                "a name is 1-64 letters, digits, `-`, `_`, `.` or `@`",
            ));
        }
        let hex = hex.trim();
        let bytes: Option<Vec<u8>> = (hex.len() == 64)
            .then(|| {
                (0..32)
                    .map(|i| u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok())
                    .collect()
            })
            .flatten();
        let sha256 = bytes
            .and_then(|b| <[u8; 32]>::try_from(b).ok())
            .ok_or_else(|| refuse("the hash must be 64 hex digits (sha256sum of the token)"))?;
        Ok(Self {
            name: name.to_owned(),
            sha256,
        })
    }
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
        Self {
            database_url: r.database_url,
            db_max_connections: DEFAULT_DB_MAX_CONNECTIONS,
            db_timeouts: DbTimeouts::default(),
            listen_addr: SocketAddr::from(([127, 0, 0, 1], 8080)),
            internal_listen_addr: None,
            rp_name: r.rp_id.clone(),
            rp_id: r.rp_id,
            origins: r.origins,
            cognito_issuer: r.cognito_issuer,
            cognito_jwks_url: r.cognito_jwks_url,
            cognito_client_ids: r.cognito_client_ids,
            service_token: r.service_token,
            admin_token: None,
            admin_tokens: Vec::new(),
            ceremony_ttl: Duration::from_secs(DEFAULT_CEREMONY_TTL_SECS),
            nonce_ttl: Duration::from_secs(DEFAULT_NONCE_TTL_SECS),
            enrolment_ttl: Duration::from_secs(DEFAULT_ENROLMENT_TTL_SECS),
            rate_limit_per_min: DEFAULT_RATE_LIMIT_PER_MIN,
            jwks_min_refresh: JWKS_MIN_REFRESH,
            shutdown_grace: Duration::from_secs(DEFAULT_SHUTDOWN_GRACE_SECS),
            max_connections: DEFAULT_MAX_CONNECTIONS,
            header_read_timeout: Duration::from_secs(DEFAULT_HEADER_READ_TIMEOUT_SECS),
            reauth_max_age: Some(Duration::from_secs(DEFAULT_REAUTH_MAX_AGE_SECS)),
            audit_retention: retention(DEFAULT_AUDIT_RETENTION_DAYS),
            trusted_proxies: Vec::new(),
            auto_migrate: true,
            log_format: LogFormat::Json,
            signup_user_pool_id: None,
            cognito_user_pool_id: None,
            cognito_pool_shape: None,
            related_origins: Vec::new(),
            apple_app_ids: Vec::new(),
            android_apps: Vec::new(),
            hints: Vec::new(),
            email: None,
            email_code_ttl: Duration::from_secs(DEFAULT_EMAIL_CODE_TTL_SECS),
            email_link_url: None,
            signup_verify_email: false,
            email_signin: EmailSignIn::Off,
            email_notify: false,
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
pub const DEFAULT_DB_ACQUIRE_TIMEOUT_MS: u64 = 750;
pub const DEFAULT_SHUTDOWN_GRACE_SECS: u64 = 20;
pub const DEFAULT_MAX_CONNECTIONS: usize = 1024;
pub const DEFAULT_HEADER_READ_TIMEOUT_SECS: u64 = 10;
pub const DEFAULT_DB_STATEMENT_TIMEOUT_MS: u64 = 1000;
pub const DEFAULT_EMAIL_CODE_TTL_SECS: u64 = 600;

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

fn check_token(variable: &str, token: &SecretString) -> Result<(), ConfigError> {
    let t = token.expose_secret();
    if t.chars().count() < MIN_TOKEN_LEN {
        return Err(bad(
            variable,
            format!("must be at least {MIN_TOKEN_LEN} characters (try `openssl rand -hex 32`)"),
        ));
    }
    if t.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad(variable, "must not contain whitespace"));
    }
    Ok(())
}

impl Config {
    /// Every admin token: `RP_ADMIN_TOKEN` (named `admin`) and the named ones.
    pub fn admin_identities(&self) -> Vec<NamedToken> {
        self.admin_token
            .iter()
            .map(|t| NamedToken::plain("admin", t))
            .chain(self.admin_tokens.iter().cloned())
            .collect()
    }

    /// Validates the layered settings of `rp-server serve`.
    pub fn from_settings(s: &Settings) -> Result<Self, ConfigError> {
        let database = DatabaseConfig::from_settings(s)?;
        let rp_id = web::rp_id(s)?;
        let origins = web::origins(s, &rp_id)?;
        let (issuer, jwks) = cognito_urls(s)?;
        let client_ids: Vec<String> = entries(&s.cognito_client_ids).map(str::to_owned).collect();
        if client_ids.is_empty() {
            return Err(bad(
                "RP_COGNITO_CLIENT_IDS",
                "at least one app client id is required",
            ));
        }
        let mut config = Config::new(Required {
            database_url: database.url,
            rp_id,
            origins,
            cognito_issuer: issuer,
            cognito_jwks_url: jwks,
            cognito_client_ids: client_ids,
            service_token: SecretString::default(),
        });
        config.db_max_connections = database.max_connections;
        config.db_timeouts = database.timeouts;
        if let Some(name) = text(&s.rp_name) {
            config.rp_name = name.to_owned();
        }
        config.apply_tokens(s)?;
        config.apply_lifetimes(s)?;
        config.apply_network(s)?;
        config.apply_pool(s)?;
        config.related_origins = web::related_origins(&s.related_origins)?;
        config.hints = s
            .hints
            .iter()
            .map(|h| choice("RP_HINTS", h))
            .collect::<Result<_, _>>()?;
        config.apply_email(s)?;
        if let Some(format) = text(&s.log_format) {
            config.log_format = choice("RP_LOG_FORMAT", format)?;
        }
        config.set_native_apps(&s.apple_app_ids, &s.android_apps)?;
        Ok(config)
    }

    fn apply_tokens(&mut self, s: &Settings) -> Result<(), ConfigError> {
        self.service_token = s
            .service_token
            .clone()
            .ok_or_else(|| bad("RP_SERVICE_TOKEN", "is required"))?;
        check_token("RP_SERVICE_TOKEN", &self.service_token)?;
        if let Some(admin) = &s.admin_token {
            check_token("RP_ADMIN_TOKEN", admin)?;
            if admin.expose_secret() == self.service_token.expose_secret() {
                return Err(bad("RP_ADMIN_TOKEN", "must differ from RP_SERVICE_TOKEN"));
            }
            self.admin_token = Some(admin.clone());
        }
        self.admin_tokens = entries(&s.admin_tokens)
            .map(NamedToken::parse)
            .collect::<Result<_, _>>()?;
        let service = NamedToken::plain("", &self.service_token);
        let mut names: Vec<&str> = self.admin_token.iter().map(|_| "admin").collect();
        for t in &self.admin_tokens {
            if t.sha256 == service.sha256 {
                return Err(bad(
                    "RP_ADMIN_TOKENS",
                    format!("`{}` is the service token", t.name),
                ));
            }
            if names.contains(&t.name.as_str()) {
                return Err(bad(
                    "RP_ADMIN_TOKENS",
                    format!(
                        "`{}` is named twice (`admin` is RP_ADMIN_TOKEN's name)",
                        t.name
                    ),
                ));
            }
            names.push(&t.name);
        }
        Ok(())
    }

    fn apply_lifetimes(&mut self, s: &Settings) -> Result<(), ConfigError> {
        let secs = |v: Option<u64>, default: u64, var: &str, min: u64, max: u64| {
            within(var, v.unwrap_or(default), min, max).map(Duration::from_secs)
        };
        self.ceremony_ttl = secs(
            s.ceremony_ttl_secs,
            DEFAULT_CEREMONY_TTL_SECS,
            "RP_CEREMONY_TTL_SECS",
            30,
            3600,
        )?;
        self.nonce_ttl = secs(
            s.nonce_ttl_secs,
            DEFAULT_NONCE_TTL_SECS,
            "RP_NONCE_TTL_SECS",
            10,
            600,
        )?;
        self.enrolment_ttl = secs(
            s.enrolment_ttl_secs,
            DEFAULT_ENROLMENT_TTL_SECS,
            "RP_ENROLMENT_TTL_SECS",
            60,
            604_800,
        )?;
        self.email_code_ttl = secs(
            s.email_code_ttl_secs,
            DEFAULT_EMAIL_CODE_TTL_SECS,
            "RP_EMAIL_CODE_TTL_SECS",
            60,
            3600,
        )?;
        self.header_read_timeout = secs(
            s.header_read_timeout_secs,
            DEFAULT_HEADER_READ_TIMEOUT_SECS,
            "RP_HEADER_READ_TIMEOUT_SECS",
            1,
            600,
        )?;
        self.shutdown_grace = secs(
            s.shutdown_grace_secs,
            DEFAULT_SHUTDOWN_GRACE_SECS,
            "RP_SHUTDOWN_GRACE_SECS",
            1,
            300,
        )?;
        let reauth = within(
            "RP_REAUTH_MAX_AGE_SECS",
            s.reauth_max_age_secs.unwrap_or(DEFAULT_REAUTH_MAX_AGE_SECS),
            0,
            86_400 * 30,
        )?;
        self.reauth_max_age = (reauth > 0).then(|| Duration::from_secs(reauth));
        let days = s
            .audit_retention_days
            .unwrap_or(DEFAULT_AUDIT_RETENTION_DAYS);
        within("RP_AUDIT_RETENTION_DAYS", u64::from(days), 0, 36_500)?;
        self.audit_retention = retention(days);
        Ok(())
    }

    fn apply_network(&mut self, s: &Settings) -> Result<(), ConfigError> {
        let addr = |var: &str, raw: &str| {
            raw.parse::<SocketAddr>()
                .map_err(|e| bad(var, format!("not a socket address ({e})")))
        };
        if let Some(a) = text(&s.listen_addr) {
            self.listen_addr = addr("RP_LISTEN_ADDR", a)?;
        }
        self.internal_listen_addr = text(&s.internal_listen_addr)
            .map(|a| addr("RP_INTERNAL_LISTEN_ADDR", a))
            .transpose()?;
        let max = s.max_connections.unwrap_or(DEFAULT_MAX_CONNECTIONS);
        within("RP_MAX_CONNECTIONS", max as u64, 1, 100_000)?;
        self.max_connections = max;
        self.rate_limit_per_min = s.rate_limit_per_min.unwrap_or(DEFAULT_RATE_LIMIT_PER_MIN);
        self.trusted_proxies = entries(&s.trusted_proxies)
            .map(|p| {
                p.parse::<IpNet>()
                    .map_err(|e| bad("RP_TRUSTED_PROXIES", format!("`{p}` is not a CIDR ({e})")))
            })
            .collect::<Result<_, _>>()?;
        self.auto_migrate = s.auto_migrate.unwrap_or(true);
        Ok(())
    }

    fn apply_pool(&mut self, s: &Settings) -> Result<(), ConfigError> {
        self.cognito_user_pool_id = match text(&s.cognito_user_pool_id) {
            None => None,
            Some(id) if !id.contains('_') => {
                return Err(bad(
                    "RP_COGNITO_USER_POOL_ID",
                    "must look like <region>_<id>",
                ));
            }
            Some(id) => Some(id.to_owned()),
        };
        self.signup_user_pool_id = match (
            s.signup_enabled.unwrap_or(false),
            &self.cognito_user_pool_id,
        ) {
            (false, _) => None,
            (true, None) => {
                return Err(bad(
                    "RP_COGNITO_USER_POOL_ID",
                    "is required when RP_SIGNUP_ENABLED=true",
                ));
            }
            (true, Some(id)) => Some(id.clone()),
        };
        self.cognito_pool_shape = text(&s.cognito_pool_shape)
            .map(|v| choice("RP_COGNITO_POOL_SHAPE", v))
            .transpose()?;
        Ok(())
    }

    fn apply_email(&mut self, s: &Settings) -> Result<(), ConfigError> {
        let email = email::email_config(s)?;
        if let Some(link) = text(&s.email_link_url) {
            let url = Url::parse(link)
                .map_err(|e| bad("RP_EMAIL_LINK_URL", format!("not a URL ({e})")))?;
            check_https("RP_EMAIL_LINK_URL", &url)?;
            self.email_link_url = Some(url);
        }
        self.email_signin = match text(&s.email_signin) {
            Some(v) => choice("RP_EMAIL_SIGNIN", v)?,
            None => EmailSignIn::Off,
        };
        if self.email_signin != EmailSignIn::Off {
            if email.is_none() {
                return Err(bad(
                    "RP_EMAIL_SIGNIN",
                    "needs email delivery (RP_EMAIL_TRANSPORT) to send the codes",
                ));
            }
            if self.cognito_user_pool_id.is_none() {
                return Err(bad(
                    "RP_EMAIL_SIGNIN",
                    "needs RP_COGNITO_USER_POOL_ID to find the account of an address",
                ));
            }
        }
        if s.email_notify == Some(true) && email.is_none() {
            return Err(bad(
                "RP_EMAIL_NOTIFY",
                "needs email delivery (RP_EMAIL_TRANSPORT)",
            ));
        }
        self.signup_verify_email = s.signup_verify_email.unwrap_or(email.is_some());
        self.email_notify = s.email_notify.unwrap_or(email.is_some());
        if self.signup_verify_email && email.is_none() {
            return Err(bad(
                "RP_SIGNUP_VERIFY_EMAIL",
                "needs email delivery (RP_EMAIL_TRANSPORT) to send the codes",
            ));
        }
        self.email = email;
        Ok(())
    }
}

/// The issuer (trailing `/` dropped) and the JWKS URL, https unless loopback.
fn cognito_urls(s: &Settings) -> Result<(String, Url), ConfigError> {
    let issuer = text(&s.cognito_issuer)
        .ok_or_else(|| bad("RP_COGNITO_ISSUER", "is required"))?
        .trim_end_matches('/')
        .to_owned();
    let issuer_url =
        Url::parse(&issuer).map_err(|e| bad("RP_COGNITO_ISSUER", format!("not a URL ({e})")))?;
    check_https("RP_COGNITO_ISSUER", &issuer_url)?;
    let jwks = match text(&s.cognito_jwks_url) {
        Some(u) => {
            Url::parse(u).map_err(|e| bad("RP_COGNITO_JWKS_URL", format!("not a URL ({e})")))?
        }
        None => Url::parse(&format!("{issuer}/.well-known/jwks.json")).map_err(|e| {
            bad(
                "RP_COGNITO_ISSUER",
                format!("cannot derive the JWKS URL ({e})"),
            )
        })?,
    };
    check_https("RP_COGNITO_JWKS_URL", &jwks)?;
    Ok((issuer, jwks))
}

#[cfg(test)]
mod tests;
