//! The vault: each account's refresh credential in the OS keychain, one entry per account (I9).
//!
//! An entry is named by the configured service (`kage`) and the account's opaque [`AccountKey::id`], never by a
//! username or an email, so "not found" means that account is signed out and can never be another account's
//! entry. Keychain calls can block (D-Bus round trips, unlock prompts), so [`CredentialStore`] is synchronous on
//! purpose: callers run it on `spawn_blocking` and bound how long they wait (I11).
//!
//! Backend: `keyring-core` with one native store per OS, each a target-specific dependency, so every OS compiles
//! exactly its own keychain: Secret Service over D-Bus on Linux and the BSDs (`zbus-secret-service-keyring-store`,
//! pure Rust: zbus and RustCrypto, no libdbus or libsecret -dev package), Keychain Services on macOS
//! (`apple-native-keyring-store`), Credential Manager on Windows (`windows-native-keyring-store`). We link the
//! stores ourselves instead of the `keyring` crate: 3.x quietly uses a mock that forgets everything when no backend
//! feature is on, and 4.x installs a process-wide default store; a [`KeychainStore`] owns its store and fails with
//! [`VaultError::Unavailable`] when there is none. Keeping a session for this run only is then a visible choice
//! of the caller ([`MemoryStore`]), never a silent fallback.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};

use secrecy::{ExposeSecret, SecretString};

use crate::account::AccountKey;

/// Where refresh credentials live, one per account. Implementations must key entries by [`AccountKey::id`] and
/// nothing else.
pub trait CredentialStore: Send + Sync + 'static {
    /// `Ok(None)`: no credential for this account, which means it is signed out.
    fn read(&self, account: &AccountKey) -> Result<Option<SecretString>, VaultError>;
    /// Creates or replaces this account's credential.
    fn write(&self, account: &AccountKey, refresh_token: &SecretString) -> Result<(), VaultError>;
    /// Deleting a credential that is not there is `Ok(())`.
    fn delete(&self, account: &AccountKey) -> Result<(), VaultError>;
}

/// Why the keychain could not be used. No variant's text ever contains a credential (I6).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VaultError {
    /// There is no keychain on this system (no Secret Service, no D-Bus session, unsupported OS).
    #[error("no system keychain: {0}")]
    Unavailable(String),
    /// The keychain is locked, or the player dismissed the unlock prompt.
    #[error("the system keychain is locked")]
    Locked,
    /// Anything else the keychain reported.
    #[error("system keychain error: {0}")]
    Backend(String),
}

impl VaultError {
    /// One sentence for the player.
    pub fn user_message(&self) -> &'static str {
        match self {
            Self::Unavailable(_) => {
                "No system keychain is available, so Kage cannot remember your accounts. You stay signed in until Kage closes."
            }
            Self::Locked => "The system keychain is locked. Unlock it to restore saved accounts.",
            Self::Backend(_) => {
                "The system keychain reported an error, so saved accounts could not be read or updated."
            }
        }
    }
}

/// The OS keychain. One entry per account: service = the configured service name, account = [`AccountKey::id`].
pub struct KeychainStore {
    service: String,
    store: Arc<keyring_core::CredentialStore>,
    /// Store-specific options for every entry (the Secret Service label, the Windows persistence).
    modifiers: Vec<(&'static str, &'static str)>,
}

impl KeychainStore {
    /// Connects to this OS's keychain. `service` names Kage's entries (`kage`, or `kage-test-<random>` in tests).
    pub fn new(service: &str) -> Result<Self, VaultError> {
        let (store, modifiers) = native::store()?;
        Self::with_store(service, store, modifiers)
    }

    fn with_store(
        service: &str,
        store: Arc<keyring_core::CredentialStore>,
        modifiers: Vec<(&'static str, &'static str)>,
    ) -> Result<Self, VaultError> {
        if service.trim().is_empty() {
            return Err(VaultError::Backend("the keychain service name is empty".into()));
        }
        Ok(Self { service: service.to_owned(), store, modifiers })
    }

    pub fn service(&self) -> &str {
        &self.service
    }

