//! `GET /v1/events`: the signed-in player's events as Server-Sent Events.
//!
//! The stream subscribes to the hub by the verified token's subject (so it can only ever carry that player's
//! events) and ends as soon as the token's session is revoked, the client goes away, or the server shuts
//! down. It opens with a `ready` event, so a client knows from when on it will miss nothing. A player may hold
//! at most [`MAX_STREAMS_PER_PLAYER`] streams at once (across every instance on PostgreSQL, see
//! [`crate::stream_slots`]); one more is a 429.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::Stream;
use serde_json::json;
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::mpsc;
use tokio_stream::StreamExt;
use tokio_stream::wrappers::ReceiverStream;

use crate::AppState;
use crate::auth::Viewer;
use crate::error::ApiError;
use crate::events::{MAX_STREAMS_PER_PLAYER, StreamSlot};
use crate::stream_slots;

/// Comments keep a quiet stream alive every 15 s, or more often if the server closes idle connections sooner.
pub fn keep_alive_for(idle_timeout: Duration) -> Duration {
    Duration::from_secs(15).min(idle_timeout / 3).max(Duration::from_millis(100))
}

pub async fn stream(
    State(state): State<AppState>,
    viewer: Viewer,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let too_many = || ApiError::TooManyStreams { limit: MAX_STREAMS_PER_PLAYER };
    let slot = state.events.open_stream(&viewer.user_id).ok_or_else(too_many)?;
    // Behind a balancer, the limit is the player's across every instance.
    let shared = match &state.stream_slots {
        Some(slots) => Some(slots.take(&viewer.user_id).await?.ok_or_else(too_many)?),
        None => None,
    };
    let (tx, rx) = mpsc::channel::<Event>(16);
    let keep_alive = KeepAlive::new().interval(state.event_keep_alive);
    tokio::spawn(forward(state, viewer, tx, (slot, shared)));
    Ok(Sse::new(ReceiverStream::new(rx).map(Ok)).keep_alive(keep_alive))
}

/// Runs for as long as the stream is open; `_slots` are given back when it returns.
async fn forward(
    state: AppState,
    viewer: Viewer,
    tx: mpsc::Sender<Event>,
    _slots: (StreamSlot, Option<stream_slots::StreamSlot>),
) {
    let mut events = state.events.subscribe(&viewer.user_id);
    let mut revocations = state.sessions.revocations();
    let mut provider_sign_outs = state.external_revocations.subscribe();
    let mut shutdown = state.shutdown.clone();
    // Subscribed before this check, so a revocation cannot slip in between authentication and here.
    if state.sessions.is_revoked(&viewer.session_id)
        || state.external_revocations.is_revoked(&viewer.session_id, viewer.issued_at)
    {
        return;
    }
    let hint = |name: &str| Event::default().event(name).data(json!({ "user_id": viewer.user_id }).to_string());
    let mut next = Some(hint("ready"));
    loop {
        if let Some(event) = next.take()
            && tx.send(event).await.is_err()
        {
            return;
        }
        next = tokio::select! {
            event = events.recv() => match event {
                Ok(event) => {
                    let data = serde_json::to_string(&event).expect("events serialise");
                    Some(Event::default().event(event.name()).data(data))
                }
                // Skipped events are replaced by one hint to refetch: the profile's version tells the rest.
                Err(RecvError::Lagged(_)) => Some(hint("resync")),
                Err(RecvError::Closed) => return,
            },
            revoked = revocations.recv() => match revoked {
                Ok(session_id) if session_id == viewer.session_id => return,
                Err(RecvError::Closed) => return,
                _ if state.sessions.is_revoked(&viewer.session_id) => return,
                _ => None,
            },
            // A provider sign-out ends the streams of the session's tokens issued until then.
            signed_out = provider_sign_outs.recv() => match signed_out {
                Ok((session_id, at)) if session_id == viewer.session_id
                    && viewer.issued_at.is_none_or(|iat| iat <= at) => return,
                Err(RecvError::Lagged(_))
                    if state.external_revocations.is_revoked(&viewer.session_id, viewer.issued_at) => return,
                Err(RecvError::Closed) => return,
                _ => None,
            },
            _ = shutdown.changed() => return,
            _ = tx.closed() => return,
        };
    }
}
