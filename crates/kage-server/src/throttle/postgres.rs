//! The throttle's counts in PostgreSQL, shared by every instance on the database
//! (`migrations/postgres/0006_throttle.sql`).
//!
//! Each check-and-count is atomic in the database, not in a process: a window is counted by
//! `INSERT ... ON CONFLICT DO UPDATE ... RETURNING`, which holds the row's lock until its transaction ends, so
//! forty attempts spread over any number of instances queue on the row and each sees the count before it.
//! Counting against two windows (username and address) is one transaction that rolls back when either is
//! full, so a refused attempt counts against neither. The windows are locked in key order, so two attempts
//! never wait on each other in a cycle. A refresh takes its token in one conditional upsert.
//!
//! Times are the database's clock (`clock_timestamp()`), in unix seconds: instances' clocks may differ, and a
//! window started by one instance and checked by another must be measured by one clock.
//!
//! Rows of windows that are over and of buckets that are full again mean the same as no row; every
//! [`SWEEP_EVERY`] counts, a background task deletes up to [`SWEEP_BATCH`] of each, so the tables stay in
//! proportion to recent traffic.

use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use base64::Engine;
use sha2::Digest;

use super::{Key, Limit, RefreshBucket, StoreError, Verdict, seconds_left};
use crate::db::Database;

/// Counts (windows or refreshes) between two sweeps.
const SWEEP_EVERY: u64 = 100;
/// Rows one sweep deletes per table at most. A count adds at most two rows, so this outpaces any growth
/// while no sweep holds more than this many row locks.
const SWEEP_BATCH: i64 = 1_000;

/// Counts one attempt in `key`'s window ($1) of $2 seconds, starting a new window if the last one is over.
/// Returns the count with this attempt, the window's start and the clock's reading.
const COUNT_IN_WINDOW: &str = "
    WITH clock AS (SELECT extract(epoch FROM clock_timestamp())::float8 AS now)
    INSERT INTO throttle_windows AS window_row (key, count, started_at)
    SELECT $1, 1, now FROM clock
    ON CONFLICT (key) DO UPDATE SET
        count = CASE WHEN EXCLUDED.started_at - window_row.started_at >= $2 THEN 1
                     ELSE window_row.count + 1 END,
        started_at = CASE WHEN EXCLUDED.started_at - window_row.started_at >= $2 THEN EXCLUDED.started_at
                          ELSE window_row.started_at END
    RETURNING count, started_at, (SELECT now FROM clock)";

/// Takes one token from address $1's bucket of size $2 refilling at $3 a second, if it holds one; no row
/// comes back if it does not. The bucket is refilled to the clock's reading first (never backwards: another
/// instance may have written a later reading while this statement waited for the row).
const TAKE_REFRESH: &str = "
    WITH clock AS (SELECT extract(epoch FROM clock_timestamp())::float8 AS now)
    INSERT INTO refresh_buckets AS bucket (address, tokens, at)
    SELECT $1, $2 - 1, now FROM clock
    ON CONFLICT (address) DO UPDATE SET
        tokens = LEAST($2, bucket.tokens + GREATEST(0, EXCLUDED.at - bucket.at) * $3) - 1,
        at = GREATEST(bucket.at, EXCLUDED.at)
    WHERE LEAST($2, bucket.tokens + GREATEST(0, EXCLUDED.at - bucket.at) * $3) >= 1
    RETURNING tokens";

/// What address $1's bucket (size $2, $3 a second) holds now; for the `Retry-After` of a refusal.
const REFRESH_TOKENS_NOW: &str = "
    SELECT LEAST($2, tokens + GREATEST(0, extract(epoch FROM clock_timestamp())::float8 - at) * $3)
    FROM refresh_buckets WHERE address = $1";

/// Windows started more than $1 seconds ago, at most $2 of them. The outer condition is checked again on the
/// row as it is when deleted, so a window restarted meanwhile is kept.
const SWEEP_WINDOWS: &str = "
    WITH cutoff AS (SELECT extract(epoch FROM clock_timestamp())::float8 - $1 AS before)
    DELETE FROM throttle_windows
    WHERE started_at < (SELECT before FROM cutoff)
      AND key IN (SELECT key FROM throttle_windows WHERE started_at < (SELECT before FROM cutoff) LIMIT $2)";

/// Buckets untouched for $1 seconds (the time an empty one takes to fill), at most $2 of them.
const SWEEP_BUCKETS: &str = "
    WITH cutoff AS (SELECT extract(epoch FROM clock_timestamp())::float8 - $1 AS before)
    DELETE FROM refresh_buckets
    WHERE at < (SELECT before FROM cutoff)
      AND address IN (SELECT address FROM refresh_buckets WHERE at < (SELECT before FROM cutoff) LIMIT $2)";

pub(super) struct PostgresStore {
    sweeper: Sweeper,
    counts: AtomicU64,
}

impl PostgresStore {
    pub(super) fn new(db: Database, longest_window: Duration, refresh: RefreshBucket) -> Self {
        Self { sweeper: Sweeper { db, longest_window, refresh }, counts: AtomicU64::new(0) }
    }

    fn db(&self) -> &Database {
        &self.sweeper.db
    }

