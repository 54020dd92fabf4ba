//! Writing a revocation: which sessions one revocation ends, and how the other instances learn of it.
//!
//! A fork (`POST /v1/sessions/fork`) is a new session minted from a live one, for another computer. Ending a
//! session must end what was minted from it, or a stolen access token could fork its way past a sign-out, a
//! reuse detection or the player ending it (issue 17): so a revocation [`Cascade`]s down the `forked_from`
//! links, forks of forks included. It never goes up: ending a fork leaves the session it came from.
//!
//! Every revoked id is announced on [`REVOKED_CHANNEL`] by a `NOTIFY` in the *same transaction* as the
//! `UPDATE` (PostgreSQL delivers it at commit, never for a rollback), so a connection or an instance that dies
//! between the two statements leaves neither: never a session revoked in the database that no instance
//! refuses (issue 21). The notification is a hint only: an instance that hears it reads the session's row
//! before it believes it ([`crate::sessions::SessionStore::revoked_elsewhere`]), so a role that may `NOTIFY`
//! but cannot write `sessions` cannot sign anyone out.

use sqlx::AnyConnection;

use crate::db::{Database, now_rfc3339};

/// The PostgreSQL `NOTIFY` channel revoked session ids travel on between instances.
pub const REVOKED_CHANNEL: &str = "kage_revoked";

/// Why a session ended; stored for the record.
#[derive(Debug, Clone, Copy)]
pub enum RevokeReason {
    SignedOut,
    RefreshTokenReused,
    /// `POST /v1/sessions/revoke`: the holder of a refresh token gave it up (RFC 7009).
    RefreshTokenRevoked,
    /// `DELETE /v1/sessions/{id}`: the player ended it from another session (or from itself).
    EndedByPlayer,
    /// Refreshed after its idle or absolute limit.
    Expired,
    /// The session it was forked from ended (any of the reasons above but `Expired`).
    ParentEnded,
    /// `POST /v1/sessions/end-others`: the player ended every session but the one they act from.
    EndedWithOthers,
}

impl RevokeReason {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::SignedOut => "signed_out",
            Self::RefreshTokenReused => "refresh_token_reused",
            Self::RefreshTokenRevoked => "refresh_token_revoked",
            Self::EndedByPlayer => "ended_by_player",
            Self::Expired => "expired",
            Self::ParentEnded => "parent_ended",
            Self::EndedWithOthers => "ended_with_others",
        }
    }
}

/// Which sessions besides the named one a revocation ends.
#[derive(Debug, Clone, Copy)]
pub enum Cascade<'a> {
    /// Only this session (it ended by itself, past its limits; or the player ends several one by one).
    Alone,
    /// This session and every session forked from it, at any depth, except `sparing` (the session the player
    /// acts from, which may itself be a fork of the one ended).
    WithForks { sparing: Option<&'a str> },
}

/// Marks `session_id` (and, by `cascade`, its forks) revoked and announces each on [`REVOKED_CHANNEL`], inside
/// the transaction `connection` is in. The first reason is kept for a session that already was revoked; forks
/// are recorded as [`RevokeReason::ParentEnded`]. Returns every session id this revocation covers.
pub async fn write(
    db: &Database,
    connection: &mut AnyConnection,
    session_id: &str,
    reason: RevokeReason,
    cascade: Cascade<'_>,
) -> Result<Vec<String>, sqlx::Error> {
    let mut ended = vec![session_id.to_owned()];
    if let Cascade::WithForks { sparing } = cascade {
        let forks: Vec<(String,)> = sqlx::query_as(
            "WITH RECURSIVE family(id) AS (
                 SELECT id FROM sessions WHERE forked_from = $1
                 UNION SELECT s.id FROM sessions s JOIN family f ON s.forked_from = f.id)
             SELECT id FROM family",
        )
        .bind(session_id)
        .fetch_all(&mut *connection)
        .await?;
        ended.extend(forks.into_iter().map(|(id,)| id).filter(|id| Some(id.as_str()) != sparing));
    }
    let now = now_rfc3339();
    for (index, id) in ended.iter().enumerate() {
        let why = if index == 0 { reason } else { RevokeReason::ParentEnded };
        sqlx::query("UPDATE sessions SET revoked_at = $1, revoked_why = $2 WHERE id = $3 AND revoked_at IS NULL")
            .bind(&now)
            .bind(why.as_str())
            .bind(id)
            .execute(&mut *connection)
            .await?;
        db.notify(connection, REVOKED_CHANNEL, id).await?;
    }
    Ok(ended)
}

/// Whether the database says `session_id` is revoked: what a notification is checked against.
pub async fn is_revoked_in_database(db: &Database, session_id: &str) -> Result<bool, sqlx::Error> {
    let row: Option<(String,)> = sqlx::query_as("SELECT id FROM sessions WHERE id = $1 AND revoked_at IS NOT NULL")
        .bind(session_id)
        .fetch_optional(&db.reader)
        .await?;
    Ok(row.is_some())
}
