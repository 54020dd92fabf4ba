//! [`Introspector`]: opaque provider access tokens, checked by asking the provider (RFC 7662).
//!
//! Many providers issue access tokens that are random strings (Google, django-oauth-toolkit by default, Auth0 or
//! Clerk when configured so): only the provider knows what they are. The server asks its introspection
//! endpoint with its own client credentials (HTTP Basic), and trusts the answer only if it says `active`,
//! names this issuer (when it names one), was issued for this API (`aud`) or, without `aud`, to Kage's client
//! (`client_id`), has an `exp` still ahead, and is not a refresh token. Who the token belongs to is its `sub`;
//! a provider that leaves `sub` out of introspection (django-oauth-toolkit does) is asked its OpenID Connect
//! UserInfo endpoint with the token itself, whose `sub` is by definition the same person's.
//!
//! **Fail closed.** A provider that cannot be reached, answers 5xx or answers nonsense opens nothing: the
//! request is refused with 503 `identity_provider_unavailable` and `Retry-After` (a wait, so no client takes it
//! for a sign-out, I11), never let through on an old answer past its time.
//!
//! **A bounded cache.** Asking on every request would put the provider on every request's path. Answers are
//! kept by the SHA-256 of the token (never the token), for `cache_ttl` and never past the token's `exp`:
//! that bound is how long a token revoked at the provider can still be used here. Refusals are kept for the
//! same time, so a client repeating a dead token does not cost a call each time. At most `cache_capacity`
//! answers are held: when full, expired ones go first, then the oldest. Calls to the provider are limited to
//! [`MAX_CONCURRENT`] at once, so a burst of made-up tokens queues instead of flooding it.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::Deserialize;
use sha2::{Digest, Sha256};
use tokio::sync::Semaphore;

use super::verifier::{ExternalToken, session_id};
use super::{IntrospectionConfig, OidcConfig};
use crate::error::ApiError;
use crate::locks::Recover;
use crate::tokens::TokenRejection;

/// Introspection or userinfo calls in flight at once, at most.
pub const MAX_CONCURRENT: usize = 16;
/// What `Retry-After` says when the provider cannot answer.
const RETRY_AFTER_SECS: u64 = 2;

type TokenHash = [u8; 32];

pub struct Introspector {
    config: IntrospectionConfig,
    issuer: String,
    audience: String,
    client_id: String,
    leeway: Duration,
    http: reqwest::Client,
    cache: Mutex<Cache>,
    calls: Semaphore,
    asked: std::sync::atomic::AtomicU64,
}

/// Where to ask, from the configuration or the provider's metadata.
pub struct Endpoints<'a> {
    pub introspection: &'a str,
    pub userinfo: Option<&'a str>,
}

#[derive(Default)]
struct Cache {
    answers: HashMap<TokenHash, Cached>,
    /// Insertion order, for evicting the oldest when full (stale entries are skipped).
    order: VecDeque<(TokenHash, Instant)>,
}

#[derive(Clone)]
struct Cached {
    outcome: Result<ExternalToken, TokenRejection>,
    until: Instant,
    inserted: Instant,
}

/// An RFC 7662 answer, as far as it is used.
#[derive(Deserialize)]
struct Introspection {
    active: bool,
    #[serde(default)]
    iss: Option<String>,
    #[serde(default)]
    aud: Option<serde_json::Value>,
    #[serde(default)]
    client_id: Option<String>,
    #[serde(default)]
    sub: Option<String>,
    #[serde(default)]
    exp: Option<i64>,
    #[serde(default)]
    nbf: Option<i64>,
    #[serde(default)]
    iat: Option<i64>,
    #[serde(default)]
    token_type: Option<String>,
    #[serde(default)]
    sid: Option<String>,
    #[serde(default)]
    jti: Option<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    preferred_username: Option<String>,
}

#[derive(Deserialize)]
struct UserInfo {
    sub: String,
    #[serde(default)]
    preferred_username: Option<String>,
}

impl Introspector {
    pub fn new(oidc: &OidcConfig, config: IntrospectionConfig, http: reqwest::Client) -> Self {
        Self {
            config,
            issuer: oidc.issuer.clone(),
            audience: oidc.audience.clone(),
            client_id: oidc.client_id.clone(),
            leeway: oidc.leeway,
            http,
            cache: Mutex::default(),
            calls: Semaphore::new(MAX_CONCURRENT),
            asked: Default::default(),
        }
    }

    pub fn configured_endpoint(&self) -> Option<&str> {
        self.config.endpoint.as_deref()
    }

