//! What the game server says about signing in: which ways it offers (`GET /v1/auth-config`), whether the
//! audience it names is its own, and who a provider's access token is in the game (`GET /v1/viewer`, the
//! account's player id).
//!
//! **The audience is bound to the server Kage talks to.** The server names the provider, the client id and
//! the audience (the API the provider's access tokens are issued for). A hostile server could name a real
//! game's provider and audience and so receive tokens it can replay at the real game, a fresh one on every
//! refresh. So Kage asks for tokens only for an audience that is this server: its origin exactly, or an
//! https URL on its origin whose RFC 9728 protected-resource metadata, published there, names exactly that
//! resource (section 3.3: a document for another resource is not used) and, if it lists authorization
//! servers, the announced provider among them. Anything else is refused before the browser opens.

use std::collections::BTreeMap;

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use super::OidcError;
use crate::account::ServerOrigin;
use crate::model::Profile;

/// `GET /v1/auth-config`: the sign-in screen offers what this says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthConfig {
    /// Signing in with a username and password is offered.
    pub password: bool,
    /// Signing in with the browser is offered, through this provider.
    pub oidc: Option<OidcConfig>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OidcConfig {
    pub issuer: String,
    pub client_id: String,
    /// The game API's audience: asked for as the RFC 8707 `resource`, checked as the access tokens' `aud`.
    pub audience: String,
    /// Read from the protocol's space-separated string (`"openid profile offline_access"`, as OAuth writes a
    /// `scope`); a JSON array of scopes is accepted too.
    #[serde(deserialize_with = "scope_list")]
    pub scopes: Vec<String>,
    /// Extra parameters for the authorization request, as the provider wants them (Auth0's `audience`,
    /// Google's `access_type`...). Those Kage sets itself are never taken from here (see `authorize`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub authorization_params: BTreeMap<String, String>,
}

fn scope_list<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Scopes {
        Spaced(String),
        List(Vec<String>),
    }
    Ok(match Scopes::deserialize(deserializer)? {
        Scopes::Spaced(spaced) => spaced.split_ascii_whitespace().map(str::to_owned).collect(),
        Scopes::List(list) => list,
    })
}

pub async fn auth_config(http: &reqwest::Client, origin: &ServerOrigin) -> Result<AuthConfig, OidcError> {
    let response = http
        .get(origin.url("/v1/auth-config"))
        .send()
        .await
        .map_err(|e| OidcError::Unreachable(e.without_url().to_string()))?;
    let status = response.status();
    // A server from before browser sign-in: passwords only.
    if status == reqwest::StatusCode::NOT_FOUND {
        return Ok(AuthConfig { password: true, oidc: None });
    }
    if !status.is_success() {
        return Err(OidcError::Server {
            status: status.as_u16(),
            message: "the sign-in options could not be read".into(),
        });
    }
    response.json().await.map_err(|e| OidcError::Malformed(format!("auth-config: {}", e.without_url())))
}

/// Refuses an audience that is not `origin`'s own (see the module doc): the origin exactly, or an https (or
/// loopback http) URL on the same origin vouched for by its RFC 9728 metadata.
pub async fn check_audience(
    http: &reqwest::Client,
    origin: &ServerOrigin,
    config: &OidcConfig,
) -> Result<(), OidcError> {
    let refused = || OidcError::AudienceNotBound { audience: config.audience.clone(), origin: origin.to_string() };
    let Ok(url) = reqwest::Url::parse(&config.audience) else { return Err(refused()) };
    if url.origin().ascii_serialization() != origin.as_str() || url.query().is_some() || url.fragment().is_some() {
        return Err(refused());
    }
    let path = url.path().trim_end_matches('/');
    if path.is_empty() && url.username().is_empty() {
        return Ok(());
    }
    let metadata_url = origin.url(&format!("/.well-known/oauth-protected-resource{path}"));
    let response = http.get(&metadata_url).header(reqwest::header::ACCEPT, "application/json").send().await;
    let response = response.map_err(|e| OidcError::Unreachable(e.without_url().to_string()))?;
    if response.status().is_server_error() {
        return Err(OidcError::Server {
            status: response.status().as_u16(),
            message: "the game server's resource metadata could not be read".into(),
        });
    }
    #[derive(Deserialize)]
    struct ResourceMetadata {
        resource: String,
        #[serde(default)]
        authorization_servers: Option<Vec<String>>,
    }
    let metadata = match response.error_for_status() {
        Ok(response) => response.json::<ResourceMetadata>().await.ok(),
        Err(_) => None,
    };
    match metadata {
        Some(metadata)
            if metadata.resource == config.audience
                && metadata.authorization_servers.as_ref().is_none_or(|servers| servers.contains(&config.issuer)) =>
        {
            Ok(())
        }
        _ => Err(refused()),
    }
}

