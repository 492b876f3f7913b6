//! Every setting as it arrives, before validation: one serde struct that the config file
//! and the environment both fill, and the table that names and documents each key.
//!
//! A setting has one name in each layer: the file's key (`ceremony_ttl_secs`) and the
//! environment variable (`RP_CEREMONY_TTL_SECS`); [`env_var`] maps one to the other.

use secrecy::{ExposeSecret as _, SecretString};
use serde::{Deserialize, Serialize, Serializer};

/// What a setting holds, which decides how its environment variable is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Text, kept as written (never parsed as a number, so a token of digits stays one).
    Text,
    /// Text that must never be printed or logged.
    Secret,
    /// A list: a TOML array, or a comma-separated environment variable.
    List,
    /// A whole number.
    Number,
    /// `true` or `false`.
    Bool,
    /// Nested settings: an array of tables in the file, a JSON array in the variable.
    Json,
}

/// One setting: its file key, what it holds, and its documentation (`--help`).
#[derive(Debug)]
pub struct Key {
    pub name: &'static str,
    pub kind: Kind,
    pub help: &'static str,
}

/// The environment variable of a file key: `RP_` and the key in capitals, except
/// `database_url` (`DATABASE_URL`) and the keys that already start with `rp_`
/// (`rp_id`, `rp_name`).
pub fn env_var(key: &str) -> String {
    if key == "database_url" || key.starts_with("rp_") {
        key.to_ascii_uppercase()
    } else {
        format!("RP_{}", key.to_ascii_uppercase())
    }
}

/// The file key of a setting named by its environment variable, if it is one.
pub fn key_of_env(var: &str) -> Option<&'static Key> {
    KEYS.iter().find(|k| env_var(k.name) == var)
}

macro_rules! keys {
    ($($name:ident: $kind:ident = $help:literal;)*) => {
        /// Every setting, in the order `--help` and `rp-server config` show them.
        pub const KEYS: &[Key] = &[$(Key { name: stringify!($name), kind: Kind::$kind, help: $help }),*];
    };
}

