//! Several sites from one deployment (`[[site]]` tables, decision 0021): every site's
//! configuration, and what sets sites apart — the hosts that pick a site for a public
//! request, and the user pool that picks one for a trigger's.

use super::load::Layered;
use super::{Config, ConfigError, Origin, bad};

/// Keys only the top level may set: one process has one database, one set of listeners,
/// one service token (one Lambda serves every pool), the console on or off (each site's
/// on its own host, with the site's `admin_group` and `console_client_id`) and one set of
/// process limits. (`admin_tokens` may be per site: a
/// table's come beside the top level's, which are every site's.)
pub const PROCESS_WIDE: &[&str] = &[
    "database_url",
    "db_max_connections",
    "db_acquire_timeout_ms",
    "db_statement_timeout_ms",
    "listen_addr",
    "internal_listen_addr",
    "service_token",
    "admin_token",
    "console",
    "rate_limit_per_min",
    "max_connections",
    "request_timeout_ms",
    "header_read_timeout_secs",
    "shutdown_grace_secs",
    "audit_retention_days",
    "trusted_proxies",
    "auto_migrate",
    "log_format",
    "site",
];

const SITE_VAR: &str = "RP_SITE";

/// Every site's configuration: with no `[[site]]` table, the one site `default` from the
/// top level (today's configuration, unchanged); else one per table, in file order. Sites
/// must not share a host or a user pool.
pub fn configs(layered: &Layered) -> Result<Vec<Config>, ConfigError> {
    let tables = layered.site_settings()?;
    if tables.is_empty() {
        return Ok(vec![Config::from_settings(&layered.settings)?]);
    }
    let mut configs = Vec::with_capacity(tables.len());
    for (id, settings) in tables {
        let mut config = Config::from_settings(&settings)
            .map_err(|e| bad(SITE_VAR, format!("site {id}: {e}")))?;
        config.site = id;
        config.routed = true;
        configs.push(config);
    }
    apart(&configs)?;
    Ok(configs)
}

/// The user pool id an issuer names (`https://cognito-idp.<region>.amazonaws.com/<pool>`):
/// its last path segment.
pub fn pool_id(issuer: &str) -> &str {
    issuer
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or("")
}

/// The host names a site's API answers on, lowercase: its RP ID, its web origins' hosts
/// and its `hosts`.
pub fn hosts(config: &Config) -> Vec<String> {
    let mut hosts: Vec<String> = std::iter::once(config.rp_id.clone())
        .chain(config.origins.iter().filter_map(|o| match o {
            Origin::Web(url) => url.host_str().map(str::to_owned),
            Origin::Android(_) => None,
        }))
        .chain(config.hosts.iter().cloned())
        .map(|h| h.to_ascii_lowercase())
        .collect();
    hosts.sort();
    hosts.dedup();
    hosts
}

/// No two sites share a host (the Host header must name one site) or a user pool (a
/// trigger's `userPoolId` must).
fn apart(configs: &[Config]) -> Result<(), ConfigError> {
    for (i, a) in configs.iter().enumerate() {
        for b in &configs[i + 1..] {
            if let Some(host) = hosts(a).into_iter().find(|h| hosts(b).contains(h)) {
                return Err(bad(
                    SITE_VAR,
                    format!(
                        "sites {} and {} both answer on the host {host}: give each its own host names",
                        a.site, b.site
                    ),
                ));
            }
            if pool_id(&a.cognito_issuer) == pool_id(&b.cognito_issuer) {
                return Err(bad(
                    SITE_VAR,
                    format!(
                        "sites {} and {} have the same user pool ({}): a site is one pool",
                        a.site,
                        b.site,
                        pool_id(&a.cognito_issuer)
                    ),
                ));
            }
        }
    }
    Ok(())
}

impl Config {
    /// The first process-wide setting (see [`PROCESS_WIDE`]) that differs between this
    /// configuration and `other`, by its file key: a reload cannot apply it.
    pub fn process_wide_change(&self, other: &Config) -> Option<&'static str> {
        use secrecy::ExposeSecret as _;
        let secret = |s: &secrecy::SecretString| s.expose_secret().to_owned();
        let changes: [(&'static str, bool); 16] = [
            (
                "database_url",
                secret(&self.database_url) != secret(&other.database_url),
            ),
            (
                "db_max_connections",
                self.db_max_connections != other.db_max_connections,
            ),
            (
                "db_statement_timeout_ms",
                self.db_timeouts != other.db_timeouts,
            ),
            ("listen_addr", self.listen_addr != other.listen_addr),
            (
                "internal_listen_addr",
                self.internal_listen_addr != other.internal_listen_addr,
            ),
            (
                "service_token",
                secret(&self.service_token) != secret(&other.service_token),
            ),
            (
                "admin_token",
                self.admin_token.as_ref().map(secret) != other.admin_token.as_ref().map(secret),
            ),
            ("console", self.console != other.console),
            (
                "rate_limit_per_min",
                self.rate_limit_per_min != other.rate_limit_per_min,
            ),
            (
                "max_connections",
                self.max_connections != other.max_connections,
            ),
            (
                "request_timeout_ms",
                self.request_timeout != other.request_timeout,
            ),
            (
                "header_read_timeout_secs",
                self.header_read_timeout != other.header_read_timeout,
            ),
            (
                "shutdown_grace_secs",
                self.shutdown_grace != other.shutdown_grace,
            ),
            (
                "audit_retention_days",
                self.audit_retention != other.audit_retention,
            ),
            (
                "trusted_proxies",
                self.trusted_proxies != other.trusted_proxies,
            ),
            ("log_format", self.log_format != other.log_format),
        ];
        changes
            .into_iter()
            .find_map(|(key, changed)| changed.then_some(key))
    }
}
