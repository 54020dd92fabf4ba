//! Signing in with the browser: OpenID Connect, authorization code with PKCE, on a loopback redirect
//! (RFC 8252), one account per window.
//!
//! The flow, and where each step lives:
//! 1. [`game`]: the game server says which identity provider it trusts (`GET /v1/auth-config`).
//! 2. [`discovery`]: the provider's metadata, whose `issuer` must equal the configured one exactly.
//! 3. [`pkce`], [`authorize`], [`loopback`]: a fresh verifier, `state` and `nonce`; the authorization URL the
//!    shell opens in the system browser; a listener on `127.0.0.1:<port>` waiting for the redirect.
//! 4. [`callback`]: the redirect is checked (`state` exact, RFC 9207 `iss`, provider errors) before its code
//!    is used.
//! 5. [`tokens`]: the code is exchanged (with the verifier); later the refresh token is spent and revoked.
//! 6. [`keys`]: the ID token and the access tokens are verified with the provider's published keys.
//! 7. [`flow`]: the pieces in order, for one window's sign-in; [`crate::core::Core`] then learns the player
//!    id from the game server, saves the session, and pins the window that asked.
//!
//! Why `prompt=login` on every sign-in: the system browser keeps its own session with the provider, shared by
//! every window of Kage. Without forcing the login page, adding "alt" would silently answer as whoever the
//! browser last signed in ("main"): the seed bug, one level up. The `sub` that comes back is checked too.

pub mod authorize;
pub mod callback;
pub mod discovery;
pub mod flow;
pub mod game;
pub mod keys;
pub mod loopback;
pub mod pkce;
#[cfg(test)]
mod test_server;
pub mod tokens;
pub mod under_way;

use std::sync::Arc;

use secrecy::SecretString;
use serde::{Deserialize, Serialize};

use crate::authority::{AccessToken, AuthError, Refreshed};
use crate::locks::Recover;
pub use discovery::{Issuer, ProviderMetadata};
pub use flow::{AccountNames, BrowserSignIn, ExpectedAccount, ProviderGrant};
pub use game::{AuthConfig, OidcConfig};

/// What an account signed in through a provider needs, besides its refresh token, to refresh and sign out
/// later: saved with the refresh token in the keychain. Endpoints are not saved; they are discovered again
/// from the issuer, so a provider that moves its endpoints does not strand saved accounts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderLink {
    /// Exactly as the game server announced it (and as the provider's tokens carry it).
    pub issuer: String,
    pub client_id: String,
    /// The game API's audience (RFC 8707 `resource`): the provider's access tokens are issued for it.
    pub resource: String,
    /// The provider's `sub` for this player: a refreshed access token for anyone else is refused.
    pub subject: String,
    /// What the player typed at the provider (`preferred_username`), for `login_hint` when signing in again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub login_name: Option<String>,
}