    /// How many times the provider was asked (introspection calls), for tests and logs.
    pub fn asked(&self) -> u64 {
        self.asked.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Checks `token` from the cache, or by asking the provider at `endpoints`.
    pub async fn verify(&self, token: &str, endpoints: Endpoints<'_>) -> Result<ExternalToken, ApiError> {
        let hash: TokenHash = Sha256::digest(token.as_bytes()).into();
        if let Some(outcome) = self.cached(&hash) {
            return outcome.map_err(ApiError::from);
        }
        let _call = self.calls.acquire().await.map_err(|_| unavailable())?;
        // Someone else's call, while this one queued, may have answered it.
        if let Some(outcome) = self.cached(&hash) {
            return outcome.map_err(ApiError::from);
        }
        let (outcome, until) = self.ask(token, &endpoints).await?;
        self.remember(hash, outcome.clone(), until);
        outcome.map_err(ApiError::from)
    }

    fn cached(&self, hash: &TokenHash) -> Option<Result<ExternalToken, TokenRejection>> {
        let cache = self.cache.lock().recover();
        cache.answers.get(hash).filter(|entry| entry.until > Instant::now()).map(|entry| entry.outcome.clone())
    }

    fn remember(&self, hash: TokenHash, outcome: Result<ExternalToken, TokenRejection>, until: Instant) {
        let mut cache = self.cache.lock().recover();
        let now = Instant::now();
        if cache.answers.len() >= self.config.cache_capacity {
            cache.answers.retain(|_, entry| entry.until > now);
            let Cache { answers, order } = &mut *cache;
            order.retain(|(hash, inserted)| answers.get(hash).is_some_and(|entry| entry.inserted == *inserted));
        }
        while cache.answers.len() >= self.config.cache_capacity.max(1) {
            let Some((oldest, inserted)) = cache.order.pop_front() else { break };
            if cache.answers.get(&oldest).is_some_and(|entry| entry.inserted == inserted) {
                cache.answers.remove(&oldest);
            }
        }
        cache.order.push_back((hash, now));
        cache.answers.insert(hash, Cached { outcome, until, inserted: now });
    }

    /// One question to the provider (and its userinfo, if needed); what to keep, and until when.
    async fn ask(
        &self,
        token: &str,
        endpoints: &Endpoints<'_>,
    ) -> Result<(Result<ExternalToken, TokenRejection>, Instant), ApiError> {
        self.asked.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let response = self
            .http
            .post(endpoints.introspection)
            .basic_auth(&self.config.client_id, Some(self.config.client_secret.expose()))
            .header(reqwest::header::ACCEPT, "application/json")
            .form(&[("token", token), ("token_type_hint", "access_token")])
            .send()
            .await
            .map_err(|error| provider_trouble("introspection", &error.without_url()))?;
        if !response.status().is_success() {
            // The provider refusing *us* (401: wrong credentials) is the operator's problem, not the player's.
            let status = response.status();
            tracing::warn!(%status, "the identity provider's introspection endpoint refused to answer");
            return Err(unavailable());
        }
        let raw: serde_json::Value =
            response.json().await.map_err(|error| provider_trouble("introspection answer", &error.without_url()))?;
        let mut answer: Introspection =
            serde_json::from_value(raw.clone()).map_err(|error| provider_trouble("introspection answer", &error))?;
        if self.config.subject_claim != "sub" {
            answer.sub = raw.get(&self.config.subject_claim).and_then(|v| v.as_str()).map(str::to_owned);
        }
        let now = unix_now();
        let refused_until = Instant::now() + self.config.cache_ttl;
        let mut token_info = match self.check(&answer, now) {
            Ok(info) => info,
            Err(rejection) => return Ok((Err(rejection), refused_until)),
        };
        if token_info.subject.is_empty() {
            let Some(userinfo) = endpoints.userinfo else {
                tracing::warn!("introspection names no sub and the provider has no userinfo endpoint");
                return Ok((Err(TokenRejection::Malformed), refused_until));
            };
            match self.userinfo(userinfo, token).await? {
                Some(info) => {
                    token_info.subject = info.sub;
                    token_info.preferred_username = token_info.preferred_username.or(info.preferred_username);
                }
                None => return Ok((Err(TokenRejection::Inactive), refused_until)),
            }
        }
        let exp = answer.exp.unwrap_or(now);
        let left = Duration::from_secs(u64::try_from(exp - now).unwrap_or(0)) + self.leeway;
        let until = Instant::now() + self.config.cache_ttl.min(left);
        let session_id = session_id(answer.sid.as_deref(), answer.jti.as_deref(), answer.iat, token);
        Ok((Ok(ExternalToken { session_id, ..token_info }), until))
    }

    /// The answer's checks (see the module doc). `subject` is empty when the answer has no `sub`.
    fn check(&self, answer: &Introspection, now: i64) -> Result<ExternalToken, TokenRejection> {
        if !answer.active {
            return Err(TokenRejection::Inactive);
        }
        if answer.iss.as_ref().is_some_and(|iss| iss != &self.issuer) {
            return Err(TokenRejection::WrongAudienceOrIssuer);
        }
        if answer.token_type.as_deref().is_some_and(|t| t.eq_ignore_ascii_case("refresh_token")) {
            return Err(TokenRejection::WrongType);
        }
        let for_us = match &answer.aud {
            Some(serde_json::Value::String(aud)) => aud == &self.audience,
            Some(serde_json::Value::Array(all)) => all.iter().any(|aud| aud.as_str() == Some(&self.audience)),
            Some(_) => false,
            // No audience: the token must at least have been issued to Kage's client.
            None => answer.client_id.as_deref() == Some(self.client_id.as_str()),
        };
        if !for_us {
            return Err(TokenRejection::WrongAudienceOrIssuer);
        }
        let leeway = i64::try_from(self.leeway.as_secs()).unwrap_or(0);
        match answer.exp {
            None => return Err(TokenRejection::Malformed),
            Some(exp) if exp + leeway <= now => return Err(TokenRejection::Expired),
            Some(_) => {}
        }
        if answer.nbf.is_some_and(|nbf| nbf - leeway > now) {
            return Err(TokenRejection::NotYetValid);
        }
        Ok(ExternalToken {
            subject: answer.sub.clone().filter(|s| !s.is_empty()).unwrap_or_default(),
            session_id: String::new(),
            preferred_username: answer.preferred_username.clone().or_else(|| answer.username.clone()),
            issued_at: answer.iat,
        })
    }

    /// `None`: the provider says the token opens nothing (401/403), so it is not active after all.
    async fn userinfo(&self, endpoint: &str, token: &str) -> Result<Option<UserInfo>, ApiError> {
        let response = self
            .http
            .get(endpoint)
            .bearer_auth(token)
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|error| provider_trouble("userinfo", &error.without_url()))?;
        match response.status().as_u16() {
            200..=299 => {}
            401 | 403 => return Ok(None),
            status => {
                tracing::warn!(status, "the identity provider's userinfo endpoint failed");
                return Err(unavailable());
            }
        }
        let info: UserInfo =
            response.json().await.map_err(|error| provider_trouble("userinfo answer", &error.without_url()))?;
        Ok((!info.sub.is_empty()).then_some(info))
    }
}

