//! Players' events between instances: written to `event_outbox` in the action's transaction, announced by the
//! row's id alone, read back from the table by every instance that hears the id.
//!
//! A `NOTIFY` proves nothing about who sent it: any role that can connect to the database may notify any
//! channel. Were the event itself the payload, such a role could tell a player "main sent you 1 000 000 ryo".
//! With the id as a hint, a forged notification can at most name a real event again: each instance delivers
//! an id once ([`Delivered`]) and only while the row is recent ([`DELIVER_WITHIN_SECS`]), and the row can be
//! written only by a role that may write the table, the server's own.

use std::collections::{HashSet, VecDeque};
use std::sync::Mutex;

use sqlx::AnyConnection;

use crate::db::{Backend, Database};
use crate::events::{EVENTS_CHANNEL, GameEvent};
use crate::locks::Recover;

/// An event row older than this is not delivered when its id is heard (it was, or it is stale: a listener
/// that missed it resyncs its streams instead).
pub const DELIVER_WITHIN_SECS: f64 = 60.0;
/// Rows older than this are deleted by the pruner.
pub const KEEP_FOR_SECS: f64 = 600.0;
/// How many delivered ids an instance remembers: far more than a minute's events.
const REMEMBERED: usize = 16_384;

/// Announces `event` to every instance when the transaction `connection` is in commits (PostgreSQL; on
/// SQLite the one process publishes to itself after the commit).
pub async fn announce(db: &Database, connection: &mut AnyConnection, event: &GameEvent) -> Result<(), sqlx::Error> {
    if db.backend() != Backend::Postgres {
        return Ok(());
    }
    let (id,): (i64,) = sqlx::query_as("INSERT INTO event_outbox (payload) VALUES ($1) RETURNING id")
        .bind(event.to_notification())
        .fetch_one(&mut *connection)
        .await?;
    db.notify(connection, EVENTS_CHANNEL, &id.to_string()).await
}

/// The ids this instance has delivered, so a notification naming one again delivers nothing.
#[derive(Default)]
pub struct Delivered(Mutex<(HashSet<i64>, VecDeque<i64>)>);

impl Delivered {
    /// The event a notification names, if it names a recent row not delivered here yet.
    pub async fn take(&self, db: &Database, payload: &str) -> Result<Option<GameEvent>, sqlx::Error> {
        let Ok(id) = payload.parse::<i64>() else { return Ok(None) };
        if self.0.lock().recover().0.contains(&id) {
            return Ok(None);
        }
        let row: Option<(String,)> = sqlx::query_as(
            "SELECT payload FROM event_outbox WHERE id = $1 AND created_at > extract(epoch FROM clock_timestamp()) - $2",
        )
        .bind(id)
        .bind(DELIVER_WITHIN_SECS)
        .fetch_optional(&db.reader)
        .await?;
        let Some((payload,)) = row else { return Ok(None) };
        let mut delivered = self.0.lock().recover();
        if !delivered.0.insert(id) {
            return Ok(None);
        }
        delivered.1.push_back(id);
        if delivered.1.len() > REMEMBERED
            && let Some(oldest) = delivered.1.pop_front()
        {
            delivered.0.remove(&oldest);
        }
        Ok(GameEvent::from_notification(&payload))
    }
}

/// Deletes event rows no instance will deliver any more.
pub async fn prune(db: &Database) -> Result<u64, sqlx::Error> {
    if db.backend() != Backend::Postgres {
        return Ok(0);
    }
    let deleted = sqlx::query("DELETE FROM event_outbox WHERE created_at < extract(epoch FROM clock_timestamp()) - $1")
        .bind(KEEP_FOR_SECS)
        .execute(&db.writer)
        .await?;
    Ok(deleted.rows_affected())
}
