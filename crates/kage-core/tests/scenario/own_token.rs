//! I1: every request from a window carries exactly that window's account's token, whatever the other
//! windows do, and never `Bearer null`, nothing, or a cookie.

use std::collections::HashMap;

use kage_core::actions::Stat;

use crate::support::{Faults, Harness, window};

#[tokio::test]
async fn i1_concurrent_windows_each_send_their_own_accounts_token() {
    let h = Harness::start().await;
    let main = h.sign_in(&window("acct-1"), "main").await;
    let alt = h.sign_in(&window("acct-2"), "alt").await;
    h.core.open(&window("acct-3"), &main);
    h.core.open(&window("acct-4"), &alt);
    let owners: HashMap<&str, &str> =
        [("acct-1", main.user_id()), ("acct-2", alt.user_id()), ("acct-3", main.user_id()), ("acct-4", alt.user_id())]
            .into();

    // Reads and writes from all four windows at once, in every order the scheduler picks.
    let calls = (0..80).map(|i| {
        let label = window(["acct-1", "acct-2", "acct-3", "acct-4"][i % 4]);
        let core = &h.core;
        async move {
            let profile = match i % 5 {
                0 => core.client.train(&label, Stat::Agility).await,
                1 => core.client.transfer(&label, if i % 2 == 0 { "alt" } else { "main" }, 1).await,
                _ => core.client.profile(&label).await,
            };
            (label, profile)
        }
    });
    for (label, result) in futures_util::future::join_all(calls).await {
        match result {
            Ok(profile) => assert_eq!(profile.id, owners[label.as_str()], "{label} was shown another account"),
            // Sending to oneself is refused by the server; that is the only failure allowed here.
            Err(error) => assert!(error.to_string().contains("yourself"), "{label}: {error}"),
        }
    }
    let records = h.records();
    assert!(records.iter().filter(|r| r.window.is_some()).count() >= 80);
    h.assert_own_tokens(|w| owners.get(w).map(|s| s.to_string()));
}

#[tokio::test]
async fn i1_switching_a_window_switches_the_token_it_sends() {
    let h = Harness::start().await;
    let w = window("acct-1");
    let main = h.sign_in(&w, "main").await;
    let alt = h.sign_in(&window("acct-2"), "alt").await;
    assert_eq!(h.core.client.profile(&w).await.unwrap().username, "main");
    h.clear_records();

    h.core.open(&w, &alt);
    assert_eq!(h.core.client.profile(&w).await.unwrap().username, "alt");
    h.assert_own_tokens(|_| Some(alt.user_id().to_owned()));

    h.clear_records();
    h.core.open(&w, &main);
    assert_eq!(h.core.client.profile(&w).await.unwrap().username, "main");
    h.assert_own_tokens(|_| Some(main.user_id().to_owned()));
}

#[tokio::test]
async fn i1_a_window_without_an_account_sends_nothing() {
    let h = Harness::start().await;
    h.sign_in(&window("acct-1"), "main").await;
    h.clear_records();
    let error = h.core.client.profile(&window("acct-9")).await.unwrap_err();
    assert_eq!(error, kage_core::client::ClientError::NotPinned);
    assert!(h.records().is_empty(), "a request left without a pinned account");
}

/// A redirect would carry the bearer token (or a password body) to wherever it points, even https to http on
/// the same host. The core follows none: the place redirected to never hears from it (I6).
#[tokio::test]
async fn i6_redirects_are_never_followed_so_no_token_or_password_goes_elsewhere() {
    let h = Harness::start().await;
    let w = window("acct-1");
    h.sign_in(&w, "main").await;

    let heard = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = heard.clone();
    let elsewhere = axum::Router::new().fallback(move || {
        counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        async { "captured" }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let elsewhere_url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, elsewhere).await });

    h.set_faults(Faults { redirect_to: Some(elsewhere_url), ..Faults::default() });
    assert!(h.core.client.profile(&w).await.is_err(), "a redirect is not an answer");
    assert!(h.core.client.train(&w, Stat::Agility).await.is_err());
    let password = kage_core::SecretString::from("alt-password".to_owned());
    assert!(h.core.sign_in(&window("acct-2"), &h.origin, "alt", &password, true).await.is_err());
    assert_eq!(heard.load(std::sync::atomic::Ordering::SeqCst), 0, "nothing was sent to the redirect target");
}
