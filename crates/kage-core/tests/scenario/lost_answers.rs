//! I11 under faults *after* the server acted: the server rotates a refresh token (or signs in, or signs out,
//! or moves ryo) and the answer never arrives, arrives cut off, or arrives after the client gave up. None of
//! these may cost the player a session, a saved account, or ryo.

use std::sync::Arc;
use std::time::Duration;

use kage_core::actions::{Action, Outcome};
use kage_core::client::ClientError;
use kage_core::events::WindowUpdate;
use kage_core::sessions::AccountStatus;
use kage_core::vault::{CredentialStore, VaultError};
use kage_core::{AccountKey, Core, SecretString};
use kage_server::observe::Presented;

use crate::support::{Harness, Lost, RecordingSink, eventually, window};

const REFRESH: &str = "/v1/sessions/refresh";

/// Signs `main` in with "remember" and returns the harness, the account, and a fresh start of the app on the
/// same data dir and keychain (whose first request must refresh from the keychain).
async fn remembered_then_restarted(grace: Option<Duration>) -> (Harness, AccountKey, Core) {
    let h = Harness::start_with(
        |config| {
            if let Some(grace) = grace {
                config.refresh_grace = grace;
            }
        },
        Default::default(),
    )
    .await;
    let main = h.sign_in(&window("acct-1"), "main").await;
    let core = h.restart(Duration::from_millis(800));
    core.open(&window("acct-1"), &main);
    (h, main, core)
}

/// The account works, its windows say signed in, and the keychain holds a credential that still works
/// after another restart (the final proof that nothing was lost).
async fn assert_session_intact(h: &Harness, core: &Core, main: &AccountKey) {
    let w = window("acct-1");
    assert_eq!(core.client.profile(&w).await.expect("the session still works").username, "main");
    assert_eq!(core.view(&w).status, AccountStatus::SignedIn);
    let again = h.restart(Duration::from_secs(3));
    again.open(&w, main);
    assert_eq!(again.client.profile(&w).await.expect("the saved credential still works").username, "main");
}

/// The statuses `changes` announced since it was taken.
fn announced(changes: &mut tokio::sync::broadcast::Receiver<(AccountKey, AccountStatus)>) -> Vec<AccountStatus> {
    std::iter::from_fn(|| changes.try_recv().ok()).map(|(_, status)| status).collect()
}

#[tokio::test]
async fn i11_a_refresh_answer_lost_at_start_up_is_resent_and_the_window_never_says_offline() {
    for how in [Lost::Dropped, Lost::Truncated, Lost::Stalled, Lost::BadGateway] {
        let (h, main, core) = remembered_then_restarted(None).await;
        let w = window("acct-1");
        let mut changes = core.sessions.status_changes();
        h.clear_records();
        h.lose_answers(REFRESH, how, 1);
        let answer = core.client.profile(&w).await;
        assert_eq!(answer.expect("the refresh was resent").username, "main", "{how:?}");
        assert_eq!(h.answers_left_to_lose(), 0, "{how:?}: the server did act on the first refresh");
        assert_eq!(h.refreshes(), 2, "{how:?}: the same token twice, the grace period answered the second");
        let statuses = announced(&mut changes);
        assert!(!statuses.contains(&AccountStatus::Offline), "{how:?}: the window said offline: {statuses:?}");
        assert_eq!(core.view(&w).status, AccountStatus::SignedIn, "{how:?}");
        assert!(h.vault.read(&main).unwrap().is_some(), "{how:?}: the keychain entry is kept");
        assert_session_intact(&h, &core, &main).await;
    }
}

