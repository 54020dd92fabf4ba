//! Which web data store a partition is, on each platform (I13).
//!
//! - Linux and Windows: the partition's own directory (`data_directory`, [`super::Partitions`]).
//! - macOS 14 and later: a `WKWebsiteDataStore` named by the partition's 16 random bytes
//!   ([`store_identifier`]), so a sign-out's fresh partition is a fresh store and the name says nothing of the
//!   account. WKWebView ignores `data_directory`.
//! - macOS 13 and older: WKWebView has one store for every site (wry falls back to the default store without a
//!   word). One web account at a time may use it: its partition is written in `web/shared-store` before its
//!   first window opens ([`shared_store`]), any other account is refused with a sentence, and the claim is
//!   released only after a wipe has cleared the store. A claim whose account was forgotten by a run that stopped
//!   first is cleared and released at the next start.
//!
//! The macOS paths compile for macOS (`cargo check --target aarch64-apple-darwin`, docs/testing.md) and have
//! never run: there is no Mac here (docs/web-games.md).

// Most of this is called only from macOS code; on the other systems the unit tests are its only callers.
#![cfg_attr(not(target_os = "macos"), allow(dead_code))]

use std::io;
use std::path::Path;

use crate::roster::is_opaque_id;

/// The name of the file, in the partitions' root, that holds the partition of the one web account allowed in
/// the shared store of a macOS before 14.
pub const SHARED_STORE_FILE: &str = "shared-store";

/// Partition `id`'s data store identifier (macOS 14+): the bytes its 32-hex id spells. `None` for anything that
/// is not an opaque id.
pub fn store_identifier(id: &str) -> Option<[u8; 16]> {
    if !is_opaque_id(id) {
        return None;
    }
    let mut bytes = [0u8; 16];
    for (index, byte) in bytes.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&id[2 * index..2 * index + 2], 16).ok()?;
    }
    Some(bytes)
}

/// The partition id a data store identifier names (the start-up sweep compares stores with saved partitions).
pub fn partition_of_store(identifier: &[u8; 16]) -> String {
    identifier.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// Whether partition `partition` may open in the one store of a macOS before 14, given who holds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SharedStore {
    /// Nobody holds it: write the claim, then open.
    Claim,
    /// This partition holds it.
    Held,
    /// Another partition holds it: refuse rather than share its cookies.
    Taken,
}

/// The rule for the shared store: `holder` is the partition written in [`SHARED_STORE_FILE`], if any.
pub fn shared_store(holder: Option<&str>, partition: &str) -> SharedStore {
    match holder {
        None => SharedStore::Claim,
        Some(holder) if holder == partition => SharedStore::Held,
        Some(_) => SharedStore::Taken,
    }
}

/// The partition holding the shared store, from the file in `root` (the partitions' root). A file that cannot be
/// read, or holds anything but an opaque id, counts as held by nobody Kage knows: [`SharedStore::Taken`] for
/// everyone, so a damaged claim never lets a second account in.
pub fn read_holder(root: &Path) -> io::Result<Option<String>> {
    match std::fs::read_to_string(root.join(SHARED_STORE_FILE)) {
        Ok(text) => {
            let text = text.trim();
            Ok(Some(if is_opaque_id(text) { text.to_owned() } else { "unreadable".to_owned() }))
        }
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(error) => Err(error),
    }
}

/// Writes `partition` as the shared store's holder (atomically, `0600`), before its first window opens.
pub fn claim(root: &Path, partition: &str) -> io::Result<()> {
    crate::durable::private_dir(root)?;
    crate::durable::write_atomic(&root.join(SHARED_STORE_FILE), partition.as_bytes())
}

/// Releases the shared store, once what the holder left in it is cleared.
pub fn release(root: &Path) -> io::Result<()> {
    match std::fs::remove_file(root.join(SHARED_STORE_FILE)) {
        Err(error) if error.kind() != io::ErrorKind::NotFound => Err(error),
        _ => Ok(()),
    }
}

/// The sentence for a second web account on a macOS before 14.
pub const SHARED_STORE_TAKEN: &str = "Before macOS 14 a Mac keeps one web data store for every site, and another \
    web account's sign-in is in it. Kage does not open a second web account there rather than let the two share \
    cookies: sign the other one out (or Forget it) first, or update to macOS 14.";

/// macOS's major version (`sw_vers`), read once; `None` when it cannot be read (then treated as old: one store).
#[cfg(target_os = "macos")]
pub fn macos_major() -> Option<u32> {
    static MAJOR: std::sync::OnceLock<Option<u32>> = std::sync::OnceLock::new();
    *MAJOR.get_or_init(|| {
        let out = std::process::Command::new("/usr/bin/sw_vers").arg("-productVersion").output().ok()?;
        String::from_utf8_lossy(&out.stdout).trim().split('.').next()?.parse().ok()
    })
}

/// Whether this Mac gives each partition a store of its own (macOS 14+).
#[cfg(target_os = "macos")]
pub fn has_stores_per_partition() -> bool {
    macos_major().is_some_and(|major| major >= 14)
}

