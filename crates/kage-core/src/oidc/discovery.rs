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

    /// Where its RFC 8414 metadata may be: `/.well-known/oauth-authorization-server` inserted between the
    /// host and the issuer's path (section 3.1), then appended to the issuer (where an issuer with a path
    /// often serves it too). One URL when the issuer has no path.
    fn rfc8414_urls(&self) -> Vec<String> {
        const WELL_KNOWN: &str = "/.well-known/oauth-authorization-server";
        let trimmed = self.0.trim_end_matches('/');
        let Ok(url) = reqwest::Url::parse(trimmed) else { return Vec::new() };
        let path = url.path().trim_end_matches('/');
        let origin = url.origin().ascii_serialization();
        let inserted = format!("{origin}{WELL_KNOWN}{path}");
        let appended = format!("{trimmed}{WELL_KNOWN}");
        if inserted == appended { vec![inserted] } else { vec![inserted, appended] }
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
    /// RFC 7009, from either document; `None`: sign-out cannot end the grant at the provider.
    pub revocation_endpoint: Option<String>,
    /// RFC 9207: the provider puts `iss` in its authorization responses, so a code without it is refused.
    pub iss_parameter_supported: bool,
}

/// One metadata document as published: OpenID Connect Discovery or RFC 8414. Everything but `issuer` may be
/// missing from one of them and found in the other.
#[derive(Deserialize, Default)]
struct MetadataBody {
    issuer: String,
    #[serde(default)]
    authorization_endpoint: Option<String>,
    #[serde(default)]
    token_endpoint: Option<String>,
    #[serde(default)]
    jwks_uri: Option<String>,
    #[serde(default)]
    revocation_endpoint: Option<String>,
    #[serde(default)]
    authorization_response_iss_parameter_supported: bool,
    #[serde(default)]
    code_challenge_methods_supported: Option<Vec<String>>,
}

impl MetadataBody {
    /// Whether every field Kage can use is there, so the other document need not be read.
    fn is_complete(&self) -> bool {
        self.authorization_endpoint.is_some()
            && self.token_endpoint.is_some()
            && self.jwks_uri.is_some()
            && self.revocation_endpoint.is_some()
    }

    /// Fills what this document lacks from `other` (same issuer, checked by the caller). A promise made in
    /// either document holds: `iss` is then required.
    fn or(self, other: MetadataBody) -> MetadataBody {
        MetadataBody {
            issuer: self.issuer,
            authorization_endpoint: self.authorization_endpoint.or(other.authorization_endpoint),
            token_endpoint: self.token_endpoint.or(other.token_endpoint),
            jwks_uri: self.jwks_uri.or(other.jwks_uri),
            revocation_endpoint: self.revocation_endpoint.or(other.revocation_endpoint),
            authorization_response_iss_parameter_supported: self.authorization_response_iss_parameter_supported
                || other.authorization_response_iss_parameter_supported,
            code_challenge_methods_supported: self
                .code_challenge_methods_supported
                .or(other.code_challenge_methods_supported),
        }
    }
}

/// Reads and checks `issuer`'s metadata: its OpenID configuration, and for what that lacks (a revocation
/// endpoint, typically) its RFC 8414 authorization server metadata. A provider may publish either or both,
/// and some list their revocation endpoint only in the second.
pub async fn fetch(http: &reqwest::Client, issuer: &Issuer) -> Result<ProviderMetadata, OidcError> {
    let openid = match get_document(http, issuer, &issuer.discovery_url()).await {
        Ok(document) => Some(document),
        // Only a provider that publishes no OpenID configuration at all is asked for RFC 8414 alone.
        Err(OidcError::Server { status: 404, .. }) => None,
        Err(error) => return Err(error),
    };
    let merged = match openid {
        Some(openid) if openid.is_complete() => openid,
        Some(openid) => match rfc8414(http, issuer).await {
            Some(oauth) => openid.or(oauth),
            None => openid,
        },
        None => rfc8414(http, issuer)
            .await
            .ok_or(OidcError::Server { status: 404, message: "the identity provider publishes no metadata".into() })?,
    };
    check(issuer, merged)
}

/// RFC 8414 metadata, where section 3.1 puts it (the well-known path inserted before the issuer's path), else
/// where many providers also serve it (appended to the issuer). `None` when neither answers with a document
/// for this issuer: the OpenID configuration alone is then all there is.
async fn rfc8414(http: &reqwest::Client, issuer: &Issuer) -> Option<MetadataBody> {
    for url in issuer.rfc8414_urls() {
        match get_document(http, issuer, &url).await {
            Ok(document) => return Some(document),
            Err(error) => tracing::debug!(issuer = %issuer, %error, "no RFC 8414 metadata at {url}"),
        }
    }
    None
}

