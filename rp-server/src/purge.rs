//! Background purge of expired ceremonies, challenges and nonces. It runs on its own
//! task in small batches, so it never blocks a request.

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
    match crate::store::purge_expired(&state.db, state.clock.now(), BATCH).await {
        Ok(n) => {
            if n > 0 {
                tracing::debug!(rows = n, "purged expired rows");
            }
            n
        }
        Err(e) => {
            tracing::warn!(error = %e, "purge of expired rows failed");
            0
        }
    }
}
