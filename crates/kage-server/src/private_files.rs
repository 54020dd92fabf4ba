//! Files and directories that only the user running the server can read: mode 0600 and 0700 on Unix.
//!
//! The server's data directory holds the signing key and a database of password hashes and refresh-token
//! hashes, and the desktop app runs the server in-process under the player's own data directory, where the
//! default umask would leave new files readable by every local user. So the server creates its directories
//! 0700 and its files 0600 itself, instead of trusting the umask. SQLite gives a database's `-wal` and `-shm`
//! files the mode of the database file, so creating that file first, 0600, covers all three. On other
//! platforms these are plain creations: the per-user data directory's ACLs apply.

use std::fs;
use std::io;
use std::path::Path;

#[cfg(unix)]
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};

pub const FILE_MODE: u32 = 0o600;
pub const DIR_MODE: u32 = 0o700;

/// Creates `dir` and any missing parents with mode 0700. An existing directory is left as it is: it may be
/// the player's, not ours.
pub fn create_dir(dir: &Path) -> io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    builder.mode(DIR_MODE);
    builder.create(dir)
}

/// Creates `dir` with mode 0700, or makes an existing one 0700: for directories only the server uses.
pub fn own_dir(dir: &Path) -> io::Result<()> {
    create_dir(dir)?;
    #[cfg(unix)]
    fs::set_permissions(dir, fs::Permissions::from_mode(DIR_MODE))?;
    Ok(())
}

/// Creates an empty file with mode 0600 unless it exists; an existing one (from an older server version, or
/// copied in by hand) is narrowed to 0600.
pub fn own_file(path: &Path) -> io::Result<()> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    options.mode(FILE_MODE);
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(error) if error.kind() == io::ErrorKind::AlreadyExists => restrict(path),
        Err(error) => Err(error),
    }
}

/// Narrows an existing file to 0600; a missing one is fine.
#[cfg(unix)]
pub fn restrict(path: &Path) -> io::Result<()> {
    match fs::set_permissions(path, fs::Permissions::from_mode(FILE_MODE)) {
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(()),
        other => other,
    }
}

#[cfg(not(unix))]
pub fn restrict(_path: &Path) -> io::Result<()> {
    Ok(())
}

/// Options that create a file with mode 0600 on Unix (the mode applies only when the file is created).
pub fn new_file_options() -> fs::OpenOptions {
    let mut options = fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    options.mode(FILE_MODE);
    options
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn created_directories_are_0700_and_files_0600() {
        let root = tempfile::tempdir().unwrap();
        let nested = root.path().join("a/b");
        create_dir(&nested).unwrap();
        assert_eq!((mode(&root.path().join("a")), mode(&nested)), (DIR_MODE, DIR_MODE));
        let file = nested.join("f");
        own_file(&file).unwrap();
        assert_eq!(mode(&file), FILE_MODE);
    }

    #[test]
    fn an_existing_open_file_is_narrowed_to_0600() {
        let root = tempfile::tempdir().unwrap();
        let file = root.path().join("f");
        fs::write(&file, b"x").unwrap();
        fs::set_permissions(&file, fs::Permissions::from_mode(0o644)).unwrap();
        own_file(&file).unwrap();
        assert_eq!(mode(&file), FILE_MODE);
        assert_eq!(fs::read(&file).unwrap(), b"x", "contents are kept");
    }
}
