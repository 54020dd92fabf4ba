//! Sessions: creation, refresh-token rotation with reuse detection and a grace period, and revocation.
//!
//! Refresh tokens are opaque random strings, stored only as SHA-256 hashes (see [`crate::refresh_token`]).
//! Each use rotates the token; a token presented a second time usually means it was copied, so the whole
//! session is revoked (RFC 9700 4.14.2). Usually, but not always: a client whose refresh answer was lost on
//! the way presents the same token again, and revoking then would sign an honest player out (docs/design.md, I11).
//! So a spent token presented again within `refresh_grace` of its first use, while its successor has not been
//! used yet, answers with that very successor (RFC 9700 4.14.2 allows this; Auth0 and Okta call it a reuse
//! interval). Once the successor has been used, or the grace period is over, it is reuse as before.
//!
//! Every rotation decision is one transaction on the single writer connection (see `db`), so two presentations
//! of the same token, first use and replay, are ordered: the second sees the first's successor.
//!
//! Revocation has to stop a session's live access tokens on the very next request, yet checking the
//! database on every request would cost a round trip. [`SessionStore`] keeps the set of recently revoked
//! session ids in memory. Every revocation is written to the database *first* and enters the set after its
//! commit, so nothing is in force that a restart would forget; the set is reloaded from the database on start.
//! Entries older than the longest token lifetime are pruned, since every token of such a session has expired
//! anyway. With several server instances on PostgreSQL, a revocation's transaction also sends its session id
//! on [`REVOKED_CHANNEL`] (`NOTIFY`, delivered at commit; see [`crate::revocation`]), and every instance's
//! listener (see [`crate::cluster`]) enters it into that instance's set once the database confirms it; a
//! listener that lost its connection reloads the set from the database before it listens again, and while it
//! cannot hear, [`SessionStore::check_in_database`] asks the database about every session it meets.
//!
//! A fork (for another computer) remembers its parent, and a revocation ends the parent's forks with it
//! ([`crate::revocation::Cascade`]).
//!
//! Sessions also end by themselves, idle or too old ([`crate::session_lifetime`]): each sign-in and refresh
//! says when its session ends, so tokens can be capped there, and a refresh of an ended session is refused and
//! recorded as a revocation, which stops its access tokens at once.

use std::collections::HashMap;
use std::sync::RwLock;
use std::time::{Duration, Instant};

use sqlx::AnyConnection;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tokio::sync::broadcast;

use crate::db::Database;
use crate::error::ApiError;
use crate::locks::Recover;
use crate::refresh_token;
pub use crate::revocation::REVOKED_CHANNEL;
pub use crate::revocation::RevokeReason;
use crate::revocation::{self, Cascade};
use crate::secret::Secret;
use crate::session_lifetime::SessionLimits;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionKind {
    Api,
    Browser,
}

impl SessionKind {
    fn as_str(self) -> &'static str {
        match self {
            Self::Api => "api",
            Self::Browser => "browser",
        }
    }
}

pub struct NewSession {
    pub id: String,
    /// API sessions have one; browser sessions live on their cookie alone.
    pub refresh_token: Option<Secret>,
    /// When the session ends unless refreshed (or revoked) first: no token may outlive it.
    pub ends_at: OffsetDateTime,
}

pub struct Rotated {
    pub session_id: String,
    pub user_id: String,
    pub refresh_token: Secret,
    /// The presented token was already spent and this is its successor again (the grace period).
    pub replayed: bool,
    pub ends_at: OffsetDateTime,
}

/// A live session as its player sees it in `GET /v1/sessions`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SessionInfo {
    pub id: String,
    pub kind: &'static str,
    pub created_at: String,
    /// The sign-in, or the latest refresh.
    pub last_used_at: String,
    pub expires_at: String,
    /// This is the session the request came with.
    pub current: bool,
    /// How the session stands to the calling one: itself, forked from it (at any depth: an export to another
    /// computer), or any other.
    pub relation: Relation,
}

/// How a listed session stands to the session the request came with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Relation {
    Current,
    Fork,
    Other,
}

pub struct SessionStore {
    db: Database,
    revoked: RwLock<HashMap<String, Instant>>,
    revocations: broadcast::Sender<String>,
    keep_revoked_for: Duration,
    refresh_grace: Duration,
    limits: SessionLimits,
}

