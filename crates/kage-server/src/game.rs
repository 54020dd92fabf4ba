//! The game itself: players' profiles and the actions that change them, on the database.
//!
//! Every change bumps `version` and `updated_at` in the same statement, so a client can always tell which
//! of two profiles it holds is newer. The actions run on a connection the caller holds in a transaction on
//! the single writer (see `db` and `idempotency`), which makes each action's check-then-write atomic, and
//! lets the caller record the action's idempotency key in the same transaction. An action that fails with
//! an [`ApiError`] may have written part of itself: the caller rolls its transaction back (as
//! `idempotency::Pending::finish` does), so nothing of it stays.

use serde::{Deserialize, Serialize};
use sqlx::FromRow;

use sqlx::AnyConnection;

use crate::db::{Database, now_rfc3339};
use crate::error::ApiError;

pub const VILLAGES: &[&str] = &["Leaf", "Sand", "Mist", "Cloud", "Stone"];
pub const STARTING_RYO: i64 = 100;
pub const TRAVEL_COST: i64 = 20;
pub const XP_PER_TRAINING: i64 = 25;
pub const XP_PER_LEVEL: i64 = 100;
pub const MAX_TRANSFER: i64 = 1_000_000;

#[derive(Debug, Clone, Serialize, Deserialize, FromRow, PartialEq, Eq)]
pub struct Profile {
    pub id: String,
    pub username: String,
    pub level: i64,
    pub xp: i64,
    pub village: String,
    pub ryo: i64,
    #[sqlx(flatten)]
    pub stats: Stats,
    pub version: i64,
    pub updated_at: String,
    /// Sent with every profile, so a client shows the server's rules and keeps no copy of its own (and has
    /// them offline, with its cached profile).
    #[sqlx(skip)]
    #[serde(default)]
    pub rules: Rules,
}

/// The rules above, as clients are told them (`rules` in every profile, docs/protocol.md).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Rules {
    pub villages: Vec<String>,
    pub travel_cost: i64,
    pub xp_per_training: i64,
    /// A player's level is 1 + xp / `xp_per_level`.
    pub xp_per_level: i64,
    pub max_transfer: i64,
}

