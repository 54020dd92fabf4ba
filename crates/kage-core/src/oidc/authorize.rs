//! The authorization URL the shell opens in the system browser.
//!
//! Every request asks for the login page (`prompt=login`): the browser's session with the provider is shared by
//! all of Kage's windows and may belong to another player (see the module doc of [`super`]). Signing a known
//! account in again adds `login_hint`, so the page offers that player's name.

/// One authorization request (RFC 6749 4.1.1, OIDC Core 3.1.2.1, RFC 7636, RFC 8707).
pub struct AuthorizationRequest<'a> {
    pub authorization_endpoint: &'a str,
    pub client_id: &'a str,
    pub redirect_uri: &'a str,
    pub scopes: &'a [String],
    pub code_challenge: &'a str,
    pub state: &'a str,
    pub nonce: &'a str,
    /// The game API's audience, so the access token is issued for it.
    pub resource: Option<&'a str>,
    pub login_hint: Option<&'a str>,
}

impl AuthorizationRequest<'_> {
    pub fn url(&self) -> Result<String, super::OidcError> {
        let mut url = super::discovery::secure_url(self.authorization_endpoint)?;
        // `openid` makes it an OpenID Connect request (an ID token comes back); the server's scopes follow.
        let mut scopes = vec!["openid"];
        scopes.extend(self.scopes.iter().map(String::as_str).filter(|s| *s != "openid"));
        {
            let mut query = url.query_pairs_mut();
            query
                .append_pair("response_type", "code")
                .append_pair("client_id", self.client_id)
                .append_pair("redirect_uri", self.redirect_uri)
                .append_pair("scope", &scopes.join(" "))
                .append_pair("code_challenge", self.code_challenge)
                .append_pair("code_challenge_method", "S256")
                .append_pair("state", self.state)
                .append_pair("nonce", self.nonce)
                .append_pair("prompt", "login");
            if let Some(resource) = self.resource {
                query.append_pair("resource", resource);
            }
            if let Some(hint) = self.login_hint {
                query.append_pair("login_hint", hint);
            }
        }
        Ok(url.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query_of(url: &str) -> Vec<(String, String)> {
        reqwest::Url::parse(url).unwrap().query_pairs().into_owned().collect()
    }

    fn request<'a>(scopes: &'a [String], login_hint: Option<&'a str>) -> AuthorizationRequest<'a> {
        AuthorizationRequest {
            authorization_endpoint: "https://id.example/auth?tenant=kage",
            client_id: "kage",
            redirect_uri: "http://127.0.0.1:49152/callback",
            scopes,
            code_challenge: "challenge",
            state: "the-state",
            nonce: "the-nonce",
            resource: Some("https://game.example"),
            login_hint,
        }
    }

    #[test]
    fn the_authorization_url_carries_pkce_state_nonce_resource_and_forces_the_login_page() {
        let scopes = vec!["openid".to_owned(), "offline_access".to_owned(), "profile".to_owned()];
        let query = query_of(&request(&scopes, None).url().unwrap());
        let get = |name: &str| query.iter().filter(|(k, _)| k == name).map(|(_, v)| v.as_str()).collect::<Vec<_>>();
        assert_eq!(get("tenant"), ["kage"], "the endpoint's own query is kept");
        assert_eq!(get("response_type"), ["code"]);
        assert_eq!(get("client_id"), ["kage"]);
        assert_eq!(get("redirect_uri"), ["http://127.0.0.1:49152/callback"]);
        assert_eq!(get("scope"), ["openid offline_access profile"]);
        assert_eq!(get("code_challenge"), ["challenge"]);
        assert_eq!(get("code_challenge_method"), ["S256"]);
        assert_eq!(get("state"), ["the-state"]);
        assert_eq!(get("nonce"), ["the-nonce"]);
        assert_eq!(get("resource"), ["https://game.example"]);
        assert_eq!(get("prompt"), ["login"], "a new account never gets the browser's current provider session");
        assert!(get("login_hint").is_empty());
    }

    #[test]
    fn signing_a_known_account_in_again_hints_its_name_and_still_forces_the_login_page() {
        let scopes = vec!["offline_access".to_owned()];
        let query = query_of(&request(&scopes, Some("alt")).url().unwrap());
        assert!(query.contains(&("login_hint".into(), "alt".into())));
        assert!(query.contains(&("prompt".into(), "login".into())));
        assert!(query.contains(&("scope".into(), "openid offline_access".into())), "openid is always asked for");
    }
}
