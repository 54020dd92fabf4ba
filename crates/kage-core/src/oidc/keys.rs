//! The provider's signing keys (its JWKS), and the ID token checks made with them.
//!
//! - **At sign-in** (OIDC Core 3.1.3.7): signature by the provider's key, `iss` exactly the issuer, `aud`
//!   containing Kage's client id (and `azp` equal to it when there are several audiences), not expired,
//!   `nonce` exactly this sign-in's (so an ID token from another sign-in, or replayed, is refused), and
//!   `auth_time` no earlier than this sign-in's start: Kage asked for the login page (`prompt=login`,
//!   `max_age=0`), and a provider that answered from its earlier session instead could make an "add account"
//!   window someone else without the player seeing a login page.
//! - **On refresh** (OIDC Core 12.2), when the provider sends a new ID token: the same checks but `nonce` and
//!   `auth_time`, and `sub` exactly the account's.
//!
//! The access token is not checked here: to Kage it is opaque (many providers issue opaque ones, and even a
//! JWT is the game API's to read, RFC 9068). Who it belongs to is the verified ID token's `sub`, and the game
//! server says which player that is (`GET /v1/viewer`, checked on every answer against the account).
//!
//! Only asymmetric algorithms are accepted, and a key's own `alg`, when it names one, must match the token's:
//! a token cannot choose to be checked with `none`, an HMAC over a public key, or another key's algorithm.
//! An unknown `kid` fetches the JWKS once more (the provider may have rotated), then fails closed.

use std::collections::HashMap;
use std::sync::Mutex;

use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::OidcError;
use super::discovery::ProviderMetadata;
use crate::locks::Recover;

const ALLOWED: &[Algorithm] = &[
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];
/// Clock skew forgiven on an ID token's `exp`/`iat` (it is checked once, right after it arrives).
const LEEWAY_SECS: u64 = 60;

/// How far `auth_time` may fall before the sign-in's start, on the provider's clock: whole seconds on both
/// sides, and the estimate of the provider's clock (from `iat`) is off by the answer's transit.
const AUTH_TIME_TOLERANCE_SECS: i64 = 5;

#[derive(Debug, Deserialize)]
pub struct IdClaims {
    pub sub: String,
    #[serde(default)]
    pub preferred_username: Option<String>,
    #[serde(default)]
    pub nonce: Option<String>,
    #[serde(default)]
    pub azp: Option<String>,
    /// The provider's login session, when it names one.
    #[serde(default)]
    pub sid: Option<String>,
    #[serde(default)]
    pub auth_time: Option<i64>,
    #[serde(default)]
    pub iat: Option<i64>,
    #[serde(default)]
    aud: serde_json::Value,
}

/// What a sign-in's ID token must match besides the provider and the client.
pub struct SignInCheck<'a> {
    pub nonce: &'a SecretString,
    /// When the sign-in began, on this computer's clock.
    pub started: std::time::SystemTime,
}

/// How many audiences a token names (jsonwebtoken checks which; `azp` matters when there are several).
fn audience_count(aud: &serde_json::Value) -> usize {
    match aud {
        serde_json::Value::Array(all) => all.len(),
        serde_json::Value::Null => 0,
        _ => 1,
    }
}

/// Each provider's key set, by `jwks_uri`.
#[derive(Default)]
pub struct Keys {
    sets: Mutex<HashMap<String, JwkSet>>,
}

impl Keys {
    /// The ID token of a sign-in: see the module doc.
    pub async fn verify_id_token(
        &self,
        http: &reqwest::Client,
        provider: &ProviderMetadata,
        token: &str,
        client_id: &str,
        check: &SignInCheck<'_>,
    ) -> Result<IdClaims, OidcError> {
        let claims = self.id_claims(http, provider, token, client_id).await?;
        if claims.nonce.as_deref() != Some(check.nonce.expose_secret()) {
            return Err(OidcError::IdToken("its nonce is not this sign-in's"));
        }
        let (Some(auth_time), Some(iat)) = (claims.auth_time, claims.iat) else {
            return Err(OidcError::IdToken("it does not say when the player signed in (auth_time)"));
        };
        // The sign-in's start on the provider's clock: this computer's start, moved by how far the clocks
        // differ (the token was issued a moment ago, so `iat` is the provider's "now").
        let now = unix_seconds(std::time::SystemTime::now());
        let started = unix_seconds(check.started) - (now - iat);
        if auth_time < started - AUTH_TIME_TOLERANCE_SECS {
            return Err(OidcError::ReusedProviderSession);
        }
        Ok(claims)
    }

