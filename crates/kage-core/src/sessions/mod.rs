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

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use tokio::sync::broadcast;

use crate::account::{AccountKey, ServerOrigin};
use crate::authority::{AccessToken, AuthError, Authority};
use crate::oidc::flow::ExpectedAccount;
use crate::oidc::{ProviderGrant, ProviderLink, Providers};
use crate::proxy::{ProxyError, ProxyUrl};
use crate::transport::Transport;
use crate::vault::{CredentialStore, VaultError};
use keychain::Keychain;

/// An account's state as its windows show it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AccountStatus {
    /// A token is being obtained (start-up, restore from the keychain, first refresh). Show loading.
    Loading,
    SignedIn,
    /// The server could not be reached; show the cached profile and say it is offline.
    Offline,
    /// The keychain is locked, missing or not answering, so the saved credential cannot be read yet.
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
    /// The server asked this account to wait before refreshing again (429, or 503 with `Retry-After`). The
    /// account stays as it was (I11); no refresh is sent for it until the wait is over.
    #[error("the server asks to wait {} s before trying again", retry_after.as_secs())]
    RateLimited { retry_after: Duration },
}

#[derive(Debug, thiserror::Error)]
pub enum SignInError {
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error("that sign-in was for another account than the one being signed in again")]
    OtherAccount,
    #[error(transparent)]
    Proxy(#[from] ProxyError),
}

/// What [`Sessions::import`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ImportOutcome {
    /// Saved in the keychain; the account is restored and signs in with it on its first request.
    Imported,
    /// This computer already had a credential for the account: it was kept, the imported one dropped.
    AlreadySaved,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ForkError {
    #[error(transparent)]
    Token(#[from] TokenError),
    #[error(transparent)]
    Auth(AuthError),
}

/// A successful sign-in. `remembered` says whether the keychain took the credential; if not, the session
/// works from memory while the save is retried, and the shell should say why.
#[derive(Debug)]
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
    /// For the keychain record, so saved accounts can be rebuilt from the keychain.
    username: Option<String>,
    /// The identity provider whose refresh token `refresh` is (a browser sign-in); `None`: the game server's.
    provider: Option<ProviderLink>,
    remember: bool,
    /// The newest refresh credential of a remembered account is not in the keychain yet.
    unsaved: bool,
    /// The keychain's last failure for this account, until its next success.
    keychain_problem: Option<VaultError>,
    retrying_save: bool,
    /// The player signed this account out (this run, or a run the shell remembers): nothing may bring it back
    /// but a new sign-in, not a restore, and not a credential the keychain could not delete yet.
    signed_out_by_player: bool,
    /// Refresh attempts finished, and how the last one ended: lets queued callers share its result.
    attempts: u64,
    last_failure: Option<TokenError>,
    /// The server asked for no refresh before this instant: callers get `RateLimited` without a request.
    wait_until: Option<Instant>,
}

impl SlotState {
    fn usable_access(&self) -> Option<AccessToken> {
        self.access.as_ref().filter(|a| a.refresh_after > Instant::now()).cloned()
    }

    /// `RateLimited` with the time left, while the server's wait is not over.
    fn waiting(&self) -> Result<(), TokenError> {
        match self.wait_until.map(|until| until.saturating_duration_since(Instant::now())) {
            Some(left) if !left.is_zero() => Err(TokenError::RateLimited { retry_after: left }),
            _ => Ok(()),
        }
    }
}

struct Slot {
    state: Mutex<SlotState>,
    /// Held for the whole of a refresh: the single flight.
    refreshing: tokio::sync::Mutex<()>,
    /// Taken by each keychain call on its blocking thread, so this account's calls run in order.
    keychain: Mutex<()>,
}

impl Slot {
    fn state(&self) -> MutexGuard<'_, SlotState> {
        self.state.lock().expect("session lock")
    }
}

