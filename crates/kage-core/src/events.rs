//! Live updates for windows: one server event stream per signed-in account (not per window), background
//! refetch per window, and account status changes, each delivered only to the windows pinned to that account,
//! through a sink each window provides (in the app: a Tauri `ipc::Channel` that webview created).
//!
//! Delivery looks up the account's windows at the moment of delivery, so a window that switched away no longer
//! hears the old account (I7). Every event is checked against the stream's account before anything is done
//! with it; an event naming another player is dropped.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use tokio::task::JoinHandle;

use crate::account::{AccountKey, WindowLabel};
use crate::actions::{Action, Outcome, UnconfirmedActions};
use crate::client::Client;
use crate::locks::Recover;
use crate::model::Profile;
use crate::sessions::{AccountStatus, Sessions, TokenError};
use crate::sse::{SseEvent, SseReader};
use crate::transport::{Transport, is_gateway_failure};
use crate::windows::Windows;

/// What a window is told about its account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum WindowUpdate {
    Profile {
        profile: Profile,
    },
    Status {
        status: AccountStatus,
    },
    TransferReceived {
        from: String,
        amount: i64,
    },
    /// What became of an action the window was told was not confirmed (see [`crate::actions`]).
    ActionSettled {
        action: Action,
        outcome: Outcome,
    },
}

/// Where a window's updates go. Returns false once the window is gone. `account` is the account the update is
/// about; the shell passes its id on with the update, so the page can drop anything not for the account it
/// shows (defence in depth for I3).
pub trait WindowSink: Send + Sync + 'static {
    fn send(&self, account: &AccountKey, update: WindowUpdate) -> bool;
}

/// Hears each update about an account once, however many windows show the account (or none of them has the
/// focus): the one place for what is about the account rather than a window, such as a desktop notification.
/// A window's sink, by contrast, is told once per window.
pub trait AccountListener: Send + Sync + 'static {
    fn hear(&self, account: &AccountKey, update: &WindowUpdate);
}

#[derive(Debug, Clone, Copy)]
pub struct LiveConfig {
    /// Background refetch of each window's profile (the seed bug's 5-minute poll, done right).
    pub refetch_interval: Duration,
    /// First reconnect delay of an event stream; doubles up to `max_backoff`.
    pub min_backoff: Duration,
    pub max_backoff: Duration,
}

impl Default for LiveConfig {
    fn default() -> Self {
        Self {
            refetch_interval: Duration::from_secs(300),
            min_backoff: Duration::from_millis(250),
            // Also how long a window may stay "offline" after its server came back.
            max_backoff: Duration::from_secs(10),
        }
    }
}

#[derive(Deserialize)]
struct EventData {
    user_id: String,
    #[serde(default)]
    from: Option<String>,
    #[serde(default)]
    amount: Option<i64>,
    /// `profile.changed`: the profile's version after the change.
    #[serde(default)]
    version: Option<i64>,
}

pub struct Events {
    transport: Arc<Transport>,
    client: Arc<Client>,
    sessions: Arc<Sessions>,
    windows: Arc<Windows>,
    config: LiveConfig,
    sinks: Mutex<HashMap<WindowLabel, Arc<dyn WindowSink>>>,
    listeners: Mutex<Vec<Arc<dyn AccountListener>>>,
    streams: Mutex<HashMap<AccountKey, JoinHandle<()>>>,
    refetchers: Mutex<HashMap<WindowLabel, JoinHandle<()>>>,
    status_task: Mutex<Option<JoinHandle<()>>>,
    settle_task: Mutex<Option<JoinHandle<()>>>,
    closed: std::sync::atomic::AtomicBool,
}

impl Events {
    pub fn new(
        transport: Arc<Transport>,
        client: Arc<Client>,
        sessions: Arc<Sessions>,
        windows: Arc<Windows>,
        config: LiveConfig,
    ) -> Arc<Self> {
        let events = Arc::new(Self {
            transport,
            client,
            sessions,
            windows,
            config,
            sinks: Mutex::default(),
            listeners: Mutex::default(),
            streams: Mutex::default(),
            refetchers: Mutex::default(),
            status_task: Mutex::default(),
            settle_task: Mutex::default(),
            closed: Default::default(),
        });
        let forwarder = tokio::spawn(forward_status(Arc::downgrade(&events), events.sessions.status_changes()));
        *events.status_task.lock().recover() = Some(forwarder);
        let settler = tokio::spawn(settle_loop(Arc::downgrade(&events), events.client.unconfirmed.clone()));
        *events.settle_task.lock().recover() = Some(settler);
        events
    }