/// A presented refresh token's row, with what rotation needs to decide.
#[derive(sqlx::FromRow)]
struct PresentedRow {
    session_id: String,
    user_id: String,
    session_revoked_at: Option<String>,
    created_at: String,
    last_used_at: String,
    used_at: Option<String>,
    successor_hash: Option<String>,
    successor_sealed: Option<Vec<u8>>,
}

impl SessionStore {
    /// `keep_revoked_for` is the longest lifetime of any token the server issues; `refresh_grace` how long a
    /// spent refresh token still answers with its (unused) successor; `limits` when sessions end by themselves.
    pub async fn load(
        db: Database,
        keep_revoked_for: Duration,
        refresh_grace: Duration,
        limits: SessionLimits,
    ) -> Result<Self, sqlx::Error> {
        let revoked = recently_revoked(&db, keep_revoked_for).await?;
        let (revocations, _) = broadcast::channel(256);
        Ok(Self { db, revoked: RwLock::new(revoked), revocations, keep_revoked_for, refresh_grace, limits })
    }

    /// Reads every recent revocation from the database again, for an instance that may have missed some
    /// notifications (its listener lost its connection). Sessions new to the set are announced as if revoked
    /// now, so event streams of theirs on this instance end.
    pub async fn reload_revoked(&self) -> Result<usize, sqlx::Error> {
        let loaded = recently_revoked(&self.db, self.keep_revoked_for).await?;
        let missed: Vec<String> = {
            let revoked = self.revoked.read().recover();
            loaded.into_keys().filter(|id| !revoked.contains_key(id)).collect()
        };
        for id in &missed {
            self.remember_revoked(id);
        }
        Ok(missed.len())
    }

    /// A notification that another instance revoked `session_id`: in force here from now on if the database
    /// says so. A notification alone proves nothing (any role may `NOTIFY`), the row does.
    pub async fn revoked_elsewhere(&self, session_id: &str) -> Result<bool, sqlx::Error> {
        if self.is_revoked(session_id) {
            return Ok(true);
        }
        if !revocation::is_revoked_in_database(&self.db, session_id).await? {
            return Ok(false);
        }
        self.remember_revoked(session_id);
        Ok(true)
    }

    /// For an instance that cannot hear the others right now: whether `session_id` was revoked, asked of the
    /// database (and remembered), so a session signed out elsewhere is refused here too while it is deaf.
    pub async fn check_in_database(&self, session_id: &str) -> Result<bool, ApiError> {
        Ok(self.revoked_elsewhere(session_id).await?)
    }

    pub fn limits(&self) -> SessionLimits {
        self.limits
    }

    /// How long an ended session's rows are still needed: the longest lifetime of any token it was given.
    pub fn keep_ended_for(&self) -> Duration {
        self.keep_revoked_for
    }