/// What a refresh that failed for any reason but the server's rejection means for the account: a token for
/// someone else fails closed; anything else (network, timeout, 5xx, a malformed answer) is "offline" (I11).
fn token_error(error: AuthError) -> TokenError {
    match error {
        AuthError::WrongSubject => TokenError::WrongSubject,
        AuthError::Throttled { retry_after_secs } => {
            TokenError::RateLimited { retry_after: Duration::from_secs(retry_after_secs) }
        }
        error => TokenError::Offline(error.to_string()),
    }
}

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

    /// Signs in with a password, through `proxy` (`None`: direct), which then carries all of the account's
    /// requests. With `expected`, the sign-in must be for that account (signing a known account in again); a
    /// different account is refused and its new session ended.
    pub async fn sign_in(
        &self,
        origin: &ServerOrigin,
        username: &str,
        password: &SecretString,
        remember: bool,
        expected: Option<&AccountKey>,
        proxy: Option<&ProxyUrl>,
    ) -> Result<SignedIn, SignInError> {
        let http = self.transport.through(origin, proxy)?;
        let (user_id, grant) = self.authority.sign_in(&http, origin, username, password).await?;
        let account = AccountKey::new(origin.clone(), user_id);
        if expected.is_some_and(|expected| expected != &account) {
            let _ = self.authority.revoke(&http, origin, Some(&grant.refresh_token), Some(&grant.access)).await;
            return Err(SignInError::OtherAccount);
        }
        // Before anything else can send for this account: its route is the one its password took.
        self.transport.set(&account, proxy.cloned())?;
        let username = username.to_owned();
        Ok(self.install(account, grant.access, grant.refresh_token, username, None, remember).await)
    }

    /// Signs in an account whose grant came from its identity provider (a browser sign-in, checked and tied to
    /// the game's player id by the caller). Its requests keep the route the account already has.
    pub async fn sign_in_with_provider(
        &self,
        account: AccountKey,
        username: String,
        grant: ProviderGrant,
        remember: bool,
    ) -> SignedIn {
        self.install(account, grant.access, grant.refresh_token, username, Some(grant.link), remember).await
    }

    /// Makes a fresh sign-in the account's session (a new generation), and saves or forgets its credential.
    async fn install(
        &self,
        account: AccountKey,
        access: AccessToken,
        refresh: SecretString,
        username: String,
        provider: Option<ProviderLink>,
        remember: bool,
    ) -> SignedIn {
        let slot = self.slot_or_new(&account);
        let generation = {
            let mut state = slot.state();
            state.generation += 1;
            state.status = AccountStatus::SignedIn;
            state.access = Some(access);
            state.refresh = Some(refresh);
            state.username = Some(username);
            state.provider = provider;
            state.remember = remember;
            state.unsaved = remember;
            state.signed_out_by_player = false;
            state.last_failure = None;
            state.wait_until = None;
            state.generation
        };
        let _ = self.changes.send((account.clone(), AccountStatus::SignedIn));
        let remembered = if remember {
            self.save_or_retry(&slot, &account).await.map(|()| true)
        } else {
            // Not remembered on this computer: any older saved credential of this account must go too.
            let deleted = self.keychain.delete(&slot, &account, generation).await;
            self.keychain.note(&slot, &account, deleted.as_ref().err().cloned());
            deleted.map(|()| false)
        };
        SignedIn { account, remembered }
    }

    /// Who `account` is, for a browser sign-in meant to sign it in again: its name, and its provider `sub` if
    /// it signed in through a provider before (from memory, else from its keychain record).
    pub async fn expected_account(&self, account: &AccountKey) -> ExpectedAccount {
        let slot = self.slot_or_new(account);
        let (mut username, mut provider) = {
            let state = slot.state();
            (state.username.clone(), state.provider.clone())
        };
        if (username.is_none() || provider.is_none())
            && let Ok(Some(saved)) = self.keychain.read(&slot, account).await
        {
            username = username.or(saved.username);
            provider = provider.or(saved.provider);
        }
        let login_hint = provider.as_ref().and_then(|p| p.login_name.clone()).or_else(|| username.clone());
        ExpectedAccount {
            account: account.clone(),
            name: username.unwrap_or_else(|| account.user_id().to_owned()),
            subject: provider.map(|p| p.subject),
            login_hint,
        }
    }

    /// A refresh credential of a new, independent session of `account` (for another computer), through the
    /// account's route, with a fresh access token (single flight). One retry if the server no longer accepts
    /// the access token.
    pub async fn fork(&self, account: &AccountKey) -> Result<SecretString, ForkError> {
        let mut retried = false;
        loop {
            let access = self.token_for(account).await?;
            let http = self.transport.for_account(account);
            match self.authority.fork(&http, account.origin(), account.user_id(), &access).await {
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

    /// Registers a saved account at start-up. No network and no keychain access yet: the first
    /// [`Sessions::token_for`] reads the keychain and refreshes. Until then the account is `Loading`, never
    /// signed out (I11).
    pub fn restore(&self, account: &AccountKey) {
        let slot = self.slot_or_new(account);
        let mut state = slot.state();
        if state.status == AccountStatus::SignedOut && state.refresh.is_none() && !state.signed_out_by_player {
            state.status = AccountStatus::Loading;
            state.remember = true;
        }
    }

    /// Registers an account the player signed out of in an earlier run (the shell keeps that on disk): it stays
    /// signed out here even if the keychain still holds its credential (a delete that could not run then).
    pub fn mark_signed_out(&self, account: &AccountKey) {
        let slot = self.slot_or_new(account);
        let mut state = slot.state();
        if state.status == AccountStatus::SignedOut && state.refresh.is_none() {
            state.signed_out_by_player = true;
        }
    }

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

    /// Signs the account out: locally at once (also offline), then in the keychain, then on the server (best
    /// effort, with the refresh credential, so it works even when the access token has expired).
    pub async fn sign_out(&self, account: &AccountKey) -> Result<(), VaultError> {
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
        if let (Some(link), Some(refresh)) = (&provider, &refresh) {
            // RFC 7009 at the provider, if it offers it: no new access tokens for this grant.
            if let Err(error) = self.providers.revoke(&http, link, refresh).await {
                tracing::info!(account = %account, %error, "provider sign-out failed; the local sign-out stands");
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
        deleted
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
    async fn save_or_retry(&self, slot: &Arc<Slot>, account: &AccountKey) -> Result<(), VaultError> {
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
