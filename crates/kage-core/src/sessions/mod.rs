//! Each account's session: its access token, its refresh credential, and its state as a window shows it.
//!
//! - **Single flight (I5).** Refreshing is serialised per account, and callers that queued behind a refresh
//!   take its result instead of starting another: the server rotates refresh tokens and treats a reused one as
//!   theft, so two concurrent refreshes would sign the player out.
//! - **A grant is never thrown away (I11).** The moment a refresh answer arrives, its new refresh token replaces
//!   the spent one in memory, before anything else can fail; it is written to the keychain before the new
//!   access token is handed to anyone (I5). If the keychain cannot take it, the account keeps working from
//!   memory, its windows say the keychain has trouble, and the save is retried ([`keychain`]). An answer that
//!   never arrived leaves the old token in place: the server's grace period answers it again with the same
//!   successor.
//! - **Generations.** Sign-in and sign-out bump the account's generation; a refresh that finishes under an older
//!   generation is discarded, so it can neither resurrect a signed-out account nor overwrite a newer sign-in.
//! - **No false sign-out (I11).** Only the server's explicit rejection of the refresh credential, or the player,
//!   signs an account out. A network error, timeout or 5xx makes it `Offline`; a locked, missing or slow
//!   keychain makes it `KeychainLocked`; neither deletes anything or touches another account.
//! - Several windows of one account share its one session here; windows are not known to this module.
//! - **Two kinds of refresh credential.** A password sign-in holds the game server's refresh token; a browser
//!   sign-in holds its identity provider's ([`ProviderLink`] says which provider, client and player). Both go
//!   through the same single flight, the same keeping of every grant received, and the same rule: only the
//!   issuer's explicit rejection (`invalid_grant`) signs the account out.

mod keychain;
mod moving;
mod refresh;
mod sign_in;
mod sign_out;
mod slot;
mod status;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::broadcast;

use crate::account::AccountKey;
use crate::authority::Authority;
use crate::locks::Recover;
use crate::oidc::Providers;
use crate::transport::Transport;
use crate::vault::{CredentialStore, VaultError};
use keychain::Keychain;
pub use sign_out::ProviderSignOut;
use slot::{Slot, SlotState};
use status::token_error;
pub use status::{AccountStatus, ForkError, ImportOutcome, SignInError, SignedIn, TokenError};

/// How long a keychain call may take before the caller gives up on it (an unanswered unlock prompt).
pub const KEYCHAIN_TIMEOUT: Duration = Duration::from_secs(10);

pub struct Sessions {
    authority: Authority,
    providers: Arc<Providers>,
    transport: Arc<Transport>,
    keychain: Keychain,
    slots: Mutex<HashMap<AccountKey, Arc<Slot>>>,
    changes: broadcast::Sender<(AccountKey, AccountStatus)>,
}

impl Sessions {
    pub fn new(transport: Arc<Transport>, vault: Arc<dyn CredentialStore>, keychain_timeout: Duration) -> Self {
        let (changes, _) = broadcast::channel(256);
        let keychain = Keychain { vault, timeout: keychain_timeout, changes: changes.clone(), closed: Arc::default() };
        Self {
            authority: Authority::new(),
            providers: Arc::default(),
            transport,
            keychain,
            slots: Mutex::new(HashMap::new()),
            changes,
        }
    }

    /// What this run knows of identity providers (metadata, keys), shared with browser sign-ins.
    pub fn providers(&self) -> &Arc<Providers> {
        &self.providers
    }

    /// The app is quitting: background keychain retries stop.
    pub fn shutdown(&self) {
        self.keychain.closed.store(true, std::sync::atomic::Ordering::SeqCst);
    }

    /// Status changes of every account (and changes of its keychain health, with the status unchanged), for the
    /// shell to pass on to each account's windows.
    pub fn status_changes(&self) -> broadcast::Receiver<(AccountKey, AccountStatus)> {
        self.changes.subscribe()
    }

    pub fn status(&self, account: &AccountKey) -> AccountStatus {
        self.slot(account).map_or(AccountStatus::SignedOut, |slot| slot.state().status)
    }

    /// What is wrong with the keychain for this account, as a sentence for its windows (`None`: nothing).
    pub fn keychain_problem(&self, account: &AccountKey) -> Option<&'static str> {
        let slot = self.slot(account)?;
        let state = slot.state();
        state.keychain_problem.as_ref().map(VaultError::user_message)
    }

    /// Every account the keychain holds a credential for, to rebuild a lost roster (bounded like every call).
    pub async fn saved_in_keychain(&self) -> Result<Vec<crate::vault::SavedAccount>, VaultError> {
        let vault = self.keychain.vault.clone();
        self.keychain.bounded(move || vault.list()).await
    }

    fn slot(&self, account: &AccountKey) -> Option<Arc<Slot>> {
        self.slots.lock().recover().get(account).cloned()
    }

    fn slot_or_new(&self, account: &AccountKey) -> Arc<Slot> {
        let mut slots = self.slots.lock().recover();
        slots
            .entry(account.clone())
            .or_insert_with(|| {
                Arc::new(Slot {
                    state: Mutex::new(SlotState {
                        generation: 0,
                        status: AccountStatus::SignedOut,
                        access: None,
                        refresh: None,
                        username: None,
                        provider: None,
                        remember: false,
                        unsaved: false,
                        keychain_problem: None,
                        retrying_save: false,
                        signed_out_by_player: false,
                        attempts: 0,
                        last_failure: None,
                        wait_until: None,
                    }),
                    refreshing: tokio::sync::Mutex::new(()),
                    keychain: Mutex::new(()),
                })
            })
            .clone()
    }
}
