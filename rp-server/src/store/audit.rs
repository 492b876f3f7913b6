//! The audit log's rows. [`AuditRow`] is one event as stored; combined statements of
//! other modules insert it in their own CTEs through [`insert_from`].

pub mod partitions;

use chrono::{DateTime, Utc};
use sqlx::PgExecutor;
use uuid::Uuid;

use crate::model::SiteId;

/// One audit event, ready to insert.
#[derive(Debug, Clone)]
pub struct AuditRow<'a> {
    pub site: &'a SiteId,
    pub occurred_at: DateTime<Utc>,
    pub actor: String,
    pub action: &'static str,
    pub user_id: Option<Uuid>,
    pub cognito_sub: Option<&'a str>,
    pub credential_id: Option<&'a [u8]>,
    pub ip: Option<String>,
    pub user_agent: Option<&'a str>,
    pub details: serde_json::Value,
}

const COLUMNS: &str = "occurred_at, actor, action, user_id, cognito_sub, credential_id, ip, user_agent, details, site";

/// `INSERT INTO audit_events ... SELECT <the row's ten parameters, from $first> FROM
/// <source>`: a CTE body that writes the row once for each row of `source` (so exactly
/// when the change it records happened). Bind the row with [`bind`] at `$first`.
pub fn insert_from(source: &str, first: usize) -> String {
    let p = |i: usize| first + i;
    format!(
        "INSERT INTO audit_events ({COLUMNS}) SELECT ${}, ${}, ${}, ${}, ${}, ${}, ${}::inet, ${}, ${}, ${} FROM {source}",
        p(0),
        p(1),
        p(2),
        p(3),
        p(4),
        p(5),
        p(6),
        p(7),
        p(8),
        p(9)
    )
}

/// Binds an [`AuditRow`]'s ten parameters to any query, in the order
/// [`insert_from`] names them.
macro_rules! bind_row {
    ($query:expr, $row:expr) => {{
        let row: &$crate::store::audit::AuditRow<'_> = $row;
        $query
            .bind(row.occurred_at)
            .bind(&row.actor)
            .bind(row.action)
            .bind(row.user_id)
            .bind(row.cognito_sub)
            .bind(row.credential_id)
            .bind(&row.ip)
            .bind(row.user_agent)
            .bind(&row.details)
            .bind(row.site.as_str())
    }};
}
pub(crate) use bind_row;

pub async fn insert(db: impl PgExecutor<'_>, row: &AuditRow<'_>) -> sqlx::Result<()> {
    let sql = format!(
        "INSERT INTO audit_events ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7::inet, $8, $9, $10)"
    );
    bind_row!(sqlx::query(&sql), row).execute(db).await?;
    Ok(())
}

/// One stored event as admins read it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct StoredEvent {
    pub id: i64,
    pub occurred_at: DateTime<Utc>,
    pub actor: String,
    pub action: String,
    pub cognito_sub: Option<String>,
    pub credential_id: Option<Vec<u8>>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub details: serde_json::Value,
}

#[derive(Debug, Clone, Default)]
pub struct EventFilter<'a> {
    pub sub: Option<&'a str>,
    pub credential_id: Option<&'a [u8]>,
    pub action: Option<&'a str>,
    /// Only events whose actor starts with this.
    pub actor: Option<&'a str>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    /// Keyset cursor: only events before this `(occurred_at, id)`.
    pub before: Option<(DateTime<Utc>, i64)>,
    pub limit: i64,
}

/// A keyset cursor (an event's time and id) as clients carry it.
pub fn encode_cursor(at: DateTime<Utc>, id: i64) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(format!("{}|{id}", at.timestamp_micros()))
}

/// The position a cursor of [`encode_cursor`] names; `None` for anything else.
pub fn decode_cursor(c: &str) -> Option<(DateTime<Utc>, i64)> {
    use base64::Engine as _;
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(c)
        .ok()?;
    let text = String::from_utf8(raw).ok()?;
    let (micros, id) = text.split_once('|')?;
    Some((
        DateTime::from_timestamp_micros(micros.parse().ok()?)?,
        id.parse().ok()?,
    ))
}

