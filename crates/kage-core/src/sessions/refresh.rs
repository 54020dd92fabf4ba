//! Getting an account a usable access token: the single flight (I5), keeping every grant received (I11), and
//! the account's status as its requests reach the server or not.

use std::sync::Arc;
use std::time::Instant;

use secrecy::{ExposeSecret, SecretString};

use super::{AccountStatus, Sessions, Slot, TokenError, token_error};
use crate::account::AccountKey;
use crate::authority::{AccessToken, AuthError};
use crate::oidc::ProviderLink;
use crate::vault::VaultError;

impl Sessions {
    /// A usable access token for `account`, refreshing it if needed (single flight).
    pub async fn token_for(&self, account: &AccountKey) -> Result<AccessToken, TokenError> {
        let slot = self.slot(account).ok_or(TokenError::SignedOut)?;
        let attempts_before = {
            let state = slot.state();
            if let Some(access) = state.usable_access() {
                return Ok(access);
            }
            if state.status == AccountStatus::SignedOut {
                return Err(TokenError::SignedOut);
            }
            // Asking again before the server's wait is over would only earn another 429.
            state.waiting()?;
            state.attempts
        };
        let _flight = slot.refreshing.lock().await;
        let (generation, known_refresh) = {
            let state = slot.state();
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
            // Read under the same lock as the status: a sign-out right after makes this refresh superseded.
            (state.generation, state.refresh.clone().map(|token| (token, state.provider.clone())))
        };
        self.refresh(account, &slot, generation, known_refresh).await
    }

    /// Marks `failed` as no longer accepted (the server said `invalid_token`), so the next call refreshes.
    pub fn invalidate(&self, account: &AccountKey, failed: &AccessToken) {
        if let Some(slot) = self.slot(account) {
            let mut state = slot.state();
            if state.access.as_ref().is_some_and(|a| a.secret.expose_secret() == failed.secret.expose_secret()) {
                state.access = None;
            }
        }
    }

    /// Forgets an account's access token, so its next call refreshes (as after the computer slept: the
    /// monotonic clock that times tokens may not have counted the time asleep).
    pub fn expire_access_token(&self, account: &AccountKey) {
        if let Some(slot) = self.slot(account) {
            slot.state().access = None;
        }
    }

    /// A request for this account could not reach the server: its windows show "offline" (with the cached
    /// profile) until a request gets through. Never touches a signed-out or keychain-locked account.
    pub fn note_unreachable(&self, account: &AccountKey) {
        self.move_status(account, &[AccountStatus::SignedIn, AccountStatus::Loading], AccountStatus::Offline);
    }

    /// A request for this account got an answer from the server: an offline account is signed in again.
    pub fn note_reachable(&self, account: &AccountKey) {
        self.move_status(account, &[AccountStatus::Offline], AccountStatus::SignedIn);
    }

    fn move_status(&self, account: &AccountKey, from: &[AccountStatus], to: AccountStatus) {
        let Some(slot) = self.slot(account) else { return };
        let moved = {
            let mut state = slot.state();
            let moves = from.contains(&state.status);
            if moves {
                state.status = to;
            }
            moves
        };
        if moved {
            let _ = self.changes.send((account.clone(), to));
        }
    }