keys! {
    database_url: Secret = "Postgres connection string, e.g. postgres://rp:secret@db.internal/rp. Required.";
    db_max_connections: Number = "Largest number of pooled database connections [default: 10].";
    db_acquire_timeout_ms: Number = "Milliseconds a request waits for a pooled connection before answering 503 (50-30000); with the statement timeout it must fit inside the trigger's budget [default: 750].";
    db_statement_timeout_ms: Number = "Milliseconds Postgres may spend on one statement before it is cancelled (503) (50-600000) [default: 1000].";
    listen_addr: Text = "Address to listen on [default: 127.0.0.1:8080].";
    internal_listen_addr: Text = "A second, private listener: /internal/*, /admin/* and /metrics are served only there (404 on listen_addr). Unset: one listener serves everything.";
    rp_id: Text = "WebAuthn relying party id: the registrable domain passkeys are bound to, e.g. example.com. Required.";
    rp_name: Text = "Relying party display name shown by authenticators [default: rp_id].";
    origins: List = "Allowed origins: https/http URLs whose host is rp_id or a subdomain of it, and android:apk-key-hash:<hash> origins. Required.";
    cognito_issuer: Text = "Expected `iss` of Cognito access tokens, e.g. https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC (https; http only for a loopback host). Required.";
    cognito_jwks_url: Text = "Where to fetch the user pool's JWKS [default: <cognito_issuer>/.well-known/jwks.json].";
    cognito_client_ids: List = "Cognito app client ids whose access tokens are accepted. Required.";
    service_token: Secret = "Bearer token the Cognito trigger Lambdas present on /internal/* (at least 32 characters). Required.";
    admin_token: Secret = "Bearer token for /admin/* (at least 32 characters, differs from the service token); the audit names its holder `admin`. Unset, with admin_tokens unset: the admin API is off.";
    admin_tokens: List = "Named admin tokens, `name=<hex SHA-256 of the token>` each: the audit log names the admin by the token they present. Alone or beside admin_token.";
    admin_group: Text = "The Cognito group whose members may use the admin API and the console with their own access token (the audit names them by sub and email); empty: nobody by group [default: rp-admins].";
    console: Bool = "The admin console at /console/ on internal_listen_addr (true/on or false/off); always off without internal_listen_addr [default: on].";
    console_client_id: Text = "The app client the console signs admins in with (CUSTOM_AUTH, no client secret); one of cognito_client_ids [default: the first of them].";
    ceremony_ttl_secs: Number = "Lifetime of a ceremony, in seconds (30-3600); keep it within the app clients' AuthSessionValidity [default: 180].";
    nonce_ttl_secs: Number = "Lifetime of a sign-in nonce, in seconds (10-600) [default: 120].";
    enrolment_ttl_secs: Number = "Default lifetime of an admin-issued enrolment token, in seconds (60-604800) [default: 900].";
    rate_limit_per_min: Number = "Requests a minute per client IP on /v1/*; 0 turns the limit off [default: 600].";
    reauth_max_age_secs: Number = "Adding or deleting a passkey needs a sign-in at most this many seconds ago (0 turns the check off) [default: 900].";
    max_connections: Number = "Most client connections served at once per listener (1-100000) [default: 1024].";
    request_timeout_ms: Number = "Milliseconds a whole request may take, reading a slow body included, before 408 REQUEST_TIMEOUT (100-120000) [default: 10000].";
    header_read_timeout_secs: Number = "Seconds a client may take to send headers, or keep an idle connection (1-600) [default: 10].";
    shutdown_grace_secs: Number = "Seconds in-flight requests may take to finish after SIGTERM (1-300) [default: 20].";
    audit_retention_days: Number = "Days audit events are kept (0 keeps them forever) [default: 400].";
    trusted_proxies: List = "CIDRs of reverse proxies whose X-Forwarded-For is trusted for the client IP.";
    auto_migrate: Bool = "Apply pending database migrations at start [default: true].";
    signup_enabled: Bool = "Passkey-first sign-up (POST /v1/signup/*); needs cognito_user_pool_id and AWS credentials [default: false].";
    cognito_user_pool_id: Text = "The user pool rp-server administers, e.g. eu-west-1_AbC (sign-up, email lookups, sign-out on reset).";
    cognito_pool_shape: Text = "How the pool names users: email_username, email_alias or username. Unset: learnt at start with DescribeUserPool.";
    hints: List = "WebAuthn hints added to every ceremony: security-key, client-device, hybrid.";
    apple_app_ids: List = "iOS apps that may use rp_id's passkeys, TEAMID.bundle.id each (apple-app-site-association).";
    android_apps: List = "Android apps that may use rp_id's passkeys, package.name:SHA256_FINGERPRINT each (assetlinks.json).";
    related_origins: List = "Origins on other domains that may use rp_id's passkeys (https, at most 5 registrable-domain labels; /.well-known/webauthn).";
    passkey_enroll_url: Text = "Where a password manager sends a user to create a passkey (/.well-known/passkey-endpoints `enroll`); https (http only for a loopback host).";
    passkey_manage_url: Text = "Where a password manager sends a user to manage their passkeys (/.well-known/passkey-endpoints `manage`); https (http only for a loopback host).";
    max_passkeys_per_user: Number = "Active passkeys one user may have (1-1000) [default: 20].";
    email_transport: Text = "How mail is sent: smtp (smtp_url) or ses (Amazon SES v2). Unset: no mail, no email codes.";
    smtp_url: Secret = "SMTP server: smtps://user:pass@host:465, smtp://user:pass@host:587?tls=required, or plain smtp:// to a loopback host.";
    email_from: Text = "Sender of rp-server's mail, e.g. `Example <no-reply@example.com>`. Required with email_transport.";
    email_code_ttl_secs: Number = "Lifetime of an email one-time code, in seconds (60-3600) [default: 600].";
    email_link_url: Text = "A page of your app that completes an emailed code (the code in the URL fragment); https (http only for a loopback host).";
    email_signin: Text = "Who may sign in with an email code: off, any, or no_passkey [default: off].";
    email_max_failures_per_ip_day: Number = "Failed email-code verifications one client (IPv4 address, IPv6 /64) may make in 24 hours (1-100000) [default: 50].";
    email_signup_max_per_hour: Number = "Sign-up codes sent to addresses without an account per hour, in all (1-1000000) [default: 500].";
    email_notify: Bool = "Email security notices (passkey added, deleted, revoked; account reset) [default: on whenever email is configured].";
    signup_verify_email: Bool = "Passkey-first sign-up needs a verified email [default: on whenever email is configured].";
    log_format: Text = "Log format: json or pretty [default: json].";
    oidc_issuer: Text = "Turns on the OpenID provider (/oidc/*): its public URL, an https origin on rp_id's domain (http only for a loopback host). Unset: the provider is off.";
    oidc_signing_key: Secret = "The provider's ID-token signing key: one or two concatenated PEM private keys (PKCS#8 P-256, or RSA); the first signs, both are published (rotation). `rp-server oidc-key` makes one.";
    fido_mds_file: Text = "A FIDO Metadata Service (MDS3) BLOB as downloaded (`rp-server mds refresh` fetches one): the roots attested passkeys must chain to under a policy with attestation = \"required\". Verified at start against the FIDO Alliance's root.";
    fido_mds_root_cert: Text = "The path of a PEM root certificate the metadata BLOB must chain to instead of the FIDO Alliance's (GlobalSign Root R3): for tests and private metadata; logged loudly at start.";
    policy: Json = "Passkey policies: [[policy]] tables in the file (name, groups, aaguids, deny_aaguids, device_bound, enforce_on_sign_in; attestation and user_verification as documented), or a JSON array of them in RP_POLICY. Unset: no policy (any passkey).";
    site: Json = "Several sites from one deployment: [[site]] tables in the file, each with an `id` (a-z, 0-9, -; 1-32 characters) and any per-site key (rp_id, origins, cognito_*, email_*, policy, oidc_*, …); a key a table leaves out comes from the top level. Process-wide keys (database, listeners, tokens, admin, limits of the process) stay at the top. Unset: one site, `default`, from the top level.";
    hosts: List = "More host names this site's API answers on; its origins' hosts and rp_id always do. Only read with [[site]] tables, where the Host header picks the site.";
    oidc_clients: Json = "The provider's clients: [[oidc_clients]] tables in the file (client_id, secret_sha256 or public = true, redirect_uris, scopes, cognito_provider_name), or a JSON array of them in RP_OIDC_CLIENTS.";
}

