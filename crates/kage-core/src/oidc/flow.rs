//! One window's browser sign-in, from the authorization URL to a verified provider grant.
//!
//! [`BrowserSignIn`] is the handle between the two halves: [`crate::core::Core::begin_browser_sign_in`] makes
//! it (fresh PKCE verifier, `state`, `nonce`, its own loopback listener) and the shell opens its
//! [`BrowserSignIn::authorization_url`]; [`crate::core::Core::finish_browser_sign_in`] consumes it. The handle
//! carries the window that asked, so the account ends up in that window whichever tab or flow answers first:
//! each flow has its own port and its own `state`, and a redirect is matched to nothing else.

use std::sync::Arc;
use std::time::Duration;

use secrecy::SecretString;
use tokio::sync::oneshot;

use std::collections::HashMap;
use std::time::SystemTime;

use super::authorize::AuthorizationRequest;
use super::callback;
use super::discovery::ProviderMetadata;
use super::game::OidcConfig;
use super::keys::SignInCheck;
use super::loopback::{Loopback, Redirect};
use super::pkce::{Pkce, random_urlsafe};
use super::tokens::{self, CodeExchange, TokenAnswer};
use super::{OidcError, ProviderLink, Providers};
use crate::account::{AccountKey, ServerOrigin, WindowLabel};
use crate::authority::AccessToken;

/// The account a sign-in is for, when a known account is signed in again.
#[derive(Debug, Clone)]
pub struct ExpectedAccount {
    pub account: AccountKey,
    /// How the player knows it (its username), for the "this window is for ..." sentence.
    pub name: String,
    /// Its provider `sub`, when it signed in through this provider before: checked right after the exchange.
    pub subject: Option<String>,
    pub login_hint: Option<String>,
}

/// How the player is to read accounts in this sign-in's messages (the window's error and the browser tab's
/// page), when the shell names accounts by alias (streamer mode): the names the shell chose, never usernames.
#[derive(Debug, Clone, Default)]
pub struct AccountNames {
    /// The account this window is for, when a known account is signed in again.
    pub expected: Option<String>,
    /// Every account the shell knows, by key.
    pub known: HashMap<AccountKey, String>,
    /// Anyone else ("another account").
    pub other: String,
}

/// A browser sign-in under way for one window. Open [`Self::authorization_url`] in the system browser, then
/// hand this to `finish_browser_sign_in`. Dropping it abandons the sign-in and closes its listener.
pub struct BrowserSignIn {
    authorization_url: String,
    pub(crate) window: WindowLabel,
    pub(crate) origin: ServerOrigin,
    pub(crate) expected: Option<ExpectedAccount>,
    pub(crate) timeout: Duration,
    pub(crate) cancel: oneshot::Receiver<()>,
    /// Identifies this flow among the window's (a newer sign-in in the same window replaces this one).
    pub(crate) flow_id: u64,
    pub(crate) names: Option<AccountNames>,
    pub(crate) proxy: Option<crate::proxy::ProxyUrl>,
    loopback: Loopback,
    pending: Pending,
}

/// What the second half needs once the redirect has arrived.
pub(crate) struct Pending {
    config: OidcConfig,
    provider: Arc<ProviderMetadata>,
    redirect_uri: String,
    state: String,
    nonce: SecretString,
    verifier: Option<SecretString>,
    /// When the sign-in began: the ID token's `auth_time` must not be earlier.
    started: SystemTime,
}

impl std::fmt::Debug for BrowserSignIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BrowserSignIn")
            .field("window", &self.window)
            .field("origin", &self.origin)
            .field("redirect_uri", &self.pending.redirect_uri)
            .finish_non_exhaustive()
    }
}

/// A provider sign-in, verified: whose it is at the provider, and its tokens.
pub struct ProviderGrant {
    pub link: ProviderLink,
    pub access: AccessToken,
    pub refresh_token: SecretString,
    /// `preferred_username`, else `sub`: how to name the player in "you signed in as ...".
    pub signed_in_as: String,
}

