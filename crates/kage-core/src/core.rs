//! [`Core`]: the parts wired together, and the few operations that span several of them (sign-in pins a
//! window, sign-out also erases the cache). This is what the desktop shell holds.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use secrecy::SecretString;
use serde::Serialize;

use crate::account::{AccountKey, ServerOrigin, WindowLabel};
use crate::actions::{Action, Stat};
use crate::cache::ProfileCache;
use crate::client::{Client, ClientError};
use crate::events::{Events, LiveConfig};
pub use crate::model::AccountProfile;
use crate::model::Profile;
use crate::offline::{OfflineCause, OfflineCauses};
use crate::oidc::flow::Begin;
use crate::oidc::loopback::Page;
use crate::oidc::under_way::SignInsUnderWay;
use crate::oidc::{AuthConfig, BrowserSignIn, OidcError};
use crate::proxy::{ProxyError, ProxyUrl};
use crate::server_sessions::{self, AccountSession, SessionsError};
use crate::sessions::{
    AccountStatus, ForkError, ImportOutcome, KEYCHAIN_TIMEOUT, ProviderSignOut, Sessions, SignInError, SignedIn,
};
use crate::transport::Transport;
use crate::vault::{CredentialStore, VaultError};
use crate::windows::Windows;

#[derive(Debug, Clone)]
pub struct CoreConfig {
    /// Where per-account caches live (`accounts/<key>/`).
    pub data_dir: PathBuf,
    pub live: LiveConfig,
    /// Bound on every request, refreshes included: how long a window may show "loading" before "offline".
    pub request_timeout: Duration,
    /// Bound on every keychain call (an unlock prompt nobody answers must not hold an account for ever).
    pub keychain_timeout: Duration,
    /// How long a browser sign-in waits for the browser to come back before giving up.
    pub browser_sign_in_timeout: Duration,
}

impl CoreConfig {
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        Self {
            data_dir: data_dir.into(),
            live: LiveConfig::default(),
            request_timeout: Duration::from_secs(15),
            keychain_timeout: KEYCHAIN_TIMEOUT,
            browser_sign_in_timeout: Duration::from_secs(5 * 60),
        }
    }
}

/// What a window shows before (or instead of) a fresh answer: its account, its state, its cached profile.
#[derive(Debug, Clone, Serialize)]
pub struct WindowView {
    pub account: Option<String>,
    pub status: AccountStatus,
    pub cached: Option<Profile>,
    /// When the cached profile was stored, in seconds since the Unix epoch (for "last updated" banners).
    pub cached_at: Option<u64>,
    /// What is wrong with the keychain for this account, if anything (the account may still be signed in).
    pub keychain: Option<&'static str>,
    /// Why the account is offline, once found (`status` offline; `None` for a moment while it is looked into).
    pub offline: Option<OfflineCause>,
}

/// Runs `$call` with the account's token, and once more with a fresh one if the server no longer took it.
macro_rules! with_fresh_token {
    ($core:expr, $account:expr, |$access:ident| $call:expr) => {{
        let mut retried = false;
        loop {
            let token = $core.sessions.token_for($account).await?;
            let $access = &token;
            match $call.await {
                Err(error) if error.is_stale_token() && !retried => {
                    $core.sessions.invalidate($account, &token);
                    retried = true;
                }
                answer => break answer,
            }
        }
    }};
}

pub struct Core {
    pub sessions: Arc<Sessions>,
    pub windows: Arc<Windows>,
    pub cache: Arc<ProfileCache>,
    pub client: Arc<Client>,
    pub events: Arc<Events>,
    transport: Arc<Transport>,
    sign_ins: SignInsUnderWay,
    browser_sign_in_timeout: Duration,
    /// Why each account offline now is offline (see [`crate::offline`]), found by `diagnosing`.
    offline: Arc<OfflineCauses>,
    diagnosing: tokio::task::JoinHandle<()>,
}

