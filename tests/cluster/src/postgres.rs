//! A throwaway PostgreSQL cluster: `initdb` in a temporary directory, one `postgres` process on a free loopback
//! port, removed with its directory when dropped. Never the system's cluster (the Debian package's service on
//! port 5432): a test must not depend on, or leave anything in, a database someone else runs.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

use crate::HarnessError;
use crate::locations::logs_dir;
use crate::process::{describe, ensure_running, free_port, kill_and_reap, log_tail, open_log, output_of, plain_name};
use crate::run_as::RunAs;

/// The role `initdb` creates as the superuser; the URLs connect as it, without a password (`-A trust`: only
/// this machine's loopback can reach the server, and it lives for one test).
pub const ROLE: &str = "kage";
/// How long a fresh cluster may take to accept connections (a loaded CI machine, a slow disk).
const READY_TIMEOUT: Duration = Duration::from_secs(30);

pub struct Postgres {
    bindir: PathBuf,
    run_as: RunAs,
    port: u16,
    server: Child,
    log: PathBuf,
    /// Holds the data directory and the unix socket; removed last, once the server is gone.
    dir: TempDir,
}

impl Postgres {
    /// Creates and starts a cluster, returning once it accepts connections. It logs to
    /// `target/cluster/postgres-<port>.log`.
    pub fn start() -> Result<Self, HarnessError> {
        Self::start_with_log(None)
    }

    /// [`Postgres::start`], logging to `target/cluster/<log_name>.log`.
    pub fn start_named(log_name: &str) -> Result<Self, HarnessError> {
        Self::start_with_log(Some(plain_name(log_name)?))
    }

    fn start_with_log(log_name: Option<&str>) -> Result<Self, HarnessError> {
        let bindir = find_bindir()?;
        let run_as = RunAs::for_postgres()?;
        let dir = tempfile::Builder::new()
            .prefix("kage-postgres-")
            .tempdir()
            .map_err(HarnessError::io("creating the PostgreSQL directory"))?;
        run_as.give(dir.path())?;
        let port = free_port()?;
        let log_name = log_name.map_or_else(|| format!("postgres-{port}"), str::to_owned);
        let log = logs_dir()?.join(format!("{log_name}.log"));

        let mut initdb = run_as.command(&bindir.join("initdb"));
        initdb.arg("-D").arg(dir.path().join("data")).args([
            "-A",
            "trust",
            "-U",
            ROLE,
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
        ]);
        run_to_end(initdb, dir.path(), &log)?;
        let server = spawn_server(&bindir, &run_as, dir.path(), port, &log)?;
        let mut cluster = Self { bindir, run_as, port, server, log, dir };
        cluster.wait_ready()?;
        Ok(cluster)
    }

    /// An outage: the server stops (fast shutdown: every connection is cut at once), keeping its data directory
    /// and port for [`Postgres::start_again`]. Fast, not immediate: this cluster commits without waiting for
    /// its WAL (`synchronous_commit=off`), so an immediate stop would also forget the last moment's commits,
    /// which a real outage of a durable database does not.
    pub fn stop_for_outage(&mut self) {
        self.stop_with("fast");
    }

    /// Starts the server again after [`Postgres::stop_for_outage`], on the same port and data, and returns once
    /// it accepts connections.
    pub fn start_again(&mut self) -> Result<(), HarnessError> {
        self.server = spawn_server(&self.bindir, &self.run_as, self.dir.path(), self.port, &self.log)?;
        self.wait_ready()
    }

    /// Creates database `name` and gives its URL (`postgres://kage@127.0.0.1:<port>/<name>`).
    pub fn create_database(&self, name: &str) -> Result<String, HarnessError> {
        let name = plain_name(name)?;
        output_of(self.client("createdb").arg(name))?;
        Ok(self.url(name))
    }

    /// The URL of database `name` (which may not exist yet).
    pub fn url(&self, name: &str) -> String {
        format!("postgres://{ROLE}@127.0.0.1:{}/{name}", self.port)
    }

    /// Runs SQL in database `name` with `psql` and gives its unaligned, tuples-only output (one row a line,
    /// columns separated by `|`), for tests and for looking into a cluster without a driver.
    pub fn psql(&self, name: &str, sql: &str) -> Result<String, HarnessError> {
        let name = plain_name(name)?;
        output_of(self.client("psql").args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", name, "-c", sql]))
    }

    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from((Ipv4Addr::LOCALHOST, self.port))
    }

    /// The postmaster's process id.
    pub fn pid(&self) -> u32 {
        self.server.id()
    }

    /// The temporary directory that holds the data directory and the unix socket.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The server's log in `target/cluster/`, kept after the cluster is gone.
    pub fn log_path(&self) -> &Path {
        &self.log
    }

