//! From the layered settings to the [`Config`] `serve` runs with: defaults applied, every
//! value checked, each error naming its variable and file key.

use std::net::SocketAddr;
use std::time::Duration;

use ipnet::IpNet;
use secrecy::{ExposeSecret as _, SecretString};
use url::Url;

use super::settings::{Settings, entries, text};
use super::tokens::check_token;
use super::*;

impl Config {
    /// Every admin token: `RP_ADMIN_TOKEN` (named `admin`) and the named ones.
    /// Whether `/console/` is served: asked for, and there is an internal listener.
    pub fn console_on(&self) -> bool {
        self.console && self.internal_listen_addr.is_some()
    }

    /// Whether the admin API answers at all: an admin token is set, or the console
    /// (whose admins sign in as members of `RP_ADMIN_GROUP`) is on.
    pub fn admin_api_on(&self) -> bool {
        self.admin_token.is_some() || !self.admin_tokens.is_empty() || self.console_on()
    }

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
        let mut origins = web::origins(s, &rp_id)?;
        let oidc = oidc::oidc(s, &rp_id, &mut origins)?;
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
        config.hosts = entries(&s.hosts)
            .map(|h| match url::Host::parse(h) {
                Ok(url::Host::Domain(d)) => Ok(d.to_ascii_lowercase()),
                Ok(ip) => Ok(ip.to_string()),
                Err(e) => Err(bad("RP_HOSTS", format!("{h:?} is not a host name ({e})"))),
            })
            .collect::<Result<_, _>>()?;
        config.passkey_enroll_url = web::page_url("RP_PASSKEY_ENROLL_URL", &s.passkey_enroll_url)?;
        config.passkey_manage_url = web::page_url("RP_PASSKEY_MANAGE_URL", &s.passkey_manage_url)?;
        config.hints = s
            .hints
            .iter()
            .map(|h| choice("RP_HINTS", h))
            .collect::<Result<_, _>>()?;
        config.apply_email(s)?;
        let max_passkeys = s
            .max_passkeys_per_user
            .unwrap_or(DEFAULT_MAX_PASSKEYS_PER_USER);
        within("RP_MAX_PASSKEYS_PER_USER", max_passkeys.into(), 1, 1000)?;
        config.max_passkeys_per_user = max_passkeys;
        if let Some(format) = text(&s.log_format) {
            config.log_format = choice("RP_LOG_FORMAT", format)?;
        }
        config.set_native_apps(&s.apple_app_ids, &s.android_apps)?;
        config.oidc = oidc;
        let (mds, custom_root) = policy::mds(s)?;
        config.policies = policy::policies(s, mds.is_some())?;
        config.mds = mds.map(std::sync::Arc::new);
        config.mds_custom_root = custom_root;
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
        self.admin_group = match &s.admin_group {
            None => Some(super::DEFAULT_ADMIN_GROUP.to_owned()),
            Some(g) if g.trim().is_empty() => None,
            Some(g) if g.len() > 128 || g.chars().any(char::is_control) => {
                return Err(bad(
                    "RP_ADMIN_GROUP",
                    "is not a Cognito group name (1-128 characters)",
                ));
            }
            Some(g) => Some(g.trim().to_owned()),
        };
        self.console = s.console.unwrap_or(true);
        if let Some(id) = text(&s.console_client_id) {
            if !self.cognito_client_ids.iter().any(|c| c == id) {
                return Err(bad(
                    "RP_CONSOLE_CLIENT_ID",
                    "must be one of RP_COGNITO_CLIENT_IDS (the console's access tokens are checked like any other)",
                ));
            }
            self.console_client_id = id.to_owned();
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
        let request_ms = s.request_timeout_ms.unwrap_or(DEFAULT_REQUEST_TIMEOUT_MS);
        within("RP_REQUEST_TIMEOUT_MS", request_ms, 100, 120_000)?;
        self.request_timeout = Duration::from_millis(request_ms);
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
        let per_ip = s
            .email_max_failures_per_ip_day
            .unwrap_or(DEFAULT_EMAIL_MAX_FAILURES_PER_IP_DAY);
        within(
            "RP_EMAIL_MAX_FAILURES_PER_IP_DAY",
            per_ip.into(),
            1,
            100_000,
        )?;
        self.email_max_failures_per_ip_day = per_ip;
        let signups = s
            .email_signup_max_per_hour
            .unwrap_or(DEFAULT_EMAIL_SIGNUP_MAX_PER_HOUR);
        within("RP_EMAIL_SIGNUP_MAX_PER_HOUR", signups.into(), 1, 1_000_000)?;
        self.email_signup_max_per_hour = signups;
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
