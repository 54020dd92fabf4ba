//! Holding PostgreSQL's commits for a moment, so that an instance can be killed after its transaction has
//! committed and before it has answered: the lost answer that matters (docs/design.md, I12: the server acted,
//! the answer never arrived). Left to chance, a SIGKILL almost never lands there: every transfer between the
//! same two players takes both their rows, so they commit one at a time, and an instance writes its answer
//! within a millisecond of its commit.
//!
//! How: the instances' sessions commit with `synchronous_commit = on` (set on the database by
//! [`CommitHold::prepare`]; the harness starts PostgreSQL with it off, so instances must connect afterwards),
//! and while the hold is on, `synchronous_standby_names` names a standby that never connects. A commit then
//! writes its commit record and waits for that standby, its locks still held and its changes not yet visible.
//! On release every waiting commit completes, also that of a backend whose instance was killed meanwhile: the
//! action is carried out, and its answer goes nowhere.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use kage_cluster::DATABASE;

pub struct CommitHold {
    pub db: sqlx::PgPool,
}

impl CommitHold {
    /// Makes the sessions that connect from now on commit synchronously (without a standby named, as fast
    /// as before: the harness's cluster runs without fsync).
    pub async fn prepare(db: &sqlx::PgPool) -> Self {
        assert_eq!(DATABASE, "kage", "the database named below");
        sqlx::query("ALTER DATABASE kage SET synchronous_commit = on").execute(db).await.unwrap();
        Self { db: db.clone() }
    }

    /// From now on, until [`CommitHold::release`], every commit waits.
    pub async fn hold(&self) {
        let set = "ALTER SYSTEM SET synchronous_standby_names = 'kage_failover_no_such_standby'";
        self.set_standby(set, "kage_failover_no_such_standby").await;
    }

    /// The commits waiting complete, and no commit waits any more.
    pub async fn release(&self) {
        self.set_standby("ALTER SYSTEM RESET synchronous_standby_names", "").await;
    }

    /// Waits (at most `limit`) until some transfer waits at its commit, and tells whether it is one of the
    /// process `pid`'s (an instance). Transfers between two players commit one at a time, so the first one
    /// waiting is the only one until the release.
    pub async fn transfer_waits_on(&self, pid: u32, limit: Duration) -> Option<bool> {
        let started = Instant::now();
        while started.elapsed() < limit {
            // A waiting backend that has written `users` is a transfer (a refresh writes only sessions and tokens).
            let ports: Vec<i32> = sqlx::query_scalar(
                "SELECT a.client_port FROM pg_stat_activity a
                 WHERE a.wait_event = 'SyncRep'
                   AND EXISTS (SELECT 1 FROM pg_locks l WHERE l.pid = a.pid AND l.relation = 'users'::regclass)",
            )
            .fetch_all(&self.db)
            .await
            .unwrap();
            if !ports.is_empty() {
                let of_instance = local_tcp_ports(pid);
                return Some(ports.iter().any(|port| u16::try_from(*port).is_ok_and(|p| of_instance.contains(&p))));
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        None
    }

    /// Runs `statement` (an ALTER SYSTEM: not in a transaction, which it refuses), reloads the configuration,
    /// and waits until a session sees `want`.
    async fn set_standby(&self, statement: &'static str, want: &str) {
        sqlx::query(statement).execute(&self.db).await.unwrap();
        sqlx::query("SELECT pg_reload_conf()").execute(&self.db).await.unwrap();
        let started = Instant::now();
        loop {
            let now: String = sqlx::query_scalar("SHOW synchronous_standby_names").fetch_one(&self.db).await.unwrap();
            if now == want {
                break;
            }
            assert!(started.elapsed() < Duration::from_secs(5), "synchronous_standby_names stays {now:?}");
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }
}

/// The local ports of the process's TCP sockets (IPv4 and IPv6), from `/proc`: the ports its connections to
/// PostgreSQL come from, which `pg_stat_activity.client_port` shows.
fn local_tcp_ports(pid: u32) -> HashSet<u16> {
    let inodes: HashSet<String> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|fd| std::fs::read_link(fd.path()).ok())
        .filter_map(|target| {
            let target = target.to_string_lossy().into_owned();
            Some(target.strip_prefix("socket:[")?.strip_suffix(']')?.to_owned())
        })
        .collect();
    let mut ports = HashSet::new();
    for table in ["tcp", "tcp6"] {
        let text = std::fs::read_to_string(format!("/proc/{pid}/net/{table}")).unwrap_or_default();
        // "sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode ..."
        for line in text.lines().skip(1) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let (Some(local), Some(inode)) = (fields.get(1), fields.get(9)) else { continue };
            if inodes.contains(*inode)
                && let Some(port) = local.rsplit(':').next().and_then(|hex| u16::from_str_radix(hex, 16).ok())
            {
                ports.insert(port);
            }
        }
    }
    ports
}