/// The settings as given, every one optional; [`super::Config::from_settings`] applies
/// defaults and validates. Unknown keys are refused (a misspelt key would otherwise be
/// silently ignored). Serialised (for `rp-server config`) with every secret redacted.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    #[serde(serialize_with = "redacted")]
    pub database_url: Option<SecretString>,
    pub db_max_connections: Option<u32>,
    pub db_acquire_timeout_ms: Option<u64>,
    pub db_statement_timeout_ms: Option<u64>,
    pub listen_addr: Option<String>,
    pub internal_listen_addr: Option<String>,
    pub rp_id: Option<String>,
    pub rp_name: Option<String>,
    pub origins: Vec<String>,
    pub cognito_issuer: Option<String>,
    pub cognito_jwks_url: Option<String>,
    pub cognito_client_ids: Vec<String>,
    #[serde(serialize_with = "redacted")]
    pub service_token: Option<SecretString>,
    #[serde(serialize_with = "redacted")]
    pub admin_token: Option<SecretString>,
    #[serde(serialize_with = "names_only")]
    pub admin_tokens: Vec<String>,
    pub admin_group: Option<String>,
    pub console: Option<bool>,
    pub console_client_id: Option<String>,
    pub ceremony_ttl_secs: Option<u64>,
    pub nonce_ttl_secs: Option<u64>,
    pub enrolment_ttl_secs: Option<u64>,
    pub rate_limit_per_min: Option<u32>,
    pub reauth_max_age_secs: Option<u64>,
    pub max_connections: Option<usize>,
    pub request_timeout_ms: Option<u64>,
    pub header_read_timeout_secs: Option<u64>,
    pub shutdown_grace_secs: Option<u64>,
    pub audit_retention_days: Option<u32>,
    pub trusted_proxies: Vec<String>,
    pub auto_migrate: Option<bool>,
    pub signup_enabled: Option<bool>,
    pub cognito_user_pool_id: Option<String>,
    pub cognito_pool_shape: Option<String>,
    pub hints: Vec<String>,
    pub apple_app_ids: Vec<String>,
    pub android_apps: Vec<String>,
    pub related_origins: Vec<String>,
    pub passkey_enroll_url: Option<String>,
    pub passkey_manage_url: Option<String>,
    pub max_passkeys_per_user: Option<u32>,
    pub email_transport: Option<String>,
    #[serde(serialize_with = "redacted")]
    pub smtp_url: Option<SecretString>,
    pub email_from: Option<String>,
    pub email_code_ttl_secs: Option<u64>,
    pub email_link_url: Option<String>,
    pub email_signin: Option<String>,
    pub email_max_failures_per_ip_day: Option<u32>,
    pub email_signup_max_per_hour: Option<u32>,
    pub email_notify: Option<bool>,
    pub signup_verify_email: Option<bool>,
    pub log_format: Option<String>,
    pub oidc_issuer: Option<String>,
    #[serde(serialize_with = "redacted")]
    pub oidc_signing_key: Option<SecretString>,
    pub fido_mds_file: Option<String>,
    pub fido_mds_root_cert: Option<String>,
    pub policy: Vec<super::policy::PolicySettings>,
    pub oidc_clients: Vec<super::oidc::OidcClientSettings>,
    #[serde(serialize_with = "site_ids")]
    pub site: Vec<figment::value::Dict>,
    pub hosts: Vec<String>,
}

