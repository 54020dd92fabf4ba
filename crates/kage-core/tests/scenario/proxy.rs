//! Per-account proxies: each account's requests (sign-in, refresh, API queries and mutations, its event
//! stream) leave through that account's proxy and no other; accounts without one go direct (I1 for the
//! network path: no account's token travels another account's route). And I6 for proxies: a plain-http
//! server is never reached through a proxy on another host.

use std::sync::Arc;
use std::time::Duration;

use kage_core::actions::Stat;
use kage_core::sessions::SignInError;
use kage_core::{AccountKey, ProxyError, ProxyUrl, SecretString, WindowLabel};
use kage_server::observe::Presented;

use crate::proxies::{Carried, CountingProxy};
use crate::support::{Harness, RecordingSink, eventually, window};

async fn sign_in_through(h: &Harness, label: &str, username: &str, proxy: &CountingProxy) -> AccountKey {
    let password = SecretString::from(format!("{username}-password"));
    let proxy = Some(ProxyUrl::parse(&proxy.url).unwrap());
    h.core.sign_in_through(&window(label), &h.origin, username, &password, true, proxy).await.expect("sign-in").account
}

fn count(carried: &[Carried], method: &str, path: &str) -> usize {
    carried.iter().filter(|c| c.method == method && c.path == path).count()
}

/// Every request the proxy carried that names an account names `account`; and it carried at least one of
/// each kind: a window's profile query, a mutation, the event stream.
fn assert_carried_only(proxy: &CountingProxy, account: &AccountKey, label: &str) {
    let carried = proxy.carried();
    for c in &carried {
        if let Some(subject) = &c.subject {
            assert_eq!(subject, account.user_id(), "{} {} carried another account's token", c.method, c.path);
        }
        if let Some(window) = &c.window {
            assert_eq!(window, label, "{} {} carried for another window", c.method, c.path);
        }
    }
    let of = |method: &str, path: &str| carried.iter().any(|c| c.method == method && c.path == path);
    assert!(of("GET", "/v1/viewer"), "profile through the proxy: {carried:?}");
    assert!(of("POST", "/v1/viewer/train"), "mutation through the proxy: {carried:?}");
    assert!(of("GET", "/v1/events"), "event stream through the proxy: {carried:?}");
}

async fn sign_up(h: &Harness, username: &str) {
    let body = serde_json::json!({"username": username, "password": format!("{username}-password")});
    let response = reqwest::Client::new().post(h.server_url("/v1/sign-up")).json(&body).send().await.unwrap();
    assert_eq!(response.status(), 201);
}

#[tokio::test]
async fn i1_each_accounts_requests_leave_through_its_own_proxy_and_direct_accounts_touch_none() {
    let h = Harness::start().await;
    let (http_proxy, socks_proxy) = (CountingProxy::http().await, CountingProxy::socks5().await);
    sign_up(&h, "third").await;
    let main = sign_in_through(&h, "acct-1", "main", &http_proxy).await;
    let alt = sign_in_through(&h, "acct-2", "alt", &socks_proxy).await;
    let third = h.sign_in(&window("acct-3"), "third").await;
    assert_eq!(count(&http_proxy.carried(), "POST", "/v1/sessions"), 1, "main's password went through proxy 1");
    assert_eq!(count(&socks_proxy.carried(), "POST", "/v1/sessions"), 1, "alt's password went through proxy 2");

    let labels = ["acct-1", "acct-2", "acct-3"];
    let sinks: Vec<Arc<RecordingSink>> = labels.iter().map(|_| Arc::default()).collect();
    for (label, sink) in labels.iter().zip(&sinks) {
        h.core.events.attach(&window(label), sink.clone());
    }
    // Each stream is up when its window has had the profile its `ready` event fetched.
    assert!(eventually(Duration::from_secs(5), || sinks.iter().all(|s| !s.updates().is_empty())).await);

    h.clear_records();
    for (label, account) in labels.iter().zip([&main, &alt, &third]) {
        let w = window(label);
        h.core.client.profile(&w).await.unwrap();
        h.core.client.train(&w, Stat::Agility).await.unwrap();
        // The next call refreshes (single flight, through the account's route).
        h.core.sessions.expire_access_token(account);
        h.core.client.profile(&w).await.unwrap();
    }
    assert_carried_only(&http_proxy, &main, "acct-1");
    assert_carried_only(&socks_proxy, &alt, "acct-2");
    assert_eq!(h.refreshes(), 3, "one refresh per account reached the server");
    assert_eq!(count(&http_proxy.carried(), "POST", "/v1/sessions/refresh"), 1, "main's refresh went through proxy 1");
    assert_eq!(count(&socks_proxy.carried(), "POST", "/v1/sessions/refresh"), 1, "alt's refresh went through proxy 2");
    let third_reached_server = h
        .records()
        .iter()
        .any(|r| matches!(&r.authorization, Presented::Bearer { subject: Some(s), .. } if s == third.user_id()));
    assert!(third_reached_server, "the direct account's requests reached the server");
    for proxy in [&http_proxy, &socks_proxy] {
        assert!(
            proxy
                .carried()
                .iter()
                .all(|c| c.subject.as_deref() != Some(third.user_id()) && c.window.as_deref() != Some("acct-3")),
            "the direct account touched a proxy"
        );
    }

    // Proxy off: main goes direct from its next request on, and its event stream reconnects direct.
    h.core.set_proxy(&main, None).unwrap();
    http_proxy.clear();
    h.clear_records();
    h.core.client.profile(&window("acct-1")).await.unwrap();
    h.core.client.train(&window("acct-1"), Stat::Chakra).await.unwrap();
    let main_stream_direct = || {
        h.records().iter().any(|r| {
            r.path == "/v1/events"
                && matches!(&r.authorization, Presented::Bearer { subject: Some(s), .. } if s == main.user_id())
        })
    };
    assert!(eventually(Duration::from_secs(5), main_stream_direct).await, "main's stream reconnected");
    assert!(http_proxy.carried().is_empty(), "main went direct: {:?}", http_proxy.carried());
    assert_eq!(h.core.proxy_of(&main), None);
    assert!(h.core.proxy_of(&alt).is_some());
}

