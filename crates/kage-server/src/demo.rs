//! Demo players for the sandbox: `main` and `alt`, so a new player can try two accounts at once.

use crate::db::Database;
use crate::error::ApiError;
use crate::game::{self, VILLAGES};
use crate::passwords::Passwords;
use crate::secret::Secret;

/// (username, password, village index, starting ryo). The passwords are public: these are sandbox players.
pub const DEMO_PLAYERS: &[(&str, &str, usize, i64)] =
    &[("main", "main-password", 0, 1_000), ("alt", "alt-password", 2, 250)];

/// Creates the demo players that do not exist yet; existing ones keep their progress.
pub async fn seed(db: &Database, passwords: &Passwords) -> Result<(), ApiError> {
    for &(username, password, village, ryo) in DEMO_PLAYERS {
        if game::user_id_by_name(db, username).await?.is_some() {
            continue;
        }
        let hash = passwords.hash(Secret::new(password.to_owned())).await?;
        game::create_player(db, username, &hash, VILLAGES[village], ryo).await?;
    }
    Ok(())
}
