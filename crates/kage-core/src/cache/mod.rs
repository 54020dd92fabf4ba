//! The local profile cache: one partition per account, in memory and on disk (I3, I4, I10).
//!
//! Why it is shaped so:
//! - The only key is the [`AccountKey`]. There is no "current account" whose partition a write could land in;
//!   the seed bug was a cache keyed without the account. On disk a partition is `<data_dir>/accounts/<id>/`,
//!   a directory of its own, so erasing an account (sign-out, also offline) is one `remove_dir_all` that
//!   cannot reach a neighbour.
//! - [`ProfileCache::put`] checks that the profile is the account's own before anything else: writing another
//!   player's profile into this partition is a typed error, not a silent overwrite (I3).
//! - The file names the account it was written for, so a file copied or moved into another account's
//!   directory is not trusted. Untrusted, corrupt and unreadable files are handled alike: that one partition is
//!   reset (the file deleted), every other partition is left alone (I10).
//! - Versions only go up: a late response carrying an older profile never replaces a newer one, in memory or on
//!   disk, also across restarts. An equal version is the same server state, so the copy already held is kept
//!   and nothing is written.
//! - A file is replaced atomically (temp file in the same directory, fsync, rename, fsync the directory), so a
//!   crash leaves the old file or the new one, never half of one. Stray temp files are ignored when reading and
//!   removed by the next write to that partition.
//!
//! Concurrency: one lock (`disk`) serialises every disk access (writes, erasures, loads after a memory miss),
//! which keeps "load from disk, then remember" from racing an erase or a newer write. Memory hits take only the
//! short `memory` lock, so reading one account never waits for another account's fsync.

use std::collections::HashMap;
use std::fmt;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::SystemTime;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::account::AccountKey;
use crate::locks::Recover;
use crate::model::Profile;

const FORMAT: u32 = 1;
const FILE_NAME: &str = "profile.json";

/// A profile as the cache holds it, with the time it was stored (for "last seen" in offline windows).
#[derive(Debug, Clone)]
pub struct CachedProfile {
    pub profile: Profile,
    pub stored_at: SystemTime,
}

/// What [`ProfileCache::put`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stored {
    Updated,
    /// An equal-or-newer version is already there; nothing was changed.
    KeptNewer,
    /// The caller's condition of [`ProfileCache::put_if`] no longer held; nothing was changed.
    NotWanted,
}

/// Messages name the account by its opaque id and the path; never any profile contents.
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    #[error("refused to cache a profile that is not account {account}'s own")]
    WrongAccount { account: String },
    #[error("profile cache I/O failed at {}: {source}", path.display())]
    Io { path: PathBuf, source: io::Error },
}

/// The on-disk form. `account` ties the file to its directory; `format` lets a later version refuse (and so
/// reset) a file it does not understand instead of misreading it.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct CacheFile {
    format: u32,
    account: String,
    profile: Profile,
    /// RFC 3339 with nanoseconds, so a reloaded entry equals the one held in memory.
    stored_at: String,
}

pub struct ProfileCache {
    accounts_dir: PathBuf,
    memory: Mutex<HashMap<String, CachedProfile>>,
    disk: Mutex<()>,
}

// By hand: a derived Debug would print every cached profile into whatever logs the cache.
impl fmt::Debug for ProfileCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProfileCache").field("accounts_dir", &self.accounts_dir).finish_non_exhaustive()
    }
}

impl ProfileCache {
    /// No I/O: directories are created by the first write, so opening never fails.
    pub fn open(data_dir: impl Into<PathBuf>) -> ProfileCache {
        ProfileCache {
            accounts_dir: data_dir.into().join("accounts"),
            memory: Mutex::new(HashMap::new()),
            disk: Mutex::new(()),
        }
    }

    /// The account's profile: from memory, else from its file. A file that is corrupt, unreadable or not this
    /// account's is deleted (that partition only) and the answer is `None`.
    pub fn get(&self, account: &AccountKey) -> Option<CachedProfile> {
        if let Some(hit) = self.memory().get(account.id()) {
            return Some(hit.clone());
        }
        let _disk = self.disk();
        self.load(account)
    }

    /// Stores `profile` in `account`'s partition if it is that account's own and newer than what is there.
    ///
    /// If the disk write fails the memory copy is still updated (it is this account's own, newer data and keeps
    /// the running app correct) and `Err(CacheError::Io)` tells the caller to log it; the file keeps the older
    /// version until a later write succeeds.
    pub fn put(&self, account: &AccountKey, profile: &Profile) -> Result<Stored, CacheError> {
        self.put_if(account, profile, || true)
    }

