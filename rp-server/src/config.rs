//! Configuration: one typed struct, read from environment variables (or the equivalent
//! command-line flags) by clap, then validated into [`Config`]. Start-up fails with a
//! message naming the offending variable; secrets are wrapped so they never print.

use std::net::SocketAddr;
use std::time::Duration;

use ipnet::IpNet;
use secrecy::{ExposeSecret as _, SecretString};
use url::Url;

/// Shortest service or admin token accepted: 32 characters (for example `openssl rand -hex 32` gives 64).
pub const MIN_TOKEN_LEN: usize = 32;

fn secret(s: &str) -> Result<SecretString, std::convert::Infallible> {
    Ok(SecretString::from(s.to_owned()))
}

/// Database settings, shared by `serve` and `migrate`.
#[derive(Debug, Clone, clap::Args)]
pub struct DatabaseArgs {
    /// Postgres connection string, e.g. postgres://rp:secret@db.internal/rp
    #[arg(long, env = "DATABASE_URL", value_name = "DATABASE_URL", value_parser = secret, hide_env_values = true)]
    pub database_url: SecretString,

    /// Largest number of pooled database connections.
    #[arg(
        long,
        env = "RP_DB_MAX_CONNECTIONS",
        value_name = "RP_DB_MAX_CONNECTIONS",
        default_value_t = DEFAULT_DB_MAX_CONNECTIONS
    )]
    pub db_max_connections: u32,

    /// Milliseconds a request waits for a pooled database connection before answering 503.
    /// With the statement timeout it must fit inside the trigger's budget (RP_TIMEOUT_MS, 2 s).
    #[arg(
        long,
        env = "RP_DB_ACQUIRE_TIMEOUT_MS",
        value_name = "RP_DB_ACQUIRE_TIMEOUT_MS",
        default_value_t = DEFAULT_DB_ACQUIRE_TIMEOUT_MS
    )]
    pub db_acquire_timeout_ms: u64,

    /// Milliseconds Postgres may spend on one statement before it is cancelled (503).
    #[arg(
        long,
        env = "RP_DB_STATEMENT_TIMEOUT_MS",
        value_name = "RP_DB_STATEMENT_TIMEOUT_MS",
        default_value_t = DEFAULT_DB_STATEMENT_TIMEOUT_MS
    )]
    pub db_statement_timeout_ms: u64,
}

impl DatabaseArgs {
    /// The pool's timeouts, validated.
    pub fn timeouts(&self) -> Result<DbTimeouts, ConfigError> {
        if !(50..=30_000).contains(&self.db_acquire_timeout_ms) {
            return Err(bad(
                "RP_DB_ACQUIRE_TIMEOUT_MS",
                "must be between 50 and 30000",
            ));
        }
        if !(50..=600_000).contains(&self.db_statement_timeout_ms) {
            return Err(bad(
                "RP_DB_STATEMENT_TIMEOUT_MS",
                "must be between 50 and 600000",
            ));
        }
        Ok(DbTimeouts {
            acquire: Duration::from_millis(self.db_acquire_timeout_ms),
            statement: Duration::from_millis(self.db_statement_timeout_ms),
        })
    }
}

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

/// How mail is sent, shared by `serve` and `admin` (whose revocations and resets send
/// security notices too).
#[derive(Debug, Clone, clap::Args)]
pub struct EmailArgs {
    /// How rp-server sends mail (one-time codes, security notices): `smtp` (RP_SMTP_URL) or `ses` (Amazon SES v2 through the AWS SDK, credentials from the standard chain). Unset: no mail, no email codes.
    #[arg(long, env = "RP_EMAIL_TRANSPORT", value_name = "RP_EMAIL_TRANSPORT")]
    pub email_transport: Option<EmailTransportKind>,

    /// SMTP server for RP_EMAIL_TRANSPORT=smtp: `smtps://user:pass@host:465` (TLS), `smtp://user:pass@host:587?tls=required` (STARTTLS), or `smtp://127.0.0.1:2525` (plain, loopback only). Works with Amazon SES's SMTP interface.
    #[arg(long, env = "RP_SMTP_URL", value_name = "RP_SMTP_URL", value_parser = secret, hide_env_values = true)]
    pub smtp_url: Option<SecretString>,

    /// Sender of rp-server's mail, e.g. `Example <no-reply@example.com>`. Required with RP_EMAIL_TRANSPORT.
    #[arg(long, env = "RP_EMAIL_FROM", value_name = "RP_EMAIL_FROM")]
    pub email_from: Option<String>,
}

