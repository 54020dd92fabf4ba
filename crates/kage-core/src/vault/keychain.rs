//! The OS keychain through `keyring-core`, one native store per OS.
//!
//! Each OS store is a target-specific dependency, so every OS compiles exactly its own keychain: Secret Service
//! over D-Bus on Linux and the BSDs (`zbus-secret-service-keyring-store`, pure Rust: zbus and RustCrypto, no
//! libdbus or libsecret -dev package), Keychain Services on macOS (`apple-native-keyring-store`), Credential
//! Manager on Windows (`windows-native-keyring-store`). We link the stores ourselves instead of the `keyring`
//! crate: 3.x quietly uses a mock that forgets everything when no backend feature is on, and 4.x installs a
//! process-wide default store; a [`KeychainStore`] owns its connection.
//!
//! **Connected lazily, reconnected after an outage.** At login the Secret Service may not be up yet, and a
//! daemon can crash and come back. So [`KeychainStore::new`] does not connect: every call connects if it has
//! no connection, and a call that finds the keychain unreachable drops the connection so the next one tries
//! again. Until then every call fails with [`VaultError::Unavailable`], which the sessions show as a keychain
//! state and retry; it is never read as "no credential" (I9, I11).

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};

use secrecy::{ExposeSecret, SecretString};

use super::site::{self, SITE_SERVICE_SUFFIX, SiteSignIn, SiteSignInStore};
use super::{CredentialStore, SavedAccount, SavedCredential, VaultError, record};
use crate::account::AccountKey;

/// Store-specific options for every entry (the Secret Service label, the Windows persistence).
type Modifiers = Vec<(&'static str, &'static str)>;

#[derive(Clone)]
struct Connection {
    store: Arc<keyring_core::CredentialStore>,
    modifiers: Modifiers,
}

type Connect = Box<dyn Fn() -> Result<Connection, VaultError> + Send + Sync>;

/// The OS keychain. One entry per account: service = the configured service name, account = [`AccountKey::id`].
pub struct KeychainStore {
    service: String,
    connect: Connect,
    connection: Mutex<Option<Connection>>,
}

impl KeychainStore {
    /// Kage's entries in this OS's keychain, under `service` (`kage`, or `kage-test-<random>` in tests). Does
    /// not connect yet: see the module doc. Fails only for an empty service name.
    pub fn new(service: &str) -> Result<Self, VaultError> {
        Self::with_connector(
            service,
            Box::new(|| native::store().map(|(store, modifiers)| Connection { store, modifiers })),
        )
    }

    fn with_connector(service: &str, connect: Connect) -> Result<Self, VaultError> {
        if service.trim().is_empty() {
            return Err(VaultError::Backend("the keychain service name is empty".into()));
        }
        Ok(Self { service: service.to_owned(), connect, connection: Mutex::new(None) })
    }

    #[cfg(test)]
    pub(crate) fn for_tests(service: &str, store: Arc<keyring_core::CredentialStore>) -> Self {
        Self::with_store(service, store).expect("a service name")
    }

    #[cfg(test)]
    fn with_store(service: &str, store: Arc<keyring_core::CredentialStore>) -> Result<Self, VaultError> {
        Self::with_connector(service, Box::new(move || Ok(Connection { store: store.clone(), modifiers: Vec::new() })))
    }

    pub fn service(&self) -> &str {
        &self.service
    }

    /// Connects now if not connected: tells the player at start whether the keychain is there. A failure here
    /// changes nothing; later calls try again.
    pub fn probe(&self) -> Result<(), VaultError> {
        self.connection().map(|_| ())
    }

    fn connection(&self) -> Result<Connection, VaultError> {
        let mut connection = self.connection.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(connection) = connection.as_ref() {
            return Ok(connection.clone());
        }
        let connected = (self.connect)()?;
        *connection = Some(connected.clone());
        Ok(connected)
    }

    /// Runs `call` on this account's entry; an unreachable keychain drops the connection for the next call.
    fn with_entry<T>(
        &self,
        account: &AccountKey,
        call: impl FnOnce(&keyring_core::Entry) -> Result<T, VaultError>,
    ) -> Result<T, VaultError> {
        self.with_named_entry(&self.service, account.id(), None, call)
    }

