//! Signing an account in: with a password, or with a grant its identity provider gave (a browser sign-in);
//! registering a saved account at start-up (restored, or signed out by the player in an earlier run); and who
//! a known account is, for signing it in again.

use secrecy::SecretString;

use super::{AccountStatus, Sessions, SignInError, SignedIn};
use crate::account::{AccountKey, ServerOrigin};
use crate::authority::AccessToken;
use crate::oidc::flow::ExpectedAccount;
use crate::oidc::{ProviderGrant, ProviderLink};
use crate::proxy::ProxyUrl;

impl Sessions {
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
}
