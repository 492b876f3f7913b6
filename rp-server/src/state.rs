//! The process's state behind the HTTP layer: the configuration, the database pools,
//! the clock, metrics and the rate limiter, and the site requests are for. Handlers never
//! hand it to a flow: they hand the flow a [`Context`] built from it.

use std::sync::Arc;

use crate::clock::Clock;
use crate::config::Config;
use crate::flows::{Context, Site};
use crate::http::ratelimit::RateLimiter;
use crate::store::Db;

/// Everything the HTTP layer may need; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub db: Db,
    /// One connection for `/readyz`, apart from the requests' pool.
    pub probe: Db,
    /// `/readyz`'s last answer, reused for a second.
    pub ready: Arc<crate::http::ops::ReadyProbe>,
    pub clock: Clock,
    pub metrics: metrics_exporter_prometheus::PrometheusHandle,
    pub rate_limiter: Option<Arc<RateLimiter>>,
    /// The same limit for `/readyz` and `/openapi.json`, counted apart: a client's
    /// browser-API traffic never uses up its readiness checks, nor the reverse.
    pub ops_rate_limiter: Option<Arc<RateLimiter>>,
    /// The site every request is for (one per deployment, for now).
    pub site: Arc<Site>,
}

impl AppState {
    /// The context a request's flows act with.
    pub fn context(&self) -> Context {
        Context {
            db: self.db.clone(),
            clock: self.clock.clone(),
            site: self.site.clone(),
        }
    }
}