impl Default for Rules {
    fn default() -> Self {
        Self {
            villages: VILLAGES.iter().map(|&village| village.to_owned()).collect(),
            travel_cost: TRAVEL_COST,
            xp_per_training: XP_PER_TRAINING,
            xp_per_level: XP_PER_LEVEL,
            max_transfer: MAX_TRANSFER,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, FromRow, PartialEq, Eq)]
pub struct Stats {
    pub strength: i64,
    pub agility: i64,
    pub chakra: i64,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum Stat {
    #[default]
    Strength,
    Agility,
    Chakra,
}

impl Stat {
    fn column(self) -> &'static str {
        match self {
            Self::Strength => "strength",
            Self::Agility => "agility",
            Self::Chakra => "chakra",
        }
    }
}

/// The columns of a [`Profile`], as a macro so queries stay `&'static str` (sqlx refuses formatted SQL).
macro_rules! profile_columns {
    () => {
        "id, username, level, xp, village, ryo, strength, agility, chakra, version, updated_at"
    };
}

pub struct Credentials {
    pub user_id: String,
    pub password_hash: String,
}

pub async fn create_player(
    db: &Database,
    username: &str,
    password_hash: &str,
    village: &str,
    ryo: i64,
) -> Result<Profile, ApiError> {
    let mut connection = db.writer.acquire().await?;
    let inserted = insert_player(&mut connection, username, password_hash, village, ryo).await?;
    inserted.ok_or_else(|| ApiError::conflict("username_taken", format!("the username {username:?} is taken")))
}

/// A new player on `connection`, or `None` if the username is taken (compared without case).
pub async fn insert_player(
    connection: &mut AnyConnection,
    username: &str,
    password_hash: &str,
    village: &str,
    ryo: i64,
) -> Result<Option<Profile>, sqlx::Error> {
    let now = now_rfc3339();
    let id = uuid::Uuid::new_v4().to_string();
    sqlx::query_as::<_, Profile>(concat!(
        "INSERT INTO users (id, username, password_hash, village, ryo, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT(username) DO NOTHING RETURNING ",
        profile_columns!()
    ))
    .bind(&id)
    .bind(username)
    .bind(password_hash)
    .bind(village)
    .bind(ryo)
    .bind(&now)
    .bind(&now)
    .fetch_optional(connection)
    .await
}

/// A player's password hash, if the player has a password (players of external identities have none).
pub async fn credentials(db: &Database, username: &str) -> Result<Option<Credentials>, ApiError> {
    let row: Option<(String, String)> =
        sqlx::query_as("SELECT id, password_hash FROM users WHERE username = $1 AND password_hash <> ''")
            .bind(username)
            .fetch_optional(&db.reader)
            .await?;
    Ok(row.map(|(user_id, password_hash)| Credentials { user_id, password_hash }))
}

pub async fn profile(db: &Database, user_id: &str) -> Result<Profile, ApiError> {
    sqlx::query_as::<_, Profile>(concat!("SELECT ", profile_columns!(), " FROM users WHERE id = $1"))
        .bind(user_id)
        .fetch_optional(&db.reader)
        .await?
        .ok_or_else(|| ApiError::NotFound("this player no longer exists".into()))
}

pub async fn user_id_by_name(db: &Database, username: &str) -> Result<Option<String>, ApiError> {
    let row: Option<(String,)> =
        sqlx::query_as("SELECT id FROM users WHERE username = $1").bind(username).fetch_optional(&db.reader).await?;
    Ok(row.map(|(id,)| id))
}

pub async fn train(conn: &mut AnyConnection, user_id: &str, stat: Stat) -> Result<Profile, ApiError> {
    sqlx::query_as::<_, Profile>(concat!(
        "UPDATE users SET xp = xp + $1, level = 1 + (xp + $1) / $2,
                          strength = strength + CASE WHEN $3 = 'strength' THEN 1 ELSE 0 END,
                          agility = agility + CASE WHEN $3 = 'agility' THEN 1 ELSE 0 END,
                          chakra = chakra + CASE WHEN $3 = 'chakra' THEN 1 ELSE 0 END, version = version + 1, updated_at = $4
         WHERE id = $5 RETURNING ",
        profile_columns!()
    ))
    .bind(XP_PER_TRAINING)
    .bind(XP_PER_LEVEL)
    .bind(stat.column())
    .bind(now_rfc3339())
    .bind(user_id)
    .fetch_optional(conn)
    .await?
    .ok_or_else(|| ApiError::NotFound("this player no longer exists".into()))
}

pub async fn travel(conn: &mut AnyConnection, user_id: &str, village: &str) -> Result<Profile, ApiError> {
    let Some(village) = VILLAGES.iter().find(|v| v.eq_ignore_ascii_case(village)) else {
        return Err(ApiError::unprocessable(
            "unknown_village",
            format!("there is no village {village:?}; choose one of {}", VILLAGES.join(", ")),
        ));
    };
    // One conditional statement, so two travels at once (on two server instances, say) cannot both pass the
    // checks; when it changes nothing, a read says why.
    let moved = sqlx::query_as::<_, Profile>(concat!(
        "UPDATE users SET village = $1, ryo = ryo - $2, version = version + 1, updated_at = $3
         WHERE id = $4 AND village <> $1 AND ryo >= $2 RETURNING ",
        profile_columns!()
    ))
    .bind(*village)
    .bind(TRAVEL_COST)
    .bind(now_rfc3339())
    .bind(user_id)
    .fetch_optional(&mut *conn)
    .await?;
    if let Some(profile) = moved {
        return Ok(profile);
    }
    let (current, ryo): (String, i64) = sqlx::query_as("SELECT village, ryo FROM users WHERE id = $1")
        .bind(user_id)
        .fetch_optional(conn)
        .await?
        .ok_or_else(|| ApiError::NotFound("this player no longer exists".into()))?;
    if current == *village {
        return Err(ApiError::conflict("already_there", format!("you are already in {village}")));
    }
    Err(ApiError::conflict("insufficient_ryo", format!("travel costs {TRAVEL_COST} ryo and you have {ryo}")))
}

pub struct Transfer {
    pub sender: Profile,
    pub recipient_id: String,
    pub recipient_version: i64,
}

/// Moves `amount` ryo from `from_id` to the player named `to`, both rows in the caller's transaction: the
/// debit only happens if the balance covers it, and the credit only together with the debit.
pub async fn transfer(conn: &mut AnyConnection, from_id: &str, to: &str, amount: i64) -> Result<Transfer, ApiError> {
    if !(1..=MAX_TRANSFER).contains(&amount) {
        return Err(ApiError::unprocessable(
            "invalid_amount",
            format!("amount must be a whole number of ryo from 1 to {MAX_TRANSFER}"),
        ));
    }
    let recipient: Option<(String,)> =
        sqlx::query_as("SELECT id FROM users WHERE username = $1").bind(to).fetch_optional(&mut *conn).await?;
    let Some((recipient_id,)) = recipient else {
        return Err(ApiError::NotFound(format!("there is no player named {to:?}")));
    };
    if recipient_id == from_id {
        return Err(ApiError::unprocessable("self_transfer", "you cannot send ryo to yourself"));
    }
    let now = now_rfc3339();
    // Both rows are written in the order of their ids, so that on PostgreSQL, where each write locks its row
    // until the commit, a transfer from a to b and one from b to a at the same moment wait for each other
    // instead of deadlocking. A refused debit after the credit is undone by the caller's rollback.
    let recipient_version = if from_id < recipient_id.as_str() {
        None
    } else {
        Some(credit(&mut *conn, &recipient_id, amount, &now).await?)
    };
    let sender = sqlx::query_as::<_, Profile>(concat!(
        "UPDATE users SET ryo = ryo - $1, version = version + 1, updated_at = $2
         WHERE id = $3 AND ryo >= $1 RETURNING ",
        profile_columns!()
    ))
    .bind(amount)
    .bind(&now)
    .bind(from_id)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(sender) = sender else {
        return Err(ApiError::conflict("insufficient_ryo", format!("you have fewer than {amount} ryo")));
    };
    let recipient_version = match recipient_version {
        Some(version) => version,
        None => credit(conn, &recipient_id, amount, &now).await?,
    };
    Ok(Transfer { sender, recipient_id, recipient_version })
}

/// Adds `amount` ryo to `user_id`, returning the new profile version.
async fn credit(conn: &mut AnyConnection, user_id: &str, amount: i64, now: &str) -> Result<i64, sqlx::Error> {
    let (version,): (i64,) = sqlx::query_as(
        "UPDATE users SET ryo = ryo + $1, version = version + 1, updated_at = $2 WHERE id = $3 RETURNING version",
    )
    .bind(amount)
    .bind(now)
    .bind(user_id)
    .fetch_one(conn)
    .await?;
    Ok(version)
}