    pub async fn create(&self, user_id: &str, kind: SessionKind) -> Result<NewSession, ApiError> {
        let id = uuid::Uuid::new_v4().to_string();
        let now = OffsetDateTime::now_utc();
        let now_text = now.format(&Rfc3339).expect("UTC formats");
        let mut tx = self.db.writer.begin().await?;
        sqlx::query("INSERT INTO sessions (id, user_id, kind, created_at, last_used_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(&id)
            .bind(user_id)
            .bind(kind.as_str())
            .bind(&now_text)
            .bind(&now_text)
            .execute(&mut *tx)
            .await?;
        let refresh_token = match kind {
            SessionKind::Browser => None,
            SessionKind::Api => Some(insert_refresh_token(&mut tx, &id, &now_text).await?.text),
        };
        tx.commit().await?;
        Ok(NewSession { id, refresh_token, ends_at: self.limits.ends_at(now, now) })
    }

    /// A new API session for the player of `parent`, independent of it (its own refresh-token family, so
    /// rotation and reuse detection in one never touch the other), for moving an account to another computer.
    /// `proof` must be `parent`'s live (unspent) refresh token: an access token alone, which lives a minute and
    /// travels with every request, must not be worth a session of months. The fork remembers `parent`, so
    /// ending `parent` ends it too. It keeps `parent`'s creation time: its absolute lifetime ends when the
    /// parent's does, so a chain of forks cannot keep a player signed in past the limit a sign-in has.
    pub async fn fork(&self, user_id: &str, parent: &str, proof: &Secret) -> Result<NewSession, ApiError> {
        let now = OffsetDateTime::now_utc();
        let now_text = now.format(&Rfc3339).expect("UTC formats");
        let mut tx = self.db.writer.begin().await?;
        let created: Option<(String,)> = sqlx::query_as(
            "SELECT s.created_at FROM refresh_tokens t JOIN sessions s ON s.id = t.session_id
             WHERE t.token_hash = $1 AND t.used_at IS NULL AND s.id = $2 AND s.user_id = $3 AND s.revoked_at IS NULL",
        )
        .bind(refresh_token::hash(proof.expose()))
        .bind(parent)
        .bind(user_id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some((created_text,)) = created else { return Err(ApiError::InvalidGrant) };
        let created_at = parse_time(&created_text)?;
        if now >= self.limits.ends_at(created_at, now) {
            return Err(ApiError::Unauthenticated);
        }
        let id = uuid::Uuid::new_v4().to_string();
        sqlx::query(
            "INSERT INTO sessions (id, user_id, kind, created_at, last_used_at, forked_from)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&id)
        .bind(user_id)
        .bind(SessionKind::Api.as_str())
        .bind(&created_text)
        .bind(&now_text)
        .bind(parent)
        .execute(&mut *tx)
        .await?;
        let refresh_token = insert_refresh_token(&mut tx, &id, &now_text).await?.text;
        tx.commit().await?;
        Ok(NewSession { id, refresh_token: Some(refresh_token), ends_at: self.limits.ends_at(created_at, now) })
    }

    /// Spends `presented` and returns its successor. A token spent less than the grace period ago whose
    /// successor is still unused returns that same successor; any other spent token revokes its session, and
    /// so does any token of a session past its idle or absolute limit.
    pub async fn rotate(&self, presented: &Secret) -> Result<Rotated, ApiError> {
        let hash = refresh_token::hash(presented.expose());
        let now = OffsetDateTime::now_utc();
        let now_text = now.format(&Rfc3339).expect("UTC formats");
        let mut tx = self.db.writer.begin().await?;
        // Locked on PostgreSQL: the same token presented to two instances at once is decided one after the other.
        let row: Option<PresentedRow> = sqlx::query_as(crate::locked!(
            self.db,
            "SELECT t.session_id, s.user_id, s.revoked_at AS session_revoked_at, s.created_at,
                    COALESCE(s.last_used_at, s.created_at) AS last_used_at, t.used_at, t.successor_hash,
                    t.successor_sealed
             FROM refresh_tokens t JOIN sessions s ON s.id = t.session_id
             WHERE t.token_hash = $1"
        ))
        .bind(&hash)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else { return Err(ApiError::InvalidGrant) };
        if row.session_revoked_at.is_some() || self.is_revoked(&row.session_id) {
            return Err(ApiError::InvalidGrant);
        }
        let created_at = parse_time(&row.created_at)?;
        let ends_at = self.limits.ends_at(created_at, parse_time(&row.last_used_at)?);
        if now >= ends_at {
            tracing::info!(session = %row.session_id, "refresh of a session past its idle or absolute limit");
            revocation::write(&self.db, &mut tx, &row.session_id, RevokeReason::Expired, Cascade::Alone).await?;
            tx.commit().await?;
            self.remember_revoked(&row.session_id);
            return Err(ApiError::InvalidGrant);
        }
        let PresentedRow { session_id, user_id, used_at, successor_hash, successor_sealed, .. } = row;
        let Some(used_at) = used_at else {
            let successor = insert_refresh_token(&mut tx, &session_id, &now_text).await?;
            let successor_hash = refresh_token::hash(successor.text.expose());
            let sealed = refresh_token::seal(&successor.bytes, presented.expose());
            sqlx::query(
                "UPDATE refresh_tokens SET used_at = $1, successor_hash = $2, successor_sealed = $3 WHERE token_hash = $4",
            )
            .bind(&now_text)
            .bind(&successor_hash)
            .bind(&sealed)
            .bind(&hash)
            .execute(&mut *tx)
            .await?;
            // The presented token is itself a successor now in use: its predecessor's grace ends here.
            sqlx::query("UPDATE refresh_tokens SET successor_sealed = NULL WHERE successor_hash = $1")
                .bind(&hash)
                .execute(&mut *tx)
                .await?;
            sqlx::query("UPDATE sessions SET last_used_at = $1 WHERE id = $2")
                .bind(&now_text)
                .bind(&session_id)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            let ends_at = self.limits.ends_at(created_at, now);
            return Ok(Rotated { session_id, user_id, refresh_token: successor.text, replayed: false, ends_at });
        };
        let replay = match (successor_sealed, successor_hash) {
            (Some(sealed), Some(successor_hash)) if self.within_grace(&used_at, now) => {
                refresh_token::unseal(&sealed, presented.expose(), &successor_hash)
            }
            _ => None,
        };
        if let Some(successor) = replay {
            tx.rollback().await?;
            return Ok(Rotated { session_id, user_id, refresh_token: successor, replayed: true, ends_at });
        }
        tracing::warn!(session = %session_id, "refresh token reused; revoking its session and its forks");
        let cascade = Cascade::WithForks { sparing: None };
        let ended =
            revocation::write(&self.db, &mut tx, &session_id, RevokeReason::RefreshTokenReused, cascade).await?;
        tx.commit().await?;
        ended.iter().for_each(|id| self.remember_revoked(id));
        Err(ApiError::InvalidGrant)
    }

    fn within_grace(&self, used_at: &str, now: OffsetDateTime) -> bool {
        match OffsetDateTime::parse(used_at, &Rfc3339) {
            // A clock that stepped back makes the difference negative: still within.
            Ok(used_at) => now - used_at <= self.refresh_grace,
            Err(_) => false,
        }
    }

    /// Ends a session and, by `cascade`, its forks: written to the database first, together with its
    /// announcement to the other instances (one transaction: both or neither), then in force in memory and
    /// on open event streams here.
    pub async fn revoke(&self, session_id: &str, reason: RevokeReason, cascade: Cascade<'_>) -> Result<(), ApiError> {
        let mut tx = self.db.writer.begin().await?;
        let ended = revocation::write(&self.db, &mut tx, session_id, reason, cascade).await?;
        tx.commit().await?;
        ended.iter().for_each(|id| self.remember_revoked(id));
        Ok(())
    }

    /// Ends the session `presented` belongs to, whether the token is live, spent or already revoked; an
    /// unknown token does nothing. Returns whether a session was found.
    pub async fn revoke_by_refresh_token(&self, presented: &Secret) -> Result<bool, ApiError> {
        let session: Option<(String,)> = sqlx::query_as("SELECT session_id FROM refresh_tokens WHERE token_hash = $1")
            .bind(refresh_token::hash(presented.expose()))
            .fetch_optional(&self.db.writer)
            .await?;
        let Some((session_id,)) = session else { return Ok(false) };
        self.revoke(&session_id, RevokeReason::RefreshTokenRevoked, Cascade::WithForks { sparing: None }).await?;
        Ok(true)
    }

    /// `user_id`'s live sessions, oldest first; `current` marks the one with `current_session`, `relation`
    /// also its forks.
    pub async fn list(&self, user_id: &str, current_session: &str) -> Result<Vec<SessionInfo>, ApiError> {
        let rows: Vec<(String, String, String, String, Option<String>)> = sqlx::query_as(
            "SELECT id, kind, created_at, COALESCE(last_used_at, created_at), forked_from FROM sessions
             WHERE user_id = $1 AND revoked_at IS NULL ORDER BY unixepoch(created_at, 'subsec'), id",
        )
        .bind(user_id)
        .fetch_all(&self.db.reader)
        .await?;
        let parents: HashMap<String, String> =
            rows.iter().filter_map(|row| Some((row.0.clone(), row.4.clone()?))).collect();
        let now = OffsetDateTime::now_utc();
        let mut sessions = Vec::with_capacity(rows.len());
        for (id, kind, created_at, last_used_at, _) in rows {
            let ends_at = self.limits.ends_at(parse_time(&created_at)?, parse_time(&last_used_at)?);
            if ends_at <= now || self.is_revoked(&id) {
                continue;
            }
            sessions.push(SessionInfo {
                relation: relation_of(&id, current_session, &parents),
                current: id == current_session,
                kind: if kind == "browser" { SessionKind::Browser.as_str() } else { SessionKind::Api.as_str() },
                id,
                created_at,
                last_used_at,
                expires_at: ends_at.format(&Rfc3339).expect("UTC formats"),
            });
        }
        Ok(sessions)
    }

    /// Ends `session_id` and its forks (but never `caller`, the session the player acts from) if it is one of
    /// `user_id`'s live sessions; `false` (nothing done) if it is not: unknown, another player's, already
    /// revoked or past its limits.
    pub async fn revoke_own(&self, user_id: &str, session_id: &str, caller: &str) -> Result<bool, ApiError> {
        let row: Option<(String, String)> = sqlx::query_as(
            "SELECT created_at, COALESCE(last_used_at, created_at) FROM sessions
             WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL",
        )
        .bind(session_id)
        .bind(user_id)
        .fetch_optional(&self.db.writer)
        .await?;
        let Some((created_at, last_used_at)) = row else { return Ok(false) };
        if self.limits.ends_at(parse_time(&created_at)?, parse_time(&last_used_at)?) <= OffsetDateTime::now_utc() {
            return Ok(false);
        }
        let cascade = Cascade::WithForks { sparing: Some(caller) };
        self.revoke(session_id, RevokeReason::EndedByPlayer, cascade).await?;
        Ok(true)
    }

    /// Ends every session of `user_id` but `caller` (its forks included: they are other computers), in one
    /// transaction. Returns how many were live.
    pub async fn revoke_others(&self, user_id: &str, caller: &str) -> Result<usize, ApiError> {
        let mut tx = self.db.writer.begin().await?;
        let others: Vec<(String,)> =
            sqlx::query_as("SELECT id FROM sessions WHERE user_id = $1 AND id <> $2 AND revoked_at IS NULL")
                .bind(user_id)
                .bind(caller)
                .fetch_all(&mut *tx)
                .await?;
        for (id,) in &others {
            revocation::write(&self.db, &mut tx, id, RevokeReason::EndedWithOthers, Cascade::Alone).await?;
        }
        tx.commit().await?;
        others.iter().for_each(|(id,)| self.remember_revoked(id));
        Ok(others.len())
    }

    fn remember_revoked(&self, session_id: &str) {
        {
            let mut revoked = self.revoked.write().recover();
            let keep = self.keep_revoked_for;
            revoked.retain(|_, at| at.elapsed() < keep);
            revoked.insert(session_id.to_owned(), Instant::now());
        }
        let _ = self.revocations.send(session_id.to_owned());
    }

    pub fn is_revoked(&self, session_id: &str) -> bool {
        self.revoked.read().recover().contains_key(session_id)
    }

    /// Session ids as they are revoked; event streams end themselves when theirs appears.
    pub fn revocations(&self) -> broadcast::Receiver<String> {
        self.revocations.subscribe()
    }
}

/// Sessions revoked within `keep_revoked_for`. Entries count from now: they are kept at most one extra
/// lifetime, never too short.
async fn recently_revoked(db: &Database, keep_revoked_for: Duration) -> Result<HashMap<String, Instant>, sqlx::Error> {
    let since = (OffsetDateTime::now_utc() - keep_revoked_for).unix_timestamp();
    let rows: Vec<(String,)> = sqlx::query_as("SELECT id FROM sessions WHERE unixepoch(revoked_at) >= $1")
        .bind(since)
        .fetch_all(&db.reader)
        .await?;
    Ok(rows.into_iter().map(|(id,)| (id, Instant::now())).collect())
}

/// `id`'s relation to `current`, following `parents` (child id to parent id) up from `id`.
fn relation_of(id: &str, current: &str, parents: &HashMap<String, String>) -> Relation {
    if id == current {
        return Relation::Current;
    }
    let mut at = id;
    // Bounded by the number of sessions: a fork never comes before its parent, but a bound costs nothing.
    for _ in 0..parents.len() {
        match parents.get(at) {
            Some(parent) if parent == current => return Relation::Fork,
            Some(parent) => at = parent,
            None => break,
        }
    }
    Relation::Other
}

fn parse_time(text: &str) -> Result<OffsetDateTime, ApiError> {
    OffsetDateTime::parse(text, &Rfc3339).map_err(ApiError::internal)
}

async fn insert_refresh_token(
    tx: &mut AnyConnection,
    session_id: &str,
    now: &str,
) -> Result<refresh_token::NewToken, sqlx::Error> {
    let token = refresh_token::generate();
    sqlx::query("INSERT INTO refresh_tokens (token_hash, session_id, issued_at) VALUES ($1, $2, $3)")
        .bind(refresh_token::hash(token.text.expose()))
        .bind(session_id)
        .bind(now)
        .execute(tx)
        .await?;
    Ok(token)
}
