//! I7: a server event for an account reaches only the windows pinned to that account.

use std::sync::Arc;
use std::time::Duration;

use kage_core::AccountKey;
use kage_core::actions::Stat;
use kage_core::events::{AccountListener, LiveConfig, WindowUpdate};

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

/// `profile.changed` carries the profile's new version. After the window's own action, whose answer is cached
/// when it arrives, the event names a version the cache already holds: the account's other windows get the
/// cached copy, and no `GET /v1/viewer` is sent. A change made elsewhere (a transfer received) is still fetched.
#[tokio::test]
async fn an_event_for_a_version_already_cached_is_delivered_without_a_refetch() {
    let h = Harness::start().await;
    let main = h.sign_in(&window("acct-1"), "main").await;
    h.sign_in(&window("acct-2"), "alt").await;
    h.core.open(&window("acct-3"), &main);
    let sinks: Vec<Arc<RecordingSink>> = (0..3).map(|_| Arc::default()).collect();
    for (label, sink) in ["acct-1", "acct-2", "acct-3"].iter().zip(&sinks) {
        h.core.events.attach(&window(label), sink.clone());
    }
    // Each stream's `ready` refetched once; from here on the log holds only what the actions cause.
    assert!(eventually(Duration::from_secs(5), || sinks.iter().all(|s| !s.updates().is_empty())).await);
    h.clear_records();
    let viewer_gets = || h.records().iter().filter(|r| r.method == "GET" && r.path == "/v1/viewer").count();
    let shows_version = |sink: &RecordingSink, version: i64| {
        sink.updates().iter().any(|u| matches!(u, WindowUpdate::Profile { profile } if profile.version == version))
    };

    let trained = h.core.train(&window("acct-1"), Stat::Agility).await.unwrap();
    let version = trained.profile().version;
    assert!(eventually(Duration::from_secs(5), || shows_version(&sinks[2], version)).await, "acct-3 follows");
    tokio::time::sleep(Duration::from_millis(300)).await; // room for a refetch, were one sent
    assert_eq!(viewer_gets(), 0, "main's own change was not fetched again: {:?}", h.records());

    // Alt's copy is older than the version its event names: fetched, once; main's is not.
    let alt = h.core.client.profile(&window("acct-2")).await.unwrap();
    h.clear_records();
    h.core.transfer(&window("acct-1"), "alt", 5).await.unwrap();
    let alt_paid = || {
        sinks[1].updates().iter().any(|u| matches!(u, WindowUpdate::Profile { profile } if profile.ryo == alt.ryo + 5))
    };
    assert!(eventually(Duration::from_secs(5), alt_paid).await, "alt's window shows the ryo received");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let gets: Vec<_> = h.records().into_iter().filter(|r| r.method == "GET" && r.path == "/v1/viewer").collect();
    assert_eq!(gets.len(), 1, "only alt's profile was fetched: {gets:?}");
}

/// Hears what the account listener is told.
#[derive(Default)]
struct RecordingListener(std::sync::Mutex<Vec<(AccountKey, WindowUpdate)>>);

impl AccountListener for RecordingListener {
    fn hear(&self, account: &AccountKey, update: &WindowUpdate) {
        self.0.lock().unwrap().push((account.clone(), update.clone()));
    }
}

/// Desktop notifications hang on this: an account open in two windows is told of a transfer once, through the
/// account listener, while each window's page still hears it in its own sink; another account hears nothing.
#[tokio::test]
async fn an_accounts_listener_hears_each_event_once_however_many_windows_show_it() {
    let h = Harness::start().await;
    let main = h.sign_in(&window("acct-1"), "main").await;
    let alt = h.sign_in(&window("acct-2"), "alt").await;
    h.core.open(&window("acct-3"), &alt);
    let listener: Arc<RecordingListener> = Arc::default();
    h.core.events.listen(listener.clone());
    let sinks: Vec<Arc<RecordingSink>> = (0..3).map(|_| Arc::default()).collect();
    for (label, sink) in ["acct-1", "acct-2", "acct-3"].iter().zip(&sinks) {
        h.core.events.attach(&window(label), sink.clone());
    }
    assert!(eventually(Duration::from_secs(5), || sinks.iter().all(|s| !s.updates().is_empty())).await);

    h.core.transfer(&window("acct-1"), "alt", 7).await.unwrap();
    let transfers = |updates: Vec<WindowUpdate>| {
        updates.into_iter().filter(|u| matches!(u, WindowUpdate::TransferReceived { amount: 7, .. })).count()
    };
    assert!(eventually(Duration::from_secs(5), || transfers(sinks[2].updates()) == 1).await);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!((transfers(sinks[1].updates()), transfers(sinks[2].updates())), (1, 1), "each of alt's windows");
    let heard = listener.0.lock().unwrap().clone();
    let heard_transfers: Vec<_> =
        heard.iter().filter(|(_, u)| matches!(u, WindowUpdate::TransferReceived { .. })).collect();
    assert_eq!(heard_transfers.len(), 1, "told once for two windows: {heard:?}");
    assert_eq!(heard_transfers[0].0, alt);
    assert!(heard.iter().all(|(account, update)| match update {
        WindowUpdate::Profile { profile } => profile.id == account.user_id(),
        _ => true,
    }));
    assert_ne!(main, alt);
}
