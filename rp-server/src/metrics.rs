//! Prometheus metrics. The recorder is process-global (the `metrics` facade is), so it
//! is installed once and every app instance in the process renders the same registry.
//! The domain counters carry the site (a configured id: the label's values are bounded).

use std::sync::OnceLock;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::model::SiteId;

pub const CEREMONIES_STARTED: &str = "rp_ceremonies_started_total";
pub const CEREMONIES_FINISHED: &str = "rp_ceremonies_finished_total";
pub const CEREMONIES_FAILED: &str = "rp_ceremonies_failed_total";
pub const NONCE_REDEMPTIONS: &str = "rp_nonce_redemptions_total";
pub const HTTP_DURATION: &str = "rp_http_request_duration_seconds";
pub const REQUEST_TIMEOUTS: &str = "rp_http_request_timeouts_total";
pub const OIDC_EVENTS: &str = "rp_oidc_events_total";
pub const DB_ACQUIRE_TIMEOUTS: &str = "rp_db_acquire_timeouts_total";

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

pub fn handle() -> PrometheusHandle {
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new()
                .set_buckets_for_metric(
                    Matcher::Full(HTTP_DURATION.to_owned()),
                    &[
                        0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                    ],
                )
                .unwrap_or_else(|_| PrometheusBuilder::new());
            let recorder = builder.build_recorder();
            let handle = recorder.handle();
            // Fails only if another recorder was installed first; ours then stays unused.
            if metrics::set_global_recorder(recorder).is_err() {
                tracing::warn!("a metrics recorder was already installed");
            }
            describe();
            handle
        })
        .clone()
}

fn describe() {
    metrics::describe_counter!(
        CEREMONIES_STARTED,
        "WebAuthn ceremonies started, by site and kind"
    );
    metrics::describe_counter!(
        OIDC_EVENTS,
        "OpenID provider events (authorize, code_issued, token_issued, and refusals by reason), by site and configured client"
    );
    metrics::describe_counter!(
        CEREMONIES_FINISHED,
        "WebAuthn ceremonies finished successfully, by site and kind"
    );
    metrics::describe_counter!(
        CEREMONIES_FAILED,
        "WebAuthn ceremonies that failed, by site, kind and reason"
    );
    metrics::describe_counter!(NONCE_REDEMPTIONS, "Nonce redemptions, by site and outcome");
    metrics::describe_counter!(
        REQUEST_TIMEOUTS,
        "Requests cut off at RP_REQUEST_TIMEOUT_MS (slow bodies, mostly)"
    );
    metrics::describe_counter!(
        DB_ACQUIRE_TIMEOUTS,
        "Requests that waited RP_DB_ACQUIRE_TIMEOUT_MS for a pooled database connection in vain and answered 503"
    );
    // Rendered from the start, at zero: an alarm on its rate sees a series before the
    // first wait, not a gap.
    metrics::counter!(DB_ACQUIRE_TIMEOUTS).increment(0);
    metrics::describe_histogram!(
        HTTP_DURATION,
        metrics::Unit::Seconds,
        "HTTP request latency, by method, route and status"
    );
}

pub fn ceremony_started(site: &SiteId, kind: &'static str) {
    metrics::counter!(CEREMONIES_STARTED, "site" => site.to_string(), "kind" => kind).increment(1);
}

pub fn ceremony_finished(site: &SiteId, kind: &'static str) {
    metrics::counter!(CEREMONIES_FINISHED, "site" => site.to_string(), "kind" => kind).increment(1);
}

pub fn ceremony_failed(site: &SiteId, kind: &'static str, reason: &'static str) {
    metrics::counter!(CEREMONIES_FAILED, "site" => site.to_string(), "kind" => kind, "reason" => reason)
        .increment(1);
}

/// An OpenID provider event; `client` is a configured client id or `unknown`.
pub fn oidc(site: &SiteId, client: &str, event: &str) {
    metrics::counter!(OIDC_EVENTS, "site" => site.to_string(), "client" => client.to_owned(), "event" => event.to_owned())
        .increment(1);
}

pub fn nonce_redemption(site: &SiteId, outcome: &'static str) {
    metrics::counter!(NONCE_REDEMPTIONS, "site" => site.to_string(), "outcome" => outcome)
        .increment(1);
}

/// The requests' database pool as it stands, in the text exposition format: how many of
/// its connections are in use and idle, and its limit (`RP_DB_MAX_CONNECTIONS`). Rendered
/// at each scrape from the application's own pool, not kept in the process-wide registry:
/// a pool's size is a reading, not a count.
pub fn pool_gauges(db: &crate::store::Db) -> String {
    let open = db.size();
    // Two readings, not one: clamped so that in use never goes below none.
    let idle = u32::try_from(db.num_idle()).unwrap_or(u32::MAX).min(open);
    let max = db.options().get_max_connections();
    format!(
        "# HELP rp_db_connections Open connections of the requests' database pool, by state\n\
         # TYPE rp_db_connections gauge\n\
         rp_db_connections{{state=\"in_use\"}} {}\n\
         rp_db_connections{{state=\"idle\"}} {idle}\n\
         # HELP rp_db_connections_max The requests' database pool's limit (RP_DB_MAX_CONNECTIONS)\n\
         # TYPE rp_db_connections_max gauge\n\
         rp_db_connections_max {max}\n",
        open - idle
    )
}
