//! The audit log's monthly partitions (migration 0022, decision 0019): created ahead of
//! the clock, dropped whole once retention has passed them. Their names are the contract:
//! `audit_events_yYYYYmMM` holds one UTC month, `audit_events_before_yYYYYmMM` every row
//! before that month (the table as it was before partitioning), `audit_events_default`
//! whatever no month covers.

use chrono::{DateTime, Datelike as _, NaiveDate, Utc};

use crate::store::Db;

/// Months created ahead of the current one, so that no event ever waits on one.
pub const MONTHS_AHEAD: u32 = 2;

/// DDL waits at most this long for the table's lock, so that it never queues inserts
/// behind a long reader; the next pass tries again.
const LOCK_TIMEOUT: &str = "500ms";

/// Serialises the instances' maintenance (`pg_advisory_xact_lock`).
const MAINTENANCE_LOCK: i64 = 0x7270_6175_6469_7470; // "rpauditp"

/// One partition of `audit_events`, as its name describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Partition {
    /// `[month, next month)`.
    Month(NaiveDate),
    /// Everything before `month`.
    Before(NaiveDate),
    Default,
}

impl Partition {
    /// The partition a table name stands for; `None` for names outside the contract.
    pub fn parse(name: &str) -> Option<Self> {
        if name == "audit_events_default" {
            return Some(Self::Default);
        }
        let (before, ym) = match name.strip_prefix("audit_events_before_") {
            Some(ym) => (true, ym),
            None => (false, name.strip_prefix("audit_events_")?),
        };
        let ym = ym.strip_prefix('y')?;
        let (y, m) = ym.split_once('m')?;
        if y.len() != 4 || m.len() != 2 {
            return None;
        }
        let month = NaiveDate::from_ymd_opt(y.parse().ok()?, m.parse().ok()?, 1)?;
        Some(if before {
            Self::Before(month)
        } else {
            Self::Month(month)
        })
    }

    pub fn name(&self) -> String {
        match self {
            Self::Month(m) => format!("audit_events_y{:04}m{:02}", m.year(), m.month()),
            Self::Before(m) => format!("audit_events_before_y{:04}m{:02}", m.year(), m.month()),
            Self::Default => "audit_events_default".to_owned(),
        }
    }

    /// Where its rows end (exclusive); `None` for the default partition.
    pub fn end(&self) -> Option<DateTime<Utc>> {
        match self {
            Self::Month(m) => Some(start_of(next_month(*m))),
            Self::Before(m) => Some(start_of(*m)),
            Self::Default => None,
        }
    }

    fn covers(&self, month: NaiveDate) -> bool {
        match self {
            Self::Month(m) => *m == month,
            Self::Before(m) => month < *m,
            Self::Default => false,
        }
    }
}

/// The first of `at`'s UTC month.
pub fn month_of(at: DateTime<Utc>) -> NaiveDate {
    let day = at.date_naive();
    day.with_day(1).unwrap_or(day)
}

fn next_month(month: NaiveDate) -> NaiveDate {
    month + chrono::Months::new(1)
}

fn start_of(month: NaiveDate) -> DateTime<Utc> {
    month.and_time(chrono::NaiveTime::MIN).and_utc()
}

/// A timestamp as an SQL literal (DDL takes no parameters; this one is made of numbers).
fn literal(at: DateTime<Utc>) -> String {
    format!("'{}'", at.format("%Y-%m-%d %H:%M:%S+00"))
}

/// The partitions as their names describe them (tables outside the contract are left
/// out: maintenance never touches them).
pub async fn list(db: &Db) -> sqlx::Result<Vec<Partition>> {
    let names: Vec<String> = sqlx::query_scalar(
        "SELECT c.relname::text FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
          WHERE i.inhparent = 'audit_events'::regclass ORDER BY 1",
    )
    .fetch_all(db)
    .await?;
    Ok(names.iter().filter_map(|n| Partition::parse(n)).collect())
}

/// Makes sure partitions exist for `now`'s month and [`MONTHS_AHEAD`] more (a catalog
/// query when they do, as they nearly always do).
///
/// Months are made while nothing writes to them: Postgres may refuse an insert into the
/// default partition that races with a month's attachment (the row was routed before it),
/// so rp-server makes this month before it serves, and later months well ahead.
pub async fn ensure_ahead(db: &Db, now: DateTime<Utc>) -> sqlx::Result<Vec<Partition>> {
    let this = month_of(now);
    let last = this
        .checked_add_months(chrono::Months::new(MONTHS_AHEAD))
        .unwrap_or(this);
    ensure(db, this, last).await
}