/// The profile of whoever `access_token` belongs to, as the game server sees it.
pub async fn viewer(
    http: &reqwest::Client,
    origin: &ServerOrigin,
    access_token: &SecretString,
) -> Result<Profile, OidcError> {
    let response = http
        .get(origin.url("/v1/viewer"))
        .bearer_auth(access_token.expose_secret())
        .header(crate::transport::AUTH_REQUIRED_HEADER, "1")
        .send()
        .await
        .map_err(|e| OidcError::Unreachable(e.without_url().to_string()))?;
    let status = response.status();
    if !status.is_success() {
        #[derive(Deserialize)]
        struct ErrorBody {
            message: String,
        }
        let message = match response.json::<ErrorBody>().await {
            Ok(body) => body.message,
            Err(_) => format!("it answered {status}"),
        };
        return Err(OidcError::GameServer(message));
    }
    response.json().await.map_err(|e| OidcError::Malformed(format!("viewer: {}", e.without_url())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_are_read_from_the_servers_spaced_string_or_a_list() {
        let spaced: AuthConfig = serde_json::from_value(serde_json::json!({
            "password": false,
            "oidc": {"issuer": "https://id.example", "clientId": "kage", "audience": "https://api.example",
                     "scopes": "openid profile  offline_access"}
        }))
        .unwrap();
        let scopes = spaced.oidc.unwrap().scopes;
        assert_eq!(scopes, ["openid", "profile", "offline_access"]);
        let listed: OidcConfig = serde_json::from_value(serde_json::json!({
            "issuer": "https://id.example", "clientId": "kage", "audience": "https://api.example",
            "scopes": ["openid", "profile"]
        }))
        .unwrap();
        assert_eq!(listed.scopes, ["openid", "profile"]);
    }

    fn config(audience: &str) -> OidcConfig {
        OidcConfig {
            issuer: "https://id.example".into(),
            client_id: "kage".into(),
            audience: audience.into(),
            scopes: vec!["openid".into()],
            authorization_params: BTreeMap::new(),
        }
    }

    #[tokio::test]
    async fn the_audience_must_be_the_servers_origin_or_vouched_for_there_by_rfc_9728_metadata() {
        let served = crate::oidc::test_server::Documents::start().await;
        let origin = ServerOrigin::parse(&served.url("")).unwrap();
        let http = reqwest::Client::new();
        let check = |audience: String| {
            let (http, origin) = (&http, &origin);
            async move { check_audience(http, origin, &config(&audience)).await }
        };
        assert_eq!(check(served.url("")).await, Ok(()));
        assert_eq!(check(served.url("/")).await, Ok(()), "the origin with its root path is the origin");
        // Another server's audience, a name that is no URL, the same host on another port: refused.
        for foreign in ["https://game.example", "kage-api", "urn:game:api", "http://127.0.0.1:1"] {
            let refused = check(foreign.to_owned()).await.unwrap_err();
            assert!(matches!(refused, OidcError::AudienceNotBound { .. }), "{foreign}: {refused}");
            assert!(refused.to_string().contains(origin.as_str()), "{refused}");
        }
        // A path on this origin needs its metadata, naming exactly that resource.
        let api = served.url("/api");
        assert!(check(api.clone()).await.is_err(), "no metadata, no binding");
        served.put("/.well-known/oauth-protected-resource/api", serde_json::json!({"resource": served.url("/other")}));
        assert!(check(api.clone()).await.is_err(), "a document for another resource is not used (RFC 9728 3.3)");
        served.put(
            "/.well-known/oauth-protected-resource/api",
            serde_json::json!({"resource": api, "authorization_servers": ["https://other-id.example"]}),
        );
        assert!(check(api.clone()).await.is_err(), "the resource trusts another provider");
        served.put(
            "/.well-known/oauth-protected-resource/api",
            serde_json::json!({"resource": api, "authorization_servers": ["https://id.example"]}),
        );
        assert_eq!(check(api).await, Ok(()));
    }

    #[test]
    fn extra_authorization_parameters_are_read_from_auth_config() {
        let config: OidcConfig = serde_json::from_value(serde_json::json!({
            "issuer": "https://id.example", "clientId": "kage", "audience": "https://api.example",
            "scopes": "openid", "authorizationParams": {"access_type": "offline"}
        }))
        .unwrap();
        assert_eq!(config.authorization_params.get("access_type").map(String::as_str), Some("offline"));
    }
}
