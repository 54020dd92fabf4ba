//! Where a web account's data store lives on disk, spelled in one place.
//!
//! Tauri keys its WebKit contexts by the `data_directory` path as given (a `HashMap<Option<PathBuf>, _>`): two
//! spellings of one directory would be two contexts writing one cookie file. So every path comes from
//! [`Partitions::dir`], from the account's opaque partition id, under one root fixed at start-up; nothing else
//! builds one.

use std::io;
use std::path::{Path, PathBuf};

use crate::durable;
use crate::roster::is_opaque_id;

/// The directory under Kage's data directory that holds every web partition.
pub const PARTITIONS_DIR: &str = "web";

/// The partitions' root, and the one function that names a partition's directory.
#[derive(Debug, Clone)]
pub struct Partitions {
    root: PathBuf,
}

impl Partitions {
    /// `data_dir`: Kage's data directory (the app data dir).
    pub fn new(data_dir: &Path) -> Self {
        Self { root: data_dir.join(PARTITIONS_DIR) }
    }

    /// The directory that holds every partition (and, on a macOS before 14, the shared store's claim).
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The directory of partition `id`; `None` for anything that is not an opaque id (it would name another
    /// path, `..` for one).
    pub fn dir(&self, id: &str) -> Option<PathBuf> {
        is_opaque_id(id).then(|| self.root.join(id))
    }

    /// Creates partition `id`'s directory, `0700` (and the root), before any window uses it: WebKit makes
    /// what is missing inside it, and keeps the sign-in cookies there in plain text.
    pub fn prepare(&self, id: &str) -> io::Result<PathBuf> {
        let dir = self.dir(id).ok_or_else(|| io::Error::other("not a partition id"))?;
        durable::private_dir(&self.root)?;
        durable::private_dir(&dir)?;
        Ok(dir)
    }

    /// Deletes partition `id`'s directory and everything in it (nothing there is the player's but the site's
    /// data). A directory that is already gone is fine.
    pub fn delete(&self, id: &str) -> io::Result<()> {
        let dir = self.dir(id).ok_or_else(|| io::Error::other("not a partition id"))?;
        match std::fs::remove_dir_all(&dir) {
            Err(error) if error.kind() != io::ErrorKind::NotFound => Err(error),
            _ => Ok(()),
        }
    }

    /// At start, before any web window exists (so no WebKit context holds a directory): deletes every
    /// partition directory that no saved account names (`keep`), such as one whose account was forgotten or
    /// signed out by a run that stopped before it could wipe. Returns the ids deleted. Entries that are not
    /// partition directories are left alone.
    pub fn sweep(&self, keep: &[String]) -> Vec<String> {
        let Ok(entries) = std::fs::read_dir(&self.root) else { return Vec::new() };
        let mut deleted = Vec::new();
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let is_dir = entry.file_type().is_ok_and(|kind| kind.is_dir());
            if !is_dir || !is_opaque_id(&name) || keep.contains(&name) {
                continue;
            }
            match self.delete(&name) {
                Ok(()) => deleted.push(name),
                Err(error) => log::warn!("could not delete a forgotten web partition: {error}"),
            }
        }
        deleted
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::roster::opaque_id;

    #[test]
    fn i13_a_partitions_path_is_spelled_one_way_and_only_for_an_opaque_id() {
        let partitions = Partitions::new(Path::new("/data/app.kage.client"));
        let id = opaque_id();
        assert_eq!(partitions.dir(&id), Some(PathBuf::from(format!("/data/app.kage.client/web/{id}"))));
        assert_eq!(partitions.dir(&id), partitions.dir(&id.clone()));
        let (upper, slashed) = (id.to_uppercase(), format!("{id}/"));
        for bad in ["", "..", "../../etc", "main", upper.as_str(), slashed.as_str(), &id[..31]] {
            assert_eq!(partitions.dir(bad), None, "{bad:?}");
        }
    }

    #[cfg(unix)]
    #[test]
    fn a_partition_directory_is_created_private() {
        use std::os::unix::fs::PermissionsExt;
        let data = tempfile::tempdir().unwrap();
        let partitions = Partitions::new(data.path());
        let dir = partitions.prepare(&opaque_id()).unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&data.path().join(PARTITIONS_DIR)), 0o700);
    }

    #[test]
    fn i13_the_start_up_sweep_deletes_partitions_no_account_names_and_nothing_else() {
        let data = tempfile::tempdir().unwrap();
        let partitions = Partitions::new(data.path());
        let (kept, orphan) = (opaque_id(), opaque_id());
        for id in [&kept, &orphan] {
            let dir = partitions.prepare(id).unwrap();
            std::fs::write(dir.join("cookies"), "#HttpOnly_127.0.0.1\tFALSE\t/\tFALSE\t0\t__session\tsecret").unwrap();
        }
        let stranger = data.path().join(PARTITIONS_DIR).join("not-a-partition");
        std::fs::create_dir(&stranger).unwrap();
        std::fs::write(data.path().join(PARTITIONS_DIR).join(opaque_id()), "a file, not a directory").unwrap();

        assert_eq!(partitions.sweep(std::slice::from_ref(&kept)), vec![orphan.clone()]);
        assert!(partitions.dir(&kept).unwrap().join("cookies").exists(), "a saved account's partition stays");
        assert!(!partitions.dir(&orphan).unwrap().exists(), "the orphan is gone");
        assert!(stranger.exists(), "only partition directories are touched");
        assert_eq!(partitions.sweep(&[]).len(), 1, "a second sweep finds only what it is told to drop now");
    }
}