/// Why a browser sign-in did not end with a signed-in window. No variant's text contains a token, a code or a
/// verifier (I6); provider descriptions are the provider's words, shown as they are.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OidcError {
    #[error("this server does not offer signing in with the browser")]
    NotOffered,
    /// An issuer or endpoint that is neither https nor plain http on this computer: tokens would travel in clear.
    #[error("{0:?} is not an https address (or http on this computer); Kage sends no tokens there")]
    InsecureUrl(String),
    #[error("the identity provider's address is not valid: {0}")]
    BadIssuer(String),
    /// Discovery answered for another issuer than the one configured (RFC 8414 section 3.3: exact match).
    #[error("the identity provider calls itself {found:?}, not {expected:?}; refusing it")]
    IssuerMismatch { expected: String, found: String },
    #[error("the identity provider does not support PKCE with S256")]
    NoPkceS256,
    #[error("the identity provider cannot be reached: {0}")]
    Unreachable(String),
    #[error("the identity provider asks to wait {retry_after_secs} s before trying again")]
    Throttled { retry_after_secs: u64 },
    #[error("the server answered {status}: {message}")]
    Server { status: u16, message: String },
    #[error("an answer from the identity provider or the game server is not valid: {0}")]
    Malformed(String),
    #[error("could not listen for the browser's answer on this computer: {0}")]
    Listener(String),
    #[error("no answer came from the browser within {after_secs} s; start the sign-in again")]
    TimedOut { after_secs: u64 },
    #[error("the sign-in was cancelled")]
    Cancelled,
    /// The redirect's `state` is not this sign-in's: it belongs to another flow, or was forged.
    #[error("the browser's answer does not belong to this sign-in; refusing it")]
    StateMismatch,
    /// RFC 9207: the redirect names another issuer than this sign-in's provider (a mix-up attack), or none
    /// where the provider promised one.
    #[error("{}", issuer_parameter_sentence(.found))]
    IssuerParameter { found: Option<String> },
    /// The provider answered the authorization request with an error (`access_denied` when the player pressed
    /// Cancel, `invalid_scope`, `login_required`...): a sentence for the code, then the provider's own words.
    #[error("{} ({error}{})", denied_sentence(.error), description_suffix(.description))]
    Denied { error: String, description: Option<String> },
    /// The token endpoint refused the code (used twice, expired, PKCE verifier missing or wrong...).
    #[error("the identity provider refused to complete the sign-in ({error}){}", description_suffix(.description))]
    Exchange { error: String, description: Option<String> },
    /// The ID token failed verification: signature, issuer, audience, expiry or nonce.
    #[error("the identity provider's ID token is not valid: {0}")]
    IdToken(&'static str),
    /// The access token is not a token of this provider for the game API about this player.
    #[error("the identity provider's access token is not valid: {0}")]
    AccessToken(&'static str),
    #[error("the identity provider gave no refresh token, so the session could not be kept")]
    NoRefreshToken,
    /// The player signed in as someone else than the account this window is for. Both names are for the
    /// shell's sentence: "You signed in as {signed_in_as} in the browser; this window is for {expected}."
    #[error("signed in as {signed_in_as} in the browser, but this window is for {expected}")]
    OtherAccount { signed_in_as: String, expected: String },
    /// The game server names an audience that is not its own (17.2): the tokens Kage would fetch could open
    /// another game's API.
    #[error(
        "this game server asks Kage to sign in for another service ({audience}), not for itself ({origin}); Kage \
         refuses, so that your sign-in cannot be used elsewhere"
    )]
    AudienceNotBound { audience: String, origin: String },
    /// `prompt=login` was not honoured: the ID token says the player signed in before this sign-in began, so
    /// the provider reused its session and the window could silently become someone else.
    #[error(
        "the identity provider did not show its sign-in page (it reused an earlier sign-in), so Kage cannot tell \
         who signed in; sign out at the identity provider and try again"
    )]
    ReusedProviderSession,
    /// The game server did not accept the provider's token for `GET /v1/viewer`.
    #[error("the game server did not accept the sign-in: {0}")]
    GameServer(String),
    #[error(transparent)]
    Proxy(#[from] crate::proxy::ProxyError),
}

fn description_suffix(description: &Option<String>) -> String {
    description.as_ref().map(|d| format!(": {d}")).unwrap_or_default()
}

fn issuer_parameter_sentence(found: &Option<String>) -> String {
    match found {
        Some(found) => format!("the browser's answer comes from another identity provider ({found}); refusing it"),
        None => "the browser's answer does not say which identity provider it comes from, though this provider \
                 promised to; refusing it"
            .into(),
    }
}

/// What an authorization error code (RFC 6749 4.1.2.1, OpenID Connect Core 3.1.2.6, RFC 8707) means for the
/// player.
fn denied_sentence(error: &str) -> &'static str {
    match error {
        "access_denied" => "the sign-in was cancelled, or refused, at the identity provider",
        "login_required" | "interaction_required" | "consent_required" | "account_selection_required" => {
            "the identity provider needs you to sign in, or to agree, on its page first"
        }
        "invalid_scope" => {
            "the identity provider does not accept the scopes this game server asks for (its operator can change them)"
        }
        "invalid_target" => "the identity provider does not issue tokens for this game server",
        "unauthorized_client" | "unsupported_response_type" => {
            "the identity provider does not let Kage sign in this way (the game's operator must allow it there)"
        }
        "server_error" | "temporarily_unavailable" => "the identity provider had a problem; try again in a moment",
        "invalid_request"
        | "invalid_request_uri"
        | "invalid_request_object"
        | "request_not_supported"
        | "request_uri_not_supported"
        | "registration_not_supported" => "the identity provider did not accept Kage's sign-in request",
        _ => "the identity provider refused the sign-in",
    }
}

/// What Kage knows about each identity provider this run: its metadata (discovered once) and its keys.
#[derive(Default)]
pub struct Providers {
    metadata: std::sync::Mutex<std::collections::HashMap<Issuer, Arc<ProviderMetadata>>>,
    pub(crate) keys: keys::Keys,
}

