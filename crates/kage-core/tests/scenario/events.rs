//! I7: a server event for an account reaches only the windows pinned to that account.

use std::sync::Arc;
use std::time::Duration;

use kage_core::actions::Stat;
use kage_core::events::{LiveConfig, WindowUpdate};

use crate::support::{Harness, RecordingSink, eventually, window};

#[tokio::test]
async fn i7_events_for_one_account_never_reach_another_accounts_window() {
    let live = LiveConfig { refetch_interval: Duration::from_millis(150), ..LiveConfig::default() };
    let h = Harness::start_with(|_| {}, live).await;
    let main = h.sign_in(&window("acct-1"), "main").await;
    let alt = h.sign_in(&window("acct-2"), "alt").await;
    h.core.open(&window("acct-3"), &main);
    let sinks: Vec<(&str, &str, Arc<RecordingSink>)> = vec![
        ("acct-1", main.user_id(), Arc::default()),
        ("acct-2", alt.user_id(), Arc::default()),
        ("acct-3", main.user_id(), Arc::default()),
    ];
    for (label, _, sink) in &sinks {
        h.core.events.attach(&window(label), sink.clone());
    }
    // Both streams are up when each window has had its first profile from the stream's `ready`.
    assert!(eventually(Duration::from_secs(5), || sinks.iter().all(|(_, _, s)| !s.updates().is_empty())).await);

    h.core.client.train(&window("acct-2"), Stat::Chakra).await.unwrap();
    h.core.client.transfer(&window("acct-1"), "alt", 25).await.unwrap();
    let alt_sink = &sinks[1].2;
    let heard_transfer = || {
        alt_sink
            .updates()
            .iter()
            .any(|u| matches!(u, WindowUpdate::TransferReceived { from, amount: 25 } if from == "main"))
    };
    assert!(eventually(Duration::from_secs(5), heard_transfer).await, "alt's window hears the transfer");
    tokio::time::sleep(Duration::from_millis(400)).await; // let refetches and pushes interleave

    for (label, owner, sink) in &sinks {
        for update in sink.updates() {
            match update {
                WindowUpdate::Profile { profile } => assert_eq!(&profile.id, owner, "{label} got another's profile"),
                WindowUpdate::TransferReceived { .. } => assert_eq!(*label, "acct-2", "{label} got alt's transfer"),
                WindowUpdate::Status { .. } => {}
                WindowUpdate::ActionSettled { .. } => panic!("{label}: no action was left unconfirmed"),
            }
        }
    }
    let main_sees = |sink: &RecordingSink| {
        sink.updates().iter().rev().find_map(|u| match u {
            WindowUpdate::Profile { profile } => Some(profile.ryo),
            _ => None,
        })
    };
    assert_eq!(main_sees(&sinks[0].2), main_sees(&sinks[2].2), "both of main's windows show the same balance");
    assert_eq!(main_sees(&sinks[0].2), Some(1000 - 25));
}

#[tokio::test]
async fn i7_a_window_switched_away_stops_hearing_its_old_account() {
    let h = Harness::start().await;
    let w = window("acct-1");
    let main = h.sign_in(&w, "main").await;
    let alt = h.sign_in(&window("acct-2"), "alt").await;
    let sink: Arc<RecordingSink> = Arc::default();
    h.core.events.attach(&w, sink.clone());
    assert!(eventually(Duration::from_secs(5), || !sink.updates().is_empty()).await);

    h.core.open(&w, &alt);
    sink.0.lock().unwrap().clear();
    // main acts (through a fresh window) after acct-1 switched to alt: acct-1 must not hear it.
    h.core.open(&window("acct-5"), &main);
    h.core.client.train(&window("acct-5"), Stat::Strength).await.unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    for update in sink.updates() {
        if let WindowUpdate::Profile { profile } = update {
            assert_eq!(profile.id, alt.user_id(), "acct-1 heard main after switching to alt");
        }
    }
}