    fn entry(&self, account: &AccountKey) -> Result<keyring_core::Entry, VaultError> {
        let entry = if self.modifiers.is_empty() {
            keyring_core::Entry::new_in_store(&self.store, &self.service, account.id())
        } else {
            let modifiers: HashMap<&str, &str> = self.modifiers.iter().copied().collect();
            keyring_core::Entry::new_in_store_with_modifiers(&self.store, &self.service, account.id(), &modifiers)
        };
        entry.map_err(vault_error)
    }
}

impl fmt::Debug for KeychainStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeychainStore").field("service", &self.service).finish_non_exhaustive()
    }
}

impl CredentialStore for KeychainStore {
    fn read(&self, account: &AccountKey) -> Result<Option<SecretString>, VaultError> {
        match self.entry(account)?.get_password() {
            Ok(password) => Ok(Some(SecretString::from(password))),
            Err(keyring_core::Error::NoEntry) => Ok(None),
            Err(error) => Err(vault_error(error)),
        }
    }

    fn write(&self, account: &AccountKey, refresh_token: &SecretString) -> Result<(), VaultError> {
        self.entry(account)?.set_password(refresh_token.expose_secret()).map_err(vault_error)
    }

    fn delete(&self, account: &AccountKey) -> Result<(), VaultError> {
        match self.entry(account)?.delete_credential() {
            Ok(()) | Err(keyring_core::Error::NoEntry) => Ok(()),
            Err(error) => Err(vault_error(error)),
        }
    }
}

/// Maps keyring errors to ours. The variants that carry the stored bytes are reduced to fixed text (I6); platform
/// errors are classified from the backend's own error type where it can be seen.
fn vault_error(error: keyring_core::Error) -> VaultError {
    use keyring_core::Error as E;
    match error {
        E::NoStorageAccess(platform) => native::classify(platform.as_ref()).unwrap_or(VaultError::Locked),
        E::PlatformFailure(platform) => native::classify(platform.as_ref())
            .unwrap_or_else(|| VaultError::Backend(format!("platform failure: {platform}"))),
        E::NoDefaultStore => VaultError::Unavailable("no credential store is configured".into()),
        E::NoEntry => VaultError::Backend("no matching keychain entry".into()),
        E::BadEncoding(mut bytes) => {
            secrecy::zeroize::Zeroize::zeroize(&mut bytes);
            VaultError::Backend("the stored credential is not valid UTF-8".into())
        }
        E::BadDataFormat(mut bytes, _) => {
            secrecy::zeroize::Zeroize::zeroize(&mut bytes);
            VaultError::Backend("the stored credential is malformed".into())
        }
        E::BadStoreFormat(reason) => VaultError::Backend(format!("the keychain data is malformed: {reason}")),
        E::TooLong(name, limit) => {
            VaultError::Backend(format!("{name} is longer than the keychain's limit of {limit}"))
        }
        E::Invalid(name, reason) => VaultError::Backend(format!("invalid {name}: {reason}")),
        E::Ambiguous(entries) => {
            VaultError::Backend(format!("{} keychain entries match this account; refusing to pick one", entries.len()))
        }
        E::NotSupportedByStore(what) => VaultError::Backend(format!("not supported by the keychain: {what}")),
        _ => VaultError::Backend("unexpected keychain error".into()),
    }
}

#[cfg(all(unix, not(any(target_os = "macos", target_os = "ios", target_os = "android"))))]
mod native {
    //! Secret Service (gnome-keyring, KWallet, KeePassXC...) over the D-Bus session bus.

    use std::sync::Arc;

    use zbus::DBusError;

    use super::VaultError;

    /// The item label shown in keychain UIs: no username, no secret.
    const LABEL: &str = "Kage refresh credential";

    pub(super) type Modifiers = Vec<(&'static str, &'static str)>;

    pub(super) fn store() -> Result<(Arc<keyring_core::CredentialStore>, Modifiers), VaultError> {
        let store = zbus_secret_service_keyring_store::Store::new().map_err(super::vault_error)?;
        Ok((store, vec![("label", LABEL)]))
    }

