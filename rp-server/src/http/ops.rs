//! Operational endpoints: liveness, readiness, metrics.

use std::time::Duration;

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use serde::Serialize;
use utoipa::ToSchema;

use super::error::ApiError;
use super::extract::Json;
use crate::AppState;
use rp_shared::error::ErrorBody;

#[derive(Debug, Serialize, ToSchema)]
pub struct Status {
    pub status: &'static str,
}

/// The process is up.
#[utoipa::path(get, path = "/healthz", tag = "operations", responses((status = 200, body = Status)))]
pub async fn healthz() -> Json<Status> {
    Json(Status { status: "ok" })
}

/// The database answers; take the instance out of rotation otherwise. Answers within a
/// second whatever the database does, on a connection of its own, from a probe made at
/// most once a second (a flood of `/readyz` costs the database nothing more).
#[utoipa::path(get, path = "/readyz", tag = "operations",
    responses((status = 200, body = Status), (status = 503, body = ErrorBody)))]
pub async fn readyz(State(state): State<AppState>) -> Result<Json<Status>, ApiError> {
    if state.db.is_closed() {
        // Shutting down: the requests' pool is gone whatever the database says.
        return Err(ApiError::Unavailable(anyhow::anyhow!(
            "the database pool is closed"
        )));
    }
    match state.ready.check(&state.probe, state.clock.now()).await {
        Ok(()) => Ok(Json(Status { status: "ready" })),
        Err(why) => Err(ApiError::Unavailable(anyhow::anyhow!(why))),
    }
}

/// How long a readiness probe's answer is reused.
pub const PROBE_REUSED_FOR: chrono::Duration = chrono::Duration::seconds(1);

/// The last readiness probe: one at a time (callers meanwhile wait for its answer) and
/// at most one per [`PROBE_REUSED_FOR`] of the server's clock.
#[derive(Default)]
pub struct ReadyProbe {
    last: tokio::sync::Mutex<Option<Probed>>,
}

/// When a probe was made, and what it found.
type Probed = (chrono::DateTime<chrono::Utc>, Result<(), String>);

impl ReadyProbe {
    pub async fn check(
        &self,
        probe: &crate::store::Db,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<(), String> {
        let mut last = self.last.lock().await;
        if let Some((at, answer)) = last.as_ref()
            && (now - *at) < PROBE_REUSED_FOR
            && now >= *at
        {
            return answer.clone();
        }
        let answer =
            match tokio::time::timeout(Duration::from_millis(950), crate::store::ping(probe)).await
            {
                Ok(Ok(_)) => Ok(()),
                Ok(Err(e)) => Err(format!("database ping failed: {e}")),
                Err(_) => Err("database ping timed out".to_owned()),
            };
        *last = Some((now, answer.clone()));
        answer
    }
}

/// Prometheus metrics in the text exposition format.
#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses((status = 200, description = "Prometheus text format", content_type = "text/plain")))]
pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render() + &crate::metrics::pool_gauges(&state.db),
    )
}