fn provider_trouble(what: &str, error: &dyn std::fmt::Display) -> ApiError {
    tracing::warn!(%error, "the identity provider's {what} failed; refusing the token for now");
    unavailable()
}

fn unavailable() -> ApiError {
    ApiError::IdentityProviderUnavailable { retry_after_secs: RETRY_AFTER_SECS }
}

fn unix_now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::Secret;

    fn introspector(capacity: usize) -> Introspector {
        let oidc = OidcConfig::new("https://id.example", "https://game.example", "kage");
        let mut config = IntrospectionConfig::new("game-server", Secret::new("s".into()));
        config.cache_capacity = capacity;
        Introspector::new(&oidc, config, reqwest::Client::new())
    }

    fn answer(value: serde_json::Value) -> Introspection {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn an_answer_is_trusted_only_if_active_ours_for_this_api_and_unexpired() {
        let i = introspector(10);
        let now = unix_now();
        let good = serde_json::json!({"active": true, "iss": "https://id.example", "aud": ["x", "https://game.example"],
                                      "sub": "s1", "exp": now + 60, "username": "main"});
        let checked = i.check(&answer(good.clone()), now).unwrap();
        assert_eq!((checked.subject.as_str(), checked.preferred_username.as_deref()), ("s1", Some("main")));
        let with = |field: &str, value: serde_json::Value| {
            let mut changed = good.clone();
            changed[field] = value;
            i.check(&answer(changed), now).err()
        };
        assert_eq!(with("active", false.into()), Some(TokenRejection::Inactive));
        assert_eq!(with("iss", "https://evil.example".into()), Some(TokenRejection::WrongAudienceOrIssuer));
        assert_eq!(with("aud", "https://other.example".into()), Some(TokenRejection::WrongAudienceOrIssuer));
        assert_eq!(with("exp", (now - 3600).into()), Some(TokenRejection::Expired));
        assert_eq!(with("token_type", "refresh_token".into()), Some(TokenRejection::WrongType));
        let mut no_exp = good.clone();
        no_exp.as_object_mut().unwrap().remove("exp");
        assert_eq!(i.check(&answer(no_exp), now).err(), Some(TokenRejection::Malformed));
        // Without `aud`, only a token issued to Kage's client counts.
        let mut no_aud = good.clone();
        no_aud.as_object_mut().unwrap().remove("aud");
        assert_eq!(i.check(&answer(no_aud.clone()), now).err(), Some(TokenRejection::WrongAudienceOrIssuer));
        no_aud["client_id"] = "kage".into();
        assert!(i.check(&answer(no_aud.clone()), now).is_ok());
        no_aud["client_id"] = "another-app".into();
        assert_eq!(i.check(&answer(no_aud), now).err(), Some(TokenRejection::WrongAudienceOrIssuer));
    }

    #[test]
    fn the_cache_holds_at_most_its_capacity_and_lets_expired_answers_go_first() {
        let i = introspector(3);
        let refused = || Err(TokenRejection::Inactive);
        let later = Instant::now() + Duration::from_secs(60);
        for n in 0..10u8 {
            i.remember([n; 32], refused(), later);
            assert!(i.cache.lock().unwrap().answers.len() <= 3);
        }
        assert!(i.cached(&[9; 32]).is_some() && i.cached(&[0; 32]).is_none(), "the oldest went first");
        i.remember([20; 32], refused(), Instant::now());
        assert!(i.cached(&[20; 32]).is_none(), "an answer is not used past its time");
    }
}
