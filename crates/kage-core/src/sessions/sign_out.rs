//! Signing an account out: locally at once, then its keychain entry, then at its server (and provider); or, for
//! an account whose server Kage may not send its credential to on this run, on this computer only.

use std::sync::Arc;

use secrecy::SecretString;

use super::{AccountStatus, Sessions, Slot, TokenError};
use crate::account::AccountKey;
use crate::authority::AccessToken;
use crate::oidc::{ProviderLink, Revocation};
use crate::vault::VaultError;

/// What a sign-out could do at the account's identity provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProviderSignOut {
    /// Not a provider account, or its grant was revoked there (or that was tried: it is best effort).
    Done,
    /// The provider offers no revocation endpoint: its grant lives on there.
    NotOffered,
}

/// What a local sign-out took out of memory, for telling the server.
struct Ended {
    slot: Arc<Slot>,
    generation: u64,
    access: Option<AccessToken>,
    refresh: Option<SecretString>,
    provider: Option<ProviderLink>,
}

impl Sessions {
    /// Signs the account out: locally at once (also offline), then in the keychain, then on the server (best
    /// effort, with the refresh credential, so it works even when the access token has expired). `Err` is
    /// the keychain's delete (retried in the background).
    pub async fn sign_out(&self, account: &AccountKey) -> Result<ProviderSignOut, VaultError> {
        let Ended { slot, generation, access, refresh, provider } = self.end_here(account);
        // A restored account that never refreshed has its credential only in the keychain.
        let (refresh, provider) = match refresh {
            Some(refresh) => (Some(refresh), provider),
            None => match self.keychain.read(&slot, account).await.ok().flatten() {
                Some(saved) => (Some(saved.refresh_token), saved.provider),
                None => (None, provider),
            },
        };
        let deleted = self.keychain.delete(&slot, account, generation).await;
        if deleted.is_err() {
            // The credential must not outlive the sign-out: delete it once the keychain answers again.
            self.keychain.retry_delete(&slot, account, generation);
        }
        let http = self.transport.for_account(account);
        let mut outcome = ProviderSignOut::Done;
        if let (Some(link), Some(refresh)) = (&provider, &refresh) {
            // RFC 7009 at the provider, if it offers it: no new access tokens for this grant.
            match self.providers.revoke(&http, link, refresh).await {
                Ok(Revocation::Revoked) => {}
                Ok(Revocation::NotOffered) => {
                    tracing::info!(account = %account, "the identity provider offers no revocation; its grant stays there");
                    outcome = ProviderSignOut::NotOffered;
                }
                Err(error) => {
                    tracing::info!(account = %account, %error, "provider sign-out failed; the local sign-out stands")
                }
            }
            // The provider's access tokens are checked by the game server on their own and stay valid there
            // until they expire: the server ends this provider session at once when told so.
            if access.is_some()
                && let Err(error) = self.authority.revoke(&http, account.origin(), None, access.as_ref()).await
            {
                tracing::info!(account = %account, %error, "server sign-out failed; the local sign-out stands");
            }
        } else if (refresh.is_some() || access.is_some())
            && let Err(error) = self.authority.revoke(&http, account.origin(), refresh.as_ref(), access.as_ref()).await
        {
            tracing::info!(account = %account, %error, "server sign-out failed; the local sign-out stands");
        }
        deleted.map(|()| outcome)
    }

    /// Signs the account out on this computer only: its session in memory ends and its keychain entry is
    /// deleted, and nothing is sent anywhere; its saved credential is not even read. For an account whose server
    /// Kage may not trust on this run (a loopback server that moved: whatever holds the old port now is not it).
    pub async fn sign_out_here(&self, account: &AccountKey) -> Result<(), VaultError> {
        let Ended { slot, generation, .. } = self.end_here(account);
        let deleted = self.keychain.delete(&slot, account, generation).await;
        if deleted.is_err() {
            self.keychain.retry_delete(&slot, account, generation);
        }
        deleted
    }

    /// The local half of every sign-out: a new generation, signed out by the player, the tokens taken out.
    fn end_here(&self, account: &AccountKey) -> Ended {
        let slot = self.slot_or_new(account);
        let (generation, access, refresh, provider) = {
            let mut state = slot.state();
            state.generation += 1;
            state.status = AccountStatus::SignedOut;
            state.unsaved = false;
            state.keychain_problem = None;
            state.signed_out_by_player = true;
            state.last_failure = Some(TokenError::SignedOut);
            (state.generation, state.access.take(), state.refresh.take(), state.provider.clone())
        };
        let _ = self.changes.send((account.clone(), AccountStatus::SignedOut));
        Ended { slot, generation, access, refresh, provider }
    }
}
