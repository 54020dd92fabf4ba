//! The saved accounts as another process reads them (a second `kage` on the command line): the roster file as it
//! is on disk, read-only. Unlike [`Roster::open`](super::Roster::open), a file that cannot be read is left where
//! it is, untouched: the running Kage owns the file, and keeping a damaged one aside is its job.

use std::path::Path;

use super::{ROSTER_FILE, RosterDoc, RosterEntry};

#[derive(Debug, thiserror::Error)]
pub enum PeekError {
    #[error("cannot read the saved accounts: {0}")]
    Read(#[from] std::io::Error),
    #[error("the saved accounts file is damaged: {0}")]
    Damaged(#[from] serde_json::Error),
}

/// The saved accounts in `dir` (the app data dir); none when there is no file yet.
pub fn read_only(dir: &Path) -> Result<Vec<RosterEntry>, PeekError> {
    match std::fs::read(dir.join(ROSTER_FILE)) {
        Ok(bytes) => Ok(serde_json::from_slice::<RosterDoc>(&bytes)?.accounts),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(error) => Err(error.into()),
    }
}
