//! An external OpenID Connect provider's access tokens, against a real provider (tests/oidc-provider):
//! players sign in through its login page, and its tokens open the API under the same rules as ours.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use kage_oidc_support::flow::{unverified_claims, unverified_header};
use kage_oidc_support::{
    ALT, Account, AuthorizationRequest, Browser, CLIENT_ID, DEFAULT_AUDIENCE, MAIN, OTHER_AUDIENCE, ProviderOptions,
    TWIN, TestProvider, TokenSet,
};
use kage_server::Config;
use kage_server::oidc::OidcConfig;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::events::EventStream;
use crate::support::{TestServer, body, expect_error};

fn trust(provider: &TestProvider) -> OidcConfig {
    let mut oidc = OidcConfig::new(provider.issuer(), DEFAULT_AUDIENCE, CLIENT_ID);
    oidc.leeway = Duration::ZERO;
    oidc
}

/// A server (no demo players) trusting `provider`, adjusted by `configure`.
async fn server_trusting(provider: &TestProvider, configure: impl FnOnce(&mut Config)) -> TestServer {
    let oidc = trust(provider);
    TestServer::start_with(|config| {
        config.demo = false;
        config.oidc = Some(oidc);
        configure(config);
    })
    .await
}

/// `account` signs in at the provider in a browser of its own, for `resource` (default: the game's audience).
async fn sign_in(provider: &TestProvider, account: Account, resource: Option<&str>) -> TokenSet {
    let mut request = AuthorizationRequest::new(43210);
    if let Some(resource) = resource {
        request = request.with_resource(resource);
    }
    provider.sign_in(&Browser::new(), &request, Some(&account.credentials())).await.expect("provider sign-in")
}

async fn viewer(server: &TestServer, token: &str) -> Value {
    let response = server.get_as("/v1/viewer", token).await;
    assert_eq!(response.status(), StatusCode::OK, "GET /v1/viewer with a provider token");
    body(response).await
}

async fn start_provider(options: ProviderOptions) -> Option<TestProvider> {
    TestProvider::start_or_skip(options).await
}