    /// An ID token a refresh brought: the same provider, client and player as the sign-in (OIDC Core 12.2).
    pub async fn verify_refreshed_id_token(
        &self,
        http: &reqwest::Client,
        provider: &ProviderMetadata,
        token: &str,
        client_id: &str,
        subject: &str,
    ) -> Result<IdClaims, OidcError> {
        let claims = self.id_claims(http, provider, token, client_id).await?;
        if claims.sub != subject {
            return Err(OidcError::IdToken("it is for another player"));
        }
        Ok(claims)
    }

    async fn id_claims(
        &self,
        http: &reqwest::Client,
        provider: &ProviderMetadata,
        token: &str,
        client_id: &str,
    ) -> Result<IdClaims, OidcError> {
        let mut validation = self.validation(http, provider, token, OidcError::IdToken).await?;
        validation.0.set_audience(&[client_id]);
        validation.0.validate_exp = true;
        validation.0.leeway = LEEWAY_SECS;
        validation.0.set_required_spec_claims(&["iss", "aud", "sub", "exp"]);
        let claims: IdClaims = decode(token, &validation, OidcError::IdToken)?;
        if audience_count(&claims.aud) > 1 && claims.azp.as_deref() != Some(client_id) {
            return Err(OidcError::IdToken("it was issued to another party (azp)"));
        }
        Ok(claims)
    }

    /// The key and the common checks for `token`: its algorithm, its key, the issuer.
    async fn validation(
        &self,
        http: &reqwest::Client,
        provider: &ProviderMetadata,
        token: &str,
        invalid: fn(&'static str) -> OidcError,
    ) -> Result<(Validation, DecodingKey), OidcError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| invalid("it is not a signed JWT"))?;
        if !ALLOWED.contains(&header.alg) {
            return Err(invalid("it is signed with an algorithm Kage does not accept"));
        }
        let jwk = match self.find(&provider.jwks_uri, header.kid.as_deref(), header.alg) {
            Some(jwk) => jwk,
            None => {
                self.fetch(http, &provider.jwks_uri).await?;
                self.find(&provider.jwks_uri, header.kid.as_deref(), header.alg)
                    .ok_or_else(|| invalid("it is not signed by one of the provider's keys"))?
            }
        };
        let key = DecodingKey::from_jwk(&jwk).map_err(|_| invalid("the provider's key cannot be used"))?;
        let mut validation = Validation::new(header.alg);
        validation.set_issuer(&[provider.issuer.as_str()]);
        Ok((validation, key))
    }

    /// The key `kid` names (or the only key, when the token names none), if its algorithm agrees.
    fn find(&self, jwks_uri: &str, kid: Option<&str>, alg: Algorithm) -> Option<Jwk> {
        let sets = self.sets.lock().recover();
        let set = sets.get(jwks_uri)?;
        let jwk = match kid {
            Some(kid) => set.find(kid)?,
            None if set.keys.len() == 1 => &set.keys[0],
            None => return None,
        };
        let agrees =
            jwk.common.key_algorithm.is_none_or(|key_alg| key_alg == jsonwebtoken::jwk::KeyAlgorithm::from(alg));
        agrees.then(|| jwk.clone())
    }

    async fn fetch(&self, http: &reqwest::Client, jwks_uri: &str) -> Result<(), OidcError> {
        let response =
            http.get(jwks_uri).send().await.map_err(|e| OidcError::Unreachable(e.without_url().to_string()))?;
        if !response.status().is_success() {
            let status = response.status().as_u16();
            return Err(OidcError::Server { status, message: "the identity provider's keys could not be read".into() });
        }
        let set: JwkSet =
            response.json().await.map_err(|e| OidcError::Malformed(format!("provider keys: {}", e.without_url())))?;
        self.sets.lock().recover().insert(jwks_uri.to_owned(), set);
        Ok(())
    }

    #[cfg(test)]
    pub(crate) fn insert(&self, jwks_uri: &str, set: JwkSet) {
        self.sets.lock().recover().insert(jwks_uri.to_owned(), set);
    }
}

