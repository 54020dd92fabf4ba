//! The provider's metadata and signing keys.
//!
//! Metadata is the OpenID configuration, and for what it lacks (some providers list their introspection
//! endpoint only there) the RFC 8414 authorization server metadata: at the well-known path inserted before
//! the issuer's path (RFC 8414 section 3.1), else appended to the issuer. Either document must name exactly
//! the configured issuer, or it is not used.
//!
//! Only asymmetric signature keys are taken from the JWKS (RSA, EC P-256, Ed25519), each with the algorithms
//! its type allows: a token's `alg` must fit its key, so an `HS256` token "signed" with a public key, or an
//! RSA key used with `ES256`, never verifies (the classic algorithm-confusion attacks).

use std::collections::HashMap;

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey};
use serde::Deserialize;

#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("cannot fetch {url}: {source}")]
    Http { url: String, source: reqwest::Error },
    #[error("{url} answered {status}")]
    Status { url: String, status: reqwest::StatusCode },
    #[error("{url} is not a valid document: {source}")]
    Invalid { url: String, source: reqwest::Error },
    #[error("the discovery document names issuer {found:?}, not {expected:?}")]
    IssuerMismatch { expected: String, found: String },
    #[error("the provider's metadata names no {0}")]
    Missing(&'static str),
}

/// The parts of the provider's metadata this server uses.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Discovery {
    pub issuer: String,
    #[serde(default)]
    pub jwks_uri: Option<String>,
    /// RFC 7662, for opaque access tokens.
    #[serde(default)]
    pub introspection_endpoint: Option<String>,
    /// OpenID Connect Core 5.3: who an opaque token's holder is, when introspection does not say (`sub`).
    #[serde(default)]
    pub userinfo_endpoint: Option<String>,
}

impl Discovery {
    fn is_complete(&self) -> bool {
        self.jwks_uri.is_some() && self.introspection_endpoint.is_some() && self.userinfo_endpoint.is_some()
    }

    fn or(self, other: Discovery) -> Discovery {
        Discovery {
            issuer: self.issuer,
            jwks_uri: self.jwks_uri.or(other.jwks_uri),
            introspection_endpoint: self.introspection_endpoint.or(other.introspection_endpoint),
            userinfo_endpoint: self.userinfo_endpoint.or(other.userinfo_endpoint),
        }
    }
}

/// A verification key and the algorithms it may verify.
#[derive(Clone)]
pub struct TrustedKey {
    pub key: DecodingKey,
    pub algorithms: Vec<Algorithm>,
}

/// The algorithms accepted from an external provider.
pub const ALGORITHMS: [Algorithm; 4] = [Algorithm::RS256, Algorithm::PS256, Algorithm::ES256, Algorithm::EdDSA];

/// Discovery for `issuer`; its `issuer` must be exactly ours (OpenID Connect Discovery 1.0 section 4.3), or a
/// provider could vouch for another's tokens.
pub async fn discover(http: &reqwest::Client, issuer: &str) -> Result<Discovery, FetchError> {
    let url = format!("{}/.well-known/openid-configuration", issuer.trim_end_matches('/'));
    let discovery: Discovery = get_json(http, &url).await?;
    if discovery.issuer != issuer {
        return Err(FetchError::IssuerMismatch { expected: issuer.into(), found: discovery.issuer });
    }
    if discovery.is_complete() {
        return Ok(discovery);
    }
    for url in rfc8414_urls(issuer) {
        match get_json::<Discovery>(http, &url).await {
            Ok(oauth) if oauth.issuer == issuer => return Ok(discovery.or(oauth)),
            Ok(oauth) => tracing::warn!(%url, found = %oauth.issuer, "RFC 8414 metadata for another issuer; not used"),
            Err(error) => tracing::debug!(%error, "no RFC 8414 metadata here"),
        }
    }
    Ok(discovery)
}

/// Where RFC 8414 metadata may be: the well-known path before the issuer's path, then after it.
fn rfc8414_urls(issuer: &str) -> Vec<String> {
    const WELL_KNOWN: &str = "/.well-known/oauth-authorization-server";
    let trimmed = issuer.trim_end_matches('/');
    let Ok(url) = reqwest::Url::parse(trimmed) else { return Vec::new() };
    let inserted = format!("{}{WELL_KNOWN}{}", url.origin().ascii_serialization(), url.path().trim_end_matches('/'));
    let appended = format!("{trimmed}{WELL_KNOWN}");
    if inserted == appended { vec![inserted] } else { vec![inserted, appended] }
}

