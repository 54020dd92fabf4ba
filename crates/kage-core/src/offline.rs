//! Why an account is offline, in words a player can act on (issue 18): its own proxy does not take
//! connections, the game server does not answer, or this computer has no network at all. An account beside it
//! that works tells the player it is not the whole game; the cause tells them what to check.
//!
//! The cause is found when an account turns offline, by trying the cheapest thing that tells causes apart: a
//! TCP connection to the account's proxy (if it has one), then whether this computer has a route out at all.
//! Nothing is sent to anyone: a proxy is only connected to and let go, the route check sends no packet.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use serde::Serialize;

use crate::account::{AccountKey, ServerOrigin, is_loopback};
use crate::locks::Recover;
use crate::proxy::ProxyUrl;

/// How long the proxy gets to take a connection before it counts as down.
const PROXY_CONNECT_WITHIN: Duration = Duration::from_secs(2);

/// Why an account's requests do not reach its game server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
#[serde(tag = "cause", rename_all = "snake_case")]
pub enum OfflineCause {
    /// The account's own proxy does not take connections; `proxy` is where it is, as it may be shown (no
    /// credentials: `socks5://127.0.0.1:1080`).
    Proxy { proxy: String },
    /// The game server does not answer, though this computer (and the account's proxy, if any) can reach out.
    GameServer,
    /// This computer has no network: no route out at all.
    NoNetwork,
    /// The account's saved proxy cannot be used (`reason`): Kage sends nothing for it until it is fixed, rather
    /// than sending its requests a way the player did not choose.
    ProxyNotUsable { reason: String },
}

/// Finds why `origin` cannot be reached on the account's route (`proxy`, or direct).
pub async fn diagnose(proxy: Option<&ProxyUrl>, origin: &ServerOrigin) -> OfflineCause {
    if let Some(proxy) = proxy {
        let (host, port) = proxy.address();
        let connect = tokio::net::TcpStream::connect((host, port));
        if !matches!(tokio::time::timeout(PROXY_CONNECT_WITHIN, connect).await, Ok(Ok(_))) {
            return OfflineCause::Proxy { proxy: proxy.to_string() };
        }
        return OfflineCause::GameServer;
    }
    let host = reqwest::Url::parse(origin.as_str()).ok().and_then(|url| url.host_str().map(str::to_owned));
    if host.as_deref().is_some_and(is_loopback) || has_route_out() {
        OfflineCause::GameServer
    } else {
        OfflineCause::NoNetwork
    }
}

/// Whether this computer has a route to the internet: "connecting" a UDP socket only looks the route up (no
/// packet leaves), and fails with "network unreachable" when there is none.
fn has_route_out() -> bool {
    let routed = |bind: &str, to: &str| std::net::UdpSocket::bind(bind).and_then(|socket| socket.connect(to)).is_ok();
    // TEST-NET addresses (RFC 5737, RFC 3849): never answered, but routed like any other.
    routed("0.0.0.0:0", "192.0.2.1:9") || routed("[::]:0", "[2001:db8::1]:9")
}

/// The causes found for the accounts offline now.
#[derive(Default)]
pub struct OfflineCauses(Mutex<HashMap<AccountKey, OfflineCause>>);

impl OfflineCauses {
    pub fn of(&self, account: &AccountKey) -> Option<OfflineCause> {
        self.lock().get(account).cloned()
    }

    pub(crate) fn set(&self, account: &AccountKey, cause: Option<OfflineCause>) {
        match cause {
            Some(cause) => self.lock().insert(account.clone(), cause),
            None => self.lock().remove(account),
        };
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<AccountKey, OfflineCause>> {
        self.0.lock().recover()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_proxy_that_takes_no_connections_is_the_cause_and_one_that_does_is_not() {
        let origin = ServerOrigin::parse("https://game.example").unwrap();
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = closed.local_addr().unwrap().port();
        drop(closed);
        let down = ProxyUrl::parse(&format!("socks5://user:pass@127.0.0.1:{port}")).unwrap();
        assert_eq!(
            diagnose(Some(&down), &origin).await,
            OfflineCause::Proxy { proxy: format!("socks5://***@127.0.0.1:{port}") },
            "named without its credentials"
        );
        let listening = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let up = ProxyUrl::parse(&format!("http://{}", listening.local_addr().unwrap())).unwrap();
        assert_eq!(diagnose(Some(&up), &origin).await, OfflineCause::GameServer);
    }

    #[tokio::test]
    async fn a_loopback_server_that_does_not_answer_is_the_game_server_whatever_the_network() {
        let origin = ServerOrigin::parse("http://127.0.0.1:9").unwrap();
        assert_eq!(diagnose(None, &origin).await, OfflineCause::GameServer);
    }
}
