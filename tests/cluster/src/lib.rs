//! Test support for issue 12: several kage-server instances behind a real load balancer (HAProxy), on a
//! throwaway PostgreSQL cluster.
//!
//! - [`Postgres`]: `initdb` in a temporary directory and one server on a free loopback port, as an
//!   unprivileged user when the tests run as root; gone with its directory when dropped.
//! - [`Instance`]: one `kage-server` (the debug build) on a port fixed up front, so it can crash
//!   ([`Instance::kill`]) and come back on the same port ([`Instance::restart`]).
//! - [`Haproxy`]: the balancer in front of them, health-checking `/healthz`.
//! - [`Cluster`]: all of it together, with the arguments instances need behind a balancer.
//! - [`PgBouncer`]: a real pooler in front of the PostgreSQL cluster, in session or transaction mode.
//! - [`TcpProxy`]: a proxy between an instance and PostgreSQL that can stop forwarding without closing
//!   anything, as a NAT that forgot a connection does.
//!
//! Everything here is synchronous and blocks while processes start or stop, so every `Drop` can wait until
//! its process is really gone. From an async test, call it directly (it blocks that test's thread only for
//! process start-up and shutdown) or through `tokio::task::spawn_blocking`. The programs it needs (haproxy,
//! PostgreSQL) come from `scripts/setup`; the kage-server binary from
//! `cargo build -p kage-server --bin kage-server`. Every process logs to `target/cluster/`.

mod cluster;
mod error;
mod haproxy;
mod haproxy_config;
mod health;
mod instance;
mod locations;
mod pgbouncer;
mod postgres;
mod process;
mod run_as;
mod tcp_proxy;

pub use cluster::{Cluster, ClusterOptions, DATABASE};
pub use error::HarnessError;
pub use haproxy::{Haproxy, HaproxyOptions, SERVED_BY_HEADER, ServerState};
pub use instance::{Instance, START_TIMEOUT};
pub use locations::{kage_server_binary, logs_dir, target_dir, workspace_root};
pub use pgbouncer::{PgBouncer, PoolMode};
pub use postgres::{Postgres, ROLE};
pub use process::free_port;
pub use tcp_proxy::TcpProxy;