    pub(super) fn classify(error: &(dyn std::error::Error + Send + Sync + 'static)) -> Option<VaultError> {
        use secret_service::Error as S;
        Some(match error.downcast_ref::<S>()? {
            S::Locked | S::Prompt | S::PromptDisconnected => VaultError::Locked,
            S::Unavailable => VaultError::Unavailable("no Secret Service provider or D-Bus session bus".into()),
            S::NoResult => VaultError::Unavailable("the Secret Service has no default collection".into()),
            S::Zbus(error) => zbus_error(error),
            S::ZbusFdo(zbus::fdo::Error::ZBus(error)) => zbus_error(error),
            S::ZbusFdo(error) => by_name(error.name().as_str(), error),
            other => VaultError::Backend(format!("Secret Service: {other}")),
        })
    }

    fn zbus_error(error: &zbus::Error) -> VaultError {
        use zbus::Error as Z;
        match error {
            Z::Address(_) | Z::Connection(..) | Z::InputOutput(_) | Z::Handshake(_) | Z::InterfaceNotFound => {
                VaultError::Unavailable(format!("cannot reach the D-Bus session bus: {error}"))
            }
            Z::MethodError(name, ..) => by_name(name.as_str(), error),
            Z::FDO(fdo) => match fdo.as_ref() {
                zbus::fdo::Error::ZBus(inner) => zbus_error(inner),
                fdo => by_name(fdo.name().as_str(), fdo),
            },
            other => VaultError::Backend(format!("Secret Service D-Bus error: {other}")),
        }
    }

    fn by_name(name: &str, error: &dyn std::fmt::Display) -> VaultError {
        match name {
            "org.freedesktop.Secret.Error.IsLocked" => VaultError::Locked,
            "org.freedesktop.DBus.Error.ServiceUnknown"
            | "org.freedesktop.DBus.Error.NameHasNoOwner"
            | "org.freedesktop.DBus.Error.NoServer"
            | "org.freedesktop.DBus.Error.Disconnected"
            | "org.freedesktop.DBus.Error.Spawn.ServiceNotFound"
            | "org.freedesktop.DBus.Error.Spawn.ExecFailed"
            | "org.freedesktop.DBus.Error.Spawn.ChildExited" => {
                VaultError::Unavailable(format!("no Secret Service on the session bus: {error}"))
            }
            _ => VaultError::Backend(format!("Secret Service: {error}")),
        }
    }
}

#[cfg(target_os = "macos")]
mod native {
    //! Keychain Services, the user's login keychain.

    use std::sync::Arc;

    use super::VaultError;

    pub(super) type Modifiers = Vec<(&'static str, &'static str)>;

    pub(super) fn store() -> Result<(Arc<keyring_core::CredentialStore>, Modifiers), VaultError> {
        let store = apple_native_keyring_store::keychain::Store::new().map_err(super::vault_error)?;
        Ok((store, Vec::new()))
    }

    pub(super) fn classify(_: &(dyn std::error::Error + Send + Sync + 'static)) -> Option<VaultError> {
        None
    }
}

#[cfg(target_os = "windows")]
mod native {
    //! Credential Manager, generic credentials of the signed-in user.

    use std::sync::Arc;

    use super::VaultError;

    pub(super) type Modifiers = Vec<(&'static str, &'static str)>;

    pub(super) fn store() -> Result<(Arc<keyring_core::CredentialStore>, Modifiers), VaultError> {
        let store = windows_native_keyring_store::Store::new().map_err(super::vault_error)?;
        // Local: this machine only; a refresh credential should not roam with the profile.
        Ok((store, vec![("persistence", "Local")]))
    }

    pub(super) fn classify(_: &(dyn std::error::Error + Send + Sync + 'static)) -> Option<VaultError> {
        None
    }
}

#[cfg(not(any(unix, target_os = "windows")))]
mod native {
    use std::sync::Arc;

    use super::VaultError;

    pub(super) type Modifiers = Vec<(&'static str, &'static str)>;

