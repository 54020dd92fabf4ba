//! HAProxy in front of the instances, as in production: one loopback frontend, round robin over the backends,
//! each health-checked on `/healthz`. It runs in the foreground (`-db`) as a child of the test, its config and
//! admin socket in a temporary directory, its log in `target/cluster/` (see [`HaproxyOptions::log_name`]).

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

use crate::HarnessError;
pub use crate::haproxy_config::HaproxyOptions;
use crate::haproxy_config::{BACKEND, render};
use crate::locations::logs_dir;
use crate::process::{ensure_running, free_port, kill_and_reap, log_tail, open_log, plain_name};

/// The response header that names the server which answered (`instance-<i>`), set by the balancer.
pub const SERVED_BY_HEADER: &str = "x-kage-backend";
/// How long the balancer may take to start, or to see servers come up or go down.
pub const WAIT_TIMEOUT: Duration = Duration::from_secs(10);

/// One server as the balancer sees it (a row of `show stat`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerState {
    /// `instance-<i>`, `i` being the server's index in the backends given to [`Haproxy::start`].
    pub name: String,
    /// `UP`, `DOWN`, `UP 1/2` (up, one failed check), `DOWN 1/1`, `MAINT`, ...
    pub status: String,
}

impl ServerState {
    /// Whether the balancer sends it requests.
    pub fn is_up(&self) -> bool {
        self.status.starts_with("UP")
    }
}

pub struct Haproxy {
    addr: SocketAddr,
    process: Child,
    log: PathBuf,
    config: PathBuf,
    admin_socket: PathBuf,
    _dir: TempDir,
}

impl Haproxy {
    /// A balancer with the default options over `backends`; returns once its frontend accepts connections and its
    /// admin socket answers (not once the servers are up: see [`Haproxy::wait_backends_up`]).
    pub fn start(backends: &[SocketAddr]) -> Result<Self, HarnessError> {
        Self::start_with(&HaproxyOptions::default(), backends)
    }

    pub fn start_with(options: &HaproxyOptions, backends: &[SocketAddr]) -> Result<Self, HarnessError> {
        let binary = find_haproxy()?;
        let dir = tempfile::Builder::new()
            .prefix("kage-haproxy-")
            .tempdir()
            .map_err(HarnessError::io("creating the balancer's directory"))?;
        let port = match options.port {
            Some(port) => port,
            None => free_port()?,
        };
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        let admin_socket = dir.path().join("admin.sock");
        let config = dir.path().join("haproxy.cfg");
        std::fs::write(&config, render(options, addr, &admin_socket, backends))
            .map_err(HarnessError::io(format!("writing {}", config.display())))?;
        let log_name = match &options.log_name {
            Some(name) => plain_name(name)?.to_owned(),
            None => format!("haproxy-{port}"),
        };
        let log = logs_dir()?.join(format!("{log_name}.log"));
        let (out, err) = open_log(&log, false)?;
        let process = Command::new(binary)
            .arg("-db")
            .arg("-f")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .map_err(HarnessError::io("starting haproxy"))?;
        let mut haproxy = Self { addr, process, log, config, admin_socket, _dir: dir };
        haproxy.wait_listening()?;
        Ok(haproxy)
    }

