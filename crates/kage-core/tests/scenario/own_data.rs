//! I3: an answer is cached and shown in a window only if it is about the window's account and the window has
//! not been switched since the request left.

use std::time::Duration;

use kage_core::client::ClientError;
use kage_core::model::Profile;
use kage_core::{AccountKey, WindowLabel};
use tokio::task::JoinHandle;

use crate::support::{Faults, Harness, window};

#[tokio::test]
async fn i3_server_answering_with_another_players_profile_is_refused_and_cache_untouched() {
    let h = Harness::start().await;
    let w = window("acct-1");
    let main = h.sign_in(&w, "main").await;
    let alt = h.sign_in(&window("acct-2"), "alt").await;
    let main_before = h.core.client.profile(&w).await.unwrap();
    let alt_profile = h.core.client.profile(&window("acct-2")).await.unwrap();

    // A misbehaving server (or cache in between) hands main's window alt's profile, even a newer version.
    let mut swapped = serde_json::to_value(&alt_profile).unwrap();
    swapped["version"] = serde_json::json!(main_before.version + 100);
    h.set_faults(Faults { swap_profile: Some(swapped), ..Faults::default() });
    assert_eq!(h.core.client.profile(&w).await, Err(ClientError::WrongAccount));

    assert_eq!(h.core.cache.get(&main).unwrap().profile, main_before, "main's partition untouched");
    assert_eq!(h.core.cache.get(&alt).unwrap().profile, alt_profile, "alt's partition untouched");
    assert_eq!(h.core.view(&w).cached.unwrap().username, "main");
}

/// main's window (alt signed in beside it) has asked for its profile, and the answer is 600 ms away.
async fn main_window_with_a_slow_answer_on_its_way()
-> (Harness, WindowLabel, AccountKey, AccountKey, JoinHandle<Result<Profile, ClientError>>) {
    let h = Harness::start().await;
    let w = window("acct-1");
    let main = h.sign_in(&w, "main").await;
    let alt = h.sign_in(&window("acct-2"), "alt").await;
    h.set_faults(Faults { delay_profile: Some(Duration::from_millis(600)), ..Faults::default() });
    let late = tokio::spawn({
        let client = h.core.client.clone();
        let w = w.clone();
        async move { client.profile(&w).await }
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    (h, w, main, alt, late)
}

#[tokio::test]
async fn i3_answer_arriving_after_the_window_switched_accounts_is_dropped() {
    let (h, w, main, alt, late) = main_window_with_a_slow_answer_on_its_way().await;
    h.core.open(&w, &alt); // the player switches this window to alt while main's answer is on its way
    assert_eq!(late.await.unwrap(), Err(ClientError::Outdated));
    assert!(h.core.cache.get(&main).is_none(), "the late answer was not cached");
    assert_eq!(h.core.view(&w).account.as_deref(), Some(alt.id()));

    h.set_faults(Faults::default());
    assert_eq!(h.core.client.profile(&w).await.unwrap().username, "alt");
}

#[tokio::test]
async fn i3_late_answer_after_switching_away_and_back_is_still_dropped() {
    let (h, w, main, alt, late) = main_window_with_a_slow_answer_on_its_way().await;
    h.core.open(&w, &alt);
    h.core.open(&w, &main);
    assert_eq!(late.await.unwrap(), Err(ClientError::Outdated), "a new epoch, even for the same account");
}
