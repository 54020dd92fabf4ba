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

use super::authorize::AuthorizationRequest;
use super::callback;
use super::discovery::ProviderMetadata;
use super::game::OidcConfig;
use super::loopback::{Loopback, Redirect};
use super::pkce::{Pkce, random_urlsafe};
use super::tokens::{self, CodeExchange};
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
}

impl BrowserSignIn {
    pub(crate) async fn begin(begin: Begin<'_>) -> Result<Self, OidcError> {
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
            loopback,
            pending: Pending {
                config: begin.config,
                provider,
                redirect_uri,
                state,
                nonce: SecretString::from(nonce),
                verifier: Some(pkce.verifier),
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

    /// Test hook: exchange the code without the PKCE verifier, to check that the provider refuses it.
    #[doc(hidden)]
    pub fn without_pkce_verifier(mut self) -> Self {
        self.pending.verifier = None;
        self
    }

    /// Waits for the browser's redirect (or the timeout, or a cancel).
    pub(crate) async fn wait(self) -> Result<(Arrived, Redirect), OidcError> {
        let redirect = self.loopback.wait(self.timeout, self.cancel).await?;
        let arrived =
            Arrived { window: self.window, origin: self.origin, expected: self.expected, pending: self.pending };
        Ok((arrived, redirect))
    }
}

/// A sign-in whose redirect has arrived.
pub(crate) struct Arrived {
    pub window: WindowLabel,
    pub origin: ServerOrigin,
    pub expected: Option<ExpectedAccount>,
    pending: Pending,
}

impl Arrived {
    /// Checks the redirect, exchanges its code, and verifies what comes back. A grant for another player than
    /// the expected one is revoked at once (best effort) and refused.
    pub async fn exchange(
        &self,
        providers: &Providers,
        http: &reqwest::Client,
        query: &[(String, String)],
    ) -> Result<ProviderGrant, OidcError> {
        let Pending { config, provider, redirect_uri, state, nonce, verifier } = &self.pending;
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
        let id_token = answer.id_token.as_deref().ok_or(OidcError::IdToken("the provider sent none"))?;
        let claims = providers.keys.verify_id_token(http, provider, id_token, &config.client_id, nonce).await?;
        let signed_in_as = claims.preferred_username.clone().unwrap_or_else(|| claims.sub.clone());
        let refresh_token = answer.refresh_token.ok_or(OidcError::NoRefreshToken)?;
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
            let _ = providers.revoke(http, &link, &refresh_token).await;
            return Err(OidcError::OtherAccount { signed_in_as, expected: expected.name.clone() });
        }
        let access = providers
            .access_token(http, provider, &link, answer.access_token, answer.expires_in, answer.received)
            .await?;
        Ok(ProviderGrant { link, access, refresh_token, signed_in_as })
    }
}
