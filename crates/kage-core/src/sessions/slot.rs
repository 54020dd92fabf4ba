//! One account's session state in memory, and the locks that keep its changes in order.

use std::sync::{Mutex, MutexGuard};
use std::time::Instant;

use secrecy::SecretString;

use super::{AccountStatus, TokenError};
use crate::authority::AccessToken;
use crate::locks::Recover;
use crate::oidc::ProviderLink;
use crate::vault::VaultError;

pub(super) struct SlotState {
    pub(super) generation: u64,
    pub(super) status: AccountStatus,
    pub(super) access: Option<AccessToken>,
    /// `None` with `status` not signed out: not read from the vault yet.
    pub(super) refresh: Option<SecretString>,
    /// For the keychain record, so saved accounts can be rebuilt from the keychain.
    pub(super) username: Option<String>,
    /// The identity provider whose refresh token `refresh` is (a browser sign-in); `None`: the game server's.
    pub(super) provider: Option<ProviderLink>,
    pub(super) remember: bool,
    /// The newest refresh credential of a remembered account is not in the keychain yet.
    pub(super) unsaved: bool,
    /// The keychain's last failure for this account, until its next success.
    pub(super) keychain_problem: Option<VaultError>,
    pub(super) retrying_save: bool,
    /// The player signed this account out (this run, or a run the shell remembers): nothing may bring it back
    /// but a new sign-in, not a restore, and not a credential the keychain could not delete yet.
    pub(super) signed_out_by_player: bool,
    /// Refresh attempts finished, and how the last one ended: lets queued callers share its result.
    pub(super) attempts: u64,
    pub(super) last_failure: Option<TokenError>,
    /// The server asked for no refresh before this instant: callers get `RateLimited` without a request.
    pub(super) wait_until: Option<Instant>,
}

impl SlotState {
    pub(super) fn usable_access(&self) -> Option<AccessToken> {
        self.access.as_ref().filter(|a| a.refresh_after > Instant::now()).cloned()
    }

    /// `RateLimited` with the time left, while the server's wait is not over.
    pub(super) fn waiting(&self) -> Result<(), TokenError> {
        match self.wait_until.map(|until| until.saturating_duration_since(Instant::now())) {
            Some(left) if !left.is_zero() => Err(TokenError::RateLimited { retry_after: left }),
            _ => Ok(()),
        }
    }
}

pub(super) struct Slot {
    pub(super) state: Mutex<SlotState>,
    /// Held for the whole of a refresh: the single flight.
    pub(super) refreshing: tokio::sync::Mutex<()>,
    /// Taken by each keychain call on its blocking thread, so this account's calls run in order.
    pub(super) keychain: Mutex<()>,
}

impl Slot {
    pub(super) fn state(&self) -> MutexGuard<'_, SlotState> {
        self.state.lock().recover()
    }
}
