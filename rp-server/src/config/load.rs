//! Layering: the optional config file (`RP_CONFIG_FILE`, TOML), then the environment on
//! top, merged by figment into [`Settings`]. Each value remembers where it came from, for
//! `rp-server config` and for errors.
//!
//! figment does the merging and typed extraction (with the key of a bad value in its
//! error); the environment is read by our own provider because figment's parses every
//! variable as a value, which would turn a token of digits into a number.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use figment::providers::{Format as _, Toml};
use figment::value::{Dict, Map, Value};
use figment::{Figment, Metadata, Profile, Provider};
use secrecy::ExposeSecret as _;

use super::settings::{self, KEYS, Kind, Settings, env_var};
use super::{ConfigError, bad};

/// Where a setting's value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Default,
    File(PathBuf),
    Environment(String),
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Default => f.write_str("default"),
            Self::File(path) => write!(f, "file {}", path.display()),
            Self::Environment(var) => write!(f, "environment {var}"),
        }
    }
}

/// The settings of one start, and where each came from.
#[derive(Debug)]
pub struct Layered {
    pub settings: Settings,
    sources: BTreeMap<&'static str, Source>,
}

/// The variable that names the config file.
pub const CONFIG_FILE_VAR: &str = "RP_CONFIG_FILE";

impl Layered {
    /// Reads the process's environment and the file it names (or `file`, given on the
    /// command line).
    pub fn from_process(file: Option<&Path>) -> Result<Self, ConfigError> {
        let env: BTreeMap<String, String> = std::env::vars_os()
            .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
            .collect();
        Self::load(file, &env)
    }

    /// The file (`file`, else `RP_CONFIG_FILE` in `env`), then `env` on top.
    pub fn load(file: Option<&Path>, env: &BTreeMap<String, String>) -> Result<Self, ConfigError> {
        let file = file
            .map(Path::to_path_buf)
            .or_else(|| settings::text(&env.get(CONFIG_FILE_VAR).cloned()).map(PathBuf::from));
        let mut figment = Figment::new();
        let mut from_file = Dict::new();
        if let Some(path) = &file {
            let text = std::fs::read_to_string(path).map_err(|e| {
                bad(
                    CONFIG_FILE_VAR,
                    format!("cannot read {} ({e})", path.display()),
                )
            })?;
            let toml = Toml::string(&text);
            from_file = toml
                .data()
                .map_err(|e| {
                    bad(
                        CONFIG_FILE_VAR,
                        format!("{} is not valid TOML: {e}", path.display()),
                    )
                })?
                .remove(&Profile::Default)
                .unwrap_or_default();
            figment = figment.merge(toml);
        }
        let environment = Environment::read(env);
        figment = figment.merge(&environment);
        let settings: Settings = figment
            .extract()
            .map_err(|e| explain(&e, file.as_deref()))?;
        let sources = KEYS
            .iter()
            .map(|k| {
                let source = if environment.0.contains_key(k.name) {
                    Source::Environment(env_var(k.name))
                } else if let (Some(path), true) = (&file, from_file.contains_key(k.name)) {
                    Source::File(path.clone())
                } else {
                    Source::Default
                };
                (k.name, source)
            })
            .collect();
        Ok(Self { settings, sources })
    }

    /// Where `key`'s value came from.
    pub fn source(&self, key: &str) -> Source {
        self.sources.get(key).cloned().unwrap_or(Source::Default)
    }

    /// Every setting with its value (secrets only say "set") and where it came from;
    /// the output of `rp-server config`.
    pub fn describe(&self) -> String {
        let s = &self.settings;
        let set = |v: &Option<secrecy::SecretString>| {
            v.as_ref()
                .filter(|v| !v.expose_secret().is_empty())
                .map(|_| serde_json::Value::from("(set, redacted)"))
        };
        let mut values: BTreeMap<&str, serde_json::Value> = public_values(s).into_iter().collect();
        for (key, secret) in [
            ("database_url", &s.database_url),
            ("service_token", &s.service_token),
            ("admin_token", &s.admin_token),
            ("smtp_url", &s.smtp_url),
        ] {
            if let Some(v) = set(secret) {
                values.insert(key, v);
            }
        }
        let mut out = String::new();
        for key in KEYS {
            let value = match values.get(key.name) {
                None | Some(serde_json::Value::Null) => "(unset)".to_owned(),
                Some(serde_json::Value::Array(a)) if a.is_empty() => "(unset)".to_owned(),
                Some(serde_json::Value::String(v)) if key.kind == Kind::Secret => v.clone(),
                Some(v) => v.to_string(),
            };
            let source = self.source(key.name);
            out.push_str(&format!("{:<26} {value:<40} # {source}\n", key.name));
        }
        out
    }
}

