//! The sessions' side of the keychain: every call bounded in time, each account's calls in order, and a
//! rotated credential that could not be saved retried until it is.
//!
//! - **Bounded.** A keychain call can hang (an unlock prompt nobody answers, a daemon that stopped answering).
//!   Calls run on the blocking pool and the caller waits at most the configured timeout, then gets
//!   [`VaultError::TimedOut`]; the hung call may finish later, harmlessly (see next point). So no keychain
//!   trouble ever holds another account, a sign-out or a forget.
//! - **In order, per account.** Each account's calls take that account's keychain lock on the blocking thread,
//!   and a write saves whatever credential is current *when it runs* (or nothing, if the account was signed out
//!   meanwhile). A write that hung and finishes after a sign-out's delete was queued therefore runs before that
//!   delete, never after it: a signed-out account's credential cannot come back.
//! - **Retried.** When the newest credential of a remembered account could not be saved, the account keeps
//!   working from memory, its windows say the keychain has trouble, and a task retries with backoff.

use std::sync::Arc;
use std::time::Duration;

use secrecy::ExposeSecret;
use tokio::sync::broadcast;

use super::{AccountStatus, Slot};
use crate::account::AccountKey;
use crate::vault::{CredentialStore, SavedCredential, VaultError};

const RETRY_FIRST: Duration = Duration::from_millis(500);
const RETRY_MAX: Duration = Duration::from_secs(15);

/// What the keychain calls of [`super::Sessions`] need, cheap to clone into a retry task.
#[derive(Clone)]
pub(super) struct Keychain {
    pub vault: Arc<dyn CredentialStore>,
    pub timeout: Duration,
    pub changes: broadcast::Sender<(AccountKey, AccountStatus)>,
    /// Set when the app quits: retries stop.
    pub closed: Arc<std::sync::atomic::AtomicBool>,
}

impl Keychain {
    /// Runs `call` on the blocking pool under the account's keychain lock, waiting at most `timeout`.
    pub async fn run<T: Send + 'static>(
        &self,
        slot: &Arc<Slot>,
        account: &AccountKey,
        call: impl FnOnce(&dyn CredentialStore, &AccountKey, &Slot) -> Result<T, VaultError> + Send + 'static,
    ) -> Result<T, VaultError> {
        let (vault, slot, account) = (self.vault.clone(), slot.clone(), account.clone());
        self.bounded(move || {
            let _in_order = slot.keychain.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            call(vault.as_ref(), &account, &slot)
        })
        .await
    }

    /// Runs a keychain call on the blocking pool, waiting for it at most `timeout`.
    pub async fn bounded<T: Send + 'static>(
        &self,
        call: impl FnOnce() -> Result<T, VaultError> + Send + 'static,
    ) -> Result<T, VaultError> {
        match tokio::time::timeout(self.timeout, tokio::task::spawn_blocking(call)).await {
            Ok(Ok(result)) => result,
            Ok(Err(join)) => Err(VaultError::Backend(format!("keychain call failed: {join}"))),
            Err(_) => Err(VaultError::TimedOut(self.timeout.as_secs().max(1))),
        }
    }

    /// The account's saved credential, read in turn with its other keychain calls.
    pub async fn read(&self, slot: &Arc<Slot>, account: &AccountKey) -> Result<Option<SavedCredential>, VaultError> {
        self.run(slot, account, |vault, account, _| vault.read(account)).await
    }

    /// Makes the keychain hold the account's current refresh credential. Records the outcome on the slot (and
    /// tells its windows when the keychain's health changed).
    pub async fn save(&self, slot: &Arc<Slot>, account: &AccountKey) -> Result<(), VaultError> {
        let result = self.run(slot, account, save_current).await;
        self.note(slot, account, result.as_ref().err().cloned());
        result
    }

    /// Deletes the account's credential, unless the account was signed in again since `generation`.
    pub async fn delete(&self, slot: &Arc<Slot>, account: &AccountKey, generation: u64) -> Result<(), VaultError> {
        self.run(slot, account, move |vault, account, slot| {
            if slot.state().generation != generation {
                return Ok(());
            }
            vault.delete(account)
        })
        .await
    }

    /// Starts retrying the save in the background, unless a retry is already running for this account.
    pub fn retry_save(&self, slot: &Arc<Slot>, account: &AccountKey) {
        {
            let mut state = slot.state();
            if state.retrying_save {
                return;
            }
            state.retrying_save = true;
        }
        let (keychain, slot, account) = (self.clone(), slot.clone(), account.clone());
        tokio::spawn(async move {
            let mut delay = RETRY_FIRST;
            loop {
                tokio::time::sleep(delay).await;
                if keychain.closed.load(std::sync::atomic::Ordering::SeqCst) {
                    break;
                }
                if slot.state().unsaved && keychain.save(&slot, &account).await.is_err() {
                    delay = (delay * 2).min(RETRY_MAX);
                    continue;
                }
                // Checked under the lock that `retry_save` takes, so a failure noted meanwhile is not orphaned.
                let mut state = slot.state();
                if !state.unsaved {
                    state.retrying_save = false;
                    tracing::info!(account = %account, "the keychain holds the account's credential again");
                    break;
                }
            }
        });
    }

    /// Keeps trying to delete the credential of an account signed out at `generation`, until it is gone, the
    /// account is signed in again, or the app quits.
    pub fn retry_delete(&self, slot: &Arc<Slot>, account: &AccountKey, generation: u64) {
        let (keychain, slot, account) = (self.clone(), slot.clone(), account.clone());
        tokio::spawn(async move {
            let mut delay = RETRY_FIRST;
            loop {
                tokio::time::sleep(delay).await;
                let stale = slot.state().generation != generation;
                if stale || keychain.closed.load(std::sync::atomic::Ordering::SeqCst) {
                    break;
                }
                if keychain.delete(&slot, &account, generation).await.is_ok() {
                    tracing::info!(account = %account, "the signed-out account's credential is gone from the keychain");
                    break;
                }
                delay = (delay * 2).min(RETRY_MAX);
            }
        });
    }

    /// Records the keychain's latest answer for this account; its windows hear of a change.
    pub fn note(&self, slot: &Slot, account: &AccountKey, problem: Option<VaultError>) {
        let (changed, status) = {
            let mut state = slot.state();
            let changed = state.keychain_problem != problem;
            state.keychain_problem = problem;
            (changed, state.status)
        };
        if changed {
            let _ = self.changes.send((account.clone(), status));
        }
    }
}

/// Runs on the blocking thread, under the account's keychain lock: writes what is current now.
fn save_current(vault: &dyn CredentialStore, account: &AccountKey, slot: &Slot) -> Result<(), VaultError> {
    let (generation, credential) = {
        let state = slot.state();
        match (&state.refresh, state.remember, state.status) {
            (Some(token), true, status) if status != AccountStatus::SignedOut => {
                let credential = SavedCredential::new(token.clone(), state.username.clone());
                (state.generation, credential.with_provider(state.provider.clone()))
            }
            // Signed out, or not remembered (any more): nothing to save.
            _ => return Ok(()),
        }
    };
    vault.write(account, &credential)?;
    let mut state = slot.state();
    let still_current = state.generation == generation
        && state.refresh.as_ref().is_some_and(|t| t.expose_secret() == credential.refresh_token.expose_secret());
    if still_current {
        state.unsaved = false;
    }
    Ok(())
}
