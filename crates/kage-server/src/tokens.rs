//! Access tokens: short-lived EdDSA JWTs made and checked with `jsonwebtoken`.
//!
//! Two audiences keep the two credential paths apart: `kage-api` tokens travel as `Authorization: Bearer`,
//! `kage-web` tokens only in the browser's `__session` cookie. A token of one kind is rejected on the other path.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, Header, Validation, decode, decode_header, encode, errors::ErrorKind};
use serde::{Deserialize, Serialize};

use crate::keys::SigningKeys;
use crate::locks::Recover;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    /// `Authorization: Bearer` tokens for API clients such as the Kage app.
    Api,
    /// The browser's shared `__session` cookie.
    Browser,
}

impl Audience {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Api => "kage-api",
            Self::Browser => "kage-web",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Claims {
    pub iss: String,
    pub sub: String,
    pub sid: String,
    pub aud: String,
    pub iat: u64,
    pub nbf: u64,
    pub exp: u64,
}

/// Why a presented token was refused; becomes the `error_description` of the 401.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenRejection {
    #[error("token is malformed")]
    Malformed,
    #[error("token signed by an unknown key")]
    UnknownKey,
    #[error("token signature is invalid")]
    BadSignature,
    #[error("token has expired")]
    Expired,
    #[error("token is not valid yet")]
    NotYetValid,
    #[error("token was issued for another audience or issuer")]
    WrongAudienceOrIssuer,
    #[error("token's session has ended")]
    SessionRevoked,
    #[error("the identity provider says the token is not active")]
    Inactive,
    #[error("token is not an access token")]
    WrongType,
}

pub struct IssuedToken {
    pub token: String,
    pub expires_in: u64,
}

pub struct TokenService {
    /// Replaced whole when another instance rotates the shared keys (see `shared_keys`).
    keys: RwLock<Arc<SigningKeys>>,
    issuer: String,
    access_ttl: Duration,
    browser_ttl: Duration,
    api_validation: Validation,
    browser_validation: Validation,
    verified: VerifiedTokens,
}

/// Allowed clock difference between this server and whoever checks its tokens.
const LEEWAY_SECS: u64 = 5;

impl TokenService {
    pub fn new(keys: SigningKeys, issuer: String, access_ttl: Duration, browser_ttl: Duration) -> Self {
        let validation = |audience: Audience| {
            let mut v = Validation::new(Algorithm::EdDSA);
            v.set_issuer(&[&issuer]);
            v.set_audience(&[audience.as_str()]);
            v.set_required_spec_claims(&["exp", "nbf", "iat", "iss", "aud", "sub"]);
            v.validate_nbf = true;
            v.leeway = LEEWAY_SECS;
            v
        };
        let api_validation = validation(Audience::Api);
        let browser_validation = validation(Audience::Browser);
        let verified = VerifiedTokens::default();
        Self {
            keys: RwLock::new(Arc::new(keys)),
            issuer,
            access_ttl,
            browser_ttl,
            api_validation,
            browser_validation,
            verified,
        }
    }

    pub fn keys(&self) -> Arc<SigningKeys> {
        self.keys.read().recover().clone()
    }

    /// Signs with `keys` from now on, and verifies with them.
    pub fn replace_keys(&self, keys: SigningKeys) {
        *self.keys.write().recover() = Arc::new(keys);
    }

    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The longest any token this service issues stays valid, leeway included.
    pub fn max_lifetime(&self) -> Duration {
        self.access_ttl.max(self.browser_ttl) + Duration::from_secs(LEEWAY_SECS)
    }

    /// A token for `session_id`, expiring after its audience's lifetime or at `session_ends` (unix seconds),
    /// whichever is first: no token outlives its session.
    pub fn issue(&self, user_id: &str, session_id: &str, audience: Audience, session_ends: u64) -> IssuedToken {
        let ttl = match audience {
            Audience::Api => self.access_ttl,
            Audience::Browser => self.browser_ttl,
        };
        let now = unix_now();
        let exp = (now + ttl.as_secs()).min(session_ends).max(now);
        let claims = Claims {
            iss: self.issuer.clone(),
            sub: user_id.to_owned(),
            sid: session_id.to_owned(),
            aud: audience.as_str().to_owned(),
            iat: now,
            nbf: now,
            exp,
        };
        let mut header = Header::new(Algorithm::EdDSA);
        let keys = self.keys();
        header.kid = Some(keys.current_kid().to_owned());
        let token = encode(&header, &claims, keys.encoding_key()).expect("signing with our own Ed25519 key");
        IssuedToken { token, expires_in: exp - now }
    }

    /// Checks signature (key chosen by `kid`), issuer, audience and time claims.
    pub fn verify(&self, token: &str, audience: Audience) -> Result<Claims, TokenRejection> {
        self.verify_at(token, audience, unix_now())
    }

    fn verify_at(&self, token: &str, audience: Audience, now: u64) -> Result<Claims, TokenRejection> {
        // A token's signature, issuer and audience are facts about its bytes: once checked they stay true, so
        // only the time window is checked again. This saves the signature check (tens of µs) on every request
        // but the first of each token.
        if let Some(claims) = self.verified.get(token, audience) {
            return check_time(&claims, now).map(|()| claims);
        }
        let claims = self.verify_signature(token, audience)?;
        check_time(&claims, now)?;
        self.verified.insert(token, claims.clone(), now);
        Ok(claims)
    }

