//! Sessions: creation, refresh-token rotation with reuse detection, and revocation.
//!
//! Refresh tokens are opaque random strings, stored only as SHA-256 hashes. Each use rotates the token; a
//! token presented a second time means it was copied, so the whole session is revoked (RFC 9700 4.14.2).
//!
//! Revocation has to stop a session's live access tokens on the very next request, yet checking the
//! database on every request would cost a round trip. [`SessionStore`] keeps the set of recently revoked
//! session ids in memory: every revocation this server makes goes into the set *before* its database write, so
//! the in-memory view is never behind the server's own writes. Entries older than the longest token
//! lifetime are pruned, since every token of such a session has expired anyway. (With several server
//! instances the set would be fed by PostgreSQL LISTEN/NOTIFY; see DESIGN.md, growth path.)

use std::collections::HashMap;
use std::sync::RwLock;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use tokio::sync::broadcast;

use crate::db::{Database, now_rfc3339};
use crate::error::ApiError;
use crate::secret::Secret;

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

/// Why a session ended; stored for the record.
#[derive(Debug, Clone, Copy)]
pub enum RevokeReason {
    SignedOut,
    RefreshTokenReused,
}

impl RevokeReason {
    fn as_str(self) -> &'static str {
        match self {
            Self::SignedOut => "signed_out",
            Self::RefreshTokenReused => "refresh_token_reused",
        }
    }
}

pub struct Rotated {
    pub session_id: String,
    pub user_id: String,
    pub refresh_token: Secret,
}

pub struct SessionStore {
    db: Database,
    revoked: RwLock<HashMap<String, Instant>>,
    revocations: broadcast::Sender<String>,
    keep_revoked_for: Duration,
}

impl SessionStore {
    /// `keep_revoked_for` is the longest lifetime of any token the server issues.
    pub async fn load(db: Database, keep_revoked_for: Duration) -> Result<Self, sqlx::Error> {
        let since = time::OffsetDateTime::now_utc() - keep_revoked_for;
        let since = since.format(&time::format_description::well_known::Rfc3339).expect("UTC formats");
        let rows: Vec<(String,)> =
            sqlx::query_as("SELECT id FROM sessions WHERE revoked_at >= ?").bind(since).fetch_all(&db.reader).await?;
        // Loaded entries count from now: they are kept at most one extra lifetime, never too short.
        let revoked = rows.into_iter().map(|(id,)| (id, Instant::now())).collect();
        let (revocations, _) = broadcast::channel(256);
        Ok(Self { db, revoked: RwLock::new(revoked), revocations, keep_revoked_for })
    }

    pub async fn create(&self, user_id: &str, kind: SessionKind) -> Result<(String, Option<Secret>), ApiError> {
        let session_id = uuid::Uuid::new_v4().to_string();
        let now = now_rfc3339();
        let mut tx = self.db.writer.begin().await?;
        sqlx::query("INSERT INTO sessions (id, user_id, kind, created_at) VALUES (?, ?, ?, ?)")
            .bind(&session_id)
            .bind(user_id)
            .bind(kind.as_str())
            .bind(&now)
            .execute(&mut *tx)
            .await?;
        let refresh = match kind {
            SessionKind::Browser => None,
            SessionKind::Api => Some(insert_refresh_token(&mut tx, &session_id, &now).await?),
        };
        tx.commit().await?;
        Ok((session_id, refresh))
    }

    /// Spends `presented` and returns its successor, or revokes the session if it was already spent.
    pub async fn rotate(&self, presented: &Secret) -> Result<Rotated, ApiError> {
        let hash = token_hash(presented.expose());
        let now = now_rfc3339();
        let mut tx = self.db.writer.begin().await?;
        let spent: Option<(String, String, Option<String>)> = sqlx::query_as(
            "UPDATE refresh_tokens SET used_at = ?1 WHERE token_hash = ?2 AND used_at IS NULL
             RETURNING session_id,
                       (SELECT user_id FROM sessions WHERE id = session_id),
                       (SELECT revoked_at FROM sessions WHERE id = session_id)",
        )
        .bind(&now)
        .bind(&hash)
        .fetch_optional(&mut *tx)
        .await?;
        match spent {
            Some((session_id, user_id, None)) if !self.is_revoked(&session_id) => {
                let refresh_token = insert_refresh_token(&mut tx, &session_id, &now).await?;
                tx.commit().await?;
                Ok(Rotated { session_id, user_id, refresh_token })
            }
            Some(_) => Err(ApiError::InvalidGrant),
            None => {
                let reused: Option<(String,)> =
                    sqlx::query_as("SELECT session_id FROM refresh_tokens WHERE token_hash = ?")
                        .bind(&hash)
                        .fetch_optional(&mut *tx)
                        .await?;
                tx.rollback().await?;
                if let Some((session_id,)) = reused {
                    tracing::warn!(session = %session_id, "refresh token reused; revoking its session");
                    self.revoke(&session_id, RevokeReason::RefreshTokenReused).await?;
                }
                Err(ApiError::InvalidGrant)
            }
        }
    }

    pub async fn revoke(&self, session_id: &str, reason: RevokeReason) -> Result<(), ApiError> {
        {
            let mut revoked = self.revoked.write().expect("revocation lock");
            let keep = self.keep_revoked_for;
            revoked.retain(|_, at| at.elapsed() < keep);
            revoked.insert(session_id.to_owned(), Instant::now());
        }
        let _ = self.revocations.send(session_id.to_owned());
        sqlx::query("UPDATE sessions SET revoked_at = ?, revoked_why = ? WHERE id = ? AND revoked_at IS NULL")
            .bind(now_rfc3339())
            .bind(reason.as_str())
            .bind(session_id)
            .execute(&self.db.writer)
            .await?;
        Ok(())
    }

    pub fn is_revoked(&self, session_id: &str) -> bool {
        self.revoked.read().expect("revocation lock").contains_key(session_id)
    }

    /// Session ids as they are revoked; event streams end themselves when theirs appears.
    pub fn revocations(&self) -> broadcast::Receiver<String> {
        self.revocations.subscribe()
    }
}

async fn insert_refresh_token(
    tx: &mut sqlx::SqliteConnection,
    session_id: &str,
    now: &str,
) -> Result<Secret, sqlx::Error> {
    let token = URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>());
    sqlx::query("INSERT INTO refresh_tokens (token_hash, session_id, issued_at) VALUES (?, ?, ?)")
        .bind(token_hash(&token))
        .bind(session_id)
        .bind(now)
        .execute(tx)
        .await?;
    Ok(Secret::new(token))
}

fn token_hash(token: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(token.as_bytes()))
}