    /// Runs `call` on the entry `service`/`id`; `label`: the keychain UI's name for it instead of the store's.
    fn with_named_entry<T>(
        &self,
        service: &str,
        id: &str,
        label: Option<&'static str>,
        call: impl FnOnce(&keyring_core::Entry) -> Result<T, VaultError>,
    ) -> Result<T, VaultError> {
        let connection = self.connection()?;
        let entry = if connection.modifiers.is_empty() {
            keyring_core::Entry::new_in_store(&connection.store, service, id)
        } else {
            let mut modifiers: HashMap<&str, &str> = connection.modifiers.iter().copied().collect();
            if let (Some(label), Some(value)) = (label, modifiers.get_mut("label")) {
                *value = label;
            }
            keyring_core::Entry::new_in_store_with_modifiers(&connection.store, service, id, &modifiers)
        };
        let result = entry.map_err(vault_error).and_then(|entry| call(&entry));
        self.forget_connection_if_unreachable(&result);
        result
    }

    fn forget_connection_if_unreachable<T>(&self, result: &Result<T, VaultError>) {
        if matches!(result, Err(VaultError::Unavailable(_))) {
            *self.connection.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = None;
        }
    }
}

impl fmt::Debug for KeychainStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeychainStore").field("service", &self.service).finish_non_exhaustive()
    }
}

impl CredentialStore for KeychainStore {
    fn read(&self, account: &AccountKey) -> Result<Option<SavedCredential>, VaultError> {
        self.with_entry(account, |entry| match entry.get_password() {
            Ok(text) => record::decode_for(account, &text).map(Some),
            Err(keyring_core::Error::NoEntry) => Ok(None),
            Err(error) => Err(vault_error(error)),
        })
    }

    fn write(&self, account: &AccountKey, credential: &SavedCredential) -> Result<(), VaultError> {
        let text = record::encode(account, credential);
        self.with_entry(account, |entry| entry.set_password(text.expose_secret()).map_err(vault_error))
    }

    fn delete(&self, account: &AccountKey) -> Result<(), VaultError> {
        self.with_entry(account, |entry| match entry.delete_credential() {
            Ok(()) | Err(keyring_core::Error::NoEntry) => Ok(()),
            Err(error) => Err(vault_error(error)),
        })
    }

    fn list(&self) -> Result<Vec<SavedAccount>, VaultError> {
        let connection = self.connection()?;
        let spec = HashMap::from([("service", self.service.as_str())]);
        let found = connection.store.search(&spec).map_err(vault_error);
        self.forget_connection_if_unreachable(&found);
        let mut accounts = Vec::new();
        for entry in found? {
            // Only entries of exactly this service whose record names the account it is filed under.
            let filed_as = entry.get_specifiers();
            if filed_as.as_ref().is_some_and(|(service, _)| service != &self.service) {
                continue;
            }
            let Ok(text) = entry.get_password() else { continue };
            let Ok(decoded) = record::decode(&text) else { continue };
            let Some(account) = decoded.account else { continue };
            if filed_as.is_some_and(|(_, id)| id != account.id()) {
                continue;
            }
            accounts.push(SavedAccount { account, username: decoded.credential.username });
        }
        accounts.sort_by(|a, b| a.account.cmp(&b.account));
        accounts.dedup_by(|a, b| a.account == b.account);
        Ok(accounts)
    }
}

/// Web games' sign-ins, filed under their own service so that [`CredentialStore::list`] never sees them.
impl SiteSignInStore for KeychainStore {
    fn read_site(&self, owner: &str) -> Result<Option<SiteSignIn>, VaultError> {
        let service = format!("{}{SITE_SERVICE_SUFFIX}", self.service);
        self.with_named_entry(&service, owner, Some(SITE_LABEL), |entry| match entry.get_password() {
            Ok(text) => {
                let text = SecretString::from(text);
                site::decode(text.expose_secret()).map(Some)
            }
            Err(keyring_core::Error::NoEntry) => Ok(None),
            Err(error) => Err(vault_error(error)),
        })
    }

    fn write_site(&self, owner: &str, sign_in: &SiteSignIn) -> Result<(), VaultError> {
        let service = format!("{}{SITE_SERVICE_SUFFIX}", self.service);
        let text = site::encode(sign_in);
        self.with_named_entry(&service, owner, Some(SITE_LABEL), |entry| {
            entry.set_password(text.expose_secret()).map_err(vault_error)
        })
    }

    fn delete_site(&self, owner: &str) -> Result<(), VaultError> {
        let service = format!("{}{SITE_SERVICE_SUFFIX}", self.service);
        self.with_named_entry(&service, owner, Some(SITE_LABEL), |entry| match entry.delete_credential() {
            Ok(()) | Err(keyring_core::Error::NoEntry) => Ok(()),
            Err(error) => Err(vault_error(error)),
        })
    }
}