#[tokio::test]
async fn i11_refresh_answers_lost_until_the_resends_run_out_cost_an_offline_and_nothing_else() {
    for how in [Lost::Dropped, Lost::BadGateway] {
        // A server each: 13 refreshes from one address per case, the refresh throttle's burst is 20.
        let h = Harness::start().await;
        let w = window("acct-1");
        let main = h.sign_in(&w, "main").await;
        h.core.client.profile(&w).await.unwrap();
        // Three lost in a row: the resends carry the refresh through.
        h.lose_answers(REFRESH, how, 3);
        h.core.sessions.expire_access_token(&main);
        assert_eq!(h.core.client.profile(&w).await.unwrap().username, "main", "{how:?}");
        assert_eq!(h.answers_left_to_lose(), 0, "{how:?}");

        // Lost on every try: after four, the window says offline, never signed out, twice over.
        for _ in 0..2 {
            h.lose_answers(REFRESH, how, 4);
            h.core.sessions.expire_access_token(&main);
            let started = std::time::Instant::now();
            assert!(h.core.client.profile(&w).await.unwrap_err().is_offline(), "{how:?}");
            assert!(started.elapsed() < Duration::from_secs(3), "{how:?}: bounded: {:?}", started.elapsed());
            assert_eq!(h.answers_left_to_lose(), 0, "{how:?}: four tries in all");
            assert_eq!(h.core.view(&w).status, AccountStatus::Offline, "{how:?}");
        }
        assert_eq!(h.core.client.profile(&w).await.unwrap().username, "main", "{how:?}");
        assert_eq!(h.core.view(&w).status, AccountStatus::SignedIn, "{how:?}");
    }
}

#[tokio::test]
async fn a_refresh_no_server_took_is_not_resent_and_says_offline_at_once() {
    let h = Harness::start().await;
    let w = window("acct-1");
    let main = h.sign_in(&w, "main").await;
    h.core.client.profile(&w).await.unwrap();
    // 503 without Retry-After: what a balancer answers with no server up. Nothing was spent, nothing to resend.
    h.set_faults(crate::support::Faults { down: true, ..Default::default() });
    h.core.sessions.expire_access_token(&main);
    let started = std::time::Instant::now();
    assert!(h.core.client.profile(&w).await.unwrap_err().is_offline());
    // The resends' pauses alone would add 800 ms.
    assert!(started.elapsed() < Duration::from_millis(600), "offline at once: {:?}", started.elapsed());
    assert_eq!(h.core.view(&w).status, AccountStatus::Offline);
}

#[tokio::test]
async fn i11_a_grant_is_kept_when_a_later_check_fails() {
    // No grace at all on the server: only a client that kept the new refresh token can go on.
    let (h, main, core) = remembered_then_restarted(Some(Duration::ZERO)).await;
    let w = window("acct-1");
    let saved_before = h.vault.peek(&main).unwrap();
    // The refresh goes through; the key set needed to check the new access token does not arrive.
    h.lose_answers("/.well-known/jwks.json", Lost::Dropped, 1);
    assert!(core.client.profile(&w).await.unwrap_err().is_offline());
    let saved_after = h.vault.peek(&main).unwrap();
    assert_ne!(saved_after, saved_before, "the rotated credential was stored although the access token failed");
    assert_session_intact(&h, &core, &main).await;
}

#[tokio::test]
async fn i9_a_rotated_credential_the_keychain_refuses_is_kept_retried_and_shown() {
    let (h, main, core) = remembered_then_restarted(Some(Duration::ZERO)).await;
    let w = window("acct-1");
    let spent = h.vault.peek(&main).unwrap();
    h.vault.set_write_failure(Some(VaultError::Backend("disk full".into())));
    assert_eq!(core.client.profile(&w).await.unwrap().username, "main", "works from memory");
    let view = core.view(&w);
    assert_eq!(view.status, AccountStatus::SignedIn);
    assert!(view.keychain.is_some(), "the window says the keychain has trouble");
    assert_eq!(h.vault.peek(&main).unwrap(), spent, "the keychain still holds the spent token");

    h.vault.set_write_failure(None);
    assert!(
        eventually(Duration::from_secs(5), || h.vault.peek(&main).unwrap() != spent).await,
        "the save is retried without a restart"
    );
    assert!(eventually(Duration::from_secs(2), || core.view(&w).keychain.is_none()).await, "the notice clears");
    // "remember" was not dropped: a restart (no grace on the server) restores without a password.
    assert_session_intact(&h, &core, &main).await;
}

