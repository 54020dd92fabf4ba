//! [`ExternalIssuer`]: checks the provider's access tokens.
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
use super::keys::{self, ALGORITHMS, Discovery, FetchError, TrustedKey};
use crate::tokens::TokenRejection;

/// A verified external access token: who it is and which provider session it belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExternalToken {
    pub subject: String,
    /// `ext:` + the provider's `sid`, else the token's `jti`: what a sign-out here stops.
    pub session_id: String,
    pub preferred_username: Option<String>,
}

#[derive(Deserialize)]
struct Claims {
    sub: String,
    sid: Option<String>,
    jti: Option<String>,
    preferred_username: Option<String>,
}

pub struct ExternalIssuer {
    config: OidcConfig,
    http: reqwest::Client,
    keys: RwLock<HashMap<String, TrustedKey>>,
    /// Held while fetching; remembers when the last fetch started.
    fetching: Mutex<Fetches>,
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
        Self { config, http, keys: RwLock::default(), fetching: Mutex::default() }
    }

    pub fn config(&self) -> &OidcConfig {
        &self.config
    }

    pub fn issuer(&self) -> &str {
        &self.config.issuer
    }

    /// Fetches discovery and the JWKS now (at start). A wrong issuer in discovery is an error to stop on; an
    /// unreachable provider is only logged by the caller, and keys are fetched when the first token comes.
    pub async fn load(&self) -> Result<usize, FetchError> {
        let mut fetches = self.fetching.lock().await;
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
        let fresh = keys::fetch_keys(&self.http, &discovery.jwks_uri).await?;
        let count = fresh.len();
        *self.keys.write().expect("external keys lock") = fresh;
        Ok(count)
    }

    fn key(&self, kid: &str) -> Option<TrustedKey> {
        self.keys.read().expect("external keys lock").get(kid).cloned()
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

    /// Signature (by `kid`, with an algorithm the key allows), `iss` exactly, `aud` containing our audience,
    /// `exp` and `nbf` within the leeway, and a non-empty `sub`.
    pub async fn verify(&self, token: &str) -> Result<ExternalToken, TokenRejection> {
        let header = decode_header(token).map_err(|_| TokenRejection::Malformed)?;
        if !ALGORITHMS.contains(&header.alg) {
            return Err(TokenRejection::Malformed);
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
        let session = claims.sid.filter(|s| !s.is_empty()).or(claims.jti).ok_or(TokenRejection::Malformed)?;
        Ok(ExternalToken {
            subject: claims.sub,
            session_id: format!("ext:{session}"),
            preferred_username: claims.preferred_username,
        })
    }
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