/// The item label of a web sign-in in keychain UIs: no site, no username.
const SITE_LABEL: &str = "Kage web game sign-in";

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::account::ServerOrigin;
    use crate::vault::MemoryStore;
    use secrecy::SecretString;

    fn account(user_id: &str) -> AccountKey {
        AccountKey::new(ServerOrigin::parse("https://game.example").unwrap(), user_id)
    }

    fn secret(value: &str) -> SavedCredential {
        SavedCredential::new(SecretString::from(value.to_owned()), Some(format!("name-of-{value}")))
    }

    fn read(store: &dyn CredentialStore, account: &AccountKey) -> Option<String> {
        store.read(account).unwrap().map(|c| c.refresh_token.expose_secret().to_owned())
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
        assert!(store.read(&account("alt")).unwrap().is_none());
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
        KeychainStore::with_store(service, keyring_core::mock::Store::new().unwrap()).unwrap()
    }

    #[test]
    fn keychain_adapter_maps_not_found_to_signed_out_and_keeps_accounts_apart() {
        check_isolation(&keychain_on_mock("kage-test"));
    }

    #[test]
    fn keychain_entries_are_named_by_service_and_opaque_account_id() {
        let store: Arc<keyring_core::CredentialStore> = keyring_core::mock::Store::new().unwrap();
        let keychain = KeychainStore::with_store("kage-test", store.clone()).unwrap();
        let main = account("main");
        keychain.write(&main, &secret("main-refresh")).unwrap();
        let entry = keyring_core::Entry::new_in_store(&store, "kage-test", main.id()).unwrap();
        assert_eq!(entry.get_specifiers(), Some(("kage-test".to_owned(), main.id().to_owned())));
        let text = entry.get_password().unwrap();
        assert!(text.contains(main.user_id()) && text.contains("name-of-main-refresh"), "the record names its account");
        assert!(KeychainStore::with_store(" ", keyring_core::mock::Store::new().unwrap()).is_err());
    }

    #[test]
    fn i9_a_keychain_that_was_not_up_at_start_is_unavailable_then_found_never_empty() {
        let store: Arc<keyring_core::CredentialStore> = keyring_core::mock::Store::new().unwrap();
        let up = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (connect_store, connect_up) = (store.clone(), up.clone());
        let connector: Connect = Box::new(move || {
            if connect_up.load(std::sync::atomic::Ordering::SeqCst) {
                Ok(Connection { store: connect_store.clone(), modifiers: Vec::new() })
            } else {
                Err(VaultError::Unavailable("no Secret Service yet".into()))
            }
        });
        let keychain = KeychainStore::with_connector("kage-test", connector).unwrap();
        let main = account("main");
        // An entry saved by an earlier run is there; the keychain is just not up yet.
        KeychainStore::with_store("kage-test", store).unwrap().write(&main, &secret("main-refresh")).unwrap();
        assert!(matches!(keychain.read(&main), Err(VaultError::Unavailable(_))), "never Ok(None) while unreachable");
        assert!(matches!(keychain.list(), Err(VaultError::Unavailable(_))));
        assert!(keychain.probe().is_err());
        up.store(true, std::sync::atomic::Ordering::SeqCst);
        assert_eq!(read(&keychain, &main).as_deref(), Some("main-refresh"), "found once the keychain comes up");
    }

    #[test]
    fn i10_saved_accounts_can_be_rebuilt_from_the_keychain_alone() {
        for store in [Box::new(keychain_on_mock("kage-test")) as Box<dyn CredentialStore>, Box::new(MemoryStore::new())]
        {
            let (main, alt) = (account("main"), account("alt"));
            store.write(&main, &secret("main-refresh")).unwrap();
            store.write(&alt, &secret("alt-refresh")).unwrap();
            store.write(&main, &secret("main-refresh-2")).unwrap();
            let listed = store.list().unwrap();
            let mut expected = vec![
                SavedAccount { account: main.clone(), username: Some("name-of-main-refresh-2".into()) },
                SavedAccount { account: alt.clone(), username: Some("name-of-alt-refresh".into()) },
            ];
            expected.sort_by(|a, b| a.account.cmp(&b.account));
            assert_eq!(listed, expected);
            store.delete(&alt).unwrap();
            assert_eq!(store.list().unwrap().len(), 1);
        }
    }

    #[test]
    fn another_services_entries_are_not_listed() {
        let store: Arc<keyring_core::CredentialStore> = keyring_core::mock::Store::new().unwrap();
        let ours = KeychainStore::with_store("kage-test", store.clone()).unwrap();
        let other = KeychainStore::with_store("kage-test-other", store).unwrap();
        other.write(&account("main"), &secret("other-refresh")).unwrap();
        ours.write(&account("alt"), &secret("alt-refresh")).unwrap();
        let listed = ours.list().unwrap();
        assert_eq!(listed.iter().map(|s| s.account.clone()).collect::<Vec<_>>(), vec![account("alt")]);
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
