//! Background purge of expired ceremonies, challenges, nonces and enrolment tokens, and
//! of audit events past `RP_AUDIT_RETENTION_DAYS`, and the sweep of sign-ups that never
//! finished. It runs on its own task in small
//! batches, so it never blocks a request.

use std::time::Duration;

use crate::AppState;

pub const INTERVAL: Duration = Duration::from_secs(60);
const BATCH: i64 = 1000;

pub async fn run(state: AppState) {
    let mut tick = tokio::time::interval(INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        once(&state).await;
    }
}

/// One pass; errors are logged, not fatal (the next pass retries).
pub async fn once(state: &AppState) -> u64 {
    if let Some(limiter) = &state.rate_limiter {
        limiter.forget_idle();
    }
    let now = state.clock.now();
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
            Ok(n) => purged += n,
            Err(e) => tracing::warn!(error = %e, "purge of old audit events failed"),
        }
    }
    // Fake options for unknown users copy the current shape of real users' passkeys.
    match crate::store::credentials::shapes(&state.db).await {
        Ok(shapes) => state.rp.learn_shapes(shapes),
        Err(e) => tracing::warn!(error = %e, "reading the shapes of stored passkeys failed"),
    }
    match crate::flows::signup::sweep(state).await {
        Ok(n) => purged += n as u64,
        Err(e) => tracing::warn!(error = %e, "the sweep of abandoned sign-ups failed"),
    }
    if purged > 0 {
        tracing::debug!(rows = purged, "purged expired rows");
    }
    purged
}
