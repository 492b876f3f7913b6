//! The schema's keys for several sites (decision 0020). Migrations 0023-0027 add keys that
//! lead with the site beside the old, global ones, which a release older than sites still
//! names during a roll; [`allow_several`] drops the old ones when a second site is first
//! configured, which only a release that knows sites can do.

use sqlx::PgExecutor;

/// Held (for the transaction) by [`allow_several`], so that instances starting together
/// change the keys once.
const KEYS_LOCK: i64 = 0x7270_7369_7465; // "rpsite"

/// Whether the global keys are gone: a credential id, a sub, an address or a limit's key
/// may repeat at another site.
pub async fn allows_several(db: impl PgExecutor<'_>) -> sqlx::Result<bool> {
    sqlx::query_scalar("SELECT to_regclass('users_cognito_sub_key') IS NULL")
        .fetch_one(db)
        .await
}

/// Whether any user belongs to `site` (a configuration that names no site `default` on a
/// database whose rows are `default`'s would serve none of them).
pub async fn has_users(db: impl PgExecutor<'_>, site: &str) -> sqlx::Result<bool> {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM users WHERE site = $1)")
        .bind(site)
        .fetch_one(db)
        .await
}

/// Makes the keys that lead with the site the only ones, in one transaction (each table's
/// exclusive lock for a moment: catalog changes only, the indexes exist; `lock_timeout`
/// keeps requests from queueing long behind a lock it waits for). Does nothing when done
/// before; answers whether it changed the keys now.
pub async fn allow_several(db: &super::Db) -> sqlx::Result<bool> {
    let mut tx = db.begin().await?;
    sqlx::query("SET LOCAL lock_timeout = '5s'")
        .execute(&mut *tx)
        .await?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(KEYS_LOCK)
        .execute(&mut *tx)
        .await?;
    if allows_several(&mut *tx).await? {
        return Ok(false);
    }
    sqlx::raw_sql(
        "ALTER TABLE credentials DROP CONSTRAINT credentials_pkey,
             ADD CONSTRAINT credentials_pkey PRIMARY KEY USING INDEX credentials_site_key;
         ALTER TABLE users DROP CONSTRAINT users_cognito_sub_key;
         DROP INDEX users_sub_prefix_idx;
         DROP INDEX users_username_prefix_idx;
         ALTER TABLE email_codes DROP CONSTRAINT email_codes_pkey,
             ADD CONSTRAINT email_codes_pkey PRIMARY KEY USING INDEX email_codes_site_key;
         ALTER TABLE limit_counters DROP CONSTRAINT limit_counters_pkey,
             ADD CONSTRAINT limit_counters_pkey PRIMARY KEY USING INDEX limit_counters_site_key;
         ALTER TABLE audit_daily DROP CONSTRAINT audit_daily_pkey,
             ADD CONSTRAINT audit_daily_pkey PRIMARY KEY USING INDEX audit_daily_site_key;",
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(true)
}
