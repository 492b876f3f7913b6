//! Database settings: the connection string, the pool's size and its timeouts.

use std::time::Duration;

use secrecy::{ExposeSecret as _, SecretString};

use super::settings::Settings;
use super::{
    ConfigError, DEFAULT_DB_ACQUIRE_TIMEOUT_MS, DEFAULT_DB_MAX_CONNECTIONS,
    DEFAULT_DB_STATEMENT_TIMEOUT_MS, bad, within,
};

/// How long a request may wait for a connection, and Postgres for a statement; and how
/// long a pooled connection may sit idle before it is tested (a round trip) on its way
/// to a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DbTimeouts {
    pub acquire: Duration,
    pub statement: Duration,
    /// A connection used within this long is handed out untested: under load every
    /// connection is, and a test per statement was a round trip to Postgres each (four
    /// per sign-in). One idle for longer (across a failover, say) is tested first, and
    /// replaced if Postgres no longer answers on it.
    pub test_after_idle: Duration,
}

/// See [`DbTimeouts::test_after_idle`].
pub const DEFAULT_DB_TEST_AFTER_IDLE: Duration = Duration::from_secs(1);

impl Default for DbTimeouts {
    fn default() -> Self {
        Self {
            acquire: Duration::from_millis(DEFAULT_DB_ACQUIRE_TIMEOUT_MS),
            statement: Duration::from_millis(DEFAULT_DB_STATEMENT_TIMEOUT_MS),
            test_after_idle: DEFAULT_DB_TEST_AFTER_IDLE,
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
                test_after_idle: DEFAULT_DB_TEST_AFTER_IDLE,
            },
        })
    }
}