    /// A client program of the same installation, pointed at this cluster over TCP. Clients run as the
    /// current user: only the server refuses root.
    fn client(&self, program: &str) -> Command {
        let mut command = Command::new(self.bindir.join(program));
        command.args(["-h", "127.0.0.1", "-p", &self.port.to_string(), "-U", ROLE]);
        command
    }

    fn wait_ready(&mut self) -> Result<(), HarnessError> {
        let started = Instant::now();
        loop {
            ensure_running(&mut self.server, "postgres", &self.log)?;
            // pg_isready answers 0 only once the server accepts connections (not while it is starting up).
            let ready = self.client("pg_isready").args(["-d", "postgres", "-q"]).status();
            if ready.is_ok_and(|status| status.success()) {
                return Ok(());
            }
            if started.elapsed() > READY_TIMEOUT {
                return Err(HarnessError::NotReady {
                    what: format!("postgres on port {}", self.port),
                    waited: READY_TIMEOUT,
                    log: self.log.display().to_string(),
                    tail: log_tail(&self.log),
                });
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Immediate shutdown: the postmaster stops its backends and exits without a checkpoint (nothing here is
    /// worth keeping; a test's outage uses [`Postgres::stop_for_outage`]). `pg_ctl` refuses root like the server, so it runs as the server's user.
    fn stop(&mut self) {
        self.stop_with("immediate");
    }

    fn stop_with(&mut self, mode: &str) {
        let data = self.dir.path().join("data");
        let stopped = self
            .run_as
            .command(&self.bindir.join("pg_ctl"))
            .arg("stop")
            .arg("-D")
            .arg(&data)
            .args(["-m", mode, "-w", "-t", "10"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success());
        if stopped {
            let _ = self.server.wait();
        } else {
            // Its backends notice the postmaster's death and exit on their own.
            kill_and_reap(&mut self.server);
        }
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        self.stop();
        // `dir` is removed after this: root may remove what the postgres user wrote, and the current user
        // owns it otherwise.
    }
}

/// Starts `postgres` on the cluster in `dir`, logging to `log` (appended: a restart continues the story).
fn spawn_server(bindir: &Path, run_as: &RunAs, dir: &Path, port: u16, log: &Path) -> Result<Child, HarnessError> {
    let mut postgres = run_as.command(&bindir.join("postgres"));
    postgres
        .arg("-D")
        .arg(dir.join("data"))
        .arg("-k")
        .arg(dir)
        .args(["-p", &port.to_string()])
        .args(["-c", "listen_addresses=127.0.0.1"])
        // Durability is worthless here: the cluster is deleted when the test ends, and a crash of the
        // machine mid-test fails the test anyway. Without these every commit waits for the disk, which on
        // a shared CI machine makes the tests slow and their timings noisy.
        .args(["-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"])
        // Several kage-server instances, each with its own pool, plus the test's own connections.
        .args(["-c", "max_connections=200"]);
    let (out, err) = open_log(log, true)?;
    let server = postgres
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .map_err(HarnessError::io("starting postgres"))?;

    Ok(server)
}

/// Runs `command` in `dir` to its end, its output going to the (new) log; a failure carries the log's tail.
fn run_to_end(mut command: Command, dir: &Path, log: &Path) -> Result<(), HarnessError> {
    let (out, err) = open_log(log, false)?;
    let status = command
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .status()
        .map_err(HarnessError::io(format!("running {}", describe(&command))))?;
    if status.success() {
        return Ok(());
    }
    Err(HarnessError::CommandFailed { command: describe(&command), status: status.to_string(), output: log_tail(log) })
}

/// The newest installed major version's `bin` (Debian installs each under `/usr/lib/postgresql/<major>/`),
/// else what `pg_config --bindir` says.
fn find_bindir() -> Result<PathBuf, HarnessError> {
    let has_server = |dir: &Path| dir.join("postgres").is_file() && dir.join("initdb").is_file();
    let newest = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version: f64 = entry.file_name().to_str()?.parse().ok()?;
            Some((version, entry.path().join("bin")))
        })
        .filter(|(_, bin)| has_server(bin))
        .max_by(|a, b| a.0.total_cmp(&b.0));
    if let Some((_, bin)) = newest {
        return Ok(bin);
    }
    let from_pg_config = output_of(Command::new("pg_config").arg("--bindir")).map(|text| PathBuf::from(text.trim()));
    match from_pg_config {
        Ok(bin) if has_server(&bin) => Ok(bin),
        _ => Err(HarnessError::ToolMissing {
            what: "PostgreSQL server (postgres, initdb)",
            looked: "/usr/lib/postgresql/*/bin, pg_config --bindir".into(),
        }),
    }
}
