//! The authorization URL the shell opens in the system browser.
//!
//! Every request asks for the login page (`prompt=login`, and `max_age=0`, which obliges the provider to say in
//! the ID token when the player signed in: see `keys`): the browser's session with the provider is shared by
//! all of Kage's windows and may belong to another player (see the module doc of [`super`]). Signing a known
//! account in again adds `login_hint`, so the page offers that player's name. The game server may add
//! parameters its provider wants; those Kage sets itself it never takes from there.

use std::collections::BTreeMap;

/// Parameters Kage sets itself; the game server's extra parameters never replace them.
const KAGE_PARAMETERS: &[&str] = &[
    "response_type",
    "response_mode",
    "client_id",
    "redirect_uri",
    "scope",
    "code_challenge",
    "code_challenge_method",
    "state",
    "nonce",
    "prompt",
    "max_age",
    "resource",
    "login_hint",
    "request",
    "request_uri",
];

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
    /// The game server's extra parameters for its provider.
    pub extra: &'a BTreeMap<String, String>,
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
                .append_pair("prompt", "login")
                .append_pair("max_age", "0");
            if let Some(resource) = self.resource {
                query.append_pair("resource", resource);
            }
            if let Some(hint) = self.login_hint {
                query.append_pair("login_hint", hint);
            }
            for (name, value) in self.extra {
                if KAGE_PARAMETERS.contains(&name.as_str()) {
                    tracing::warn!(parameter = %name, "the game server's authorization parameter is Kage's own; ignored");
                } else {
                    query.append_pair(name, value);
                }
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

    fn request<'a>(
        scopes: &'a [String],
        login_hint: Option<&'a str>,
        extra: &'a BTreeMap<String, String>,
    ) -> AuthorizationRequest<'a> {
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
            extra,
        }
    }

    #[test]
    fn the_authorization_url_carries_pkce_state_nonce_resource_and_forces_the_login_page() {
        let scopes = vec!["openid".to_owned(), "offline_access".to_owned(), "profile".to_owned()];
        let query = query_of(&request(&scopes, None, &BTreeMap::new()).url().unwrap());
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
        assert_eq!(get("max_age"), ["0"], "the ID token must then say when the player signed in");
        assert!(get("login_hint").is_empty());
    }

    #[test]
    fn signing_a_known_account_in_again_hints_its_name_and_still_forces_the_login_page() {
        let scopes = vec!["offline_access".to_owned()];
        let query = query_of(&request(&scopes, Some("alt"), &BTreeMap::new()).url().unwrap());
        assert!(query.contains(&("login_hint".into(), "alt".into())));
        assert!(query.contains(&("prompt".into(), "login".into())));
        assert!(query.contains(&("scope".into(), "openid offline_access".into())), "openid is always asked for");
    }

    #[test]
    fn the_game_servers_extra_parameters_are_added_but_never_replace_kages_own() {
        let scopes = vec!["openid".to_owned()];
        let extra: BTreeMap<String, String> = [
            ("access_type", "offline"),
            ("audience", "https://game.example/api"),
            ("redirect_uri", "https://evil.example/steal"),
            ("prompt", "none"),
            ("state", "chosen"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let query = query_of(&request(&scopes, None, &extra).url().unwrap());
        let get = |name: &str| query.iter().filter(|(k, _)| k == name).map(|(_, v)| v.as_str()).collect::<Vec<_>>();
        assert_eq!(get("access_type"), ["offline"]);
        assert_eq!(get("audience"), ["https://game.example/api"]);
        assert_eq!(get("redirect_uri"), ["http://127.0.0.1:49152/callback"]);
        assert_eq!(get("prompt"), ["login"]);
        assert_eq!(get("state"), ["the-state"]);
    }
}
