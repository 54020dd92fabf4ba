//! [`Transport`]: which HTTP client carries each account's requests.
//!
//! An account may have its own proxy ([`ProxyUrl`]); every request made for it (sign-in, refresh, JWKS,
//! API calls, its event stream, revoke) takes the client returned by [`Transport::for_account`] at the moment
//! it leaves, so a changed proxy applies from the next request on. Accounts without a proxy share the direct
//! client. One client is kept per distinct proxy (its connection pool is worth sharing between accounts that
//! use the same one), and all clients are built alike: no redirects, no cookies, the same timeouts.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use secrecy::{ExposeSecret, SecretString};

use crate::account::{AccountKey, ServerOrigin};
use crate::locks::Recover;
use crate::proxy::{ProxyError, ProxyUrl};

/// The fail-closed marker (I1): Kage never relies on a cookie, so a request without its bearer token must be
/// refused, never answered from an ambient credential.
pub const AUTH_REQUIRED_HEADER: &str = "x-kage-auth-required";
/// Names the calling window: no credential, but it lets server logs (and tests) attribute requests.
pub const WINDOW_HEADER: &str = "x-kage-window";
/// One key per player action, the same on every try of that action, so the server carries it out once (I12).
pub const IDEMPOTENCY_KEY_HEADER: &str = "idempotency-key";

/// An answer from a gateway or load balancer standing in for a server that is down or overloaded: the account
/// is offline, not refused.
pub(crate) fn is_gateway_failure(status: StatusCode) -> bool {
    matches!(status.as_u16(), 502..=504)
}

pub struct Transport {
    request_timeout: Duration,
    direct: reqwest::Client,
    /// The route of an account whose saved proxy cannot be used: every request fails at once, on this computer
    /// (its "proxy" is port 0 on loopback, where nothing can listen), so nothing goes direct instead.
    refusing: reqwest::Client,
    routes: Mutex<Routes>,
}

#[derive(Default)]
struct Routes {
    proxy_of: HashMap<AccountKey, ProxyUrl>,
    clients: HashMap<ProxyUrl, reqwest::Client>,
    /// Accounts whose saved proxy cannot be used, and why (a sentence for their windows).
    blocked: HashMap<AccountKey, String>,
}

impl Transport {
    pub fn new(request_timeout: Duration) -> Self {
        let direct = build(request_timeout, None).expect("TLS backend initialises");
        let nowhere = ProxyUrl::parse("http://127.0.0.1:0").expect("a proxy URL");
        let refusing = build(request_timeout, Some(&nowhere)).expect("TLS backend initialises");
        Self { request_timeout, direct, refusing, routes: Mutex::default() }
    }

    /// The client for the account's next request: through its proxy, or direct.
    pub fn for_account(&self, account: &AccountKey) -> reqwest::Client {
        let routes = self.routes.lock().recover();
        if routes.blocked.contains_key(account) {
            return self.refusing.clone();
        }
        match routes.proxy_of.get(account) {
            Some(proxy) => routes.clients[proxy].clone(),
            None => self.direct.clone(),
        }
    }

    /// Sends nothing for `account` until its route is set again ([`Transport::set`]): its saved proxy cannot be
    /// used (`why`), and going direct instead would send its requests a way the player did not choose.
    pub fn block(&self, account: &AccountKey, why: String) {
        self.routes.lock().recover().blocked.insert(account.clone(), why);
    }

    /// Why `account` sends nothing, if it is blocked.
    pub fn blocked(&self, account: &AccountKey) -> Option<String> {
        self.routes.lock().recover().blocked.get(account).cloned()
    }

    /// A request for `account` with its token and the fail-closed marker (I1), through the account's own route
    /// (its proxy, if it has one). Built per request, so a proxy changed meanwhile applies from the next
    /// request on.
    pub(crate) fn authorized(
        &self,
        account: &AccountKey,
        method: Method,
        path: &str,
        token: &SecretString,
    ) -> reqwest::RequestBuilder {
        self.for_account(account)
            .request(method, account.origin().url(path))
            .bearer_auth(token.expose_secret())
            .header(AUTH_REQUIRED_HEADER, "1")
    }

