//! I2 and I4: a refresh the server rejects signs out that account only; signing out erases that account's
//! credential and cache partition (also offline) and touches no other account.

use std::time::Duration;

use kage_core::ExposeSecret;
use kage_core::client::ClientError;
use kage_core::sessions::{AccountStatus, TokenError};
use kage_core::vault::CredentialStore;

use crate::support::{Faults, Harness, Lost, eventually, window};

#[tokio::test]
async fn i2_rejected_refresh_signs_out_that_account_only_and_sends_nothing_else() {
    let h = Harness::start_with(|c| c.access_ttl = Duration::from_secs(11), Default::default()).await;
    let (w_main, w_alt) = (window("acct-1"), window("acct-2"));
    let main = h.sign_in(&w_main, "main").await;
    let alt = h.sign_in(&w_alt, "alt").await;
    h.core.client.profile(&w_alt).await.unwrap();

    // alt's session ends on the server (say, a sign-out on another device): its refresh will be rejected.
    let refresh = h.vault.read(&alt).unwrap().unwrap();
    let http = reqwest::Client::new();
    let grant: serde_json::Value = http
        .post(h.origin.url("/v1/sessions/refresh"))
        .json(&serde_json::json!({"refresh_token": refresh.refresh_token.expose_secret()}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let other_device_token = grant["access_token"].as_str().unwrap();
    http.delete(h.origin.url("/v1/sessions/current")).bearer_auth(other_device_token).send().await.unwrap();

    tokio::time::sleep(Duration::from_millis(1200)).await;
    h.clear_records();
    assert_eq!(h.core.client.profile(&w_alt).await, Err(ClientError::Token(TokenError::SignedOut)));
    assert_eq!(h.core.sessions.status(&alt), AccountStatus::SignedOut);
    assert_eq!(h.core.view(&w_alt).status, AccountStatus::SignedOut);
    // Fail closed: after the rejected refresh nothing was sent for alt's window, with any token.
    assert!(h.records().iter().all(|r| r.window.as_deref() != Some("acct-2")), "{:?}", h.records());
    assert!(h.vault.read(&alt).unwrap().is_none(), "the dead credential is gone");

    // main is untouched.
    assert_eq!(h.core.client.profile(&w_main).await.unwrap().username, "main");
    assert_eq!(h.core.sessions.status(&main), AccountStatus::SignedIn);
    assert!(h.vault.read(&main).unwrap().is_some());
}

#[tokio::test]
async fn i4_sign_out_erases_only_that_accounts_partition_and_credential() {
    let h = Harness::start().await;
    let (w_main, w_alt) = (window("acct-1"), window("acct-2"));
    let main = h.sign_in(&w_main, "main").await;
    let alt = h.sign_in(&w_alt, "alt").await;
    h.core.client.profile(&w_main).await.unwrap();
    h.core.client.profile(&w_alt).await.unwrap();

    assert_eq!(h.core.sign_out(&w_alt).await.unwrap().account, alt);
    assert!(h.core.cache.get(&alt).is_none());
    assert!(h.vault.read(&alt).unwrap().is_none());
    assert_eq!(h.core.view(&w_alt).status, AccountStatus::SignedOut);
    assert!(h.core.cache.get(&main).is_some());
    assert!(h.vault.read(&main).unwrap().is_some());
    assert_eq!(h.core.client.profile(&w_main).await.unwrap().username, "main");
    assert_eq!(h.core.client.profile(&w_alt).await, Err(ClientError::Token(TokenError::SignedOut)));
}

#[tokio::test]
async fn i4_sign_out_works_offline() {
    let h = Harness::start().await;
    let w = window("acct-1");
    let main = h.sign_in(&w, "main").await;
    h.core.client.profile(&w).await.unwrap();
    h.set_faults(Faults { down: true, ..Faults::default() });
    h.core.sign_out(&w).await.unwrap();
    assert!(h.core.cache.get(&main).is_none());
    assert!(h.vault.read(&main).unwrap().is_none());
    assert_eq!(h.core.sessions.status(&main), AccountStatus::SignedOut);
}

#[tokio::test]
async fn i6_tokens_for_plain_http_remote_servers_are_refused_before_sending() {
    assert!(kage_core::ServerOrigin::parse("http://game.example").is_err());
}

/// A sign-out while the keychain cannot delete the credential (and the server cannot be told) still stands:
/// reopening the account does not bring it back from the leftover credential, and the credential is deleted
/// as soon as the keychain answers again.
#[tokio::test]
async fn i4_a_sign_out_the_keychain_could_not_finish_stands_and_is_finished_later() {
    let h = Harness::start().await;
    let w = window("acct-1");
    let main = h.sign_in(&w, "main").await;
    h.core.client.profile(&w).await.unwrap();
    h.set_faults(Faults { down: true, ..Faults::default() });
    h.vault.set_failure(Some(kage_core::vault::VaultError::Unavailable("no Secret Service".into())));
    assert!(h.core.sign_out(&w).await.is_err(), "the keychain could not delete: said so");
    assert_eq!(h.core.view(&w).status, AccountStatus::SignedOut);
    assert!(h.core.cache.get(&main).is_none(), "the cache is erased also offline");

    h.vault.set_failure(None);
    h.set_faults(Faults::default());
    // Opening the account again (the saved-accounts list) does not revive it from the leftover credential.
    h.core.open(&w, &main);
    assert!(matches!(h.core.client.profile(&w).await, Err(ClientError::Token(TokenError::SignedOut))));
    assert!(
        eventually(Duration::from_secs(5), || h.vault.peek(&main).is_none()).await,
        "the leftover credential is deleted once the keychain answers"
    );
}

/// Issue 21: a server sign-out the client could not complete (the request never arrived, then a gateway's
/// 502, as when the server's database connection died mid-revocation) is retried in the background until the
/// server has it; the window says "signed out" from the first moment and nothing else.
#[tokio::test]
async fn a_server_sign_out_that_failed_is_retried_until_the_server_has_it() {
    let h = Harness::start().await;
    let w = window("acct-1");
    let main = h.sign_in(&w, "main").await;
    h.core.client.profile(&w).await.unwrap();
    let refresh = h.vault.read(&main).unwrap().unwrap().refresh_token;
    let mut statuses = h.core.sessions.status_changes();
    h.lose_answers("/v1/sessions/revoke", Lost::NeverArrived, 2);
    h.core.sign_out(&w).await.unwrap();
    assert_eq!(h.core.view(&w).status, AccountStatus::SignedOut, "signed out at once");

    let http = reqwest::Client::new();
    let refused = eventually(Duration::from_secs(5), || h.answers_left_to_lose() == 0).await;
    assert!(refused, "the sign-out was tried again ({} losses left)", h.answers_left_to_lose());
    let mut status = 0;
    for _ in 0..50 {
        let response = http
            .post(h.server_url("/v1/sessions/refresh"))
            .json(&serde_json::json!({"refresh_token": refresh.expose_secret()}))
            .send()
            .await
            .unwrap();
        status = response.status().as_u16();
        if status == 401 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(status, 401, "the server ended the session once the retry reached it");
    let revokes = h.records().iter().filter(|r| r.path == "/v1/sessions/revoke").count();
    assert_eq!(revokes, 1, "the server saw the one try that arrived");
    while let Ok((account, status)) = statuses.try_recv() {
        assert_eq!((account, status), (main.clone(), AccountStatus::SignedOut), "the window was told only this");
    }
}
