//! Small tools every piece of the harness shares: loopback ports, commands that must succeed, children that
//! must still be running, and the end of a log for error messages.

use std::fs::File;
use std::net::{Ipv4Addr, TcpListener};
use std::path::Path;
use std::process::{Child, Command, ExitStatus};

use crate::HarnessError;

/// A loopback port that was free a moment ago. The kernel picks it, so parallel tests do not collide; between
/// here and the bind of whoever gets it another process could take it, which on loopback in a test run is
/// rare enough to accept (a clash fails loudly, with "address in use" in the log).
pub fn free_port() -> Result<u16, HarnessError> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).map_err(HarnessError::io("finding a free port"))?;
    let port = listener.local_addr().map_err(HarnessError::io("finding a free port"))?.port();
    Ok(port)
}

/// The program and its arguments, for messages.
pub fn describe(command: &Command) -> String {
    std::iter::once(command.get_program())
        .chain(command.get_args())
        .map(|part| part.to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Runs `command` to its end and gives its standard output; a failure carries both outputs.
pub fn output_of(command: &mut Command) -> Result<String, HarnessError> {
    let output = command.output().map_err(HarnessError::io(format!("running {}", describe(command))))?;
    if !output.status.success() {
        let mut text = String::from_utf8_lossy(&output.stdout).into_owned();
        text.push_str(&String::from_utf8_lossy(&output.stderr));
        return Err(HarnessError::CommandFailed {
            command: describe(command),
            status: output.status.to_string(),
            output: text,
        });
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// A log file for a child's stdout and stderr: `append` keeps what earlier runs (a restart) wrote.
pub fn open_log(path: &Path, append: bool) -> Result<(File, File), HarnessError> {
    let file = File::options()
        .create(true)
        .append(append)
        .write(true)
        .truncate(!append)
        .open(path)
        .map_err(HarnessError::io(format!("opening {}", path.display())))?;
    let second = file.try_clone().map_err(HarnessError::io(format!("opening {}", path.display())))?;
    Ok((file, second))
}

/// Fails with the log's tail when `child` has already ended.
pub fn ensure_running(child: &mut Child, what: &str, log: &Path) -> Result<(), HarnessError> {
    match child.try_wait() {
        Ok(None) => Ok(()),
        Ok(Some(status)) => Err(exited(what, status, log)),
        Err(error) => Err(HarnessError::Io { what: format!("watching {what}"), source: error }),
    }
}

pub fn exited(what: &str, status: ExitStatus, log: &Path) -> HarnessError {
    HarnessError::Exited {
        what: what.to_owned(),
        status: status.to_string(),
        log: log.display().to_string(),
        tail: log_tail(log),
    }
}

/// SIGKILL (the std library's `kill`) and reap, so no zombie holds the pid; an already ended child is fine.
pub fn kill_and_reap(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}

/// The last lines of a log, for an error message.
pub fn log_tail(path: &Path) -> String {
    const LINES: usize = 30;
    let text = match std::fs::read(path) {
        Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        Err(error) => return format!("(cannot read the log: {error})"),
    };
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(LINES)..].join("\n")
}

/// Refuses names that would need quoting on a command line or in a URL.
pub fn plain_name(name: &str) -> Result<&str, HarnessError> {
    let plain = !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if plain { Ok(name) } else { Err(HarnessError::InvalidName(name.to_owned())) }
}
