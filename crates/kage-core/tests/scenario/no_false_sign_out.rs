//! I11: a window says "signed out" only after the server rejected that account's refresh credential or the
//! player signed out. Start-up with the server down or slow gives loading, then offline, with the cached
//! profile; nothing is deleted; when the server is back, the account is signed in again.

use std::sync::Arc;
use std::time::Duration;

use kage_core::client::ClientError;
use kage_core::sessions::{AccountStatus, TokenError};
use kage_core::vault::CredentialStore;
use kage_core::{Core, CoreConfig};

use kage_core::events::WindowUpdate;

use crate::support::{Faults, Harness, eventually, window};

/// A second app start on the same data dir and vault, as after a restart.
fn restart(h: &Harness) -> Core {
    let mut config = CoreConfig::new(h.dir.path().join("client"));
    config.request_timeout = Duration::from_millis(800);
    Core::new(config, h.vault.clone() as Arc<dyn CredentialStore>)
}

#[tokio::test]
async fn i11_restore_with_the_server_down_is_loading_then_offline_never_signed_out() {
    let h = Harness::start().await;
    let w = window("acct-1");
    let main = h.sign_in(&w, "main").await;
    h.core.client.profile(&w).await.unwrap();

    h.set_faults(Faults { down: true, ..Faults::default() });
    let core = restart(&h);
    core.open(&w, &main);
    let first_paint = core.view(&w);
    assert_eq!(first_paint.status, AccountStatus::Loading, "start-up shows loading, not signed out");
    assert_eq!(first_paint.cached.expect("cached profile shown at once").username, "main");

    let error = core.client.profile(&w).await.unwrap_err();
    assert!(error.is_offline(), "{error:?}");
    assert_eq!(core.view(&w).status, AccountStatus::Offline);
    assert!(h.vault.read(&main).unwrap().is_some(), "the saved credential survives the outage");
    assert!(core.cache.get(&main).is_some(), "the cache survives the outage");

    h.set_faults(Faults::default());
    assert_eq!(core.client.profile(&w).await.unwrap().username, "main");
    assert_eq!(core.view(&w).status, AccountStatus::SignedIn);
}

#[tokio::test]
async fn i11_slow_server_during_refresh_is_offline_not_signed_out() {
    let h = Harness::start().await;
    let w = window("acct-1");
    let main = h.sign_in(&w, "main").await;
    h.set_faults(Faults { delay_refresh: Some(Duration::from_secs(3)), ..Faults::default() });
    let core = restart(&h);
    core.open(&w, &main);
    let error = core.client.profile(&w).await.unwrap_err();
    assert!(matches!(error, ClientError::Token(TokenError::Offline(_))), "{error:?}");
    assert_ne!(core.view(&w).status, AccountStatus::SignedOut);
    assert!(h.vault.read(&main).unwrap().is_some());
}