    pub(super) async fn count(&self, limits: &[Limit<'_>]) -> Result<Verdict, StoreError> {
        self.sweep_now_and_then();
        let mut in_key_order: Vec<(String, &Limit<'_>)> = limits.iter().map(|l| (row_key(l.key), l)).collect();
        in_key_order.sort_by(|a, b| a.0.cmp(&b.0));
        let mut tx = self.db().writer.begin().await?;
        let mut wait = None;
        for (key, limit) in in_key_order {
            let (count, started_at, now): (i64, f64, f64) =
                sqlx::query_as(COUNT_IN_WINDOW).bind(key).bind(limit.window.as_secs_f64()).fetch_one(&mut *tx).await?;
            if count > i64::from(limit.max) {
                wait = wait.max(Some(seconds_left(limit.window, now - started_at)));
            }
        }
        match wait {
            Some(retry_after_secs) => {
                tx.rollback().await?;
                Ok(Verdict::Refused { retry_after_secs })
            }
            None => {
                tx.commit().await?;
                Ok(Verdict::Counted)
            }
        }
    }

    pub(super) async fn give_back(&self, keys: &[&Key]) -> Result<(), StoreError> {
        for key in keys {
            sqlx::query("UPDATE throttle_windows SET count = count - 1 WHERE key = $1 AND count > 0")
                .bind(row_key(key))
                .execute(&self.db().writer)
                .await?;
        }
        Ok(())
    }

    pub(super) async fn clear_and_give_back(&self, cleared: &Key, given_back: &Key) -> Result<(), StoreError> {
        sqlx::query(
            "WITH cleared AS (DELETE FROM throttle_windows WHERE key = $1)
             UPDATE throttle_windows SET count = count - 1 WHERE key = $2 AND count > 0",
        )
        .bind(row_key(cleared))
        .bind(row_key(given_back))
        .execute(&self.db().writer)
        .await?;
        Ok(())
    }

    pub(super) async fn take_refresh(&self, address: IpAddr, shape: RefreshBucket) -> Result<Verdict, StoreError> {
        self.sweep_now_and_then();
        let address = address.to_string();
        let taken: Option<(f64,)> = sqlx::query_as(TAKE_REFRESH)
            .bind(&address)
            .bind(shape.size)
            .bind(shape.per_second)
            .fetch_optional(&self.db().writer)
            .await?;
        if taken.is_some() {
            return Ok(Verdict::Counted);
        }
        let tokens: Option<(f64,)> = sqlx::query_as(REFRESH_TOKENS_NOW)
            .bind(&address)
            .bind(shape.size)
            .bind(shape.per_second)
            .fetch_optional(&self.db().reader)
            .await?;
        // No row: swept in the meantime, so full by now; the refusal stands and the client tries again soon.
        let tokens = tokens.map_or(shape.size, |(tokens,)| tokens);
        Ok(Verdict::Refused { retry_after_secs: shape.retry_after_secs(tokens) })
    }

    /// Starts a sweep in the background every [`SWEEP_EVERY`] counts, so no attempt waits for one.
    fn sweep_now_and_then(&self) {
        if self.counts.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY == SWEEP_EVERY - 1 {
            let sweeper = self.sweeper.clone();
            tokio::spawn(async move {
                if let Err(error) = sweeper.sweep().await {
                    tracing::warn!(%error, "cannot sweep old throttle rows; trying again later");
                }
            });
        }
    }

    #[cfg(test)]
    pub(super) async fn sweep(&self) -> Result<Swept, StoreError> {
        self.sweeper.sweep().await
    }
}

/// What one sweep deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Swept {
    pub windows: u64,
    pub buckets: u64,
}

#[derive(Clone)]
struct Sweeper {
    db: Database,
    longest_window: Duration,
    refresh: RefreshBucket,
}

impl Sweeper {
    async fn sweep(&self) -> Result<Swept, StoreError> {
        let windows = sqlx::query(SWEEP_WINDOWS)
            .bind(self.longest_window.as_secs_f64())
            .bind(SWEEP_BATCH)
            .execute(&self.db.writer)
            .await?
            .rows_affected();
        // An emptied bucket is full again after size / rate seconds, whatever it held.
        let fills_in = self.refresh.size / self.refresh.per_second;
        let buckets =
            sqlx::query(SWEEP_BUCKETS).bind(fills_in).bind(SWEEP_BATCH).execute(&self.db.writer).await?.rows_affected();
        Ok(Swept { windows, buckets })
    }
}

/// A key as it is stored. The username is stored as a digest: now and then a player types a password into
/// the username field, and this table should not keep it next to the address it came from.
fn row_key(key: &Key) -> String {
    match key {
        Key::AccountFromAddress(username, address) => {
            let digest = sha2::Sha256::digest(username.as_bytes());
            let name = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&digest[..18]);
            format!("sign-in/{address}/{name}")
        }
        Key::AllSignInsFrom(address) => format!("sign-ins/{address}"),
        Key::SignUpsFrom(address) => format!("sign-ups/{address}"),
        Key::NewPlayersOf(issuer) => format!("new-players/{issuer}"),
    }
}
