//! I5: at most one refresh per account in flight; everyone waiting shares it; rotated credentials are saved.

use std::time::Duration;

use kage_core::ExposeSecret;
use kage_core::vault::CredentialStore;

use crate::support::{Harness, window};

/// Access tokens live 11 s on this server; the client renews 10 s early, so after ~1 s every token is due.
/// Access tokens that need a refresh after a second, and no refresh grace period, so a client that kept a spent
/// refresh token is caught by reuse detection at once.
async fn short_lived_tokens() -> Harness {
    let configure = |config: &mut kage_server::Config| {
        config.access_ttl = Duration::from_secs(11);
        config.refresh_grace = Duration::ZERO;
    };
    Harness::start_with(configure, Default::default()).await
}

#[tokio::test]
async fn i5_two_hundred_concurrent_calls_from_six_windows_cause_exactly_two_refreshes() {
    let h = short_lived_tokens().await;
    let main = h.sign_in(&window("acct-1"), "main").await;
    let alt = h.sign_in(&window("acct-2"), "alt").await;
    for (label, account) in [("acct-3", &main), ("acct-4", &alt), ("acct-5", &main), ("acct-6", &alt)] {
        h.core.open(&window(label), account);
    }
    tokio::time::sleep(Duration::from_millis(1200)).await;
    h.clear_records();

    let labels = ["acct-1", "acct-2", "acct-3", "acct-4", "acct-5", "acct-6"];
    let calls = (0..200).map(|i| {
        let label = window(labels[i % 6]);
        let core = &h.core;
        async move { core.client.profile(&label).await }
    });
    for result in futures_util::future::join_all(calls).await {
        result.expect("every call succeeds");
    }
    assert_eq!(h.refreshes(), 2, "one refresh per account");
    let owners = |w: &str| {
        let n: usize = w.trim_start_matches("acct-").parse().unwrap();
        Some(if n % 2 == 1 { main.user_id() } else { alt.user_id() }.to_owned())
    };
    h.assert_own_tokens(owners);
}

#[tokio::test]
async fn i5_rotated_refresh_token_is_in_the_vault_before_the_new_access_token_is_used() {
    let h = short_lived_tokens().await;
    let w = window("acct-1");
    let main = h.sign_in(&w, "main").await;
    let saved_at_sign_in = h.vault.read(&main).unwrap().unwrap().refresh_token.expose_secret().to_owned();
    tokio::time::sleep(Duration::from_millis(1200)).await;
    h.core.client.profile(&w).await.unwrap();
    let saved_now = h.vault.read(&main).unwrap().unwrap().refresh_token.expose_secret().to_owned();
    assert_ne!(saved_now, saved_at_sign_in, "the vault holds the rotated credential");

    // The saved credential is the live one: a fresh start (new core, same vault) restores with it, which
    // it could not if the vault still held the spent token (reuse detection would end the session).
    let restored = kage_core::Core::new(
        kage_core::CoreConfig::new(h.dir.path().join("client-2")),
        h.vault.clone() as std::sync::Arc<dyn CredentialStore>,
    );
    restored.open(&w, &main);
    assert_eq!(restored.client.profile(&w).await.unwrap().username, "main");
}

#[tokio::test]
async fn token_the_server_rejects_is_refreshed_once_and_the_call_retried() {
    let h = Harness::start().await;
    let w = window("acct-1");
    h.sign_in(&w, "main").await;
    h.clear_records();
    h.garble_next_bearers(1);
    assert_eq!(h.core.client.profile(&w).await.unwrap().username, "main");
    let seen: Vec<_> = h
        .records()
        .iter()
        .filter(|r| r.window.is_some() || r.path == "/v1/sessions/refresh")
        .map(|r| (r.path.clone(), r.status))
        .collect();
    assert_eq!(
        seen,
        [("/v1/viewer".into(), 401), ("/v1/sessions/refresh".into(), 200), ("/v1/viewer".into(), 200)],
        "401, one refresh, one retry"
    );

    // Rejected twice in a row: one retry only, then the error reaches the window.
    h.garble_next_bearers(2);
    let error = h.core.client.profile(&w).await.unwrap_err();
    assert!(matches!(error, kage_core::client::ClientError::Refused { status: 401, .. }), "{error:?}");
}
