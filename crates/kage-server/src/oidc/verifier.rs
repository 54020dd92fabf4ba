//! [`ExternalIssuer`]: checks the provider's access tokens: JWTs here, opaque ones through [`Introspector`].
//!
//! Keys are cached by `kid`. A token whose `kid` is unknown is the sign of a key rotation at the provider, so
//! the JWKS is fetched again, but at most once per `min_refetch_interval`: otherwise anyone could make every
//! request cost a round trip to the provider by sending made-up `kid`s. Concurrent requests with the same new
//! `kid` wait for the one fetch.

use std::collections::HashMap;
use std::sync::RwLock;
use std::time::Instant;

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Validation, decode, decode_header};
use serde::Deserialize;
use tokio::sync::Mutex;

use super::OidcConfig;
use super::introspection::{Endpoints, Introspector};
use super::keys::{self, ALGORITHMS, Discovery, FetchError, TrustedKey};
use crate::error::ApiError;
use crate::locks::Recover;
use crate::tokens::TokenRejection;

/// A verified external access token: who it is and which provider session it belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExternalToken {
    pub subject: String,
    /// What a sign-out here stops (see [`session_id`]).
    pub session_id: String,
    pub preferred_username: Option<String>,
    /// `iat`, when the token says: a sign-out here stops only the session's tokens issued until then.
    pub issued_at: Option<i64>,
}

/// The provider session a token belongs to, as `ext:`-prefixed id: its `sid` when the token also says when
/// it was issued (a sign-out is then scoped to tokens issued before it, so a later sign-in with the same
/// `sid` works), else its `jti`, else the token itself (by hash): a sign-out then stops exactly that token.
pub fn session_id(sid: Option<&str>, jti: Option<&str>, issued_at: Option<i64>, token: &str) -> String {
    use sha2::{Digest, Sha256};
    match (sid.filter(|s| !s.is_empty()), jti.filter(|j| !j.is_empty())) {
        (Some(sid), _) if issued_at.is_some() => format!("ext:{sid}"),
        (_, Some(jti)) => format!("ext:jti:{jti}"),
        _ => {
            let digest = Sha256::digest(token.as_bytes());
            let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
            format!("ext:token:{hex}")
        }
    }
}

#[derive(Deserialize)]
struct Claims {
    sub: String,
    sid: Option<String>,
    jti: Option<String>,
    iat: Option<i64>,
    preferred_username: Option<String>,
}

pub struct ExternalIssuer {
    config: OidcConfig,
    http: reqwest::Client,
    keys: RwLock<HashMap<String, TrustedKey>>,
    /// Held while fetching; remembers when the last fetch started.
    fetching: Mutex<Fetches>,
    /// Opaque access tokens, when the provider issues those.
    introspector: Option<Introspector>,
}

#[derive(Default)]
struct Fetches {
    discovery: Option<Discovery>,
    last: Option<Instant>,
    count: u64,
}

