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
use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::SystemTime;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::account::AccountKey;
use crate::model::Profile;

const FORMAT: u32 = 1;
const FILE_NAME: &str = "profile.json";
// Hidden and with a suffix no reader looks for: a temp file left by a crash is never mistaken for the profile.
const TEMP_PREFIX: &str = ".profile.json.";
const TEMP_SUFFIX: &str = ".tmp";

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
            Ok(()) => sync_dir(&self.accounts_dir),
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
        if !dir.is_dir() {
            create_private_dir(&dir).map_err(|source| CacheError::Io { path: dir.clone(), source })?;
            sync_dir(&self.accounts_dir)?;
        }
        remove_stray_temps(&dir);
        let temp = write_temp(&dir, &encode_file(account, &entry.profile, entry.stored_at))?;
        commit(&temp, &dir.join(FILE_NAME))
    }

    fn memory(&self) -> MutexGuard<'_, HashMap<String, CachedProfile>> {
        // A panic elsewhere cannot leave a half-written entry (inserts are whole values): keep serving.
        self.memory.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn disk(&self) -> MutexGuard<'_, ()> {
        self.disk.lock().unwrap_or_else(PoisonError::into_inner)
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

/// First half of an atomic replace: a new, uniquely named file in `dir`, written and fsynced. A crash after
/// this leaves the old file untouched and a stray temp file that readers ignore.
pub(crate) fn write_temp(dir: &Path, bytes: &[u8]) -> Result<PathBuf, CacheError> {
    let path = dir.join(format!("{TEMP_PREFIX}{:016x}{TEMP_SUFFIX}", rand::random::<u64>()));
    // create_new: never write through a file someone else made (or a symlink planted) under this name.
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    // A profile is the player's own business: readable by them only (the directories are 0700 as well).
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&path).map_err(|source| CacheError::Io { path: path.clone(), source })?;
    if let Err(source) = file.write_all(bytes).and_then(|()| file.sync_all()) {
        let _ = fs::remove_file(&path);
        return Err(CacheError::Io { path, source });
    }
    Ok(path)
}

/// Creates `dir` and any missing parents, owner-only on Unix.
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

/// Second half: rename over `target` (atomic within a directory), then fsync the directory so the rename
/// itself survives a power cut.
pub(crate) fn commit(temp: &Path, target: &Path) -> Result<(), CacheError> {
    if let Err(source) = fs::rename(temp, target) {
        let _ = fs::remove_file(temp);
        return Err(CacheError::Io { path: target.to_owned(), source });
    }
    sync_dir(target.parent().unwrap_or(Path::new(".")))
}

/// Only called under the disk lock, so no temp file of this process is in flight. (Kage runs single-instance;
/// a second process sharing the directory is not supported.)
fn remove_stray_temps(dir: &Path) {
    let Ok(entries) = fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with(TEMP_PREFIX) && name.ends_with(TEMP_SUFFIX) {
            let _ = fs::remove_file(entry.path());
        }
    }
}

#[cfg(unix)]
fn sync_dir(dir: &Path) -> Result<(), CacheError> {
    fs::File::open(dir).and_then(|d| d.sync_all()).map_err(|source| CacheError::Io { path: dir.to_owned(), source })
}

