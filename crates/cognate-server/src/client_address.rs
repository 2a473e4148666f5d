//! The address a request comes from, for abuse limits: the TCP peer, or,
//! when the peer is a proxy the operator trusts, the nearest address in
//! `X-Forwarded-For` that is not itself a trusted proxy. Entries to the
//! left of that one were written by the client and prove nothing, so a
//! client cannot pick its own bucket by sending the header.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use axum::http::HeaderMap;

/// One address range, `10.0.0.0/8`, `fd00::/8`, or a single address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AddressRange {
    network: IpAddr,
    prefix_len: u8,
}

impl std::str::FromStr for AddressRange {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let invalid = || format!("'{text}' is not an address or a range like 10.0.0.0/8");
        let (address, prefix_len) = match text.split_once('/') {
            Some((address, len)) => (address, Some(len)),
            None => (text, None),
        };
        let address: IpAddr = address.parse().map_err(|_| invalid())?;
        let address = canonical(address);
        let max = match address {
            IpAddr::V4(_) => 32,
            IpAddr::V6(_) => 128,
        };
        let prefix_len = match prefix_len {
            Some(len) => len
                .parse::<u8>()
                .ok()
                .filter(|len| *len <= max)
                .ok_or_else(invalid)?,
            None => max,
        };
        Ok(AddressRange {
            network: masked(address, prefix_len),
            prefix_len,
        })
    }
}

impl AddressRange {
    fn contains(&self, address: IpAddr) -> bool {
        matches!(
            (self.network, address),
            (IpAddr::V4(_), IpAddr::V4(_)) | (IpAddr::V6(_), IpAddr::V6(_))
        ) && masked(address, self.prefix_len) == self.network
    }
}

/// The proxies whose `X-Forwarded-For` entries are believed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<AddressRange>);

impl TrustedProxies {
    /// Parses a list of addresses and ranges.
    pub fn parse<S: AsRef<str>>(entries: &[S]) -> Result<TrustedProxies, String> {
        entries
            .iter()
            .map(|entry| entry.as_ref().parse())
            .collect::<Result<Vec<_>, _>>()
            .map(TrustedProxies)
    }

    /// These proxies and `others`.
    pub fn with(&self, others: &TrustedProxies) -> TrustedProxies {
        TrustedProxies(self.0.iter().chain(&others.0).copied().collect())
    }

    /// Whether `address` is a trusted proxy (an IPv4-mapped IPv6 address
    /// counts as its IPv4 address).
    pub fn trusts(&self, address: IpAddr) -> bool {
        let address = canonical(address);
        self.0.iter().any(|range| range.contains(address))
    }

    /// Where a request from `peer` with `headers` comes from.
    pub fn client_address(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let mut client = canonical(peer);
        if !self.trusts(client) {
            return client;
        }
        // Proxies append, and several headers count as one list in order.
        let entries: Vec<&str> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .collect();
        for entry in entries.into_iter().rev() {
            // An entry a trusted proxy did not write well: stop at the last
            // address known for sure.
            let Some(address) = parse_forwarded_address(entry) else {
                return client;
            };
            client = address;
            if !self.trusts(client) {
                return client;
            }
        }
        client
    }
}

impl TrustedProxies {
    /// Whether the client reached us over TLS: only a trusted proxy can say
    /// so, in the `X-Forwarded-Proto` it wrote (the last one); cognate
    /// itself serves plain HTTP.
    pub fn secure_transport(&self, peer: IpAddr, headers: &HeaderMap) -> bool {
        self.trusts(peer)
            && headers
                .get_all("x-forwarded-proto")
                .iter()
                .filter_map(|value| value.to_str().ok())
                .flat_map(|value| value.split(','))
                .next_back()
                .is_some_and(|proto| proto.trim().eq_ignore_ascii_case("https"))
    }
}

/// `192.0.2.1`, `192.0.2.1:4711`, `2001:db8::1`, `[2001:db8::1]:4711`.
fn parse_forwarded_address(entry: &str) -> Option<IpAddr> {
    let entry = entry.trim();
    if let Ok(address) = entry.parse::<IpAddr>() {
        return Some(canonical(address));
    }
    let host = match entry.strip_prefix('[') {
        Some(bracketed) => bracketed.split_once(']')?.0,
        None => entry.rsplit_once(':')?.0,
    };
    host.parse::<IpAddr>().ok().map(canonical)
}

/// An IPv4 client of a dual-stack listener arrives as `::ffff:a.b.c.d`.
fn canonical(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    }
}

fn masked(address: IpAddr, prefix_len: u8) -> IpAddr {
    match address {
        IpAddr::V4(v4) => {
            let mask = u32::MAX
                .checked_shl(32 - u32::from(prefix_len))
                .unwrap_or(0);
            IpAddr::V4(Ipv4Addr::from(u32::from(v4) & mask))
        }
        IpAddr::V6(v6) => {
            let mask = u128::MAX
                .checked_shl(128 - u32::from(prefix_len))
                .unwrap_or(0);
            IpAddr::V6(Ipv6Addr::from(u128::from(v6) & mask))
        }
    }
}

