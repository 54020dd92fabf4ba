//! The database: SQLite (the embedded default, one process) or PostgreSQL (any number of instances), through
//! sqlx's `Any` driver so every query is written once for both.
//!
//! Queries use `$1`-style placeholders, which both accept. What SQLite has and PostgreSQL lacks is supplied by
//! the PostgreSQL migrations (`unixepoch`, a `nocase` collation); the few statements that must differ (row locks,
//! advisory locks, notifications) go through [`Backend`].
//!
//! SQLite allows one writer at a time; funnelling every write through a single connection turns lock
//! contention (`SQLITE_BUSY`) into an ordinary queue, so a transfer's read-check-write is serialised without
//! retries. WAL mode lets the readers run alongside it. PostgreSQL has row locks instead: `reader` and `writer`
//! are one pool, and what the single writer serialised is serialised by the locks the statements take
//! (`FOR UPDATE`, see [`Backend::for_update`]).

use std::time::Duration;

use sqlx::any::AnyPoolOptions;
use sqlx::{AnyConnection, AnyPool};

use crate::secret::Secret;

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("the database URL must start with sqlite: or postgres:, not {0:?}")]
    UnknownScheme(String),
    #[error("cannot open the database: {0}")]
    Open(#[source] sqlx::Error),
    #[error("cannot migrate the database: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("this kage-server was built without PostgreSQL (cargo feature `postgres`)")]
    NoPostgres,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn of_url(url: &str) -> Result<Self, DbError> {
        if url.starts_with("sqlite:") {
            Ok(Self::Sqlite)
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Ok(Self::Postgres)
        } else {
            // The scheme only: a URL may carry a password.
            Err(DbError::UnknownScheme(url.split(':').next().unwrap_or_default().to_owned()))
        }
    }

    /// `sql` as is on SQLite, whose single writer already serialises it, and with `FOR UPDATE` on PostgreSQL,
    /// where the rows it reads stay locked until the transaction ends. Both arms are `&'static str`.
    pub fn for_update(self, sqlite: &'static str, postgres: &'static str) -> &'static str {
        match self {
            Self::Sqlite => sqlite,
            Self::Postgres => postgres,
        }
    }
}

/// [`Backend::for_update`] for one literal: `locked!(db, "SELECT ...")`.
#[macro_export]
macro_rules! locked {
    ($db:expr, $sql:literal) => {
        $db.backend().for_update($sql, concat!($sql, " FOR UPDATE"))
    };
}

#[derive(Clone)]
pub struct Database {
    pub reader: AnyPool,
    pub writer: AnyPool,
    backend: Backend,
    /// For connections of their own, such as PostgreSQL's `LISTEN`.
    url: std::sync::Arc<Secret>,
}

impl Database {
    pub async fn open(url: &str) -> Result<Self, DbError> {
        sqlx::any::install_default_drivers();
        let backend = Backend::of_url(url)?;
        if backend == Backend::Postgres && !cfg!(feature = "postgres") {
            return Err(DbError::NoPostgres);
        }
        let (reader, writer) = match backend {
            Backend::Sqlite => open_sqlite(url).await?,
            Backend::Postgres => {
                let pool = AnyPoolOptions::new()
                    .max_connections(postgres_pool_size())
                    .acquire_timeout(Duration::from_secs(10))
                    .connect(url)
                    .await
                    .map_err(DbError::Open)?;
                sqlx::migrate!("./migrations/postgres").run(&pool).await?;
                (pool.clone(), pool)
            }
        };
        Ok(Self { reader, writer, backend, url: std::sync::Arc::new(Secret::new(url.to_owned())) })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub fn url(&self) -> &Secret {
        &self.url
    }

    /// Tells every instance on the database `payload` on `channel`, when the transaction `connection` is in
    /// commits (PostgreSQL `NOTIFY`; nothing on SQLite, whose one process tells itself directly).
    pub async fn notify(
        &self,
        connection: &mut AnyConnection,
        channel: &str,
        payload: &str,
    ) -> Result<(), sqlx::Error> {
        if self.backend == Backend::Postgres {
            sqlx::query("SELECT pg_notify($1, $2)").bind(channel).bind(payload).execute(connection).await?;
        }
        Ok(())
    }

    /// Holds the lock named `key` until the transaction `connection` is in ends (PostgreSQL; SQLite's single
    /// writer already holds every transaction apart).
    pub async fn lock_for_transaction(&self, connection: &mut AnyConnection, key: &str) -> Result<(), sqlx::Error> {
        if self.backend == Backend::Postgres {
            let digest = <sha2::Sha256 as sha2::Digest>::digest(key.as_bytes());
            let id = i64::from_be_bytes(digest[..8].try_into().expect("8 bytes"));
            sqlx::query("SELECT pg_advisory_xact_lock($1)").bind(id).execute(connection).await?;
        }
        Ok(())
    }
}

/// Connections per instance: PostgreSQL's default limit of 100 shared by a few instances, each running more
/// requests at once than it has cores (they wait on the database, not on the CPU).
fn postgres_pool_size() -> u32 {
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    (cores as u32 * 4).clamp(8, 32)
}

async fn open_sqlite(url: &str) -> Result<(AnyPool, AnyPool), DbError> {
    let with_mode = |mode: &str| {
        let separator = if url.contains('?') { '&' } else { '?' };
        format!("{url}{separator}mode={mode}")
    };
    let writer = AnyPoolOptions::new()
        .max_connections(1)
        .after_connect(|connection, _| Box::pin(async move { sqlite_pragmas(connection, true).await }))
        .connect(&with_mode("rwc"))
        .await
        .map_err(DbError::Open)?;
    sqlx::migrate!("./migrations/sqlite").run(&writer).await?;
    // One reader per core: each sqlx SQLite connection runs on a thread of its own, and more threads than
    // cores measured slower (docs/benchmarks.md).
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get().max(2));
    let reader = AnyPoolOptions::new()
        .max_connections(cores as u32)
        .after_connect(|connection, _| Box::pin(async move { sqlite_pragmas(connection, false).await }))
        .connect(&with_mode("ro"))
        .await
        .map_err(DbError::Open)?;
    Ok((reader, writer))
}

/// WAL (set once, by the writer: it is a property of the file), foreign keys, and a wait instead of an error
/// when the file is busy.
async fn sqlite_pragmas(connection: &mut AnyConnection, writer: bool) -> Result<(), sqlx::Error> {
    let pragmas = if writer {
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000;"
    } else {
        "PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000;"
    };
    sqlx::raw_sql(pragmas).execute(connection).await?;
    Ok(())
}

/// `$first, $first+1, ...`: `count` placeholders for an `IN (...)` list whose values are bound one by one.
pub fn placeholders(first: usize, count: usize) -> String {
    (first..first + count).map(|n| format!("${n}")).collect::<Vec<_>>().join(", ")
}

/// Timestamps are stored and sent as RFC 3339 UTC strings.
pub fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc().format(&time::format_description::well_known::Rfc3339).expect("UTC formats")
}
