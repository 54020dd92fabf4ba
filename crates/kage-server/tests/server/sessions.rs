//! Sign-in, access tokens against the JWKS, refresh rotation, reuse detection, sign-out, key rotation.

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Header, Validation};
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::support::{TestServer, body, expect_error, grant};

#[tokio::test]
async fn sign_in_right_password_gets_tokens_for_that_player() {
    let server = TestServer::start().await;
    let main = server.main().await;
    let alt = server.alt().await;
    assert_ne!(main.user_id, alt.user_id);
    assert_eq!(server.profile(&main).await["username"], "main");
    assert_eq!(server.profile(&alt).await["username"], "alt");
}

#[tokio::test]
async fn wrong_password_and_unknown_user_get_the_same_answer() {
    let server = TestServer::start().await;
    let wrong = server.post_json("/v1/sessions", json!({"username": "main", "password": "not-it"})).await;
    let (wrong_status, wrong_body) = (wrong.status(), body(wrong).await);
    let unknown = server.post_json("/v1/sessions", json!({"username": "nobody", "password": "not-it"})).await;
    let (unknown_status, unknown_body) = (unknown.status(), body(unknown).await);
    assert_eq!(wrong_status, StatusCode::UNAUTHORIZED);
    assert_eq!((wrong_status, &wrong_body), (unknown_status, &unknown_body));
    assert_eq!(wrong_body["error"], "wrong_credentials");
}

#[tokio::test]
async fn access_token_verifies_against_the_published_jwks() {
    let server = TestServer::start().await;
    let main = server.main().await;
    let jwks: JwkSet =
        server.http.get(server.url("/.well-known/jwks.json")).send().await.unwrap().json().await.unwrap();
    let header = jsonwebtoken::decode_header(&main.access_token).unwrap();
    assert_eq!(header.alg, Algorithm::EdDSA);
    let jwk = jwks.find(header.kid.as_deref().expect("kid in header")).expect("kid published");
    let mut validation = Validation::new(Algorithm::EdDSA);
    validation.set_issuer(&[server.server.base_url()]);
    validation.set_audience(&["kage-api"]);
    let claims = jsonwebtoken::decode::<serde_json::Value>(
        &main.access_token,
        &DecodingKey::from_jwk(jwk).unwrap(),
        &validation,
    )
    .expect("verifies")
    .claims;
    assert_eq!(claims["sub"], main.user_id.as_str());
    assert_eq!(claims["sid"], main.session_id.as_str());
    for claim in ["iat", "nbf", "exp"] {
        assert!(claims[claim].is_u64(), "{claim} in {claims}");
    }
    assert_eq!(claims["exp"].as_u64().unwrap() - claims["iat"].as_u64().unwrap(), 60);
}

/// Signs claims with the server's own key, as only the server could: proves rejections are about the claims.
fn forge(server: &TestServer, claims: serde_json::Value) -> String {
    let keys = server.server.state.tokens.keys();
    let mut header = Header::new(Algorithm::EdDSA);
    header.kid = Some(keys.current_kid().to_owned());
    jsonwebtoken::encode(&header, &claims, keys.encoding_key()).unwrap()
}

