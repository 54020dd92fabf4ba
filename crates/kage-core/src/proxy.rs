//! [`ProxyUrl`]: where one account's traffic leaves through, checked before it is used.
//!
//! A proxy URL may carry a username and password, so it is a secret of its own: it is kept zeroized on drop
//! and shown only redacted (`socks5://***@host:1080`), in Debug, Display and every error (I6).
//!
//! The one routing rule that is not about the URL alone is [`ProxyUrl::check_route`]: a token or password
//! never travels in clear to a non-loopback host, and a proxy on another host would read plain HTTP.

use std::fmt;
use std::hash::{Hash, Hasher};

use zeroize::Zeroizing;

use crate::account::{ServerOrigin, is_loopback};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProxyError {
    /// The text is not a proxy URL. The reason never quotes the text (it may hold a password).
    #[error("not a proxy address: {0}")]
    NotAProxy(&'static str),
    #[error("proxy scheme {0:?} is not supported (use http, https, socks5 or socks5h)")]
    UnsupportedScheme(String),
    /// The server is plain `http://` (the loopback sandbox) and the proxy is on another host: the proxy would
    /// read every bearer token and password in clear.
    #[error("{proxy} is not on this computer, and {origin} is plain http: the proxy would see the account's tokens")]
    ClearTextThroughRemoteProxy { origin: String, proxy: String },
    /// The HTTP stack refused the proxy (reqwest's reason, without the URL).
    #[error("the proxy cannot be used: {0}")]
    Unusable(String),
}

/// A validated proxy URL: scheme `http`, `https`, `socks5` or `socks5h`, a host, an optional port and
/// optional credentials; no path, query or fragment (a proxy is a place, not a resource).
#[derive(Clone)]
pub struct ProxyUrl {
    /// The whole URL, credentials included: handed to the HTTP stack only.
    full: Zeroizing<String>,
    /// `scheme://[***@]host[:port]`, safe to show.
    shown: String,
    host: String,
    /// The port connections go to (the scheme's usual one when the URL names none).
    port: u16,
}

impl ProxyUrl {
    pub fn parse(text: &str) -> Result<Self, ProxyError> {
        let url = reqwest::Url::parse(text.trim()).map_err(|_| ProxyError::NotAProxy("not a URL"))?;
        let scheme = url.scheme().to_owned();
        if !matches!(scheme.as_str(), "http" | "https" | "socks5" | "socks5h") {
            return Err(ProxyError::UnsupportedScheme(scheme));
        }
        let host = url.host_str().filter(|h| !h.is_empty()).ok_or(ProxyError::NotAProxy("no host"))?.to_owned();
        if !matches!(url.path(), "" | "/") {
            return Err(ProxyError::NotAProxy("a proxy URL has no path"));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(ProxyError::NotAProxy("a proxy URL has no query or fragment"));
        }
        let credentials = if url.username().is_empty() && url.password().is_none() { "" } else { "***@" };
        let port = url.port().map(|p| format!(":{p}")).unwrap_or_default();
        let shown = format!("{scheme}://{credentials}{host}{port}");
        let mut full = url.to_string();
        // Url serialises an empty path as "/"; reqwest wants the bare authority for socks, and accepts it for http.
        if full.ends_with('/') {
            full.pop();
        }
        let port = url.port_or_known_default().unwrap_or(if scheme.starts_with("socks") { 1080 } else { 80 });
        Ok(Self { full: Zeroizing::new(full), shown, host, port })
    }

    /// Where the proxy takes connections: its host and port.
    pub fn address(&self) -> (&str, u16) {
        (self.host.trim_start_matches('[').trim_end_matches(']'), self.port)
    }

    /// True when the proxy runs on this computer.
    pub fn is_loopback(&self) -> bool {
        is_loopback(&self.host)
    }

    /// Refuses a route on which a token or password would cross the network in clear: a plain `http://` server
    /// (allowed only on loopback, I6) reached through a proxy on another host. Through an https origin the proxy
    /// sees only TLS (a CONNECT tunnel, or SOCKS bytes), so any proxy is fine there.
    pub fn check_route(&self, origin: &ServerOrigin) -> Result<(), ProxyError> {
        if origin.as_str().starts_with("http://") && !self.is_loopback() {
            return Err(ProxyError::ClearTextThroughRemoteProxy {
                origin: origin.to_string(),
                proxy: self.shown.clone(),
            });
        }
        Ok(())
    }

    pub(crate) fn to_reqwest(&self) -> Result<reqwest::Proxy, ProxyError> {
        reqwest::Proxy::all(self.full.as_str()).map_err(|e| ProxyError::Unusable(e.without_url().to_string()))
    }
}

impl PartialEq for ProxyUrl {
    fn eq(&self, other: &Self) -> bool {
        *self.full == *other.full
    }
}

impl Eq for ProxyUrl {}

impl Hash for ProxyUrl {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.full.hash(state);
    }
}

