//! A real PgBouncer (the Debian package, from `scripts/setup`) in front of a [`Postgres`] of the harness, in
//! the pool mode a test asks for, on a free loopback port. Runs as the PostgreSQL server's user (PgBouncer,
//! like PostgreSQL, refuses root), logs to `target/cluster/<name>.log`, and is gone when dropped.

use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

use crate::locations::logs_dir;
use crate::process::{ensure_running, free_port, kill_and_reap, log_tail, open_log, plain_name};
use crate::run_as::RunAs;
use crate::{HarnessError, Postgres, ROLE};

/// How PgBouncer hands out server connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PoolMode {
    /// A client keeps one server connection for as long as it is connected (LISTEN works).
    Session,
    /// A client gets a server connection for one transaction at a time (the mode that breaks LISTEN).
    Transaction,
}

pub struct PgBouncer {
    port: u16,
    process: Child,
    log: PathBuf,
    _dir: TempDir,
}

impl PgBouncer {
    /// Starts PgBouncer in `mode` for every database of `postgres`, and returns once it accepts connections.
    pub fn start(name: &str, postgres: &Postgres, mode: PoolMode) -> Result<Self, HarnessError> {
        let name = plain_name(name)?;
        let binary = find_binary()?;
        let run_as = RunAs::for_postgres()?;
        let dir = tempfile::Builder::new()
            .prefix("kage-pgbouncer-")
            .tempdir()
            .map_err(HarnessError::io("creating PgBouncer's directory"))?;
        run_as.give(dir.path())?;
        let port = free_port()?;
        let mode_name = match mode {
            PoolMode::Session => "session",
            PoolMode::Transaction => "transaction",
        };
        let userlist = dir.path().join("userlist.txt");
        write(&userlist, &format!("\"{ROLE}\" \"\"\n"))?;
        let config = dir.path().join("pgbouncer.ini");
        // `extra_float_digits` is a startup parameter sqlx sends and PgBouncer does not track: operators who
        // run sqlx behind PgBouncer ignore it, as here, so the failure left is the pool mode's own.
        write(
            &config,
            &format!(
                "[databases]\n* = host=127.0.0.1 port={}\n\n[pgbouncer]\nlisten_addr = 127.0.0.1\nlisten_port = {port}\n\
                 unix_socket_dir =\nauth_type = trust\nauth_file = {}\npool_mode = {mode_name}\n\
                 ignore_startup_parameters = extra_float_digits\nmax_client_conn = 200\ndefault_pool_size = 20\n",
                postgres.addr().port(),
                userlist.display()
            ),
        )?;
        for file in [&userlist, &config] {
            run_as.give(file)?;
        }
        let log = logs_dir()?.join(format!("{name}.log"));
        let (out, err) = open_log(&log, false)?;
        let process = run_as
            .command(&binary)
            .arg(&config)
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .map_err(HarnessError::io("starting pgbouncer"))?;
        let mut bouncer = Self { port, process, log, _dir: dir };
        bouncer.wait_ready()?;
        Ok(bouncer)
    }

    /// The URL of database `name` through PgBouncer.
    pub fn url(&self, name: &str) -> String {
        format!("postgres://{ROLE}@127.0.0.1:{}/{name}", self.port)
    }

    pub fn log_path(&self) -> &Path {
        &self.log
    }

    fn wait_ready(&mut self) -> Result<(), HarnessError> {
        let started = Instant::now();
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, self.port));
        loop {
            ensure_running(&mut self.process, "pgbouncer", &self.log)?;
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                return Ok(());
            }
            if started.elapsed() > Duration::from_secs(10) {
                return Err(HarnessError::NotReady {
                    what: format!("pgbouncer on port {}", self.port),
                    waited: Duration::from_secs(10),
                    log: self.log.display().to_string(),
                    tail: log_tail(&self.log),
                });
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    }
}

impl Drop for PgBouncer {
    fn drop(&mut self) {
        kill_and_reap(&mut self.process);
    }
}

fn write(path: &Path, text: &str) -> Result<(), HarnessError> {
    std::fs::write(path, text).map_err(HarnessError::io(format!("writing {}", path.display())))
}

fn find_binary() -> Result<PathBuf, HarnessError> {
    ["/usr/sbin/pgbouncer", "/usr/bin/pgbouncer"].iter().map(PathBuf::from).find(|path| path.is_file()).ok_or(
        HarnessError::ToolMissing { what: "PgBouncer (the pgbouncer package)", looked: "/usr/sbin, /usr/bin".into() },
    )
}
