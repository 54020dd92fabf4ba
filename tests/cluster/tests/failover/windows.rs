//! The players' windows as the app has them: each pinned to its own account in one kage-core `Core`, each
//! listening through a sink that keeps what kage-core delivered to it (stream events and their refetches;
//! not the answers to the window's own actions), and watched as its page would be, every 10 ms.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use kage_core::client::ClientError;
use kage_core::events::{WindowSink, WindowUpdate};
use kage_core::model::Profile;
use kage_core::sessions::{AccountStatus, TokenError};
use kage_core::{AccountKey, Core, SecretString, ServerOrigin, WindowLabel};
use serde_json::json;

pub struct Player {
    /// 0 for main, 1 for alt.
    pub index: usize,
    pub name: &'static str,
    pub window: WindowLabel,
    pub account: AccountKey,
    pub seen: Arc<Seen>,
}

impl Player {
    /// Signs the player up at `url`, signs them in through kage-core in window `acct-<name>` (remembered, so
    /// in the vault), attaches the window's sink, and returns once the event stream delivered a first profile.
    pub async fn sign_up_and_in(core: &Core, url: &str, origin: &ServerOrigin, name: &'static str) -> Self {
        let password = format!("{name}-password");
        let response = reqwest::Client::new()
            .post(format!("{url}/v1/sign-up"))
            .json(&json!({ "username": name, "password": password }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201, "sign-up of {name}");
        let window = WindowLabel::new(format!("acct-{name}"));
        let signed_in = core.sign_in(&window, origin, name, &SecretString::from(password), true).await.unwrap();
        let seen = Arc::new(Seen::new(signed_in.account.clone()));
        core.events.attach(&window, seen.clone());
        let started = Instant::now();
        while seen.last_profile().is_none() {
            assert!(started.elapsed() < Duration::from_secs(5), "{name}'s stream delivers a first profile");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Self { index: usize::from(name == "alt"), name, window, account: signed_in.account, seen }
    }
}

/// A window's sink: what kage-core delivered to it, and anything it must never have been sent.
pub struct Seen {
    owner: AccountKey,
    updates: Mutex<Vec<(Instant, WindowUpdate)>>,
    wrong: Mutex<Vec<String>>,
}

impl WindowSink for Seen {
    fn send(&self, account: &AccountKey, update: WindowUpdate) -> bool {
        let owner = &self.owner;
        let wrong = match &update {
            _ if account != owner => Some(format!("{owner}'s window was sent an update for {account}")),
            WindowUpdate::Profile { profile } if profile.id != owner.user_id() => {
                Some(format!("{owner}'s window was sent {}'s profile", profile.username))
            }
            WindowUpdate::Status { status: AccountStatus::SignedOut } => Some(format!("{owner}'s window: signed out")),
            _ => None,
        };
        if let Some(wrong) = wrong {
            self.wrong.lock().unwrap().push(wrong);
        }
        self.updates.lock().unwrap().push((Instant::now(), update));
        true
    }
}

impl Seen {
    fn new(owner: AccountKey) -> Self {
        Self { owner, updates: Mutex::default(), wrong: Mutex::default() }
    }

    /// The profile the window shows now: the last one delivered.
    pub fn last_profile(&self) -> Option<Profile> {
        self.updates.lock().unwrap().iter().rev().find_map(|(_, update)| match update {
            WindowUpdate::Profile { profile } => Some(profile.clone()),
            _ => None,
        })
    }

    /// What the window was sent that it must never be sent.
    pub fn wrong(&self) -> Vec<String> {
        self.wrong.lock().unwrap().clone()
    }

    /// How long the window was told it is offline, in all.
    pub fn offline_time(&self) -> Duration {
        let updates = self.updates.lock().unwrap();
        let mut since = None;
        let mut total = Duration::ZERO;
        for (at, update) in updates.iter() {
            let WindowUpdate::Status { status } = update else { continue };
            match (status, since) {
                (AccountStatus::Offline, None) => since = Some(*at),
                (AccountStatus::Offline, Some(_)) | (_, None) => {}
                (_, Some(from)) => {
                    total += at.duration_since(from);
                    since = None;
                }
            }
        }
        total + since.map_or(Duration::ZERO, |from| from.elapsed())
    }
}

/// Looks at every window every 10 ms, as its page would (its account, its status, its cached profile), until
/// `watching` goes false; returns what was wrong.
pub async fn watch_windows(core: Arc<Core>, players: Arc<[Player]>, watching: Arc<AtomicBool>) -> Vec<String> {
    let mut wrong = Vec::new();
    while watching.load(Ordering::SeqCst) {
        for player in players.iter() {
            let view = core.view(&player.window);
            if view.account.as_deref() != Some(player.account.id()) {
                wrong.push(format!("{}'s window shows account {:?}", player.name, view.account));
            }
            if view.status == AccountStatus::SignedOut {
                wrong.push(format!("{}'s window shows signed out", player.name));
            }
            if let Some(cached) = view.cached.filter(|c| c.id != player.account.user_id()) {
                wrong.push(format!("{}'s window shows {}'s cached profile", player.name, cached.username));
            }
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    wrong
}

/// An answer that would send the window to the sign-in screen, or show it someone else.
pub fn signs_out(error: &ClientError) -> bool {
    matches!(
        error,
        ClientError::Token(TokenError::SignedOut | TokenError::WrongSubject | TokenError::Superseded)
            | ClientError::NotPinned
            | ClientError::WrongAccount
            | ClientError::Outdated
            | ClientError::Refused { status: 401 | 403, .. }
    )
}
