//! A player's event stream slots counted across every instance on a PostgreSQL database: a player who may
//! hold [`MAX_STREAMS_PER_PLAYER`] streams holds that many in all, not that many on each instance behind the
//! balancer (`migrations/postgres/0008_stream_slots.sql`). On SQLite the one process counts alone
//! ([`crate::events::EventHub::open_stream`]); here that count still bounds each instance as well.
//!
//! Taking a slot is one transaction under a lock on the player: it forgets the player's lapsed rows, counts
//! the rest, and adds one row if there is room, so forty streams opened at once on any instances never hold
//! more than the limit. A slot is given back when its stream ends (its row deleted), and each row carries a
//! lease the instance renews while it runs: an instance killed without a word leaves rows that lapse within
//! the lease (`Config::stream_slot_lease`), and its players' windows, reconnecting to another instance, find room meanwhile
//! since a player's windows hold far fewer streams than the limit.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use sqlx::{Any, Transaction};
use tokio::sync::{Notify, watch};

use crate::db::Database;
use crate::error::ApiError;
use crate::events::MAX_STREAMS_PER_PLAYER;
use crate::locks::Recover;

/// How long a slot's row lasts unless its instance renews it.
pub const DEFAULT_LEASE: Duration = Duration::from_secs(60);

/// The player's ($1) rows whose lease ran out. Times are the database's clock: one clock for all instances.
const FORGET_LAPSED: &str =
    "DELETE FROM stream_slots WHERE user_id = $1 AND expires_at < extract(epoch FROM clock_timestamp())::float8";
/// A slot $1 of player $2 held by instance $3, for a lease of $4 seconds.
const HOLD: &str = "INSERT INTO stream_slots (id, user_id, instance, expires_at)
    VALUES ($1, $2, $3, extract(epoch FROM clock_timestamp())::float8 + $4)";
/// Instance $1's leases, $2 seconds from now.
const RENEW: &str =
    "UPDATE stream_slots SET expires_at = extract(epoch FROM clock_timestamp())::float8 + $2 WHERE instance = $1";

pub struct StreamSlots {
    db: Database,
    /// This process, among the instances: random per start.
    instance: String,
    lease: Duration,
    /// Slots given back whose rows are still to be deleted (deleting needs the database, dropping cannot wait).
    released: Mutex<Vec<String>>,
    wake: Notify,
}

/// One stream's slot; given back when dropped.
pub struct StreamSlot {
    id: String,
    slots: Arc<StreamSlots>,
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        self.slots.released.lock().recover().push(std::mem::take(&mut self.id));
        self.slots.wake.notify_one();
    }
}

impl StreamSlots {
    /// Slots on `db`, with their upkeep (renewing leases, deleting given-back rows) running until `shutdown`.
    pub fn start(db: Database, lease: Duration, shutdown: watch::Receiver<bool>) -> Arc<Self> {
        let instance = uuid::Uuid::new_v4().to_string();
        let slots = Arc::new(Self { db, instance, lease, released: Mutex::default(), wake: Notify::new() });
        tokio::spawn(upkeep(slots.clone(), shutdown));
        slots
    }

    /// One of `user_id`'s slots, or `None` if every one is held (on any instance).
    pub async fn take(self: &Arc<Self>, user_id: &str) -> Result<Option<StreamSlot>, ApiError> {
        let mut tx: Transaction<'static, Any> = self.db.writer.begin().await?;
        self.db.lock_for_transaction(&mut tx, &format!("stream-slots\n{user_id}")).await?;
        sqlx::query(FORGET_LAPSED).bind(user_id).execute(&mut *tx).await?;
        let (held,): (i64,) = sqlx::query_as("SELECT count(*) FROM stream_slots WHERE user_id = $1")
            .bind(user_id)
            .fetch_one(&mut *tx)
            .await?;
        if usize::try_from(held).unwrap_or(usize::MAX) >= MAX_STREAMS_PER_PLAYER {
            return Ok(None);
        }
        let id = uuid::Uuid::new_v4().to_string();
        sqlx::query(HOLD)
            .bind(&id)
            .bind(user_id)
            .bind(&self.instance)
            .bind(self.lease.as_secs_f64())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(Some(StreamSlot { id, slots: self.clone() }))
    }

    /// Deletes the rows of slots given back; those it could not delete stay listed for the next round.
    async fn delete_released(&self) {
        let released = std::mem::take(&mut *self.released.lock().recover());
        for id in released {
            let deleted =
                sqlx::query("DELETE FROM stream_slots WHERE id = $1").bind(&id).execute(&self.db.writer).await;
            if let Err(error) = deleted {
                tracing::warn!(%error, "a stream slot could not be given back yet");
                self.released.lock().recover().push(id);
            }
        }
    }

    /// Pushes this instance's leases forward.
    async fn renew(&self) {
        let renewed =
            sqlx::query(RENEW).bind(&self.instance).bind(self.lease.as_secs_f64()).execute(&self.db.writer).await;
        if let Err(error) = renewed {
            tracing::warn!(%error, "stream slot leases not renewed");
        }
    }
}

/// Gives back rows as soon as their streams end, and renews the leases three times per lease.
async fn upkeep(slots: Arc<StreamSlots>, mut shutdown: watch::Receiver<bool>) {
    let mut renew = tokio::time::interval(slots.lease / 3);
    loop {
        tokio::select! {
            _ = slots.wake.notified() => slots.delete_released().await,
            _ = renew.tick() => {
                // Rows given back go first, so their leases are not renewed.
                slots.delete_released().await;
                slots.renew().await;
            }
            _ = shutdown.changed() => {
                slots.delete_released().await;
                return;
            }
        }
    }
}
