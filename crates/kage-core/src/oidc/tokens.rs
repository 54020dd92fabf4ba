//! The provider's token and revocation endpoints: the code exchange, refreshing, revoking (RFC 6749, 7636,
//! 7009, 8707). Kage is a public client: it authenticates with `client_id` alone, the PKCE verifier standing in
//! for a secret.
//!
//! Answers are sorted as the sessions need them (I11): an OAuth `invalid_grant` is the provider refusing the
//! grant itself (the only answer that may sign an account out); a 429 or a 503 with `Retry-After` is a wait;
//! network trouble and 5xx are "unreachable"; anything else is a refusal with the provider's own words.

use std::time::Instant;

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use super::OidcError;
use crate::authority::AuthError;

/// A token endpoint's successful answer, its secrets wrapped as they are read.
pub struct TokenAnswer {
    pub access_token: SecretString,
    pub expires_in: u64,
    /// `None` on a refresh: the provider did not rotate, the spent token stays good.
    pub refresh_token: Option<SecretString>,
    pub id_token: Option<String>,
    /// When the answer arrived: expiry is timed from here on the monotonic clock.
    pub received: Instant,
}

/// Why a token or revocation endpoint call failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EndpointError {
    Unreachable(String),
    Throttled(u64),
    /// An OAuth error answer (`invalid_grant`, `invalid_request`, `invalid_client`...).
    Refused {
        status: u16,
        error: String,
        description: Option<String>,
    },
    Server {
        status: u16,
    },
    Malformed(String),
}

impl From<EndpointError> for OidcError {
    fn from(error: EndpointError) -> Self {
        match error {
            EndpointError::Unreachable(message) => Self::Unreachable(message),
            EndpointError::Throttled(retry_after_secs) => Self::Throttled { retry_after_secs },
            EndpointError::Refused { error, description, .. } => Self::Exchange { error, description },
            EndpointError::Server { status } => {
                Self::Server { status, message: "the identity provider is having trouble".into() }
            }
            EndpointError::Malformed(message) => Self::Malformed(message),
        }
    }
}

impl From<EndpointError> for AuthError {
    fn from(error: EndpointError) -> Self {
        match error {
            EndpointError::Refused { error, .. } if error == "invalid_grant" => Self::Rejected,
            EndpointError::Unreachable(message) => Self::Unreachable(message),
            EndpointError::Throttled(retry_after_secs) => Self::Throttled { retry_after_secs },
            EndpointError::Refused { status, error, description } => {
                Self::Server { status, message: description.unwrap_or(error) }
            }
            EndpointError::Server { status } => {
                Self::Server { status, message: "the identity provider is having trouble".into() }
            }
            EndpointError::Malformed(message) => Self::Malformed(message),
        }
    }
}

/// What one exchange of an authorization code sends.
pub struct CodeExchange<'a> {
    pub token_endpoint: &'a str,
    pub code: &'a SecretString,
    pub redirect_uri: &'a str,
    pub client_id: &'a str,
    /// `None` only when a test checks that the provider enforces PKCE.
    pub code_verifier: Option<&'a SecretString>,
    pub resource: Option<&'a str>,
}

pub async fn exchange(http: &reqwest::Client, request: CodeExchange<'_>) -> Result<TokenAnswer, EndpointError> {
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("code", request.code.expose_secret()),
        ("redirect_uri", request.redirect_uri),
        ("client_id", request.client_id),
    ];
    if let Some(verifier) = request.code_verifier {
        form.push(("code_verifier", verifier.expose_secret()));
    }
    if let Some(resource) = request.resource {
        form.push(("resource", resource));
    }
    token_request(http, request.token_endpoint, &form).await
}

pub async fn refresh(
    http: &reqwest::Client,
    token_endpoint: &str,
    refresh_token: &SecretString,
    client_id: &str,
    resource: &str,
) -> Result<TokenAnswer, EndpointError> {
    let form = [
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh_token.expose_secret()),
        ("client_id", client_id),
        ("resource", resource),
    ];
    token_request(http, token_endpoint, &form).await
}

