//! What instances on one PostgreSQL database tell each other, through `LISTEN/NOTIFY` (no broker of its own).
//!
//! Three channels: revoked session ids ([`REVOKED_CHANNEL`]), players' events ([`EVENTS_CHANNEL`]) and signing
//! key rotations ([`KEYS_CHANNEL`]). Each is sent inside the transaction that makes it true, so PostgreSQL
//! delivers it when that transaction commits and never for one rolled back; the sending instance hears its
//! own notifications like every other and handles them the same way. A notification is a hint, never the
//! truth: a revoked id is believed once the session's row says so, an event is read from `event_outbox` by
//! the id the notification names ([`outbox`]), a rotation reloads the keys from their table. Any role that
//! may connect may `NOTIFY`; only the server's own role writes those tables.
//!
//! Notifications are not stored: what is sent while a listener has no connection is lost to it. So after
//! every (re)connection, once `LISTEN` is in force, the listener reads what it may have missed from the
//! database: the recent revocations and the current keys; and it tells every open event stream here to
//! `resync` (the client refetches; the profile's version says the rest).
//!
//! **Hearing is proved, not assumed** (issue 21). This loop owns its connection: sqlx's own reconnection is
//! off (it would retry inside `try_recv`, for seconds, while the instance still claimed to hear), every
//! connection attempt is bounded, and the instance counts as hearing only once it has heard its own
//! [`heartbeat`] on the new connection. The moment the connection fails, or a beat goes unheard past its
//! bound (a connection a NAT dropped silently), the instance is *deaf*: `/healthz` answers 503, so a load
//! balancer sends players elsewhere, and every access token it still gets is checked against the database
//! ([`crate::sessions::SessionStore::check_in_database`]), so a session signed out elsewhere is refused here
//! too. The listener then reconnects, with backoff, until it hears again. The connection also asks
//! PostgreSQL for TCP keepalives, so middleboxes see traffic on it and PostgreSQL notices a client gone.

// Without the `postgres` feature only `Hearing` and the outbox's SQL are used (never listening): an instance on
// SQLite is alone.
#![cfg_attr(not(feature = "postgres"), allow(dead_code, unused_imports))]

pub mod heartbeat;
pub mod outbox;
pub mod pooler;

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

#[cfg(feature = "postgres")]
use sqlx::postgres::{PgConnectOptions, PgListener, PgNotification, PgPoolOptions};
use tokio::sync::{mpsc, watch};

use crate::AppState;
use crate::events::EVENTS_CHANNEL;
use crate::secret::Secret;
use crate::sessions::REVOKED_CHANNEL;
use crate::shared_keys::{self, KEYS_CHANNEL};
use heartbeat::{Heartbeat, HeartbeatTiming};

/// How long a lost connection waits before the next try, at most.
const RECONNECT_AT_MOST: Duration = Duration::from_secs(2);
/// How long one connection attempt (connect, `LISTEN`, reading what was missed) may take.
pub const CONNECT_WITHIN: Duration = Duration::from_secs(5);
/// PostgreSQL's TCP keepalive on the listening connection: first probe after this much silence, then every
/// `KEEPALIVE_INTERVAL`, `KEEPALIVE_COUNT` of them unanswered and the server drops the connection.
const KEEPALIVE: &str = "SET tcp_keepalives_idle = 10; SET tcp_keepalives_interval = 5; SET tcp_keepalives_count = 3";

/// Whether this instance hears the others right now.
#[derive(Default)]
pub struct Hearing(AtomicBool);

impl Hearing {
    pub fn is_listening(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }

    fn set(&self, listening: bool) -> bool {
        self.0.swap(listening, Ordering::AcqRel)
    }
}

/// Where and how the listener listens.
pub struct ListenOptions {
    /// The database URL, or `--listen-database-url` (a direct one, past a transaction pooler).
    pub url: Secret,
    pub heartbeat: HeartbeatTiming,
}

/// Why a connection stopped serving.
enum Ended {
    Shutdown,
    Lost(String),
    Deaf(heartbeat::Overdue),
}

/// Listens until `shutdown`, reconnecting whenever the connection is lost or goes deaf.
#[cfg(feature = "postgres")]
pub async fn listen(state: AppState, options: ListenOptions, mut shutdown: watch::Receiver<bool>) {
    let mut heartbeat = Heartbeat::default();
    let delivered = outbox::Delivered::default();
    let mut wait = Duration::from_millis(100);
    let mut first = true;
    loop {
        let connected = tokio::select! {
            connected = tokio::time::timeout(CONNECT_WITHIN, connect(&state, &options.url, heartbeat.channel(), first)) => connected,
            _ = shutdown.wait_for(|stopped| *stopped) => return,
        };
        match connected {
            Ok(Ok(listener)) => {
                wait = Duration::from_millis(100);
                first = false;
                heartbeat.reset();
                let ended = hear(&state, listener, &options, &mut heartbeat, &delivered, &mut shutdown).await;
                let was_hearing = state.hearing.set(false);
                match ended {
                    Ended::Shutdown => return,
                    Ended::Lost(error) => {
                        tracing::warn!(%error, was_hearing, "lost the connection that hears the other instances")
                    }
                    Ended::Deaf(late) => tracing::warn!(
                        waited_ms = late.waited.as_millis() as u64,
                        sent = late.sent,
                        "this instance did not hear its own heartbeat in time: not hearing, reconnecting"
                    ),
                }
            }
            Ok(Err(error)) => tracing::warn!(%error, "cannot listen to the other instances yet"),
            Err(_) => tracing::warn!(within = ?CONNECT_WITHIN, "connecting to listen took too long; trying again"),
        }
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = shutdown.wait_for(|stopped| *stopped) => return,
        }
        wait = (wait * 2).min(RECONNECT_AT_MOST);
    }
}