impl Core {
    /// Must be called inside a tokio runtime (live updates run as tasks).
    pub fn new(config: CoreConfig, vault: Arc<dyn CredentialStore>) -> Self {
        let transport = Arc::new(Transport::new(config.request_timeout));
        let sessions = Arc::new(Sessions::new(transport.clone(), vault, config.keychain_timeout));
        let windows = Arc::new(Windows::default());
        let cache = Arc::new(ProfileCache::open(config.data_dir));
        let client = Arc::new(Client::new(transport.clone(), sessions.clone(), windows.clone(), cache.clone()));
        let events = Events::new(transport.clone(), client.clone(), sessions.clone(), windows.clone(), config.live);
        let offline = Arc::new(OfflineCauses::default());
        let diagnosing = tokio::spawn(diagnose_offline(
            sessions.status_changes(),
            offline.clone(),
            transport.clone(),
            Arc::downgrade(&events),
        ));
        Self {
            sessions,
            windows,
            cache,
            client,
            events,
            transport,
            sign_ins: SignInsUnderWay::default(),
            browser_sign_in_timeout: config.browser_sign_in_timeout,
            offline,
            diagnosing,
        }
    }

    /// Signs in with a password, directly (no proxy), and pins `window` to the account signed in.
    pub async fn sign_in(
        &self,
        window: &WindowLabel,
        origin: &ServerOrigin,
        username: &str,
        password: &SecretString,
        remember: bool,
    ) -> Result<SignedIn, SignInError> {
        self.sign_in_through(window, origin, username, password, remember, None).await
    }

    /// Signs in with a password through `proxy` (`None`: direct) and pins `window` to the account signed in.
    /// The proxy then carries every request of that account, until [`Core::set_proxy`] changes it.
    pub async fn sign_in_through(
        &self,
        window: &WindowLabel,
        origin: &ServerOrigin,
        username: &str,
        password: &SecretString,
        remember: bool,
        proxy: Option<ProxyUrl>,
    ) -> Result<SignedIn, SignInError> {
        let signed_in = self.sessions.sign_in(origin, username, password, remember, None, proxy.as_ref()).await?;
        self.windows.pin(window, &signed_in.account);
        // A stream still open from before (signed in again through another proxy) must not keep the old route.
        self.events.reconnect(&signed_in.account);
        Ok(signed_in)
    }

    /// How `origin` lets players sign in: with a password, with the browser (through which provider), or both.
    pub async fn auth_config(&self, origin: &ServerOrigin) -> Result<AuthConfig, OidcError> {
        crate::oidc::game::auth_config(&self.transport.through(origin, None)?, origin).await
    }

    /// Starts signing `window` in with the browser: returns the handle whose
    /// [`BrowserSignIn::authorization_url`] the shell opens in the system browser, then passes to
    /// [`Core::finish_browser_sign_in`]. With `expected` (signing a known account in again), the provider's
    /// login page offers that player's name, and a sign-in as anyone else is refused. The login page is shown
    /// every time, whatever the browser's provider session (see [`crate::oidc`]). A sign-in already under way
    /// in this window is cancelled.
    pub async fn begin_browser_sign_in(
        &self,
        window: &WindowLabel,
        origin: &ServerOrigin,
        expected: Option<&AccountKey>,
    ) -> Result<BrowserSignIn, OidcError> {
        self.begin_browser_sign_in_through(window, origin, expected, None).await
    }

