//! Who is on the other end of the connection: the [`ClientAddress`] extractor, the key of every per-address
//! limit (sign-in and sign-up throttles).
//!
//! By default it is the TCP peer: the only address the server can verify. Behind a reverse proxy every
//! request comes from the proxy, so `--trust-forwarded-for` makes the server read `X-Forwarded-For`
//! instead, and only then: a client could otherwise write any address there and escape its limits. With the
//! option on, the address used is the *last* one in the header, the one the proxy directly in front of the
//! server appended; earlier entries were written by whoever sent the request and prove nothing.
//!
//! IPv6 addresses are reduced to their /64 network, since one host commonly holds a whole /64 and could
//! otherwise take a fresh address for every attempt; IPv4-mapped IPv6 addresses count as their IPv4 address.

use std::net::{IpAddr, Ipv6Addr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::HeaderMap;
use axum::http::request::Parts;

use crate::AppState;
use crate::error::ApiError;

pub const FORWARDED_FOR_HEADER: &str = "x-forwarded-for";

/// The address a request is accounted to (already reduced: see the module doc).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClientAddress(pub IpAddr);

impl FromRequestParts<AppState> for ClientAddress {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let peer = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|ConnectInfo(addr)| addr.ip());
        let forwarded = if state.trust_forwarded_for { last_forwarded_for(&parts.headers) } else { None };
        // Without connection info (a router served some other way) every request shares one address: limits
        // then hold for all together, never for nobody.
        let ip = forwarded.or(peer).unwrap_or(IpAddr::from([0, 0, 0, 0]));
        Ok(Self(reduce(ip)))
    }
}

/// The right-most address of the last `X-Forwarded-For` header, if it parses.
fn last_forwarded_for(headers: &HeaderMap) -> Option<IpAddr> {
    let value = headers.get_all(FORWARDED_FOR_HEADER).iter().next_back()?.to_str().ok()?;
    let last = value.rsplit(',').next()?.trim();
    // Some proxies write `[v6]:port` or `v4:port`.
    last.parse::<IpAddr>()
        .ok()
        .or_else(|| last.parse::<SocketAddr>().ok().map(|addr| addr.ip()))
        .or_else(|| last.trim_start_matches('[').trim_end_matches(']').parse().ok())
}

fn reduce(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let [a, b, c, d, ..] = v6.segments();
                IpAddr::V6(Ipv6Addr::new(a, b, c, d, 0, 0, 0, 0))
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(values: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append(FORWARDED_FOR_HEADER, value.parse().unwrap());
        }
        headers
    }

    #[test]
    fn the_proxys_own_entry_is_the_last_one() {
        let spoofed_then_real = headers(&["1.2.3.4, 10.0.0.7"]);
        assert_eq!(last_forwarded_for(&spoofed_then_real), Some(IpAddr::from([10, 0, 0, 7])));
        let two_headers = headers(&["1.2.3.4", "10.0.0.8"]);
        assert_eq!(last_forwarded_for(&two_headers), Some(IpAddr::from([10, 0, 0, 8])));
        assert_eq!(last_forwarded_for(&headers(&["[2001:db8::1]:443"])), Some("2001:db8::1".parse().unwrap()));
        assert_eq!(last_forwarded_for(&headers(&["10.0.0.9:5000"])), Some(IpAddr::from([10, 0, 0, 9])));
        assert_eq!(last_forwarded_for(&headers(&["unknown"])), None);
        assert_eq!(last_forwarded_for(&HeaderMap::new()), None);
    }

    #[test]
    fn ipv6_hosts_count_by_their_64_network() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::2".parse().unwrap();
        let other: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(reduce(a), reduce(b));
        assert_ne!(reduce(a), reduce(other));
        assert_eq!(reduce("::ffff:192.0.2.1".parse().unwrap()), IpAddr::from([192, 0, 2, 1]));
    }
}