#[tokio::test]
async fn i11_status_is_never_signed_out_during_start_up_polled_throughout() {
    let h = Harness::start().await;
    let w = window("acct-1");
    let main = h.sign_in(&w, "main").await;
    h.set_faults(Faults { delay_refresh: Some(Duration::from_millis(400)), ..Faults::default() });
    let core = Arc::new(restart(&h));
    core.open(&w, &main);
    let fetch = tokio::spawn({
        let core = core.clone();
        let w = w.clone();
        async move { core.client.profile(&w).await }
    });
    let mut seen = Vec::new();
    while !fetch.is_finished() {
        seen.push(core.view(&w).status);
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(fetch.await.unwrap().unwrap().username, "main");
    seen.push(core.view(&w).status);
    assert!(seen.len() > 10, "polled through the start-up");
    assert!(!seen.contains(&AccountStatus::SignedOut), "{seen:?}");
    assert_eq!(seen.last(), Some(&AccountStatus::SignedIn));
}

#[tokio::test]
async fn i11_locked_keychain_is_keychain_locked_not_signed_out() {
    let h = Harness::start().await;
    let w = window("acct-1");
    let main = h.sign_in(&w, "main").await;
    h.vault.set_failure(Some(kage_core::vault::VaultError::Locked));
    let core = restart(&h);
    core.open(&w, &main);
    let error = core.client.profile(&w).await.unwrap_err();
    assert!(matches!(error, ClientError::Token(TokenError::Keychain(_))), "{error:?}");
    assert_eq!(core.view(&w).status, AccountStatus::KeychainLocked);
    h.vault.set_failure(None);
    assert_eq!(core.client.profile(&w).await.unwrap().username, "main");
}

#[tokio::test]
async fn i11_a_live_outage_shows_offline_within_two_refetch_intervals_and_heals_by_itself() {
    let live = kage_core::events::LiveConfig { refetch_interval: Duration::from_millis(300), ..Default::default() };
    let h = Harness::start_with(|_| {}, live).await;
    let windows = [window("acct-1"), window("acct-2"), window("acct-3")];
    let main = h.sign_in(&windows[0], "main").await;
    let alt = h.sign_in(&windows[1], "alt").await;
    h.core.open(&windows[2], &main);
    let sinks: Vec<_> = windows
        .iter()
        .map(|w| {
            let sink = Arc::new(crate::support::RecordingSink::default());
            h.core.events.attach(w, sink.clone());
            sink
        })
        .collect();
    for w in &windows {
        h.core.client.profile(w).await.unwrap();
    }

    h.set_faults(Faults { down: true, ..Faults::default() });
    let went_down = std::time::Instant::now();
    let all_offline = || windows.iter().all(|w| h.core.view(w).status == AccountStatus::Offline);
    assert!(
        eventually(Duration::from_secs(1), all_offline).await,
        "every window says offline within about 2 intervals"
    );
    eprintln!("offline shown {:?} after the server went down", went_down.elapsed());
    for (w, sink) in windows.iter().zip(&sinks) {
        let told = sink.updates().contains(&WindowUpdate::Status { status: AccountStatus::Offline });
        assert!(told, "{w} was told it is offline");
        assert!(h.core.view(w).cached.is_some(), "{w} keeps showing its cached profile");
    }
    assert!(h.vault.read(&main).unwrap().is_some() && h.vault.read(&alt).unwrap().is_some());

    h.set_faults(Faults::default());
    let all_back = || windows.iter().all(|w| h.core.view(w).status == AccountStatus::SignedIn);
    assert!(eventually(Duration::from_secs(3), all_back).await, "every window heals by itself");
    assert!(sinks.iter().all(|s| s.updates().last() != Some(&WindowUpdate::Status { status: AccountStatus::Offline })));
}

/// With default settings (a 5-minute refetch), a server that dies is noticed through the event stream: every
/// window says offline within 5 s, and says signed in again by itself once the server is back.
#[tokio::test]
async fn i11_a_killed_server_shows_offline_within_5_s_at_default_settings_and_heals() {
    let h = Harness::start().await;
    let (w_main, w_alt) = (window("acct-1"), window("acct-2"));
    let main = h.sign_in(&w_main, "main").await;
    h.sign_in(&w_alt, "alt").await;
    for w in [&w_main, &w_alt] {
        h.core.events.attach(w, Arc::new(crate::support::RecordingSink::default()));
        h.core.client.profile(w).await.unwrap();
    }
    // Both streams are up (each refetched once on `ready`).
    tokio::time::sleep(Duration::from_millis(500)).await;

    h.kill_server().await;
    let killed = std::time::Instant::now();
    let offline = || [&w_main, &w_alt].iter().all(|w| h.core.view(w).status == AccountStatus::Offline);
    assert!(eventually(Duration::from_secs(5), offline).await, "offline within 5 s of the server dying");
    eprintln!("offline shown {:?} after the server died", killed.elapsed());
    assert!(h.vault.read(&main).unwrap().is_some(), "nothing deleted");

    h.restart_server().await;
    let back = || [&w_main, &w_alt].iter().all(|w| h.core.view(w).status == AccountStatus::SignedIn);
    assert!(eventually(Duration::from_secs(15), back).await, "signed in again by itself");
}

#[tokio::test]
async fn i11_a_refresh_answered_429_is_a_wait_with_the_servers_retry_after_never_a_sign_out() {
    // One refresh at once per address, one back every two seconds.
    let configure = |config: &mut kage_server::Config| {
        config.throttle.refresh_burst = 1;
        config.throttle.refresh_per_minute = 30;
    };
    let h = Harness::start_with(configure, Default::default()).await;
    let w = window("acct-1");
    let main = h.sign_in(&w, "main").await;
    h.core.client.profile(&w).await.unwrap();
    let saved = h.vault.peek(&main).expect("saved");
    h.core.sessions.expire_access_token(&main);
    h.core.client.profile(&w).await.expect("the first refresh fits in the bucket");

    h.core.sessions.expire_access_token(&main);
    h.clear_records();
    let error = h.core.client.profile(&w).await.unwrap_err();
    assert_eq!(error, ClientError::RateLimited { retry_after: Duration::from_secs(2) }, "the server's Retry-After");
    assert_eq!(error.retry_after(), Some(Duration::from_secs(2)));
    assert_eq!(h.core.sessions.status(&main), AccountStatus::SignedIn, "not signed out, not offline");
    assert_ne!(h.vault.peek(&main), None, "the credential is kept");
    assert_ne!(h.vault.peek(&main), Some(saved), "(the first refresh rotated it)");
    assert_eq!(h.refreshes(), 1);

    // Asking again before the wait is over sends nothing: the answer is known.
    let again = h.core.client.profile(&w).await.unwrap_err();
    assert!(matches!(again, ClientError::RateLimited { retry_after } if retry_after <= Duration::from_secs(2)));
    assert_eq!(h.refreshes(), 1, "no refresh sent during the wait");
    assert!(matches!(h.core.sessions.token_for(&main).await, Err(TokenError::RateLimited { .. })));

    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_eq!(h.core.client.profile(&w).await.unwrap().username, "main", "works after the wait");
    assert_eq!(h.core.sessions.status(&main), AccountStatus::SignedIn);
}