/// RFC 7009. A token the provider does not know is already "revoked": 200 either way.
pub async fn revoke(
    http: &reqwest::Client,
    revocation_endpoint: &str,
    token: &SecretString,
    token_type_hint: &str,
    client_id: &str,
) -> Result<(), EndpointError> {
    let form = [("token", token.expose_secret()), ("token_type_hint", token_type_hint), ("client_id", client_id)];
    let response = http.post(revocation_endpoint).form(&form).send().await.map_err(unreachable)?;
    if response.status().is_success() {
        return Ok(());
    }
    Err(error_of(response).await)
}

#[derive(Deserialize)]
struct TokenBody {
    access_token: String,
    #[serde(default)]
    token_type: Option<String>,
    #[serde(default)]
    expires_in: Option<u64>,
    #[serde(default)]
    refresh_token: Option<String>,
    #[serde(default)]
    id_token: Option<String>,
}

#[derive(Deserialize)]
struct OAuthErrorBody {
    error: String,
    #[serde(default)]
    error_description: Option<String>,
}

/// A provider that names no lifetime: assume a short one, so the token is refreshed rather than trusted long.
const DEFAULT_EXPIRES_IN: u64 = 60;

async fn token_request(
    http: &reqwest::Client,
    endpoint: &str,
    form: &[(&str, &str)],
) -> Result<TokenAnswer, EndpointError> {
    let response = http
        .post(endpoint)
        .header(reqwest::header::ACCEPT, "application/json")
        .form(form)
        .send()
        .await
        .map_err(unreachable)?;
    if !response.status().is_success() {
        return Err(error_of(response).await);
    }
    let received = Instant::now();
    let body: TokenBody = response.json().await.map_err(|e| {
        // Cut off mid-answer looks like a parse error too; either way no new grant was read.
        EndpointError::Malformed(format!("token endpoint answer: {}", e.without_url()))
    })?;
    if body.token_type.as_deref().is_some_and(|t| !t.eq_ignore_ascii_case("bearer")) {
        return Err(EndpointError::Malformed("the provider issued a token that is not a bearer token".into()));
    }
    Ok(TokenAnswer {
        access_token: SecretString::from(body.access_token),
        expires_in: body.expires_in.unwrap_or(DEFAULT_EXPIRES_IN),
        refresh_token: body.refresh_token.map(SecretString::from),
        id_token: body.id_token,
        received,
    })
}

fn unreachable(error: reqwest::Error) -> EndpointError {
    EndpointError::Unreachable(error.without_url().to_string())
}

async fn error_of(response: reqwest::Response) -> EndpointError {
    if let Some(wait) = crate::retry_after::of_response(&response) {
        return EndpointError::Throttled(wait.as_secs().max(1));
    }
    let status = response.status().as_u16();
    if status >= 500 {
        return EndpointError::Server { status };
    }
    match response.json::<OAuthErrorBody>().await {
        Ok(body) => EndpointError::Refused { status, error: body.error, description: body.error_description },
        Err(_) => EndpointError::Refused { status, error: "unknown_error".into(), description: None },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn i11_only_invalid_grant_is_a_rejection() {
        let refused = |error: &str| EndpointError::Refused { status: 400, error: error.into(), description: None };
        assert_eq!(AuthError::from(refused("invalid_grant")), AuthError::Rejected);
        for other in ["invalid_client", "invalid_request", "invalid_scope", "unauthorized_client"] {
            assert_ne!(AuthError::from(refused(other)), AuthError::Rejected, "{other}");
        }
        assert!(AuthError::from(EndpointError::Server { status: 503 }).is_transient());
        assert!(AuthError::from(EndpointError::Unreachable("down".into())).is_transient());
        assert_eq!(AuthError::from(EndpointError::Throttled(7)), AuthError::Throttled { retry_after_secs: 7 });
    }
}