/// The site's events matching the filter, newest first. Only the filters given are in
/// the statement: an optional one written `$1 IS NULL OR cognito_sub = $1` cannot use an
/// index under a generic plan (Postgres's choice once a statement has run five times on a
/// connection), which then read the log newest first to the end looking for one user's
/// events — on a user-facing endpoint (`/v1/activity`), over tens of millions of rows.
pub async fn events(
    db: impl PgExecutor<'_>,
    site: &SiteId,
    f: &EventFilter<'_>,
) -> sqlx::Result<Vec<StoredEvent>> {
    let mut q = sqlx::QueryBuilder::new(
        "SELECT id, occurred_at, actor, action, cognito_sub, credential_id, host(ip) AS ip, user_agent, details
           FROM audit_events WHERE site = ",
    );
    q.push_bind(site.as_str());
    if let Some(sub) = f.sub {
        q.push(" AND cognito_sub = ").push_bind(sub);
    }
    if let Some(id) = f.credential_id {
        q.push(" AND credential_id = ").push_bind(id);
    }
    if let Some(action) = f.action {
        q.push(" AND action = ").push_bind(action);
    }
    if let Some(since) = f.since {
        q.push(" AND occurred_at >= ").push_bind(since);
    }
    if let Some(until) = f.until {
        q.push(" AND occurred_at < ").push_bind(until);
    }
    if let Some((at, id)) = f.before {
        q.push(" AND (occurred_at, id) < (")
            .push_bind(at)
            .push(", ")
            .push_bind(id)
            .push(")");
    }
    if let Some(actor) = f.actor {
        q.push(" AND actor LIKE ")
            .push_bind(super::like_prefix(actor));
    }
    q.push(" ORDER BY occurred_at DESC, id DESC LIMIT ")
        .push_bind(f.limit);
    q.build_query_as().fetch_all(db).await
}

/// How one event is counted in the daily statistics: a sign-in by its kind, a failure by
/// its reason; the same expression rolls past days up and counts today live.
const DAILY_DETAIL: &str = "CASE
        WHEN action = 'authentication.succeeded' THEN
            CASE WHEN (details->>'usernameless')::boolean THEN 'usernameless' ELSE 'username_first' END
        WHEN action = 'email.code_verified' THEN COALESCE(details->>'purpose', '')
        ELSE COALESCE(details->>'reason', details->>'code', '')
    END";

/// The actions the daily statistics count.
const DAILY_ACTIONS: &str = "('authentication.succeeded', 'authentication.failed', 'email.code_verified',
    'email.code_failed', 'email.code_sent', 'recovery.code_used', 'recovery.code_failed', 'nonce.redeem_failed')";

/// Rolls up `day` (a finished UTC day) once, for every site: its counts, and the mark
/// that it is done.
/// Returns whether it was rolled up now.
pub async fn roll_up_day(db: &super::Db, day: chrono::NaiveDate) -> sqlx::Result<bool> {
    let start = day.and_time(chrono::NaiveTime::MIN).and_utc();
    let end = start + chrono::Duration::days(1);
    roll_up(
        db,
        ("audit_daily", "audit_daily_done", "day"),
        day,
        start,
        end,
    )
    .await
}

/// Rolls up `hour` (a finished UTC hour of today) once, for every site, as
/// [`roll_up_day`] does a day: today's statistics then count live only the events since
/// the last finished hour. Returns whether it was rolled up now.
pub async fn roll_up_hour(db: &super::Db, hour: DateTime<Utc>) -> sqlx::Result<bool> {
    let end = hour + chrono::Duration::hours(1);
    roll_up(
        db,
        ("audit_hourly", "audit_hourly_done", "hour"),
        hour,
        hour,
        end,
    )
    .await
}

/// Counts the events from `start` to `end` into `table` under `key` for every site, once:
/// `done` (whose one column, like the period's in `table`, is `column`) records that it
/// was, in the same statement. Returns whether the period is rolled up now.
async fn roll_up<K>(
    db: &super::Db,
    (table, done, column): (&str, &str, &str),
    key: K,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> sqlx::Result<bool>
where
    K: for<'q> sqlx::Encode<'q, sqlx::Postgres> + sqlx::Type<sqlx::Postgres> + Send + Copy,
{
    let sql = format!(
        "WITH done AS (
            INSERT INTO {done} ({column}) VALUES ($1) ON CONFLICT DO NOTHING RETURNING {column}
         )
         INSERT INTO {table} (site, {column}, action, detail, count)
         SELECT site, $1, action, {DAILY_DETAIL}, count(*)
           FROM audit_events
          WHERE EXISTS (SELECT 1 FROM done)
            AND occurred_at >= $2 AND occurred_at < $3
            AND action IN {DAILY_ACTIONS}
          GROUP BY 1, 3, 4
         RETURNING 1"
    );
    let mut tx = db.begin().await?;
    sqlx::query(&sql)
        .bind(key)
        .bind(start)
        .bind(end)
        .execute(&mut *tx)
        .await?;
    let rolled: bool = sqlx::query_scalar(&format!(
        "SELECT EXISTS (SELECT 1 FROM {done} WHERE {column} = $1)"
    ))
    .bind(key)
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(rolled)
}

