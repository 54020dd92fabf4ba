//! Refusing to start behind a transaction pooler where one breaks the server (issue 21).
//!
//! A transaction-pooling PgBouncer (or any pooler that hands a client's transactions to whichever server
//! connection is free) breaks two things kage-server relies on, each without a word of its own: `LISTEN`
//! registers on a server connection the pooler gives to someone else after the statement, so notifications
//! stop arriving (the instance would be deaf for ever, and its heartbeat says so only afterwards); and named
//! prepared statements, which sqlx uses for every query, turn up on the wrong connection ("prepared statement
//! sqlx_s_1 already exists", or "does not exist"). So at start:
//! - the listening URL is probed: two connections of ours that report the same PostgreSQL backend are
//!   sharing server sessions, which only a pooler does. The start is refused with a sentence that names the
//!   pooler and what to configure: session pooling, or `--listen-database-url` with a direct URL.
//! - a prepared-statement error while opening the database is reported as the pooler it means, not as SQL.
//!
//! The probe uses the simple query protocol (no prepared statement), so it works through any pooler.

#[cfg(feature = "postgres")]
use sqlx::postgres::{PgConnectOptions, PgConnection};
#[cfg(feature = "postgres")]
use sqlx::{Connection, Row};

/// What a pooler between kage-server and PostgreSQL breaks.
#[derive(Debug, thiserror::Error)]
pub enum PoolerError {
    #[error(
        "{which} reaches PostgreSQL through a transaction pooler (such as PgBouncer with pool_mode = transaction): \
         two connections share one server session, so LISTEN would stop hearing the other instances without a \
         word. Use session pooling (pool_mode = session), or give --listen-database-url a URL that reaches \
         PostgreSQL directly"
    )]
    ListenerPooled { which: &'static str },
    #[error(
        "the database URL goes through a transaction pooler that does not keep prepared statements (PostgreSQL \
         said: {said}). kage-server prepares its statements: use session pooling (pool_mode = session), or a \
         pooler that keeps prepared statements in transaction mode (PgBouncer 1.21 or later with \
         max_prepared_statements set) together with a direct --listen-database-url"
    )]
    PreparedStatementsLost { said: String },
    #[error("cannot probe {which} for a pooler: {source}")]
    Probe { which: &'static str, source: sqlx::Error },
}

/// Refuses a listening URL whose connections share PostgreSQL sessions. `which` names it in the sentence.
#[cfg(feature = "postgres")]
pub async fn check_listener(url: &str, which: &'static str) -> Result<(), PoolerError> {
    let probe = |source| PoolerError::Probe { which, source };
    let options: PgConnectOptions = url.parse().map_err(probe)?;
    let mut first = PgConnection::connect_with(&options).await.map_err(probe)?;
    let first_backend = backend_of(&mut first).await.map_err(probe)?;
    let mut second = PgConnection::connect_with(&options).await.map_err(probe)?;
    let second_backend = backend_of(&mut second).await.map_err(probe)?;
    let _ = first.close().await;
    let _ = second.close().await;
    if first_backend == second_backend {
        return Err(PoolerError::ListenerPooled { which });
    }
    Ok(())
}

/// The PostgreSQL backend serving this statement, asked without a prepared statement.
#[cfg(feature = "postgres")]
async fn backend_of(connection: &mut PgConnection) -> Result<i32, sqlx::Error> {
    sqlx::raw_sql("SELECT pg_backend_pid()").fetch_one(connection).await?.try_get(0)
}

/// The pooler an error from opening the database means, if it means one: PostgreSQL's codes for a prepared
/// statement that already exists (42P05) or does not (26000) on the connection a statement landed on.
pub fn from_open_error(error: &sqlx::Error) -> Option<PoolerError> {
    let database = error.as_database_error()?;
    matches!(database.code().as_deref(), Some("42P05" | "26000"))
        .then(|| PoolerError::PreparedStatementsLost { said: database.message().to_owned() })
}

/// Without PostgreSQL's driver there is no listener to check (a postgres URL is refused when the database opens).
#[cfg(not(feature = "postgres"))]
pub async fn check_listener(_url: &str, _which: &'static str) -> Result<(), PoolerError> {
    Ok(())
}