#[tokio::test]
async fn i9_keychain_unreachable_at_start_is_a_keychain_state_then_recovers_without_a_restart() {
    let h = Harness::start().await;
    let w = window("acct-1");
    let main = h.sign_in(&w, "main").await;
    h.core.client.profile(&w).await.unwrap();
    h.vault.set_failure(Some(VaultError::Unavailable("no Secret Service yet".into())));
    let core = h.restart(Duration::from_secs(3));
    core.open(&w, &main);
    let sink = std::sync::Arc::new(crate::support::RecordingSink::default());
    core.events.attach(&w, sink.clone());
    assert!(core.client.profile(&w).await.is_err());
    let view = core.view(&w);
    assert_eq!(view.status, AccountStatus::KeychainLocked, "never signed out");
    assert!(view.cached.is_some(), "the cached profile stays on screen");
    assert!(view.keychain.is_some());

    h.vault.set_failure(None);
    // Nobody calls: the account's event stream retries on its own, with backoff.
    assert!(
        eventually(Duration::from_secs(8), || core.view(&w).status == AccountStatus::SignedIn).await,
        "recovers when the keychain appears, without a password or a restart"
    );
    assert!(core.view(&w).keychain.is_none());
}

#[tokio::test]
async fn i9_a_keychain_that_never_answers_holds_up_nothing() {
    let h = Harness::start().await;
    let (w_main, w_alt) = (window("acct-1"), window("acct-2"));
    let main = h.sign_in(&w_main, "main").await;
    let alt = h.sign_in(&w_alt, "alt").await;
    let core = h.restart(Duration::from_secs(3));
    core.open(&w_main, &main);
    core.open(&w_alt, &alt);
    // An unlock prompt nobody answers: every keychain call takes 3 s (the harness bounds them at 0.5 s).
    h.vault.set_delay(Some(Duration::from_secs(3)));
    let started = std::time::Instant::now();
    let (main_answer, alt_sign_out) = tokio::join!(core.client.profile(&w_main), core.sign_out(&w_alt));
    assert!(started.elapsed() < Duration::from_millis(2500), "bounded: {:?}", started.elapsed());
    assert!(main_answer.is_err());
    assert_eq!(core.view(&w_main).status, AccountStatus::KeychainLocked);
    assert!(matches!(alt_sign_out, Err(kage_core::core::SignOutError::Keychain(VaultError::TimedOut(_)))));
    assert_eq!(core.view(&w_alt).status, AccountStatus::SignedOut, "the sign-out stands locally");

    // Forget does not hang either.
    let started = std::time::Instant::now();
    core.forget(&main, kage_core::core::Reach::Server).await;
    assert!(started.elapsed() < Duration::from_millis(2500), "bounded: {:?}", started.elapsed());
    h.vault.set_delay(None);
}

#[tokio::test]
async fn i11_lost_sign_in_answer_is_just_a_failed_sign_in() {
    let h = Harness::start().await;
    let w = window("acct-1");
    let password = SecretString::from("main-password".to_owned());
    h.lose_answers("/v1/sessions", Lost::Truncated, 1);
    let error = h.core.sign_in(&w, &h.origin, "main", &password, true).await.expect_err("the answer was lost");
    assert!(!error.to_string().contains("password is wrong"), "{error}");
    assert!(h.vault.is_empty());
    h.core.sign_in(&w, &h.origin, "main", &password, true).await.expect("signing in again works");
    assert_eq!(h.core.client.profile(&w).await.unwrap().username, "main");
}