    /// Connects a window's sink and starts its background refetch. Call after pinning (or re-pinning) it.
    pub fn attach(self: &Arc<Self>, window: &WindowLabel, sink: Arc<dyn WindowSink>) {
        if self.closed.load(std::sync::atomic::Ordering::SeqCst) {
            return;
        }
        self.sinks.lock().recover().insert(window.clone(), sink);
        let refetcher = tokio::spawn(refetch_loop(Arc::downgrade(self), window.clone(), self.config.refetch_interval));
        if let Some(old) = self.refetchers.lock().recover().insert(window.clone(), refetcher) {
            old.abort();
        }
        self.sync_streams();
    }

    /// Disconnects a window (closed or signed out) and stops what only it needed.
    pub fn detach(self: &Arc<Self>, window: &WindowLabel) {
        self.sinks.lock().recover().remove(window);
        if let Some(refetcher) = self.refetchers.lock().recover().remove(window) {
            refetcher.abort();
        }
        self.sync_streams();
    }

    /// Runs one event stream for each account that a listening window (one with a sink) is pinned to, and
    /// none for the others.
    pub fn sync_streams(self: &Arc<Self>) {
        if self.closed.load(std::sync::atomic::Ordering::SeqCst) {
            return;
        }
        // The sinks lock is never held while taking the pins lock (delivery takes them in the other order).
        let listening: Vec<WindowLabel> = self.sinks.lock().recover().keys().cloned().collect();
        let wanted: Vec<AccountKey> = self
            .windows
            .pinned_accounts()
            .into_iter()
            .filter(|account| self.windows.windows_of(account).iter().any(|w| listening.contains(w)))
            .filter(|account| self.sessions.status(account) != AccountStatus::SignedOut)
            .collect();
        let mut streams = self.streams.lock().recover();
        streams.retain(|account, task| {
            let keep = wanted.contains(account) && !task.is_finished();
            if !keep {
                task.abort();
            }
            keep
        });
        for account in wanted {
            streams.entry(account.clone()).or_insert_with(|| tokio::spawn(stream_loop(Arc::downgrade(self), account)));
        }
    }

    /// Ends the account's event stream and, if its windows still listen, opens it again (its route changed:
    /// a stream left open would keep using the old one).
    pub fn reconnect(self: &Arc<Self>, account: &AccountKey) {
        if let Some(task) = self.streams.lock().recover().remove(account) {
            task.abort();
        }
        self.sync_streams();
    }

    /// Adds a listener told of every account's updates once each (the desktop notifications, the overview).
    pub fn listen(&self, listener: Arc<dyn AccountListener>) {
        self.listeners.lock().recover().push(listener);
    }

    /// Sends `update` to every window pinned to `account` right now, and to no other; then tells each account
    /// listener, once, outside the pins lock (it may look at the account's windows).
    pub fn deliver(&self, account: &AccountKey, update: &WindowUpdate) {
        self.windows.for_each_window_of(account, |window| self.deliver_to(window, account, update.clone()));
        let listeners = self.listeners.lock().recover().clone();
        for listener in listeners {
            listener.hear(account, update);
        }
    }

    fn deliver_to(&self, window: &WindowLabel, account: &AccountKey, update: WindowUpdate) {
        let sink = self.sinks.lock().recover().get(window).cloned();
        if let Some(sink) = sink
            && !sink.send(account, update)
        {
            self.sinks.lock().recover().remove(window);
        }
    }

