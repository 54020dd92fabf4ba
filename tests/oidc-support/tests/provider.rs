//! The harness itself: the provider and the scripted browser behave as the server and client tests assume.

use kage_oidc_support::flow::{unverified_claims, unverified_header};
use kage_oidc_support::{
    ALT, AuthorizationRequest, Browser, BrowserError, DEFAULT_AUDIENCE, MAIN, OTHER_AUDIENCE, ProviderError,
    ProviderOptions, TestProvider,
};

#[tokio::test]
async fn login_gives_a_jwt_access_token_for_the_audience_with_the_stable_sub() {
    let Some(provider) = TestProvider::start_or_skip(ProviderOptions::default()).await else { return };
    let browser = Browser::new();
    let request = AuthorizationRequest::new(49152);
    let callback = browser.authorize(&provider.authorization_url(&request), Some(&MAIN.credentials())).await.unwrap();
    assert_eq!(callback.iss.as_deref(), Some(provider.issuer()));
    let tokens = provider.exchange_code(&request, callback.code.as_deref().unwrap()).await.unwrap();
    let claims = unverified_claims(&tokens.access_token);
    assert_eq!(claims["iss"], provider.issuer());
    assert_eq!(claims["aud"], DEFAULT_AUDIENCE);
    assert_eq!(claims["sub"], MAIN.sub);
    assert_eq!(claims["preferred_username"], "main");
    assert!(unverified_header(&tokens.access_token)["kid"].is_string());
    assert!(tokens.refresh_token.is_some(), "offline_access gives a refresh token");
    assert!(tokens.id_token.is_some());
    let refreshed = provider.refresh(tokens.refresh_token.as_deref().unwrap(), None).await.unwrap();
    assert_eq!(unverified_claims(&refreshed.access_token)["aud"], DEFAULT_AUDIENCE);
    assert_ne!(refreshed.refresh_token, tokens.refresh_token, "public clients' refresh tokens rotate");
}

#[tokio::test]
async fn with_rotation_off_a_refresh_token_stays_valid_after_use() {
    let options = ProviderOptions { rotate_refresh_tokens: false, ..ProviderOptions::default() };
    let Some(provider) = TestProvider::start_or_skip(options).await else { return };
    let (browser, request, login) = (Browser::new(), AuthorizationRequest::new(49152), MAIN.credentials());
    let tokens = provider.sign_in(&browser, &request, Some(&login)).await.unwrap();
    let refresh_token = tokens.refresh_token.as_deref().unwrap();
    for _ in 0..2 {
        let refreshed = provider.refresh(refresh_token, None).await.expect("the same token works again");
        assert_eq!(refreshed.refresh_token.as_deref(), Some(refresh_token), "not rotated");
        assert_eq!(unverified_claims(&refreshed.access_token)["sub"], MAIN.sub);
    }
}

#[tokio::test]
async fn the_provider_session_skips_the_login_page_until_prompt_login() {
    let Some(provider) = TestProvider::start_or_skip(ProviderOptions::default()).await else { return };
    let browser = Browser::new();
    provider.sign_in(&browser, &AuthorizationRequest::new(50000), Some(&MAIN.credentials())).await.unwrap();
    // Signed in already: no credentials needed, and the answer is main's, whoever the app wanted.
    let again = provider.sign_in(&browser, &AuthorizationRequest::new(50001), None).await.unwrap();
    assert_eq!(unverified_claims(&again.access_token)["sub"], MAIN.sub);
    let forced = AuthorizationRequest::new(50002).with_prompt("login");
    let error = provider.sign_in(&browser, &forced, None).await.err().unwrap();
    assert!(matches!(error, ProviderError::Browser(BrowserError::LoginRequired)), "{error}");
    let alt = provider.sign_in(&browser, &forced, Some(&ALT.credentials())).await.unwrap();
    assert_eq!(unverified_claims(&alt.access_token)["sub"], ALT.sub);
}

#[tokio::test]
async fn a_wrong_password_is_refused() {
    let Some(provider) = TestProvider::start_or_skip(ProviderOptions::default()).await else { return };
    let mut wrong = MAIN.credentials();
    wrong.password = "alt-password".into();
    let error = provider.sign_in(&Browser::new(), &AuthorizationRequest::new(50003), Some(&wrong)).await.err().unwrap();
    assert!(matches!(error, ProviderError::Browser(BrowserError::LoginRefused)), "{error}");
}

#[tokio::test]
async fn another_resource_gets_a_token_for_that_audience() {
    let Some(provider) = TestProvider::start_or_skip(ProviderOptions::default()).await else { return };
    let request = AuthorizationRequest::new(50004).with_resource(OTHER_AUDIENCE);
    let tokens = provider.sign_in(&Browser::new(), &request, Some(&MAIN.credentials())).await.unwrap();
    assert_eq!(unverified_claims(&tokens.access_token)["aud"], OTHER_AUDIENCE);
}

#[tokio::test]
async fn rotating_the_signing_key_changes_the_kid_and_keeps_sessions() {
    let Some(provider) = TestProvider::start_or_skip(ProviderOptions::default()).await else { return };
    let browser = Browser::new();
    let before =
        provider.sign_in(&browser, &AuthorizationRequest::new(50005), Some(&MAIN.credentials())).await.unwrap();
    let new_kids = provider.rotate_signing_key().await.unwrap();
    let refreshed = provider.refresh(before.refresh_token.as_deref().unwrap(), None).await.unwrap();
    let kid = unverified_header(&refreshed.access_token)["kid"].as_str().unwrap().to_owned();
    assert_ne!(unverified_header(&before.access_token)["kid"], kid.as_str());
    assert!(new_kids.contains(&kid), "{kid} signs now: {new_kids:?}");
    // The browser's provider session survived the rotation too.
    provider.sign_in(&browser, &AuthorizationRequest::new(50006), None).await.unwrap();
}

#[tokio::test]
async fn eddsa_and_es256_access_tokens_are_available() {
    for alg in ["EdDSA", "ES256"] {
        let options = ProviderOptions { alg: alg.into(), ..ProviderOptions::default() };
        let Some(provider) = TestProvider::start_or_skip(options).await else { return };
        let tokens = provider
            .sign_in(&Browser::new(), &AuthorizationRequest::new(50007), Some(&MAIN.credentials()))
            .await
            .unwrap();
        assert_eq!(unverified_header(&tokens.access_token)["alg"], alg);
    }
}

#[tokio::test]
async fn deliver_mode_reaches_a_loopback_listener_on_any_port() {
    let Some(provider) = TestProvider::start_or_skip(ProviderOptions::default()).await else { return };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let received = tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let (mut socket, _) = listener.accept().await.unwrap();
        let mut buffer = vec![0; 4096];
        let n = socket.read(&mut buffer).await.unwrap();
        socket.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok").await.unwrap();
        String::from_utf8_lossy(&buffer[..n]).lines().next().unwrap().to_owned()
    });
    let request = AuthorizationRequest::new(port);
    let callback = Browser::new()
        .authorize_and_deliver(&provider.authorization_url(&request), Some(&MAIN.credentials()))
        .await
        .unwrap();
    let line = received.await.unwrap();
    assert!(line.starts_with("GET /callback?code="), "{line}");
    assert!(line.contains(&format!("state={}", request.state)), "{line}");
    assert!(callback.code.is_some());
}