#[tokio::test]
async fn sign_out_ends_the_server_session_even_with_an_expired_access_token_or_a_lost_answer() {
    for lose in [false, true] {
        let h = Harness::start().await;
        let w = window("acct-1");
        let main = h.sign_in(&w, "main").await;
        let refresh = h.vault.peek(&main).unwrap();
        // The access token is gone (expired, or the computer slept): sign-out must still reach the server.
        h.core.sessions.expire_access_token(&main);
        if lose {
            h.lose_answers("/v1/sessions/revoke", Lost::Dropped, 1);
        }
        h.core.sign_out(&w).await.unwrap();
        assert_eq!(h.core.view(&w).status, AccountStatus::SignedOut);
        assert!(h.vault.read(&main).unwrap().is_none());
        // The server ended the session: its refresh token is refused (bypassing the proxy).
        let status = reqwest::Client::new()
            .post(h.server_url(REFRESH))
            .json(&serde_json::json!({ "refresh_token": refresh }))
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(status, 401, "lost answer: {lose}");
    }
}

#[tokio::test]
async fn i12_a_transfer_whose_answer_was_lost_happens_exactly_once() {
    // Lost once, or lost again on its resend (the crash behind a balancer takes a moment to clear).
    for (how, times) in
        [(Lost::Dropped, 1), (Lost::Truncated, 1), (Lost::BadGateway, 1), (Lost::Dropped, 2), (Lost::BadGateway, 3)]
    {
        let h = Harness::start().await;
        let (w_main, w_alt) = (window("acct-1"), window("acct-2"));
        h.sign_in(&w_main, "main").await;
        h.sign_in(&w_alt, "alt").await;
        let before = h.core.client.profile(&w_alt).await.unwrap().ryo;
        h.lose_answers("/v1/transfers", how, times);
        let sent = h.core.client.transfer(&w_main, "alt", 25).await;
        let after = h.core.client.profile(&w_alt).await.unwrap().ryo;
        assert_eq!(after, before + 25, "{how:?} x{times}: the transfer happened exactly once ({sent:?})");
        assert!(sent.is_ok(), "{how:?} x{times}: a resend with the same key got the first answer: {sent:?}");
        assert_eq!(h.answers_left_to_lose(), 0, "{how:?} x{times}");
    }
}

/// main and alt signed in, a sink on main's window; alt's ryo.
async fn main_sends_alt() -> (Harness, Arc<RecordingSink>, i64) {
    let h = Harness::start().await;
    let (w_main, w_alt) = (window("acct-1"), window("acct-2"));
    h.sign_in(&w_main, "main").await;
    h.sign_in(&w_alt, "alt").await;
    let sink = Arc::new(RecordingSink::default());
    h.core.events.attach(&w_main, sink.clone());
    let before = h.core.client.profile(&w_alt).await.unwrap().ryo;
    (h, sink, before)
}

/// The first `ActionSettled` main's window was sent within 5 s.
async fn settled(sink: &RecordingSink) -> Option<(Action, Outcome)> {
    let find = || {
        sink.updates().into_iter().find_map(|update| match update {
            WindowUpdate::ActionSettled { action, outcome } => Some((action, outcome)),
            _ => None,
        })
    };
    eventually(Duration::from_secs(5), || find().is_some()).await;
    find()
}

#[tokio::test]
async fn i12_a_transfer_whose_answers_are_all_lost_is_unconfirmed_then_settled_as_done() {
    let (h, sink, before) = main_sends_alt().await;
    let main = h.core.windows.pin_of(&window("acct-1")).unwrap().account;
    h.lose_answers("/v1/transfers", Lost::BadGateway, 10);
    let started = std::time::Instant::now();
    let sent = h.core.client.transfer(&window("acct-1"), "alt", 25).await;
    // Not "offline", not "failed": it may have gone through, and the window must not invite a second one.
    assert_eq!(sent, Err(ClientError::Unconfirmed));
    assert!(started.elapsed() < Duration::from_secs(3), "bounded: {:?}", started.elapsed());
    assert_eq!(h.answers_left_to_lose(), 10 - 4, "four tries in all");

    let transfer = Action::Transfer { to: "alt".into(), amount: 25 };
    assert_eq!(settled(&sink).await, Some((transfer, Outcome::Done)), "the window is told it went through");
    assert!(h.core.client.unconfirmed.of(&main).is_empty());
    let after = h.core.client.profile(&window("acct-2")).await.unwrap().ryo;
    assert_eq!(after, before + 25, "carried out once, by the first try");
}

