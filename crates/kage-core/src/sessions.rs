//! Each account's session: its access token, its refresh credential, and its state as a window shows it.
//!
//! - **Single flight (I5).** Refreshing is serialised per account, and callers that queued behind a refresh
//!   take its result instead of starting another: the server rotates refresh tokens and treats a reused one as
//!   theft, so two concurrent refreshes would sign the player out.
//! - **Keychain first (I5, I9).** A rotated refresh token is written to the vault before the new access token
//!   is handed to anyone, so a crash right after never leaves the keychain holding a spent token.
//! - **Generations.** Sign-in and sign-out bump the account's generation; a refresh that finishes under an older
//!   generation is discarded, so it can neither resurrect a signed-out account nor overwrite a newer sign-in.
//! - **No false sign-out (I11).** Only the server's explicit rejection of the refresh credential, or the player,
//!   signs an account out. A network error, timeout or 5xx makes it `Offline`; a locked keychain makes it
//!   `KeychainLocked`; neither deletes anything or touches another account.
//! - Several windows of one account share its one session here; windows are not known to this module.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use tokio::sync::broadcast;

use crate::account::{AccountKey, ServerOrigin};
use crate::authority::{AccessToken, AuthError, Authority};
use crate::vault::{CredentialStore, VaultError};

/// An account's state as its windows show it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AccountStatus {
    /// A token is being obtained (start-up, restore from the keychain, first refresh). Show loading.
    Loading,
    SignedIn,
    /// The server could not be reached; show the cached profile and say it is offline.
    Offline,
    /// The keychain is locked or missing, so the saved credential cannot be read yet.
    KeychainLocked,
    /// The server rejected the refresh credential, or the player signed out.
    SignedOut,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("this account is signed out")]
    SignedOut,
    #[error("the server cannot be reached: {0}")]
    Offline(String),
    #[error("{0}")]
    Keychain(String),
    #[error("the server issued a token that does not belong to this account")]
    WrongSubject,
    #[error("the account was signed out or signed in again meanwhile")]
    Superseded,
}

#[derive(Debug, thiserror::Error)]
pub enum SignInError {
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error("that sign-in was for another account than the one being signed in again")]
    OtherAccount,
}

/// A successful sign-in. `remembered` says whether the keychain took the credential; if not, the session
/// lives for this run only and the shell should say why.
pub struct SignedIn {
    pub account: AccountKey,
    pub remembered: Result<bool, VaultError>,
}

struct SlotState {
    generation: u64,
    status: AccountStatus,
    access: Option<AccessToken>,
    /// `None` with `status` not signed out: not read from the vault yet.
    refresh: Option<SecretString>,
    remember: bool,
    /// Refresh attempts finished, and how the last one ended: lets queued callers share its result.
    attempts: u64,
    last_failure: Option<TokenError>,
}

impl SlotState {
    fn usable_access(&self) -> Option<AccessToken> {
        self.access.as_ref().filter(|a| a.refresh_after > Instant::now()).cloned()
    }
}

struct Slot {
    state: Mutex<SlotState>,
    /// Held for the whole of a refresh: the single flight.
    refreshing: tokio::sync::Mutex<()>,
    /// Held around vault writes and deletes, so a refresh's write and a sign-out's delete cannot interleave.
    vault: tokio::sync::Mutex<()>,
}

pub struct Sessions {
    authority: Authority,
    vault: Arc<dyn CredentialStore>,
    slots: Mutex<HashMap<AccountKey, Arc<Slot>>>,
    changes: broadcast::Sender<(AccountKey, AccountStatus)>,
}

impl Sessions {
    pub fn new(http: reqwest::Client, vault: Arc<dyn CredentialStore>) -> Self {
        let (changes, _) = broadcast::channel(256);
        Self { authority: Authority::new(http), vault, slots: Mutex::new(HashMap::new()), changes }
    }

    /// Status changes of every account, for the shell to pass on to each account's windows.
    pub fn status_changes(&self) -> broadcast::Receiver<(AccountKey, AccountStatus)> {
        self.changes.subscribe()
    }

    pub fn status(&self, account: &AccountKey) -> AccountStatus {
        match self.slot(account) {
            Some(slot) => slot.state.lock().expect("session lock").status,
            None => AccountStatus::SignedOut,
        }
    }

