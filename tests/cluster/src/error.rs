//! What can go wrong while starting or stopping a piece of the cluster. Every message says what to do next
//! where there is something to do (install a package, build a binary) and carries the tail of the piece's log
//! where there is one, so a red test explains itself without a rerun.

use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum HarnessError {
    /// A program the harness runs is not installed.
    #[error("{what} not found ({looked}): run scripts/setup")]
    ToolMissing { what: &'static str, looked: String },

    /// The kage-server debug binary has not been built.
    #[error("{} does not exist: run `cargo build -p kage-server --bin kage-server` first", .0.display())]
    ServerNotBuilt(PathBuf),

    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },

    /// A setup command (initdb, createdb, psql, ...) ended with an error.
    #[error("`{command}` failed ({status}):\n{output}")]
    CommandFailed { command: String, status: String, output: String },

    /// A process ended while it should have been running.
    #[error("{what} exited ({status}); the end of {log}:\n{tail}")]
    Exited { what: String, status: String, log: String, tail: String },

    /// A process did not become ready in time.
    #[error("{what} not ready after {waited:?}; the end of {log}:\n{tail}")]
    NotReady { what: String, waited: Duration, log: String, tail: String },

    /// A name the harness puts into a command line or URL is not a plain identifier.
    #[error("{0:?} is not a plain name (letters, digits, '_' and '-' only)")]
    InvalidName(String),

    /// The index names no instance of the cluster.
    #[error("the cluster has {count} instances; there is no instance {index}")]
    NoSuchInstance { index: usize, count: usize },
}

impl HarnessError {
    pub(crate) fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> Self {
        let what = what.into();
        move |source| Self::Io { what, source }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_programs_say_how_to_get_them() {
        let tool = HarnessError::ToolMissing { what: "haproxy", looked: "PATH".into() };
        assert!(tool.to_string().contains("run scripts/setup"), "{tool}");
        let server = HarnessError::ServerNotBuilt("/t/debug/kage-server".into());
        assert!(server.to_string().contains("cargo build -p kage-server --bin kage-server"), "{server}");
    }
}