impl fmt::Debug for ProxyUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ProxyUrl({})", self.shown)
    }
}

impl fmt::Display for ProxyUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.shown)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proxy_urls_of_the_four_schemes_parse_and_others_are_refused() {
        for good in
            ["http://proxy.example:3128", "https://proxy.example", "socks5://127.0.0.1:1080", "socks5h://[::1]:9050/"]
        {
            assert!(ProxyUrl::parse(good).is_ok(), "{good}");
        }
        assert_eq!(ProxyUrl::parse("ftp://proxy.example"), Err(ProxyError::UnsupportedScheme("ftp".into())));
        assert_eq!(ProxyUrl::parse("socks4://proxy.example"), Err(ProxyError::UnsupportedScheme("socks4".into())));
        assert!(ProxyUrl::parse("proxy.example:3128").is_err(), "a scheme is required");
        for bad in ["", "http://proxy.example/path", "http://proxy.example?x=1", "http://p.example#f"] {
            assert!(matches!(ProxyUrl::parse(bad), Err(ProxyError::NotAProxy(_))), "{bad:?}");
        }
    }

    #[test]
    fn i6_proxy_credentials_never_show_in_debug_display_or_errors() {
        let proxy = ProxyUrl::parse("socks5h://player:hunter22@proxy.example:1080").unwrap();
        assert_eq!(proxy.to_string(), "socks5h://***@proxy.example:1080");
        assert_eq!(format!("{proxy:?}"), "ProxyUrl(socks5h://***@proxy.example:1080)");
        let sandbox = ServerOrigin::parse("http://127.0.0.1:8787").unwrap();
        let refused = proxy.check_route(&sandbox).unwrap_err();
        for text in [refused.to_string(), format!("{refused:?}")] {
            assert!(!text.contains("hunter22") && !text.contains("player"), "{text}");
        }
        let bad = ProxyUrl::parse("http://player:hunter22@proxy.example/x").unwrap_err();
        assert!(!format!("{bad} {bad:?}").contains("hunter22"));
        // Equal URLs are one proxy (one shared HTTP client); other credentials are another.
        assert_eq!(proxy, ProxyUrl::parse("socks5h://player:hunter22@proxy.example:1080").unwrap());
        assert_ne!(proxy, ProxyUrl::parse("socks5h://player:other@proxy.example:1080").unwrap());
    }

    #[test]
    fn i6_plain_http_server_through_a_remote_proxy_is_refused() {
        let sandbox = ServerOrigin::parse("http://127.0.0.1:8787").unwrap();
        let remote = ProxyUrl::parse("http://proxy.example:3128").unwrap();
        assert!(matches!(remote.check_route(&sandbox), Err(ProxyError::ClearTextThroughRemoteProxy { .. })));
        assert!(ProxyUrl::parse("socks5://localhost:1080").unwrap().check_route(&sandbox).is_ok());
        let game = ServerOrigin::parse("https://game.example").unwrap();
        assert!(remote.check_route(&game).is_ok(), "through https the proxy sees only TLS");
    }
}