    /// Signs in with a password. With `expected`, the sign-in must be for that account (signing a known
    /// account in again); a different account is refused and its new session ended.
    pub async fn sign_in(
        &self,
        origin: &ServerOrigin,
        username: &str,
        password: &SecretString,
        remember: bool,
        expected: Option<&AccountKey>,
    ) -> Result<SignedIn, SignInError> {
        let (user_id, grant) = self.authority.sign_in(origin, username, password).await?;
        let account = AccountKey::new(origin.clone(), user_id);
        if expected.is_some_and(|expected| expected != &account) {
            let _ = self.authority.sign_out(origin, &grant.access).await;
            return Err(SignInError::OtherAccount);
        }
        let slot = self.slot_or_new(&account);
        let generation = {
            let mut state = slot.state.lock().expect("session lock");
            state.generation += 1;
            state.access = Some(grant.access);
            state.refresh = Some(grant.refresh_token.clone());
            state.remember = remember;
            state.last_failure = None;
            state.generation
        };
        let remembered = if remember {
            match self.store_credential(&account, &slot, generation, grant.refresh_token).await {
                Ok(()) => Ok(true),
                Err(error) => {
                    slot.state.lock().expect("session lock").remember = false;
                    Err(error)
                }
            }
        } else {
            // Not remembered on this computer: any older saved credential of this account must go too.
            let _guard = slot.vault.lock().await;
            self.vault_call(&account, |vault, account| vault.delete(account)).await.map(|()| false)
        };
        self.set_status(&account, &slot, AccountStatus::SignedIn);
        Ok(SignedIn { account, remembered })
    }

    /// Registers a saved account at start-up. No network and no keychain access yet: the first
    /// [`Sessions::token_for`] reads the keychain and refreshes. Until then the account is `Loading`, never
    /// signed out (I11).
    pub fn restore(&self, account: &AccountKey) {
        let slot = self.slot_or_new(account);
        let mut state = slot.state.lock().expect("session lock");
        if state.status == AccountStatus::SignedOut && state.refresh.is_none() {
            state.status = AccountStatus::Loading;
            state.remember = true;
        }
    }

    /// A usable access token for `account`, refreshing it if needed (single flight).
    pub async fn token_for(&self, account: &AccountKey) -> Result<AccessToken, TokenError> {
        let slot = self.slot(account).ok_or(TokenError::SignedOut)?;
        let attempts_before = {
            let state = slot.state.lock().expect("session lock");
            if let Some(access) = state.usable_access() {
                return Ok(access);
            }
            if state.status == AccountStatus::SignedOut {
                return Err(TokenError::SignedOut);
            }
            state.attempts
        };
        let _flight = slot.refreshing.lock().await;
        {
            let state = slot.state.lock().expect("session lock");
            if let Some(access) = state.usable_access() {
                return Ok(access);
            }
            if state.status == AccountStatus::SignedOut {
                return Err(TokenError::SignedOut);
            }
            // A refresh finished while this caller queued: its failure is this caller's answer too.
            if state.attempts != attempts_before
                && let Some(failure) = &state.last_failure
            {
                return Err(failure.clone());
            }
        }
        self.refresh(account, &slot).await
    }

    /// Marks `failed` as no longer accepted (the server said `invalid_token`), so the next call refreshes.
    pub fn invalidate(&self, account: &AccountKey, failed: &AccessToken) {
        if let Some(slot) = self.slot(account) {
            let mut state = slot.state.lock().expect("session lock");
            if state.access.as_ref().is_some_and(|a| a.secret.expose_secret() == failed.secret.expose_secret()) {
                state.access = None;
            }
        }
    }

    /// Forgets an account's access token, so its next call refreshes (as after the computer slept: the
    /// monotonic clock that times tokens may not have counted the time asleep).
    pub fn expire_access_token(&self, account: &AccountKey) {
        if let Some(slot) = self.slot(account) {
            slot.state.lock().expect("session lock").access = None;
        }
    }

    /// Signs the account out: locally at once (also offline), then on the server, best effort.
    pub async fn sign_out(&self, account: &AccountKey) -> Result<(), VaultError> {
        let Some(slot) = self.slot(account) else {
            let _ = self.vault_call(account, |vault, account| vault.delete(account)).await;
            return Ok(());
        };
        let access = {
            let mut state = slot.state.lock().expect("session lock");
            state.generation += 1;
            state.refresh = None;
            state.last_failure = Some(TokenError::SignedOut);
            state.access.take()
        };
        self.set_status(account, &slot, AccountStatus::SignedOut);
        let deleted = {
            let _guard = slot.vault.lock().await;
            self.vault_call(account, |vault, account| vault.delete(account)).await
        };
        if let Some(access) = access
            && let Err(error) = self.authority.sign_out(account.origin(), &access).await
        {
            tracing::info!(account = %account, %error, "server sign-out failed; the local sign-out stands");
        }
        deleted
    }

