//! Client addresses as limits see them: an IPv4 peer that reached us over IPv6
//! (`::ffff:a.b.c.d`) is that IPv4 address, and an IPv6 client is its /64 — the
//! smallest block a provider hands out, which one client can walk through at will.

use std::net::IpAddr;

use ipnet::IpNet;

/// The address itself, with an IPv4-mapped IPv6 address turned back into IPv4.
pub fn canonical(ip: IpAddr) -> IpAddr {
    ip.to_canonical()
}

/// The block a per-client limit counts: the IPv4 address, or the IPv6 /64.
pub fn limit_block(ip: IpAddr) -> IpNet {
    match canonical(ip) {
        IpAddr::V4(v4) => IpNet::from(ipnet::Ipv4Net::from(v4)),
        IpAddr::V6(v6) => IpNet::new(IpAddr::V6(v6), 64)
            .unwrap_or_else(|_| unreachable!("64 is a valid IPv6 prefix"))
            .trunc(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn mapped_ipv4_is_ipv4_and_ipv6_counts_per_64() {
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().unwrap();
        assert_eq!(canonical(mapped), "192.0.2.7".parse::<IpAddr>().unwrap());
        assert_eq!(limit_block(mapped).to_string(), "192.0.2.7/32");
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff:1:2:3".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(limit_block(a), limit_block(b));
        assert_ne!(limit_block(a), limit_block(c));
        assert_eq!(limit_block(a).to_string(), "2001:db8:1:2::/64");
    }
}
