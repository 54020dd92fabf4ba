//! DNS-rebinding defence for the sandbox: a demo server on a loopback address answers only requests whose
//! `Host` names that address (or `localhost`) and its port; anything else is 421 `misdirected_request`.
//!
//! The desktop app runs a demo server on `127.0.0.1` with public demo passwords. A web page the player visits
//! cannot read it directly (another origin), but it can make its own host name resolve to `127.0.0.1` after
//! the page has loaded (DNS rebinding); the browser then calls the sandbox as that page's *same* origin and
//! reads the answers. Such requests still carry the page's host name in `Host`, which is how they are told
//! apart. A demo server listening on a non-loopback address is reached by real names and is not guarded.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;

/// The host names a guarded server answers to.
#[derive(Debug, Clone)]
pub struct AllowedHosts {
    addr: SocketAddr,
}

impl AllowedHosts {
    /// `Some` for a loopback listening address (the sandbox), `None` where the guard does not apply.
    pub fn for_sandbox(addr: SocketAddr) -> Option<Self> {
        addr.ip().is_loopback().then_some(Self { addr })
    }

    fn allows(&self, host: &str) -> bool {
        let (name, port) = split_host(host);
        let port_ok = match port {
            Some(port) => port.parse::<u16>().ok() == Some(self.addr.port()),
            None => self.addr.port() == 80,
        };
        let name_ok = name.eq_ignore_ascii_case("localhost")
            || name.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>().ok() == Some(self.addr.ip());
        port_ok && name_ok
    }

    fn expected(&self) -> String {
        format!("{} or localhost:{}", self.addr, self.addr.port())
    }
}

/// `name[:port]`, with `[v6]:port` kept whole in the name part.
fn split_host(host: &str) -> (&str, Option<&str>) {
    match host.rfind(':') {
        Some(colon) if !host[colon..].contains(']') && (host.starts_with('[') || !host[..colon].contains(':')) => {
            (&host[..colon], Some(&host[colon + 1..]))
        }
        _ => (host, None),
    }
}

/// Middleware: passes requests whose `Host` (or, in HTTP/2, `:authority`) is allowed.
pub async fn check(State(allowed): State<AllowedHosts>, request: Request, next: Next) -> Response {
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned)
        .or_else(|| request.uri().authority().map(|authority| authority.as_str().to_owned()));
    match host {
        Some(host) if allowed.allows(&host) => next.run(request).await,
        _ => ApiError::MisdirectedRequest { expected: allowed.expected() }.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_sandboxs_own_address_and_localhost_with_its_port_pass() {
        let v4 = AllowedHosts::for_sandbox(SocketAddr::from(([127, 0, 0, 1], 8787))).unwrap();
        for host in ["127.0.0.1:8787", "localhost:8787", "LocalHost:8787"] {
            assert!(v4.allows(host), "{host}");
        }
        for host in ["evil.example:8787", "127.0.0.1:8788", "127.0.0.2:8787", "127.0.0.1", "", "[::1]:8787"] {
            assert!(!v4.allows(host), "{host}");
        }
        let v6 = AllowedHosts::for_sandbox("[::1]:9000".parse().unwrap()).unwrap();
        assert!(v6.allows("[::1]:9000"));
        assert!(v6.allows("localhost:9000"));
        assert!(!v6.allows("[::2]:9000") && !v6.allows("::1"));
    }

    #[test]
    fn only_loopback_listeners_are_guarded() {
        assert!(AllowedHosts::for_sandbox(SocketAddr::from(([0, 0, 0, 0], 8787))).is_none());
        assert!(AllowedHosts::for_sandbox(SocketAddr::from(([192, 168, 1, 5], 8787))).is_none());
    }
}
