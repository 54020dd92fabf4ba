//! Downloads from a web game's page ask where to save (issue 19, item 4): the destination is the player's choice
//! in the system's save dialog (or the tests' fixed chooser, `KAGE_E2E_FILE`), and a cancel saves nothing.
//!
//! WebKit makes the download itself, through the account's own partition (its cookies), so a file only a
//! signed-in account may fetch comes down as that account. WebKit wants a destination at once, before the
//! player can answer a dialog: the file is written into a private staging folder inside the account's partition
//! (`0700`, wiped with it), the dialog opens at the same moment, and when both the download and the player are
//! done the file is moved where the player chose, or deleted on a cancel or a failed download. Nothing lands in
//! a folder the player did not pick.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use kage_core::locks::Recover;
use tauri::webview::DownloadEvent;
use tauri::{AppHandle, Manager, Runtime, Webview};
use tokio::sync::oneshot;

use crate::state::AppState;

/// The folder in a partition where downloads wait for the player's answer.
const STAGING_DIR: &str = "downloads-in-progress";

/// A download WebKit is writing: into `staging`, finished (`true`: successfully) through `done`.
struct Pending {
    url: String,
    staging: PathBuf,
    done: oneshot::Sender<bool>,
}

/// The `on_download` handler of a window of the account whose partition directory is `partition_dir`.
pub fn handler<R: Runtime>(
    app: &AppHandle<R>,
    partition_dir: PathBuf,
) -> impl Fn(Webview<R>, DownloadEvent<'_>) -> bool + Send + Sync + 'static {
    let app = app.clone();
    let pending: Arc<Mutex<Vec<Pending>>> = Arc::default();
    move |_, event| match event {
        DownloadEvent::Requested { url, destination } => {
            let name = suggested_name(destination);
            let Ok(staging) = staging_path(&partition_dir, &name) else {
                log::warn!("a download could not be prepared: no staging folder");
                return false;
            };
            *destination = staging.clone();
            let (done, finished) = oneshot::channel();
            pending.lock().recover().push(Pending { url: url.to_string(), staging: staging.clone(), done });
            tauri::async_runtime::spawn(settle(app.clone(), name, staging, finished));
            true
        }
        DownloadEvent::Finished { url, path, success } => {
            let mut pending = pending.lock().recover();
            let found =
                pending.iter().position(|p| path.as_deref().map_or(p.url == url.as_str(), |path| p.staging == path));
            if let Some(index) = found {
                let _ = pending.remove(index).done.send(success);
            }
            true
        }
        _ => true,
    }
}

/// The file name WebKit suggests, reduced to a name (no folder of the page's choosing).
fn suggested_name(destination: &Path) -> String {
    destination
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .filter(|name| !name.is_empty() && name != "." && name != "..")
        .unwrap_or_else(|| "download".to_owned())
}

/// A fresh staging path for `name`: `<partition>/downloads-in-progress/<random>/<name>`, folders `0700`.
fn staging_path(partition_dir: &Path, name: &str) -> std::io::Result<PathBuf> {
    let root = partition_dir.join(STAGING_DIR);
    crate::durable::private_dir(&root)?;
    let dir = root.join(crate::roster::opaque_id());
    crate::durable::private_dir(&dir)?;
    Ok(dir.join(name))
}

/// Asks where to save `name` while WebKit writes it to `staging`; then moves it there, or deletes it.
async fn settle<R: Runtime>(app: AppHandle<R>, name: String, staging: PathBuf, finished: oneshot::Receiver<bool>) {
    let (choice, finished) = tokio::join!(choose(&app, &name), finished);
    let outcome = deliver(&staging, choice.as_deref(), finished.unwrap_or(false));
    if let Err(error) = outcome {
        log::warn!("a download was not saved: {error}");
    }
}

/// Moves the finished file at `staging` to `chosen`, or removes it (cancelled, or the download failed); its
/// staging folder goes either way. Answers where it was saved.
fn deliver(staging: &Path, chosen: Option<&Path>, succeeded: bool) -> std::io::Result<Option<PathBuf>> {
    let saved = match chosen {
        Some(chosen) if succeeded => {
            if std::fs::rename(staging, chosen).is_err() {
                // Another file system than Kage's data directory.
                std::fs::copy(staging, chosen)?;
            }
            Some(chosen.to_owned())
        }
        _ => None,
    };
    if let Some(dir) = staging.parent() {
        let _ = std::fs::remove_dir_all(dir);
    }
    Ok(saved)
}

/// Where the player wants `name` saved: the tests' chooser when one is set, else the system's save dialog;
/// `None`: cancelled.
async fn choose<R: Runtime>(app: &AppHandle<R>, name: &str) -> Option<PathBuf> {
    if let Some(chooser) = &app.state::<AppState>().files {
        return chooser.choose(true);
    }
    use tauri_plugin_dialog::DialogExt;
    let (tx, rx) = oneshot::channel();
    app.dialog().file().set_title("Save the download").set_file_name(name).save_file(move |path| {
        let _ = tx.send(path);
    });
    rx.await.ok().flatten().and_then(|path| path.into_path().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn i13_a_download_is_saved_only_where_the_player_chose_and_a_cancel_leaves_nothing() {
        let partition = tempfile::tempdir().unwrap();
        let elsewhere = tempfile::tempdir().unwrap();
        let staged = staging_path(partition.path(), "map.txt").unwrap();
        std::fs::write(&staged, "the map").unwrap();
        let chosen = elsewhere.path().join("my-map.txt");
        assert_eq!(deliver(&staged, Some(&chosen), true).unwrap(), Some(chosen.clone()));
        assert_eq!(std::fs::read_to_string(&chosen).unwrap(), "the map");
        let staging_root = partition.path().join(STAGING_DIR);
        assert_eq!(std::fs::read_dir(&staging_root).unwrap().count(), 0, "its staging folder is gone");

        // Cancelled, or the download failed: nothing anywhere.
        for (chosen, succeeded) in [(None, true), (Some(elsewhere.path().join("failed.txt")), false)] {
            let staged = staging_path(partition.path(), "map.txt").unwrap();
            std::fs::write(&staged, "part").unwrap();
            assert_eq!(deliver(&staged, chosen.as_deref(), succeeded).unwrap(), None);
            assert_eq!(std::fs::read_dir(&staging_root).unwrap().count(), 0);
        }
        assert!(!elsewhere.path().join("failed.txt").exists());
    }

    #[test]
    fn a_downloads_suggested_name_never_names_a_folder() {
        assert_eq!(suggested_name(Path::new("/home/p/Downloads/map (1).txt")), "map (1).txt");
        assert_eq!(suggested_name(Path::new("/")), "download");
        assert_eq!(suggested_name(Path::new("/x/..")), "download");
    }
}
