//! Files only their owner can read, replaced so that a crash at any moment leaves the old content or the new,
//! never half (docs/design.md, I10). One writer for the profile cache (kage-core), the shell's roster, layout
//! and preference files (kage-app) and the server's keys and database (kage-server), which each had a copy.
//!
//! - [`write_atomic`] = [`Staged::write`] + [`Staged::commit`]: a temp file in the target's directory, created
//!   `0600` with `create_new` (never through a file or symlink someone else put there), written and fsynced;
//!   renamed over the target (atomic within a directory); the directory fsynced so the rename itself survives a
//!   power cut. The two halves are public so tests can stage the crash between them.
//! - A temp file left by a crash is named `.<target name>.<random>.tmp`: no reader looks for it, and
//!   [`remove_stray_temps`] clears a target's leftovers when its owner knows no write is in flight.
//! - [`private_dir`] and [`create_private_dir`] make directories `0700`, [`own_file`] files `0600`, instead of
//!   trusting the umask (the desktop app runs its sandbox server under the player's data directory, and the
//!   cache and roster say which accounts the player has). On other platforms these are plain creations: the
//!   per-user data directory's ACLs apply.

use std::fs::{self, OpenOptions};
use std::hash::{BuildHasher, RandomState};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

#[cfg(unix)]
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};

/// A private file's mode on Unix: its owner reads and writes it, nobody else anything.
pub const FILE_MODE: u32 = 0o600;
/// A private directory's mode on Unix.
pub const DIR_MODE: u32 = 0o700;

const TEMP_SUFFIX: &str = ".tmp";

/// Creates `dir` and any missing parents with mode 0700. An existing directory is left as it is: it may be
/// the player's (their data directory), not ours.
pub fn create_private_dir(dir: &Path) -> io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    builder.mode(DIR_MODE);
    builder.create(dir)
}

/// Creates `dir` like [`create_private_dir`] and makes it 0700 also when it already existed with looser
/// permissions: for directories only Kage uses.
pub fn private_dir(dir: &Path) -> io::Result<()> {
    create_private_dir(dir)?;
    #[cfg(unix)]
    fs::set_permissions(dir, fs::Permissions::from_mode(DIR_MODE))?;
    Ok(())
}

/// Creates an empty file with mode 0600 unless it exists; an existing one (from an older version, or copied in
/// by hand) is narrowed to 0600 with its contents kept.
pub fn own_file(path: &Path) -> io::Result<()> {
    let mut options = OpenOptions::new();
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

/// Replaces `path` with `bytes` atomically; the file is 0600 on Unix. `path`'s directory must exist.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    Staged::write(path, bytes)?.commit()
}

/// The first half of an atomic replace, done: the new content is on disk in a temp file beside the target,
/// which is untouched. Dropped without [`Staged::commit`], the temp file stays, as after a crash.
#[derive(Debug)]
pub struct Staged {
    temp: PathBuf,
    target: PathBuf,
}

impl Staged {
    /// Writes `bytes` to a new temp file in `target`'s directory and fsyncs it.
    pub fn write(target: &Path, bytes: &[u8]) -> io::Result<Staged> {
        let (dir, name) = split(target)?;
        let temp = dir.join(temp_name(name));
        let mut options = OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        options.mode(FILE_MODE);
        let mut file = options.open(&temp)?;
        if let Err(error) = file.write_all(bytes).and_then(|()| file.sync_all()) {
            let _ = fs::remove_file(&temp);
            return Err(error);
        }
        Ok(Staged { temp, target: target.to_owned() })
    }

    /// Where the new content waits.
    pub fn path(&self) -> &Path {
        &self.temp
    }

    /// The second half: renames the temp file over the target, then fsyncs the directory.
    pub fn commit(self) -> io::Result<()> {
        if let Err(error) = fs::rename(&self.temp, &self.target) {
            let _ = fs::remove_file(&self.temp);
            return Err(error);
        }
        sync_dir(split(&self.target)?.0)
    }
}

/// Removes the temp files a crash left beside `target` (only its own: `.<name>.<random>.tmp`). Call it only
/// when no write of `target` can be in flight (Kage runs as a single instance; under the owner's lock).
pub fn remove_stray_temps(target: &Path) {
    let Ok((dir, name)) = split(target) else { return };
    let Ok(entries) = fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        if is_temp_of(&entry.file_name().to_string_lossy(), name) {
            let _ = fs::remove_file(entry.path());
        }
    }
}

/// Whether `file_name` is one of [`Staged::write`]'s temp files for a target named `target_name`.
pub fn is_temp_of(file_name: &str, target_name: &str) -> bool {
    file_name
        .strip_prefix('.')
        .and_then(|rest| rest.strip_prefix(target_name))
        .and_then(|rest| rest.strip_prefix('.'))
        .and_then(|rest| rest.strip_suffix(TEMP_SUFFIX))
        .is_some_and(|random| !random.is_empty() && random.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// Hidden, unique and ending in a suffix no reader looks for: `.roster.json.<16 hex digits>.tmp`.
fn temp_name(name: &str) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    // RandomState's keys are random per process; the counter makes names unique within one.
    let random = RandomState::new().hash_one((std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed)));
    format!(".{name}.{random:016x}{TEMP_SUFFIX}")
}

fn split(path: &Path) -> io::Result<(&Path, &str)> {
    let name = path.file_name().and_then(|n| n.to_str());
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    name.map(|name| (dir, name)).ok_or_else(|| io::Error::other(format!("{} is not a file path", path.display())))
}

/// Makes a rename or removal in `dir` survive a power cut (fsync of the directory itself).
#[cfg(unix)]
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    fs::File::open(dir)?.sync_all()
}

// Windows cannot open a directory as a file; NTFS journals the rename's metadata itself.
#[cfg(not(unix))]
pub fn sync_dir(_dir: &Path) -> io::Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests;
