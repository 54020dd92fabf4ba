//! The provider's signing keys (its JWKS), and the two checks made with them.
//!
//! - **ID token** (OIDC Core 3.1.3.7): signature by the provider's key, `iss` exactly the issuer, `aud`
//!   containing Kage's client id (and `azp` equal to it when there are several audiences), not expired, and
//!   `nonce` exactly this sign-in's, so an ID token from another sign-in (or replayed) is refused.
//! - **Access token** (RFC 9068 JWT): signature, `iss`, `aud` containing the game API, and `sub` exactly the
//!   player's. Its expiry is timed from `expires_in` on the monotonic clock, as for the game server's tokens.
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

#[derive(Debug, Deserialize)]
pub struct IdClaims {
    pub sub: String,
    #[serde(default)]
    pub preferred_username: Option<String>,
    #[serde(default)]
    pub nonce: Option<String>,
    #[serde(default)]
    pub azp: Option<String>,
    #[serde(default)]
    aud: serde_json::Value,
}

#[derive(Debug, Deserialize)]
pub struct AccessClaims {
    pub sub: String,
    #[serde(default)]
    pub sid: Option<String>,
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
    pub async fn verify_id_token(
        &self,
        http: &reqwest::Client,
        provider: &ProviderMetadata,
        token: &str,
        client_id: &str,
        nonce: &SecretString,
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
        if claims.nonce.as_deref() != Some(nonce.expose_secret()) {
            return Err(OidcError::IdToken("its nonce is not this sign-in's"));
        }
        Ok(claims)
    }

    pub async fn verify_access_token(
        &self,
        http: &reqwest::Client,
        provider: &ProviderMetadata,
        token: &SecretString,
        resource: &str,
        subject: &str,
    ) -> Result<AccessClaims, OidcError> {
        let token = token.expose_secret();
        let mut validation = self.validation(http, provider, token, OidcError::AccessToken).await?;
        validation.0.set_audience(&[resource]);
        // Expiry runs on the local monotonic clock (see the module doc of `authority`).
        validation.0.validate_exp = false;
        validation.0.set_required_spec_claims(&["iss", "aud", "sub"]);
        let claims: AccessClaims = decode(token, &validation, OidcError::AccessToken)?;
        if claims.sub != subject {
            return Err(OidcError::AccessToken("it is for another player"));
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
        let sets = self.sets.lock().expect("keys lock");
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
        self.sets.lock().expect("keys lock").insert(jwks_uri.to_owned(), set);
        Ok(())
    }

    #[cfg(test)]
    pub(crate) fn insert(&self, jwks_uri: &str, set: JwkSet) {
        self.sets.lock().unwrap().insert(jwks_uri.to_owned(), set);
    }
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
               "iat": now(), "nonce": "n-1", "preferred_username": "main"})
    }

    async fn verify(keys: &Keys, token: &str) -> Result<IdClaims, OidcError> {
        // No network in unit tests: a key not already known fails on the fetch, which is refused too.
        let http = reqwest::Client::new();
        keys.verify_id_token(&http, &provider(), token, "kage", &SecretString::from("n-1".to_owned())).await
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
    async fn an_access_token_for_another_player_or_audience_is_refused() {
        let key = TestKey::new("k1");
        let keys = keys_with(&key);
        let http = reqwest::Client::new();
        let token = |sub: &str, aud: &str| {
            SecretString::from(
                key.sign(&json!({"iss": "https://id.example", "aud": aud, "sub": sub, "exp": now() + 60})),
            )
        };
        let check = |token: SecretString| {
            let (keys, http) = (&keys, &http);
            async move { keys.verify_access_token(http, &provider(), &token, "https://game.example", "sub-main").await }
        };
        assert_eq!(check(token("sub-main", "https://game.example")).await.unwrap().sub, "sub-main");
        assert!(matches!(check(token("sub-alt", "https://game.example")).await, Err(OidcError::AccessToken(_))));
        assert!(matches!(check(token("sub-main", "kage")).await, Err(OidcError::AccessToken(_))));
    }

    fn base64_of(text: &str) -> String {
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text)
    }
}
