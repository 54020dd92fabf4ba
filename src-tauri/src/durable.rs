//! Files the shell keeps under the app data dir, written so that a crash at any moment loses nothing saved (I10)
//! and nobody else on the computer can read them.
//!
//! Why our own and not tauri-plugin-store: the plugin saves with a plain `fs::write` (a crash in the middle
//! leaves a truncated roster, that is every saved account gone) and its load ignores errors (a damaged file
//! silently reads as "no saved accounts", and the next save overwrites what was left of it).
//!
//! - [`write_atomic`] (the `kage-files` crate's, shared with the cache and the server): temp file in the same
//!   directory, created `0600`, written and fsynced; renamed over the target; the directory fsynced so the
//!   rename itself survives a power cut. A reader sees the old content or the new, never half. A temp file
//!   left by a crash has a name no reader looks for, and [`JsonFile::open`] removes it.
//! - [`JsonFile::open`]: a file that cannot be read or parsed is moved aside (`<name>.corrupt-<unix seconds>`),
//!   never overwritten or deleted, and the caller is told where it went so the player can be told.
//! - [`private_dir`]: directories are `0700`, files `0600` (Unix), so another local user cannot read the list of
//!   accounts or the sandbox's files.
//!
//! Serialising read-modify-write is the caller's job (one lock around load, change and save): see `roster.rs`.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use serde::Serialize;
use serde::de::DeserializeOwned;

pub use kage_files::{private_dir, write_atomic};

/// A JSON document in one file, read once at start-up and replaced atomically on every save.
#[derive(Debug, Clone)]
pub struct JsonFile {
    path: PathBuf,
}

/// What [`JsonFile::open`] found.
#[derive(Debug)]
pub enum Opened<T> {
    /// The file's content, or `T::default()` when there was no file yet.
    Read(T),
    /// The file could not be read or parsed; it now lives at `kept_as`, untouched. Start from `T::default()`.
    MovedAside { kept_as: PathBuf },
    /// The file could not be read and could not be moved aside either. Do not save over it: the player's data
    /// may still be in there.
    Unreadable(io::Error),
}

impl JsonFile {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The file's name, for sentences shown to the player (no home directory in them).
    pub fn name(&self) -> String {
        self.path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
    }

    /// Reads the document. Call once, before any save: it also removes temp files a crash left behind.
    pub fn open<T: DeserializeOwned + Default>(&self) -> Opened<T> {
        self.remove_stray_temps();
        let bytes = match fs::read(&self.path) {
            Ok(bytes) => bytes,
            Err(error) if error.kind() == io::ErrorKind::NotFound => return Opened::Read(T::default()),
            Err(error) => return self.move_aside(error.to_string()),
        };
        match serde_json::from_slice(&bytes) {
            Ok(value) => Opened::Read(value),
            // Only the category and position: serde's messages can quote the file's content.
            Err(error) => self.move_aside(format!("{:?} at {}:{}", error.classify(), error.line(), error.column())),
        }
    }

    pub fn save<T: Serialize>(&self, value: &T) -> io::Result<()> {
        let bytes = serde_json::to_vec_pretty(value).map_err(io::Error::other)?;
        write_atomic(&self.path, &bytes)
    }

    fn move_aside<T>(&self, why: String) -> Opened<T> {
        let stamp = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let base = format!("{}.corrupt-{stamp}", self.path.display());
        // Never over an earlier damaged copy: that one is evidence too.
        let kept_as = (0..)
            .map(|n| PathBuf::from(if n == 0 { base.clone() } else { format!("{base}-{n}") }))
            .find(|candidate| fs::symlink_metadata(candidate).is_err())
            .expect("some name is free");
        match fs::rename(&self.path, &kept_as) {
            Ok(()) => {
                let _ = self.path.parent().map(kage_files::sync_dir);
                log::warn!("{} could not be read ({why}); kept as {}", self.path.display(), kept_as.display());
                Opened::MovedAside { kept_as }
            }
            Err(error) => {
                log::error!("{} could not be read ({why}) nor moved aside: {error}", self.path.display());
                Opened::Unreadable(error)
            }
        }
    }

    /// Only called before the first save of this run (Kage is single-instance), so no temp file is in flight.
    fn remove_stray_temps(&self) {
        kage_files::remove_stray_temps(&self.path);
    }
}

/// One file and what this run knows of it. `writable` is false when the file could be neither read nor moved
/// aside: then changes live in memory for this run and nothing is written over the player's data.
pub struct Kept<T> {
    file: JsonFile,
    pub doc: T,
    writable: bool,
}

impl<T: Serialize + serde::de::DeserializeOwned + Default> Kept<T> {
    pub fn open(file: JsonFile, what: &str, notices: &mut Vec<String>) -> Self {
        let (doc, writable) = match file.open() {
            Opened::Read(doc) => (doc, true),
            Opened::MovedAside { kept_as } => {
                let kept = kept_as.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
                notices.push(format!("Kage could not read its {what}; the damaged file was kept as {kept}."));
                (T::default(), true)
            }
            Opened::Unreadable(error) => {
                notices.push(format!(
                    "Kage could not read its {what} ({}: {error}); changes are kept for this run only.",
                    file.name()
                ));
                (T::default(), false)
            }
        };
        Self { file, doc, writable }
    }

