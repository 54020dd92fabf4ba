//! Who the PostgreSQL server runs as. `initdb` and `postgres` refuse to run as root (a database server that
//! owns the machine is one SQL injection away from owning it), and tests here and in CI do run as root. So a
//! root harness runs them as the unprivileged `postgres` system user that the Debian `postgresql` package
//! creates, through `setpriv` (which execs, so the child's pid is the server's own pid; `runuser` would stay
//! in between as a parent), and hands it the directories it must write. Anyone else runs them as themselves.

use std::path::Path;
use std::process::Command;

use crate::HarnessError;
use crate::process::output_of;

const SYSTEM_USER: &str = "postgres";

#[derive(Debug, Clone)]
pub enum RunAs {
    CurrentUser,
    SystemUser { name: &'static str, uid: u32, gid: u32 },
}

impl RunAs {
    /// The current user, unless that is root: then the `postgres` system user.
    pub fn for_postgres() -> Result<Self, HarnessError> {
        if effective_uid()? != 0 {
            return Ok(Self::CurrentUser);
        }
        let missing = |_| HarnessError::ToolMissing {
            what: "the `postgres` system user (created by the postgresql package; root cannot run PostgreSQL)",
            looked: "id postgres".into(),
        };
        let uid = id(&["-u", SYSTEM_USER]).map_err(missing)?;
        let gid = id(&["-g", SYSTEM_USER]).map_err(missing)?;
        Ok(Self::SystemUser { name: SYSTEM_USER, uid, gid })
    }

    /// A command for `program` that runs as this user.
    pub fn command(&self, program: &Path) -> Command {
        match self {
            Self::CurrentUser => Command::new(program),
            Self::SystemUser { name, .. } => {
                let mut command = Command::new("setpriv");
                command.arg(format!("--reuid={name}")).arg(format!("--regid={name}")).arg("--init-groups");
                command.arg("--").arg(program);
                command
            }
        }
    }

    /// Makes `dir` this user's, so the server can write there.
    pub fn give(&self, dir: &Path) -> Result<(), HarnessError> {
        match self {
            Self::CurrentUser => Ok(()),
            Self::SystemUser { uid, gid, name } => std::os::unix::fs::chown(dir, Some(*uid), Some(*gid))
                .map_err(HarnessError::io(format!("giving {} to {name}", dir.display()))),
        }
    }
}

/// The effective uid, read from `/proc/self/status` (the workspace has no libc binding, and this is Linux-only
/// test support anyway).
fn effective_uid() -> Result<u32, HarnessError> {
    let status = std::fs::read_to_string("/proc/self/status").map_err(HarnessError::io("reading /proc/self/status"))?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("Uid:"))
        .and_then(|ids| ids.split_whitespace().nth(1))
        .and_then(|uid| uid.parse().ok())
        .ok_or_else(|| HarnessError::Io {
            what: "reading the effective uid".into(),
            source: std::io::Error::other("no Uid line in /proc/self/status"),
        })
}

fn id(args: &[&str]) -> Result<u32, HarnessError> {
    let text = output_of(Command::new("id").args(args))?;
    text.trim().parse().map_err(|_| HarnessError::CommandFailed {
        command: format!("id {}", args.join(" ")),
        status: "success".into(),
        output: format!("not a number: {text}"),
    })
}