/// What abuse limits count by: an IPv4 address, or an IPv6 client's /64,
/// since one subscriber usually holds a whole /64 and could otherwise
/// take a new bucket per request.
pub fn limit_key(address: IpAddr) -> IpAddr {
    match canonical(address) {
        IpAddr::V6(v6) => masked(IpAddr::V6(v6), 64),
        v4 => v4,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn forwarded(values: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append("x-forwarded-for", HeaderValue::from_str(value).unwrap());
        }
        headers
    }

    #[test]
    fn ranges_parse_and_match() {
        let range: AddressRange = "10.1.0.0/16".parse().unwrap();
        assert!(range.contains(ip("10.1.200.3")));
        assert!(!range.contains(ip("10.2.0.1")));
        assert!(!range.contains(ip("::1")));
        let single: AddressRange = "192.0.2.7".parse().unwrap();
        assert!(single.contains(ip("192.0.2.7")));
        assert!(!single.contains(ip("192.0.2.8")));
        let v6: AddressRange = "fd00::/8".parse().unwrap();
        assert!(v6.contains(ip("fd12:3456::1")));
        assert!(!v6.contains(ip("fe80::1")));
        // Host bits in the range are ignored, as routers do.
        assert_eq!(
            "10.1.2.3/8".parse::<AddressRange>().unwrap(),
            "10.0.0.0/8".parse().unwrap()
        );
        let everything: AddressRange = "0.0.0.0/0".parse().unwrap();
        assert!(everything.contains(ip("203.0.113.9")));
        for bad in [
            "",
            "10.0.0.0/33",
            "::/129",
            "10.0.0.0/",
            "example.com",
            "10.0.0.0/-1",
        ] {
            let err = bad.parse::<AddressRange>().unwrap_err();
            assert!(err.contains("is not an address"), "{bad}: {err}");
        }
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_forwards() {
        let proxies = TrustedProxies::parse(&["10.0.0.0/8"]).unwrap();
        let spoofed = forwarded(&["198.51.100.1"]);
        assert_eq!(
            proxies.client_address(ip("203.0.113.5"), &spoofed),
            ip("203.0.113.5")
        );
        let none = TrustedProxies::default();
        assert_eq!(
            none.client_address(ip("10.0.0.1"), &spoofed),
            ip("10.0.0.1")
        );
    }

    #[test]
    fn behind_trusted_proxies_the_nearest_untrusted_hop_is_the_client() {
        let proxies = TrustedProxies::parse(&["10.0.0.0/8", "fd00::/8"]).unwrap();
        // The client forged the first entry; the proxy appended the real one.
        let headers = forwarded(&["198.51.100.1, 203.0.113.5"]);
        assert_eq!(
            proxies.client_address(ip("10.0.0.2"), &headers),
            ip("203.0.113.5")
        );
        // Two proxies, each appending, in two header lines.
        let headers = forwarded(&["198.51.100.1, 203.0.113.5", "10.9.9.9"]);
        assert_eq!(
            proxies.client_address(ip("10.0.0.2"), &headers),
            ip("203.0.113.5")
        );
        // Ports and brackets as some proxies write them; mapped IPv4 peers.
        let headers = forwarded(&["[2001:db8::7]:4711"]);
        assert_eq!(
            proxies.client_address(ip("::ffff:10.0.0.2"), &headers),
            ip("2001:db8::7")
        );
        let headers = forwarded(&["203.0.113.5:8080"]);
        assert_eq!(
            proxies.client_address(ip("fd00::1"), &headers),
            ip("203.0.113.5")
        );
        // No header: the proxy itself; garbage from a proxy: the last sure hop.
        assert_eq!(
            proxies.client_address(ip("10.0.0.2"), &HeaderMap::new()),
            ip("10.0.0.2")
        );
        let headers = forwarded(&["203.0.113.5, unknown, 10.0.0.9"]);
        assert_eq!(
            proxies.client_address(ip("10.0.0.2"), &headers),
            ip("10.0.0.9")
        );
    }

    #[test]
    fn limits_count_ipv6_clients_by_their_64() {
        assert_eq!(
            limit_key(ip("2001:db8:1:2:aaaa::1")),
            limit_key(ip("2001:db8:1:2:bbbb::9"))
        );
        assert_ne!(
            limit_key(ip("2001:db8:1:2::1")),
            limit_key(ip("2001:db8:1:3::1"))
        );
        assert_eq!(limit_key(ip("::ffff:192.0.2.1")), ip("192.0.2.1"));
        assert_ne!(limit_key(ip("192.0.2.1")), limit_key(ip("192.0.2.2")));
    }
}