    /// The one read-modify-write: change the document, then write it whole. The change stays in memory even if
    /// the write fails, so this run goes on showing what the player did; the error says it was not saved.
    pub fn change(&mut self, edit: impl FnOnce(&mut T)) -> Result<(), KeptError> {
        edit(&mut self.doc);
        if !self.writable {
            return Err(KeptError::Unreadable { file: self.file.name() });
        }
        self.file.save(&self.doc).map_err(|source| KeptError::Write { file: self.file.name(), source })
    }
}

/// Why a change to a [`Kept`] file was not saved (it still holds in memory for this run).
#[derive(Debug, thiserror::Error)]
pub enum KeptError {
    #[error("{file} could not be written: {source}")]
    Write { file: String, source: io::Error },
    #[error("{file} could not be read at start-up, so Kage does not write over it")]
    Unreadable { file: String },
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    type Doc = BTreeMap<String, String>;

    fn doc(pairs: &[(&str, &str)]) -> Doc {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    fn read(file: &JsonFile) -> Doc {
        match file.open() {
            Opened::Read(doc) => doc,
            other => panic!("expected a readable file, got {other:?}"),
        }
    }

    #[test]
    fn a_crash_before_the_rename_leaves_the_old_content_and_its_temp_file_is_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let file = JsonFile::new(dir.path().join("roster.json"));
        file.save(&doc(&[("main", "saved")])).unwrap();
        // The process died after writing (half of) the next version's temp file, before the rename.
        let stray = kage_files::Staged::write(file.path(), br#"{"main": "sav"#).unwrap().path().to_owned();

        assert_eq!(read(&file), doc(&[("main", "saved")]), "the target is the old, whole content");
        assert!(!stray.exists(), "opening cleared the stray temp file");
        file.save(&doc(&[("main", "saved"), ("alt", "saved")])).unwrap();
        assert_eq!(read(&file), doc(&[("main", "saved"), ("alt", "saved")]));
        let names: Vec<_> = fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names, ["roster.json"], "a save leaves nothing but the file");
    }

    #[test]
    fn a_save_replaces_the_file_whole_and_never_writes_into_the_old_one() {
        use std::io::Read;

        let dir = tempfile::tempdir().unwrap();
        let file = JsonFile::new(dir.path().join("roster.json"));
        file.save(&doc(&[("main", "saved")])).unwrap();
        let mut old = fs::File::open(file.path()).unwrap();
        file.save(&doc(&[("main", "saved"), ("alt", "saved")])).unwrap();
        // A write in place (truncate, then write) is what a crash can cut in half; a rename never touches the
        // bytes a reader of the old file sees.
        let mut seen = String::new();
        old.read_to_string(&mut seen).unwrap();
        assert_eq!(serde_json::from_str::<Doc>(&seen).unwrap(), doc(&[("main", "saved")]));
        assert_eq!(read(&file), doc(&[("main", "saved"), ("alt", "saved")]));
    }

    #[test]
    fn a_file_that_does_not_parse_is_moved_aside_intact_never_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("roster.json");
        let damaged = b"{\"accounts\": [{\"id\": \"0f";
        fs::write(&path, damaged).unwrap();
        let file = JsonFile::new(&path);

        let Opened::MovedAside { kept_as } = file.open::<Doc>() else { panic!("not moved aside") };
        assert!(kept_as.file_name().unwrap().to_string_lossy().starts_with("roster.json.corrupt-"), "{kept_as:?}");
        assert_eq!(fs::read(&kept_as).unwrap(), damaged, "kept byte for byte");
        assert!(!path.exists());
        assert_eq!(read(&file), Doc::new(), "the next start begins empty");

        // Damaged again in the same second: the first copy is not overwritten.
        fs::write(&path, b"not json").unwrap();
        let Opened::MovedAside { kept_as: second } = file.open::<Doc>() else { panic!("not moved aside") };
        assert_ne!(second, kept_as);
        assert_eq!(fs::read(&kept_as).unwrap(), damaged);
        assert_eq!(fs::read(&second).unwrap(), b"not json");
    }

    #[test]
    fn a_file_of_the_wrong_shape_is_moved_aside_too() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("windows.json");
        fs::write(&path, br#"{"acct-1": 7}"#).unwrap();
        assert!(matches!(JsonFile::new(&path).open::<Doc>(), Opened::MovedAside { .. }));
    }

    #[cfg(unix)]
    #[test]
    fn files_are_0600_and_directories_0700() {
        use std::os::unix::fs::PermissionsExt;

        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("app.kage.client");
        fs::create_dir(&dir).unwrap();
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
        private_dir(&dir).unwrap();
        private_dir(&dir.join("sandbox")).unwrap();
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&dir), 0o700, "an existing directory is tightened");
        assert_eq!(mode(&dir.join("sandbox")), 0o700);

        let path = dir.join("roster.json");
        fs::write(&path, b"{}").unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        JsonFile::new(&path).save(&doc(&[("main", "saved")])).unwrap();
        assert_eq!(mode(&path), 0o600, "a replaced file gets the new file's mode");
        write_atomic(&dir.join("sandbox").join("port"), b"48787").unwrap();
        assert_eq!(mode(&dir.join("sandbox").join("port")), 0o600);
    }
}