fn unix_seconds(at: std::time::SystemTime) -> i64 {
    at.duration_since(std::time::UNIX_EPOCH).map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

fn decode<T: DeserializeOwned>(
    token: &str,
    (validation, key): &(Validation, DecodingKey),
    invalid: fn(&'static str) -> OidcError,
) -> Result<T, OidcError> {
    use jsonwebtoken::errors::ErrorKind;
    jsonwebtoken::decode::<T>(token, key, validation).map(|data| data.claims).map_err(|error| {
        invalid(match error.kind() {
            ErrorKind::InvalidSignature => "its signature does not verify",
            ErrorKind::InvalidIssuer => "it was issued by another issuer",
            ErrorKind::InvalidAudience => "it was issued for another audience",
            ErrorKind::ExpiredSignature => "it has expired",
            ErrorKind::MissingRequiredClaim(_) => "a required claim is missing",
            ErrorKind::ImmatureSignature => "it is not valid yet",
            _ => "it could not be verified",
        })
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use ed25519_dalek::pkcs8::EncodePrivateKey;
    use jsonwebtoken::{EncodingKey, Header};
    use serde_json::{Value, json};

    use super::*;
    use crate::oidc::Issuer;

    /// A provider's signing key for unit tests.
    pub struct TestKey {
        pub kid: String,
        encoding: EncodingKey,
        pub jwk: Value,
    }

    impl TestKey {
        pub fn new(kid: &str) -> Self {
            use base64::Engine;
            let signing = ed25519_dalek::SigningKey::from_bytes(&rand::random());
            let der = signing.to_pkcs8_der().unwrap();
            let x = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(signing.verifying_key().as_bytes());
            let jwk = json!({"kty": "OKP", "crv": "Ed25519", "x": x, "kid": kid, "alg": "EdDSA", "use": "sig"});
            Self { kid: kid.into(), encoding: EncodingKey::from_ed_der(der.as_bytes()), jwk }
        }

        pub fn sign(&self, claims: &Value) -> String {
            let mut header = Header::new(Algorithm::EdDSA);
            header.kid = Some(self.kid.clone());
            jsonwebtoken::encode(&header, claims, &self.encoding).unwrap()
        }
    }

    pub fn provider() -> ProviderMetadata {
        ProviderMetadata {
            issuer: Issuer::parse("https://id.example").unwrap(),
            authorization_endpoint: "https://id.example/auth".into(),
            token_endpoint: "https://id.example/token".into(),
            jwks_uri: "https://id.example/jwks".into(),
            revocation_endpoint: None,
            iss_parameter_supported: true,
        }
    }

    fn now() -> u64 {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()
    }

    fn keys_with(key: &TestKey) -> Keys {
        let keys = Keys::default();
        keys.insert("https://id.example/jwks", serde_json::from_value(json!({"keys": [key.jwk]})).unwrap());
        keys
    }

    fn id_claims() -> Value {
        json!({"iss": "https://id.example", "aud": "kage", "sub": "sub-main", "exp": now() + 300,
               "iat": now(), "auth_time": now(), "nonce": "n-1", "preferred_username": "main"})
    }

    /// A sign-in that began `ago` seconds ago.
    async fn verify_started(keys: &Keys, token: &str, ago: u64) -> Result<IdClaims, OidcError> {
        // No network in unit tests: a key not already known fails on the fetch, which is refused too.
        let http = reqwest::Client::new();
        let nonce = SecretString::from("n-1".to_owned());
        let started = std::time::SystemTime::now() - std::time::Duration::from_secs(ago);
        keys.verify_id_token(&http, &provider(), token, "kage", &SignInCheck { nonce: &nonce, started }).await
    }

    async fn verify(keys: &Keys, token: &str) -> Result<IdClaims, OidcError> {
        verify_started(keys, token, 1).await
    }

    #[tokio::test]
    async fn an_id_token_of_this_provider_for_kage_with_this_nonce_verifies() {
        let key = TestKey::new("k1");
        let claims = verify(&keys_with(&key), &key.sign(&id_claims())).await.unwrap();
        assert_eq!((claims.sub.as_str(), claims.preferred_username.as_deref()), ("sub-main", Some("main")));
    }

    #[tokio::test]
    async fn an_id_token_with_another_issuer_audience_nonce_or_key_or_expired_is_refused() {
        let key = TestKey::new("k1");
        let keys = keys_with(&key);
        let with = |field: &str, value: Value| {
            let mut claims = id_claims();
            claims[field] = value;
            key.sign(&claims)
        };
        for (token, why) in [
            (with("iss", json!("https://evil.example")), "another issuer"),
            (with("iss", json!("https://id.example/")), "issuer off by a slash"),
            (with("aud", json!("someone-else")), "another audience"),
            (with("aud", json!(["kage", "other"])), "several audiences without azp"),
            (with("nonce", json!("n-2")), "another sign-in's nonce"),
            (with("exp", json!(now() - 3600)), "expired"),
            (TestKey::new("k1").sign(&id_claims()), "a key that is not the provider's, same kid"),
        ] {
            assert!(matches!(verify(&keys, &token).await, Err(OidcError::IdToken(_))), "{why}");
        }
        let mut no_nonce = id_claims();
        no_nonce.as_object_mut().unwrap().remove("nonce");
        assert!(matches!(verify(&keys, &key.sign(&no_nonce)).await, Err(OidcError::IdToken(_))));
        let unsigned = format!("{}.e30.", base64_of(r#"{"alg":"none"}"#));
        assert!(matches!(verify(&keys, &unsigned).await, Err(OidcError::IdToken(_))));
    }

    #[tokio::test]
    async fn an_id_token_that_says_the_player_signed_in_before_this_sign_in_began_is_refused() {
        let key = TestKey::new("k1");
        let keys = keys_with(&key);
        let with = |auth_time: u64, iat: u64| {
            let mut claims = id_claims();
            claims["auth_time"] = json!(auth_time);
            claims["iat"] = json!(iat);
            key.sign(&claims)
        };
        // Signed in 30 s into a sign-in begun a minute ago: fresh.
        assert!(verify_started(&keys, &with(now() - 30, now()), 60).await.is_ok());
        // Signed in ten minutes ago, before this sign-in began: the provider reused its session.
        let reused = verify_started(&keys, &with(now() - 600, now()), 60).await;
        assert_eq!(reused.err(), Some(OidcError::ReusedProviderSession));
        // A provider clock an hour behind: its times are read on its own clock, so a fresh login still passes
        // and a reused one still fails.
        let behind = 3600;
        assert!(verify_started(&keys, &with(now() - behind - 30, now() - behind), 60).await.is_ok());
        let reused_behind = verify_started(&keys, &with(now() - behind - 600, now() - behind), 60).await;
        assert_eq!(reused_behind.err(), Some(OidcError::ReusedProviderSession));
        // No auth_time at all, though max_age=0 obliges the provider to send one.
        let mut silent = id_claims();
        silent.as_object_mut().unwrap().remove("auth_time");
        assert!(matches!(verify(&keys, &key.sign(&silent)).await, Err(OidcError::IdToken(_))));
    }

    #[tokio::test]
    async fn a_refreshed_id_token_must_be_the_same_players_and_needs_no_nonce() {
        let key = TestKey::new("k1");
        let keys = keys_with(&key);
        let http = reqwest::Client::new();
        let mut claims = id_claims();
        claims.as_object_mut().unwrap().remove("nonce");
        let check = |token: String, subject: &'static str| {
            let (keys, http) = (&keys, &http);
            async move { keys.verify_refreshed_id_token(http, &provider(), &token, "kage", subject).await }
        };
        assert_eq!(check(key.sign(&claims), "sub-main").await.unwrap().sub, "sub-main");
        assert!(matches!(check(key.sign(&claims), "sub-alt").await, Err(OidcError::IdToken(_))));
        claims["aud"] = json!("someone-else");
        assert!(matches!(check(key.sign(&claims), "sub-main").await, Err(OidcError::IdToken(_))));
    }

    fn base64_of(text: &str) -> String {
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text)
    }
}