#[tokio::test]
async fn provider_tokens_read_their_own_profiles_and_transfers_conserve_ryo() {
    let Some(provider) = start_provider(ProviderOptions::default()).await else { return };
    let server = server_trusting(&provider, |_| {}).await;
    let main = sign_in(&provider, MAIN, None).await;
    let alt = sign_in(&provider, ALT, None).await;
    let main_profile = viewer(&server, &main.access_token).await;
    let alt_profile = viewer(&server, &alt.access_token).await;
    assert_eq!((main_profile["username"].as_str(), alt_profile["username"].as_str()), (Some("main"), Some("alt")));
    assert_ne!(main_profile["id"], alt_profile["id"]);
    let total = main_profile["ryo"].as_i64().unwrap() + alt_profile["ryo"].as_i64().unwrap();

    let response = server
        .request(Method::POST, "/v1/transfers")
        .bearer_auth(&main.access_token)
        .json(&json!({"viewer_id": main_profile["id"], "to": "alt", "amount": 7}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let main_after = viewer(&server, &main.access_token).await;
    let alt_after = viewer(&server, &alt.access_token).await;
    assert_eq!(alt_after["ryo"].as_i64().unwrap(), alt_profile["ryo"].as_i64().unwrap() + 7);
    assert_eq!(main_after["ryo"].as_i64().unwrap() + alt_after["ryo"].as_i64().unwrap(), total);
}

/// A provider's new identities become new players (each with the starting ryo) at most so many per window, as
/// sign-ups are per address (issue 17): with a limit of one, main's first sign-in makes a player, alt's is 429
/// with `Retry-After`, and main, who already is a player, still gets in.
#[tokio::test]
async fn new_players_from_one_provider_are_throttled_and_known_players_still_get_in() {
    let Some(provider) = start_provider(ProviderOptions::default()).await else { return };
    let server = server_trusting(&provider, |config| config.throttle.new_players_per_issuer = 1).await;
    let main = sign_in(&provider, MAIN, None).await;
    assert_eq!(viewer(&server, &main.access_token).await["username"].as_str(), Some("main"));
    let alt = sign_in(&provider, ALT, None).await;
    let refused = server.get_as("/v1/viewer", &alt.access_token).await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS, "a second new player within the window");
    assert!(refused.headers().contains_key("retry-after"), "the refusal says when to try again");
    let error = body(refused).await;
    assert_eq!(error["error"], "too_many_new_players", "{error}");
    assert_eq!(
        viewer(&server, &main.access_token).await["username"].as_str(),
        Some("main"),
        "known players are not counted"
    );
}

#[tokio::test]
async fn i8_viewer_guard_rejects_a_provider_token_asserting_the_other_players_id() {
    let Some(provider) = start_provider(ProviderOptions::default()).await else { return };
    let server = server_trusting(&provider, |_| {}).await;
    let main = sign_in(&provider, MAIN, None).await;
    let alt = sign_in(&provider, ALT, None).await;
    let alt_id = viewer(&server, &alt.access_token).await["id"].as_str().unwrap().to_owned();
    let main_id = viewer(&server, &main.access_token).await["id"].as_str().unwrap().to_owned();

    let query = server.get_as(&format!("/v1/viewer?viewer_id={alt_id}"), &main.access_token).await;
    expect_error(query, StatusCode::FORBIDDEN, "viewer_mismatch").await;
    let action = server
        .request(Method::POST, "/v1/viewer/train")
        .bearer_auth(&main.access_token)
        .json(&json!({"viewer_id": alt_id}))
        .send()
        .await
        .unwrap();
    expect_error(action, StatusCode::FORBIDDEN, "viewer_mismatch").await;
    let own = server.get_as(&format!("/v1/viewer?viewer_id={main_id}"), &main.access_token).await;
    assert_eq!(own.status(), StatusCode::OK);
}

/// Sends `token` as Bearer together with a valid `__session` cookie of another player: must be a 401.
async fn assert_refused_without_cookie_fallback(server: &TestServer, token: &str, cookie: &str, what: &str) {
    let response = server
        .request(Method::GET, "/v1/viewer")
        .bearer_auth(token)
        .header("cookie", format!("__session={cookie}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{what}");
    assert!(response.headers()["www-authenticate"].to_str().unwrap().contains("invalid_token"), "{what}");
    assert_eq!(body(response).await["error"], "invalid_token", "{what}");
}

#[tokio::test]
async fn i8_foreign_audience_issuer_or_tampered_provider_tokens_are_401_and_never_fall_back_to_the_cookie() {
    let Some(provider) = start_provider(ProviderOptions::default()).await else { return };
    let Some(stranger) = start_provider(ProviderOptions::default()).await else { return };
    let server = server_trusting(&provider, |_| {}).await;
    server.sign_up("cookie-player", "cookie-password").await;
    let cookie = server.browser_sign_in("cookie-player", "cookie-password").await;

    let other_audience = sign_in(&provider, MAIN, Some(OTHER_AUDIENCE)).await;
    assert_eq!(unverified_claims(&other_audience.access_token)["aud"], OTHER_AUDIENCE);
    assert_refused_without_cookie_fallback(&server, &other_audience.access_token, &cookie, "another audience").await;

    let other_issuer = sign_in(&stranger, MAIN, None).await;
    assert_refused_without_cookie_fallback(&server, &other_issuer.access_token, &cookie, "another issuer").await;

    let good = sign_in(&provider, MAIN, None).await.access_token;
    let parts: Vec<&str> = good.split('.').collect();
    let mut signature = URL_SAFE_NO_PAD.decode(parts[2]).unwrap();
    signature[10] ^= 0x01;
    let bad_signature = format!("{}.{}.{}", parts[0], parts[1], URL_SAFE_NO_PAD.encode(signature));
    assert_refused_without_cookie_fallback(&server, &bad_signature, &cookie, "tampered signature").await;

    let mut claims = unverified_claims(&good);
    claims["sub"] = json!(ALT.sub);
    let forged = format!("{}.{}.{}", parts[0], URL_SAFE_NO_PAD.encode(claims.to_string()), parts[2]);
    assert_refused_without_cookie_fallback(&server, &forged, &cookie, "another sub under main's signature").await;

    let mut header = unverified_header(&good);
    header["alg"] = json!("HS256");
    let confused = format!("{}.{}.{}", URL_SAFE_NO_PAD.encode(header.to_string()), parts[1], parts[2]);
    assert_refused_without_cookie_fallback(&server, &confused, &cookie, "HS256 with the provider's kid").await;

    // The provider's token is not taken from the cookie either: the shared jar holds our tokens only.
    let response = server.request(Method::GET, "/v1/viewer").header("cookie", format!("__session={good}")).send().await;
    assert_eq!(response.unwrap().status(), StatusCode::UNAUTHORIZED);
    // And the real token still works, so the refusals above were about the tokens.
    viewer(&server, &good).await;
}

#[tokio::test]
async fn i8_an_expired_provider_token_is_401_and_never_falls_back_to_the_cookie() {
    let options = ProviderOptions { access_ttl_secs: 1, ..ProviderOptions::default() };
    let Some(provider) = start_provider(options).await else { return };
    let server = server_trusting(&provider, |_| {}).await;
    server.sign_up("cookie-player", "cookie-password").await;
    let cookie = server.browser_sign_in("cookie-player", "cookie-password").await;
    let main = sign_in(&provider, MAIN, None).await;
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_refused_without_cookie_fallback(&server, &main.access_token, &cookie, "expired").await;
}

async fn player_id(server: &TestServer, provider: &TestProvider, account: Account) -> String {
    let tokens = sign_in(provider, account, None).await;
    viewer(server, &tokens.access_token).await["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn the_same_sub_is_always_the_same_player_also_after_a_restart() {
    let Some(provider) = start_provider(ProviderOptions::default()).await else { return };
    let server = server_trusting(&provider, |_| {}).await;
    let first = player_id(&server, &provider, MAIN).await;
    assert_eq!(player_id(&server, &provider, MAIN).await, first, "a second login");
    assert_ne!(player_id(&server, &provider, ALT).await, first);

    let TestServer { server: running, dir, database_url, .. } = server;
    running.shutdown().await.unwrap();
    let oidc = trust(&provider);
    let mut config = Config::new(dir.path());
    config.oidc = Some(oidc);
    config.database_url = database_url;
    config.signing_key_sealing = Some(crate::support::test_key_sealing());
    let restarted = kage_server::start(config).await.unwrap();
    let http = reqwest::Client::new();
    let tokens = sign_in(&provider, MAIN, None).await;
    let response =
        http.get(format!("{}/v1/viewer", restarted.base_url())).bearer_auth(&tokens.access_token).send().await.unwrap();
    assert_eq!(body(response).await["id"], first.as_str(), "after a restart");
    restarted.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_taken_preferred_username_gets_a_unique_username() {
    let Some(provider) = start_provider(ProviderOptions::default()).await else { return };
    // Demo mode: the password players `main` and `alt` exist already.
    let server = server_trusting(&provider, |config| config.demo = true).await;
    let password_main = server.main().await;
    let main = viewer(&server, &sign_in(&provider, MAIN, None).await.access_token).await;
    let twin = viewer(&server, &sign_in(&provider, TWIN, None).await.access_token).await;
    assert_eq!(main["username"], "main-2");
    assert_eq!(twin["username"], "main-3", "another person named main");
    assert_ne!(main["id"], password_main.user_id.as_str());
    // A player made for an external identity has no password to guess.
    let response = server.post_json("/v1/sessions", json!({"username": "main-2", "password": "main-password"})).await;
    expect_error(response, StatusCode::UNAUTHORIZED, "wrong_credentials").await;
}

#[tokio::test]
async fn no_password_sign_in_refuses_password_sign_in_and_sign_up_but_takes_provider_tokens() {
    let Some(provider) = start_provider(ProviderOptions::default()).await else { return };
    let server = server_trusting(&provider, |config| config.password_sign_in = false).await;
    let credentials = json!({"username": "main", "password": "main-password"});
    for path in ["/v1/sessions", "/v1/sign-up", "/v1/browser/sessions"] {
        let response = server.post_json(path, credentials.clone()).await;
        expect_error(response, StatusCode::FORBIDDEN, "password_sign_in_disabled").await;
    }
    let config = body(server.request(Method::GET, "/v1/auth-config").send().await.unwrap()).await;
    assert_eq!(
        config,
        json!({"password": false, "oidc": {"issuer": provider.issuer(), "clientId": CLIENT_ID,
            "audience": DEFAULT_AUDIENCE, "scopes": "openid profile offline_access", "authorizationParams": {}}})
    );
    viewer(&server, &sign_in(&provider, MAIN, None).await.access_token).await;
}

#[tokio::test]
async fn auth_config_without_a_provider_offers_passwords_only() {
    let server = TestServer::start().await;
    let config = body(server.request(Method::GET, "/v1/auth-config").send().await.unwrap()).await;
    assert_eq!(config, json!({"password": true, "oidc": null}));
}

#[tokio::test]
async fn the_provider_rotating_its_signing_key_still_works() {
    let Some(provider) = start_provider(ProviderOptions::default()).await else { return };
    let server = server_trusting(&provider, |config| {
        config.oidc.as_mut().unwrap().min_refetch_interval = Duration::ZERO;
    })
    .await;
    let before = sign_in(&provider, MAIN, None).await;
    let id = viewer(&server, &before.access_token).await["id"].clone();
    let new_kids = provider.rotate_signing_key().await.unwrap();
    let after = provider.refresh(before.refresh_token.as_deref().unwrap(), None).await.unwrap();
    let kid = unverified_header(&after.access_token)["kid"].as_str().unwrap().to_owned();
    assert!(new_kids.contains(&kid), "the refreshed token is signed with the new key");
    let fetches = server.server.state.oidc.as_ref().unwrap().fetches().await;
    assert_eq!(viewer(&server, &after.access_token).await["id"], id, "the new kid is fetched");
    assert_eq!(server.server.state.oidc.as_ref().unwrap().fetches().await, fetches + 1);
    assert_eq!(viewer(&server, &before.access_token).await["id"], id, "the old key is still published");
}

#[tokio::test]
async fn unknown_kids_refetch_the_jwks_at_most_once_per_interval() {
    let Some(provider) = start_provider(ProviderOptions::default()).await else { return };
    let server = server_trusting(&provider, |config| {
        config.oidc.as_mut().unwrap().min_refetch_interval = Duration::from_secs(3600);
    })
    .await;
    let good = sign_in(&provider, MAIN, None).await.access_token;
    let fetches = || async { server.server.state.oidc.as_ref().unwrap().fetches().await };
    assert_eq!(fetches().await, 1, "once at start");
    let parts: Vec<&str> = good.split('.').collect();
    for n in 0..5 {
        let mut header = unverified_header(&good);
        header["kid"] = json!(format!("made-up-{n}"));
        let token = format!("{}.{}.{}", URL_SAFE_NO_PAD.encode(header.to_string()), parts[1], parts[2]);
        expect_error(server.get_as("/v1/viewer", &token).await, StatusCode::UNAUTHORIZED, "invalid_token").await;
    }
    assert_eq!(fetches().await, 1, "made-up kids within the interval fetch nothing");
    // A real rotation within the interval is not seen yet: the provider's new key waits for the interval.
    provider.rotate_signing_key().await.unwrap();
    viewer(&server, &good).await;
}

#[tokio::test]
async fn the_event_stream_works_with_a_provider_token() {
    let Some(provider) = start_provider(ProviderOptions::default()).await else { return };
    let server = server_trusting(&provider, |_| {}).await;
    let main = sign_in(&provider, MAIN, None).await;
    let alt = sign_in(&provider, ALT, None).await;
    let main_id = viewer(&server, &main.access_token).await["id"].as_str().unwrap().to_owned();
    viewer(&server, &alt.access_token).await;
    let mut stream = EventStream::open_with(&server, &main.access_token, &main_id).await;
    let response = server
        .request(Method::POST, "/v1/transfers")
        .bearer_auth(&alt.access_token)
        .json(&json!({"to": "main", "amount": 3}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let mut names = Vec::new();
    while let Some(Some((name, data))) = stream.next_within(Duration::from_secs(5)).await {
        if name == "transfer.received" {
            assert_eq!((data["from"].as_str(), data["amount"].as_i64()), (Some("alt"), Some(3)));
            return;
        }
        names.push(name);
    }
    panic!("no transfer.received event, got {names:?}");
}

#[tokio::test]
async fn i8_signing_out_with_a_provider_token_stops_that_token_at_once() {
    let Some(provider) = start_provider(ProviderOptions::default()).await else { return };
    let server = server_trusting(&provider, |_| {}).await;
    let main = sign_in(&provider, MAIN, None).await;
    let alt = sign_in(&provider, ALT, None).await;
    let response = server.request(Method::DELETE, "/v1/sessions/current").bearer_auth(&main.access_token).send().await;
    assert_eq!(response.unwrap().status(), StatusCode::NO_CONTENT);
    expect_error(server.get_as("/v1/viewer", &main.access_token).await, StatusCode::UNAUTHORIZED, "invalid_token")
        .await;
    viewer(&server, &alt.access_token).await;
}

#[tokio::test]
async fn es256_and_eddsa_provider_tokens_are_accepted() {
    for alg in ["ES256", "EdDSA", "PS256"] {
        let options = ProviderOptions { alg: alg.into(), ..ProviderOptions::default() };
        let Some(provider) = start_provider(options).await else { return };
        let server = server_trusting(&provider, |_| {}).await;
        let main = sign_in(&provider, MAIN, None).await;
        assert_eq!(unverified_header(&main.access_token)["alg"], alg);
        assert_eq!(viewer(&server, &main.access_token).await["username"], "main", "{alg}");
    }
}

/// Issue 17.6: a provider sign-out is kept in the database (a restart keeps it) and scoped to the tokens
/// issued until then, so signing in again in the same browser session, which keeps the provider's `sid`,
/// is not signed out again (I11).
#[tokio::test]
async fn a_provider_sign_out_survives_a_restart_and_a_new_sign_in_with_the_same_sid_works() {
    let Some(provider) = start_provider(ProviderOptions::default()).await else { return };
    let server = server_trusting(&provider, |_| {}).await;
    let browser = Browser::new();
    let request = AuthorizationRequest::new(43210);
    let first = provider.sign_in(&browser, &request, Some(&MAIN.credentials())).await.unwrap();
    viewer(&server, &first.access_token).await;
    let response = server.request(Method::DELETE, "/v1/sessions/current").bearer_auth(&first.access_token).send().await;
    assert_eq!(response.unwrap().status(), StatusCode::NO_CONTENT);
    expect_error(server.get_as("/v1/viewer", &first.access_token).await, StatusCode::UNAUTHORIZED, "invalid_token")
        .await;

    let TestServer { server: running, dir, database_url, .. } = server;
    running.shutdown().await.unwrap();
    let mut config = Config::new(dir.path());
    config.oidc = Some(trust(&provider));
    config.database_url = database_url;
    config.signing_key_sealing = Some(crate::support::test_key_sealing());
    let restarted = kage_server::start(config).await.unwrap();
    let http = reqwest::Client::new();
    let status = |token: String| {
        let url = format!("{}/v1/viewer", restarted.base_url());
        let http = http.clone();
        async move { http.get(url).bearer_auth(token).send().await.unwrap().status() }
    };
    assert_eq!(status(first.access_token.clone()).await, StatusCode::UNAUTHORIZED, "the restart kept the sign-out");

    // The same browser signs in again a second later: the provider answers from its session, same `sid`.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let again = provider.sign_in(&browser, &request, Some(&MAIN.credentials())).await.unwrap();
    let (before, after) = (unverified_claims(&first.access_token), unverified_claims(&again.access_token));
    assert!(before["sid"].is_string(), "the provider's access tokens name its session: {before}");
    assert_eq!(before["sid"], after["sid"], "the provider kept its session id");
    assert_eq!(status(again.access_token).await, StatusCode::OK, "a new sign-in after the sign-out works");
    assert_eq!(status(first.access_token).await, StatusCode::UNAUTHORIZED, "the old token stays stopped");
    restarted.shutdown().await.unwrap();
}

#[tokio::test]
async fn the_server_refuses_to_start_when_the_audience_is_the_client_id() {
    let Some(provider) = start_provider(ProviderOptions::default()).await else { return };
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::new(dir.path());
    config.oidc = Some(OidcConfig::new(provider.issuer(), CLIENT_ID, CLIENT_ID));
    let refused = kage_server::start(config).await.err().expect("refused");
    assert!(refused.to_string().contains("ID tokens would open the API"), "{refused}");
}
