//! Which player an external identity is: one row per `(issuer, sub)`, made the first time it signs in.
//!
//! `sub` is the provider's stable id for a person; names change and can be reused, so a player is never
//! found by `preferred_username`. That name only seeds the new player's username, made unique with a suffix
//! when taken (by a password player, or by another person of the provider with the same name).

use std::collections::HashMap;
use std::sync::RwLock;

use crate::api::accounts::USERNAME_MAX;
use crate::db::{Database, now_rfc3339};
use crate::error::ApiError;
use crate::game::{self, STARTING_RYO, VILLAGES};
use crate::locks::Recover;
use crate::throttle::Throttle;

/// Players of external identities have no password: an empty hash, which password sign-in never matches.
pub const NO_PASSWORD: &str = "";

/// The identity → player table, with the answers already read kept in memory (they never change).
#[derive(Default)]
pub struct Identities {
    known: RwLock<HashMap<(String, String), String>>,
}

impl Identities {
    /// The player id of `(issuer, subject)`, creating the player on first sight (counted by `throttle`: at
    /// most so many new players per issuer and window, like sign-ups per address).
    pub async fn player_for(
        &self,
        db: &Database,
        throttle: &Throttle,
        issuer: &str,
        subject: &str,
        preferred_username: Option<&str>,
    ) -> Result<String, ApiError> {
        let key = (issuer.to_owned(), subject.to_owned());
        if let Some(user_id) = self.known.read().recover().get(&key) {
            return Ok(user_id.clone());
        }
        let found: Option<(String,)> =
            sqlx::query_as("SELECT user_id FROM external_identities WHERE issuer = $1 AND subject = $2")
                .bind(issuer)
                .bind(subject)
                .fetch_optional(&db.reader)
                .await?;
        let user_id = match found {
            Some((user_id,)) => user_id,
            None => {
                throttle.new_player_attempt(issuer).await?;
                create(db, issuer, subject, preferred_username).await?
            }
        };
        self.known.write().recover().insert(key, user_id.clone());
        Ok(user_id)
    }
}

/// One transaction on the single writer (SQLite) or under a lock on the identity (PostgreSQL, where the two
/// may reach two server instances): two first requests of the same person at once make one player.
async fn create(db: &Database, issuer: &str, subject: &str, preferred: Option<&str>) -> Result<String, ApiError> {
    let mut tx = db.writer.begin().await?;
    db.lock_for_transaction(&mut tx, &format!("identity\n{issuer}\n{subject}")).await?;
    let existing: Option<(String,)> =
        sqlx::query_as("SELECT user_id FROM external_identities WHERE issuer = $1 AND subject = $2")
            .bind(issuer)
            .bind(subject)
            .fetch_optional(&mut *tx)
            .await?;
    if let Some((user_id,)) = existing {
        return Ok(user_id);
    }
    let base = username_base(preferred);
    let mut profile = None;
    for candidate in candidates(&base) {
        profile = game::insert_player(&mut tx, &candidate, NO_PASSWORD, VILLAGES[0], STARTING_RYO).await?;
        if profile.is_some() {
            break;
        }
    }
    let profile = profile.ok_or_else(|| ApiError::internal("no free username for a new external player"))?;
    sqlx::query("INSERT INTO external_identities (issuer, subject, user_id, created_at) VALUES ($1, $2, $3, $4)")
        .bind(issuer)
        .bind(subject)
        .bind(&profile.id)
        .bind(now_rfc3339())
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    tracing::info!(user = %profile.id, username = %profile.username, %issuer, "player created for an external identity");
    Ok(profile.id)
}

/// `preferred_username` reduced to what a username may hold (3 to 24 of letters, digits, `_`, `-`).
fn username_base(preferred: Option<&str>) -> String {
    let kept: String = preferred
        .unwrap_or_default()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
        .take(USERNAME_MAX)
        .collect();
    if kept.len() < 3 { "player".into() } else { kept }
}

/// `base`, then `base-2`, `base-3`, ... (shortened to fit), then random suffixes.
fn candidates(base: &str) -> impl Iterator<Item = String> + '_ {
    let numbered = (2..=100u32).map(move |n| with_suffix(base, &n.to_string()));
    let random = (0..20).map(move |_| with_suffix(base, &format!("{:06x}", rand::random::<u32>() & 0xff_ffff)));
    std::iter::once(base.to_owned()).chain(numbered).chain(random)
}

fn with_suffix(base: &str, suffix: &str) -> String {
    let room = USERNAME_MAX - suffix.len() - 1;
    format!("{}-{suffix}", &base[..base.len().min(room)])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_are_made_valid_and_unique_candidates_fit() {
        assert_eq!(username_base(Some("Jo Ann!")), "JoAnn");
        assert_eq!(username_base(Some("é")), "player");
        assert_eq!(username_base(None), "player");
        let long = "a".repeat(40);
        let base = username_base(Some(&long));
        let mut all = candidates(&base);
        assert_eq!(all.next().unwrap().len(), USERNAME_MAX);
        let second = all.next().unwrap();
        assert!(second.ends_with("-2") && second.len() == USERNAME_MAX, "{second}");
    }
}