#[tokio::test]
async fn i12_a_transfer_that_never_arrived_is_settled_as_not_done() {
    let (h, sink, before) = main_sends_alt().await;
    // Every try is lost on its way: to kage-core, the same silence as answers lost after the server acted.
    h.lose_answers("/v1/transfers", Lost::NeverArrived, 4);
    assert_eq!(h.core.client.transfer(&window("acct-1"), "alt", 25).await, Err(ClientError::Unconfirmed));
    let transfer = Action::Transfer { to: "alt".into(), amount: 25 };
    assert_eq!(settled(&sink).await, Some((transfer, Outcome::NotDone)), "the window is told it did not");
    assert_eq!(h.core.client.profile(&window("acct-2")).await.unwrap().ryo, before);
    // Only the settling reached the server, with main's token (I1).
    let sent: Vec<_> = h.records().into_iter().filter(|r| r.path.starts_with("/v1/actions")).collect();
    assert_eq!(sent.len(), 1);
    let main = h.core.windows.pin_of(&window("acct-1")).unwrap().account;
    assert!(matches!(&sent[0].authorization, Presented::Bearer { subject: Some(s), .. } if s == main.user_id()));
}

#[tokio::test]
async fn i12_an_unconfirmed_action_is_asked_about_until_the_server_answers() {
    let (h, sink, before) = main_sends_alt().await;
    h.lose_answers("/v1/transfers", Lost::BadGateway, 4);
    // The first three askings are lost too (the server still struggling): kage-core asks again, backing off.
    h.lose_answers("/v1/actions/settle", Lost::Dropped, 3);
    assert_eq!(h.core.client.transfer(&window("acct-1"), "alt", 25).await, Err(ClientError::Unconfirmed));
    let transfer = Action::Transfer { to: "alt".into(), amount: 25 };
    assert_eq!(settled(&sink).await, Some((transfer, Outcome::Done)));
    assert_eq!(h.answers_left_to_lose(), 0, "four tries and four askings");
    assert_eq!(h.core.client.profile(&window("acct-2")).await.unwrap().ryo, before + 25);
    let told = sink.updates().iter().filter(|u| matches!(u, WindowUpdate::ActionSettled { .. })).count();
    assert_eq!(told, 1, "told once");
}

#[tokio::test]
async fn i12_a_refused_action_whose_answer_was_lost_is_settled_as_refused() {
    let (h, sink, _) = main_sends_alt().await;
    h.lose_answers("/v1/transfers", Lost::Truncated, 4);
    let sent = h.core.client.transfer(&window("acct-1"), "alt", 1_000_000).await;
    // The refusal reached no one whole: the same as any other lost answer.
    assert_eq!(sent, Err(ClientError::Unconfirmed));
    let Some((_, Outcome::Refused { message })) = settled(&sink).await else { panic!("not settled as refused") };
    assert!(message.contains("fewer than"), "the server's own sentence: {message}");
}

#[tokio::test]
async fn i12_a_server_that_cannot_settle_is_asked_once_and_the_window_told_so() {
    let (h, sink, _) = main_sends_alt().await;
    let main = h.core.windows.pin_of(&window("acct-1")).unwrap().account;
    h.set_faults(crate::support::Faults { missing_route: Some("/v1/actions/settle".into()), ..Default::default() });
    h.lose_answers("/v1/transfers", Lost::BadGateway, 4);
    assert_eq!(h.core.client.transfer(&window("acct-1"), "alt", 25).await, Err(ClientError::Unconfirmed));
    let transfer = Action::Transfer { to: "alt".into(), amount: 25 };
    assert_eq!(settled(&sink).await, Some((transfer, Outcome::Unknown)));
    assert!(h.core.client.unconfirmed.of(&main).is_empty(), "not asked again and again");
}
