//! The provider's metadata (OpenID Connect Discovery 1.0, RFC 8414), and the one rule every provider address
//! obeys: https, or plain http only to this computer (I6, as for game servers).
//!
//! The `issuer` in the metadata must equal the configured issuer character for character (RFC 8414 section
//! 3.3): a provider that answers for another issuer is how mix-up attacks start, so no normalising here.

use serde::Deserialize;

use super::OidcError;
use crate::account::is_loopback;

/// An identity provider's issuer identifier, exactly as configured (it is compared, never normalised).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Issuer(String);

impl Issuer {
    /// An issuer is an https URL (or http on loopback) with no query or fragment (RFC 8414 section 2).
    pub fn parse(text: &str) -> Result<Self, OidcError> {
        let url = secure_url(text)?;
        if url.query().is_some() || url.fragment().is_some() {
            return Err(OidcError::BadIssuer(format!("{text:?} has a query or fragment")));
        }
        Ok(Self(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Where its metadata is published: the issuer with any trailing `/` removed, then the well-known path.
    fn discovery_url(&self) -> String {
        format!("{}/.well-known/openid-configuration", self.0.trim_end_matches('/'))
    }
}

impl std::fmt::Display for Issuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Parses `text` as a URL that tokens may be sent to: https, or http to a loopback address.
pub fn secure_url(text: &str) -> Result<reqwest::Url, OidcError> {
    let url = reqwest::Url::parse(text).map_err(|_| OidcError::BadIssuer(format!("{text:?} is not a URL")))?;
    let host = url.host_str().unwrap_or_default();
    match url.scheme() {
        "https" if !host.is_empty() => Ok(url),
        "http" if is_loopback(host) => Ok(url),
        _ => Err(OidcError::InsecureUrl(text.to_owned())),
    }
}

/// The part of the provider's metadata Kage uses, every endpoint checked by [`secure_url`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderMetadata {
    pub issuer: Issuer,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub jwks_uri: String,
    /// RFC 7009; `None`: sign-out cannot end the session at the provider.
    pub revocation_endpoint: Option<String>,
    /// RFC 9207: the provider puts `iss` in every authorization response, so one without it is refused.
    pub iss_parameter_supported: bool,
}

#[derive(Deserialize)]
struct MetadataBody {
    issuer: String,
    authorization_endpoint: String,
    token_endpoint: String,
    jwks_uri: String,
    #[serde(default)]
    revocation_endpoint: Option<String>,
    #[serde(default)]
    authorization_response_iss_parameter_supported: bool,
    #[serde(default)]
    code_challenge_methods_supported: Option<Vec<String>>,
}

/// Reads and checks `issuer`'s metadata.
pub async fn fetch(http: &reqwest::Client, issuer: &Issuer) -> Result<ProviderMetadata, OidcError> {
    let response = http
        .get(issuer.discovery_url())
        .header(reqwest::header::ACCEPT, "application/json")
        .send()
        .await
        .map_err(|e| OidcError::Unreachable(e.without_url().to_string()))?;
    let status = response.status();
    if !status.is_success() {
        return Err(OidcError::Server {
            status: status.as_u16(),
            message: "the identity provider's metadata could not be read".into(),
        });
    }
    let text = response.text().await.map_err(|e| OidcError::Unreachable(e.without_url().to_string()))?;
    parse(issuer, &text)
}

/// Checks a metadata document against the issuer it was fetched for.
pub fn parse(issuer: &Issuer, text: &str) -> Result<ProviderMetadata, OidcError> {
    let body: MetadataBody =
        serde_json::from_str(text).map_err(|e| OidcError::Malformed(format!("provider metadata: {e}")))?;
    if body.issuer != issuer.as_str() {
        return Err(OidcError::IssuerMismatch { expected: issuer.as_str().to_owned(), found: body.issuer });
    }
    // No list means the provider did not say; the token endpoint then has the last word on the verifier.
    if let Some(methods) = &body.code_challenge_methods_supported
        && !methods.iter().any(|m| m == "S256")
    {
        return Err(OidcError::NoPkceS256);
    }
    for endpoint in [&body.authorization_endpoint, &body.token_endpoint, &body.jwks_uri]
        .into_iter()
        .chain(&body.revocation_endpoint)
    {
        secure_url(endpoint)?;
    }
    Ok(ProviderMetadata {
        issuer: issuer.clone(),
        authorization_endpoint: body.authorization_endpoint,
        token_endpoint: body.token_endpoint,
        jwks_uri: body.jwks_uri,
        revocation_endpoint: body.revocation_endpoint,
        iss_parameter_supported: body.authorization_response_iss_parameter_supported,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn document(issuer: &str) -> String {
        serde_json::json!({
            "issuer": issuer,
            "authorization_endpoint": format!("{issuer}/auth"),
            "token_endpoint": format!("{issuer}/token"),
            "jwks_uri": format!("{issuer}/jwks"),
            "revocation_endpoint": format!("{issuer}/token/revocation"),
            "authorization_response_iss_parameter_supported": true,
            "code_challenge_methods_supported": ["S256"],
        })
        .to_string()
    }

    #[test]
    fn metadata_for_the_configured_issuer_is_read() {
        let issuer = Issuer::parse("https://id.example").unwrap();
        let metadata = parse(&issuer, &document("https://id.example")).unwrap();
        assert_eq!(metadata.token_endpoint, "https://id.example/token");
        assert!(metadata.iss_parameter_supported);
        assert_eq!(issuer.discovery_url(), "https://id.example/.well-known/openid-configuration");
        let slash = Issuer::parse("https://id.example/realm/").unwrap();
        assert_eq!(slash.discovery_url(), "https://id.example/realm/.well-known/openid-configuration");
    }

    #[test]
    fn metadata_naming_another_issuer_is_refused_even_if_only_a_slash_differs() {
        let issuer = Issuer::parse("https://id.example").unwrap();
        for other in ["https://id.example/", "https://evil.example", "https://ID.example"] {
            let error = parse(&issuer, &document(other)).unwrap_err();
            assert!(matches!(error, OidcError::IssuerMismatch { .. }), "{other}: {error}");
        }
    }

    #[test]
    fn i6_issuers_and_endpoints_are_https_or_loopback_only() {
        assert!(Issuer::parse("http://127.0.0.1:9000").is_ok());
        assert!(Issuer::parse("http://localhost:9000/oidc").is_ok());
        assert!(matches!(Issuer::parse("http://id.example"), Err(OidcError::InsecureUrl(_))));
        assert!(matches!(Issuer::parse("https://id.example?x=1"), Err(OidcError::BadIssuer(_))));
        let issuer = Issuer::parse("https://id.example").unwrap();
        let clear = document("https://id.example").replace("https://id.example/token\"", "http://id.example/token\"");
        assert!(matches!(parse(&issuer, &clear), Err(OidcError::InsecureUrl(_))));
    }

    #[test]
    fn a_provider_without_s256_is_refused() {
        let issuer = Issuer::parse("https://id.example").unwrap();
        let plain = document("https://id.example").replace("[\"S256\"]", "[\"plain\"]");
        assert_eq!(parse(&issuer, &plain), Err(OidcError::NoPkceS256));
    }
}
