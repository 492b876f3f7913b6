//! The process's state behind the HTTP layer: the configuration, the database pools,
//! the clock, metrics and the rate limiter, and the sites requests are for. Handlers never
//! hand it to a flow: they hand the flow a [`Context`] built from it.

use std::collections::HashMap;
use std::sync::Arc;

use crate::clock::Clock;
use crate::config::Config;
use crate::flows::{Context, Site};
use crate::http::ratelimit::RateLimiter;
use crate::store::Db;

/// Everything the HTTP layer may need; one reference count to clone (axum clones the state
/// for every extractor and middleware of every request).
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl AppState {
    pub fn new(shared: Shared) -> Self {
        Self(Arc::new(shared))
    }
}

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// What [`AppState`] holds.
pub struct Shared {
    /// The process-wide settings (every site's configuration has the same ones; this is
    /// the first site's).
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
    /// The sites requests are for; SIGHUP replaces them (`crate::reload_sites`).
    pub sites: arc_swap::ArcSwap<Sites>,
}

impl AppState {
    /// The context of a request for `site`.
    pub fn context(&self, site: &Arc<Site>) -> Context {
        Context {
            db: self.db.clone(),
            clock: self.clock.clone(),
            site: site.clone(),
        }
    }

    /// The sites as they are now (a request keeps the ones it started with).
    pub fn sites(&self) -> Arc<Sites> {
        self.sites.load_full()
    }

    /// The site the admin API and the console act on.
    pub fn admin_site(&self) -> Arc<Site> {
        self.sites.load().admin().clone()
    }

    /// The site an unscoped admin request or the console acts on: the one its `Host`
    /// names (the console opened on a site's host is that site's), else the admin site.
    pub fn admin_site_for(&self, host: Option<&str>) -> Arc<Site> {
        let sites = self.sites.load();
        sites.for_host(host).unwrap_or(sites.admin()).clone()
    }
}

/// The sites of this process and how a request finds its own: a public request by its
/// `Host`, a trigger's by its user pool. With the one site of an environment-only
/// configuration ([`Sites::one`]), every request is that site's (as before sites existed:
/// no host or pool is checked); sites from `[[site]]` tables are always routed.
pub struct Sites {
    list: Vec<Arc<Site>>,
    by_host: HashMap<String, usize>,
    by_pool: HashMap<String, usize>,
}

impl Sites {
    /// `sites` with the hosts each answers on and its user pool's id; the configuration
    /// has made sure no two share either (`config::sites`).
    pub fn new(sites: Vec<(Arc<Site>, Vec<String>, String)>) -> Self {
        let mut this = Self {
            list: Vec::with_capacity(sites.len()),
            by_host: HashMap::new(),
            by_pool: HashMap::new(),
        };
        for (i, (site, hosts, pool)) in sites.into_iter().enumerate() {
            this.list.push(site);
            for host in hosts {
                this.by_host.insert(host.to_ascii_lowercase(), i);
            }
            this.by_pool.insert(pool, i);
        }
        this
    }

    /// One site, which every request is for.
    pub fn one(site: Arc<Site>) -> Self {
        Self {
            list: vec![site],
            by_host: HashMap::new(),
            by_pool: HashMap::new(),
        }
    }

    /// Every site, in the configuration's order.
    pub fn all(&self) -> &[Arc<Site>] {
        &self.list
    }

    /// The site of a public request whose `Host` header is `host` (any case, the port
    /// ignored); `None` when no site answers on it.
    pub fn for_host(&self, host: Option<&str>) -> Option<&Arc<Site>> {
        if self.by_host.is_empty() {
            return self.list.first();
        }
        let name = host_name(host?).to_ascii_lowercase();
        self.by_host.get(&name).map(|&i| &self.list[i])
    }

    /// The site of a trigger's call for the user pool `pool`; `None` when no site has it.
    pub fn for_pool(&self, pool: &str) -> Option<&Arc<Site>> {
        if self.by_pool.is_empty() {
            return self.list.first();
        }
        self.by_pool.get(pool).map(|&i| &self.list[i])
    }

    /// The one site of an environment-only configuration, which answers whatever a
    /// request names; `None` when sites are routed.
    pub fn unrouted(&self) -> Option<&Arc<Site>> {
        self.by_pool.is_empty().then(|| self.list.first()).flatten()
    }

    /// The site with the id `id`.
    pub fn by_id(&self, id: &str) -> Option<&Arc<Site>> {
        self.list.iter().find(|s| s.id.as_str() == id)
    }

    /// Whether any site has an admin token (the admin API is on).
    pub fn any_admin_api(&self) -> bool {
        self.list.iter().any(|s| s.config.admin_api_on())
    }

    /// The site the admin API's unscoped paths and the console act on: `default`, else
    /// the first.
    pub fn admin(&self) -> &Arc<Site> {
        self.list
            .iter()
            .find(|s| s.id.as_str() == crate::model::SiteId::DEFAULT)
            .unwrap_or(&self.list[0])
    }
}

/// A `Host` header's host name: without its port; an IPv6 literal without brackets.
fn host_name(host: &str) -> &str {
    if let Some(rest) = host.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match host.rsplit_once(':') {
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => host,
    }
}

#[cfg(test)]
mod tests {
    use super::host_name;

    #[test]
    fn a_host_header_names_its_host_without_the_port() {
        assert_eq!(host_name("example.com"), "example.com");
        assert_eq!(host_name("example.com:8443"), "example.com");
        assert_eq!(host_name("127.0.0.2:80"), "127.0.0.2");
        assert_eq!(host_name("[::1]:8080"), "::1");
        assert_eq!(host_name("[::1]"), "::1");
    }
}