/// Every setting of `rp-server serve`. Each is an environment variable (shown in
/// brackets in `--help`) or the equivalent flag.
#[derive(Debug, Clone, clap::Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub database: DatabaseArgs,

    /// Address to listen on.
    #[arg(
        long,
        env = "RP_LISTEN_ADDR",
        value_name = "RP_LISTEN_ADDR",
        default_value = "127.0.0.1:8080"
    )]
    pub listen_addr: SocketAddr,

    /// A second, private listener: when set, /internal/*, /admin/* and /metrics are served only here (and answer 404 on RP_LISTEN_ADDR). Unset: one listener serves everything (local development).
    #[arg(
        long,
        env = "RP_INTERNAL_LISTEN_ADDR",
        value_name = "RP_INTERNAL_LISTEN_ADDR"
    )]
    pub internal_listen_addr: Option<String>,

    /// WebAuthn relying party id: the registrable domain passkeys are bound to, e.g. example.com.
    #[arg(long, env = "RP_ID", value_name = "RP_ID")]
    pub rp_id: String,

    /// Relying party display name shown by authenticators [default: RP_ID].
    #[arg(long, env = "RP_NAME", value_name = "RP_NAME")]
    pub rp_name: Option<String>,

    /// Comma-separated allowed origins: https/http URLs whose host is RP_ID or a subdomain of
    /// it, and android:apk-key-hash:<hash> origins of native apps.
    #[arg(
        long,
        env = "RP_ORIGINS",
        value_name = "RP_ORIGINS",
        value_delimiter = ','
    )]
    pub rp_origins: Vec<String>,

    /// Expected `iss` of Cognito access tokens, e.g. https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC.
    #[arg(long, env = "RP_COGNITO_ISSUER", value_name = "RP_COGNITO_ISSUER")]
    pub cognito_issuer: String,

    /// Where to fetch the user pool's JWKS [default: <RP_COGNITO_ISSUER>/.well-known/jwks.json].
    #[arg(long, env = "RP_COGNITO_JWKS_URL", value_name = "RP_COGNITO_JWKS_URL")]
    pub cognito_jwks_url: Option<String>,

    /// Comma-separated Cognito app client ids whose access tokens are accepted.
    #[arg(
        long,
        env = "RP_COGNITO_CLIENT_IDS",
        value_name = "RP_COGNITO_CLIENT_IDS",
        value_delimiter = ','
    )]
    pub cognito_client_ids: Vec<String>,

    /// Bearer token the Cognito trigger Lambdas present on /internal/*. At least 32 characters.
    #[arg(long, env = "RP_SERVICE_TOKEN", value_name = "RP_SERVICE_TOKEN", value_parser = secret, hide_env_values = true)]
    pub service_token: SecretString,

    /// Bearer token for /admin/*. Unset turns the admin API off. At least 32 characters.
    #[arg(long, env = "RP_ADMIN_TOKEN", value_name = "RP_ADMIN_TOKEN", value_parser = secret, hide_env_values = true)]
    pub admin_token: Option<SecretString>,

    /// Lifetime of a registration or authentication ceremony, in seconds (30-3600). Keep it within the app clients' AuthSessionValidity (Cognito's default: 3 minutes), or a slow username-first sign-in fails at Cognito after the user touched the authenticator; rp-server warns at start when it outlasts it.
    #[arg(
        long,
        env = "RP_CEREMONY_TTL_SECS",
        value_name = "RP_CEREMONY_TTL_SECS",
        default_value_t = DEFAULT_CEREMONY_TTL_SECS
    )]
    pub ceremony_ttl_secs: u64,

    /// Lifetime of a sign-in nonce, in seconds (10-600).
    #[arg(
        long,
        env = "RP_NONCE_TTL_SECS",
        value_name = "RP_NONCE_TTL_SECS",
        default_value_t = DEFAULT_NONCE_TTL_SECS
    )]
    pub nonce_ttl_secs: u64,

    /// Default lifetime of an admin-issued enrolment token, in seconds (60-604800).
    #[arg(
        long,
        env = "RP_ENROLMENT_TTL_SECS",
        value_name = "RP_ENROLMENT_TTL_SECS",
        default_value_t = DEFAULT_ENROLMENT_TTL_SECS
    )]
    pub enrolment_ttl_secs: u64,

    /// Requests per minute per client IP on the browser-facing /v1/* endpoints; 0 turns the limit off.
    #[arg(
        long,
        env = "RP_RATE_LIMIT_PER_MIN",
        value_name = "RP_RATE_LIMIT_PER_MIN",
        default_value_t = DEFAULT_RATE_LIMIT_PER_MIN
    )]
    pub rate_limit_per_min: u32,

    /// Seconds since the user's last sign-in (the access token's auth_time) within which adding or deleting a passkey is allowed; older sessions must sign in again (0 turns the check off).
    #[arg(
        long,
        env = "RP_REAUTH_MAX_AGE_SECS",
        value_name = "RP_REAUTH_MAX_AGE_SECS",
        default_value_t = DEFAULT_REAUTH_MAX_AGE_SECS
    )]
    pub reauth_max_age_secs: u64,

    /// Most client connections served at once; past it, new connections wait to be accepted (so the process never runs out of file descriptors and always answers /healthz).
    #[arg(
        long,
        env = "RP_MAX_CONNECTIONS",
        value_name = "RP_MAX_CONNECTIONS",
        default_value_t = DEFAULT_MAX_CONNECTIONS
    )]
    pub max_connections: usize,

    /// Seconds a client may take to send a request's headers, and may keep an idle connection open; then the connection is closed.
    #[arg(
        long,
        env = "RP_HEADER_READ_TIMEOUT_SECS",
        value_name = "RP_HEADER_READ_TIMEOUT_SECS",
        default_value_t = DEFAULT_HEADER_READ_TIMEOUT_SECS
    )]
    pub header_read_timeout_secs: u64,

    /// Seconds in-flight requests may take to finish after SIGTERM before the process exits anyway (keep it inside the orchestrator's stop timeout; ECS gives 30 s).
    #[arg(
        long,
        env = "RP_SHUTDOWN_GRACE_SECS",
        value_name = "RP_SHUTDOWN_GRACE_SECS",
        default_value_t = DEFAULT_SHUTDOWN_GRACE_SECS
    )]
    pub shutdown_grace_secs: u64,

    /// Days audit events are kept; older ones are deleted by the background purge (0 keeps them forever).
    #[arg(
        long,
        env = "RP_AUDIT_RETENTION_DAYS",
        value_name = "RP_AUDIT_RETENTION_DAYS",
        default_value_t = DEFAULT_AUDIT_RETENTION_DAYS
    )]
    pub audit_retention_days: u32,

    /// Comma-separated CIDRs of reverse proxies whose X-Forwarded-For is trusted for the client IP.
    #[arg(
        long,
        env = "RP_TRUSTED_PROXIES",
        value_name = "RP_TRUSTED_PROXIES",
        value_delimiter = ','
    )]
    pub trusted_proxies: Vec<IpNet>,

    /// Apply pending database migrations at start.
    #[arg(long, env = "RP_AUTO_MIGRATE", value_name = "RP_AUTO_MIGRATE", default_value_t = true, action = clap::ArgAction::Set)]
    pub auto_migrate: bool,

    /// Passkey-first sign-up (POST /v1/signup/*): creates Cognito users with the admin API.
    /// Needs RP_COGNITO_USER_POOL_ID and AWS credentials allowed cognito-idp:AdminCreateUser,
    /// AdminSetUserPassword, AdminDeleteUser and ListUsers (AWS_REGION and the standard
    /// credential chain; AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER points at a stand-in).
    #[arg(long, env = "RP_SIGNUP_ENABLED", value_name = "RP_SIGNUP_ENABLED", default_value_t = false, action = clap::ArgAction::Set)]
    pub signup_enabled: bool,

    /// The user pool rp-server administers, e.g. eu-west-1_AbC: passkey-first sign-up creates users in it, and an account reset signs the user out of it (AdminUserGlobalSignOut). Needs AWS credentials.
    #[arg(
        long,
        env = "RP_COGNITO_USER_POOL_ID",
        value_name = "RP_COGNITO_USER_POOL_ID"
    )]
    pub cognito_user_pool_id: Option<String>,

    /// How the pool names users: `email_username` (UsernameAttributes: email), `email_alias` (AliasAttributes: email) or `username` (plain usernames). Unset: learnt at start with DescribeUserPool (needs cognito-idp:DescribeUserPool). Sign-up names new users after it.
    #[arg(
        long,
        env = "RP_COGNITO_POOL_SHAPE",
        value_name = "RP_COGNITO_POOL_SHAPE"
    )]
    pub cognito_pool_shape: Option<crate::cognito::PoolShape>,

    /// WebAuthn hints added to every ceremony's options, comma-separated: `security-key`, `client-device`, `hybrid` (the browser steers the user to that kind of authenticator). A request's own `hints` replace them.
    #[arg(long, env = "RP_HINTS", value_name = "RP_HINTS", value_delimiter = ',')]
    pub hints: Vec<crate::flows::ceremony::Hint>,

    /// iOS apps that may use RP_ID's passkeys, comma-separated `TEAMID.bundle.id` (e.g. `ABCDE12345.com.example.app`). Served at /.well-known/apple-app-site-association; their ceremonies' origin, `https://<RP_ID>`, is then accepted without listing it in RP_ORIGINS.
    #[arg(
        long,
        env = "RP_APPLE_APP_IDS",
        value_name = "RP_APPLE_APP_IDS",
        value_delimiter = ','
    )]
    pub apple_app_ids: Vec<String>,

    /// Android apps that may use RP_ID's passkeys, comma-separated `package.name:SHA256_FINGERPRINT` (the colon-separated hex of the signing certificate's SHA-256, as keytool and Play Console print it). Served at /.well-known/assetlinks.json; each app's `android:apk-key-hash:` origin is accepted without listing it in RP_ORIGINS.
    #[arg(
        long,
        env = "RP_ANDROID_APPS",
        value_name = "RP_ANDROID_APPS",
        value_delimiter = ','
    )]
    pub android_apps: Vec<String>,

    /// Origins on other domains that may use RP_ID's passkeys (WebAuthn Related Origin Requests), comma-separated https origins, at most 5 distinct registrable-domain labels (example.com, example.co.uk and example.de count as one, `example`). Served at /.well-known/webauthn.
    #[arg(
        long,
        env = "RP_RELATED_ORIGINS",
        value_name = "RP_RELATED_ORIGINS",
        value_delimiter = ','
    )]
    pub related_origins: Vec<String>,

    #[command(flatten)]
    pub email: EmailArgs,

    /// Lifetime of an email one-time code, in seconds (60-3600).
    #[arg(
        long,
        env = "RP_EMAIL_CODE_TTL_SECS",
        value_name = "RP_EMAIL_CODE_TTL_SECS",
        default_value_t = DEFAULT_EMAIL_CODE_TTL_SECS
    )]
    pub email_code_ttl_secs: u64,

    /// A page of your app that completes an emailed code: messages then carry a link to it with the code in the URL fragment (`#code=…&purpose=…`), so opening the mail on this device finishes without typing. https (http only for a loopback host).
    #[arg(long, env = "RP_EMAIL_LINK_URL", value_name = "RP_EMAIL_LINK_URL")]
    pub email_link_url: Option<Url>,

    /// Who may sign in with an email code: `off`, `any` user, or `no_passkey` (only users without an active passkey). Needs email delivery and RP_COGNITO_USER_POOL_ID. An email code is phishable: keep it off where accounts are valuable.
    #[arg(
        long,
        env = "RP_EMAIL_SIGNIN",
        value_name = "RP_EMAIL_SIGNIN",
        default_value = "off"
    )]
    pub email_signin: EmailSignIn,

    /// Email the user when a passkey is added, deleted or revoked and when an admin resets the account (to their verified email; needs RP_COGNITO_USER_POOL_ID to find it). Default: on whenever email is configured.
    #[arg(long, env = "RP_EMAIL_NOTIFY", value_name = "RP_EMAIL_NOTIFY", action = clap::ArgAction::Set)]
    pub email_notify: Option<bool>,

    /// Passkey-first sign-up needs a verified email (a `signupToken` from /v1/email/verify). Default: on whenever email is configured. Off lets anyone create an account for any address (squatting).
    #[arg(long, env = "RP_SIGNUP_VERIFY_EMAIL", value_name = "RP_SIGNUP_VERIFY_EMAIL", action = clap::ArgAction::Set)]
    pub signup_verify_email: Option<bool>,

    /// Log format: `json` (one object per line, for production) or `pretty`.
    #[arg(
        long,
        env = "RP_LOG_FORMAT",
        value_name = "RP_LOG_FORMAT",
        default_value = "json"
    )]
    pub log_format: LogFormat,
}