    /// As [`Core::begin_browser_sign_in`], every request of the sign-in (the game server's and the identity
    /// provider's: discovery, keys, token, revocation) through `proxy`; the account then keeps that route.
    /// `None`: a known account's own route, else direct.
    pub async fn begin_browser_sign_in_through(
        &self,
        window: &WindowLabel,
        origin: &ServerOrigin,
        expected: Option<&AccountKey>,
        proxy: Option<ProxyUrl>,
    ) -> Result<BrowserSignIn, OidcError> {
        if expected.is_some_and(|account| account.origin() != origin) {
            return Err(OidcError::Malformed("the account to sign in again is on another server".into()));
        }
        let http = self.flow_http(origin, expected, proxy.as_ref())?;
        let config = crate::oidc::game::auth_config(&http, origin).await?.oidc.ok_or(OidcError::NotOffered)?;
        // Tokens are fetched only for this server's own API (issue 17.2): checked before the browser opens.
        crate::oidc::game::check_audience(&http, origin, &config).await?;
        let expected = match expected {
            Some(account) => Some(self.sessions.expected_account(account).await),
            None => None,
        };
        let (flow_id, cancel, cancelled) = self.sign_ins.prepare();
        let sign_in = BrowserSignIn::begin(Begin {
            providers: self.sessions.providers(),
            http: &http,
            origin,
            config,
            window,
            expected,
            timeout: self.browser_sign_in_timeout,
            cancel: cancelled,
            flow_id,
            proxy,
        })
        .await?;
        self.sign_ins.start(window, flow_id, cancel);
        Ok(sign_in)
    }

    /// Waits for the browser to come back, then completes the sign-in: checks the redirect, exchanges the code
    /// (PKCE), verifies the ID token, learns the player id from the game server with the new access token, saves
    /// the provider's refresh token in the keychain if `remember`, and pins the window that began it. The
    /// browser tab is answered last, with "Signed in" or the reason it failed.
    pub async fn finish_browser_sign_in(&self, sign_in: BrowserSignIn, remember: bool) -> Result<SignedIn, OidcError> {
        let (window, flow_id) = (sign_in.window.clone(), sign_in.flow_id);
        let waited = sign_in.wait().await;
        self.sign_ins.done(&window, flow_id);
        let (arrived, redirect) = waited?;
        let outcome = self.complete_browser_sign_in(&arrived, &redirect.query, remember).await;
        if let Err(error) = &outcome {
            tracing::info!(window = %arrived.window, %error, "browser sign-in refused");
        }
        let page = match &outcome {
            Ok(_) => Page::SignedIn,
            Err(error) => Page::Failed(error.to_string()),
        };
        redirect.answer(page).await;
        outcome
    }

    /// Cancels the window's browser sign-in under way: its `finish_browser_sign_in` returns
    /// [`OidcError::Cancelled`]. Returns whether there was one.
    pub fn cancel_browser_sign_in(&self, window: &WindowLabel) -> bool {
        self.sign_ins.cancel(window)
    }

    async fn complete_browser_sign_in(
        &self,
        arrived: &crate::oidc::flow::Arrived,
        query: &[(String, String)],
        remember: bool,
    ) -> Result<SignedIn, OidcError> {
        let expected = arrived.expected.as_ref().map(|e| &e.account);
        let http = self.flow_http(&arrived.origin, expected, arrived.proxy.as_ref())?;
        let providers = self.sessions.providers();
        let grant = arrived.exchange(providers, &http, query).await?;
        // The account is the game's player, whoever the provider says signed in: ask the game server.
        let account = match crate::oidc::game::viewer(&http, &arrived.origin, &grant.access.secret).await {
            Ok(profile) => {
                let account = AccountKey::new(arrived.origin.clone(), profile.id.clone());
                match &arrived.expected {
                    Some(expected) if expected.account != account => {
                        Err(arrived.other_account(Some(&account), profile.username))
                    }
                    _ => Ok((account, profile.username)),
                }
            }
            Err(error) => Err(error),
        };
        let (account, username) = match account {
            Ok(account) => account,
            Err(error) => {
                // A grant Kage does not keep is ended at the provider, not left alive there.
                if let Err(revoke) = providers.revoke(&http, &grant.link, &grant.refresh_token).await {
                    tracing::info!(error = %revoke, "could not revoke a grant Kage refused");
                }
                return Err(error);
            }
        };
        // Before anything else can send for this account: its route is the one its sign-in took.
        if let Some(proxy) = &arrived.proxy {
            self.transport.set(&account, Some(proxy.clone()))?;
        }
        let signed_in = self.sessions.sign_in_with_provider(account, username, grant, remember).await;
        self.windows.pin(&arrived.window, &signed_in.account);
        self.events.reconnect(&signed_in.account);
        Ok(signed_in)
    }