/// Every setting, its variable and its documentation, for `--help`.
pub fn help() -> String {
    let mut out = String::from(
        "Settings (the environment variable, or the key in the file RP_CONFIG_FILE names; a variable wins over the file):\n",
    );
    for key in KEYS {
        let kind = match key.kind {
            Kind::List => " (list: comma-separated, or a TOML array)",
            Kind::Secret => " (secret)",
            Kind::Json => " (file: array of tables; variable: JSON array)",
            _ => "",
        };
        out.push_str(&format!(
            "\n  {} / {}{kind}\n      {}\n",
            env_var(key.name),
            key.name,
            key.help
        ));
    }
    out
}

/// A secret as `rp-server config` shows it: whether it is set, never its value.
fn redacted<S: Serializer>(value: &Option<SecretString>, s: S) -> Result<S::Ok, S::Error> {
    match value {
        Some(v) if !v.expose_secret().is_empty() => s.serialize_str("(set, redacted)"),
        _ => s.serialize_none(),
    }
}

/// `[[site]]` tables by id only (`rp-server config` prints each site's settings apart,
/// secrets redacted).
fn site_ids<S: Serializer>(sites: &[figment::value::Dict], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(sites.iter().map(|site| {
        site.get("id")
            .and_then(|v| v.as_str())
            .unwrap_or("(no id)")
            .to_owned()
    }))
}

/// Named admin tokens by name only: a printed hash would let whoever reads it test guesses
/// of a weak token offline.
fn names_only<S: Serializer>(tokens: &[String], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(tokens.iter().map(|t| {
        format!(
            "{}=(hash redacted)",
            t.split('=').next().unwrap_or_default().trim()
        )
    }))
}

/// A text setting, trimmed; empty counts as unset (as an empty variable always has).
pub fn text(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

/// A list setting's entries, trimmed, empty ones dropped.
pub fn entries(values: &[String]) -> impl Iterator<Item = &str> {
    values.iter().map(|v| v.trim()).filter(|v| !v.is_empty())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn every_key_is_a_field_and_every_field_a_key() {
        // A field missing from KEYS could not be set from the environment; a key missing
        // from the struct would be refused as unknown in the file.
        for key in KEYS {
            let toml = match key.kind {
                Kind::Text | Kind::Secret => format!("{} = \"x\"", key.name),
                Kind::List => format!("{} = [\"x\"]", key.name),
                Kind::Number => format!("{} = 1", key.name),
                Kind::Bool => format!("{} = true", key.name),
                Kind::Json => format!("{} = []", key.name),
            };
            let parsed: Result<Settings, _> = toml::from_str(&toml);
            assert!(parsed.is_ok(), "{}: {parsed:?}", key.name);
        }
        let fields = include_str!("settings.rs")
            .split("pub struct Settings {")
            .nth(1)
            .and_then(|s| s.split('}').next())
            .unwrap()
            .lines()
            .filter_map(|l| l.trim().strip_prefix("pub "))
            .filter_map(|l| l.split(':').next())
            .count();
        assert_eq!(fields, KEYS.len());
    }

    #[test]
    fn environment_names() {
        assert_eq!(env_var("database_url"), "DATABASE_URL");
        assert_eq!(env_var("rp_id"), "RP_ID");
        assert_eq!(env_var("origins"), "RP_ORIGINS");
        assert_eq!(env_var("ceremony_ttl_secs"), "RP_CEREMONY_TTL_SECS");
        assert_eq!(key_of_env("RP_NAME").map(|k| k.name), Some("rp_name"));
        assert!(key_of_env("RP_CONFIG_FILE").is_none());
        assert!(key_of_env("RP_SERVER_URL").is_none());
    }
}