#[tokio::test]
async fn i6_plain_http_server_through_a_remote_proxy_is_refused_before_anything_is_sent() {
    let h = Harness::start().await;
    let remote = ProxyUrl::parse("http://user:secret@proxy.example:3128").unwrap();
    h.clear_records();
    let password = SecretString::from("main-password");
    let refused = h
        .core
        .sign_in_through(&WindowLabel::new("acct-1"), &h.origin, "main", &password, true, Some(remote.clone()))
        .await
        .expect_err("refused");
    assert!(matches!(refused, SignInError::Proxy(ProxyError::ClearTextThroughRemoteProxy { .. })), "{refused:?}");
    assert!(!refused.to_string().contains("secret"));
    assert!(h.records().is_empty(), "no password left for the server");

    let main = h.sign_in(&window("acct-1"), "main").await;
    let refused = h.core.set_proxy(&main, Some(remote)).unwrap_err();
    assert!(matches!(refused, ProxyError::ClearTextThroughRemoteProxy { .. }));
    assert_eq!(h.core.proxy_of(&main), None, "the account stays direct");
    h.core.client.profile(&window("acct-1")).await.unwrap();
}

/// Issue 18: an account whose proxy went away is offline because of its proxy, and its windows are told so by
/// name, while the account beside it (direct) works; when the game server itself goes away, the cause is the
/// game server.
#[tokio::test]
async fn an_account_offline_because_its_proxy_is_down_is_told_so_and_the_one_beside_it_works() {
    let h = Harness::start().await;
    let proxy = CountingProxy::http().await;
    let main = sign_in_through(&h, "acct-1", "main", &proxy).await;
    let alt = h.sign_in(&window("acct-2"), "alt").await;
    // The proxy goes away: main's route is now a proxy address nothing listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let proxy_url = format!("http://{closed}");
    h.core.set_proxy(&main, Some(ProxyUrl::parse(&proxy_url).unwrap())).unwrap();
    h.core.sessions.expire_access_token(&main);
    let refused = h.core.client.profile(&window("acct-1")).await.unwrap_err();
    assert!(refused.is_offline(), "{refused:?}");
    let expected = kage_core::offline::OfflineCause::Proxy { proxy: proxy_url };
    assert!(
        eventually(Duration::from_secs(5), || h.core.account_view(&main).offline.as_ref() == Some(&expected)).await,
        "main's view names its proxy: {:?}",
        h.core.account_view(&main).offline
    );
    assert_eq!(h.core.client.profile(&window("acct-2")).await.unwrap().username, "alt", "alt is not affected");
    assert_eq!(h.core.account_view(&alt).offline, None);

    h.kill_server().await;
    h.core.sessions.expire_access_token(&alt);
    assert!(h.core.client.profile(&window("acct-2")).await.unwrap_err().is_offline());
    assert!(
        eventually(Duration::from_secs(5), || h.core.account_view(&alt).offline
            == Some(kage_core::offline::OfflineCause::GameServer))
        .await,
        "alt's view names the game server: {:?}",
        h.core.account_view(&alt).offline
    );
}