    pub(super) fn store() -> Result<(Arc<keyring_core::CredentialStore>, Modifiers), VaultError> {
        Err(VaultError::Unavailable("Kage has no keychain backend for this operating system".into()))
    }

    pub(super) fn classify(_: &(dyn std::error::Error + Send + Sync + 'static)) -> Option<VaultError> {
        None
    }
}

#[cfg(all(unix, any(target_os = "ios", target_os = "android")))]
compile_error!("kage-core has no keychain backend for iOS or Android");

/// Credentials in memory: for tests, and for "no keychain: keep the session for this run only". Can simulate a
/// failing keychain ([`MemoryStore::failing`], [`MemoryStore::set_failure`], [`MemoryStore::set_write_failure`]).
#[derive(Default)]
pub struct MemoryStore {
    state: Mutex<MemoryState>,
}

#[derive(Default)]
struct MemoryState {
    entries: HashMap<String, SecretString>,
    failure: Option<VaultError>,
    write_failure: Option<VaultError>,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    /// A store whose every operation fails with `error` until [`MemoryStore::set_failure`]`(None)`.
    pub fn failing(error: VaultError) -> Self {
        let store = Self::new();
        store.set_failure(Some(error));
        store
    }

    /// Every operation fails with `error` (for example [`VaultError::Locked`]); `None` heals the store. Entries
    /// are kept while it fails.
    pub fn set_failure(&self, error: Option<VaultError>) {
        self.lock().failure = error;
    }

    /// Only writes fail with `error` (a rotated credential that cannot be saved); `None` heals writes.
    pub fn set_write_failure(&self, error: Option<VaultError>) {
        self.lock().write_failure = error;
    }

    /// How many accounts have a credential here.
    pub fn len(&self) -> usize {
        self.lock().entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> MutexGuard<'_, MemoryState> {
        // A panic while holding the lock cannot leave the map half-written, so a poisoned lock is still usable.
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.lock();
        f.debug_struct("MemoryStore")
            .field("entries", &state.entries.len())
            .field("failure", &state.failure)
            .field("write_failure", &state.write_failure)
            .finish()
    }
}

impl CredentialStore for MemoryStore {
    fn read(&self, account: &AccountKey) -> Result<Option<SecretString>, VaultError> {
        let state = self.lock();
        if let Some(error) = &state.failure {
            return Err(error.clone());
        }
        Ok(state.entries.get(account.id()).map(|token| SecretString::from(token.expose_secret().to_owned())))
    }

    fn write(&self, account: &AccountKey, refresh_token: &SecretString) -> Result<(), VaultError> {
        let mut state = self.lock();
        if let Some(error) = state.failure.as_ref().or(state.write_failure.as_ref()) {
            return Err(error.clone());
        }
        state.entries.insert(account.id().to_owned(), SecretString::from(refresh_token.expose_secret().to_owned()));
        Ok(())
    }

