//! The limits on email codes, each counted under a row lock in the caller's transaction
//! ([`crate::store::limits`]), so that no burst of concurrent requests gets past one:
//!
//! - code requests: [`PER_ADDRESS_PER_DAY`] per address, [`PER_IP_PER_DAY`] per client;
//! - failed verifications: [`FAILURES_PER_ADDRESS_PER_DAY`] per address across all its
//!   codes (a new code does not reset it), then `CODE_LOCKED` until the day's window
//!   passes; [`FAILURES_PER_ADDRESS_IN_ALL`] in all (forgotten after 90 days without
//!   one), then locked until a sign-in by another factor or an admin's unlock; `RP_EMAIL_MAX_FAILURES_PER_IP_DAY` per client;
//! - sign-up codes to addresses without an account: [`SIGNUPS_PER_IP_PER_DAY`] per client
//!   and `RP_EMAIL_SIGNUP_MAX_PER_HOUR` in all (the sender's reputation).
//!
//! A client is its IPv4 address or its IPv6 /64 ([`crate::net::limit_block`]).

use chrono::{DateTime, Duration, Utc};
use sqlx::PgConnection;

use crate::audit::ClientContext;
use crate::model::SiteId;
use crate::store::limits::{self, Counter};

/// Codes one address may be sent in a day.
pub const PER_ADDRESS_PER_DAY: usize = 10;
/// Codes one client may ask for in a day.
pub const PER_IP_PER_DAY: usize = 100;
/// Failed verifications per address in 24 hours before `CODE_LOCKED`.
pub const FAILURES_PER_ADDRESS_PER_DAY: usize = 10;
/// Failed verifications per address before only another factor or an admin unlocks it.
pub const FAILURES_PER_ADDRESS_IN_ALL: i32 = 50;
/// Sign-up codes to addresses without an account that one client may cause in a day.
pub const SIGNUPS_PER_IP_PER_DAY: usize = 20;

/// The counter keys of one address and one client.
pub fn sends_of_address(email: &str) -> String {
    format!("email-send:{email}")
}
/// A counter key of `client`'s block (its IPv4 address or IPv6 /64); `None` without an IP.
fn of_client(kind: &str, client: &ClientContext) -> Option<String> {
    client
        .ip
        .map(|ip| format!("{kind}:{}", crate::net::limit_block(ip)))
}
fn sends_of_client(client: &ClientContext) -> Option<String> {
    of_client("email-send-ip", client)
}
/// The failures of an address (what an admin's unlock clears).
pub fn failures_of_address(email: &str) -> String {
    format!("email-fail:{email}")
}
fn failures_of_client(client: &ClientContext) -> Option<String> {
    of_client("email-fail-ip", client)
}
fn signups_of_client(client: &ClientContext) -> Option<String> {
    of_client("email-signup-ip", client)
}
const SIGNUPS_IN_ALL: &str = "email-signup-all";

/// Why a request was refused, and for how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// Too many requests from here or for this address; try again after this many seconds.
    #[error("Too many requests; try again later.")]
    RateLimited(u64),
    /// The account (its address) is locked against codes: for this many seconds, or
    /// (`None`) until a sign-in by another factor or an admin's unlock.
    #[error("Too many wrong codes for this account; codes cannot be used for now.")]
    Locked(Option<u64>),
}

/// One limit: at most `max` hits within `window` on `key`.
struct Limit {
    key: String,
    max: usize,
    window: Duration,
}

/// The first limit of `limits` that `counters` (as [`limits::lock`] answered them) are
/// at, with the seconds until its oldest hit leaves the window.
fn first_full(counters: &[Counter], wanted: &[Limit], now: DateTime<Utc>) -> Option<u64> {
    wanted.iter().find_map(|limit| {
        let counter = counters.iter().find(|c| c.key == limit.key)?;
        let (n, oldest) = counter.within(now - limit.window);
        (n >= limit.max).then(|| seconds_until(oldest.unwrap_or(now) + limit.window, now))
    })
}

fn seconds_until(at: DateTime<Utc>, now: DateTime<Utc>) -> u64 {
    u64::try_from((at - now).num_seconds()).unwrap_or(0).max(1)
}

fn keys(limits: &[Limit]) -> Vec<String> {
    limits.iter().map(|l| l.key.clone()).collect()
}

/// Counts a code request for `email` from `client`, unless a limit is reached. Also
/// answers whether the address is locked (the request is answered alike, but no code
/// goes out).
pub async fn take_send(
    tx: &mut PgConnection,
    site: &SiteId,
    client: &ClientContext,
    email: &str,
    now: DateTime<Utc>,
) -> sqlx::Result<Result<bool, Refusal>> {
    let mut wanted = vec![Limit {
        key: sends_of_address(email),
        max: PER_ADDRESS_PER_DAY,
        window: Duration::days(1),
    }];
    wanted.extend(sends_of_client(client).map(|key| Limit {
        key,
        max: PER_IP_PER_DAY,
        window: Duration::days(1),
    }));
    let mut all = keys(&wanted);
    all.push(failures_of_address(email));
    let counters = limits::lock(tx, site, &all, now).await?;
    if let Some(wait) = first_full(&counters, &wanted, now) {
        return Ok(Err(Refusal::RateLimited(wait)));
    }
    limits::hit(tx, site, &keys(&wanted), false, Duration::days(1), now).await?;
    let failures = counters
        .iter()
        .find(|c| c.key == failures_of_address(email));
    Ok(Ok(failures.is_some_and(|f| address_lock(f, now).is_some())))
}

