//! Who the client is, for per-client limits: the peer's IP address (never its port, or
//! every new connection would be a new client), or, when the peer is a reverse proxy the
//! operator trusts, the address that proxy reports in `X-Forwarded-For`.

use std::net::IpAddr;

/// The proxies whose `X-Forwarded-For` is believed: addresses or `address/prefix` ranges.
#[derive(Clone, Debug, Default)]
pub struct TrustedProxies(Vec<(IpAddr, u8)>);

impl TrustedProxies {
    /// Parses `127.0.0.1, 10.0.0.0/8, ::1`; the bad entries are returned as errors.
    pub fn parse(list: &str) -> Result<TrustedProxies, String> {
        let mut out = Vec::new();
        for item in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let (addr, prefix) = match item.split_once('/') {
                Some((a, p)) => (a, Some(p)),
                None => (item, None),
            };
            let ip: IpAddr = addr
                .parse()
                .map_err(|_| format!("trusted_proxies: {item} is not an address"))?;
            let max = if ip.is_ipv4() { 32 } else { 128 };
            let bits = match prefix {
                Some(p) => p
                    .parse::<u8>()
                    .ok()
                    .filter(|b| *b <= max)
                    .ok_or_else(|| format!("trusted_proxies: {item} has a bad prefix"))?,
                None => max,
            };
            out.push((ip, bits));
        }
        Ok(TrustedProxies(out))
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|(net, bits)| within(ip, *net, *bits))
    }
}

fn within(ip: IpAddr, net: IpAddr, bits: u8) -> bool {
    match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(b)) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(bits)).unwrap_or(0);
            u32::from(a) & mask == u32::from(b) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(b)) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(bits)).unwrap_or(0);
            u128::from(a) & mask == u128::from(b) & mask
        }
        _ => false,
    }
}

/// The client's address: the peer's, or the nearest untrusted hop a trusted proxy names.
pub fn client_ip(
    peer: Option<IpAddr>,
    forwarded_for: Option<&str>,
    trusted: &TrustedProxies,
) -> Option<IpAddr> {
    let peer = peer?;
    if !trusted.contains(peer) {
        return Some(peer);
    }
    let hops: Vec<IpAddr> = forwarded_for
        .unwrap_or("")
        .split(',')
        .filter_map(|h| h.trim().parse().ok())
        .collect();
    Some(
        hops.into_iter()
            .rev()
            .find(|h| !trusted.contains(*h))
            .unwrap_or(peer),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn the_port_is_not_part_of_the_client_and_untrusted_peers_cannot_forward() {
        let none = TrustedProxies::default();
        assert_eq!(
            client_ip(Some(ip("203.0.113.5")), Some("198.51.100.1"), &none),
            Some(ip("203.0.113.5")),
            "an untrusted peer's X-Forwarded-For is ignored"
        );
    }

    #[test]
    fn a_trusted_proxy_names_the_nearest_untrusted_hop() {
        let t = TrustedProxies::parse("127.0.0.1, 10.0.0.0/8").unwrap();
        assert_eq!(
            client_ip(
                Some(ip("127.0.0.1")),
                Some("198.51.100.1, 203.0.113.9, 10.1.2.3"),
                &t
            ),
            Some(ip("203.0.113.9")),
            "a client cannot pick its address by prepending hops"
        );
        assert_eq!(
            client_ip(Some(ip("10.9.9.9")), None, &t),
            Some(ip("10.9.9.9"))
        );
        assert!(TrustedProxies::parse("10.0.0.0/33").is_err());
        assert!(TrustedProxies::parse("proxy.local").is_err());
        assert!(TrustedProxies::parse("::1").unwrap().contains(ip("::1")));
    }
}