    async fn refresh(&self, account: &AccountKey, slot: &Arc<Slot>) -> Result<AccessToken, TokenError> {
        let (generation, known_refresh) = {
            let state = slot.state.lock().expect("session lock");
            (state.generation, state.refresh.clone())
        };
        let refresh_token = match known_refresh {
            Some(token) => token,
            None => match self.vault_call(account, |vault, account| vault.read(account)).await {
                Ok(Some(token)) => token,
                Ok(None) => return self.finish(account, slot, generation, Err(TokenError::SignedOut)),
                Err(error) => {
                    let failure = Err(TokenError::Keychain(error.user_message().to_owned()));
                    return self.finish(account, slot, generation, failure);
                }
            },
        };
        let result = self.authority.refresh(account.origin(), account.user_id(), &refresh_token).await;
        let grant = match result {
            Ok(grant) => grant,
            Err(AuthError::Rejected) => {
                let outcome = self.finish(account, slot, generation, Err(TokenError::SignedOut));
                if !matches!(outcome, Err(TokenError::Superseded)) {
                    let _guard = slot.vault.lock().await;
                    let _ = self.vault_call(account, |vault, account| vault.delete(account)).await;
                }
                return outcome;
            }
            Err(AuthError::WrongSubject) => {
                return self.finish(account, slot, generation, Err(TokenError::WrongSubject));
            }
            Err(error) => return self.finish(account, slot, generation, Err(TokenError::Offline(error.to_string()))),
        };
        let remember = slot.state.lock().expect("session lock").remember;
        if remember
            && let Err(error) = self.store_credential(account, slot, generation, grant.refresh_token.clone()).await
        {
            // The rotated credential lives in memory for this run; the keychain still holds the spent one.
            tracing::warn!(account = %account, %error, "could not save the rotated refresh token");
            slot.state.lock().expect("session lock").remember = false;
        }
        {
            let mut state = slot.state.lock().expect("session lock");
            if state.generation == generation {
                state.refresh = Some(grant.refresh_token);
                state.access = Some(grant.access.clone());
            }
        }
        self.finish(account, slot, generation, Ok(grant.access))
    }

    /// Records how a refresh ended, unless the account moved on (sign-out or a new sign-in) meanwhile.
    fn finish(
        &self,
        account: &AccountKey,
        slot: &Slot,
        generation: u64,
        outcome: Result<AccessToken, TokenError>,
    ) -> Result<AccessToken, TokenError> {
        let status = {
            let mut state = slot.state.lock().expect("session lock");
            if state.generation != generation {
                return Err(TokenError::Superseded);
            }
            state.attempts += 1;
            state.last_failure = outcome.as_ref().err().cloned();
            match &outcome {
                Ok(_) => AccountStatus::SignedIn,
                Err(TokenError::SignedOut) => {
                    state.access = None;
                    state.refresh = None;
                    AccountStatus::SignedOut
                }
                Err(TokenError::Keychain(_)) => AccountStatus::KeychainLocked,
                Err(TokenError::Offline(_)) => AccountStatus::Offline,
                Err(TokenError::WrongSubject | TokenError::Superseded) => state.status,
            }
        };
        self.set_status(account, slot, status);
        outcome
    }

    /// Writes the credential if `generation` is still current, under the vault lock.
    async fn store_credential(
        &self,
        account: &AccountKey,
        slot: &Slot,
        generation: u64,
        token: SecretString,
    ) -> Result<(), VaultError> {
        let _guard = slot.vault.lock().await;
        if slot.state.lock().expect("session lock").generation != generation {
            return Ok(());
        }
        self.vault_call(account, move |vault, account| vault.write(account, &token)).await
    }

    /// Keychain calls can block (D-Bus, an unlock prompt): they run on the blocking pool.
    async fn vault_call<T: Send + 'static>(
        &self,
        account: &AccountKey,
        call: impl FnOnce(&dyn CredentialStore, &AccountKey) -> Result<T, VaultError> + Send + 'static,
    ) -> Result<T, VaultError> {
        let (vault, account) = (self.vault.clone(), account.clone());
        tokio::task::spawn_blocking(move || call(vault.as_ref(), &account))
            .await
            .unwrap_or_else(|join| Err(VaultError::Backend(format!("keychain call failed: {join}"))))
    }

    fn set_status(&self, account: &AccountKey, slot: &Slot, status: AccountStatus) {
        let changed = {
            let mut state = slot.state.lock().expect("session lock");
            std::mem::replace(&mut state.status, status) != status
        };
        if changed {
            let _ = self.changes.send((account.clone(), status));
        }
    }

    fn slot(&self, account: &AccountKey) -> Option<Arc<Slot>> {
        self.slots.lock().expect("sessions lock").get(account).cloned()
    }

    fn slot_or_new(&self, account: &AccountKey) -> Arc<Slot> {
        let mut slots = self.slots.lock().expect("sessions lock");
        slots
            .entry(account.clone())
            .or_insert_with(|| {
                Arc::new(Slot {
                    state: Mutex::new(SlotState {
                        generation: 0,
                        status: AccountStatus::SignedOut,
                        access: None,
                        refresh: None,
                        remember: false,
                        attempts: 0,
                        last_failure: None,
                    }),
                    refreshing: tokio::sync::Mutex::new(()),
                    vault: tokio::sync::Mutex::new(()),
                })
            })
            .clone()
    }
}
