//! How long a session lives, and forgetting sessions that have ended.
//!
//! A session ends when it is revoked, when it has not been refreshed for [`SessionLimits::idle`] (a device
//! left in a drawer), or when it reaches [`SessionLimits::lifetime`] however often it was refreshed (a stolen
//! refresh token that its thief keeps fresh still dies). No access token outlives its session: a token's
//! `exp` is capped at the session's end when it is issued (see `tokens`), and a refresh of an ended session
//! is refused (see `sessions`).
//!
//! Refresh-token rows are kept as long as their session lives, spent ones included: a spent token presented
//! again is how reuse is detected, and how the grace period finds its successor. Once a session has ended,
//! its rows only matter until every access token it was given has expired (the longest token lifetime, after
//! which nothing can still name the session); then [`prune`] deletes the session and its refresh tokens. The
//! server prunes once at start and then every `prune_every` (see `lib.rs`).

use std::time::Duration;

use sqlx::AssertSqlSafe;
use time::OffsetDateTime;
use tokio::sync::watch;

use crate::db::Database;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionLimits {
    /// A session not refreshed for this long has ended. Default 30 days.
    pub idle: Duration,
    /// A session this old has ended, however recently it was refreshed. Default 90 days.
    pub lifetime: Duration,
}

impl Default for SessionLimits {
    fn default() -> Self {
        const DAY: u64 = 24 * 3600;
        Self { idle: Duration::from_secs(30 * DAY), lifetime: Duration::from_secs(90 * DAY) }
    }
}

impl SessionLimits {
    /// When a session created at `created` and last given tokens at `last_used` ends, unless revoked first.
    pub fn ends_at(&self, created: OffsetDateTime, last_used: OffsetDateTime) -> OffsetDateTime {
        (created + self.lifetime).min(last_used + self.idle)
    }
}

/// What one [`prune`] deleted.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Pruned {
    pub sessions: u64,
    pub refresh_tokens: u64,
}

/// Sessions deleted per transaction, so a large backlog never holds the single writer for long.
const BATCH: i64 = 500;

/// Deletes every session that ended more than `keep_ended_for` before `now`, with its refresh tokens.
pub async fn prune(
    db: &Database,
    limits: SessionLimits,
    keep_ended_for: Duration,
    now: OffsetDateTime,
) -> Result<Pruned, sqlx::Error> {
    let before = (now - keep_ended_for).unix_timestamp_nanos() as f64 / 1e9;
    let mut pruned = Pruned::default();
    loop {
        let mut tx = db.writer.begin().await?;
        // Ended before `before`: revoked, idle too long, or too old. A NULL `revoked_at` compares as false.
        let ended: Vec<(String,)> = sqlx::query_as(
            "SELECT id FROM sessions
             WHERE unixepoch(revoked_at, 'subsec') < $1
                OR unixepoch(created_at, 'subsec') + $2 < $1
                OR unixepoch(COALESCE(last_used_at, created_at), 'subsec') + $3 < $1
             LIMIT $4",
        )
        .bind(before)
        .bind(limits.lifetime.as_secs_f64())
        .bind(limits.idle.as_secs_f64())
        .bind(BATCH)
        .fetch_all(&mut *tx)
        .await?;
        if ended.is_empty() {
            return Ok(pruned);
        }
        // Only placeholders are formatted into the statements; the ids are bound.
        let list = crate::db::placeholders(1, ended.len());
        let delete_tokens = format!("DELETE FROM refresh_tokens WHERE session_id IN ({list})");
        let delete_sessions = format!("DELETE FROM sessions WHERE id IN ({list})");
        let mut tokens = sqlx::query(AssertSqlSafe(delete_tokens));
        let mut sessions = sqlx::query(AssertSqlSafe(delete_sessions));
        for (id,) in &ended {
            tokens = tokens.bind(id);
            sessions = sessions.bind(id);
        }
        let tokens = tokens.execute(&mut *tx).await?;
        let sessions = sessions.execute(&mut *tx).await?;
        tx.commit().await?;
        pruned.refresh_tokens += tokens.rows_affected();
        pruned.sessions += sessions.rows_affected();
        if (ended.len() as i64) < BATCH {
            return Ok(pruned);
        }
    }
}

/// Prunes every `every` until `shutdown` turns true. A failed prune is logged and tried again next time.
pub async fn prune_periodically(
    db: Database,
    limits: SessionLimits,
    keep_ended_for: Duration,
    every: Duration,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticks.tick().await; // the first tick is immediate, and the server pruned at start already
    loop {
        tokio::select! {
            _ = ticks.tick() => {}
            _ = shutdown.wait_for(|stopped| *stopped) => return,
        }
        if let Err(error) = crate::idempotency::prune(&db).await {
            tracing::warn!(%error, "cannot forget old idempotency keys; trying again next time");
        }
        if let Err(error) = crate::cluster::outbox::prune(&db).await {
            tracing::warn!(%error, "cannot delete old event rows; trying again next time");
        }
        match prune(&db, limits, keep_ended_for, OffsetDateTime::now_utc()).await {
            Ok(pruned) if pruned.sessions > 0 => {
                tracing::info!(
                    sessions = pruned.sessions,
                    refresh_tokens = pruned.refresh_tokens,
                    "pruned ended sessions"
                )
            }
            Ok(_) => {}
            Err(error) => tracing::warn!(%error, "pruning ended sessions failed; trying again later"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_ends_at_its_idle_or_absolute_limit_whichever_is_first() {
        let limits = SessionLimits { idle: Duration::from_secs(10), lifetime: Duration::from_secs(100) };
        let created = OffsetDateTime::from_unix_timestamp(1_000).unwrap();
        assert_eq!(limits.ends_at(created, created).unix_timestamp(), 1_010);
        let refreshed = OffsetDateTime::from_unix_timestamp(1_050).unwrap();
        assert_eq!(limits.ends_at(created, refreshed).unix_timestamp(), 1_060);
        let late = OffsetDateTime::from_unix_timestamp(1_095).unwrap();
        assert_eq!(limits.ends_at(created, late).unix_timestamp(), 1_100, "refreshing never passes the lifetime");
    }
}