/// The non-secret settings as JSON values.
fn public_values(s: &Settings) -> Vec<(&'static str, serde_json::Value)> {
    use serde_json::json;
    vec![
        ("db_max_connections", json!(s.db_max_connections)),
        ("db_acquire_timeout_ms", json!(s.db_acquire_timeout_ms)),
        ("db_statement_timeout_ms", json!(s.db_statement_timeout_ms)),
        ("listen_addr", json!(s.listen_addr)),
        ("internal_listen_addr", json!(s.internal_listen_addr)),
        ("rp_id", json!(s.rp_id)),
        ("rp_name", json!(s.rp_name)),
        ("origins", json!(s.origins)),
        ("cognito_issuer", json!(s.cognito_issuer)),
        ("cognito_jwks_url", json!(s.cognito_jwks_url)),
        ("cognito_client_ids", json!(s.cognito_client_ids)),
        // Names only: a hash would let anyone who reads the output test guesses offline.
        (
            "admin_tokens",
            json!(
                s.admin_tokens
                    .iter()
                    .map(|t| format!(
                        "{}=(hash redacted)",
                        t.split('=').next().unwrap_or_default().trim()
                    ))
                    .collect::<Vec<_>>()
            ),
        ),
        ("ceremony_ttl_secs", json!(s.ceremony_ttl_secs)),
        ("nonce_ttl_secs", json!(s.nonce_ttl_secs)),
        ("enrolment_ttl_secs", json!(s.enrolment_ttl_secs)),
        ("rate_limit_per_min", json!(s.rate_limit_per_min)),
        ("reauth_max_age_secs", json!(s.reauth_max_age_secs)),
        ("max_connections", json!(s.max_connections)),
        (
            "header_read_timeout_secs",
            json!(s.header_read_timeout_secs),
        ),
        ("shutdown_grace_secs", json!(s.shutdown_grace_secs)),
        ("audit_retention_days", json!(s.audit_retention_days)),
        ("trusted_proxies", json!(s.trusted_proxies)),
        ("auto_migrate", json!(s.auto_migrate)),
        ("signup_enabled", json!(s.signup_enabled)),
        ("cognito_user_pool_id", json!(s.cognito_user_pool_id)),
        ("cognito_pool_shape", json!(s.cognito_pool_shape)),
        ("hints", json!(s.hints)),
        ("apple_app_ids", json!(s.apple_app_ids)),
        ("android_apps", json!(s.android_apps)),
        ("related_origins", json!(s.related_origins)),
        ("email_transport", json!(s.email_transport)),
        ("email_from", json!(s.email_from)),
        ("email_code_ttl_secs", json!(s.email_code_ttl_secs)),
        ("email_link_url", json!(s.email_link_url)),
        ("email_signin", json!(s.email_signin)),
        ("email_notify", json!(s.email_notify)),
        ("signup_verify_email", json!(s.signup_verify_email)),
        ("log_format", json!(s.log_format)),
    ]
}

/// A figment error as a [`ConfigError`] that names the setting both ways.
fn explain(e: &figment::Error, file: Option<&Path>) -> ConfigError {
    let Some(key) = e.path.first() else {
        return bad(CONFIG_FILE_VAR, e.kind.to_string());
    };
    let from = match &e.metadata {
        Some(m) if m.name == ENVIRONMENT => format!("environment {}", env_var(key)),
        _ => file.map_or_else(
            || "config file".to_owned(),
            |p| format!("file {}", p.display()),
        ),
    };
    match settings::KEYS.iter().find(|k| k.name == key) {
        Some(k) => bad_key(k.name, format!("{} (from {from})", e.kind)),
        None => bad(
            CONFIG_FILE_VAR,
            format!("unknown setting `{key}` (in {from})"),
        ),
    }
}

/// A [`ConfigError`] for a setting known by its file key.
fn bad_key(key: &str, reason: String) -> ConfigError {
    bad(env_var(key), format!("{reason} (file key `{key}`)"))
}

const ENVIRONMENT: &str = "environment variable";

/// The known `RP_*` variables (and `DATABASE_URL`) as figment values, each read as its
/// kind says: lists split at commas, numbers and booleans parsed, text as it is.
struct Environment(Dict);

impl Environment {
    fn read(env: &BTreeMap<String, String>) -> Self {
        let mut dict = Dict::new();
        for (var, raw) in env {
            let Some(key) = settings::key_of_env(var) else {
                continue;
            };
            let value = match key.kind {
                Kind::Text | Kind::Secret => Value::from(raw.clone()),
                Kind::List => Value::from(
                    raw.split(',')
                        .map(str::trim)
                        .filter(|v| !v.is_empty())
                        .map(|v| Value::from(v.to_owned()))
                        .collect::<Vec<_>>(),
                ),
                Kind::Number => match raw.trim().parse::<u64>() {
                    Ok(n) => Value::from(n),
                    Err(_) => Value::from(raw.clone()),
                },
                Kind::Bool => match raw.trim() {
                    "true" => Value::from(true),
                    "false" => Value::from(false),
                    _ => Value::from(raw.clone()),
                },
            };
            // An empty variable is as good as unset, as it always was.
            if matches!(key.kind, Kind::Text | Kind::Number | Kind::Bool) && raw.trim().is_empty() {
                continue;
            }
            dict.insert(key.name.to_owned(), value);
        }
        Self(dict)
    }
}

impl Provider for &Environment {
    fn metadata(&self) -> Metadata {
        Metadata::named(ENVIRONMENT)
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        Ok(Profile::Default.collect(self.0.clone()))
    }
}