    /// The full check, without the cache of verified tokens: what the first request with a token costs.
    pub fn verify_signature(&self, token: &str, audience: Audience) -> Result<Claims, TokenRejection> {
        let header = decode_header(token).map_err(|_| TokenRejection::Malformed)?;
        if header.alg != Algorithm::EdDSA {
            return Err(TokenRejection::Malformed);
        }
        let kid = header.kid.ok_or(TokenRejection::UnknownKey)?;
        let keys = self.keys();
        let key = keys.decoding_key(&kid).ok_or(TokenRejection::UnknownKey)?;
        let validation = match audience {
            Audience::Api => &self.api_validation,
            Audience::Browser => &self.browser_validation,
        };
        decode::<Claims>(token, key, validation).map(|data| data.claims).map_err(|error| match error.kind() {
            ErrorKind::InvalidSignature => TokenRejection::BadSignature,
            ErrorKind::ExpiredSignature => TokenRejection::Expired,
            ErrorKind::ImmatureSignature => TokenRejection::NotYetValid,
            ErrorKind::InvalidAudience | ErrorKind::InvalidIssuer => TokenRejection::WrongAudienceOrIssuer,
            _ => TokenRejection::Malformed,
        })
    }
}

fn check_time(claims: &Claims, now: u64) -> Result<(), TokenRejection> {
    if claims.exp + LEEWAY_SECS < now {
        return Err(TokenRejection::Expired);
    }
    if claims.nbf > now + LEEWAY_SECS {
        return Err(TokenRejection::NotYetValid);
    }
    Ok(())
}

/// Tokens whose signature and claims have been verified, by their exact text.
#[derive(Default)]
struct VerifiedTokens {
    entries: RwLock<HashMap<String, Claims>>,
}

/// About a minute of distinct tokens at a few hundred sign-ins per second; ~10 MB at most.
const VERIFIED_CAPACITY: usize = 16 * 1024;

impl VerifiedTokens {
    fn get(&self, token: &str, audience: Audience) -> Option<Claims> {
        let entries = self.entries.read().recover();
        entries.get(token).filter(|claims| claims.aud == audience.as_str()).cloned()
    }

    fn insert(&self, token: &str, claims: Claims, now: u64) {
        let mut entries = self.entries.write().recover();
        if entries.len() >= VERIFIED_CAPACITY {
            entries.retain(|_, claims| claims.exp + LEEWAY_SECS >= now);
            if entries.len() >= VERIFIED_CAPACITY {
                entries.clear();
            }
        }
        entries.insert(token.to_owned(), claims);
    }
}

pub fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn service() -> (tempfile::TempDir, TokenService) {
        let dir = tempfile::tempdir().unwrap();
        let keys = SigningKeys::load_or_create(dir.path()).unwrap();
        let service =
            TokenService::new(keys, "http://127.0.0.1:1".into(), Duration::from_secs(60), Duration::from_secs(3600));
        (dir, service)
    }

    #[test]
    fn issued_token_verifies_with_its_audience_only() {
        let (_dir, service) = service();
        let token = service.issue("u1", "s1", Audience::Api, u64::MAX).token;
        let claims = service.verify(&token, Audience::Api).unwrap();
        assert_eq!((claims.sub.as_str(), claims.sid.as_str(), claims.exp - claims.iat), ("u1", "s1", 60));
        assert_eq!(service.verify(&token, Audience::Browser), Err(TokenRejection::WrongAudienceOrIssuer));
    }

    #[test]
    fn token_from_another_server_is_rejected() {
        let (_dir, ours) = service();
        let (_dir2, theirs) = service();
        let token = theirs.issue("u1", "s1", Audience::Api, u64::MAX).token;
        assert_eq!(ours.verify(&token, Audience::Api), Err(TokenRejection::UnknownKey));
    }

    #[test]
    fn tampered_payload_fails_signature_check() {
        let (_dir, service) = service();
        let token = service.issue("u1", "s1", Audience::Api, u64::MAX).token;
        let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
        let forged = Claims {
            iss: service.issuer().into(),
            sub: "u2".into(),
            sid: "s1".into(),
            aud: "kage-api".into(),
            iat: unix_now(),
            nbf: unix_now(),
            exp: unix_now() + 60,
        };
        use base64::Engine;
        parts[1] = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(serde_json::to_vec(&forged).unwrap());
        assert_eq!(service.verify(&parts.join("."), Audience::Api), Err(TokenRejection::BadSignature));
    }

    #[test]
    fn a_verified_token_still_expires() {
        let (_dir, service) = service();
        let token = service.issue("u1", "s1", Audience::Api, u64::MAX).token;
        let now = unix_now();
        assert!(service.verify_at(&token, Audience::Api, now).is_ok());
        assert!(service.verify_at(&token, Audience::Api, now + 60 + LEEWAY_SECS).is_ok());
        assert_eq!(service.verify_at(&token, Audience::Api, now + 61 + LEEWAY_SECS), Err(TokenRejection::Expired));
        assert_eq!(service.verify_at(&token, Audience::Browser, now), Err(TokenRejection::WrongAudienceOrIssuer));
    }

    #[test]
    fn garbage_is_malformed() {
        let (_dir, service) = service();
        for token in ["", "null", "a.b.c", "not a jwt"] {
            assert_eq!(service.verify(token, Audience::Api), Err(TokenRejection::Malformed), "{token:?}");
        }
    }
}
