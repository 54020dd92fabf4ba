//! A web game's sign-in, saved at the player's request (issue 19, item 7): the site's username and password for
//! one web account, kept in the OS keychain beside Kage's own credentials and filled into the site's form only
//! when the player asks (the shell decides where and when; this only keeps the secret).
//!
//! An entry is filed under its own service (`<service>-web-sign-in`), named by the web account's opaque id, so
//! it can never be read as, or listed with, a Kage account's refresh credential, and it names nothing a person
//! could recognise. What it holds (origin, username, password) is one JSON record, handled as a secret from
//! encoding to decoding; the password is a [`SecretString`], and nothing here prints it.

use std::fmt;

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use zeroize::Zeroize;

use super::VaultError;

/// The service suffix of web sign-ins' keychain entries.
pub const SITE_SERVICE_SUFFIX: &str = "-web-sign-in";

/// One web account's saved sign-in for one site.
pub struct SiteSignIn {
    /// The exact origin (`scheme://host[:port]`) the sign-in may be filled on; nowhere else.
    pub origin: String,
    pub username: String,
    pub password: SecretString,
}

impl fmt::Debug for SiteSignIn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SiteSignIn").field("origin", &self.origin).finish_non_exhaustive()
    }
}

/// Where web sign-ins live, one per web account (keyed by the account's opaque id and nothing else). Blocking,
/// like [`super::CredentialStore`]: callers run it on `spawn_blocking` and bound the wait.
pub trait SiteSignInStore: Send + Sync + 'static {
    /// `Ok(None)`: nothing saved for this account. An unreachable keychain answers `Err`, never `Ok(None)`.
    fn read_site(&self, owner: &str) -> Result<Option<SiteSignIn>, VaultError>;
    /// Creates or replaces the account's sign-in.
    fn write_site(&self, owner: &str, sign_in: &SiteSignIn) -> Result<(), VaultError>;
    /// Deleting what is not there is `Ok(())`.
    fn delete_site(&self, owner: &str) -> Result<(), VaultError>;
}

#[derive(Serialize, Deserialize)]
struct Record {
    v: u8,
    origin: String,
    username: String,
    password: String,
}

impl Drop for Record {
    fn drop(&mut self) {
        self.password.zeroize();
        self.username.zeroize();
    }
}

/// The keychain text of a sign-in: a secret from the moment it exists.
pub(super) fn encode(sign_in: &SiteSignIn) -> SecretString {
    let record = Record {
        v: 1,
        origin: sign_in.origin.clone(),
        username: sign_in.username.clone(),
        password: sign_in.password.expose_secret().to_owned(),
    };
    SecretString::from(serde_json::to_string(&record).expect("a record of strings serializes"))
}

pub(super) fn decode(text: &str) -> Result<SiteSignIn, VaultError> {
    let mut record: Record =
        serde_json::from_str(text).map_err(|_| VaultError::Backend("the saved web sign-in is malformed".into()))?;
    if record.v != 1 {
        return Err(VaultError::Backend("the saved web sign-in is of a newer Kage".into()));
    }
    Ok(SiteSignIn {
        origin: std::mem::take(&mut record.origin),
        username: std::mem::take(&mut record.username),
        password: SecretString::from(std::mem::take(&mut record.password)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vault::{KeychainStore, MemoryStore};

    fn sign_in(password: &str) -> SiteSignIn {
        SiteSignIn {
            origin: "https://game.example".into(),
            username: "main@example.org".into(),
            password: SecretString::from(password.to_owned()),
        }
    }

    fn check(store: &dyn SiteSignInStore) {
        assert!(store.read_site("main-id").unwrap().is_none());
        store.write_site("main-id", &sign_in("hunter2")).unwrap();
        let read = store.read_site("main-id").unwrap().unwrap();
        assert_eq!((read.origin.as_str(), read.username.as_str()), ("https://game.example", "main@example.org"));
        assert_eq!(read.password.expose_secret(), "hunter2");
        assert!(store.read_site("alt-id").unwrap().is_none(), "another account's window gets nothing of main's");
        store.write_site("main-id", &sign_in("hunter3")).unwrap();
        assert_eq!(store.read_site("main-id").unwrap().unwrap().password.expose_secret(), "hunter3", "replaced");
        store.delete_site("main-id").unwrap();
        store.delete_site("main-id").unwrap();
        assert!(store.read_site("main-id").unwrap().is_none());
    }

    #[test]
    fn i13_a_web_sign_in_is_kept_per_account_replaced_and_deleted() {
        check(&MemoryStore::new());
        let mock: std::sync::Arc<keyring_core::CredentialStore> = keyring_core::mock::Store::new().unwrap();
        check(&KeychainStore::for_tests("kage-test", mock));
    }

    #[test]
    fn i13_a_web_sign_in_is_never_listed_or_read_as_a_kage_account() {
        use crate::vault::CredentialStore;
        let mock: std::sync::Arc<keyring_core::CredentialStore> = keyring_core::mock::Store::new().unwrap();
        let keychain = KeychainStore::for_tests("kage-test", mock.clone());
        keychain.write_site("main-id", &sign_in("hunter2")).unwrap();
        assert!(keychain.list().unwrap().is_empty(), "not a saved Kage account");
        let entry = keyring_core::Entry::new_in_store(&mock, "kage-test-web-sign-in", "main-id").unwrap();
        assert!(entry.get_password().unwrap().contains("hunter2"), "filed under its own service, by the opaque id");
    }

    #[test]
    fn i13_a_web_sign_in_never_prints_its_password() {
        let shown = format!("{:?}", sign_in("hunter2"));
        assert!(!shown.contains("hunter2") && !shown.contains("main@example.org"), "{shown}");
        assert!(matches!(decode("{not json hunter2"), Err(VaultError::Backend(m)) if !m.contains("hunter2")));
    }

    #[test]
    fn a_locked_keychain_keeps_the_saved_sign_in() {
        let store = MemoryStore::new();
        store.write_site("main-id", &sign_in("hunter2")).unwrap();
        store.set_failure(Some(VaultError::Locked));
        assert_eq!(store.read_site("main-id").unwrap_err(), VaultError::Locked);
        assert_eq!(store.delete_site("main-id").unwrap_err(), VaultError::Locked);
        store.set_failure(None);
        assert!(store.read_site("main-id").unwrap().is_some(), "nothing lost");
    }
}