    /// `http://127.0.0.1:<port>`: where clients go.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn log_path(&self) -> &Path {
        &self.log
    }

    pub fn config_path(&self) -> &Path {
        &self.config
    }

    /// Every server of the backend and its state, from `show stat` on the admin socket.
    pub fn server_states(&self) -> Result<Vec<ServerState>, HarnessError> {
        let csv = self.admin("show stat")?;
        Ok(parse_show_stat(&csv))
    }

    /// How long each request under way on server `name` has been running (`show sess`, to the second). An
    /// event stream is one for as long as it is open: with no other slow request, the ones a second or older
    /// are the streams.
    pub fn session_ages_on(&self, name: &str) -> Result<Vec<Duration>, HarnessError> {
        let sessions = self.admin("show sess")?;
        let server = format!(" srv={name} ");
        Ok(sessions
            .lines()
            .filter(|line| line.contains(&server))
            .filter_map(|line| line.split_whitespace().find_map(|field| field.strip_prefix("age=")))
            .map(parse_age)
            .collect())
    }

    /// Waits until at least `n` servers are up.
    pub fn wait_backends_up(&mut self, n: usize) -> Result<(), HarnessError> {
        self.wait_for(&format!("{n} servers up"), |states| states.iter().filter(|s| s.is_up()).count() >= n)
    }

    /// Waits until server `name` is up (back in the rotation).
    pub fn wait_server_up(&mut self, name: &str) -> Result<(), HarnessError> {
        self.wait_for(&format!("{name} up"), |states| states.iter().any(|s| s.name == name && s.is_up()))
    }

    /// Waits until server `name` is down (out of the rotation).
    pub fn wait_server_down(&mut self, name: &str) -> Result<(), HarnessError> {
        self.wait_for(&format!("{name} down"), |states| states.iter().any(|s| s.name == name && !s.is_up()))
    }

    fn wait_for(&mut self, what: &str, done: impl Fn(&[ServerState]) -> bool) -> Result<(), HarnessError> {
        let started = Instant::now();
        loop {
            ensure_running(&mut self.process, "haproxy", &self.log)?;
            let states = self.server_states()?;
            if done(&states) {
                return Ok(());
            }
            if started.elapsed() > WAIT_TIMEOUT {
                let states: Vec<String> = states.iter().map(|s| format!("{} {}", s.name, s.status)).collect();
                return Err(HarnessError::NotReady {
                    what: format!("balancer with {what} (now: {})", states.join(", ")),
                    waited: WAIT_TIMEOUT,
                    log: self.log.display().to_string(),
                    tail: log_tail(&self.log),
                });
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn wait_listening(&mut self) -> Result<(), HarnessError> {
        let started = Instant::now();
        loop {
            ensure_running(&mut self.process, "haproxy", &self.log)?;
            // Both: HAProxy binds its listeners one by one, so the frontend can take connections a moment before
            // the admin socket that every wait for the servers asks exists.
            if TcpStream::connect(self.addr).is_ok() && self.admin("show info").is_ok() {
                return Ok(());
            }
            if started.elapsed() > WAIT_TIMEOUT {
                return Err(HarnessError::NotReady {
                    what: format!("haproxy on {}", self.addr),
                    waited: WAIT_TIMEOUT,
                    log: self.log.display().to_string(),
                    tail: log_tail(&self.log),
                });
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// One command on the admin socket (it answers, then closes the connection).
    fn admin(&self, command: &str) -> Result<String, HarnessError> {
        let what = || format!("asking haproxy `{command}` on {}", self.admin_socket.display());
        let mut socket = UnixStream::connect(&self.admin_socket).map_err(HarnessError::io(what()))?;
        socket.set_read_timeout(Some(WAIT_TIMEOUT)).map_err(HarnessError::io(what()))?;
        socket.write_all(format!("{command}\n").as_bytes()).map_err(HarnessError::io(what()))?;
        let mut answer = String::new();
        socket.read_to_string(&mut answer).map_err(HarnessError::io(what()))?;
        Ok(answer)
    }
}

impl Drop for Haproxy {
    fn drop(&mut self) {
        kill_and_reap(&mut self.process);
    }
}

fn find_haproxy() -> Result<PathBuf, HarnessError> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin")])
        .map(|dir| dir.join("haproxy"))
        .find(|candidate| candidate.is_file())
        .ok_or(HarnessError::ToolMissing { what: "haproxy", looked: "PATH and /usr/sbin".into() })
}

/// An age as `show sess` writes it: `0s`, `42s`, `3m05s`, `1h2m`, `2d3h`.
fn parse_age(text: &str) -> Duration {
    let mut seconds = 0;
    let mut number = 0;
    for c in text.chars() {
        match c {
            '0'..='9' => number = number * 10 + u64::from(c as u8 - b'0'),
            unit => {
                seconds += number
                    * match unit {
                        'd' => 86_400,
                        'h' => 3_600,
                        'm' => 60,
                        _ => 1,
                    };
                number = 0;
            }
        }
    }
    Duration::from_secs(seconds)
}

/// The backend's server rows of `show stat`'s CSV, whose first line names the columns (`# pxname,svname,...`).
fn parse_show_stat(csv: &str) -> Vec<ServerState> {
    let mut lines = csv.lines();
    let Some(header) = lines.next().and_then(|line| line.strip_prefix("# ")) else {
        return Vec::new();
    };
    let columns: Vec<&str> = header.split(',').collect();
    let column = |name: &str| columns.iter().position(|c| *c == name);
    let (Some(proxy), Some(server), Some(status)) = (column("pxname"), column("svname"), column("status")) else {
        return Vec::new();
    };
    lines
        .map(|line| line.split(',').collect::<Vec<_>>())
        .filter(|row| row.get(proxy) == Some(&BACKEND))
        .filter(|row| row.get(server).is_some_and(|name| *name != "BACKEND" && *name != "FRONTEND"))
        .map(|row| ServerState {
            name: row[server].to_owned(),
            status: row.get(status).copied().unwrap_or_default().to_owned(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn show_stat_gives_the_backend_servers_and_their_status() {
        let csv = "# pxname,svname,qcur,status,weight\n\
                   kage,FRONTEND,,OPEN,\n\
                   instances,instance-0,0,UP,1\n\
                   instances,instance-1,0,DOWN 1/2,1\n\
                   instances,BACKEND,0,UP,1\n";
        let states = parse_show_stat(csv);
        assert_eq!(
            states,
            vec![
                ServerState { name: "instance-0".into(), status: "UP".into() },
                ServerState { name: "instance-1".into(), status: "DOWN 1/2".into() },
            ]
        );
        assert!(states[0].is_up() && !states[1].is_up());
    }

    #[test]
    fn show_sess_ages_read_as_durations() {
        assert_eq!(parse_age("0s"), Duration::ZERO);
        assert_eq!(parse_age("42s"), Duration::from_secs(42));
        assert_eq!(parse_age("3m05s"), Duration::from_secs(185));
        assert_eq!(parse_age("1h2m"), Duration::from_secs(3720));
        assert_eq!(parse_age("2d3h"), Duration::from_secs(2 * 86_400 + 3 * 3600));
    }
}