    /// Asks the server about every action not confirmed yet; tells each account's windows what became of those
    /// it answered about. Returns how many are still waiting.
    async fn settle_waiting(&self) -> usize {
        let mut left = 0;
        for (account, key) in self.client.unconfirmed.waiting() {
            if self.sessions.status(&account) == AccountStatus::SignedOut {
                // No token to ask with, and the windows show the sign-in screen: the profile after the next
                // sign-in shows what happened.
                self.client.unconfirmed.settled(&account, &key);
                continue;
            }
            match self.client.settle(&account, &key).await {
                Ok(outcome) => {
                    if let Some(action) = self.client.unconfirmed.settled(&account, &key) {
                        self.deliver(&account, &WindowUpdate::ActionSettled { action, outcome });
                        self.refetch_and_deliver(&account).await;
                    }
                }
                Err(error) => {
                    tracing::debug!(account = %account, %error, "could not settle an action yet");
                    left += 1;
                }
            }
        }
        left
    }

    /// The account's profile changed to `version`: its windows get the cached copy when that is already as new
    /// (the change was this computer's own action, whose answer is cached on arrival, and waited for briefly if
    /// the event overtook it), else a fresh one. The skipped fetch was one `GET /v1/viewer` per action.
    async fn catch_up(&self, account: &AccountKey, version: Option<i64>) {
        let cached = match version {
            Some(version) => self.client.cached_since(account, version, OWN_ANSWER_WAIT).await,
            None => None,
        };
        // A sign-out erases the partition just after marking the account: nothing of it is shown meanwhile.
        if let Some(cached) = cached.filter(|_| self.sessions.status(account) != AccountStatus::SignedOut) {
            self.deliver(account, &WindowUpdate::Profile { profile: cached });
            return;
        }
        self.refetch_and_deliver(account).await
    }

    async fn refetch_and_deliver(&self, account: &AccountKey) {
        match self.client.refetch_account(account).await {
            Ok(profile) => self.deliver(account, &WindowUpdate::Profile { profile }),
            Err(error) => tracing::debug!(account = %account, %error, "refetch after event failed"),
        }
    }
}

impl Events {
    /// Stops every task (streams, refetches, status forwarding) now, even while one of them is mid-request, and
    /// starts no more: the app is quitting (or, in tests, "crashed").
    pub fn shutdown(&self) {
        self.closed.store(true, std::sync::atomic::Ordering::SeqCst);
        self.abort_all();
    }

    fn abort_all(&self) {
        for (_, task) in self.streams.lock().recover().drain() {
            task.abort();
        }
        for (_, task) in self.refetchers.lock().recover().drain() {
            task.abort();
        }
        for task in [&self.status_task, &self.settle_task] {
            if let Some(task) = task.lock().recover().take() {
                task.abort();
            }
        }
    }
}

impl Drop for Events {
    fn drop(&mut self) {
        self.abort_all();
    }
}

async fn forward_status(
    events: std::sync::Weak<Events>,
    mut changes: tokio::sync::broadcast::Receiver<(AccountKey, AccountStatus)>,
) {
    loop {
        let (account, status) = match changes.recv().await {
            Ok(change) => change,
            Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
            Err(_) => return,
        };
        let Some(events) = events.upgrade() else { return };
        events.deliver(&account, &WindowUpdate::Status { status });
        if status != AccountStatus::SignedOut {
            events.sync_streams();
        }
    }
}

/// Settles actions not confirmed as they come: at once, then with the streams' backoff while the server
/// cannot answer.
async fn settle_loop(events: std::sync::Weak<Events>, unconfirmed: Arc<UnconfirmedActions>) {
    let mut pause = None;
    loop {
        match pause {
            None => unconfirmed.added().await,
            Some(pause) => {
                // A new action is worth asking about at once, with the others.
                let _ = tokio::time::timeout(pause, unconfirmed.added()).await;
            }
        }
        let Some(live) = events.upgrade() else { return };
        let (min, max) = (live.config.min_backoff, live.config.max_backoff);
        let left = live.settle_waiting().await;
        drop(live);
        pause = (left > 0).then(|| pause.map_or(min, |d: Duration| (d * 2).min(max)));
    }
}

