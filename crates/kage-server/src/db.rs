//! The SQLite database: a pool of readers and exactly one writer.
//!
//! SQLite allows one writer at a time; funnelling every write through a single connection turns lock
//! contention (`SQLITE_BUSY`) into an ordinary queue, so a transfer's read-check-write is serialised without
//! retries. WAL mode lets the readers run alongside it.

use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("invalid database URL {url:?}: {source}")]
    BadUrl { url: String, source: sqlx::Error },
    #[error("cannot open the database: {0}")]
    Open(#[source] sqlx::Error),
    #[error("cannot migrate the database: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

#[derive(Clone)]
pub struct Database {
    pub reader: SqlitePool,
    pub writer: SqlitePool,
}

impl Database {
    pub async fn open(url: &str) -> Result<Self, DbError> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(|source| DbError::BadUrl { url: url.to_owned(), source })?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(5));
        let writer =
            SqlitePoolOptions::new().max_connections(1).connect_with(options.clone()).await.map_err(DbError::Open)?;
        sqlx::migrate!("./migrations").run(&writer).await?;
        // One reader per core: each sqlx SQLite connection runs on a thread of its own, and more threads than
        // cores measured slower (docs/benchmarks.md).
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get().max(2));
        let reader = SqlitePoolOptions::new()
            .max_connections(cores as u32)
            .connect_with(options.read_only(true))
            .await
            .map_err(DbError::Open)?;
        Ok(Self { reader, writer })
    }
}

/// Timestamps are stored and sent as RFC 3339 UTC strings.
pub fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc().format(&time::format_description::well_known::Rfc3339).expect("UTC formats")
}