async fn get_document(http: &reqwest::Client, issuer: &Issuer, url: &str) -> Result<MetadataBody, OidcError> {
    let response = http
        .get(url)
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
    read(issuer, &text)
}

/// One document, whose `issuer` must be exactly the configured one (RFC 8414 section 3.3).
fn read(issuer: &Issuer, text: &str) -> Result<MetadataBody, OidcError> {
    let body: MetadataBody =
        serde_json::from_str(text).map_err(|e| OidcError::Malformed(format!("provider metadata: {e}")))?;
    if body.issuer != issuer.as_str() {
        return Err(OidcError::IssuerMismatch { expected: issuer.as_str().to_owned(), found: body.issuer });
    }
    Ok(body)
}

/// Checks a metadata document against the issuer it was fetched for.
pub fn parse(issuer: &Issuer, text: &str) -> Result<ProviderMetadata, OidcError> {
    check(issuer, read(issuer, text)?)
}

fn check(issuer: &Issuer, body: MetadataBody) -> Result<ProviderMetadata, OidcError> {
    // No list means the provider did not say; the token endpoint then has the last word on the verifier.
    if let Some(methods) = &body.code_challenge_methods_supported
        && !methods.iter().any(|m| m == "S256")
    {
        return Err(OidcError::NoPkceS256);
    }
    let required = |value: Option<String>, name: &str| {
        value.ok_or_else(|| OidcError::Malformed(format!("provider metadata: no {name}")))
    };
    let authorization_endpoint = required(body.authorization_endpoint, "authorization_endpoint")?;
    let token_endpoint = required(body.token_endpoint, "token_endpoint")?;
    let jwks_uri = required(body.jwks_uri, "jwks_uri")?;
    for endpoint in [&authorization_endpoint, &token_endpoint, &jwks_uri].into_iter().chain(&body.revocation_endpoint) {
        secure_url(endpoint)?;
    }
    Ok(ProviderMetadata {
        issuer: issuer.clone(),
        authorization_endpoint,
        token_endpoint,
        jwks_uri,
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

    #[test]
    fn rfc_8414_metadata_is_looked_for_before_the_issuers_path_then_after_it() {
        let plain = Issuer::parse("https://id.example").unwrap();
        assert_eq!(plain.rfc8414_urls(), ["https://id.example/.well-known/oauth-authorization-server"]);
        let tenant = Issuer::parse("https://id.example/o/").unwrap();
        assert_eq!(
            tenant.rfc8414_urls(),
            [
                "https://id.example/.well-known/oauth-authorization-server/o",
                "https://id.example/o/.well-known/oauth-authorization-server"
            ]
        );
    }

    #[tokio::test]
    async fn what_the_openid_configuration_lacks_is_read_from_rfc_8414_metadata() {
        let issuer_path = "/o";
        let served = crate::oidc::test_server::Documents::start().await;
        let issuer_url = served.url(issuer_path);
        let issuer = Issuer::parse(&issuer_url).unwrap();
        // As django-oauth-toolkit publishes them: no revocation endpoint and no `iss` promise in the OpenID
        // configuration, both in the RFC 8414 document at the path section 3.1 names.
        let mut openid: serde_json::Value = serde_json::from_str(&document(&issuer_url)).unwrap();
        openid.as_object_mut().unwrap().remove("revocation_endpoint");
        openid["authorization_response_iss_parameter_supported"] = false.into();
        served.put("/o/.well-known/openid-configuration", openid);
        served.put(
            "/.well-known/oauth-authorization-server/o",
            serde_json::json!({"issuer": issuer_url, "revocation_endpoint": format!("{issuer_url}/revoke"),
                               "authorization_response_iss_parameter_supported": true}),
        );
        let http = reqwest::Client::new();
        let metadata = fetch(&http, &issuer).await.unwrap();
        assert_eq!(metadata.revocation_endpoint, Some(format!("{issuer_url}/revoke")));
        assert!(metadata.iss_parameter_supported, "a promise in either document holds");
        assert_eq!(metadata.token_endpoint, format!("{issuer_url}/token"), "the OpenID configuration comes first");

        // An RFC 8414 document for another issuer is not used; without it there is simply no revocation.
        served.put(
            "/.well-known/oauth-authorization-server/o",
            serde_json::json!({"issuer": "https://evil.example", "revocation_endpoint": "https://evil.example/r"}),
        );
        assert_eq!(fetch(&http, &issuer).await.unwrap().revocation_endpoint, None);
        // The appended form is the second place looked at.
        served.put(
            "/o/.well-known/oauth-authorization-server",
            serde_json::json!({"issuer": issuer_url, "revocation_endpoint": format!("{issuer_url}/revoke-2")}),
        );
        assert_eq!(fetch(&http, &issuer).await.unwrap().revocation_endpoint, Some(format!("{issuer_url}/revoke-2")));
    }
}