#[tokio::test]
async fn expired_token_is_rejected_with_www_authenticate() {
    let server = TestServer::start().await;
    let main = server.main().await;
    let now = kage_server::tokens::unix_now();
    let claims = json!({"iss": server.server.base_url(), "sub": main.user_id, "sid": main.session_id,
        "aud": "kage-api", "iat": now - 300, "nbf": now - 300, "exp": now - 120});
    let expired = forge(&server, claims.clone());
    let response = server.get_as("/v1/viewer", &expired).await;
    let challenge = response.headers()["www-authenticate"].to_str().unwrap().to_owned();
    assert!(challenge.starts_with("Bearer") && challenge.contains(r#"error="invalid_token""#), "{challenge}");
    expect_error(response, StatusCode::UNAUTHORIZED, "invalid_token").await;

    // Control: the same forge with a live expiry is accepted, so the rejection above was the expiry.
    let mut live = claims;
    live["exp"] = json!(now + 60);
    assert_eq!(server.get_as("/v1/viewer", &forge(&server, live)).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn tampered_token_is_rejected_with_www_authenticate() {
    let server = TestServer::start().await;
    let main = server.main().await;
    let alt = server.alt().await;
    // Splice alt's claims under main's signature.
    let main_parts: Vec<&str> = main.access_token.split('.').collect();
    let alt_parts: Vec<&str> = alt.access_token.split('.').collect();
    let spliced = format!("{}.{}.{}", main_parts[0], alt_parts[1], main_parts[2]);
    let response = server.get_as("/v1/viewer", &spliced).await;
    assert!(response.headers().contains_key("www-authenticate"));
    expect_error(response, StatusCode::UNAUTHORIZED, "invalid_token").await;
}

#[tokio::test]
async fn token_with_wrong_issuer_is_rejected() {
    let server = TestServer::start().await;
    let main = server.main().await;
    let now = kage_server::tokens::unix_now();
    let token = forge(
        &server,
        json!({"iss": "https://evil.example", "sub": main.user_id, "sid": main.session_id,
            "aud": "kage-api", "iat": now, "nbf": now, "exp": now + 60}),
    );
    expect_error(server.get_as("/v1/viewer", &token).await, StatusCode::UNAUTHORIZED, "invalid_token").await;
}

#[tokio::test]
async fn refresh_rotates_the_refresh_token() {
    let server = TestServer::start().await;
    let first = server.main().await;
    let second = grant(body(server.refresh(&first.refresh_token).await).await);
    assert_ne!(second.refresh_token, first.refresh_token);
    assert_eq!(
        (second.session_id.as_str(), second.user_id.as_str()),
        (first.session_id.as_str(), first.user_id.as_str())
    );
    assert_eq!(server.profile(&second).await["username"], "main");
    let third = grant(body(server.refresh(&second.refresh_token).await).await);
    assert_eq!(server.profile(&third).await["username"], "main");
}

#[tokio::test]
async fn reused_refresh_token_revokes_the_whole_session() {
    let server = TestServer::start().await;
    let first = server.main().await;
    let other_session = server.main().await;
    let second = grant(body(server.refresh(&first.refresh_token).await).await);
    // The successor is used, which ends the grace period of the first token (see refresh_grace.rs).
    let third = grant(body(server.refresh(&second.refresh_token).await).await);
    assert_eq!(server.get_as("/v1/viewer", &third.access_token).await.status(), StatusCode::OK);

    // The spent token comes back: somebody copied it. The whole session ends, at once.
    expect_error(server.refresh(&first.refresh_token).await, StatusCode::UNAUTHORIZED, "invalid_grant").await;
    for access_token in [&first.access_token, &second.access_token, &third.access_token] {
        expect_error(server.get_as("/v1/viewer", access_token).await, StatusCode::UNAUTHORIZED, "invalid_token").await;
    }
    expect_error(server.refresh(&third.refresh_token).await, StatusCode::UNAUTHORIZED, "invalid_grant").await;
    // Another session of the same player is untouched.
    assert_eq!(server.profile(&other_session).await["username"], "main");
}

#[tokio::test]
async fn unknown_refresh_token_is_invalid_grant() {
    let server = TestServer::start().await;
    expect_error(server.refresh("made-up").await, StatusCode::UNAUTHORIZED, "invalid_grant").await;
}

#[tokio::test]
async fn i8_sign_out_kills_the_live_access_token_immediately() {
    let server = TestServer::start().await;
    let main = server.main().await;
    let alt = server.alt().await;
    let response =
        server.request(Method::DELETE, "/v1/sessions/current").bearer_auth(&main.access_token).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    expect_error(server.get_as("/v1/viewer", &main.access_token).await, StatusCode::UNAUTHORIZED, "invalid_token")
        .await;
    expect_error(server.refresh(&main.refresh_token).await, StatusCode::UNAUTHORIZED, "invalid_grant").await;
    assert_eq!(server.profile(&alt).await["username"], "alt");
}

#[tokio::test]
async fn revocation_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let config = |dir: &std::path::Path| {
        let mut config = kage_server::Config::new(dir);
        config.demo = true;
        config.issuer = Some("http://kage.test".into());
        config
    };
    let server = kage_server::start(config(dir.path())).await.unwrap();
    let http = reqwest::Client::new();
    let grant = grant(
        http.post(format!("{}/v1/sessions", server.base_url()))
            .json(&json!({"username": "main", "password": "main-password"}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap(),
    );
    let sign_out = http.delete(format!("{}/v1/sessions/current", server.base_url())).bearer_auth(&grant.access_token);
    assert_eq!(sign_out.send().await.unwrap().status(), StatusCode::NO_CONTENT);
    server.shutdown().await.unwrap();

    let restarted = kage_server::start(config(dir.path())).await.unwrap();
    let response =
        http.get(format!("{}/v1/viewer", restarted.base_url())).bearer_auth(&grant.access_token).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    restarted.shutdown().await.unwrap();
}

#[tokio::test]
async fn tokens_signed_before_a_key_rotation_still_verify() {
    let dir = tempfile::tempdir().unwrap();
    let config = |rotate: bool| {
        let mut config = kage_server::Config::new(dir.path());
        config.demo = true;
        config.issuer = Some("http://kage.test".into());
        config.rotate_signing_key = rotate;
        config
    };
    let server = kage_server::start(config(false)).await.unwrap();
    let http = reqwest::Client::new();
    let before: serde_json::Value = http
        .post(format!("{}/v1/sessions", server.base_url()))
        .json(&json!({"username": "main", "password": "main-password"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let old_kid = server.state.tokens.keys().current_kid().to_owned();
    server.shutdown().await.unwrap();

    let rotated = kage_server::start(config(true)).await.unwrap();
    assert_ne!(rotated.state.tokens.keys().current_kid(), old_kid);
    let jwks: JwkSet =
        http.get(format!("{}/.well-known/jwks.json", rotated.base_url())).send().await.unwrap().json().await.unwrap();
    assert_eq!(jwks.keys.len(), 2);
    assert!(jwks.find(&old_kid).is_some());
    let old_token = before["access_token"].as_str().unwrap();
    let response = http.get(format!("{}/v1/viewer", rotated.base_url())).bearer_auth(old_token).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    rotated.shutdown().await.unwrap();
}
