//! Moving an account to another computer: a forked, independent session for the export file, and taking in
//! one that came from such a file.

use secrecy::SecretString;

use super::{AccountStatus, ForkError, ImportOutcome, Sessions, TokenError};
use crate::account::AccountKey;
use crate::authority::AuthError;
use crate::vault::VaultError;

impl Sessions {
    /// A refresh credential of a new, independent session of `account` (for another computer), through the
    /// account's route, with a fresh access token (single flight) and the account's refresh token as proof
    /// (the server forks only for its holder). The refresh is held off meanwhile, so the proof is the live
    /// token, not one a refresh spends on the way. One retry if the server no longer accepts the access token.
    pub async fn fork(&self, account: &AccountKey) -> Result<SecretString, ForkError> {
        let mut retried = false;
        loop {
            let access = self.token_for(account).await?;
            let slot = self.slot(account).ok_or(TokenError::SignedOut)?;
            let http = self.transport.for_account(account);
            let forked = {
                let _no_refresh_meanwhile = slot.refreshing.lock().await;
                let proof = slot.state().refresh.clone().ok_or(TokenError::SignedOut)?;
                self.authority.fork(&http, account.origin(), account.user_id(), &access, &proof).await
            };
            match forked {
                Err(AuthError::Server { status: 401, .. }) if !retried => {
                    self.invalidate(account, &access);
                    retried = true;
                }
                result => return result.map_err(ForkError::Auth),
            }
        }
    }

    /// Saves an imported refresh credential for `account` in the keychain, unless this computer already has
    /// one for it (in the keychain, or a session in memory): then nothing is written and the existing one is
    /// kept (a merge never duplicates or replaces a session). The check and the write run as one keychain call
    /// in the account's order (see [`keychain`]). An imported account is restored: `Loading` until its first
    /// request refreshes.
    pub async fn import(
        &self,
        account: &AccountKey,
        username: &str,
        refresh_token: SecretString,
    ) -> Result<ImportOutcome, VaultError> {
        let slot = self.slot_or_new(account);
        let credential = crate::vault::SavedCredential::new(refresh_token, Some(username.to_owned()));
        let outcome = self
            .keychain
            .run(&slot, account, move |vault, account, slot| {
                {
                    let state = slot.state();
                    if state.refresh.is_some() && state.status != AccountStatus::SignedOut {
                        return Ok(ImportOutcome::AlreadySaved);
                    }
                }
                if vault.read(account)?.is_some() {
                    return Ok(ImportOutcome::AlreadySaved);
                }
                vault.write(account, &credential)?;
                let mut state = slot.state();
                // A new generation: a delete still queued from an earlier sign-out must not remove this one.
                state.generation += 1;
                state.status = AccountStatus::Loading;
                state.access = None;
                state.refresh = None;
                state.username = credential.username.clone();
                state.provider = None;
                state.remember = true;
                state.unsaved = false;
                state.signed_out_by_player = false;
                state.last_failure = None;
                state.wait_until = None;
                Ok(ImportOutcome::Imported)
            })
            .await;
        self.keychain.note(&slot, account, outcome.as_ref().err().cloned());
        if outcome == Ok(ImportOutcome::Imported) {
            let _ = self.changes.send((account.clone(), AccountStatus::Loading));
        }
        outcome
    }
}
