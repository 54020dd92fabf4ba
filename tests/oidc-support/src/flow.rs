//! The client's side of the authorization code flow with PKCE (RFC 7636): the request it sends the browser
//! to, and the tokens it gets back. Kept plain so a test can also build a wrong request on purpose.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::Url;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::{CLIENT_ID, REDIRECT_URI, SCOPES};

/// A PKCE verifier and its S256 challenge.
#[derive(Debug, Clone)]
pub struct Pkce {
    pub verifier: String,
    pub challenge: String,
}

impl Pkce {
    pub fn new() -> Self {
        let verifier = URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>());
        let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
        Self { verifier, challenge }
    }
}

impl Default for Pkce {
    fn default() -> Self {
        Self::new()
    }
}

/// One authorization request, with the secrets the client keeps until the redirect comes back.
#[derive(Debug, Clone)]
pub struct AuthorizationRequest {
    pub client_id: String,
    pub redirect_uri: String,
    pub scope: String,
    pub state: String,
    pub pkce: Pkce,
    /// RFC 8707 resource indicator; `None` lets the provider pick its default audience.
    pub resource: Option<String>,
    /// `Some("login")` makes the provider ask for the password even if its session is signed in.
    pub prompt: Option<String>,
}

impl AuthorizationRequest {
    /// Kage's request: client `kage`, `http://127.0.0.1:<port>/callback`, scopes `openid profile offline_access`.
    pub fn new(callback_port: u16) -> Self {
        let redirect_uri = REDIRECT_URI.replacen("127.0.0.1", &format!("127.0.0.1:{callback_port}"), 1);
        Self {
            client_id: CLIENT_ID.into(),
            redirect_uri,
            scope: SCOPES.into(),
            state: URL_SAFE_NO_PAD.encode(rand::random::<[u8; 16]>()),
            pkce: Pkce::new(),
            resource: None,
            prompt: None,
        }
    }

    pub fn with_resource(mut self, resource: &str) -> Self {
        self.resource = Some(resource.into());
        self
    }

    pub fn with_prompt(mut self, prompt: &str) -> Self {
        self.prompt = Some(prompt.into());
        self
    }

    /// The URL the browser opens, on `authorization_endpoint`.
    pub fn url(&self, authorization_endpoint: &str) -> String {
        let mut url = Url::parse(authorization_endpoint).expect("the provider's authorization endpoint is a URL");
        {
            let mut query = url.query_pairs_mut();
            query
                .append_pair("response_type", "code")
                .append_pair("client_id", &self.client_id)
                .append_pair("redirect_uri", &self.redirect_uri)
                .append_pair("scope", &self.scope)
                .append_pair("state", &self.state)
                .append_pair("code_challenge", &self.pkce.challenge)
                .append_pair("code_challenge_method", "S256");
            if let Some(resource) = &self.resource {
                query.append_pair("resource", resource);
            }
            if let Some(prompt) = &self.prompt {
                query.append_pair("prompt", prompt);
            }
        }
        url.into()
    }
}

/// A token endpoint answer.
#[derive(Debug, Clone, Deserialize)]
pub struct TokenSet {
    pub access_token: String,
    pub token_type: String,
    pub expires_in: Option<u64>,
    pub refresh_token: Option<String>,
    pub id_token: Option<String>,
    pub scope: Option<String>,
}

/// The claims of a JWT, read without checking its signature (tests only look, the server verifies).
pub fn unverified_claims(jwt: &str) -> serde_json::Value {
    let payload = jwt.split('.').nth(1).expect("a JWT has three parts");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).expect("base64url payload")).expect("JSON payload")
}

/// The protected header of a JWT, unverified.
pub fn unverified_header(jwt: &str) -> serde_json::Value {
    let header = jwt.split('.').next().expect("a JWT has a header");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).expect("base64url header")).expect("JSON header")
}
