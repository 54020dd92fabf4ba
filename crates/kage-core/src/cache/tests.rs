//! The cache's promises: partitions (I4), own data (I3), versions only up, crash-safe files (I10).

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
    fs::read_dir(dir).unwrap().filter(|e| e.as_ref().unwrap().file_name().to_string_lossy().ends_with(".tmp")).count()
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
    let target = file_of(&cache, &a);
    drop(kage_files::Staged::write(&target, &bytes).unwrap());
    drop(kage_files::Staged::write(&target, &bytes[..bytes.len() / 2]).unwrap());
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
    let staged =
        kage_files::Staged::write(&file_of(&reopened, &a), &encode_file(&a, &profile(&a, 4), SystemTime::now()));
    staged.unwrap().commit().unwrap();
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