pub(crate) struct Begin<'a> {
    pub providers: &'a Providers,
    pub http: &'a reqwest::Client,
    pub origin: &'a ServerOrigin,
    pub config: OidcConfig,
    pub window: &'a WindowLabel,
    pub expected: Option<ExpectedAccount>,
    pub timeout: Duration,
    pub cancel: oneshot::Receiver<()>,
    pub flow_id: u64,
    /// The route every request of the sign-in takes, and the account's afterwards (`None`: see `flow_http`).
    pub proxy: Option<crate::proxy::ProxyUrl>,
}

impl BrowserSignIn {
    pub(crate) async fn begin(begin: Begin<'_>) -> Result<Self, OidcError> {
        let started = SystemTime::now();
        let issuer = super::Issuer::parse(&begin.config.issuer)?;
        let provider = begin.providers.metadata(begin.http, &issuer).await?;
        let loopback = Loopback::bind().await?;
        let redirect_uri = loopback.redirect_uri();
        let pkce = Pkce::new();
        let state = random_urlsafe(32);
        let nonce = random_urlsafe(32);
        let login_hint = begin.expected.as_ref().and_then(|e| e.login_hint.as_deref());
        let authorization_url = AuthorizationRequest {
            authorization_endpoint: &provider.authorization_endpoint,
            client_id: &begin.config.client_id,
            redirect_uri: &redirect_uri,
            scopes: &begin.config.scopes,
            code_challenge: &pkce.challenge,
            state: &state,
            nonce: &nonce,
            resource: Some(&begin.config.audience),
            login_hint,
            extra: &begin.config.authorization_params,
        }
        .url()?;
        Ok(Self {
            authorization_url,
            window: begin.window.clone(),
            origin: begin.origin.clone(),
            expected: begin.expected,
            timeout: begin.timeout,
            cancel: begin.cancel,
            flow_id: begin.flow_id,
            names: None,
            proxy: begin.proxy,
            loopback,
            pending: Pending {
                config: begin.config,
                provider,
                redirect_uri,
                state,
                nonce: SecretString::from(nonce),
                verifier: Some(pkce.verifier),
                started,
            },
        })
    }

    /// The URL to open in the system browser. It carries no secret (only the PKCE challenge, `state` and
    /// `nonce`, which are useless without the verifier this handle keeps).
    pub fn authorization_url(&self) -> &str {
        &self.authorization_url
    }

    /// The window that asked: the account signed in here is pinned to it, and to no other.
    pub fn window(&self) -> &WindowLabel {
        &self.window
    }

    /// Where the provider sends the browser back (`http://127.0.0.1:<port>/callback`).
    pub fn redirect_uri(&self) -> &str {
        &self.pending.redirect_uri
    }

    /// Names accounts in this sign-in's messages as `names` says (streamer mode's aliases), instead of by their
    /// usernames.
    pub fn name_accounts(mut self, names: AccountNames) -> Self {
        self.names = Some(names);
        self
    }

    /// Test hook: exchange the code without the PKCE verifier, to check that the provider refuses it.
    #[doc(hidden)]
    pub fn without_pkce_verifier(mut self) -> Self {
        self.pending.verifier = None;
        self
    }

    /// Waits for the browser's redirect (or the timeout, or a cancel).
    pub(crate) async fn wait(self) -> Result<(Arrived, Redirect), OidcError> {
        let redirect = self.loopback.wait(&self.pending.state, self.timeout, self.cancel).await?;
        let arrived = Arrived {
            window: self.window,
            origin: self.origin,
            expected: self.expected,
            names: self.names,
            proxy: self.proxy,
            pending: self.pending,
        };
        Ok((arrived, redirect))
    }
}

/// A sign-in whose redirect has arrived.
pub(crate) struct Arrived {
    pub window: WindowLabel,
    pub origin: ServerOrigin,
    pub expected: Option<ExpectedAccount>,
    pub names: Option<AccountNames>,
    pub proxy: Option<crate::proxy::ProxyUrl>,
    pending: Pending,
}