    /// The route a browser sign-in's requests take: the proxy it was given, else a known account's own, else
    /// direct.
    fn flow_http(
        &self,
        origin: &ServerOrigin,
        expected: Option<&AccountKey>,
        proxy: Option<&ProxyUrl>,
    ) -> Result<reqwest::Client, ProxyError> {
        match (proxy, expected) {
            (Some(proxy), _) => self.transport.through(origin, Some(proxy)),
            (None, Some(account)) => Ok(self.transport.for_account(account)),
            (None, None) => self.transport.through(origin, None),
        }
    }

    /// Routes every request of `account` through `proxy` (`None`: direct), from its next request on; its
    /// event stream reconnects through the new route. Proxy settings are the shell's to keep: after a restart,
    /// set them before [`Core::open`], so the account's first request already takes its route.
    pub fn set_proxy(&self, account: &AccountKey, proxy: Option<ProxyUrl>) -> Result<(), ProxyError> {
        if self.transport.set(account, proxy)? {
            self.events.reconnect(account);
        }
        Ok(())
    }

    /// Sends nothing for `account` until [`Core::set_proxy`] gives it a route again: its saved proxy cannot be
    /// used (`why`, a sentence for its windows). It is offline with that cause, never direct instead.
    pub fn block_route(&self, account: &AccountKey, why: String) {
        self.transport.block(account, why);
        self.events.reconnect(account);
    }

    /// The account's proxy, if it has one.
    pub fn proxy_of(&self, account: &AccountKey) -> Option<ProxyUrl> {
        self.transport.proxy_of(account)
    }

    /// A refresh credential of a new, independent session of `account`, for moving it to another computer
    /// (an export file): the two computers never share one refresh-token family, so neither one's rotation
    /// reads as reuse and signs the other out. Goes through the account's route, with a fresh access token.
    pub async fn fork_credential(&self, account: &AccountKey) -> Result<SecretString, ForkError> {
        self.sessions.fork(account).await
    }

    /// The account's live sessions on its server, for the accounts panel: this computer's, those exported
    /// from it, and the others. With the account's own token, through its own route.
    pub async fn sessions_of(&self, account: &AccountKey) -> Result<Vec<AccountSession>, SessionsError> {
        with_fresh_token!(self, account, |access| server_sessions::list(&self.transport, account, access))
    }

    /// Ends one of the account's sessions on its server (another computer's, an export), and the sessions
    /// exported from it. This computer's own session is ended by signing out instead.
    pub async fn end_session(&self, account: &AccountKey, session_id: &str) -> Result<(), SessionsError> {
        with_fresh_token!(self, account, |access| server_sessions::end(&self.transport, account, access, session_id))
    }

    /// Ends every session of the account on its server but this computer's. Returns how many were ended.
    pub async fn end_other_sessions(&self, account: &AccountKey) -> Result<usize, SessionsError> {
        with_fresh_token!(self, account, |access| server_sessions::end_others(&self.transport, account, access))
    }

    /// Takes in an account from an export file: its credential is saved in the keychain only if this computer
    /// has none for it yet (otherwise `AlreadySaved`, and the existing one is kept), and the account is
    /// restored as a saved account is at start-up. Set its proxy first, if it has one.
    pub async fn import_credential(
        &self,
        account: &AccountKey,
        username: &str,
        refresh_token: SecretString,
    ) -> Result<ImportOutcome, VaultError> {
        let outcome = self.sessions.import(account, username, refresh_token).await?;
        self.events.sync_streams();
        Ok(outcome)
    }

