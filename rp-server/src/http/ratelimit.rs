//! Per-client-IP rate limit of the browser-facing `/v1/*` endpoints, and resolution of
//! the client IP itself: the peer address, or the right-most untrusted
//! `X-Forwarded-For` hop when the peer is a trusted proxy.

use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::{IntoResponse as _, Response};
use governor::clock::{Clock as _, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};
use ipnet::IpNet;

use super::error::ApiError;
use super::extract::ClientIp;
use crate::AppState;
use crate::model::SiteId;

pub struct RateLimiter {
    /// Keyed by the site the request's host names (none: a host no site answers on) and
    /// [`crate::net::limit_block`] (an IPv6 client is its /64): a client's quota at one
    /// site is not spent at another.
    limiter: DefaultKeyedRateLimiter<(Option<SiteId>, IpNet)>,
}

impl RateLimiter {
    /// `None` when `per_minute` is 0 (limit off).
    pub fn new(per_minute: u32) -> Option<Self> {
        let per_minute = NonZeroU32::new(per_minute)?;
        Some(Self {
            limiter: governor::RateLimiter::keyed(Quota::per_minute(per_minute)),
        })
    }

    /// Drops state for clients that have been idle, bounding memory.
    pub fn forget_idle(&self) {
        self.limiter.retain_recent();
        self.limiter.shrink_to_fit();
    }

    fn check(&self, site: Option<SiteId>, ip: IpAddr) -> Result<(), ApiError> {
        self.limiter
            .check_key(&(site, crate::net::limit_block(ip)))
            .map_err(|not_until| {
                let wait = not_until.wait_time_from(DefaultClock::default().now());
                ApiError::RateLimited {
                    retry_after_secs: wait.as_secs() + 1,
                }
            })
    }
}

/// The client IP as seen through the trusted proxies (IPv4-mapped IPv6 as IPv4).
pub fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> IpAddr {
    crate::net::canonical(forwarded_client(
        crate::net::canonical(peer),
        headers,
        trusted,
    ))
}

fn forwarded_client(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|n| n.contains(ip));
    if !is_trusted(&peer) {
        return peer;
    }
    // Walk X-Forwarded-For from the right (the hop nearest us); the first address that
    // is not one of our proxies is the client. Anything left of it is client-supplied.
    let hops: Vec<IpAddr> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|s| s.trim().parse().ok())
        .map(crate::net::canonical)
        .collect();
    hops.into_iter()
        .rev()
        .find(|ip| !is_trusted(ip))
        .unwrap_or(peer)
}

/// Resolves the client IP for every request (the audit log wants it) and, on routes it
/// wraps, enforces the limit.
pub async fn resolve_client_ip(
    State(state): State<AppState>,
    mut req: Request,
    next: Next,
) -> Response {
    if let Some(ConnectInfo(peer)) = req.extensions().get::<ConnectInfo<SocketAddr>>().copied() {
        let ip = client_ip(peer.ip(), req.headers(), &state.config.trusted_proxies);
        req.extensions_mut().insert(ClientIp(ip));
    }
    next.run(req).await
}

/// Keeps a request id the caller sent only when the peer is a trusted proxy (and the id is
/// short, printable ASCII): anyone else could put a chosen string, or someone else's
/// request id, into our logs. Without one, a fresh id is made.
pub async fn trust_request_id(
    State(state): State<AppState>,
    mut req: Request,
    next: Next,
) -> Response {
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(peer)| peer.ip());
    let trusted =
        peer.is_some_and(|ip| state.config.trusted_proxies.iter().any(|n| n.contains(&ip)));
    let well_formed = req
        .headers()
        .get(super::REQUEST_ID)
        .is_some_and(|v| v.len() <= 128 && v.as_bytes().iter().all(|b| b.is_ascii_graphic()));
    if !(trusted && well_formed) {
        req.headers_mut().remove(super::REQUEST_ID);
    }
    next.run(req).await
}