    /// [`ProfileCache::put`], if `still_wanted` holds when the write starts. It is asked under the lock that
    /// [`ProfileCache::erase`] takes, so a sign-out that makes it false and then erases cannot fall between the
    /// question and the write: either the write comes first and is erased, or the question sees the sign-out
    /// (I4). Asked before the write's I/O, it must be quick and must not touch this cache.
    pub fn put_if(
        &self,
        account: &AccountKey,
        profile: &Profile,
        still_wanted: impl FnOnce() -> bool,
    ) -> Result<Stored, CacheError> {
        if profile.id != account.user_id() {
            return Err(CacheError::WrongAccount { account: account.id().to_owned() });
        }
        let _disk = self.disk();
        if !still_wanted() {
            return Ok(Stored::NotWanted);
        }
        if self.load(account).is_some_and(|current| current.profile.version >= profile.version) {
            return Ok(Stored::KeptNewer);
        }
        let entry = CachedProfile { profile: profile.clone(), stored_at: SystemTime::now() };
        let written = self.write(account, &entry);
        self.memory().insert(account.id().to_owned(), entry);
        written.map(|()| Stored::Updated)
    }

    /// Forgets the account: its memory entry and its whole directory. Pure local, so sign-out can erase while
    /// offline. Erasing a partition that does not exist is `Ok`. On `Err` the files may be partly there: retry.
    pub fn erase(&self, account: &AccountKey) -> Result<(), CacheError> {
        let _disk = self.disk();
        self.memory().remove(account.id());
        let dir = self.account_dir(account);
        match fs::remove_dir_all(&dir) {
            Ok(()) => kage_files::sync_dir(&self.accounts_dir)
                .map_err(|source| CacheError::Io { path: self.accounts_dir.clone(), source }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(source) => Err(CacheError::Io { path: dir, source }),
        }
    }

    pub(crate) fn account_dir(&self, account: &AccountKey) -> PathBuf {
        // The id is hex by construction; if that ever changed, a `..` here would escape the partition.
        debug_assert!(account.id().chars().all(|c| c.is_ascii_hexdigit()), "account id is not a safe file name");
        self.accounts_dir.join(account.id())
    }

    /// Memory, else disk. Called with the disk lock held, so no write or erase interleaves between reading the
    /// file and remembering it.
    fn load(&self, account: &AccountKey) -> Option<CachedProfile> {
        if let Some(hit) = self.memory().get(account.id()) {
            return Some(hit.clone());
        }
        let loaded = self.read_file(account)?;
        self.memory().insert(account.id().to_owned(), loaded.clone());
        Some(loaded)
    }

    fn read_file(&self, account: &AccountKey) -> Option<CachedProfile> {
        let path = self.account_dir(account).join(FILE_NAME);
        let result = match fs::read(&path) {
            Ok(bytes) => decode_file(account, &bytes),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return None,
            Err(e) => Err(format!("unreadable ({})", e.kind())),
        };
        match result {
            Ok(entry) => Some(entry),
            Err(reason) => {
                let removed = fs::remove_file(&path).map_err(|e| e.kind());
                tracing::warn!(account = %account, %reason, ?removed, "profile cache file not trusted; partition reset");
                None
            }
        }
    }

    fn write(&self, account: &AccountKey, entry: &CachedProfile) -> Result<(), CacheError> {
        let dir = self.account_dir(account);
        let io = |path: &Path| {
            let path = path.to_owned();
            move |source| CacheError::Io { path, source }
        };
        if !dir.is_dir() {
            kage_files::create_private_dir(&dir).map_err(io(&dir))?;
            kage_files::sync_dir(&self.accounts_dir).map_err(io(&self.accounts_dir))?;
        }
        // Under the disk lock, so no temp file of this process is in flight. (Kage runs single-instance; a
        // second process sharing the directory is not supported.)
        let target = dir.join(FILE_NAME);
        kage_files::remove_stray_temps(&target);
        kage_files::write_atomic(&target, &encode_file(account, &entry.profile, entry.stored_at)).map_err(io(&target))
    }

    fn memory(&self) -> MutexGuard<'_, HashMap<String, CachedProfile>> {
        // A panic elsewhere cannot leave a half-written entry (inserts are whole values): keep serving.
        self.memory.lock().recover()
    }

    fn disk(&self) -> MutexGuard<'_, ()> {
        self.disk.lock().recover()
    }
}

pub(crate) fn encode_file(account: &AccountKey, profile: &Profile, stored_at: SystemTime) -> Vec<u8> {
    let file = CacheFile {
        format: FORMAT,
        account: account.id().to_owned(),
        profile: profile.clone(),
        stored_at: OffsetDateTime::from(stored_at).format(&Rfc3339).expect("the current time formats as RFC 3339"),
    };
    serde_json::to_vec(&file).expect("a profile always serialises")
}

/// Checks everything the file claims against the directory it was found in. The reason never quotes the file:
/// serde's messages can echo values, so only their category and position are kept.
fn decode_file(account: &AccountKey, bytes: &[u8]) -> Result<CachedProfile, String> {
    let file: CacheFile = serde_json::from_slice(bytes)
        .map_err(|e| format!("not a cache file ({:?} at {}:{})", e.classify(), e.line(), e.column()))?;
    if file.format != FORMAT {
        return Err(format!("unknown format {}", file.format));
    }
    if file.account != account.id() || file.profile.id != account.user_id() {
        return Err("belongs to another account".into());
    }
    let stored_at = OffsetDateTime::parse(&file.stored_at, &Rfc3339).map_err(|_| "bad stored_at".to_owned())?;
    Ok(CachedProfile { profile: file.profile, stored_at: stored_at.into() })
}

#[cfg(test)]
mod tests;