    /// Pins `window` to a saved account (start-up restore, switching, opening in a new window). The account's
    /// credential is read from the keychain when its first request needs it.
    pub fn open(&self, window: &WindowLabel, account: &AccountKey) {
        self.sessions.restore(account);
        self.windows.pin(window, account);
        self.events.sync_streams();
    }

    /// Signs out the window's account everywhere it is open: the session, its keychain entry and its cache
    /// partition (erased also when offline). Other accounts are not touched. Its windows stay pinned to it and
    /// show "signed out", so they can offer to sign that same account in again.
    pub async fn sign_out(&self, window: &WindowLabel) -> Result<SignedOut, SignOutError> {
        let account = self.windows.pin_of(window).ok_or(SignOutError::NotPinned)?.account;
        let provider_kept = self.sign_out_account(&account, Reach::Server).await?.provider_kept;
        Ok(SignedOut { account, provider_kept })
    }

    /// Removes a saved account from this computer: signs it out as [`Core::sign_out_account`] does (as far as
    /// `reach`), then unpins its windows (they return to the sign-in screen). Returns those windows. Best effort:
    /// a keychain or cache failure is logged, the account is forgotten all the same.
    pub async fn forget(&self, account: &AccountKey, reach: Reach) -> Vec<WindowLabel> {
        if let Err(error) = self.sign_out_account(account, reach).await {
            tracing::warn!(account = %account, %error, "forgetting an account: keychain or cache not fully cleared");
        }
        let windows = self.windows.windows_of(account);
        for window in &windows {
            self.close(window);
        }
        windows
    }

    /// Signs `account` out everywhere it is open, as [`Core::sign_out`] does for a window's account (the
    /// accounts panel signs out an account from any window); with [`Reach::ThisComputer`], nothing is sent.
    pub async fn sign_out_account(&self, account: &AccountKey, reach: Reach) -> Result<SignedOut, SignOutError> {
        let provider = match reach {
            Reach::Server => self.sessions.sign_out(account).await,
            Reach::ThisComputer => self.sessions.sign_out_here(account).await.map(|()| ProviderSignOut::Done),
        };
        // New epochs for the account's windows: answers still in flight from before the sign-out are dropped
        // instead of refilling the partition erased next (I3, I4).
        for window in self.windows.windows_of(account) {
            self.windows.pin(&window, account);
        }
        let cache = self.cache.erase(account);
        self.events.sync_streams();
        let provider = provider.map_err(SignOutError::Keychain)?;
        cache.map_err(|e| SignOutError::Cache(e.to_string()))?;
        Ok(SignedOut { account: account.clone(), provider_kept: provider == ProviderSignOut::NotOffered })
    }

    /// The app is quitting: every background task stops now, mid-request or not.
    pub fn shutdown(&self) {
        self.diagnosing.abort();
        self.events.shutdown();
        self.sessions.shutdown();
    }

    /// The window closed.
    pub fn close(&self, window: &WindowLabel) {
        self.sign_ins.cancel(window);
        self.windows.unpin(window);
        self.events.detach(window);
    }

    /// The window's profile, fresh from the server, labelled with the window's account. This and the actions
    /// below are the shell's only way to a window's answer: the label is the pin the client checked the
    /// answer against (I3, checked once, in `Client::accept`), so no caller passes the window twice or labels
    /// an answer itself.
    pub async fn profile(&self, window: &WindowLabel) -> Result<AccountProfile, ClientError> {
        self.client.answer(window, None).await
    }

    /// The window's account trains `stat`; the answer is its new profile, labelled.
    pub async fn train(&self, window: &WindowLabel, stat: Stat) -> Result<AccountProfile, ClientError> {
        self.client.answer(window, Some(Action::Train { stat })).await
    }

    /// The window's account travels to `village`; the answer is its new profile, labelled.
    pub async fn travel(&self, window: &WindowLabel, village: &str) -> Result<AccountProfile, ClientError> {
        self.client.answer(window, Some(Action::Travel { village: village.to_owned() })).await
    }