impl Providers {
    /// The provider's metadata, from this run's cache or discovered (and checked) now.
    pub async fn metadata(&self, http: &reqwest::Client, issuer: &Issuer) -> Result<Arc<ProviderMetadata>, OidcError> {
        if let Some(known) = self.metadata.lock().recover().get(issuer) {
            return Ok(known.clone());
        }
        let metadata = Arc::new(discovery::fetch(http, issuer).await?);
        self.metadata.lock().recover().insert(issuer.clone(), metadata.clone());
        Ok(metadata)
    }

    /// Spends a provider refresh token (single flight is the caller's). As [`crate::authority::Authority::refresh`]:
    /// `Err` means no new refresh token was received; a token endpoint's `invalid_grant` is the only `Rejected`.
    /// A provider that does not rotate answers without a refresh token: the one spent stays the current one.
    /// An ID token in the answer must be the account's (`sub`); the access token itself is opaque here.
    pub async fn refresh(
        &self,
        http: &reqwest::Client,
        link: &ProviderLink,
        refresh_token: &SecretString,
    ) -> Result<Refreshed, AuthError> {
        let issuer = Issuer::parse(&link.issuer).map_err(|e| AuthError::Malformed(e.to_string()))?;
        let metadata = self.metadata(http, &issuer).await.map_err(auth_error)?;
        let answer =
            tokens::refresh(http, &metadata.token_endpoint, refresh_token, &link.client_id, &link.resource).await?;
        let refresh_token = answer.refresh_token.clone().unwrap_or_else(|| refresh_token.clone());
        let access = match &answer.id_token {
            None => Ok(None),
            Some(id_token) => self
                .keys
                .verify_refreshed_id_token(http, &metadata, id_token, &link.client_id, &link.subject)
                .await
                .map(|claims| claims.sid)
                .map_err(|error| match error {
                    OidcError::IdToken("it is for another player") => AuthError::WrongSubject,
                    other => auth_error(other),
                }),
        }
        .map(|sid| access_token(link, answer, sid));
        Ok(Refreshed { refresh_token, access })
    }

    /// Revokes a refresh token at the provider (RFC 7009), at the revocation endpoint either of its metadata
    /// documents names. `Ok(Revocation::NotOffered)` when neither names one: the grant then lives on at the
    /// provider, and the player should hear so.
    pub async fn revoke(
        &self,
        http: &reqwest::Client,
        link: &ProviderLink,
        refresh_token: &SecretString,
    ) -> Result<Revocation, OidcError> {
        self.revoke_token(http, &link.issuer, &link.client_id, refresh_token, "refresh_token").await
    }

    /// Revokes one token of a grant (`hint`: `refresh_token` or `access_token`).
    pub(crate) async fn revoke_token(
        &self,
        http: &reqwest::Client,
        issuer: &str,
        client_id: &str,
        token: &SecretString,
        hint: &str,
    ) -> Result<Revocation, OidcError> {
        let issuer = Issuer::parse(issuer)?;
        let metadata = self.metadata(http, &issuer).await?;
        let Some(endpoint) = &metadata.revocation_endpoint else {
            tracing::info!(issuer = %issuer, "the identity provider offers no revocation endpoint: its grant stays alive there");
            return Ok(Revocation::NotOffered);
        };
        tokens::revoke(http, endpoint, token, hint, client_id).await.map_err(OidcError::from)?;
        Ok(Revocation::Revoked)
    }
}

/// Whether a provider grant could be ended from Kage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Revocation {
    Revoked,
    /// The provider names no revocation endpoint in either metadata document.
    NotOffered,
}

/// A provider's access token as the sessions hold it: opaque, the account's by the verified ID token's `sub`
/// (the game server confirms the player on every answer), timed from `expires_in` on the monotonic clock.
pub(crate) fn access_token(link: &ProviderLink, answer: tokens::TokenAnswer, sid: Option<String>) -> AccessToken {
    AccessToken {
        secret: answer.access_token,
        subject: link.subject.clone(),
        session_id: sid.unwrap_or_default(),
        refresh_after: crate::authority::refresh_after(answer.received, answer.expires_in),
    }
}

/// A provider's trouble as the sessions see it: only `Rejected` signs out, and nothing here is a rejection.
fn auth_error(error: OidcError) -> AuthError {
    match error {
        OidcError::Unreachable(message) => AuthError::Unreachable(message),
        OidcError::Throttled { retry_after_secs } => AuthError::Throttled { retry_after_secs },
        OidcError::Server { status, message } => AuthError::Server { status, message },
        other => AuthError::Malformed(other.to_string()),
    }
}
