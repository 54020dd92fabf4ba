use super::*;

fn temps_beside(target: &Path) -> usize {
    let name = target.file_name().unwrap().to_string_lossy().into_owned();
    fs::read_dir(target.parent().unwrap())
        .unwrap()
        .flatten()
        .filter(|entry| is_temp_of(&entry.file_name().to_string_lossy(), &name))
        .count()
}

#[test]
fn a_crash_between_write_and_rename_leaves_the_old_content_and_a_temp_nobody_reads() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("roster.json");
    write_atomic(&target, b"old").unwrap();

    // The process dies after the temp file is written (whole, or half of it), before the rename.
    let whole = Staged::write(&target, b"new content").unwrap();
    let half = Staged::write(&target, b"new co").unwrap();
    assert_ne!(whole.path(), half.path(), "each write has a temp file of its own");
    drop((whole, half));
    assert_eq!(fs::read(&target).unwrap(), b"old");
    assert_eq!(temps_beside(&target), 2);

    // The owner clears its leftovers (and nobody else's), and the next write lands whole.
    fs::write(dir.path().join(".other.json.0123456789abcdef.tmp"), b"x").unwrap();
    remove_stray_temps(&target);
    assert_eq!(temps_beside(&target), 0);
    assert!(dir.path().join(".other.json.0123456789abcdef.tmp").exists());
    write_atomic(&target, b"newer").unwrap();
    assert_eq!(fs::read(&target).unwrap(), b"newer");
}

#[test]
fn a_staged_write_replaces_the_target_when_committed() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("profile.json");
    let staged = Staged::write(&target, b"first").unwrap();
    assert!(!target.exists(), "nothing is visible before the rename");
    staged.commit().unwrap();
    assert_eq!(fs::read(&target).unwrap(), b"first");
    assert_eq!(temps_beside(&target), 0);
}

#[test]
fn a_write_never_goes_through_a_planted_temp_name() {
    // create_new: a file (or symlink) already under the temp's name is an error, not a file to write into.
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("roster.json");
    let planted = Staged::write(&target, b"mine").unwrap();
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    assert_eq!(options.open(planted.path()).unwrap_err().kind(), io::ErrorKind::AlreadyExists);
}

#[test]
fn temp_names_are_recognised_only_for_their_own_target() {
    assert!(is_temp_of(".roster.json.00ff00ff00ff00ff.tmp", "roster.json"));
    assert!(!is_temp_of(".roster.json.00ff00ff00ff00ff.tmp", "windows.json"));
    assert!(!is_temp_of("roster.json", "roster.json"));
    assert!(!is_temp_of(".roster.json..tmp", "roster.json"));
    assert!(!is_temp_of(".roster.json.not-hex.tmp", "roster.json"));
}

#[cfg(unix)]
mod modes {
    use super::*;

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn created_directories_are_0700_and_files_0600() {
        let root = tempfile::tempdir().unwrap();
        let nested = root.path().join("a/b");
        create_private_dir(&nested).unwrap();
        assert_eq!((mode(&root.path().join("a")), mode(&nested)), (DIR_MODE, DIR_MODE));
        let file = nested.join("f");
        own_file(&file).unwrap();
        assert_eq!(mode(&file), FILE_MODE);
        let written = nested.join("g");
        write_atomic(&written, b"x").unwrap();
        assert_eq!(mode(&written), FILE_MODE);
    }

    #[test]
    fn an_existing_file_is_narrowed_to_0600_with_its_contents_kept() {
        let root = tempfile::tempdir().unwrap();
        let file = root.path().join("f");
        fs::write(&file, b"x").unwrap();
        fs::set_permissions(&file, fs::Permissions::from_mode(0o644)).unwrap();
        own_file(&file).unwrap();
        assert_eq!(mode(&file), FILE_MODE);
        assert_eq!(fs::read(&file).unwrap(), b"x");
    }

    #[test]
    fn private_dir_narrows_an_existing_directory_and_create_private_dir_leaves_it() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("d");
        fs::create_dir(&dir).unwrap();
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
        create_private_dir(&dir).unwrap();
        assert_eq!(mode(&dir), 0o755, "an existing directory may be the player's");
        private_dir(&dir).unwrap();
        assert_eq!(mode(&dir), DIR_MODE);
    }
}