    /// The window's account sends `amount` ryo to the player named `to`; the answer is its new profile,
    /// labelled.
    pub async fn transfer(&self, window: &WindowLabel, to: &str, amount: i64) -> Result<AccountProfile, ClientError> {
        self.client.answer(window, Some(Action::Transfer { to: to.to_owned(), amount })).await
    }

    pub fn view(&self, window: &WindowLabel) -> WindowView {
        match self.windows.pin_of(window) {
            None => WindowView {
                account: None,
                status: AccountStatus::SignedOut,
                cached: None,
                cached_at: None,
                keychain: None,
                offline: None,
            },
            Some(pin) => self.account_view(&pin.account),
        }
    }

    /// What a window pinned to `account` shows. Reads no pin: a window's sink calls it while core holds the
    /// pins for a delivery (see [`Events::deliver`]).
    pub fn account_view(&self, account: &AccountKey) -> WindowView {
        let cached = self.cache.get(account);
        let status = self.sessions.status(account);
        WindowView {
            account: Some(account.id().to_owned()),
            offline: (status == AccountStatus::Offline).then(|| self.offline.of(account)).flatten(),
            status,
            keychain: self.sessions.keychain_problem(account),
            cached_at: cached.as_ref().map(|c| unix_seconds(c.stored_at)),
            cached: cached.map(|c| c.profile),
        }
    }
}

/// Looks into why each account that turns offline is, and tells its windows once it knows (a status message
/// with the account's state, which now names the cause). An account back online forgets its cause.
async fn diagnose_offline(
    mut changes: tokio::sync::broadcast::Receiver<(AccountKey, AccountStatus)>,
    causes: Arc<OfflineCauses>,
    transport: Arc<Transport>,
    events: std::sync::Weak<Events>,
) {
    use tokio::sync::broadcast::error::RecvError;
    loop {
        let (account, status) = match changes.recv().await {
            Ok(change) => change,
            Err(RecvError::Lagged(_)) => continue,
            Err(RecvError::Closed) => return,
        };
        if status != AccountStatus::Offline {
            causes.set(&account, None);
            continue;
        }
        let (causes, transport, events) = (causes.clone(), transport.clone(), events.clone());
        tokio::spawn(async move {
            let cause = match transport.blocked(&account) {
                Some(reason) => OfflineCause::ProxyNotUsable { reason },
                None => crate::offline::diagnose(transport.proxy_of(&account).as_ref(), account.origin()).await,
            };
            causes.set(&account, Some(cause));
            if let Some(events) = events.upgrade() {
                events.deliver(&account, &crate::events::WindowUpdate::Status { status: AccountStatus::Offline });
            }
        });
    }
}

fn unix_seconds(at: SystemTime) -> u64 {
    at.duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// How far a sign-out reaches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reach {
    /// The session ends at its server (and identity provider) too.
    Server,
    /// On this computer only: nothing is sent and the saved credential is not read. For an account Kage may not
    /// send its credential for on this run (its loopback server moved: whoever holds the old port is not it).
    ThisComputer,
}

/// A sign-out done: the account, and whether its identity provider's grant could not be ended from Kage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedOut {
    pub account: AccountKey,
    /// The account signed in through an identity provider that offers no revocation: Kage's sign-out stands,
    /// but the provider still holds the grant (see [`SignedOut::notice`]).
    pub provider_kept: bool,
}

impl SignedOut {
    /// What the player should know beyond "signed out", if anything.
    pub fn notice(&self) -> Option<&'static str> {
        self.provider_kept.then_some(
            "Signed out of Kage. The identity provider offers no way to end this sign-in from Kage: to end it \
             there too, sign out on the provider's own site.",
        )
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SignOutError {
    #[error("this window is not signed in to an account")]
    NotPinned,
    #[error("signed out, but the saved credential could not be removed from the keychain: {0}")]
    Keychain(VaultError),
    #[error("signed out, but the cached profile could not be erased: {0}")]
    Cache(String),
}