/// The hours of `$1`'s UTC day that ended by `$2`'s hour and are not rolled up yet.
const HOURS_NOT_ROLLED_UP: &str = "SELECT h FROM generate_series(
        date_trunc('day', $1 AT TIME ZONE 'UTC') AT TIME ZONE 'UTC',
        date_trunc('hour', $2 AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' - interval '1 hour',
        interval '1 hour') AS h
      WHERE NOT EXISTS (SELECT 1 FROM audit_hourly_done WHERE hour = h)";

/// The finished hours of `now`'s UTC day not rolled up yet (oldest first), each once it
/// ended a minute ago (an event stamped just before the hour may commit just after it);
/// and the hours of days before yesterday are forgotten (their days have
/// [`roll_up_day`]'s counts).
pub async fn hours_to_roll_up(
    db: &super::Db,
    now: DateTime<Utc>,
) -> sqlx::Result<Vec<DateTime<Utc>>> {
    let mut tx = db.begin().await?;
    for table in ["audit_hourly", "audit_hourly_done"] {
        sqlx::query(&format!(
            "DELETE FROM {table} WHERE hour < date_trunc('day', $1 AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' - interval '1 day'"
        ))
        .bind(now)
        .execute(&mut *tx)
        .await?;
    }
    let hours = sqlx::query_scalar(&format!("{HOURS_NOT_ROLLED_UP} ORDER BY 1"))
        .bind(now)
        .bind(now - chrono::Duration::minutes(1))
        .fetch_all(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(hours)
}

/// The finished days since `since` that are not rolled up yet (oldest first).
pub async fn days_to_roll_up(
    db: impl PgExecutor<'_>,
    since: chrono::NaiveDate,
    today: chrono::NaiveDate,
) -> sqlx::Result<Vec<chrono::NaiveDate>> {
    sqlx::query_scalar(
        "SELECT d::date FROM generate_series($1::date, $2::date - 1, interval '1 day') AS d
          WHERE NOT EXISTS (SELECT 1 FROM audit_daily_done WHERE day = d::date)
          ORDER BY 1",
    )
    .bind(since)
    .bind(today)
    .fetch_all(db)
    .await
}

/// The site's counts per (day, action, detail) from `since` to `now`'s day: finished days
/// from the daily rollup; today from the hourly rollup up to its first hour not rolled up
/// yet, and live (a range of the occurred_at index) from there — so a day with millions of
/// events costs an hour's of them. Today may come in two rows per (action, detail): add them.
pub async fn daily<'c>(
    db: impl sqlx::Acquire<'c, Database = sqlx::Postgres>,
    site: &SiteId,
    since: chrono::NaiveDate,
    now: DateTime<Utc>,
) -> sqlx::Result<Vec<(chrono::NaiveDate, String, String, i64)>> {
    let mut conn = db.acquire().await?;
    // Asked first and passed as a value, so that the live part is planned for its range
    // (a subquery's value is unknown to the planner, which then reads the month).
    let live_since: DateTime<Utc> = sqlx::query_scalar(&format!(
        "SELECT coalesce(min(h), date_trunc('hour', $2 AT TIME ZONE 'UTC') AT TIME ZONE 'UTC')
           FROM ({HOURS_NOT_ROLLED_UP}) AS todo"
    ))
    .bind(now)
    .bind(now)
    .fetch_one(&mut *conn)
    .await?;
    let sql = format!(
        "SELECT day, action, detail, count FROM audit_daily WHERE site = $3 AND day >= $1 AND day < $2
         UNION ALL
         SELECT $2, action, detail, sum(count)::int8
           FROM audit_hourly
          WHERE site = $3 AND hour >= $2::date AT TIME ZONE 'UTC' AND hour < $4
          GROUP BY 2, 3
         UNION ALL
         SELECT $2, action, {DAILY_DETAIL}, count(*)
           FROM audit_events
          WHERE site = $3 AND occurred_at >= $4 AND action IN {DAILY_ACTIONS}
          GROUP BY 2, 3
         ORDER BY 1, 2, 3"
    );
    sqlx::query_as(&sql)
        .bind(since)
        .bind(now.date_naive())
        .bind(site.as_str())
        .bind(live_since)
        .persistent(false)
        .fetch_all(&mut *conn)
        .await
}