/// Who may sign in with an email code (`RP_EMAIL_SIGNIN`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
#[value(rename_all = "snake_case")]
pub enum EmailSignIn {
    Off,
    Any,
    /// Only users with no active passkey (a fallback that cannot bypass a passkey).
    NoPasskey,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum EmailTransportKind {
    Smtp,
    Ses,
}

/// How rp-server sends mail.
#[derive(Debug, Clone)]
pub enum EmailTransport {
    /// An SMTP server (the URL may carry credentials).
    Smtp(SecretString),
    /// Amazon SES v2 through the AWS SDK.
    Ses,
}

#[derive(Debug, Clone)]
pub struct EmailConfig {
    pub transport: EmailTransport,
    /// The `From` mailbox, e.g. `Example <no-reply@example.com>`.
    pub from: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Json,
    Pretty,
}

/// An allowed origin, as WebAuthn compares them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// `https://app.example.com` (or `http://` for local development).
    Web(Url),
    /// `android:apk-key-hash:<base64url sha256 of the signing certificate>`.
    Android(String),
}

impl Origin {
    pub fn as_url(&self) -> Result<Url, url::ParseError> {
        match self {
            Self::Web(url) => Ok(url.clone()),
            Self::Android(s) => Url::parse(s),
        }
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
    pub ceremony_ttl: Duration,
    pub nonce_ttl: Duration,
    pub enrolment_ttl: Duration,
    pub rate_limit_per_min: u32,
    /// How often the JWKS may be fetched again on an unknown `kid` (not a setting:
    /// [`crate::auth::JWKS_MIN_REFRESH`]; tests shorten it).
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
    pub hints: Vec<crate::flows::ceremony::Hint>,
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
            ceremony_ttl: Duration::from_secs(DEFAULT_CEREMONY_TTL_SECS),
            nonce_ttl: Duration::from_secs(DEFAULT_NONCE_TTL_SECS),
            enrolment_ttl: Duration::from_secs(DEFAULT_ENROLMENT_TTL_SECS),
            rate_limit_per_min: DEFAULT_RATE_LIMIT_PER_MIN,
            jwks_min_refresh: crate::auth::JWKS_MIN_REFRESH,
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

/// A setting that failed validation; the message names the variable.
#[derive(Debug, thiserror::Error)]
#[error("invalid {variable}: {reason}")]
pub struct ConfigError {
    pub variable: &'static str,
    pub reason: String,
}

fn bad(variable: &'static str, reason: impl Into<String>) -> ConfigError {
    ConfigError {
        variable,
        reason: reason.into(),
    }
}

impl TryFrom<ServeArgs> for Config {
    type Error = ConfigError;

    fn try_from(args: ServeArgs) -> Result<Self, ConfigError> {
        let rp_id = validate_rp_id(&args.rp_id)?;
        let origins = args
            .rp_origins
            .iter()
            .map(|o| o.trim())
            .filter(|o| !o.is_empty())
            .map(|o| parse_origin(o, &rp_id))
            .collect::<Result<Vec<_>, _>>()?;
        if origins.is_empty() {
            return Err(bad("RP_ORIGINS", "at least one origin is required"));
        }

        let issuer = args.cognito_issuer.trim().trim_end_matches('/').to_owned();
        let issuer_url = Url::parse(&issuer)
            .map_err(|e| bad("RP_COGNITO_ISSUER", format!("not a URL ({e})")))?;
        check_https("RP_COGNITO_ISSUER", &issuer_url)?;
        let jwks = match &args.cognito_jwks_url {
            Some(u) => Url::parse(u.trim())
                .map_err(|e| bad("RP_COGNITO_JWKS_URL", format!("not a URL ({e})")))?,
            None => Url::parse(&format!("{issuer}/.well-known/jwks.json")).map_err(|e| {
                bad(
                    "RP_COGNITO_ISSUER",
                    format!("cannot derive the JWKS URL ({e})"),
                )
            })?,
        };
        check_https("RP_COGNITO_JWKS_URL", &jwks)?;

        let client_ids: Vec<String> = args
            .cognito_client_ids
            .iter()
            .map(|c| c.trim().to_owned())
            .filter(|c| !c.is_empty())
            .collect();
        if client_ids.is_empty() {
            return Err(bad(
                "RP_COGNITO_CLIENT_IDS",
                "at least one app client id is required",
            ));
        }

        check_token("RP_SERVICE_TOKEN", &args.service_token)?;
        if let Some(admin) = &args.admin_token {
            check_token("RP_ADMIN_TOKEN", admin)?;
            if admin.expose_secret() == args.service_token.expose_secret() {
                return Err(bad("RP_ADMIN_TOKEN", "must differ from RP_SERVICE_TOKEN"));
            }
        }

        if !(30..=3600).contains(&args.ceremony_ttl_secs) {
            return Err(bad("RP_CEREMONY_TTL_SECS", "must be between 30 and 3600"));
        }
        if !(60..=604_800).contains(&args.enrolment_ttl_secs) {
            return Err(bad(
                "RP_ENROLMENT_TTL_SECS",
                "must be between 60 and 604800",
            ));
        }
        if !(10..=600).contains(&args.nonce_ttl_secs) {
            return Err(bad("RP_NONCE_TTL_SECS", "must be between 10 and 600"));
        }
        let cognito_user_pool_id = match args.cognito_user_pool_id.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(id) if !id.contains('_') => {
                return Err(bad(
                    "RP_COGNITO_USER_POOL_ID",
                    "must look like <region>_<id>",
                ));
            }
            Some(id) => Some(id.to_owned()),
        };
        let signup_user_pool_id = match (args.signup_enabled, &cognito_user_pool_id) {
            (false, _) => None,
            (true, None) => {
                return Err(bad(
                    "RP_COGNITO_USER_POOL_ID",
                    "is required when RP_SIGNUP_ENABLED=true",
                ));
            }
            (true, Some(id)) => Some(id.clone()),
        };
        if !(1..=100_000).contains(&args.max_connections) {
            return Err(bad("RP_MAX_CONNECTIONS", "must be between 1 and 100000"));
        }
        if !(1..=600).contains(&args.header_read_timeout_secs) {
            return Err(bad(
                "RP_HEADER_READ_TIMEOUT_SECS",
                "must be between 1 and 600",
            ));
        }
        if !(1..=300).contains(&args.shutdown_grace_secs) {
            return Err(bad("RP_SHUTDOWN_GRACE_SECS", "must be between 1 and 300"));
        }
        if args.reauth_max_age_secs > 86_400 * 30 {
            return Err(bad(
                "RP_REAUTH_MAX_AGE_SECS",
                "must be between 0 (off) and 2592000 (30 days)",
            ));
        }
        if args.audit_retention_days > 36_500 {
            return Err(bad(
                "RP_AUDIT_RETENTION_DAYS",
                "must be between 0 (keep forever) and 36500",
            ));
        }
        let db_timeouts = args.database.timeouts()?;
        let internal_listen_addr = match args.internal_listen_addr.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(a) => Some(a.parse::<SocketAddr>().map_err(|e| {
                bad(
                    "RP_INTERNAL_LISTEN_ADDR",
                    format!("not a socket address ({e})"),
                )
            })?),
        };
        if args.database.db_max_connections == 0 {
            return Err(bad("RP_DB_MAX_CONNECTIONS", "must be at least 1"));
        }
        let related_origins = related_origins(&args.related_origins)?;
        let email = args.email.config()?;
        if !(60..=3600).contains(&args.email_code_ttl_secs) {
            return Err(bad("RP_EMAIL_CODE_TTL_SECS", "must be between 60 and 3600"));
        }
        if let Some(link) = &args.email_link_url {
            check_https("RP_EMAIL_LINK_URL", link)?;
        }
        if args.email_signin != EmailSignIn::Off {
            if email.is_none() {
                return Err(bad(
                    "RP_EMAIL_SIGNIN",
                    "needs email delivery (RP_EMAIL_TRANSPORT) to send the codes",
                ));
            }
            if cognito_user_pool_id.is_none() {
                return Err(bad(
                    "RP_EMAIL_SIGNIN",
                    "needs RP_COGNITO_USER_POOL_ID to find the account of an address",
                ));
            }
        }
        if args.email_notify == Some(true) && email.is_none() {
            return Err(bad(
                "RP_EMAIL_NOTIFY",
                "needs email delivery (RP_EMAIL_TRANSPORT)",
            ));
        }
        let signup_verify_email = args.signup_verify_email.unwrap_or(email.is_some());
        let email_notify = args.email_notify.unwrap_or(email.is_some());
        if signup_verify_email && email.is_none() {
            return Err(bad(
                "RP_SIGNUP_VERIFY_EMAIL",
                "needs email delivery (RP_EMAIL_TRANSPORT) to send the codes",
            ));
        }

        let mut config = Config {
            database_url: args.database.database_url,
            db_max_connections: args.database.db_max_connections,
            db_timeouts,
            listen_addr: args.listen_addr,
            internal_listen_addr,
            rp_name: args
                .rp_name
                .filter(|n| !n.trim().is_empty())
                .unwrap_or_else(|| rp_id.clone()),
            rp_id,
            origins,
            cognito_issuer: issuer,
            cognito_jwks_url: jwks,
            cognito_client_ids: client_ids,
            service_token: args.service_token,
            admin_token: args.admin_token,
            ceremony_ttl: Duration::from_secs(args.ceremony_ttl_secs),
            nonce_ttl: Duration::from_secs(args.nonce_ttl_secs),
            enrolment_ttl: Duration::from_secs(args.enrolment_ttl_secs),
            rate_limit_per_min: args.rate_limit_per_min,
            jwks_min_refresh: crate::auth::JWKS_MIN_REFRESH,
            shutdown_grace: Duration::from_secs(args.shutdown_grace_secs),
            max_connections: args.max_connections,
            header_read_timeout: Duration::from_secs(args.header_read_timeout_secs),
            reauth_max_age: (args.reauth_max_age_secs > 0)
                .then(|| Duration::from_secs(args.reauth_max_age_secs)),
            audit_retention: retention(args.audit_retention_days),
            trusted_proxies: args.trusted_proxies,
            auto_migrate: args.auto_migrate,
            log_format: args.log_format,
            signup_user_pool_id,
            cognito_user_pool_id,
            cognito_pool_shape: args.cognito_pool_shape,
            related_origins,
            apple_app_ids: Vec::new(),
            android_apps: Vec::new(),
            hints: args.hints,
            email,
            email_code_ttl: Duration::from_secs(args.email_code_ttl_secs),
            email_link_url: args.email_link_url,
            signup_verify_email,
            email_signin: args.email_signin,
            email_notify,
        };
        config.set_native_apps(&args.apple_app_ids, &args.android_apps)?;
        Ok(config)
    }
}

