//! Signing an account out: locally at once, then its keychain entry, then at its server (and provider); or, for
//! an account whose server Kage may not send its credential to on this run, on this computer only.
//!
//! The server's part can fail for reasons that say nothing about the sign-out: the server is down, a gateway
//! answers 502, the server could not finish (a 500 when its database connection died mid-revocation). The
//! player asked to be signed out and is, here, at once; the server's part is then retried in the background
//! ([`retry_server_sign_out`]) with backoff, for a bounded time, until the server confirms or refuses for
//! good. The player is never told anything but "signed out" about it.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use secrecy::SecretString;

use super::{AccountStatus, Sessions, Slot, TokenError};
use crate::account::{AccountKey, ServerOrigin};
use crate::authority::{self, AccessToken, AuthError};
use crate::oidc::{ProviderLink, Revocation};
use crate::vault::VaultError;

/// The first wait before a server sign-out is tried again, doubled after every failure up to
/// [`RETRY_AT_MOST`].
const RETRY_FIRST: Duration = Duration::from_millis(250);
const RETRY_AT_MOST: Duration = Duration::from_secs(15);
/// How long a server sign-out is retried in all, from the first failure: past this the server's own limits
/// (the access token's minute, the session's idle limit) end what is left.
pub const RETRY_FOR: Duration = Duration::from_secs(5 * 60);

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
    /// Signs the account out: locally at once (also offline), then in the keychain, then on the server (with
    /// the refresh credential, so it works even when the access token has expired; retried in the background
    /// if the server could not be told). `Err` is the keychain's delete (retried in the background).
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
        let server_part = match (&provider, refresh) {
            (Some(link), Some(refresh)) => {
                // RFC 7009 at the provider, if it offers it: no new access tokens for this grant.
                match self.providers.revoke(&http, link, &refresh).await {
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
                access.map(|access| ServerSignOut { refresh: None, access: Some(access) })
            }
            (Some(_), None) => access.map(|access| ServerSignOut { refresh: None, access: Some(access) }),
            (None, refresh) => (refresh.is_some() || access.is_some()).then_some(ServerSignOut { refresh, access }),
        };
        if let Some(sign_out) = server_part {
            match self
                .authority
                .revoke(&http, account.origin(), sign_out.refresh.as_ref(), sign_out.access.as_ref())
                .await
            {
                Ok(()) => {}
                Err(error) if error.is_transient() => {
                    tracing::info!(account = %account, %error, "server sign-out failed; retrying in the background");
                    retry_server_sign_out(
                        http,
                        account.clone(),
                        account.origin().clone(),
                        sign_out,
                        self.keychain.closed.clone(),
                    );
                }
                Err(error) => {
                    tracing::info!(account = %account, %error, "server sign-out refused; the local sign-out stands")
                }
            }
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

/// What the server is to be told to end: the session of the refresh token, else of the access token.
struct ServerSignOut {
    refresh: Option<SecretString>,
    access: Option<AccessToken>,
}

/// Tells the server again, with backoff, until it answers, refuses for good, [`RETRY_FOR`] has passed, or the
/// app quits (`closed`). Nothing of it reaches the account's windows: they say "signed out", as asked.
fn retry_server_sign_out(
    http: reqwest::Client,
    account: AccountKey,
    origin: ServerOrigin,
    sign_out: ServerSignOut,
    closed: Arc<AtomicBool>,
) {
    tokio::spawn(async move {
        let started = Instant::now();
        let mut wait = RETRY_FIRST;
        let mut tries = 1_u32;
        loop {
            tokio::time::sleep(wait).await;
            if closed.load(Ordering::SeqCst) {
                return;
            }
            tries += 1;
            match authority::revoke(&http, &origin, sign_out.refresh.as_ref(), sign_out.access.as_ref()).await {
                Ok(()) => {
                    tracing::info!(account = %account, tries, "the server confirmed the sign-out");
                    return;
                }
                Err(error) if error.is_transient() && started.elapsed() + wait < RETRY_FOR => {
                    wait = match error {
                        AuthError::Throttled { retry_after_secs } => Duration::from_secs(retry_after_secs),
                        _ => (wait * 2).min(RETRY_AT_MOST),
                    };
                    tracing::debug!(account = %account, %error, tries, "server sign-out failed again");
                }
                Err(error) => {
                    tracing::info!(account = %account, %error, tries, "gave up telling the server of a sign-out");
                    return;
                }
            }
        }
    });
}