// Windows cannot open a directory as a file; NTFS journals the rename's metadata itself.
#[cfg(not(unix))]
fn sync_dir(_dir: &Path) -> Result<(), CacheError> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex as StdMutex};

    use proptest::prelude::*;
    use tempfile::TempDir;

    use super::*;
    use crate::account::ServerOrigin;
    use crate::model::Stats;

    fn accounts() -> (AccountKey, AccountKey) {
        let origin = ServerOrigin::parse("http://127.0.0.1:1").unwrap();
        (AccountKey::new(origin.clone(), "user-a"), AccountKey::new(origin, "user-b"))
    }

    fn profile(account: &AccountKey, version: i64) -> Profile {
        Profile {
            id: account.user_id().to_owned(),
            username: format!("{}-v{version}", account.user_id()),
            level: version,
            xp: 10 * version,
            village: "leaf".into(),
            ryo: 100 + version,
            stats: Stats { strength: 1, agility: 2, chakra: 3 },
            version,
            updated_at: "2025-01-01T00:00:00Z".into(),
            rules: None,
        }
    }

    fn file_of(cache: &ProfileCache, account: &AccountKey) -> PathBuf {
        cache.account_dir(account).join(FILE_NAME)
    }

    fn version_of(cache: &ProfileCache, account: &AccountKey) -> Option<i64> {
        cache.get(account).map(|c| c.profile.version)
    }

    fn temps_in(dir: &Path) -> usize {
        fs::read_dir(dir)
            .unwrap()
            .filter(|e| e.as_ref().unwrap().file_name().to_string_lossy().ends_with(".tmp"))
            .count()
    }

    #[test]
    fn i4_partitions_hold_only_their_own_accounts_data() {
        let dir = TempDir::new().unwrap();
        let (a, b) = accounts();
        let cache = ProfileCache::open(dir.path());
        assert_eq!(cache.put(&a, &profile(&a, 1)).unwrap(), Stored::Updated);
        assert_eq!(cache.put(&b, &profile(&b, 7)).unwrap(), Stored::Updated);

        assert_eq!(cache.get(&a).unwrap().profile, profile(&a, 1));
        assert_eq!(cache.get(&b).unwrap().profile, profile(&b, 7));
        assert_ne!(file_of(&cache, &a), file_of(&cache, &b));

        // The same user id on another server is another account, with an empty partition.
        let elsewhere = AccountKey::new(ServerOrigin::parse("http://127.0.0.1:2").unwrap(), "user-a");
        assert!(cache.get(&elsewhere).is_none());

        let reopened = ProfileCache::open(dir.path());
        assert_eq!(reopened.get(&a).unwrap().profile, profile(&a, 1));
        assert_eq!(reopened.get(&b).unwrap().profile, profile(&b, 7));
    }

    #[test]
    fn i3_profile_of_another_account_is_refused_and_cache_untouched() {
        let dir = TempDir::new().unwrap();
        let (a, b) = accounts();
        let cache = ProfileCache::open(dir.path());
        cache.put(&a, &profile(&a, 1)).unwrap();
        let before = fs::read(file_of(&cache, &a)).unwrap();

        let err = cache.put(&a, &profile(&b, 99)).unwrap_err();
        assert!(matches!(err, CacheError::WrongAccount { .. }), "{err:?}");
        assert!(!err.to_string().contains("user-b"), "error message leaks the other profile: {err}");
        assert_eq!(cache.get(&a).unwrap().profile, profile(&a, 1));
        assert_eq!(fs::read(file_of(&cache, &a)).unwrap(), before);

        // Refused into an empty partition too, and nothing is created on disk for it.
        assert!(matches!(cache.put(&b, &profile(&a, 5)), Err(CacheError::WrongAccount { .. })));
        assert!(cache.get(&b).is_none());
        assert!(!cache.account_dir(&b).exists());
    }

    #[test]
    fn older_version_never_overwrites_newer() {
        let dir = TempDir::new().unwrap();
        let (a, _) = accounts();
        let cache = ProfileCache::open(dir.path());
        assert_eq!(cache.put(&a, &profile(&a, 5)).unwrap(), Stored::Updated);
        assert_eq!(cache.put(&a, &profile(&a, 3)).unwrap(), Stored::KeptNewer);
        // Equal version: the copy already held wins.
        let mut same_version = profile(&a, 5);
        same_version.username = "renamed".into();
        assert_eq!(cache.put(&a, &same_version).unwrap(), Stored::KeptNewer);
        assert_eq!(cache.get(&a).unwrap().profile, profile(&a, 5));

        // Across a restart the floor comes from disk.
        let reopened = ProfileCache::open(dir.path());
        assert_eq!(reopened.put(&a, &profile(&a, 4)).unwrap(), Stored::KeptNewer);
        assert_eq!(reopened.get(&a).unwrap().profile, profile(&a, 5));
        assert_eq!(ProfileCache::open(dir.path()).get(&a).unwrap().profile, profile(&a, 5));

        assert_eq!(reopened.put(&a, &profile(&a, 6)).unwrap(), Stored::Updated);
        assert_eq!(ProfileCache::open(dir.path()).get(&a).unwrap().profile, profile(&a, 6));
    }

    #[test]
    fn atomic_write_survives_a_kill_between_write_and_rename() {
        let dir = TempDir::new().unwrap();
        let (a, _) = accounts();
        let cache = ProfileCache::open(dir.path());
        cache.put(&a, &profile(&a, 1)).unwrap();
        let before = fs::read(file_of(&cache, &a)).unwrap();

        // The process dies after writing the temp file (whole, or half of it), before the rename.
        let partition = cache.account_dir(&a);
        let bytes = encode_file(&a, &profile(&a, 2), SystemTime::now());
        write_temp(&partition, &bytes).unwrap();
        write_temp(&partition, &bytes[..bytes.len() / 2]).unwrap();
        drop(cache);

        let reopened = ProfileCache::open(dir.path());
        assert_eq!(fs::read(file_of(&reopened, &a)).unwrap(), before);
        assert_eq!(reopened.get(&a).unwrap().profile, profile(&a, 1));
        assert_eq!(temps_in(&partition), 2, "stray temp files are ignored by reads, not deleted");

        // The next write cleans them up and lands whole.
        assert_eq!(reopened.put(&a, &profile(&a, 3)).unwrap(), Stored::Updated);
        assert_eq!(temps_in(&partition), 0);
        assert_eq!(ProfileCache::open(dir.path()).get(&a).unwrap().profile, profile(&a, 3));

        // And the two halves do make a replace when the rename does happen.
        let temp = write_temp(&partition, &encode_file(&a, &profile(&a, 4), SystemTime::now())).unwrap();
        commit(&temp, &file_of(&reopened, &a)).unwrap();
        assert_eq!(ProfileCache::open(dir.path()).get(&a).unwrap().profile, profile(&a, 4));
        assert_eq!(temps_in(&partition), 0);
    }

    #[test]
    fn corrupt_file_resets_only_that_account() {
        let dir = TempDir::new().unwrap();
        let (a, b) = accounts();
        let cache = ProfileCache::open(dir.path());
        cache.put(&a, &profile(&a, 5)).unwrap();
        cache.put(&b, &profile(&b, 5)).unwrap();
        fs::write(file_of(&cache, &a), b"{\"format\": 1, \"acc").unwrap();

        let reopened = ProfileCache::open(dir.path());
        assert!(reopened.get(&a).is_none());
        assert!(!file_of(&reopened, &a).exists(), "the corrupt file is removed");
        assert_eq!(reopened.get(&b).unwrap().profile, profile(&b, 5));
        assert!(file_of(&reopened, &b).exists());

        // The reset partition starts afresh: any version is accepted again.
        assert_eq!(reopened.put(&a, &profile(&a, 1)).unwrap(), Stored::Updated);
        assert_eq!(ProfileCache::open(dir.path()).get(&a).unwrap().profile, profile(&a, 1));
    }

    #[test]
    fn reset_warning_never_logs_profile_contents() {
        let dir = TempDir::new().unwrap();
        let (a, _) = accounts();
        let cache = ProfileCache::open(dir.path());
        cache.put(&a, &profile(&a, 1)).unwrap();
        // Valid JSON with a wrong type: serde's own message would quote the value.
        let mut json: serde_json::Value = serde_json::from_slice(&fs::read(file_of(&cache, &a)).unwrap()).unwrap();
        json["profile"]["level"] = "secret-ninja-name".into();
        fs::write(file_of(&cache, &a), serde_json::to_vec(&json).unwrap()).unwrap();

        #[derive(Clone, Default)]
        struct Captured(Arc<StdMutex<Vec<u8>>>);
        impl io::Write for Captured {
            fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
                self.0.lock().unwrap().write(buf)
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let logs = Captured::default();
        let writer = logs.clone();
        let subscriber = tracing_subscriber::fmt().with_writer(move || writer.clone()).with_ansi(false).finish();
        let got = tracing::subscriber::with_default(subscriber, || ProfileCache::open(dir.path()).get(&a));

        assert!(got.is_none());
        let logs = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
        assert!(logs.contains("partition reset"), "expected a warning, got {logs:?}");
        for secret in ["secret-ninja-name", "user-a", "leaf"] {
            assert!(!logs.contains(secret), "log line leaks {secret:?}: {logs}");
        }
    }

    #[test]
    fn file_moved_into_another_accounts_directory_is_not_trusted() {
        let dir = TempDir::new().unwrap();
        let (a, b) = accounts();
        let cache = ProfileCache::open(dir.path());
        cache.put(&a, &profile(&a, 1)).unwrap();
        fs::create_dir_all(cache.account_dir(&b)).unwrap();
        fs::copy(file_of(&cache, &a), file_of(&cache, &b)).unwrap();

        let reopened = ProfileCache::open(dir.path());
        assert!(reopened.get(&b).is_none());
        assert!(!file_of(&reopened, &b).exists());
        assert_eq!(reopened.get(&a).unwrap().profile, profile(&a, 1));

        // A file that names B but carries A's profile is not trusted either.
        let forged =
            String::from_utf8(encode_file(&a, &profile(&a, 2), SystemTime::now())).unwrap().replace(a.id(), b.id());
        fs::write(file_of(&reopened, &b), forged).unwrap();
        assert!(ProfileCache::open(dir.path()).get(&b).is_none());
        assert!(!file_of(&reopened, &b).exists());

        // The same user id on another server: only the file's account field tells the two apart.
        let elsewhere = AccountKey::new(ServerOrigin::parse("http://127.0.0.1:2").unwrap(), "user-a");
        fs::create_dir_all(reopened.account_dir(&elsewhere)).unwrap();
        fs::copy(file_of(&reopened, &a), file_of(&reopened, &elsewhere)).unwrap();
        assert!(ProfileCache::open(dir.path()).get(&elsewhere).is_none());
        assert!(!file_of(&reopened, &elsewhere).exists());
        assert_eq!(ProfileCache::open(dir.path()).get(&a).unwrap().profile, profile(&a, 1));
    }

    #[test]
    fn i4_erase_removes_only_that_partition_also_on_disk() {
        let dir = TempDir::new().unwrap();
        let (a, b) = accounts();
        let cache = ProfileCache::open(dir.path());
        cache.put(&a, &profile(&a, 5)).unwrap();
        cache.put(&b, &profile(&b, 5)).unwrap();

        cache.erase(&a).unwrap();
        assert!(cache.get(&a).is_none());
        assert!(!cache.account_dir(&a).exists());
        assert_eq!(cache.get(&b).unwrap().profile, profile(&b, 5));
        assert!(ProfileCache::open(dir.path()).get(&a).is_none());
        assert_eq!(ProfileCache::open(dir.path()).get(&b).unwrap().profile, profile(&b, 5));

        // Erasing what is not there is fine, and an erased account starts afresh.
        cache.erase(&a).unwrap();
        ProfileCache::open(TempDir::new().unwrap().path()).erase(&a).unwrap();
        assert_eq!(cache.put(&a, &profile(&a, 1)).unwrap(), Stored::Updated);
        assert_eq!(cache.get(&b).unwrap().profile, profile(&b, 5));
    }

    /// The interleaving the model test found: a writer asked "still signed in?", the player's sign-out then
    /// marked the account and erased it, and only then did the write land, refilling the erased partition.
    #[test]
    fn i4_a_write_that_asked_before_a_sign_out_does_not_outlive_its_erase() {
        use std::sync::atomic::{AtomicBool, Ordering};
        let dir = TempDir::new().unwrap();
        let (a, _) = accounts();
        let cache = ProfileCache::open(dir.path());
        let signed_in = &AtomicBool::new(true);
        let (asked, was_asked) = std::sync::mpsc::channel();
        std::thread::scope(|scope| {
            let writer = scope.spawn(|| {
                cache.put_if(&a, &profile(&a, 1), move || {
                    let answer = signed_in.load(Ordering::SeqCst);
                    asked.send(()).unwrap();
                    // Time for the sign-out below to finish, if it could while this write is under way.
                    std::thread::sleep(std::time::Duration::from_millis(100));
                    answer
                })
            });
            was_asked.recv().unwrap();
            signed_in.store(false, Ordering::SeqCst);
            cache.erase(&a).unwrap();
            assert_eq!(writer.join().unwrap().unwrap(), Stored::Updated, "the write asked before the sign-out");
        });
        assert!(cache.get(&a).is_none(), "the erase came after the write, so nothing is left");
        assert!(!cache.account_dir(&a).exists());
        assert!(ProfileCache::open(dir.path()).get(&a).is_none());

        // Asked after the sign-out: nothing written at all.
        assert_eq!(cache.put_if(&a, &profile(&a, 2), || signed_in.load(Ordering::SeqCst)).unwrap(), Stored::NotWanted);
        assert!(cache.get(&a).is_none());
    }

    #[cfg(unix)]
    #[test]
    fn cache_files_and_directories_are_private_to_the_player() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let cache = ProfileCache::open(dir.path().join("cache"));
        let (a, _) = accounts();
        cache.put(&a, &profile(&a, 1)).unwrap();
        let mode = |path: &Path| fs::metadata(path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&file_of(&cache, &a)), 0o600);
        let mut directory = cache.account_dir(&a);
        while directory != dir.path() {
            assert_eq!(mode(&directory), 0o700, "{}", directory.display());
            directory = directory.parent().unwrap().to_path_buf();
        }
    }

    #[test]
    fn survives_restart() {
        let dir = TempDir::new().unwrap();
        let (a, _) = accounts();
        let cache = ProfileCache::open(dir.path());
        cache.put(&a, &profile(&a, 3)).unwrap();
        let stored = cache.get(&a).unwrap();
        drop(cache);

        let loaded = ProfileCache::open(dir.path()).get(&a).unwrap();
        assert_eq!(loaded.profile, profile(&a, 3));
        assert_eq!(loaded.stored_at, stored.stored_at);
    }

    #[test]
    fn disk_failure_is_reported_and_memory_keeps_the_accounts_own_copy() {
        let dir = TempDir::new().unwrap();
        let (a, b) = accounts();
        fs::write(dir.path().join("accounts"), b"not a directory").unwrap();
        let cache = ProfileCache::open(dir.path());

        let err = cache.put(&a, &profile(&a, 2)).unwrap_err();
        assert!(matches!(err, CacheError::Io { .. }), "{err:?}");
        assert!(!err.to_string().contains("user-a"), "error message leaks the profile: {err}");
        assert_eq!(cache.get(&a).unwrap().profile, profile(&a, 2));
        assert_eq!(cache.put(&a, &profile(&a, 1)).unwrap(), Stored::KeptNewer);
        assert!(cache.get(&b).is_none());
    }

    #[test]
    fn concurrent_puts_keep_the_highest_version() {
        let dir = TempDir::new().unwrap();
        let (a, b) = accounts();
        let cache = Arc::new(ProfileCache::open(dir.path()));
        let threads: Vec<_> = (1..=16)
            .map(|v| {
                let (cache, a, b) = (cache.clone(), a.clone(), b.clone());
                std::thread::spawn(move || {
                    cache.put(&a, &profile(&a, v)).unwrap();
                    cache.put(&b, &profile(&b, 100 - v)).unwrap();
                })
            })
            .collect();
        threads.into_iter().for_each(|t| t.join().unwrap());
        assert_eq!(version_of(&cache, &a), Some(16));
        assert_eq!(version_of(&cache, &b), Some(99));
        let reopened = ProfileCache::open(dir.path());
        assert_eq!((version_of(&reopened, &a), version_of(&reopened, &b)), (Some(16), Some(99)));
    }

    #[derive(Debug, Clone)]
    enum Op {
        Put { b: bool, version: i64 },
        PutForeign { b: bool, version: i64 },
        Erase { b: bool },
        Reopen,
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => (any::<bool>(), 0..8i64).prop_map(|(b, version)| Op::Put { b, version }),
            1 => (any::<bool>(), 0..8i64).prop_map(|(b, version)| Op::PutForeign { b, version }),
            1 => any::<bool>().prop_map(|b| Op::Erase { b }),
            1 => Just(Op::Reopen),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// After every step each partition holds its own account's profile at the highest version put since
        /// that account's last erase, or nothing if none was.
        #[test]
        fn partitions_hold_own_newest_profile_through_puts_erases_and_restarts(ops in prop::collection::vec(op(), 1..24)) {
            let dir = TempDir::new().unwrap();
            let (a, b) = accounts();
            let pick = |is_b: bool| if is_b { (&b, &a) } else { (&a, &b) };
            let mut cache = ProfileCache::open(dir.path());
            let mut newest: [Option<i64>; 2] = [None, None];
            for op in ops {
                match op {
                    Op::Put { b: is_b, version } => {
                        let (account, _) = pick(is_b);
                        let slot = &mut newest[usize::from(is_b)];
                        let expected = if slot.is_some_and(|v| v >= version) { Stored::KeptNewer } else { Stored::Updated };
                        prop_assert_eq!(cache.put(account, &profile(account, version)).unwrap(), expected);
                        *slot = Some(slot.map_or(version, |v| v.max(version)));
                    }
                    Op::PutForeign { b: is_b, version } => {
                        let (account, other) = pick(is_b);
                        let refused = matches!(cache.put(account, &profile(other, version)), Err(CacheError::WrongAccount { .. }));
                        prop_assert!(refused);
                    }
                    Op::Erase { b: is_b } => {
                        cache.erase(pick(is_b).0).unwrap();
                        newest[usize::from(is_b)] = None;
                    }
                    Op::Reopen => cache = ProfileCache::open(dir.path()),
                }
                for (account, expected) in [(&a, newest[0]), (&b, newest[1])] {
                    let got = cache.get(account);
                    prop_assert_eq!(got.as_ref().map(|c| c.profile.version), expected);
                    if let Some(got) = got {
                        prop_assert_eq!(got.profile, profile(account, expected.unwrap()));
                    }
                }
            }
        }
    }
}
