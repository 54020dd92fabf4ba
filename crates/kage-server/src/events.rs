//! The per-player event hub behind `GET /v1/events`.
//!
//! Each player has a channel of their own, and a stream subscribes by the user id of its verified token, so
//! no code path exists by which one player's event could be written into another player's stream.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::locks::Recover;
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;

/// An event as sent on the wire: `event:` is [`GameEvent::name`], `data:` is this value as JSON. Every
/// event names the player it is for, so a client can check it against the account it streams for.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(untagged)]
pub enum GameEvent {
    ProfileChanged {
        user_id: String,
        version: i64,
    },
    TransferReceived {
        user_id: String,
        from: String,
        amount: i64,
        version: i64,
    },
    /// Events of this player may have been missed (a listener lost its database connection): refetch.
    Resync {
        user_id: String,
    },
}

/// The PostgreSQL `NOTIFY` channel events travel on between server instances.
pub const EVENTS_CHANNEL: &str = "kage_events";

impl GameEvent {
    pub fn name(&self) -> &'static str {
        match self {
            Self::ProfileChanged { .. } => "profile.changed",
            Self::TransferReceived { .. } => "transfer.received",
            Self::Resync { .. } => "resync",
        }
    }

    /// The event as a notification payload: its name, a newline, its data.
    pub fn to_notification(&self) -> String {
        format!("{}\n{}", self.name(), serde_json::to_string(self).expect("events serialise"))
    }

    /// An event from [`GameEvent::to_notification`]; `None` for anything else.
    pub fn from_notification(payload: &str) -> Option<Self> {
        #[derive(Deserialize)]
        struct Changed {
            user_id: String,
            version: i64,
        }
        #[derive(Deserialize)]
        struct Received {
            user_id: String,
            from: String,
            amount: i64,
            version: i64,
        }
        let (name, data) = payload.split_once('\n')?;
        match name {
            "profile.changed" => {
                let Changed { user_id, version } = serde_json::from_str(data).ok()?;
                Some(Self::ProfileChanged { user_id, version })
            }
            "transfer.received" => {
                let Received { user_id, from, amount, version } = serde_json::from_str(data).ok()?;
                Some(Self::TransferReceived { user_id, from, amount, version })
            }
            _ => None,
        }
    }

    pub fn user_id(&self) -> &str {
        match self {
            Self::ProfileChanged { user_id, .. }
            | Self::TransferReceived { user_id, .. }
            | Self::Resync { user_id } => user_id,
        }
    }
}

/// Events queued per subscriber before a slow one starts skipping (it then refetches; see `api::events`).
const PER_PLAYER_BUFFER: usize = 64;

/// Open event streams one player may hold. A window needs one; sixteen is far more windows than a player
/// opens, and bounds what one stolen token (or a runaway client) can tie up: a task, a channel and a
/// connection per stream.
pub const MAX_STREAMS_PER_PLAYER: usize = 16;

#[derive(Default)]
pub struct EventHub {
    channels: Mutex<HashMap<String, broadcast::Sender<GameEvent>>>,
    open_streams: Arc<Mutex<HashMap<String, usize>>>,
}

/// One of a player's stream slots, given back when dropped (when the stream ends, however it ends).
pub struct StreamSlot {
    user_id: String,
    open_streams: Arc<Mutex<HashMap<String, usize>>>,
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        let mut open = self.open_streams.lock().recover();
        if let Some(count) = open.get_mut(&self.user_id) {
            *count -= 1;
            if *count == 0 {
                open.remove(&self.user_id);
            }
        }
    }
}

impl EventHub {
    /// Takes one of `user_id`'s [`MAX_STREAMS_PER_PLAYER`] stream slots, or `None` if all are in use.
    pub fn open_stream(&self, user_id: &str) -> Option<StreamSlot> {
        let mut open = self.open_streams.lock().recover();
        let count = open.entry(user_id.to_owned()).or_insert(0);
        if *count >= MAX_STREAMS_PER_PLAYER {
            return None;
        }
        *count += 1;
        Some(StreamSlot { user_id: user_id.to_owned(), open_streams: self.open_streams.clone() })
    }

    pub fn subscribe(&self, user_id: &str) -> broadcast::Receiver<GameEvent> {
        let mut channels = self.channels.lock().recover();
        channels.entry(user_id.to_owned()).or_insert_with(|| broadcast::channel(PER_PLAYER_BUFFER).0).subscribe()
    }

    /// Tells every player with an open stream here to refetch: events may have been missed.
    pub fn resync_all(&self) {
        let players: Vec<String> = self.channels.lock().recover().keys().cloned().collect();
        for user_id in players {
            self.publish(GameEvent::Resync { user_id });
        }
    }

    pub fn publish(&self, event: GameEvent) {
        let mut channels = self.channels.lock().recover();
        let user_id = event.user_id().to_owned();
        // Nobody listens to this player any more: drop the channel rather than keep it forever.
        if let Some(sender) = channels.get(&user_id)
            && sender.send(event).is_err()
        {
            channels.remove(&user_id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_player_holds_at_most_sixteen_streams_and_a_closed_one_frees_its_slot() {
        let hub = EventHub::default();
        let mut slots: Vec<_> = (0..MAX_STREAMS_PER_PLAYER).map(|_| hub.open_stream("a").unwrap()).collect();
        assert!(hub.open_stream("a").is_none());
        assert!(hub.open_stream("b").is_some(), "another player has slots of their own");
        slots.pop();
        assert!(hub.open_stream("a").is_some());
    }

    #[tokio::test]
    async fn a_players_events_reach_only_that_players_subscribers() {
        let hub = EventHub::default();
        let mut a = hub.subscribe("a");
        let mut b = hub.subscribe("b");
        hub.publish(GameEvent::ProfileChanged { user_id: "a".into(), version: 2 });
        assert_eq!(a.recv().await.unwrap().user_id(), "a");
        assert!(matches!(b.try_recv(), Err(broadcast::error::TryRecvError::Empty)));
    }

    #[test]
    fn events_survive_the_trip_between_instances() {
        for event in [
            GameEvent::ProfileChanged { user_id: "a".into(), version: 7 },
            GameEvent::TransferReceived { user_id: "b".into(), from: "a".into(), amount: 25, version: 3 },
        ] {
            assert_eq!(GameEvent::from_notification(&event.to_notification()), Some(event));
        }
        assert_eq!(GameEvent::from_notification("resync\n{\"user_id\":\"a\"}"), None, "never sent between instances");
        assert_eq!(GameEvent::from_notification("profile.changed\n{}"), None);
    }

    #[tokio::test]
    async fn resync_reaches_every_listening_player() {
        let hub = EventHub::default();
        let mut a = hub.subscribe("a");
        let mut b = hub.subscribe("b");
        hub.resync_all();
        assert_eq!(a.recv().await.unwrap(), GameEvent::Resync { user_id: "a".into() });
        assert_eq!(b.recv().await.unwrap(), GameEvent::Resync { user_id: "b".into() });
    }
}