pub async fn limit(State(state): State<AppState>, req: Request, next: Next) -> Response {
    limited(&state, state.rate_limiter.as_deref(), req, next).await
}

/// [`limit`] for `/readyz` and `/openapi.json`, with a quota of their own.
pub async fn limit_ops(State(state): State<AppState>, req: Request, next: Next) -> Response {
    limited(&state, state.ops_rate_limiter.as_deref(), req, next).await
}

async fn limited(
    state: &AppState,
    limiter: Option<&RateLimiter>,
    req: Request,
    next: Next,
) -> Response {
    if let (Some(limiter), Some(ClientIp(ip))) =
        (limiter, req.extensions().get::<ClientIp>().copied())
    {
        let host = super::extract::host_of(req.headers(), req.uri());
        let site = state.sites().for_host(host).map(|s| s.id.clone());
        if let Err(e) = limiter.check(site, ip) {
            return e.into_response();
        }
    }
    next.run(req).await
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn forwarded_for_is_only_honoured_from_trusted_proxies() {
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        let mut h = HeaderMap::new();
        h.insert(
            "x-forwarded-for",
            HeaderValue::from_static("1.2.3.4, 203.0.113.9, 10.0.0.7"),
        );
        let peer_untrusted: IpAddr = "198.51.100.1".parse().unwrap();
        let peer_trusted: IpAddr = "10.1.1.1".parse().unwrap();
        assert_eq!(client_ip(peer_untrusted, &h, &trusted), peer_untrusted);
        // The spoofable left-most entry is ignored; the nearest untrusted hop wins.
        assert_eq!(
            client_ip(peer_trusted, &h, &trusted),
            "203.0.113.9".parse::<IpAddr>().unwrap()
        );
        assert_eq!(
            client_ip(peer_trusted, &HeaderMap::new(), &trusted),
            peer_trusted
        );
    }

    #[test]
    fn limiter_rejects_past_the_quota_per_ip() {
        let l = RateLimiter::new(3).unwrap();
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        for _ in 0..3 {
            assert!(l.check(None, a).is_ok());
        }
        assert!(
            matches!(l.check(None, a), Err(ApiError::RateLimited { retry_after_secs }) if retry_after_secs >= 1)
        );
        assert!(l.check(None, b).is_ok());
        // The same client at another site has its own quota.
        let other = Some(SiteId::parse("other").unwrap());
        assert!(l.check(other.clone(), a).is_ok());
        assert!(RateLimiter::new(0).is_none());
    }

    #[test]
    fn ipv6_clients_are_limited_per_64_and_mapped_peers_are_ipv4() {
        let l = RateLimiter::new(2).unwrap();
        let one: IpAddr = "2001:db8:7:7::1".parse().unwrap();
        let same_64: IpAddr = "2001:db8:7:7:dead:beef:0:1".parse().unwrap();
        assert!(l.check(None, one).is_ok());
        assert!(l.check(None, same_64).is_ok());
        assert!(l.check(None, "2001:db8:7:7::9".parse().unwrap()).is_err());
        assert!(l.check(None, "2001:db8:7:8::1".parse().unwrap()).is_ok());

        // A peer reaching a dual-stack socket as ::ffff:a.b.c.d is that IPv4 client:
        // trusted as a proxy by its IPv4 range, and counted with its IPv4 self.
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        let mut h = HeaderMap::new();
        h.insert(
            "x-forwarded-for",
            HeaderValue::from_static("::ffff:203.0.113.5"),
        );
        let mapped_proxy: IpAddr = "::ffff:10.0.0.2".parse().unwrap();
        assert_eq!(
            client_ip(mapped_proxy, &h, &trusted),
            "203.0.113.5".parse::<IpAddr>().unwrap()
        );
        let v4 = RateLimiter::new(1).unwrap();
        assert!(
            v4.check(
                None,
                client_ip("::ffff:192.0.2.9".parse().unwrap(), &HeaderMap::new(), &[])
            )
            .is_ok()
        );
        assert!(v4.check(None, "192.0.2.9".parse().unwrap()).is_err());
    }
}