/// Whether the failures of an address lock it, and until when (see [`Refusal::Locked`]).
fn address_lock(failures: &Counter, now: DateTime<Utc>) -> Option<Option<u64>> {
    if failures.total >= FAILURES_PER_ADDRESS_IN_ALL {
        return Some(None);
    }
    let (n, oldest) = failures.within(now - Duration::days(1));
    (n >= FAILURES_PER_ADDRESS_PER_DAY).then(|| {
        Some(seconds_until(
            oldest.unwrap_or(now) + Duration::days(1),
            now,
        ))
    })
}

/// Whether `client` is already past its daily failures: read without a lock, so a flow
/// can refuse before costly work (a Cognito lookup); the locked count decides after.
pub async fn client_refused(
    db: &crate::store::Db,
    site: &SiteId,
    client: &ClientContext,
    per_client: u32,
    now: DateTime<Utc>,
) -> sqlx::Result<Option<Refusal>> {
    let Some(key) = failures_of_client(client) else {
        return Ok(None);
    };
    let counter = limits::peek(db, site, &key).await?;
    let wanted = [Limit {
        key,
        max: per_client as usize,
        window: Duration::days(1),
    }];
    Ok(counter
        .and_then(|c| first_full(std::slice::from_ref(&c), &wanted, now))
        .map(Refusal::RateLimited))
}

/// The failure counters of one verification, locked until its transaction ends: the
/// address's as the lock found it, and the client's key.
pub struct Failures {
    site: SiteId,
    address: Counter,
    client: Option<String>,
}

impl Failures {
    /// Locks the counters of `email` and `client`; refuses when either is full.
    pub async fn lock(
        tx: &mut PgConnection,
        site: &SiteId,
        client: &ClientContext,
        email: &str,
        per_client: u32,
        now: DateTime<Utc>,
    ) -> sqlx::Result<Result<Self, Refusal>> {
        let address = failures_of_address(email);
        let client = failures_of_client(client);
        let mut all = vec![address.clone()];
        all.extend(client.clone());
        let counters = limits::lock(tx, site, &all, now).await?;
        // `lock` makes the counters it did not find, so the address's is there.
        let address = counters
            .iter()
            .find(|c| c.key == address)
            .cloned()
            .unwrap_or(Counter {
                key: address,
                hits: Vec::new(),
                total: 0,
            });
        if let Some(lock) = address_lock(&address, now) {
            return Ok(Err(Refusal::Locked(lock)));
        }
        let client_limit: Vec<Limit> = client
            .iter()
            .map(|key| Limit {
                key: key.clone(),
                max: per_client as usize,
                window: Duration::days(1),
            })
            .collect();
        if let Some(wait) = first_full(&counters, &client_limit, now) {
            return Ok(Err(Refusal::RateLimited(wait)));
        }
        Ok(Ok(Self {
            site: site.clone(),
            address,
            client,
        }))
    }

    /// Counts a wrong code against the address and the client. Answers the lock this
    /// failure put on the address, if it did.
    pub async fn wrong(
        self,
        tx: &mut PgConnection,
        now: DateTime<Utc>,
    ) -> sqlx::Result<Option<Option<u64>>> {
        let mut address = self.address.clone();
        limits::hit(
            tx,
            &self.site,
            std::slice::from_ref(&address.key),
            true,
            Duration::days(1),
            now,
        )
        .await?;
        self.hopeless(tx, now).await?;
        // The counter stays locked: it is what it was, and this hit.
        address.hits.push(now);
        address.total += 1;
        Ok(address_lock(&address, now))
    }

    /// Counts an attempt that had no chance (no live code for that request) against the
    /// client only: it cannot have guessed anything about the address.
    pub async fn hopeless(self, tx: &mut PgConnection, now: DateTime<Utc>) -> sqlx::Result<()> {
        if let Some(client) = &self.client {
            limits::hit(
                tx,
                &self.site,
                std::slice::from_ref(client),
                false,
                Duration::days(1),
                now,
            )
            .await?;
        }
        Ok(())
    }
}

/// Counts a sign-up code to an address without an account, unless the client's daily
/// or the hourly total budget is spent (then nothing is sent). In its own transaction.
pub async fn take_signup(
    db: &crate::store::Db,
    site: &SiteId,
    client: &ClientContext,
    per_hour: u32,
    now: DateTime<Utc>,
) -> sqlx::Result<bool> {
    let mut wanted = vec![Limit {
        key: SIGNUPS_IN_ALL.to_owned(),
        max: per_hour as usize,
        window: Duration::hours(1),
    }];
    wanted.extend(signups_of_client(client).map(|key| Limit {
        key,
        max: SIGNUPS_PER_IP_PER_DAY,
        window: Duration::days(1),
    }));
    let mut tx = db.begin().await?;
    let counters = limits::lock(&mut tx, site, &keys(&wanted), now).await?;
    if first_full(&counters, &wanted, now).is_some() {
        return Ok(false);
    }
    limits::hit(
        &mut tx,
        site,
        &[wanted[0].key.clone()],
        false,
        Duration::hours(1),
        now,
    )
    .await?;
    limits::hit(
        &mut tx,
        site,
        &keys(&wanted[1..]),
        false,
        Duration::days(1),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(true)
}
