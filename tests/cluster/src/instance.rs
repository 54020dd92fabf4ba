//! One kage-server process on a loopback port chosen up front, so that after a crash ([`Instance::kill`]) it
//! comes back where the balancer expects it ([`Instance::restart`]), with the same arguments and the same data
//! directory (its signing keys and, without `--database-url`, its SQLite database).

use std::ffi::OsString;
use std::io::Write;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use tempfile::TempDir;

use crate::HarnessError;
use crate::health::healthz_status;
use crate::locations::{kage_server_binary, logs_dir};
use crate::process::{ensure_running, free_port, kill_and_reap, log_tail, open_log, plain_name};

/// How long a fresh instance may take to answer `/healthz` (migrations, a first signing key, a loaded machine).
pub const START_TIMEOUT: Duration = Duration::from_secs(20);

/// Where an instance reads its signing-key encryption key, and the one the harness gives every instance
/// (unless the test's environment sets one).
const SEALING_KEY_VARIABLE: &str = "KAGE_SIGNING_KEY_ENCRYPTION_KEY";
pub const TEST_SEALING_KEY: &str = "S2FnZSB0ZXN0cycgc2lnbmluZy1rZXkgc2VhbGluZyE=";

pub struct Instance {
    name: String,
    binary: PathBuf,
    addr: SocketAddr,
    args: Vec<OsString>,
    log: PathBuf,
    /// `None` after [`Instance::kill`], until the next start.
    process: Option<Child>,
    data_dir: TempDir,
}

impl Instance {
    /// Starts `kage-server --listen 127.0.0.1:<free port> --data-dir <temp dir> <args>` and waits until it is
    /// healthy. `name` names its log, `target/cluster/<name>.log` (begun afresh here, appended to on restarts).
    pub fn start(name: &str, args: &[String]) -> Result<Self, HarnessError> {
        let mut instance = Self::spawn(name, args)?;
        instance.wait_healthy(START_TIMEOUT)?;
        Ok(instance)
    }

    /// [`Instance::start`] without the wait, so several instances can start at once; call
    /// [`Instance::wait_healthy`] before using it.
    pub fn spawn(name: &str, args: &[String]) -> Result<Self, HarnessError> {
        let name = plain_name(name)?.to_owned();
        let binary = kage_server_binary()?;
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, free_port()?));
        let data_dir = tempfile::Builder::new()
            .prefix(&format!("kage-{name}-"))
            .tempdir()
            .map_err(HarnessError::io("creating an instance's data directory"))?;
        let log = logs_dir()?.join(format!("{name}.log"));
        let args = args.iter().map(OsString::from).collect();
        let mut instance = Self { name, binary, addr, args, log, process: None, data_dir };
        instance.launch(false)?;
        Ok(instance)
    }

    /// SIGKILL: a crash, with no graceful shutdown and no goodbye to open connections. Returns once the process
    /// is gone (its port is closed).
    pub fn kill(&mut self) {
        if let Some(mut process) = self.process.take() {
            kill_and_reap(&mut process);
        }
    }

    /// Kills the instance if it runs, starts it again on the same port with the same arguments and data
    /// directory, and waits until it is healthy.
    pub fn restart(&mut self) -> Result<(), HarnessError> {
        self.kill();
        self.launch(true)?;
        self.wait_healthy(START_TIMEOUT)
    }

    /// Polls `GET /healthz` until it answers 200; fails at once if the process has ended, with its log's tail.
    pub fn wait_healthy(&mut self, timeout: Duration) -> Result<(), HarnessError> {
        let started = Instant::now();
        loop {
            match &mut self.process {
                Some(process) => ensure_running(process, &self.name, &self.log)?,
                None => {
                    return Err(HarnessError::Exited {
                        what: self.name.clone(),
                        status: "killed by the harness".into(),
                        log: self.log.display().to_string(),
                        tail: log_tail(&self.log),
                    });
                }
            }
            if healthz_status(self.addr).is_ok_and(|status| status == 200) {
                return Ok(());
            }
            if started.elapsed() > timeout {
                return Err(HarnessError::NotReady {
                    what: format!("{} at {}", self.name, self.addr),
                    waited: timeout,
                    log: self.log.display().to_string(),
                    tail: log_tail(&self.log),
                });
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    /// Whether the process is still there (it may have crashed on its own).
    pub fn is_running(&mut self) -> bool {
        self.process.as_mut().is_some_and(|process| matches!(process.try_wait(), Ok(None)))
    }

    /// The process id while it runs (`None` after [`Instance::kill`]), to find what belongs to it in `/proc`.
    pub fn pid(&self) -> Option<u32> {
        self.process.as_ref().map(Child::id)
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:<port>`: the instance itself, past the balancer.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn data_dir(&self) -> &Path {
        self.data_dir.path()
    }

    pub fn log_path(&self) -> &Path {
        &self.log
    }

    fn launch(&mut self, append: bool) -> Result<(), HarnessError> {
        let (mut out, err) = open_log(&self.log, append)?;
        let mut command = Command::new(&self.binary);
        command
            .arg("--listen")
            .arg(self.addr.to_string())
            .arg("--data-dir")
            .arg(self.data_dir.path())
            .args(&self.args)
            .stdin(Stdio::null());
        // On PostgreSQL the shared signing keys are sealed with a key every instance of the service shares.
        if std::env::var_os(SEALING_KEY_VARIABLE).is_none() {
            command.env(SEALING_KEY_VARIABLE, TEST_SEALING_KEY);
        }
        // A line per start, so the log of an instance that was restarted reads as the story of its runs.
        let since_epoch = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default();
        let banner = format!("=== kage-cluster: starting at {}s: {command:?}", since_epoch.as_secs());
        writeln!(out, "{banner}").map_err(HarnessError::io(format!("writing {}", self.log.display())))?;
        let process = command
            .stdout(out)
            .stderr(err)
            .spawn()
            .map_err(HarnessError::io(format!("starting {}", self.binary.display())))?;
        self.process = Some(process);
        Ok(())
    }
}

/// A test that ends, passing or not, takes its instances with it.
impl Drop for Instance {
    fn drop(&mut self) {
        self.kill();
    }
}
