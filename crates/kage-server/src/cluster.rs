//! What instances on one PostgreSQL database tell each other, through `LISTEN/NOTIFY` (no broker of its own).
//!
//! Three channels: revoked session ids ([`REVOKED_CHANNEL`]), players' events ([`EVENTS_CHANNEL`]) and signing
//! key rotations ([`KEYS_CHANNEL`]). Each is sent inside the transaction that makes it true, so PostgreSQL
//! delivers it when that transaction commits and never for one rolled back; the sending instance hears its
//! own notifications like every other and handles them the same way.
//!
//! Notifications are not stored: what is sent while a listener has no connection is lost to it. So after
//! every (re)connection, once `LISTEN` is in force, the listener reads what it may have missed from the
//! database: the recent revocations and the current keys; and it tells every open event stream here to
//! `resync` (the client refetches; the profile's version says the rest). Until the listener first listens,
//! and while it is reconnecting, `/healthz` answers 503, so a load balancer sends players to an instance that
//! hears revocations.

// Without the `postgres` feature only `Hearing` is left (never listening): an instance on SQLite is alone.
#![cfg_attr(not(feature = "postgres"), allow(dead_code, unused_imports))]

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

#[cfg(feature = "postgres")]
use sqlx::postgres::{PgListener, PgNotification};
use tokio::sync::watch;

use crate::AppState;
use crate::events::{EVENTS_CHANNEL, GameEvent};
use crate::sessions::REVOKED_CHANNEL;
use crate::shared_keys::{self, KEYS_CHANNEL};

/// How long a lost connection waits before the next try, at most.
const RECONNECT_AT_MOST: Duration = Duration::from_secs(2);

/// Whether this instance hears the others right now.
#[derive(Default)]
pub struct Hearing(AtomicBool);

impl Hearing {
    pub fn is_listening(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }

    fn set(&self, listening: bool) {
        self.0.store(listening, Ordering::Release);
    }
}

/// Listens until `shutdown`, reconnecting whenever the connection is lost.
#[cfg(feature = "postgres")]
pub async fn listen(state: AppState, mut shutdown: watch::Receiver<bool>) {
    let mut wait = Duration::from_millis(100);
    let mut first = true;
    loop {
        let connected = tokio::select! {
            connected = connect(&state, first) => connected,
            _ = shutdown.wait_for(|stopped| *stopped) => return,
        };
        match connected {
            Ok(mut listener) => {
                wait = Duration::from_millis(100);
                first = false;
                state.hearing.set(true);
                tracing::info!("listening to the other instances");
                loop {
                    let next = tokio::select! {
                        next = listener.try_recv() => next,
                        _ = shutdown.wait_for(|stopped| *stopped) => return,
                    };
                    match next {
                        Ok(Some(notification)) => handle(&state, &notification).await,
                        Ok(None) => break,
                        Err(error) => {
                            tracing::warn!(%error, "lost the connection that hears the other instances");
                            break;
                        }
                    }
                }
                state.hearing.set(false);
            }
            Err(error) => tracing::warn!(%error, "cannot listen to the other instances yet"),
        }
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = shutdown.wait_for(|stopped| *stopped) => return,
        }
        wait = (wait * 2).min(RECONNECT_AT_MOST);
    }
}

/// A listener on every channel, and what was missed before it listened read from the database.
#[cfg(feature = "postgres")]
async fn connect(state: &AppState, first: bool) -> Result<PgListener, sqlx::Error> {
    let mut listener = PgListener::connect(state.db.url().expose()).await?;
    listener.listen_all([REVOKED_CHANNEL, EVENTS_CHANNEL, KEYS_CHANNEL]).await?;
    let missed = state.sessions.reload_revoked().await?;
    if missed > 0 {
        tracing::info!(sessions = missed, "revocations made while not listening are in force now");
    }
    match shared_keys::reload(&state.db).await {
        Ok(keys) => state.tokens.replace_keys(keys),
        Err(error) => tracing::warn!(%error, "cannot reload the signing keys"),
    }
    if !first {
        state.events.resync_all();
    }
    Ok(listener)
}

#[cfg(feature = "postgres")]
async fn handle(state: &AppState, notification: &PgNotification) {
    let payload = notification.payload();
    match notification.channel() {
        REVOKED_CHANNEL => state.sessions.revoked_elsewhere(payload),
        EVENTS_CHANNEL => match GameEvent::from_notification(payload) {
            Some(event) => state.events.publish(event),
            None => tracing::warn!("an event notification this instance cannot read"),
        },
        KEYS_CHANNEL => match shared_keys::reload(&state.db).await {
            Ok(keys) => {
                tracing::info!(kid = %payload, "signing keys rotated by an instance");
                state.tokens.replace_keys(keys);
            }
            Err(error) => tracing::warn!(%error, "cannot reload the rotated signing keys"),
        },
        other => tracing::debug!(channel = other, "notification on an unknown channel"),
    }
}
