//! The triggers' settings, read once per container from the environment.

use std::time::Duration;

use secrecy::SecretString;
use url::Url;

#[derive(Debug, Clone)]
pub struct Config {
    /// rp-server's base URL (`RP_SERVER_URL`). Needed by Create and Verify; a function
    /// deployed only as PreSignUp may leave it unset.
    pub rp_server_url: Option<Url>,
    /// Bearer token for rp-server's `/internal/*` (`RP_SERVICE_TOKEN`).
    pub service_token: Option<SecretString>,
    /// Failed answers before Define fails the sign-in (`MAX_ATTEMPTS`, default 3).
    pub max_attempts: usize,
    /// Timeout of each rp-server call (`RP_TIMEOUT_MS`, default 2000; Cognito gives a
    /// trigger 5 s in all).
    pub timeout: Duration,
    /// PreSignUp: confirm the user (`AUTO_CONFIRM`, default false). Never verifies an email.
    pub auto_confirm: bool,
}

#[derive(Debug, thiserror::Error)]
#[error("invalid {variable}: {reason}")]
pub struct ConfigError {
    pub variable: &'static str,
    pub reason: String,
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    /// Reads settings through `get`, so tests need not touch the process environment.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let bad = |variable: &'static str, reason: &str| ConfigError {
            variable,
            reason: reason.to_owned(),
        };
        let value = |k: &str| {
            get(k)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };

        let rp_server_url = value("RP_SERVER_URL")
            .map(|u| Url::parse(&u).map_err(|e| bad("RP_SERVER_URL", &format!("not a URL ({e})"))))
            .transpose()?;
        if let Some(u) = &rp_server_url {
            let plain_but_local = u.scheme() == "http" && rp_shared::loopback::is_loopback(u);
            if u.scheme() != "https" && !plain_but_local {
                // The service token travels with every call: never in clear text over a network.
                return Err(bad(
                    "RP_SERVER_URL",
                    "must be an https URL (http is accepted only for a loopback host)",
                ));
            }
        }
        let service_token = value("RP_SERVICE_TOKEN").map(SecretString::from);
        if rp_server_url.is_some() && service_token.is_none() {
            return Err(bad(
                "RP_SERVICE_TOKEN",
                "is required when RP_SERVER_URL is set",
            ));
        }
        let max_attempts = match value("MAX_ATTEMPTS") {
            None => rp_shared::triggers::DEFAULT_MAX_ATTEMPTS,
            Some(v) => v
                .parse::<usize>()
                .ok()
                .filter(|n| (1..=10).contains(n))
                .ok_or_else(|| bad("MAX_ATTEMPTS", "must be a whole number from 1 to 10"))?,
        };
        let timeout = match value("RP_TIMEOUT_MS") {
            None => Duration::from_millis(2000),
            Some(v) => v
                .parse::<u64>()
                .ok()
                .filter(|n| (50..=4500).contains(n))
                .map(Duration::from_millis)
                .ok_or_else(|| bad("RP_TIMEOUT_MS", "must be milliseconds from 50 to 4500"))?,
        };
        let auto_confirm = match value("AUTO_CONFIRM")
            .as_deref()
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            None | Some("false") | Some("0") | Some("no") => false,
            Some("true") | Some("1") | Some("yes") => true,
            Some(_) => return Err(bad("AUTO_CONFIRM", "must be true or false")),
        };
        Ok(Self {
            rp_server_url,
            service_token,
            max_attempts,
            timeout,
            auto_confirm,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn from(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: std::collections::HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn defaults() {
        let c = from(&[]).unwrap();
        assert!(c.rp_server_url.is_none());
        assert_eq!(c.max_attempts, 3);
        assert_eq!(c.timeout, Duration::from_millis(2000));
        assert!(!c.auto_confirm);
    }

    #[test]
    fn bad_settings_are_named() {
        for (pairs, variable) in [
            (vec![("RP_SERVER_URL", "not a url")], "RP_SERVER_URL"),
            (vec![("RP_SERVER_URL", "ftp://x")], "RP_SERVER_URL"),
            (
                vec![
                    ("RP_SERVER_URL", "http://rp.internal:8081"),
                    (
                        "RP_SERVICE_TOKEN",
                        "service-token-0123456789abcdef0123456789",
                    ),
                ],
                "RP_SERVER_URL",
            ),
            (
                vec![("RP_SERVER_URL", "https://rp.example.com")],
                "RP_SERVICE_TOKEN",
            ),
            (vec![("MAX_ATTEMPTS", "0")], "MAX_ATTEMPTS"),
            (vec![("MAX_ATTEMPTS", "three")], "MAX_ATTEMPTS"),
            (vec![("RP_TIMEOUT_MS", "9000")], "RP_TIMEOUT_MS"),
            (vec![("AUTO_CONFIRM", "maybe")], "AUTO_CONFIRM"),
        ] {
            let err = from(&pairs).err().unwrap();
            assert_eq!(err.variable, variable, "{pairs:?}");
        }
        let c = from(&[
            ("AUTO_CONFIRM", "TRUE"),
            ("MAX_ATTEMPTS", "5"),
            ("RP_TIMEOUT_MS", "300"),
        ])
        .unwrap();
        assert!(c.auto_confirm);
        assert_eq!(c.max_attempts, 5);
        assert_eq!(c.timeout, Duration::from_millis(300));
    }
}
