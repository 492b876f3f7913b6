//! Background work: the purge of expired ceremonies, challenges, nonces and enrolment
//! tokens and of audit events past `RP_AUDIT_RETENTION_DAYS`, the sweep of sign-ups that
//! never finished (every minute), the rollups of finished days and hours for the
//! statistics, and learning the shape of real passkeys for fake
//! options (every ten minutes), and the audit log's partitions for the months ahead. It runs on its own task in small batches, so it never
//! blocks a request; the first pass comes a minute after start.

use std::time::Duration;

use crate::AppState;

pub const INTERVAL: Duration = Duration::from_secs(60);
const BATCH: i64 = 1000;

/// Fake options follow real ones this many purge passes apart. Rarely: an unknown
/// user's options change only when the learned shapes do.
const LEARN_EVERY: u64 = 10;

pub async fn run(state: AppState) {
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + INTERVAL, INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    for pass in 1u64.. {
        tick.tick().await;
        once(&state).await;
        if pass % LEARN_EVERY == 0 {
            learn_shapes(&state).await;
        }
    }
}

/// Fake options for unknown users copy the current shape of real users' passkeys (each
/// site's its own).
pub async fn learn_shapes(state: &AppState) {
    let sites = state.sites();
    for site in sites.all() {
        match crate::store::credentials::shapes(&state.db, &site.id, site.rp.shape_sample()).await {
            Ok((shapes, _)) => site.rp.learn_shapes(shapes),
            Err(e) => {
                tracing::warn!(error = %e, site = %site.id, "reading the shapes of stored passkeys failed")
            }
        }
    }
}

/// Rolls up the finished days of the last [`crate::admin::MAX_STATS_DAYS`] not rolled up
/// yet (each day once: its events are read once, by one instance).
pub async fn roll_up_days(state: &AppState) {
    let today = state.clock.now().date_naive();
    let since = today - chrono::Duration::days(crate::admin::MAX_STATS_DAYS);
    let days = match crate::store::audit::days_to_roll_up(&state.db, since, today).await {
        Ok(days) => days,
        Err(e) => return tracing::warn!(error = %e, "finding the days to roll up failed"),
    };
    for day in days {
        if let Err(e) = crate::store::audit::roll_up_day(&state.db, day).await {
            return tracing::warn!(error = %e, %day, "rolling up a day of the audit log failed");
        }
    }
}

/// Rolls up today's finished hours not rolled up yet (each hour once, by one instance),
/// so today's statistics count live only the last hour's events.
pub async fn roll_up_hours(state: &AppState) {
    let hours = match crate::store::audit::hours_to_roll_up(&state.db, state.clock.now()).await {
        Ok(hours) => hours,
        Err(e) => return tracing::warn!(error = %e, "finding the hours to roll up failed"),
    };
    for hour in hours {
        if let Err(e) = crate::store::audit::roll_up_hour(&state.db, hour).await {
            return tracing::warn!(error = %e, %hour, "rolling up an hour of the audit log failed");
        }
    }
}

/// The audit log's partitions for this month and the next ones exist (on every pass).
pub async fn ensure_audit_partitions(state: &AppState) {
    let now = state.clock.now();
    if let Err(e) = crate::store::audit::partitions::ensure_ahead(&state.db, now).await {
        tracing::warn!(error = %e, "creating the audit log's next partitions failed");
    }
}

/// One pass; errors are logged, not fatal (the next pass retries).
pub async fn once(state: &AppState) -> u64 {
    roll_up_days(state).await;
    roll_up_hours(state).await;
    let sites = state.sites();
    for store in sites.all().iter().filter_map(|s| s.settings.mds.as_ref()) {
        match store.reload_if_changed() {
            Ok(true) => {
                let m = store.current();
                tracing::info!(number = m.number, next_update = %m.next_update, "FIDO metadata reloaded");
            }
            Ok(false) => {}
            Err(e) => {
                tracing::warn!(error = %e, "the changed FIDO metadata file was not taken: the metadata in force stays")
            }
        }
    }
    for limiter in [&state.rate_limiter, &state.ops_rate_limiter]
        .into_iter()
        .flatten()
    {
        limiter.forget_idle();
    }
    let now = state.clock.now();
    ensure_audit_partitions(state).await;
    let mut purged = match crate::store::purge_expired(&state.db, now, BATCH).await {
        Ok(n) => n,
        Err(e) => {
            tracing::warn!(error = %e, "purge of expired rows failed");
            0
        }
    };
    if let Some(keep) = state
        .config
        .audit_retention
        .and_then(|d| chrono::Duration::from_std(d).ok())
    {
        match crate::store::purge_audit(&state.db, now - keep, BATCH).await {
            Ok((_partitions, n)) => purged += n,
            Err(e) => tracing::warn!(error = %e, "purge of old audit events failed"),
        }
    }
    for site in sites.all() {
        match crate::flows::signup::sweep(&state.context(site)).await {
            Ok(n) => purged += n as u64,
            Err(e) => {
                tracing::warn!(error = %e, site = %site.id, "the sweep of abandoned sign-ups failed")
            }
        }
    }
    if purged > 0 {
        tracing::debug!(rows = purged, "purged expired rows");
    }
    purged
}
