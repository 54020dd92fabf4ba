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
    pub scopes: Vec<String>,
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
        .header(crate::client::AUTH_REQUIRED_HEADER, "1")
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