/// A listener on every channel and this instance's heartbeat, and what was missed before it listened read
/// from the database. Its connection is its own (a pool of one that never reconnects by itself).
#[cfg(feature = "postgres")]
async fn connect(state: &AppState, url: &Secret, heartbeat: &str, first: bool) -> Result<PgListener, sqlx::Error> {
    let options: PgConnectOptions = url.expose().parse()?;
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .min_connections(0)
        .acquire_timeout(CONNECT_WITHIN)
        .max_lifetime(None)
        .idle_timeout(None)
        .connect_lazy_with(options);
    let mut listener = PgListener::connect_with(&pool).await?;
    listener.eager_reconnect(false);
    listener.ignore_pool_close_event(true);
    sqlx::raw_sql(KEEPALIVE).execute(&mut listener).await?;
    listener.listen_all([REVOKED_CHANNEL, EVENTS_CHANNEL, KEYS_CHANNEL, heartbeat]).await?;
    let missed = state.sessions.reload_revoked().await?;
    if missed > 0 {
        tracing::info!(sessions = missed, "revocations made while not listening are in force now");
    }
    match reload_keys(state).await {
        Ok(keys) => state.tokens.replace_keys(keys),
        Err(error) => tracing::warn!(%error, "cannot reload the signing keys"),
    }
    if !first {
        state.events.resync_all();
    }
    Ok(listener)
}

/// Serves one connection: notifications, and the heartbeat that proves they still arrive.
#[cfg(feature = "postgres")]
async fn hear(
    state: &AppState,
    mut listener: PgListener,
    options: &ListenOptions,
    heartbeat: &mut Heartbeat,
    delivered: &outbox::Delivered,
    shutdown: &mut watch::Receiver<bool>,
) -> Ended {
    let timing = options.heartbeat;
    let mut ticks = tokio::time::interval(timing.every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let (sent_tx, mut sent_rx) = mpsc::channel::<(String, bool)>(8);
    loop {
        tokio::select! {
            next = listener.try_recv() => match next {
                Ok(Some(notification)) if notification.channel() == heartbeat.channel() => {
                    if let Some(round_trip) = heartbeat.heard(notification.payload())
                        && !state.hearing.set(true)
                    {
                        tracing::info!(round_trip_ms = round_trip.as_millis() as u64, "hearing the other instances");
                    }
                }
                Ok(Some(notification)) => {
                    if let Err(error) = handle(state, delivered, &notification).await {
                        // What it says cannot be checked: reconnect, which reloads from the database.
                        return Ended::Lost(format!("cannot check a notification: {error}"));
                    }
                }
                Ok(None) => return Ended::Lost("the connection closed".into()),
                Err(error) => return Ended::Lost(error.to_string()),
            },
            Some((nonce, committed)) = sent_rx.recv() => heartbeat.sent(&nonce, committed),
            _ = ticks.tick() => {
                if let Some(late) = heartbeat.overdue(&timing) {
                    return Ended::Deaf(late);
                }
                if let Some(nonce) = heartbeat.to_send() {
                    tokio::spawn(beat(state.clone(), heartbeat.channel().to_owned(), nonce, timing.send_within, sent_tx.clone()));
                }
            }
            () = stopped(shutdown) => return Ended::Shutdown,
        }
    }
}

/// The shared key set as the database holds it now.
async fn reload_keys(state: &AppState) -> Result<crate::keys::SigningKeys, crate::keys::KeyError> {
    let sealing = state.signing_key_sealing.as_ref().ok_or(crate::keys::KeyError::NoSealingKey)?;
    shared_keys::reload(&state.db, sealing).await
}

/// Returns once the server is shutting down.
async fn stopped(shutdown: &mut watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|stopped| *stopped).await;
}

/// Sends one heartbeat through the instance's pool, as a revocation would travel, and says whether it committed.
async fn beat(state: AppState, channel: String, nonce: String, within: Duration, done: mpsc::Sender<(String, bool)>) {
    let send = sqlx::query("SELECT pg_notify($1, $2)").bind(&channel).bind(&nonce).execute(&state.db.writer);
    let committed = match tokio::time::timeout(within, send).await {
        Ok(Ok(_)) => true,
        Ok(Err(error)) => {
            tracing::debug!(%error, "cannot send a heartbeat");
            false
        }
        Err(_) => false,
    };
    let _ = done.send((nonce, committed)).await;
}

/// Acts on a notification once the database confirms it.
#[cfg(feature = "postgres")]
async fn handle(
    state: &AppState,
    delivered: &outbox::Delivered,
    notification: &PgNotification,
) -> Result<(), sqlx::Error> {
    let payload = notification.payload();
    match notification.channel() {
        REVOKED_CHANNEL => {
            if !state.sessions.revoked_elsewhere(payload).await? {
                tracing::warn!("a revocation notification the database does not confirm; ignored");
            }
        }
        EVENTS_CHANNEL => match delivered.take(&state.db, payload).await? {
            Some(event) => state.events.publish(event),
            None => tracing::debug!("an event notification naming no recent event row; ignored"),
        },
        KEYS_CHANNEL => match reload_keys(state).await {
            Ok(keys) => {
                tracing::info!(kid = %payload, "signing keys rotated by an instance");
                state.tokens.replace_keys(keys);
            }
            Err(error) => tracing::warn!(%error, "cannot reload the rotated signing keys"),
        },
        other => tracing::debug!(channel = other, "notification on an unknown channel"),
    }
    Ok(())
}