/// The provider's signature keys by `kid`; keys without a `kid`, of other types, or for encryption are left out.
pub async fn fetch_keys(http: &reqwest::Client, jwks_uri: &str) -> Result<HashMap<String, TrustedKey>, FetchError> {
    #[derive(Deserialize)]
    struct RawSet {
        keys: Vec<serde_json::Value>,
    }
    let set: RawSet = get_json(http, jwks_uri).await?;
    // Each key on its own: one key of a kind we do not know must not hide the others.
    Ok(set.keys.into_iter().filter_map(|value| serde_json::from_value::<Jwk>(value).ok()).filter_map(trusted).collect())
}

fn trusted(jwk: Jwk) -> Option<(String, TrustedKey)> {
    let kid = jwk.common.key_id.clone()?;
    if matches!(jwk.common.public_key_use, Some(PublicKeyUse::Encryption)) {
        return None;
    }
    let fits: Vec<Algorithm> = match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => vec![Algorithm::RS256, Algorithm::PS256],
        AlgorithmParameters::EllipticCurve(p) if p.curve == EllipticCurve::P256 => vec![Algorithm::ES256],
        AlgorithmParameters::OctetKeyPair(p) if p.curve == EllipticCurve::Ed25519 => vec![Algorithm::EdDSA],
        _ => return None,
    };
    // A key that names its algorithm is used with that one only.
    let algorithms = match jwk.common.key_algorithm.and_then(algorithm_of) {
        Some(declared) if fits.contains(&declared) => vec![declared],
        Some(_) => return None,
        None if jwk.common.key_algorithm.is_some() => return None,
        None => fits,
    };
    let key = DecodingKey::from_jwk(&jwk).ok()?;
    Some((kid, TrustedKey { key, algorithms }))
}

fn algorithm_of(declared: KeyAlgorithm) -> Option<Algorithm> {
    Some(match declared {
        KeyAlgorithm::RS256 => Algorithm::RS256,
        KeyAlgorithm::PS256 => Algorithm::PS256,
        KeyAlgorithm::ES256 => Algorithm::ES256,
        KeyAlgorithm::EdDSA => Algorithm::EdDSA,
        _ => return None,
    })
}

async fn get_json<T: serde::de::DeserializeOwned>(http: &reqwest::Client, url: &str) -> Result<T, FetchError> {
    let response = http.get(url).send().await.map_err(|source| FetchError::Http { url: url.into(), source })?;
    if !response.status().is_success() {
        return Err(FetchError::Status { url: url.into(), status: response.status() });
    }
    response.json().await.map_err(|source| FetchError::Invalid { url: url.into(), source })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(value: serde_json::Value) -> Option<(String, TrustedKey)> {
        trusted(serde_json::from_value(value).unwrap())
    }

    const X: &str = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo";

    #[test]
    fn a_key_is_trusted_only_with_the_algorithms_of_its_type() {
        let (kid, key) = parse(json!({"kty": "OKP", "crv": "Ed25519", "x": X, "kid": "k1"})).unwrap();
        assert_eq!((kid.as_str(), key.algorithms.as_slice()), ("k1", [Algorithm::EdDSA].as_slice()));
        let declared = parse(json!({"kty": "OKP", "crv": "Ed25519", "x": X, "kid": "k1", "alg": "RS256"}));
        assert!(declared.is_none(), "a key declaring an algorithm its type cannot do is left out");
    }

    #[test]
    fn rfc_8414_metadata_is_looked_for_before_and_after_the_issuers_path() {
        assert_eq!(rfc8414_urls("https://id.example"), ["https://id.example/.well-known/oauth-authorization-server"]);
        assert_eq!(
            rfc8414_urls("https://id.example/o"),
            [
                "https://id.example/.well-known/oauth-authorization-server/o",
                "https://id.example/o/.well-known/oauth-authorization-server"
            ]
        );
    }

    #[test]
    fn symmetric_encryption_and_kidless_keys_are_left_out() {
        assert!(parse(json!({"kty": "oct", "k": "c2VjcmV0", "kid": "h"})).is_none());
        assert!(parse(json!({"kty": "OKP", "crv": "Ed25519", "x": X, "kid": "e", "use": "enc"})).is_none());
        assert!(parse(json!({"kty": "OKP", "crv": "Ed25519", "x": X})).is_none());
    }
}