impl Arrived {
    /// `OtherAccount` for a sign-in as `signed_in_as` (the account, when the game server has said which),
    /// named as the shell asked.
    pub fn other_account(&self, account: Option<&AccountKey>, signed_in_as: String) -> OidcError {
        let expected = self.expected.as_ref().map(|e| e.name.clone()).unwrap_or_default();
        match &self.names {
            None => OidcError::OtherAccount { signed_in_as, expected },
            Some(names) => OidcError::OtherAccount {
                signed_in_as: account.and_then(|a| names.known.get(a)).cloned().unwrap_or_else(|| names.other.clone()),
                expected: names.expected.clone().unwrap_or(expected),
            },
        }
    }

    /// Checks the redirect, exchanges its code, and verifies what comes back. A grant that fails a check, or
    /// is for another player than the expected one, is revoked at once (best effort) and refused.
    pub async fn exchange(
        &self,
        providers: &Providers,
        http: &reqwest::Client,
        query: &[(String, String)],
    ) -> Result<ProviderGrant, OidcError> {
        let Pending { config, provider, redirect_uri, state, verifier, .. } = &self.pending;
        let code = callback::check(query, state, provider)?;
        let answer = tokens::exchange(
            http,
            CodeExchange {
                token_endpoint: &provider.token_endpoint,
                code: &code.0,
                redirect_uri,
                client_id: &config.client_id,
                code_verifier: verifier.as_ref(),
                resource: Some(&config.audience),
            },
        )
        .await?;
        match self.verify(providers, http, &answer).await {
            Ok((link, signed_in_as, sid)) => {
                let refresh_token = answer.refresh_token.clone().expect("checked by verify");
                let access = super::access_token(&link, answer, sid);
                Ok(ProviderGrant { link, access, refresh_token, signed_in_as })
            }
            Err(error) => {
                self.refuse(providers, http, &answer).await;
                Err(error)
            }
        }
    }

    /// The ID token, the refresh token, the expected player: what makes a code's answer a grant Kage keeps.
    async fn verify(
        &self,
        providers: &Providers,
        http: &reqwest::Client,
        answer: &TokenAnswer,
    ) -> Result<(ProviderLink, String, Option<String>), OidcError> {
        let Pending { config, provider, nonce, started, .. } = &self.pending;
        let id_token = answer.id_token.as_deref().ok_or(OidcError::IdToken("the provider sent none"))?;
        let check = SignInCheck { nonce, started: *started };
        let claims = providers.keys.verify_id_token(http, provider, id_token, &config.client_id, &check).await?;
        let signed_in_as = claims.preferred_username.clone().unwrap_or_else(|| claims.sub.clone());
        if answer.refresh_token.is_none() {
            return Err(OidcError::NoRefreshToken);
        }
        let link = ProviderLink {
            issuer: provider.issuer.as_str().to_owned(),
            client_id: config.client_id.clone(),
            resource: config.audience.clone(),
            subject: claims.sub,
            login_name: claims.preferred_username,
        };
        if let Some(expected) = &self.expected
            && expected.subject.as_ref().is_some_and(|subject| subject != &link.subject)
        {
            return Err(self.other_account(None, signed_in_as));
        }
        Ok((link, signed_in_as, claims.sid))
    }

    /// Ends, at the provider, a grant Kage will not keep: its refresh token, else its access token. Best
    /// effort: a provider without revocation, or one that does not answer, is only logged.
    pub async fn refuse(&self, providers: &Providers, http: &reqwest::Client, answer: &TokenAnswer) {
        let Pending { config, provider, .. } = &self.pending;
        let (token, hint) = match &answer.refresh_token {
            Some(refresh) => (refresh, "refresh_token"),
            None => (&answer.access_token, "access_token"),
        };
        match providers.revoke_token(http, provider.issuer.as_str(), &config.client_id, token, hint).await {
            Ok(super::Revocation::Revoked) => tracing::info!("a grant Kage refused was revoked at the provider"),
            Ok(super::Revocation::NotOffered) => {}
            Err(error) => tracing::info!(%error, "could not revoke a grant Kage refused"),
        }
    }
}
