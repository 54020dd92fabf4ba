//! Credentials in memory, with switches that make it behave like a keychain in trouble: every call failing
//! (locked, unavailable), only writes failing (a rotated credential that cannot be saved), or every call slow
//! (an unlock prompt nobody answers). Entries are kept as the same records the OS keychain holds.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};

use super::site::{self, SiteSignIn, SiteSignInStore};
use super::{CredentialStore, SavedAccount, SavedCredential, VaultError, record};
use crate::account::AccountKey;

#[derive(Default)]
pub struct MemoryStore {
    state: Mutex<MemoryState>,
}

#[derive(Default)]
struct MemoryState {
    entries: HashMap<String, SecretString>,
    /// Web games' sign-ins, by web account id (the keychain files them under a service of their own).
    sites: HashMap<String, SecretString>,
    failure: Option<VaultError>,
    write_failure: Option<VaultError>,
    delay: Option<Duration>,
    writes: u64,
    /// Bumped by [`MemoryStore::crash`]: a call that was under way in the crashed process does nothing.
    epoch: u64,
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

    /// Every operation first sleeps this long on the calling (blocking) thread; `None` makes it quick again.
    pub fn set_delay(&self, delay: Option<Duration>) {
        self.lock().delay = delay;
    }

    /// How many accounts have a credential here.
    pub fn len(&self) -> usize {
        self.lock().entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The process using this store was killed: calls still under way (sleeping in a slow keychain) end
    /// without effect, as a killed process's would. Entries stay, as a keychain's do.
    pub fn crash(&self) {
        self.lock().epoch += 1;
    }

    /// Successful writes so far.
    pub fn writes(&self) -> u64 {
        self.lock().writes
    }

    /// The refresh token held for `account`, bypassing the failure switches (for tests' checks).
    pub fn peek(&self, account: &AccountKey) -> Option<String> {
        let text = self.lock().entries.get(account.id()).map(|t| t.expose_secret().to_owned())?;
        record::decode(&text).ok().map(|d| d.credential.refresh_token.expose_secret().to_owned())
    }

    fn lock(&self) -> MutexGuard<'_, MemoryState> {
        // A panic while holding the lock cannot leave the map half-written, so a poisoned lock is still usable.
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Sleeps as configured (outside the lock, so a slow call does not hold up the switches), then checks them.
    fn enter(&self, writing: bool) -> Result<MutexGuard<'_, MemoryState>, VaultError> {
        let (delay, epoch) = {
            let state = self.lock();
            (state.delay, state.epoch)
        };
        if let Some(delay) = delay {
            std::thread::sleep(delay);
        }
        let state = self.lock();
        if state.epoch != epoch {
            return Err(VaultError::Backend("the process that made this call was killed".into()));
        }
        let failure = state.failure.as_ref().or(state.write_failure.as_ref().filter(|_| writing));
        match failure {
            Some(error) => Err(error.clone()),
            None => Ok(state),
        }
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
    fn read(&self, account: &AccountKey) -> Result<Option<SavedCredential>, VaultError> {
        let state = self.enter(false)?;
        state.entries.get(account.id()).map(|text| record::decode_for(account, text.expose_secret())).transpose()
    }

    fn write(&self, account: &AccountKey, credential: &SavedCredential) -> Result<(), VaultError> {
        let mut state = self.enter(true)?;
        state.entries.insert(account.id().to_owned(), record::encode(account, credential));
        state.writes += 1;
        Ok(())
    }

    fn delete(&self, account: &AccountKey) -> Result<(), VaultError> {
        self.enter(false)?.entries.remove(account.id());
        Ok(())
    }

    fn list(&self) -> Result<Vec<SavedAccount>, VaultError> {
        let state = self.enter(false)?;
        let mut accounts: Vec<SavedAccount> = state
            .entries
            .iter()
            .filter_map(|(id, text)| {
                let decoded = record::decode(text.expose_secret()).ok()?;
                let account = decoded.account.filter(|account| account.id() == id)?;
                Some(SavedAccount { account, username: decoded.credential.username })
            })
            .collect();
        accounts.sort_by(|a, b| a.account.cmp(&b.account));
        Ok(accounts)
    }
}

impl SiteSignInStore for MemoryStore {
    fn read_site(&self, owner: &str) -> Result<Option<SiteSignIn>, VaultError> {
        let state = self.enter(false)?;
        state.sites.get(owner).map(|text| site::decode(text.expose_secret())).transpose()
    }

    fn write_site(&self, owner: &str, sign_in: &SiteSignIn) -> Result<(), VaultError> {
        self.enter(true)?.sites.insert(owner.to_owned(), site::encode(sign_in));
        Ok(())
    }

    fn delete_site(&self, owner: &str) -> Result<(), VaultError> {
        self.enter(false)?.sites.remove(owner);
        Ok(())
    }
}
