//! [`ExternalRevocations`]: provider sessions signed out on this server, kept in the database.
//!
//! `DELETE /v1/sessions/current` with a provider token stops that provider session here at once, though only
//! the provider can end it there. Two things make that promise hold:
//! - **Persisted and shared.** A sign-out is a row of `external_revocations` (session id, when), written before
//!   it takes effect, read at start (so a restart keeps it) and, with several instances on PostgreSQL, read by
//!   every instance every [`POLL_EVERY`] (so another instance enforces it within that bound). Checks are made
//!   against this process's copy, never with a database round trip per request.
//! - **Scoped by time.** Providers keep `sid` across a new login in the same browser session, so a sign-out
//!   that stopped the `sid` for good would sign the player out again on their next sign-in (a false sign-out,
//!   I11). A revocation therefore stops the session's tokens issued *until* it (`iat` no later than the
//!   revocation's second); a token issued after it opens the API. Tokens that do not say when they were issued
//!   get a session id of their own (see [`super::verifier::session_id`]), so their sign-out stops exactly them.
//!
//! Rows are kept for [`KEEP_FOR`], longer than any provider access token lives, then pruned.

use std::collections::HashMap;
use std::sync::RwLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::{broadcast, watch};

use crate::db::{Backend, Database};
use crate::error::ApiError;
use crate::locks::Recover;

/// How often an instance on PostgreSQL reads the revocations others made.
pub const POLL_EVERY: Duration = Duration::from_secs(1);
/// How long a revocation is kept: past the life of any access token it could stop.
pub const KEEP_FOR: Duration = Duration::from_secs(30 * 24 * 3600);

pub struct ExternalRevocations {
    db: Database,
    /// Session id -> the revocation's time (Unix seconds).
    revoked: RwLock<HashMap<String, i64>>,
    /// Revocations as this process learns them, so event streams of the session end.
    announced: broadcast::Sender<(String, i64)>,
}

impl ExternalRevocations {
    /// Reads the revocations still in force (pruning older ones).
    pub async fn load(db: Database) -> Result<Self, sqlx::Error> {
        let oldest = unix_now() - i64::try_from(KEEP_FOR.as_secs()).unwrap_or(i64::MAX);
        sqlx::query("DELETE FROM external_revocations WHERE revoked_at < $1").bind(oldest).execute(&db.writer).await?;
        let (announced, _) = broadcast::channel(64);
        let store = Self { db, revoked: RwLock::default(), announced };
        store.read_since(oldest).await?;
        Ok(store)
    }

    /// Whether a token of `session_id` issued at `issued_at` is signed out. Without an issue time, any
    /// revocation of the session stops it.
    pub fn is_revoked(&self, session_id: &str, issued_at: Option<i64>) -> bool {
        let revoked = self.revoked.read().recover();
        revoked.get(session_id).is_some_and(|at| issued_at.is_none_or(|iat| iat <= *at))
    }

    /// Signs `session_id` out now: written to the database first, then in force here.
    pub async fn revoke(&self, session_id: &str) -> Result<(), ApiError> {
        let now = unix_now();
        sqlx::query(
            "INSERT INTO external_revocations (session_id, revoked_at) VALUES ($1, $2)
             ON CONFLICT (session_id) DO UPDATE SET revoked_at = CASE
                 WHEN excluded.revoked_at > external_revocations.revoked_at THEN excluded.revoked_at
                 ELSE external_revocations.revoked_at END",
        )
        .bind(session_id)
        .bind(now)
        .execute(&self.db.writer)
        .await?;
        self.remember(session_id.to_owned(), now);
        Ok(())
    }

    /// Revocations as they come into force in this process: `(session id, revoked at)`.
    pub fn subscribe(&self) -> broadcast::Receiver<(String, i64)> {
        self.announced.subscribe()
    }

    fn remember(&self, session_id: String, at: i64) {
        let newer = {
            let mut revoked = self.revoked.write().recover();
            let known = revoked.entry(session_id.clone()).or_insert(i64::MIN);
            let newer = at > *known;
            *known = (*known).max(at);
            newer
        };
        if newer {
            let _ = self.announced.send((session_id, at));
        }
    }

    async fn read_since(&self, since: i64) -> Result<usize, sqlx::Error> {
        let rows: Vec<(String, i64)> =
            sqlx::query_as("SELECT session_id, revoked_at FROM external_revocations WHERE revoked_at >= $1")
                .bind(since)
                .fetch_all(&self.db.reader)
                .await?;
        let count = rows.len();
        for (session_id, at) in rows {
            self.remember(session_id, at);
        }
        Ok(count)
    }

    /// On PostgreSQL, reads what other instances revoked, every [`POLL_EVERY`], until `shutdown`. (SQLite has
    /// one server process, which knows its own.) Each read looks a little into the past, since instances'
    /// clocks differ.
    pub async fn follow_other_instances(&self, mut shutdown: watch::Receiver<bool>) {
        if self.db.backend() != Backend::Postgres {
            return;
        }
        loop {
            tokio::select! {
                _ = tokio::time::sleep(POLL_EVERY) => {}
                _ = shutdown.wait_for(|stopped| *stopped) => return,
            }
            if let Err(error) = self.read_since(unix_now() - 120).await {
                tracing::warn!(%error, "cannot read the provider sign-outs of other instances");
            }
        }
    }
}

/// Whether a viewer's session id is a provider session's (made by [`super::verifier::session_id`]).
pub fn is_external(session_id: &str) -> bool {
    session_id.starts_with("ext:")
}

fn unix_now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}