    async fn refresh(
        &self,
        account: &AccountKey,
        slot: &Arc<Slot>,
        generation: u64,
        known: Option<(SecretString, Option<ProviderLink>)>,
    ) -> Result<AccessToken, TokenError> {
        let (refresh_token, provider) = match known {
            Some(known) => known,
            None => match self.keychain.read(slot, account).await {
                Ok(Some(saved)) => {
                    self.keychain.note(slot, account, None);
                    let mut state = slot.state();
                    if state.generation == generation {
                        state.refresh = Some(saved.refresh_token.clone());
                        state.username = state.username.take().or(saved.username);
                        state.provider = saved.provider.clone();
                    }
                    (saved.refresh_token, saved.provider)
                }
                // Only a keychain that answered "no such entry" means signed out (I9).
                Ok(None) => return self.finish(account, slot, generation, Err(TokenError::SignedOut)),
                Err(error) => {
                    self.keychain.note(slot, account, Some(error.clone()));
                    let failure = Err(TokenError::Keychain(error.user_message().to_owned()));
                    return self.finish(account, slot, generation, failure);
                }
            },
        };
        let http = self.transport.for_account(account);
        let refreshed = match &provider {
            None => self.authority.refresh(&http, account.origin(), account.user_id(), &refresh_token).await,
            Some(link) => self.providers.refresh(&http, link, &refresh_token).await,
        };
        let refreshed = match refreshed {
            Ok(refreshed) => refreshed,
            Err(AuthError::Rejected) => {
                let outcome = self.finish(account, slot, generation, Err(TokenError::SignedOut));
                if !matches!(outcome, Err(TokenError::Superseded)) {
                    let _ = self.keychain.delete(slot, account, generation).await;
                }
                return outcome;
            }
            Err(error) => return self.finish(account, slot, generation, Err(token_error(error))),
        };
        // The server has spent the old token: keep the new one before anything else can fail.
        let remember = {
            let mut state = slot.state();
            if state.generation != generation {
                return Err(TokenError::Superseded);
            }
            state.refresh = Some(refreshed.refresh_token);
            state.unsaved = state.remember;
            state.remember
        };
        if remember {
            // On failure the account goes on from memory; the window says the keychain has trouble.
            let _ = self.save_or_retry(slot, account).await;
        }
        let access = match refreshed.access {
            Ok(access) => access,
            Err(error) => return self.finish(account, slot, generation, Err(token_error(error))),
        };
        {
            let mut state = slot.state();
            if state.generation == generation {
                state.access = Some(access.clone());
            }
        }
        self.finish(account, slot, generation, Ok(access))
    }

    /// Saves the account's current credential; if the keychain refuses, keeps retrying in the background.
    pub(super) async fn save_or_retry(&self, slot: &Arc<Slot>, account: &AccountKey) -> Result<(), VaultError> {
        let saved = self.keychain.save(slot, account).await;
        if let Err(error) = &saved {
            tracing::warn!(account = %account, %error, "could not save the credential; keeping it in memory and retrying");
            self.keychain.retry_save(slot, account);
        }
        saved
    }

    /// Records how a refresh ended, unless the account moved on (sign-out or a new sign-in) meanwhile.
    fn finish(
        &self,
        account: &AccountKey,
        slot: &Slot,
        generation: u64,
        outcome: Result<AccessToken, TokenError>,
    ) -> Result<AccessToken, TokenError> {
        let (changed, status) = {
            let mut state = slot.state();
            if state.generation != generation {
                return Err(TokenError::Superseded);
            }
            state.attempts += 1;
            state.last_failure = outcome.as_ref().err().cloned();
            state.wait_until = match &outcome {
                Err(TokenError::RateLimited { retry_after }) => Instant::now().checked_add(*retry_after),
                _ => None,
            };
            let status = match &outcome {
                Ok(_) => AccountStatus::SignedIn,
                Err(TokenError::SignedOut) => {
                    state.access = None;
                    state.refresh = None;
                    state.unsaved = false;
                    AccountStatus::SignedOut
                }
                Err(TokenError::Keychain(_)) => AccountStatus::KeychainLocked,
                Err(TokenError::Offline(_)) => AccountStatus::Offline,
                // Waiting is not a state of the account: it stays what it was (I11).
                Err(TokenError::WrongSubject | TokenError::Superseded | TokenError::RateLimited { .. }) => state.status,
            };
            (std::mem::replace(&mut state.status, status) != status, status)
        };
        if changed {
            let _ = self.changes.send((account.clone(), status));
        }
        outcome
    }
}
