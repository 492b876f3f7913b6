//! Counted limits: one row per key (an address, a client network, "all sign-up codes"),
//! locked for the caller's transaction while it is checked and counted, so concurrent
//! requests are counted one after another and a burst cannot slip past a limit between
//! a check and an insert. `hits` keeps the times of the last day (a sliding window);
//! `total` counts what only a sign-in by another factor (`nonces::redeem`), an admin's
//! [`clear`] or [`TOTAL_KEPT`] of quiet forgives.

use chrono::{DateTime, Duration, Utc};
use sqlx::{PgConnection, PgExecutor};

use crate::model::SiteId;

/// The longest window a limit may have: hits older than this are dropped.
pub const HORIZON: Duration = Duration::days(1);
/// A total is forgotten this long after its last hit (so rows for made-up keys do not
/// pile up for ever; a guesser who pauses this long has gained nothing worth having).
pub const TOTAL_KEPT: Duration = Duration::days(90);

/// A counter as its lock found it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Counter {
    pub key: String,
    /// Times of the hits within [`HORIZON`], oldest first.
    pub hits: Vec<DateTime<Utc>>,
    pub total: i32,
}

impl Counter {
    /// Hits since `since`, and when the oldest of them leaves a window of `window`.
    pub fn within(&self, since: DateTime<Utc>) -> (usize, Option<DateTime<Utc>>) {
        let recent: Vec<_> = self.hits.iter().filter(|t| **t > since).collect();
        (recent.len(), recent.first().map(|t| **t))
    }
}

/// Locks the counters of `keys` (creating the missing ones) until the transaction ends,
/// in key order (so two callers locking overlapping keys cannot deadlock), and answers
/// them in that order.
pub async fn lock(
    tx: &mut PgConnection,
    site: &SiteId,
    keys: &[String],
    now: DateTime<Utc>,
) -> sqlx::Result<Vec<Counter>> {
    let mut keys = keys.to_vec();
    keys.sort();
    keys.dedup();
    // ON CONFLICT with no target: until a second site is configured the table also keeps
    // its first key on `key` alone (migration 0027), and a conflict on a key the clause
    // does not name is an error — two first requests for one counter at once would make
    // one of them fail. Any conflict here means the counter exists.
    sqlx::query(
        "INSERT INTO limit_counters (site, key, expires_at)
         SELECT $3, k, $2 FROM unnest($1::text[]) AS k ORDER BY k
         ON CONFLICT DO NOTHING",
    )
    .bind(&keys)
    .bind(now + HORIZON)
    .bind(site.as_str())
    .execute(&mut *tx)
    .await?;
    sqlx::query_as(
        "SELECT key, hits, total FROM limit_counters WHERE site = $2 AND key = ANY($1) ORDER BY key FOR UPDATE",
    )
    .bind(&keys)
    .bind(site.as_str())
    .fetch_all(&mut *tx)
    .await
}

/// A counter as it stands, without locking it (`None`: never hit).
pub async fn peek(
    db: impl PgExecutor<'_>,
    site: &SiteId,
    key: &str,
) -> sqlx::Result<Option<Counter>> {
    sqlx::query_as("SELECT key, hits, total FROM limit_counters WHERE site = $2 AND key = $1")
        .bind(key)
        .bind(site.as_str())
        .fetch_optional(db)
        .await
}

/// Counts a hit at `now` on each key (and, with `total`, one more towards its total);
/// hits older than `keep` (at most [`HORIZON`]: the key's window) are dropped, so a
/// counter never holds more than its limit. Call it on keys [`lock`]ed in the same
/// transaction.
pub async fn hit(
    tx: &mut PgConnection,
    site: &SiteId,
    keys: &[String],
    total: bool,
    keep: Duration,
    now: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE limit_counters
            SET hits = ARRAY(SELECT h FROM unnest(hits) AS h WHERE h > $4 ORDER BY h) || $2,
                total = total + CASE WHEN $3 THEN 1 ELSE 0 END,
                expires_at = CASE WHEN total + CASE WHEN $3 THEN 1 ELSE 0 END > 0
                                  THEN $2 + interval '90 days' ELSE $2 + interval '1 day' END
          WHERE site = $5 AND key = ANY($1)",
    )
    .bind(keys)
    .bind(now)
    .bind(total)
    .bind(now - keep.min(HORIZON))
    .bind(site.as_str())
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Forgives a key entirely: its window and its total. Answers whether it had any.
pub async fn clear(db: impl PgExecutor<'_>, site: &SiteId, key: &str) -> sqlx::Result<bool> {
    let n = sqlx::query("DELETE FROM limit_counters WHERE site = $2 AND key = $1")
        .bind(key)
        .bind(site.as_str())
        .execute(db)
        .await?
        .rows_affected();
    Ok(n > 0)
}