async fn refetch_loop(events: std::sync::Weak<Events>, window: WindowLabel, interval: Duration) {
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticker.tick().await; // the first tick is immediate; the window fetched on opening
    loop {
        ticker.tick().await;
        let Some(events) = events.upgrade() else { return };
        match events.client.profile(&window).await {
            // Checked again under the pin lock: the window may have switched since the answer was accepted.
            Ok(profile) => events.windows.with_pin(&window, |pin| {
                if let Some(pin) = pin.filter(|pin| pin.account.user_id() == profile.id) {
                    events.deliver_to(&window, &pin.account, WindowUpdate::Profile { profile });
                }
            }),
            Err(error) => tracing::debug!(window = %window, %error, "background refetch failed"),
        }
    }
}

async fn stream_loop(events: std::sync::Weak<Events>, account: AccountKey) {
    let mut backoff = None;
    loop {
        if let Some(delay) = backoff {
            tokio::time::sleep(delay).await;
        }
        let Some(live) = events.upgrade() else { return };
        let (min, max) = (live.config.min_backoff, live.config.max_backoff);
        backoff = Some(backoff.map_or(min, |d: Duration| (d * 2).min(max)));
        let token = match live.sessions.token_for(&account).await {
            Ok(token) => token,
            Err(TokenError::SignedOut) => return,
            Err(TokenError::RateLimited { retry_after }) => {
                backoff = Some(retry_after.max(min));
                continue;
            }
            Err(_) => continue,
        };
        // Taken per connection: a changed proxy applies when the stream reconnects (see `reconnect`).
        let request = live
            .transport
            .authorized(&account, reqwest::Method::GET, "/v1/events", &token.secret)
            .query(&[("viewer_id", account.user_id())])
            .timeout(Duration::from_secs(24 * 3600));
        let response = match request.send().await {
            Ok(response) if response.status().is_success() => response,
            Ok(response) => {
                if let Some(wait) = crate::retry_after::of_response(&response) {
                    // The server asked for room: reconnect no sooner than it said.
                    backoff = Some(wait.max(min));
                } else if response.status() == reqwest::StatusCode::UNAUTHORIZED {
                    live.sessions.invalidate(&account, &token);
                } else if is_gateway_failure(response.status()) {
                    live.sessions.note_unreachable(&account);
                }
                continue;
            }
            // The server is down or the network is: the account's windows say so at once (not at the next
            // refetch), and say it no more once the stream is back.
            Err(_) => {
                live.sessions.note_unreachable(&account);
                continue;
            }
        };
        drop(live);
        let mut bytes = response.bytes_stream();
        let mut reader = SseReader::new(MAX_EVENT_BYTES);
        while let Some(Ok(chunk)) = bytes.next().await {
            let Ok(parsed) = reader.push(&chunk) else {
                tracing::warn!(account = %account, "event stream overflowed; reconnecting");
                break;
            };
            for event in parsed {
                let Some(live) = events.upgrade() else { return };
                if handle_event(&live, &account, &event).await {
                    live.sessions.note_reachable(&account);
                    backoff = None;
                }
            }
        }
    }
}

/// How long a `profile.changed` waits for an answer on its way for its account before fetching the profile
/// itself. The stream's later events wait behind it, so it is short: the server sends the answer right after
/// the event, and an answer slower than this is fetched anyway, as before.
const OWN_ANSWER_WAIT: Duration = Duration::from_millis(500);

/// The most one event may buffer before the stream is restarted (real events are a few hundred bytes).
const MAX_EVENT_BYTES: usize = 64 * 1024;

/// Acts on one event; true when it was the stream's `ready` (the connection is good).
async fn handle_event(events: &Events, account: &AccountKey, event: &SseEvent) -> bool {
    let name = event.name.as_str();
    let Ok(data) = serde_json::from_str::<EventData>(&event.data) else {
        tracing::warn!(account = %account, event = name, "malformed event dropped");
        return false;
    };
    if data.user_id != account.user_id() {
        tracing::warn!(account = %account, event = name, "event for another account dropped");
        return false;
    }
    match name {
        // On (re)connect, events may have been missed: fetch once.
        "ready" | "resync" => events.refetch_and_deliver(account).await,
        "profile.changed" => events.catch_up(account, data.version).await,
        "transfer.received" => {
            if let (Some(from), Some(amount)) = (data.from, data.amount) {
                events.deliver(account, &WindowUpdate::TransferReceived { from, amount });
            }
        }
        _ => {}
    }
    name == "ready"
}
