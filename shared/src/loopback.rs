//! Whether a URL points at this machine: plain http is acceptable only there (a local
//! stand-in or rp-server in tests and development), never across a network.

/// `localhost`, 127.0.0.0/8 or ::1. (For schemes the URL standard does not know, such
/// as `smtp:`, the host stays text; an address written there counts too.)
pub fn is_loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => {
            d.eq_ignore_ascii_case("localhost")
                || d.trim_start_matches('[')
                    .trim_end_matches(']')
                    .parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback())
        }
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_this_machine_is_loopback() {
        let u = |s: &str| {
            url::Url::parse(s)
                .unwrap_or_else(|_| url::Url::parse("http://x").unwrap_or_else(|_| unreachable!()))
        };
        assert!(is_loopback(&u("http://localhost:8080/")));
        assert!(is_loopback(&u("http://127.0.0.1:9229/pool")));
        assert!(is_loopback(&u("http://127.8.9.10/")));
        assert!(is_loopback(&u("http://[::1]:80/")));
        assert!(!is_loopback(&u("http://10.0.0.5/")));
        assert!(!is_loopback(&u("http://rp.internal/")));
        assert!(!is_loopback(&u("http://localhost.example.com/")));
        assert!(is_loopback(&u("smtp://127.0.0.1:2525")));
        assert!(is_loopback(&u("smtp://[::1]:25")));
        assert!(!is_loopback(&u("smtp://10.0.0.5:25")));
        assert!(!is_loopback(&u("smtp://mail.example.com:25")));
    }
}