    fn delete(&self, account: &AccountKey) -> Result<(), VaultError> {
        let mut state = self.lock();
        if let Some(error) = &state.failure {
            return Err(error.clone());
        }
        state.entries.remove(account.id());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::account::ServerOrigin;

    fn account(user_id: &str) -> AccountKey {
        AccountKey::new(ServerOrigin::parse("https://game.example").unwrap(), user_id)
    }

    fn secret(value: &str) -> SecretString {
        SecretString::from(value.to_owned())
    }

    fn read(store: &dyn CredentialStore, account: &AccountKey) -> Option<String> {
        store.read(account).unwrap().map(|token| token.expose_secret().to_owned())
    }

    /// The same promises, checked on every store we can run without a desktop session.
    fn check_isolation(store: &dyn CredentialStore) {
        let (main, alt, never_written) = (account("main"), account("alt"), account("someone-else"));
        store.write(&main, &secret("main-refresh-1")).unwrap();
        store.write(&alt, &secret("alt-refresh-1")).unwrap();
        assert_eq!(read(store, &main).as_deref(), Some("main-refresh-1"));
        assert_eq!(read(store, &alt).as_deref(), Some("alt-refresh-1"));
        assert_eq!(read(store, &never_written), None);

        store.write(&main, &secret("main-refresh-2")).unwrap();
        assert_eq!(read(store, &main).as_deref(), Some("main-refresh-2"));
        assert_eq!(read(store, &alt).as_deref(), Some("alt-refresh-1"));

        store.delete(&main).unwrap();
        assert_eq!(read(store, &main), None);
        assert_eq!(read(store, &alt).as_deref(), Some("alt-refresh-1"));
        store.delete(&main).unwrap();
        store.delete(&never_written).unwrap();
        store.delete(&alt).unwrap();
        assert_eq!(read(store, &alt), None);
    }

    #[test]
    fn read_returns_what_was_written_for_that_account() {
        let store = MemoryStore::new();
        let main = account("main");
        store.write(&main, &secret("main-refresh")).unwrap();
        assert_eq!(read(&store, &main).as_deref(), Some("main-refresh"));
        assert_eq!(store.len(), 1);
    }

    #[test]
    fn not_found_means_signed_out_never_another_accounts_entry() {
        let store = MemoryStore::new();
        store.write(&account("main"), &secret("main-refresh")).unwrap();
        assert_eq!(store.read(&account("alt")).unwrap().map(|t| t.expose_secret().to_owned()), None);
        // Same user id on another server is another account.
        let elsewhere = AccountKey::new(ServerOrigin::parse("https://other.example").unwrap(), "main");
        assert!(store.read(&elsewhere).unwrap().is_none());
    }

    #[test]
    fn two_accounts_never_see_each_others_entries() {
        check_isolation(&MemoryStore::new());
    }

    #[test]
    fn deleting_a_missing_entry_is_ok() {
        let store = MemoryStore::new();
        store.delete(&account("never-signed-in")).unwrap();
        assert!(store.is_empty());
    }

    #[test]
    fn a_locked_store_fails_every_operation_and_keeps_what_it_holds() {
        let store = MemoryStore::new();
        let (main, alt) = (account("main"), account("alt"));
        store.write(&main, &secret("main-refresh")).unwrap();
        store.set_failure(Some(VaultError::Locked));
        assert_eq!(store.read(&main).unwrap_err(), VaultError::Locked);
        assert_eq!(store.write(&alt, &secret("alt-refresh")).unwrap_err(), VaultError::Locked);
        assert_eq!(store.delete(&main).unwrap_err(), VaultError::Locked);
        store.set_failure(None);
        assert_eq!(read(&store, &main).as_deref(), Some("main-refresh"));
        assert_eq!(read(&store, &alt), None, "a failed write stores nothing");

        let unavailable = MemoryStore::failing(VaultError::Unavailable("test".into()));
        assert!(matches!(unavailable.read(&main), Err(VaultError::Unavailable(_))));
    }

    #[test]
    fn a_write_failure_leaves_the_previous_credential_readable() {
        let store = MemoryStore::new();
        let main = account("main");
        store.write(&main, &secret("main-refresh-1")).unwrap();
        store.set_write_failure(Some(VaultError::Backend("disk full".into())));
        assert!(matches!(store.write(&main, &secret("main-refresh-2")), Err(VaultError::Backend(_))));
        assert_eq!(read(&store, &main).as_deref(), Some("main-refresh-1"));
        store.delete(&main).unwrap();
        store.set_write_failure(None);
        store.write(&main, &secret("main-refresh-3")).unwrap();
        assert_eq!(read(&store, &main).as_deref(), Some("main-refresh-3"));
    }

    #[test]
    fn stores_and_errors_never_print_a_credential() {
        let store = MemoryStore::new();
        store.write(&account("main"), &secret("hunter2-refresh")).unwrap();
        assert!(!format!("{store:?}").contains("hunter2"));
        let error = vault_error(keyring_core::Error::BadEncoding(b"hunter2-refresh\xff".to_vec()));
        assert!(!format!("{error} {error:?}").contains("hunter2"));
        let error = vault_error(keyring_core::Error::BadDataFormat(b"hunter2".to_vec(), "bad".into()));
        assert!(!format!("{error} {error:?}").contains("hunter2"));
    }

    #[test]
    fn every_error_has_a_sentence_for_the_player() {
        for error in [VaultError::Unavailable("x".into()), VaultError::Locked, VaultError::Backend("x".into())] {
            assert!(error.user_message().ends_with('.'));
        }
        assert!(VaultError::Locked.user_message().contains("locked"));
    }

    /// The keychain adapter on keyring-core's in-memory mock: its "not found" and "delete missing" mapping.
    fn keychain_on_mock(service: &str) -> KeychainStore {
        KeychainStore::with_store(service, keyring_core::mock::Store::new().unwrap(), Vec::new()).unwrap()
    }

    #[test]
    fn keychain_adapter_maps_not_found_to_signed_out_and_keeps_accounts_apart() {
        check_isolation(&keychain_on_mock("kage-test"));
    }

    #[test]
    fn keychain_entries_are_named_by_service_and_opaque_account_id() {
        let keychain = keychain_on_mock("kage-test");
        let main = account("main");
        let entry = keychain.entry(&main).unwrap();
        assert_eq!(entry.get_specifiers(), Some(("kage-test".to_owned(), main.id().to_owned())));
        assert!(KeychainStore::with_store(" ", keyring_core::mock::Store::new().unwrap(), Vec::new()).is_err());
    }

    #[test]
    fn ambiguous_keychain_entries_are_an_error_not_a_guess() {
        let error = vault_error(keyring_core::Error::Ambiguous(Vec::new()));
        assert!(matches!(error, VaultError::Backend(_)), "{error:?}");
    }

    #[cfg(all(unix, not(any(target_os = "macos", target_os = "ios", target_os = "android"))))]
    #[test]
    fn secret_service_locked_or_dismissed_prompt_maps_to_locked() {
        use keyring_core::Error as E;
        use secret_service::Error as S;
        for error in [S::Locked, S::Prompt, S::PromptDisconnected] {
            assert_eq!(vault_error(E::NoStorageAccess(Box::new(error))), VaultError::Locked);
        }
        // The zbus store reports a locked collection on create as a platform failure: still Locked.
        assert_eq!(vault_error(E::PlatformFailure(Box::new(S::Locked))), VaultError::Locked);
    }

    #[cfg(all(unix, not(any(target_os = "macos", target_os = "ios", target_os = "android"))))]
    #[test]
    fn no_secret_service_or_no_dbus_maps_to_unavailable() {
        use keyring_core::Error as E;
        use secret_service::Error as S;
        let no_bus = S::Zbus(zbus::Error::Address("no session bus".into()));
        let io = S::Zbus(zbus::Error::InputOutput(Arc::new(std::io::Error::from(std::io::ErrorKind::NotFound))));
        let no_service = S::ZbusFdo(zbus::fdo::Error::ServiceUnknown("org.freedesktop.secrets".into()));
        for error in [S::Unavailable, no_bus, io, no_service] {
            let mapped = vault_error(E::PlatformFailure(Box::new(error)));
            assert!(matches!(mapped, VaultError::Unavailable(_)), "{mapped:?}");
        }
        let other = vault_error(E::PlatformFailure(Box::new(S::Crypto("bad padding"))));
        assert!(matches!(other, VaultError::Backend(_)), "{other:?}");
    }

    /// A session bus that cannot be reached: the keychain says it is unavailable instead of falling back to memory.
    #[cfg(all(unix, not(any(target_os = "macos", target_os = "ios", target_os = "android"))))]
    #[test]
    fn unreachable_session_bus_is_unavailable_not_a_silent_mock() {
        let error = zbus::blocking::connection::Builder::address("unix:path=/nonexistent/kage-test-bus")
            .and_then(|builder| builder.build())
            .expect_err("there is no bus at that path");
        let mapped = vault_error(keyring_core::Error::PlatformFailure(Box::new(secret_service::Error::Zbus(error))));
        assert!(matches!(mapped, VaultError::Unavailable(_)), "{mapped:?}");
    }
}