/// macOS: removes partition `partition`'s store once its windows are closed (macOS 14+), or clears the one
/// store of an older Mac and releases it when this partition held it. `Err`: a sentence for the player.
#[cfg(target_os = "macos")]
pub async fn wipe<R: tauri::Runtime>(
    app: &tauri::AppHandle<R>,
    partitions: &super::Partitions,
    partition: &str,
) -> Result<(), String> {
    if has_stores_per_partition() {
        let identifier = store_identifier(partition).ok_or("not a partition")?;
        return remove(app, identifier).await;
    }
    let holder = read_holder(partitions.root()).map_err(|error| error.to_string())?;
    if holder.as_deref() != Some(partition) {
        return Ok(());
    }
    clear_shared_store(app).await?;
    release(partitions.root()).map_err(|error| error.to_string())
}

/// macOS, at start: removes the stores no saved account's partition names (macOS 14+), or clears and releases
/// an older Mac's store when the account holding it is no longer saved. Not when the roster could not be read
/// (every partition would look forgotten).
#[cfg(target_os = "macos")]
pub async fn sweep<R: tauri::Runtime>(app: tauri::AppHandle<R>) {
    use tauri::Manager;
    let state = app.state::<crate::state::AppState>();
    if state.roster.notice().is_some() {
        return;
    }
    let keep = state.roster.partitions();
    if has_stores_per_partition() {
        let stores = match app.fetch_data_store_identifiers().await {
            Ok(stores) => stores,
            Err(error) => return log::warn!("could not list the web data stores: {error}"),
        };
        for identifier in stores.into_iter().filter(|id| !keep.contains(&partition_of_store(id))) {
            if let Err(error) = remove(&app, identifier).await {
                log::warn!("a forgotten web data store: {error}");
            }
        }
        return;
    }
    let root = state.web.partitions.root().to_path_buf();
    if let Ok(Some(holder)) = read_holder(&root)
        && !keep.contains(&holder)
    {
        match clear_shared_store(&app).await {
            Ok(()) => {
                if let Err(error) = release(&root) {
                    log::warn!("could not release the shared web data store: {error}");
                }
            }
            Err(error) => log::warn!("could not clear the shared web data store: {error}"),
        }
    }
}

/// Removes a store, trying again for a few seconds: WebKit refuses while a view it just closed still holds it.
#[cfg(target_os = "macos")]
async fn remove<R: tauri::Runtime>(app: &tauri::AppHandle<R>, identifier: [u8; 16]) -> Result<(), String> {
    let mut last = String::new();
    for _ in 0..5 {
        match app.remove_data_store(identifier).await {
            Ok(()) => return Ok(()),
            Err(error) => last = error.to_string(),
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    Err(format!("macOS did not remove this account's web data: {last}"))
}

/// Clears everything in an older Mac's one store through a hidden blank view of it. Tauri does not wait for
/// WebKit's answer there, so the claim is released only after a pause that covers it.
#[cfg(target_os = "macos")]
async fn clear_shared_store<R: tauri::Runtime>(app: &tauri::AppHandle<R>) -> Result<(), String> {
    let blank = tauri::WebviewUrl::External("about:blank".parse().expect("a URL"));
    let helper = tauri::WebviewWindowBuilder::new(app, super::new_label(), blank)
        .visible(false)
        .on_navigation(|url| url.as_str() == "about:blank")
        .build()
        .map_err(|error| error.to_string())?;
    let cleared = helper.clear_all_browsing_data().map_err(|error| error.to_string());
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    let _ = helper.destroy();
    cleared
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::roster::opaque_id;

    #[test]
    fn i13_a_partitions_store_identifier_is_its_own_bytes_and_nothing_else_has_one() {
        let (one, two) = (opaque_id(), opaque_id());
        let (a, b) = (store_identifier(&one).unwrap(), store_identifier(&two).unwrap());
        assert_ne!(a, b, "two partitions, two stores");
        assert_eq!(partition_of_store(&a), one, "the identifier names its partition back");
        assert_eq!(store_identifier(&one), Some(a), "fixed for the partition");
        for bad in ["", "..", "main", &one[..31], &format!("{one}0"), &one.to_uppercase(), "zz".repeat(16).as_str()] {
            assert_eq!(store_identifier(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn i13_the_shared_store_of_an_old_mac_is_one_accounts_until_released() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("web");
        let (main, alt) = (opaque_id(), opaque_id());
        assert_eq!(shared_store(read_holder(&root).unwrap().as_deref(), &main), SharedStore::Claim);
        claim(&root, &main).unwrap();
        let holder = read_holder(&root).unwrap();
        assert_eq!(shared_store(holder.as_deref(), &main), SharedStore::Held);
        assert_eq!(shared_store(holder.as_deref(), &alt), SharedStore::Taken, "a second account is refused");
        release(&root).unwrap();
        release(&root).unwrap();
        assert_eq!(shared_store(read_holder(&root).unwrap().as_deref(), &alt), SharedStore::Claim);
    }

    #[test]
    fn i13_a_damaged_claim_lets_nobody_in() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(SHARED_STORE_FILE), "../../somewhere").unwrap();
        let holder = read_holder(dir.path()).unwrap();
        assert_eq!(shared_store(holder.as_deref(), &opaque_id()), SharedStore::Taken);
    }
}