impl ExternalIssuer {
    pub fn new(config: OidcConfig) -> Self {
        let http = reqwest::Client::builder()
            .timeout(config.fetch_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("a plain HTTP client builds");
        let introspector = config.introspection.clone().map(|i| Introspector::new(&config, i, http.clone()));
        Self { config, http, keys: RwLock::default(), fetching: Mutex::default(), introspector }
    }

    /// Whether this verifier is the one for `token` (see `auth`): a JWT naming this issuer; with
    /// introspection, any bearer token that is not a JWT of `own_issuer` (opaque tokens name no issuer).
    pub fn claims(&self, token: &str, own_issuer: &str) -> bool {
        let claimed = claimed_issuer(token);
        match &self.introspector {
            None => claimed.as_deref() == Some(self.issuer()),
            Some(_) => claimed.as_deref() != Some(own_issuer),
        }
    }

    /// The introspection calls made so far (0 for a JWT provider).
    pub fn introspections(&self) -> u64 {
        self.introspector.as_ref().map_or(0, Introspector::asked)
    }

    /// The provider's token: introspected, or checked as a JWT.
    pub async fn verify(&self, token: &str) -> Result<ExternalToken, ApiError> {
        let Some(introspector) = &self.introspector else { return Ok(self.verify_jwt(token).await?) };
        let discovery = match introspector.configured_endpoint() {
            Some(_) => None,
            None => Some(self.discovery().await?),
        };
        let introspection = introspector
            .configured_endpoint()
            .or(discovery.as_ref().and_then(|d| d.introspection_endpoint.as_deref()))
            .ok_or_else(|| {
                tracing::warn!(issuer = %self.config.issuer, "the provider's metadata names no introspection endpoint");
                ApiError::IdentityProviderUnavailable { retry_after_secs: 30 }
            })?;
        let userinfo = discovery.as_ref().and_then(|d| d.userinfo_endpoint.as_deref());
        introspector.verify(token, Endpoints { introspection, userinfo }).await
    }

    /// The provider's metadata, read once (at start, or on the first token after a start it missed).
    async fn discovery(&self) -> Result<Discovery, ApiError> {
        let mut fetches = self.fetching.lock().await;
        if let Some(discovery) = &fetches.discovery {
            return Ok(discovery.clone());
        }
        let discovery = keys::discover(&self.http, &self.config.issuer).await.map_err(|error| {
            tracing::warn!(issuer = %self.config.issuer, %error, "cannot read the provider's metadata");
            ApiError::IdentityProviderUnavailable { retry_after_secs: 5 }
        })?;
        fetches.discovery = Some(discovery.clone());
        Ok(discovery)
    }

    pub fn config(&self) -> &OidcConfig {
        &self.config
    }

    pub fn issuer(&self) -> &str {
        &self.config.issuer
    }

    /// Fetches discovery and the JWKS now (at start). A wrong issuer in discovery is an error to stop on; an
    /// unreachable provider is only logged by the caller, and keys are fetched when the first token comes.
    /// With introspection, only the metadata is read (its keys are not needed).
    pub async fn load(&self) -> Result<usize, FetchError> {
        let mut fetches = self.fetching.lock().await;
        if self.introspector.is_some() {
            let discovery = keys::discover(&self.http, &self.config.issuer).await?;
            let has_endpoint = discovery.introspection_endpoint.is_some();
            fetches.discovery = Some(discovery);
            if !has_endpoint && self.introspector.as_ref().is_some_and(|i| i.configured_endpoint().is_none()) {
                return Err(FetchError::Missing("introspection_endpoint"));
            }
            return Ok(0);
        }
        self.fetch(&mut fetches).await
    }

    /// How many times the JWKS has been fetched.
    pub async fn fetches(&self) -> u64 {
        self.fetching.lock().await.count
    }

    async fn fetch(&self, fetches: &mut Fetches) -> Result<usize, FetchError> {
        fetches.last = Some(Instant::now());
        fetches.count += 1;
        let discovery = match &fetches.discovery {
            Some(discovery) => discovery.clone(),
            None => {
                let discovery = keys::discover(&self.http, &self.config.issuer).await?;
                fetches.discovery = Some(discovery.clone());
                discovery
            }
        };
        let jwks_uri = discovery.jwks_uri.as_deref().ok_or(FetchError::Missing("jwks_uri"))?;
        let fresh = keys::fetch_keys(&self.http, jwks_uri).await?;
        let count = fresh.len();
        *self.keys.write().recover() = fresh;
        Ok(count)
    }

    fn key(&self, kid: &str) -> Option<TrustedKey> {
        self.keys.read().recover().get(kid).cloned()
    }

    /// The key for `kid`, refetching the JWKS if it is unknown and the last fetch is old enough.
    async fn key_or_refetch(&self, kid: &str) -> Option<TrustedKey> {
        if let Some(key) = self.key(kid) {
            return Some(key);
        }
        let mut fetches = self.fetching.lock().await;
        // Someone else's fetch, while we waited, may have brought it.
        if let Some(key) = self.key(kid) {
            return Some(key);
        }
        if fetches.last.is_some_and(|last| last.elapsed() < self.config.min_refetch_interval) {
            return None;
        }
        match self.fetch(&mut fetches).await {
            Ok(count) => tracing::info!(issuer = %self.config.issuer, keys = count, "fetched the provider's JWKS"),
            Err(error) => tracing::warn!(issuer = %self.config.issuer, %error, "cannot fetch the provider's JWKS"),
        }
        self.key(kid)
    }

    /// Signature (by `kid`, with an algorithm the key allows), `typ: at+jwt` if the provider marks its access
    /// tokens so, `iss` exactly, `aud` containing our audience, `exp` and `nbf` within the leeway, and a
    /// non-empty `sub`.
    pub async fn verify_jwt(&self, token: &str) -> Result<ExternalToken, TokenRejection> {
        let header = decode_header(token).map_err(|_| TokenRejection::Malformed)?;
        if !ALGORITHMS.contains(&header.alg) {
            return Err(TokenRejection::Malformed);
        }
        if self.config.require_at_jwt && !is_at_jwt(header.typ.as_deref()) {
            return Err(TokenRejection::WrongType);
        }
        let kid = header.kid.ok_or(TokenRejection::UnknownKey)?;
        let key = self.key_or_refetch(&kid).await.ok_or(TokenRejection::UnknownKey)?;
        if !key.algorithms.contains(&header.alg) {
            return Err(TokenRejection::BadSignature);
        }
        let mut validation = Validation::new(header.alg);
        validation.set_issuer(&[&self.config.issuer]);
        validation.set_audience(&[&self.config.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.validate_nbf = true;
        validation.leeway = self.config.leeway.as_secs();
        let claims =
            decode::<Claims>(token, &key.key, &validation).map(|data| data.claims).map_err(|error| {
                match error.kind() {
                    ErrorKind::InvalidSignature => TokenRejection::BadSignature,
                    ErrorKind::ExpiredSignature => TokenRejection::Expired,
                    ErrorKind::ImmatureSignature => TokenRejection::NotYetValid,
                    ErrorKind::InvalidAudience | ErrorKind::InvalidIssuer => TokenRejection::WrongAudienceOrIssuer,
                    _ => TokenRejection::Malformed,
                }
            })?;
        if claims.sub.is_empty() {
            return Err(TokenRejection::Malformed);
        }
        Ok(ExternalToken {
            session_id: session_id(claims.sid.as_deref(), claims.jti.as_deref(), claims.iat, token),
            subject: claims.sub,
            preferred_username: claims.preferred_username,
            issued_at: claims.iat,
        })
    }
}

/// RFC 9068 section 2.1: `at+jwt`, or its full media type.
fn is_at_jwt(typ: Option<&str>) -> bool {
    typ.is_some_and(|typ| typ.eq_ignore_ascii_case("at+jwt") || typ.eq_ignore_ascii_case("application/at+jwt"))
}

/// The `iss` a JWT claims, unverified: only to choose which verifier checks it (which then checks `iss` again).
pub fn claimed_issuer(token: &str) -> Option<String> {
    use base64::Engine;
    #[derive(Deserialize)]
    struct Iss {
        iss: Option<String>,
    }
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).ok()?;
    serde_json::from_slice::<Iss>(&bytes).ok()?.iss
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sign_out_is_scoped_to_the_sid_only_when_the_token_says_when_it_was_issued() {
        assert_eq!(session_id(Some("s1"), Some("j1"), Some(10), "t"), "ext:s1");
        assert_eq!(session_id(Some("s1"), Some("j1"), None, "t"), "ext:jti:j1");
        let by_token = session_id(Some("s1"), None, None, "the-token");
        assert!(by_token.starts_with("ext:token:") && !by_token.contains("the-token"), "{by_token}");
        assert_ne!(by_token, session_id(None, None, None, "another-token"));
    }

    #[test]
    fn only_at_jwt_is_an_access_token_type() {
        assert!(is_at_jwt(Some("at+jwt")) && is_at_jwt(Some("application/AT+JWT")));
        assert!(!is_at_jwt(Some("JWT")) && !is_at_jwt(None));
    }
}