    pub fn proxy_of(&self, account: &AccountKey) -> Option<ProxyUrl> {
        self.routes.lock().recover().proxy_of.get(account).cloned()
    }

    /// The client for talking to `origin` through `proxy` before an account exists (a sign-in): checked by the
    /// same rule as an account's route.
    pub fn through(&self, origin: &ServerOrigin, proxy: Option<&ProxyUrl>) -> Result<reqwest::Client, ProxyError> {
        let Some(proxy) = proxy else { return Ok(self.direct.clone()) };
        proxy.check_route(origin)?;
        self.client_for(proxy)
    }

    /// Routes the account's requests through `proxy` (`None`: direct). Returns whether the route changed.
    pub fn set(&self, account: &AccountKey, proxy: Option<ProxyUrl>) -> Result<bool, ProxyError> {
        if let Some(proxy) = &proxy {
            proxy.check_route(account.origin())?;
            self.client_for(proxy)?;
        }
        let mut routes = self.routes.lock().recover();
        let rerouted = match proxy {
            Some(proxy) => routes.proxy_of.insert(account.clone(), proxy.clone()).as_ref() != Some(&proxy),
            None => routes.proxy_of.remove(account).is_some(),
        };
        // A route set by the player replaces a blocked one.
        let unblocked = routes.blocked.remove(account).is_some();
        let changed = rerouted || unblocked;
        // A client no account routes through any more is let go (requests already holding it finish).
        let Routes { proxy_of, clients, .. } = &mut *routes;
        clients.retain(|proxy, _| proxy_of.values().any(|used| used == proxy));
        Ok(changed)
    }

    fn client_for(&self, proxy: &ProxyUrl) -> Result<reqwest::Client, ProxyError> {
        if let Some(client) = self.routes.lock().recover().clients.get(proxy) {
            return Ok(client.clone());
        }
        let client = build(self.request_timeout, Some(proxy))?;
        let mut routes = self.routes.lock().recover();
        Ok(routes.clients.entry(proxy.clone()).or_insert(client).clone())
    }
}

fn build(request_timeout: Duration, proxy: Option<&ProxyUrl>) -> Result<reqwest::Client, ProxyError> {
    // No cookie store (reqwest's `cookies` feature is not even compiled in): no ambient credential exists.
    // No redirects: a redirect would carry a token or a password body to wherever it points (I6).
    let mut builder = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        // Let go of idle connections before a server does (the reference server closes them after 10 s), so
        // a request never races a server-side close and reads as "offline".
        .pool_idle_timeout(Duration::from_secs(5))
        .connect_timeout(Duration::from_secs(5))
        .timeout(request_timeout);
    if let Some(proxy) = proxy {
        // A proxied client uses only its proxy: environment proxies (HTTP_PROXY...) would compete with it.
        builder = builder.no_proxy().proxy(proxy.to_reqwest()?);
    }
    builder.build().map_err(|e| ProxyError::Unusable(e.without_url().to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account(user: &str) -> AccountKey {
        AccountKey::new(ServerOrigin::parse("https://game.example").unwrap(), user)
    }

    #[test]
    fn one_client_per_distinct_proxy_and_unused_ones_are_let_go() {
        let transport = Transport::new(Duration::from_secs(5));
        let proxy = ProxyUrl::parse("socks5://127.0.0.1:1080").unwrap();
        assert!(transport.set(&account("a"), Some(proxy.clone())).unwrap());
        assert!(!transport.set(&account("a"), Some(proxy.clone())).unwrap(), "same proxy: no change");
        transport.set(&account("b"), Some(proxy.clone())).unwrap();
        assert_eq!(transport.routes.lock().unwrap().clients.len(), 1);
        transport.set(&account("a"), None).unwrap();
        assert_eq!(transport.proxy_of(&account("b")), Some(proxy));
        transport.set(&account("b"), None).unwrap();
        assert!(transport.routes.lock().unwrap().clients.is_empty());
    }
}
