//! Postgres access, one module per aggregate; every SQL statement of rp-server lives
//! here. Functions take an executor (a pool or a transaction) so the flow owns the
//! transaction; every expiry comparison uses the time passed in. Hot paths combine their
//! work in one statement (data-modifying CTEs), which is atomic on its own.

pub mod audit;
pub mod ceremonies;
pub mod challenges;
pub mod credentials;
pub mod email_codes;
pub mod enrolment;
pub mod limits;
pub mod nonces;
pub mod oidc;
pub mod recovery_codes;
pub mod sample;
pub mod signups;
pub mod sites;
pub mod users;

pub use audit::AuditRow;
pub use credentials::{Inserted, Revocation, RevokeWhich, StoredCredential};
pub use enrolment::EnrolmentToken;
pub use users::User;

use chrono::{DateTime, Utc};

pub type Db = sqlx::PgPool;

/// Embedded migrations from the workspace's `migrations/`.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations");

/// The advisory lock [`migrate`] holds. Not sqlx's own key: an older release's start
/// blocking on that one would hold a snapshot that a concurrent index build waits for.
const MIGRATION_LOCK: i64 = 0x7270_6d69_6772; // "rpmigr"

/// How often a start that finds another applying migrations looks again.
const MIGRATION_LOCK_POLL: std::time::Duration = std::time::Duration::from_millis(250);

/// Applies pending migrations, one instance at a time, on a connection of its own without
/// the requests' statement timeout (an index built concurrently on a large table takes
/// minutes). An instance that finds another migrating polls for the lock instead of
/// waiting on it: a waiting statement holds a snapshot, and `CREATE INDEX CONCURRENTLY`
/// waits for every older snapshot in the database — the two would deadlock.
pub async fn migrate(db: &Db) -> Result<(), sqlx::migrate::MigrateError> {
    let mut conn = db.acquire().await?.detach();
    sqlx::query("SET statement_timeout = 0")
        .execute(&mut conn)
        .await?;
    let mut waited = false;
    while !sqlx::query_scalar::<_, bool>("SELECT pg_try_advisory_lock($1)")
        .bind(MIGRATION_LOCK)
        .fetch_one(&mut conn)
        .await?
    {
        if !waited {
            tracing::info!("another instance is applying migrations; waiting for it");
            waited = true;
        }
        tokio::time::sleep(MIGRATION_LOCK_POLL).await;
    }
    let mut migrator = sqlx::migrate!("../migrations");
    migrator.set_locking(false);
    let applied = migrator.run(&mut conn).await;
    // Closing the connection releases the lock whatever happened.
    sqlx::Connection::close(conn).await.ok();
    applied
}

/// The database answers.
pub async fn ping(db: &Db) -> sqlx::Result<()> {
    sqlx::query("SELECT 1").execute(db).await.map(|_| ())
}

/// Returns the named server key, creating it from the CSPRNG on first use. Every
/// instance sharing the database gets the same key.
pub async fn server_key(db: &Db, name: &str, now: DateTime<Utc>) -> sqlx::Result<Vec<u8>> {
    let mut fresh = [0u8; 32];
    rand::RngCore::fill_bytes(
        &mut rand::TryRngCore::unwrap_err(rand::rngs::OsRng),
        &mut fresh,
    );
    // Two statements (start-up only): one statement's snapshot might miss a key another
    // instance committed while this insert waited on it.
    sqlx::query("INSERT INTO server_keys (name, secret, created_at) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING")
        .bind(name)
        .bind(fresh.as_slice())
        .bind(now)
        .execute(db)
        .await?;
    sqlx::query_scalar("SELECT secret FROM server_keys WHERE name = $1")
        .bind(name)
        .fetch_one(db)
        .await
}

/// Removes audit events that occurred before `before`: the partitions wholly before it are
/// dropped, the rest of its month deleted in small batches (which partition pruning keeps
/// to that month's partition). Returns the partitions dropped and the rows deleted.
pub async fn purge_audit(
    db: &Db,
    before: DateTime<Utc>,
    batch: i64,
) -> sqlx::Result<(Vec<audit::partitions::Partition>, u64)> {
    let dropped = audit::partitions::drop_before(db, before).await?;
    let deleted = delete_in_batches(
        db,
        "DELETE FROM audit_events WHERE occurred_at < $1 AND (occurred_at, id) IN
           (SELECT occurred_at, id FROM audit_events WHERE occurred_at < $1 ORDER BY occurred_at LIMIT $2)",
        before,
        batch,
    )
    .await?;
    Ok((dropped, deleted))
}

/// Deletes expired ceremonies (and spent sealed ones), challenges, nonces, enrolment
/// tokens, email codes, limit counters past their window and sign-up tokens in small
/// batches so the purge never holds long locks. Returns how many rows went.
pub async fn purge_expired(db: &Db, now: DateTime<Utc>, batch: i64) -> sqlx::Result<u64> {
    let mut total = 0;
    for table in [
        "ceremonies",
        "spent_ceremonies",
        "challenges",
        "nonces",
        "enrolment_tokens",
        "email_codes",
        "limit_counters",
        "weak_sign_ins",
        "signup_tokens",
        "oidc_codes",
        "oidc_access_tokens",
    ] {
        let sql = format!(
            "DELETE FROM {table} WHERE ctid IN (SELECT ctid FROM {table} WHERE expires_at <= $1 LIMIT $2)"
        );
        total += delete_in_batches(db, &sql, now, batch).await?;
    }
    Ok(total)
}

/// Runs a `DELETE` taking (a time, a batch size) until it deletes less than a batch.
async fn delete_in_batches(db: &Db, sql: &str, at: DateTime<Utc>, batch: i64) -> sqlx::Result<u64> {
    let mut total = 0;
    loop {
        let n = sqlx::query(sql)
            .bind(at)
            .bind(batch)
            .execute(db)
            .await?
            .rows_affected();
        total += n;
        if n < batch as u64 {
            return Ok(total);
        }
    }
}

/// `text` as a `LIKE` pattern matching what starts with it (`%`, `_` and `\` literal).
pub(crate) fn like_prefix(text: &str) -> String {
    let mut pattern = String::with_capacity(text.len() + 1);
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

#[cfg(test)]
mod like_tests {
    #[test]
    fn like_patterns_match_the_prefix_literally() {
        assert_eq!(super::like_prefix("al"), "al%");
        assert_eq!(super::like_prefix("a_b%c\\"), "a\\_b\\%c\\\\%");
    }
}
