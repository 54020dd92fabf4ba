//! What the game server says about signing in: which ways it offers (`GET /v1/auth-config`), and who a
//! provider's access token is in the game (`GET /v1/viewer`, the account's player id).

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
}