impl Config {
    /// Sets the native apps allowed to use the RP ID's passkeys (`RP_APPLE_APP_IDS`,
    /// `RP_ANDROID_APPS`), validated as at start, and accepts the origins their
    /// ceremonies carry without repeating them in `RP_ORIGINS`: each Android app's
    /// `android:apk-key-hash:`, and for iOS apps `https://<RP_ID>` (what ASAuthorization
    /// puts in clientDataJSON, whichever app asks).
    pub fn set_native_apps(
        &mut self,
        apple_app_ids: &[String],
        android: &[String],
    ) -> Result<(), ConfigError> {
        self.apple_app_ids = self::apple_app_ids(apple_app_ids)?;
        self.android_apps = android_apps(android)?;
        let mut derived: Vec<Origin> = self
            .android_apps
            .iter()
            .map(|app| Origin::Android(app.origin()))
            .collect();
        if !self.apple_app_ids.is_empty() {
            let site = Url::parse(&format!("https://{}", self.rp_id))
                .map_err(|e| bad("RP_ID", format!("not a host for an https origin ({e})")))?;
            derived.push(Origin::Web(site));
        }
        for origin in derived {
            if !self.origins.contains(&origin) {
                self.origins.push(origin);
            }
        }
        Ok(())
    }
}

/// https, or http only to a loopback host (a local stand-in): keys and tokens never
/// travel in clear text over a network.
fn check_https(variable: &'static str, url: &Url) -> Result<(), ConfigError> {
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

/// The mail settings: a transport, its URL (TLS unless the host is loopback), a sender.
impl EmailArgs {
    /// The validated mail settings; `None` when no transport is set.
    pub fn config(&self) -> Result<Option<EmailConfig>, ConfigError> {
        email_config(self)
    }
}

fn email_config(args: &EmailArgs) -> Result<Option<EmailConfig>, ConfigError> {
    let Some(kind) = args.email_transport else {
        if args.smtp_url.is_some() || args.email_from.is_some() {
            return Err(bad(
                "RP_EMAIL_TRANSPORT",
                "is required with RP_SMTP_URL or RP_EMAIL_FROM (smtp or ses)",
            ));
        }
        return Ok(None);
    };
    let from = args
        .email_from
        .as_deref()
        .map(str::trim)
        .filter(|f| !f.is_empty())
        .ok_or_else(|| bad("RP_EMAIL_FROM", "is required with RP_EMAIL_TRANSPORT"))?;
    if from.parse::<lettre::message::Mailbox>().is_err() {
        return Err(bad(
            "RP_EMAIL_FROM",
            "must be an address or `Name <address>`",
        ));
    }
    let transport = match kind {
        EmailTransportKind::Ses => EmailTransport::Ses,
        EmailTransportKind::Smtp => {
            let raw = args
                .smtp_url
                .clone()
                .ok_or_else(|| bad("RP_SMTP_URL", "is required with RP_EMAIL_TRANSPORT=smtp"))?;
            let url =
                Url::parse(raw.expose_secret()).map_err(|_| bad("RP_SMTP_URL", "is not a URL"))?;
            let tls = url.scheme() == "smtps"
                || url
                    .query_pairs()
                    .any(|(k, v)| k == "tls" && v == "required");
            match url.scheme() {
                "smtps" | "smtp" if tls || rp_shared::loopback::is_loopback(&url) => {}
                "smtp" => {
                    return Err(bad(
                        "RP_SMTP_URL",
                        "must use TLS (smtps://, or smtp://…?tls=required); plain smtp:// only for a loopback host",
                    ));
                }
                _ => return Err(bad("RP_SMTP_URL", "must be an smtp:// or smtps:// URL")),
            }
            lettre::AsyncSmtpTransport::<lettre::Tokio1Executor>::from_url(raw.expose_secret())
                .map_err(|e| bad("RP_SMTP_URL", format!("not usable ({e})")))?;
            EmailTransport::Smtp(raw)
        }
    };
    Ok(Some(EmailConfig {
        transport,
        from: from.to_owned(),
    }))
}

fn check_token(variable: &'static str, token: &SecretString) -> Result<(), ConfigError> {
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

fn validate_rp_id(raw: &str) -> Result<String, ConfigError> {
    let id = raw.trim().to_ascii_lowercase();
    if id.is_empty() {
        return Err(bad("RP_ID", "must not be empty"));
    }
    if id.contains("://") || id.contains('/') || id.contains(':') {
        return Err(bad(
            "RP_ID",
            "must be a bare domain such as example.com (no scheme, port or path)",
        ));
    }
    match url::Host::parse(&id) {
        Ok(url::Host::Domain(_)) => Ok(id),
        Ok(_) => Err(bad("RP_ID", "must be a domain name, not an IP address")),
        Err(e) => Err(bad("RP_ID", format!("not a valid domain ({e})"))),
    }
}

/// An Android app allowed to use the RP ID's passkeys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AndroidApp {
    pub package_name: String,
    /// The signing certificate's SHA-256, 32 bytes.
    pub fingerprint: [u8; 32],
}

impl AndroidApp {
    /// `AB:CD:…`, as assetlinks.json lists it.
    pub fn fingerprint_hex(&self) -> String {
        self.fingerprint
            .iter()
            .map(|b| format!("{b:02X}"))
            .collect::<Vec<_>>()
            .join(":")
    }

    /// `android:apk-key-hash:<base64url of the fingerprint>`, the origin its passkey
    /// ceremonies carry.
    pub fn origin(&self) -> String {
        format!(
            "android:apk-key-hash:{}",
            rp_shared::credential_id::encode(&self.fingerprint)
        )
    }
}

/// `RP_APPLE_APP_IDS`: `TEAMID.bundle.id`, a ten-character team id.
fn apple_app_ids(raw: &[String]) -> Result<Vec<String>, ConfigError> {
    raw.iter()
        .map(|r| r.trim())
        .filter(|r| !r.is_empty())
        .map(|id| {
            let valid = id.split_once('.').is_some_and(|(team, bundle)| {
                team.len() == 10
                    && team.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
                    && !bundle.is_empty()
                    && bundle
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
            });
            if valid {
                Ok(id.to_owned())
            } else {
                Err(bad(
                    "RP_APPLE_APP_IDS",
                    format!("`{id}` is not TEAMID.bundle.id (a ten-character team id, then the bundle id)"),
                ))
            }
        })
        .collect()
}

/// `RP_ANDROID_APPS`: `package.name:AB:CD:…` (32 colon-separated hex bytes).
fn android_apps(raw: &[String]) -> Result<Vec<AndroidApp>, ConfigError> {
    raw.iter()
        .map(|r| r.trim())
        .filter(|r| !r.is_empty())
        .map(|entry| {
            let refuse = |why: &str| bad("RP_ANDROID_APPS", format!("`{entry}`: {why}"));
            let (package, hex) = entry
                .split_once(':')
                .ok_or_else(|| refuse("expected package.name:SHA256_FINGERPRINT"))?;
            let segment_ok = |s: &str| {
                s.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
                    && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            };
            if !(package.contains('.') && package.split('.').all(segment_ok)) {
                return Err(refuse("not an Android package name (like com.example.app)"));
            }
            let bytes: Vec<u8> = hex
                .split(':')
                .map(|h| {
                    (h.len() == 2)
                        .then(|| u8::from_str_radix(h, 16).ok())
                        .flatten()
                })
                .collect::<Option<_>>()
                .ok_or_else(|| refuse("the fingerprint must be 32 colon-separated hex bytes"))?;
            let fingerprint: [u8; 32] = bytes.try_into().map_err(|_| {
                refuse("the fingerprint must be 32 colon-separated hex bytes (SHA-256)")
            })?;
            Ok(AndroidApp {
                package_name: package.to_owned(),
                fingerprint,
            })
        })
        .collect()
}

/// WebAuthn Level 3's limit on distinct registrable-domain labels in a related origins
/// list: a browser stops reading the list after this many.
pub const MAX_RELATED_ORIGIN_LABELS: usize = 5;

/// `RP_RELATED_ORIGINS`: https origins (no path), within the label limit.
fn related_origins(raw: &[String]) -> Result<Vec<Url>, ConfigError> {
    let mut origins = Vec::new();
    let mut labels: Vec<String> = Vec::new();
    for raw in raw.iter().map(|r| r.trim()).filter(|r| !r.is_empty()) {
        let url = Url::parse(raw)
            .map_err(|e| bad("RP_RELATED_ORIGINS", format!("`{raw}` is not a URL ({e})")))?;
        if url.scheme() != "https"
            || url.path() != "/"
            || url.query().is_some()
            || url.fragment().is_some()
        {
            return Err(bad(
                "RP_RELATED_ORIGINS",
                format!("`{raw}`: a related origin is https://host[:port], nothing more"),
            ));
        }
        let host = url.host_str().unwrap_or_default();
        let label = registrable_label(host).ok_or_else(|| {
            bad(
                "RP_RELATED_ORIGINS",
                format!("`{raw}`: its host is not under a public suffix"),
            )
        })?;
        if !labels.contains(&label) {
            labels.push(label);
        }
        origins.push(url);
    }
    if labels.len() > MAX_RELATED_ORIGIN_LABELS {
        return Err(bad(
            "RP_RELATED_ORIGINS",
            format!(
                "names {} distinct registrable-domain labels ({}); browsers read at most {MAX_RELATED_ORIGIN_LABELS}",
                labels.len(),
                labels.join(", ")
            ),
        ));
    }
    Ok(origins)
}

/// The label of a host's registrable domain (`shop.example.co.uk` → `example`), as the
/// WebAuthn spec counts related origins.
pub fn registrable_label(host: &str) -> Option<String> {
    let domain = psl::domain_str(host)?;
    let suffix = psl::suffix_str(host)?;
    let label = domain.strip_suffix(suffix)?.trim_end_matches('.');
    (!label.is_empty()).then(|| label.to_lowercase())
}

fn parse_origin(raw: &str, rp_id: &str) -> Result<Origin, ConfigError> {
    if let Some(hash) = raw.strip_prefix("android:apk-key-hash:") {
        let ok = !hash.is_empty()
            && hash
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        return if ok {
            Ok(Origin::Android(raw.to_owned()))
        } else {
            Err(bad(
                "RP_ORIGINS",
                format!("`{raw}`: the apk key hash must be unpadded base64url"),
            ))
        };
    }
    let url =
        Url::parse(raw).map_err(|e| bad("RP_ORIGINS", format!("`{raw}` is not a URL ({e})")))?;
    if !matches!(url.scheme(), "https" | "http") {
        return Err(bad(
            "RP_ORIGINS",
            format!("`{raw}`: only https/http and android:apk-key-hash: origins are allowed"),
        ));
    }
    if url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
        return Err(bad(
            "RP_ORIGINS",
            format!("`{raw}`: an origin has no path, query or fragment"),
        ));
    }
    let host = url.host_str().unwrap_or_default();
    if host != rp_id && !host.ends_with(&format!(".{rp_id}")) {
        return Err(bad(
            "RP_ORIGINS",
            format!("`{raw}`: its host must be RP_ID ({rp_id}) or a subdomain of it"),
        ));
    }
    Ok(Origin::Web(url))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use clap::Parser as _;

    #[derive(clap::Parser)]
    struct Cli {
        #[command(flatten)]
        serve: ServeArgs,
    }

    fn parse(args: &[&str]) -> Result<Config, String> {
        let mut argv = vec!["rp-server"];
        argv.extend_from_slice(args);
        let cli = Cli::try_parse_from(argv).map_err(|e| e.to_string())?;
        Config::try_from(cli.serve).map_err(|e| e.to_string())
    }

    const BASE: &[&str] = &[
        "--database-url=postgres://localhost/rp",
        "--rp-id=example.com",
        "--rp-origins=https://example.com,https://app.example.com:8443,android:apk-key-hash:abc_-1",
        "--cognito-issuer=https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Pool/",
        "--cognito-client-ids=client1, client2",
        "--service-token=0123456789abcdef0123456789abcdef",
    ];

    /// BASE with the flags in `extra` replacing (or adding to) its own.
    fn with(extra: &[&str]) -> Result<Config, String> {
        let flag = |a: &str| a.split('=').next().unwrap_or_default().to_owned();
        let mut v: Vec<&str> = BASE
            .iter()
            .copied()
            .filter(|b| !extra.iter().any(|e| flag(e) == flag(b)))
            .collect();
        v.extend_from_slice(extra);
        parse(&v)
    }

    #[test]
    fn a_missing_required_setting_is_named() {
        let without: Vec<&str> = BASE
            .iter()
            .copied()
            .filter(|a| !a.starts_with("--rp-id"))
            .collect();
        let err = parse(&without).err().unwrap_or_default();
        assert!(err.contains("RP_ID"), "{err}");
    }

    #[test]
    fn email_settings_default_to_verified_sign_up() {
        let c = with(&[
            "--email-transport=smtp",
            "--email-from=Example <no-reply@example.com>",
            "--smtp-url=smtps://user:pass@email-smtp.eu-west-1.amazonaws.com:465",
        ])
        .unwrap();
        assert!(c.email.is_some() && c.signup_verify_email);
        assert_eq!(c.email_code_ttl, Duration::from_secs(600));
        let c = with(&[
            "--email-transport=smtp",
            "--email-from=a@b.c",
            "--smtp-url=smtp://mail.example.com:587?tls=required",
            "--signup-verify-email=false",
        ])
        .unwrap();
        assert!(!c.signup_verify_email);
        let c = with(&[
            "--email-transport=smtp",
            "--email-from=a@b.c",
            "--smtp-url=smtp://127.0.0.1:2525",
        ])
        .unwrap();
        assert!(c.email.is_some(), "plain SMTP to a loopback host");
        let c = with(&[]).unwrap();
        assert!(c.email.is_none() && !c.signup_verify_email);
    }

    #[test]
    fn native_apps_are_parsed_and_their_origins_derived() {
        let fingerprint = (0..32)
            .map(|i| format!("{i:02X}"))
            .collect::<Vec<_>>()
            .join(":");
        let c = with(&[
            "--apple-app-ids=ABCDE12345.com.example.app",
            &format!("--android-apps=com.example.app:{fingerprint}"),
        ])
        .unwrap();
        assert_eq!(c.apple_app_ids, ["ABCDE12345.com.example.app"]);
        let app = &c.android_apps[0];
        assert_eq!(app.package_name, "com.example.app");
        assert_eq!(app.fingerprint_hex(), fingerprint);
        assert_eq!(
            app.origin(),
            "android:apk-key-hash:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8"
        );
        assert!(c.origins.contains(&Origin::Android(app.origin())));

        // iOS apps' ceremonies carry https://<RP_ID>: accepted with RP_APPLE_APP_IDS only.
        let ios = Origin::Web(Url::parse("https://example.com").unwrap());
        let origins = "--rp-origins=https://app.example.com";
        let apple = with(&[origins, "--apple-app-ids=ABCDE12345.com.example.app"]).unwrap();
        assert!(apple.origins.contains(&ios));
        assert!(!with(&[origins]).unwrap().origins.contains(&ios));
    }

    #[test]
    fn related_origins_count_registrable_labels() {
        assert_eq!(
            registrable_label("shop.example.co.uk").as_deref(),
            Some("example")
        );
        assert_eq!(registrable_label("example.com").as_deref(), Some("example"));
        assert_eq!(
            registrable_label("www.example-shop.de").as_deref(),
            Some("example-shop")
        );
        // Five labels, one of them under three suffixes: within the limit.
        let c = with(&[
            "--related-origins=https://example.co.uk,https://shop.example.de,https://a.com,https://b.com,https://c.com,https://d.com",
        ]);
        assert!(c.is_ok(), "{c:?}");
        assert_eq!(c.unwrap().related_origins.len(), 6);
    }

    #[test]
    fn valid_configuration_gets_defaults() {
        let c = with(&[]).unwrap();
        assert_eq!(c.rp_name, "example.com");
        assert_eq!(c.origins.len(), 3);
        assert_eq!(c.cognito_client_ids, ["client1", "client2"]);
        assert_eq!(
            c.cognito_jwks_url.as_str(),
            "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Pool/.well-known/jwks.json"
        );
        assert_eq!(c.ceremony_ttl, Duration::from_secs(180));
        assert_eq!(c.nonce_ttl, Duration::from_secs(120));
        assert_eq!(c.listen_addr.to_string(), "127.0.0.1:8080");
        assert!(c.admin_token.is_none());
        assert!(c.auto_migrate);
    }

    #[test]
    fn bad_settings_are_named() {
        let cases: &[(&[&str], &str)] = &[
            (&["--rp-id=https://example.com"], "RP_ID"),
            (&["--rp-origins=https://evil.com"], "RP_ORIGINS"),
            (&["--rp-origins=https://notexample.com"], "RP_ORIGINS"),
            (&["--rp-origins=ftp://example.com"], "RP_ORIGINS"),
            (&["--rp-origins=https://example.com/path"], "RP_ORIGINS"),
            (&["--rp-origins=android:apk-key-hash:"], "RP_ORIGINS"),
            (&["--cognito-issuer=not a url"], "RP_COGNITO_ISSUER"),
            (
                &["--cognito-issuer=http://cognito.example.com/pool"],
                "RP_COGNITO_ISSUER",
            ),
            (
                &["--cognito-jwks-url=http://10.0.0.5/jwks.json"],
                "RP_COGNITO_JWKS_URL",
            ),
            (
                &["--internal-listen-addr=nonsense"],
                "RP_INTERNAL_LISTEN_ADDR",
            ),
            (&["--cognito-client-ids= ,"], "RP_COGNITO_CLIENT_IDS"),
            (&["--service-token=short"], "RP_SERVICE_TOKEN"),
            (
                &["--admin-token=0123456789abcdef0123456789abcdef"],
                "RP_ADMIN_TOKEN",
            ),
            (&["--ceremony-ttl-secs=5"], "RP_CEREMONY_TTL_SECS"),
            (&["--nonce-ttl-secs=100000"], "RP_NONCE_TTL_SECS"),
            (&["--signup-enabled=true"], "RP_COGNITO_USER_POOL_ID"),
            (
                &["--signup-enabled=true", "--cognito-user-pool-id=nopool"],
                "RP_COGNITO_USER_POOL_ID",
            ),
            (&["--cognito-pool-shape=email"], "RP_COGNITO_POOL_SHAPE"),
            (&["--smtp-url=smtp://127.0.0.1:25"], "RP_EMAIL_TRANSPORT"),
            (
                &["--email-transport=smtp", "--email-from=a@b.c"],
                "RP_SMTP_URL",
            ),
            (&["--email-transport=ses"], "RP_EMAIL_FROM"),
            (
                &["--email-transport=ses", "--email-from=not an address"],
                "RP_EMAIL_FROM",
            ),
            (
                &[
                    "--email-transport=smtp",
                    "--email-from=a@b.c",
                    "--smtp-url=smtp://mail.example.com:25",
                ],
                "RP_SMTP_URL",
            ),
            (
                &[
                    "--email-transport=smtp",
                    "--email-from=a@b.c",
                    "--smtp-url=smtp://10.0.0.5:25",
                ],
                "RP_SMTP_URL",
            ),
            (&["--signup-verify-email=true"], "RP_SIGNUP_VERIFY_EMAIL"),
            (&["--email-signin=any"], "RP_EMAIL_SIGNIN"),
            (
                &[
                    "--email-signin=no_passkey",
                    "--email-transport=ses",
                    "--email-from=a@b.c",
                ],
                "RP_EMAIL_SIGNIN",
            ),
            (&["--email-signin=sometimes"], "RP_EMAIL_SIGNIN"),
            (&["--email-notify=true"], "RP_EMAIL_NOTIFY"),
            (
                &["--related-origins=http://example.org"],
                "RP_RELATED_ORIGINS",
            ),
            (&["--hints=phone"], "RP_HINTS"),
            (&["--apple-app-ids=com.example.app"], "RP_APPLE_APP_IDS"),
            (
                &["--apple-app-ids=abcde12345.com.example.app"],
                "RP_APPLE_APP_IDS",
            ),
            (&["--android-apps=com.example.app"], "RP_ANDROID_APPS"),
            (&["--android-apps=com.example.app:AB:CD"], "RP_ANDROID_APPS"),
            (&["--android-apps=example:AB:CD"], "RP_ANDROID_APPS"),
            (
                &["--related-origins=https://example.org/login"],
                "RP_RELATED_ORIGINS",
            ),
            (
                &[
                    "--related-origins=https://a.com,https://b.com,https://c.com,https://d.com,https://e.com,https://f.com",
                ],
                "RP_RELATED_ORIGINS",
            ),
            (
                &["--email-link-url=http://app.example.com/email"],
                "RP_EMAIL_LINK_URL",
            ),
            (
                &[
                    "--email-transport=ses",
                    "--email-from=a@b.c",
                    "--email-code-ttl-secs=5",
                ],
                "RP_EMAIL_CODE_TTL_SECS",
            ),
        ];
        for (extra, variable) in cases {
            let err = with(extra).expect_err(&format!("{extra:?} should be rejected"));
            assert!(
                err.contains(variable),
                "{extra:?}: `{err}` should name {variable}"
            );
        }
    }

    #[test]
    fn secrets_do_not_print() {
        let c = with(&["--admin-token=fedcba9876543210fedcba9876543210"]).unwrap();
        let shown = format!("{c:?}");
        assert!(!shown.contains("0123456789abcdef0123456789abcdef"));
        assert!(!shown.contains("fedcba9876543210fedcba9876543210"));
        assert!(!shown.contains("postgres://localhost/rp"));
    }
}