/// Makes sure a partition holds each month from `from` to `to` (inclusive), creating the
/// missing ones; rows of those months already in the default partition move into them.
/// Returns the partitions created.
pub async fn ensure(db: &Db, from: NaiveDate, to: NaiveDate) -> sqlx::Result<Vec<Partition>> {
    let mut existing = list(db).await?;
    let mut created = Vec::new();
    let mut month = from.with_day(1).unwrap_or(from);
    while month <= to {
        if !existing.iter().any(|p| p.covers(month)) && create(db, month).await? {
            existing.push(Partition::Month(month));
            created.push(Partition::Month(month));
        }
        month = next_month(month);
    }
    Ok(created)
}

/// A transaction for partition DDL: one instance at a time, never waiting long for a lock.
async fn maintenance(db: &Db) -> sqlx::Result<sqlx::Transaction<'static, sqlx::Postgres>> {
    let mut tx = db.begin().await?;
    sqlx::query(&format!("SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'"))
        .execute(&mut *tx)
        .await?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(MAINTENANCE_LOCK)
        .execute(&mut *tx)
        .await?;
    Ok(tx)
}

/// Creates one month's partition; `false` when another instance got there first.
async fn create(db: &Db, month: NaiveDate) -> sqlx::Result<bool> {
    let p = Partition::Month(month);
    let name = p.name();
    let (start, end) = (
        literal(start_of(month)),
        literal(start_of(next_month(month))),
    );
    let mut tx = maintenance(db).await?;
    let taken: bool = sqlx::query_scalar("SELECT to_regclass($1) IS NOT NULL")
        .bind(&name)
        .fetch_one(&mut *tx)
        .await?;
    if taken {
        return Ok(false);
    }
    // Built beside the table, filled with its month's strays from the default partition,
    // then attached: the attachment checks the default partition holds none of its
    // month any more, which is cheap because the default partition stays (nearly) empty.
    sqlx::query(&format!(
        "CREATE TABLE {name} (LIKE audit_events INCLUDING DEFAULTS INCLUDING CONSTRAINTS)"
    ))
    .execute(&mut *tx)
    .await?;
    sqlx::query(&format!(
        "WITH moved AS (
            DELETE FROM audit_events_default WHERE occurred_at >= {start} AND occurred_at < {end}
            RETURNING *
         )
         INSERT INTO {name} SELECT * FROM moved"
    ))
    .execute(&mut *tx)
    .await?;
    sqlx::query(&format!(
        "ALTER TABLE audit_events ATTACH PARTITION {name} FOR VALUES FROM ({start}) TO ({end})"
    ))
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    tracing::info!(partition = %name, "audit log partition created");
    Ok(true)
}

/// Drops every partition whose rows all occurred before `before`, whole (no row by row
/// deletion, so the cost does not grow with the table). Returns the partitions dropped.
pub async fn drop_before(db: &Db, before: DateTime<Utc>) -> sqlx::Result<Vec<Partition>> {
    let mut dropped = Vec::new();
    for p in list(db).await? {
        if p.end().is_none_or(|end| end > before) {
            continue;
        }
        let mut tx = maintenance(db).await?;
        sqlx::query(&format!("DROP TABLE IF EXISTS {}", p.name()))
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        tracing::info!(partition = %p.name(), "audit log partition past the retention dropped");
        dropped.push(p);
    }
    Ok(dropped)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn names_round_trip_and_strangers_are_left_out() {
        let m = NaiveDate::from_ymd_opt(2026, 12, 1).unwrap();
        for p in [
            Partition::Month(m),
            Partition::Before(m),
            Partition::Default,
        ] {
            assert_eq!(Partition::parse(&p.name()), Some(p));
        }
        assert_eq!(Partition::Month(m).name(), "audit_events_y2026m12");
        for stranger in [
            "audit_events_y2026m13",
            "audit_events_y26m12",
            "audit_events_archive",
            "audit_events_y2026m12_old",
            "other_y2026m12",
        ] {
            assert_eq!(Partition::parse(stranger), None, "{stranger}");
        }
    }

    #[test]
    fn a_month_ends_where_the_next_begins_and_before_ends_at_its_month() {
        let dec = NaiveDate::from_ymd_opt(2026, 12, 1).unwrap();
        assert_eq!(
            Partition::Month(dec).end().unwrap().to_rfc3339(),
            "2027-01-01T00:00:00+00:00"
        );
        assert_eq!(
            Partition::Before(dec).end().unwrap().to_rfc3339(),
            "2026-12-01T00:00:00+00:00"
        );
        assert!(Partition::Before(dec).covers(NaiveDate::from_ymd_opt(2026, 11, 1).unwrap()));
        assert!(!Partition::Before(dec).covers(dec));
        assert_eq!(literal(start_of(dec)), "'2026-12-01 00:00:00+00'");
    }
}
